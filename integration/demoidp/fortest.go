package demoidp

// TB is the part of testing.TB that ForTest and MintForTest use; this
// package does not import testing, since binaries link it too.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// ForTest starts a provider for a test: New and Start, with Close at the
// test's cleanup. Any failure ends the test.
func ForTest(t TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("demoidp: %v", err)
		return nil
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Start(); err != nil {
		t.Fatalf("demoidp: %v", err)
	}
	return s
}

// MintForTest is Mint that ends the test on an error.
func (s *Server) MintForTest(t TB, claims map[string]any, opts ...MintOption) string {
	t.Helper()
	raw, err := s.Mint(claims, opts...)
	if err != nil {
		t.Fatalf("demoidp: %v", err)
	}
	return raw
}
