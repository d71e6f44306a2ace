package edgeauthcmd

import (
	"strings"
	"testing"
)

// The running gateway's fetch time is printed in the same form as the
// local "fetched" line (RFC 3339 to the second, UTC), not as the admin
// endpoint's nanosecond timestamp.
func TestPrintRunningFormatsFetchTime(t *testing.T) {
	age := 142.4
	var out strings.Builder
	printRunning(&out, map[string]runningProvider{
		"demo": {Name: "demo", KeysLoaded: 1, LastRefresh: "2026-12-07T04:06:25.73920445Z", KeyAgeSeconds: &age},
	}, "demo")
	want := "  running  1 key(s), fetched 2026-12-07T04:06:25Z (age 2m22s)\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	out.Reset()
	printRunning(&out, map[string]runningProvider{
		"demo": {Name: "demo", KeysLoaded: 1, LastRefresh: "not a time\n", KeyAgeSeconds: &age},
	}, "demo")
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "fetched not a time") {
		t.Fatalf("unparseable time: got %q", got)
	}
}
