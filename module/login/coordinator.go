package login

import (
	"context"
	"errors"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// RefreshCoordinator makes one refresh per session across several gateway
// instances that share a server-side session store. The Flow already
// refreshes a session once per process; a coordinator extends that to the
// fleet.
//
// Refresh is called with the session as this request loaded it and a do
// function that refreshes exactly that session at the token endpoint (it
// does not save). An implementation typically takes a short lock on
// current.ID, then:
//
//   - if the stored session's tokens already differ from current's
//     (another instance refreshed it), returns the stored session without
//     calling do;
//   - otherwise calls do, persists the result server-side so that other
//     instances find it, releases the lock and returns it;
//   - while another instance holds the lock, waits for its result.
//
// Errors: an error returned by do must be returned unchanged (wrapping is
// allowed); session.ErrNoSession means the session has been ended
// elsewhere (logout); any other error is a coordination failure (store
// down, waited too long). On a coordination failure the Flow keeps using
// the session while its tokens are valid and otherwise returns the error,
// which the handler answers with 503; the session is not cleared.
type RefreshCoordinator interface {
	Refresh(ctx context.Context, current *session.Session, do func(ctx context.Context) (*session.Session, error)) (*session.Session, error)
}

// refreshFailure marks an error of the refresh itself (token endpoint, ID
// token checks), as opposed to one of the coordinator.
type refreshFailure struct{ err error }

func (e *refreshFailure) Error() string { return e.err.Error() }
func (e *refreshFailure) Unwrap() error { return e.err }

// coordinationError is a RefreshCoordinator failure that is neither the
// refresh's own error nor "session ended".
type coordinationError struct{ err error }

func (e *coordinationError) Error() string {
	return "session refresh could not be coordinated: " + e.err.Error()
}
func (e *coordinationError) Unwrap() error { return e.err }

// refreshOnce refreshes s, through the coordinator when there is one. Its
// errors are the refresh's own, session.ErrNoSession (coordinator only) or
// a *coordinationError (coordinator only).
func (f *Flow) refreshOnce(ctx context.Context, s *session.Session) (*session.Session, error) {
	rc := f.cfg.RefreshCoordinator
	if rc == nil {
		return f.refresh(ctx, s)
	}
	ns, err := rc.Refresh(ctx, s, func(ctx context.Context) (*session.Session, error) {
		ns, err := f.refresh(ctx, s)
		if err != nil {
			return nil, &refreshFailure{err: err}
		}
		return ns, nil
	})
	var rf *refreshFailure
	switch {
	case err == nil && ns == nil:
		return nil, &coordinationError{err: errors.New("the coordinator returned no session")}
	case err == nil:
		return ns, nil
	case errors.As(err, &rf):
		return nil, rf.err
	case errors.Is(err, session.ErrNoSession):
		return nil, session.ErrNoSession
	default:
		return nil, &coordinationError{err: err}
	}
}
