package main

import "net/http"

// setHeader sets a single-valued header, reusing the value slice the worker
// already has so that the generator allocates nothing per request.
func setHeader(hdr http.Header, name, value string) {
	if v := hdr[name]; len(v) == 1 {
		v[0] = value
		return
	}
	hdr[name] = []string{value}
}

// bearer returns the Authorization header value for tok.
func bearer(tok string) string { return "Bearer " + tok }

// fixedSource sends the same header on every request.
type fixedSource struct {
	name, value string
	want        int
}

// Next implements Source.
func (s fixedSource) Next(hdr http.Header, _, _ int, _ bool) int {
	setHeader(hdr, s.name, s.value)
	return s.want
}

// freshSource sends a token never sent before on every measured request
// (scenario 2, edgeauth side); warm-up requests repeat warm, which is
// already cached, so that warm-up spends no fresh token.
type freshSource struct {
	pool *TokenPool // Authorization header values
	warm string
}

// Next implements Source.
func (s freshSource) Next(hdr http.Header, _, _ int, warm bool) int {
	if warm {
		setHeader(hdr, "Authorization", s.warm)
		return http.StatusOK
	}
	v, _ := s.pool.Take()
	setHeader(hdr, "Authorization", v)
	return http.StatusOK
}

// cycleSource sends the pool's tokens in turn without taking them (scenario
// 2, bare side: bare Caddy verifies nothing, so freshness does not matter,
// only that the requests look the same).
type cycleSource struct {
	pool  *TokenPool
	conns int
}

// Next implements Source.
func (s cycleSource) Next(hdr http.Header, w, seq int, _ bool) int {
	setHeader(hdr, "Authorization", s.pool.Peek(seq*s.conns+w))
	return http.StatusOK
}

// invalidEvery makes every invalidEvery-th request of a connection carry an
// invalid token in the mixed scenario (10 %).
const invalidEvery = 10

// mixSource sends valid tokens from a small set, and on every tenth request
// one with a bad signature (scenario 5). edgeauth must answer those 401;
// bare Caddy, which gets the same requests, answers 200.
type mixSource struct {
	valid, invalid []string // Authorization header values
	checked        bool     // the server verifies tokens
}

// Next implements Source.
func (s mixSource) Next(hdr http.Header, w, seq int, _ bool) int {
	if seq%invalidEvery == invalidEvery-1 {
		setHeader(hdr, "Authorization", s.invalid[(w+seq)%len(s.invalid)])
		if s.checked {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	}
	setHeader(hdr, "Authorization", s.valid[(w+seq)%len(s.valid)])
	return http.StatusOK
}
