package session

import (
	"testing"
	"time"
)

// TestSiblingOpenedCacheKeyUnambiguous (issue 9, cache keys): the opened-
// session cache key cannot be made to collide by moving bytes between where
// a value came from and the value itself, and two values never share an
// entry.
func TestSiblingOpenedCacheKeyUnambiguous(t *testing.T) {
	pairs := [][2][2]string{
		{{"a\x00b", "c"}, {"a", "b\x00c"}},
		{{"edgeauth", "\x00x"}, {"edgeauth\x00", "x"}},
		{{"", "ab"}, {"a", "b"}},
	}
	for _, p := range pairs {
		if OpenedKey(p[0][0], p[0][1]) == OpenedKey(p[1][0], p[1][1]) {
			t.Errorf("OpenedKey(%q, %q) == OpenedKey(%q, %q)", p[0][0], p[0][1], p[1][0], p[1][1])
		}
	}
	var c OpenedCache
	now := time.Now()
	alice := &Session{ID: "alice", NotAfter: now.Add(time.Hour)}
	c.Put(OpenedKey("edgeauth", "sealed-alice"), alice, now)
	if s, ok := c.Get(OpenedKey("edgeauth", "sealed-bob"), now); ok {
		t.Errorf("another value got %q's session", s.ID)
	}
	if s, ok := c.Get(OpenedKey("edgeauth-other", "sealed-alice"), now); ok {
		t.Errorf("the same value under another cookie name got %q's session", s.ID)
	}
}
