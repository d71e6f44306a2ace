package sts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/endpoint"
)

// maxBody caps how much of an STS answer is read.
const maxBody = 1 << 20

// defaultAttempts is how many times a retryable failure is tried in total.
const defaultAttempts = 3

// caller holds what every backend shares: the HTTP client, the overall
// timeout and the retry policy.
type caller struct {
	client   *http.Client
	timeout  time.Duration
	now      func() time.Time
	attempts int
	// backoffBase is the first retry delay; it doubles up to backoffCap.
	backoffBase, backoffCap time.Duration
}

// Transport is what the three STS clients (Alibaba, AWS, RFC 8693) share:
// how they send their requests.
type Transport struct {
	// HTTPClient sends the requests (set its TLS config for a private CA).
	// Default: a plain http.Client; Timeout applies either way.
	HTTPClient *http.Client
	// Timeout bounds one exchange, retries included. Default 5s.
	Timeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func newCaller(t Transport) caller {
	client, timeout, now := t.HTTPClient, t.Timeout, t.Now
	if client == nil {
		client = &http.Client{}
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if now == nil {
		now = time.Now
	}
	return caller{client: client, timeout: timeout, now: now, attempts: defaultAttempts,
		backoffBase: 100 * time.Millisecond, backoffCap: time.Second}
}

// response is one HTTP answer, fully read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// run calls attempt until it succeeds, fails for good, or the overall timeout
// leaves no room for another try. Only Unavailable errors (throttling, 5xx,
// connection failures) are retried.
func (c *caller) run(ctx context.Context, attempt func(ctx context.Context) (*Credentials, *Error)) (*Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	for i := 0; ; i++ {
		creds, e := attempt(ctx)
		if e == nil {
			return creds, nil
		}
		if !e.retryable() || i+1 >= c.attempts {
			return nil, finish(e)
		}
		// e.RetryAfter is only set when the STS sent Retry-After.
		wait := max(c.backoff(i), e.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			return nil, finish(e)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, finish(e)
		case <-t.C:
		}
	}
}

// finish gives an Unavailable error its default Retry-After.
func finish(e *Error) *Error {
	if e.Kind == Unavailable && e.RetryAfter <= 0 {
		e.RetryAfter = DefaultRetryAfter
	}
	return e
}

func (c *caller) backoff(i int) time.Duration {
	d := c.backoffBase << i
	if d > c.backoffCap || d <= 0 {
		d = c.backoffCap
	}
	// Up to 50 % jitter so that many gateways do not retry in step.
	return d + time.Duration(rand.Int64N(int64(d)/2+1))
}

// postForm sends one form POST of body to target, asking for accept (and
// no compression, so the size limit counts what the STS sent), and reads
// the answer. AssumeRoleWithOIDC and AssumeRoleWithWebIdentity are both
// anonymous form POSTs; only their parameters and answers differ.
func (c *caller) postForm(ctx context.Context, target, body, accept string) (*response, *Error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: Misconfigured, Code: CodeBadRequest, Message: "cannot build the STS request: " + err.Error()}
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.Header.Set("Accept", accept)
	hr.Header.Set("Accept-Encoding", "identity")
	return c.send(ctx, hr)
}

// durationSeconds is the DurationSeconds parameter for d (DefaultDuration
// when d is not set).
func durationSeconds(d time.Duration) string {
	if d <= 0 {
		d = DefaultDuration
	}
	return strconv.FormatInt(int64(d/time.Second), 10)
}

// send performs one HTTP exchange and reads the answer.
func (c *caller) send(ctx context.Context, req *http.Request) (*response, *Error) {
	resp, err := c.client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, transportError(ctx, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, transportError(ctx, req.URL, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// transportError classifies a failure to get an answer at all.
func transportError(ctx context.Context, u *url.URL, err error) *Error {
	host := u.Host
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		msg := fmt.Sprintf("no answer from the STS at %s within the timeout", host)
		if errors.Is(ctx.Err(), context.Canceled) {
			msg = fmt.Sprintf("the exchange with the STS at %s was cancelled", host)
		}
		return &Error{Kind: Unavailable, Code: CodeTimeout, Message: msg, cause: err}
	}
	var (
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		certInvalid x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &certInvalid) || errors.As(err, &verifyErr) {
		return &Error{Kind: Misconfigured, Code: CodeTLS,
			Message: fmt.Sprintf("the certificate of the STS at %s cannot be verified; trust its CA (tls_ca) or fix the endpoint", host),
			cause:   err}
	}
	return &Error{Kind: Unavailable, Code: CodeUnreachable,
		Message: fmt.Sprintf("cannot reach the STS at %s: %s", host, rootCause(err)), cause: err}
}

// rootCause strips url.Error's "Post <url>:" prefix.
func rootCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// parseEndpoint checks an STS or token endpoint. A bare host gets https://.
// Plain http is allowed only for loopback hosts.
func parseEndpoint(raw, field string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%s is empty; give an https URL", field)
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a valid URL: %v", field, raw, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s %q has no host", field, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("%s %q must not contain user info, a query or a fragment", field, raw)
	}
	if err := endpoint.CheckScheme(u); err != nil {
		return nil, fmt.Errorf("%s %q: %v", field, raw, err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}
