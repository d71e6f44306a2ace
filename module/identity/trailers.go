package identity

import (
	"io"
	"net/http"
)

// StripTrailers keeps client-sent trailer fields from impersonating the
// plugin. A chunked HTTP/1.1 body (or an HTTP/2 stream) may end with a
// trailer section; the server adds it to r.Trailer when the body has been
// read to its end, and a proxy forwards it to the upstream after the body.
// StripTrailers deletes, from r.Trailer, every field Strip deletes from the
// header: the names declared up front now, and the fields that arrive with
// the end of the body as soon as they do, before whoever reads the body (a
// proxy) sees the end. The fields named in also go too (a route that
// relays the session's token drops a trailer Authorization). Other trailers
// pass.
func (h *Headers) StripTrailers(r *http.Request, also ...string) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	t := &trailerStripper{ReadCloser: r.Body, r: r, h: h, also: also}
	if r.Trailer != nil {
		t.strip()
	}
	r.Body = t
}

// trailerStripper strips r.Trailer when the body it wraps ends.
type trailerStripper struct {
	io.ReadCloser
	r    *http.Request
	h    *Headers
	also []string
}

func (t *trailerStripper) strip() {
	t.h.Strip(t.r.Trailer)
	for _, name := range t.also {
		t.r.Trailer.Del(name)
	}
}

// Read reads the body; at its end the trailer section has been parsed, and
// the identity fields in it are deleted before the end is reported.
func (t *trailerStripper) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err != nil && t.r.Trailer != nil {
		t.strip()
	}
	return n, err
}
