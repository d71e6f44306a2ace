package identity

import (
	"net/http"
	"strings"
)

// isConnectionField reports whether the request field k lists header names
// that a proxy deletes before forwarding: Connection (RFC 9110 §7.6.1), and
// the old, non-standard Proxy-Connection that some clients still send and
// some proxies still honour. Caddy's reverse_proxy deletes every header that
// Connection names; the HTTP/1.0 form `Connection: keep-alive, X-…` is the
// same field.
func isConnectionField(k string) bool {
	return strings.EqualFold(k, "Connection") || strings.EqualFold(k, "Proxy-Connection")
}

// cleanConnection removes from the field k of hdr every list element that
// names a header Strip deletes (every header Inject may set is one), so that
// no proxy after the plugin drops an injected header because the caller
// listed it. Elements are split at commas and trimmed of white space as
// proxies read them; the others (keep-alive, close, Upgrade, other header
// names) are kept in order, and a field left without elements is deleted.
// Nothing is allocated unless an element is removed.
//
// Removing the elements rather than refusing the request keeps HTTP/1.0
// keep-alive clients and clients that list their own hop-by-hop headers
// working.
func (h *Headers) cleanConnection(hdr http.Header, k string, buf *[128]byte) {
	vals := hdr[k]
	offending := false
	for _, v := range vals {
		if h.namesStripped(v, buf) {
			offending = true
			break
		}
	}
	if !offending {
		return
	}
	keepElements(hdr, k, func(e string) bool { return !h.matches(e, buf) })
}

// keepElements rewrites the comma-separated list field k of hdr, keeping
// the non-empty elements (trimmed of white space) for which keep is true,
// in order; a field left without elements is deleted.
func keepElements(hdr http.Header, k string, keep func(e string) bool) {
	vals := hdr[k]
	kept := make([]string, 0, len(vals))
	for _, v := range vals {
		var b strings.Builder
		for _, e := range strings.Split(v, ",") {
			if e = trimOWS(e); e == "" || !keep(e) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e)
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	if len(kept) == 0 {
		delete(hdr, k)
		return
	}
	hdr[k] = kept
}

// namesStripped reports whether one element of the comma-separated list v
// names a header that Strip deletes.
func (h *Headers) namesStripped(v string, buf *[128]byte) bool {
	for v != "" {
		e, rest, _ := strings.Cut(v, ",")
		if e = trimOWS(e); e != "" && h.matches(e, buf) {
			return true
		}
		v = rest
	}
	return false
}

// trimOWS trims ASCII white space (space, tab, CR, LF, VT, FF) from both
// ends of a list element: at least what any proxy trims before reading the
// element as a header name.
func trimOWS(s string) string {
	return strings.Trim(s, " \t\r\n\v\f")
}

// connectionOptions are the Connection elements that are options of the
// connection itself rather than names of other fields.
var connectionOptions = []string{"close", "keep-alive", "upgrade", "te"}

// KeepConnectionOptions removes from every Connection and Proxy-Connection
// field of hdr each element that is not a connection option (close,
// keep-alive, upgrade, te), and deletes the client's own header of that name
// right away, as the hop the caller addressed it to would. So no header set
// later — an identity header, or one an operator sets from
// {http.auth.user.*} with request_header before reverse_proxy — can be
// dropped by a proxy because the caller named it there, and the caller's
// hop-by-hop headers still never reach the upstream. A field left without
// elements is deleted. Nothing is allocated when every element is an option.
func KeepConnectionOptions(hdr http.Header) {
	for k, vals := range hdr {
		if !isConnectionField(k) || onlyOptions(vals) {
			continue
		}
		keepElements(hdr, k, func(e string) bool {
			if isConnectionOption(e) {
				return true
			}
			if !isConnectionField(e) {
				hdr.Del(e)
			}
			return false
		})
	}
}

// onlyOptions reports whether every non-empty element of vals is a
// connection option.
func onlyOptions(vals []string) bool {
	for _, v := range vals {
		for v != "" {
			e, rest, _ := strings.Cut(v, ",")
			if e = trimOWS(e); e != "" && !isConnectionOption(e) {
				return false
			}
			v = rest
		}
	}
	return true
}

// isConnectionOption reports whether e is one of connectionOptions (case
// insensitive).
func isConnectionOption(e string) bool {
	for _, o := range connectionOptions {
		if strings.EqualFold(e, o) {
			return true
		}
	}
	return false
}
