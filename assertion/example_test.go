package assertion_test

import (
	"fmt"
	"log"
	"net/http"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/assertion"
)

// The README's Go snippet: a backend that answers only requests carrying a
// valid assertion for its audience.
func ExampleVerifier_Require() {
	v, err := assertion.NewVerifier(
		"https://gw.example.com",  // the gateway's `assertion { issuer … }`
		"https://app.example.com", // this backend's audience
		assertion.WithAlgorithms("ES256", "EdDSA", "RS256", "PS256"))
	if err != nil {
		log.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := assertion.FromContext(r.Context()) // always set behind Require
		fmt.Fprintf(w, "hello %s (scopes %s)\n", id.Subject, strings.Join(id.Scopes, " "))
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", v.Require(app))) // 401 without a valid assertion
}
