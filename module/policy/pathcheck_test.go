package policy

import (
	"net/url"
	"strings"
	"testing"
)

// parseTarget parses a request target as Go's HTTP server does.
func parseTarget(t testing.TB, target string) (*url.URL, bool) {
	t.Helper()
	u, err := url.ParseRequestURI(target)
	return u, err == nil
}

func TestFinding6CheckPathRefusesVariants(t *testing.T) {
	refused := map[string]*PathError{
		`/dns\records`:                    errPathBackslash,
		`/dns%5crecords`:                  errPathBackslash,
		`/dns%5Crecords`:                  errPathBackslash,
		`/dns%2frecords`:                  errPathEncodedSep,
		`/dns%3f`:                         errPathDelimiter,
		`/dns%3F/x`:                       errPathDelimiter,
		`/dns%23`:                         errPathDelimiter,
		`/dns%2Frecords`:                  errPathEncodedSep,
		`/public/..%2fdns`:                errPathDotSegment,
		`/x/a%2fb`:                        errPathEncodedSep,
		`/dns%00/records`:                 errPathControl,
		`/dns%09/records`:                 errPathControl,
		`/dns%0d%0a/records`:              errPathControl,
		`/dns%7f/records`:                 errPathControl,
		`/dns%20/records`:                 errPathTrailing,
		`/dns./records`:                   errPathTrailing,
		`/dns%2e/records`:                 errPathTrailing,
		`/dns.;x/records`:                 errPathTrailing,
		`/dns/records.`:                   errPathTrailing,
		`/dns/./records`:                  errPathDotSegment,
		`/dns/..`:                         errPathDotSegment,
		`/dns/%2e%2e/x`:                   errPathDotSegment,
		`/dns;x/../y`:                     errPathDotSegment,
		`/x/..;y/dns`:                     errPathDotSegment,
		`/dns%c0%afrecords`:               errPathUTF8,
		`/dns%ff`:                         errPathUTF8,
		`/dns%252frecords`:                errPathDoubleEscape,
		`/dns%2541`:                       errPathDoubleEscape,
		`/dns::$INDEX_ALLOCATION/records`: errPathStream,
		`/dns/records::$DATA`:             errPathStream,
		`/dns:$i30:$INDEX_ALLOCATION/x`:   errPathStream,
		`/LONGRE~1/x`:                     errPathShortName,
		`/docs/REPORT~2.PDF`:              errPathShortName,
	}
	for target, want := range refused {
		u, ok := parseTarget(t, target)
		if !ok {
			t.Fatalf("%q does not parse", target)
		}
		if got := CheckPath(u); got != want {
			t.Errorf("CheckPath(%q) = %v, want %v", target, got, want)
		}
	}
	for _, target := range []string{
		"/", "*", "/dns/records", "/dns/records/", "/dns//records", "/dns/a%20b", "/dns/a b",
		"/dns/caf%C3%A9", "/dns/%E2%82%AC", "/dns/a%2Bb", "/dns/a+b", "/dns/v1.2/x", "/dns/.well-known/x",
		"/dns/a%25", "/dns/100%25.txt", "/dns/a%25zz", "/dns/a;b=c/d", "/dns/x:y", "/v1/things:batchGet",
		"/~user/x", "/dns/a~b", "/dns/..x", "/dns/x..y", "/dns/%2Ex",
	} {
		u, ok := parseTarget(t, target)
		if !ok {
			t.Fatalf("%q does not parse", target)
		}
		if err := CheckPath(u); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", target, err)
		}
	}
}

// TestPathErrorNamesNoPathBytes: the error text is fixed, so hostile bytes
// in the path never reach a body or a log through it.
func TestPathErrorNamesNoPathBytes(t *testing.T) {
	u, _ := parseTarget(t, "/zz%0d%0aSet-Cookie:%20x=y")
	err := CheckPath(u)
	if err == nil || strings.Contains(err.Error(), "zz") || strings.Contains(err.Error(), "Set-Cookie") || err.Code() != "control_byte" {
		t.Fatalf("CheckPath = %v", err)
	}
}

// windowsReading is how a Windows file system resolves a decoded path:
// backslash as separator, trailing dots and spaces trimmed from each
// segment, a stream suffix dropped.
func windowsReading(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if s == "." || s == ".." {
			continue
		}
		if j := strings.Index(s, ":$"); j >= 0 {
			s = s[:j]
		}
		segs[i] = strings.TrimRight(s, ". ")
	}
	return strings.Join(segs, "/")
}

// removeDotSegments is RFC 3986 §5.2.4 on a path, without merging slashes
// (so /a//../b is /a/b, unlike path.Clean).
func removeDotSegments(p string) string {
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

// FuzzCheckPathAgreesWithOtherReadings: a path CheckPath lets through reads
// the same to a Windows file system, to an RFC 3986 dot-segment resolver
// that keeps empty segments, to a server that decodes twice, and to a
// servlet container that drops ;params, as it does to Caddy's matcher (up
// to the slash merging and case folding the matcher does itself).
func FuzzCheckPathAgreesWithOtherReadings(f *testing.F) {
	for _, s := range []string{
		`/dns\records`, `/dns%5crecords`, `/dns%00/records`, `/dns%20/records`, `/dns./records`,
		`/dns//../public/x`, `/dns%252frecords`, `/dns%c0%afrecords`, `/dns.;x/records`,
		`/dns::$DATA`, `/dns/a%20b`, `/dns/caf%C3%A9`, `/a/b/../c`, `/a;b/c`, `/%2e%2e/x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") || CheckPath(u) != nil {
			return
		}
		p := u.Path
		if w := windowsReading(p); w != p {
			t.Fatalf("%q passed, but Windows reads %q as %q", target, p, w)
		}
		if d := removeDotSegments(p); d != p {
			t.Fatalf("%q passed, but RFC 3986 resolves %q to %q", target, p, d)
		}
		if twice, err := url.PathUnescape(p); err == nil && twice != p {
			t.Fatalf("%q passed, but decoding twice gives %q", target, twice)
		}
		for seg := range strings.SplitSeq(p, "/") {
			if j := strings.IndexByte(seg, ';'); j >= 0 && windowsReading(seg[:j]) != seg[:j] {
				t.Fatalf("%q passed, but without ;params segment %q reads otherwise", target, seg)
			}
		}
	})
}

// TestCheckPathDoesNotAllocate: the check runs on every request.
func TestCheckPathDoesNotAllocate(t *testing.T) {
	for _, target := range []string{"/dns/records/a.json", "/dns/caf%C3%A9/a%20b;v=1", "/~user/x"} {
		u, _ := parseTarget(t, target)
		if n := testing.AllocsPerRun(100, func() { _ = CheckPath(u) }); n != 0 {
			t.Errorf("CheckPath(%q) allocates %v times", target, n)
		}
	}
}
