package oidc

import "strings"

// IssuerMatches reports whether a discovery document stating the issuer
// stated belongs to the configured issuer: the two are identical, or the
// configured one ends in "/" and stated is it with every trailing "/"
// trimmed (the URL discovery is fetched from). A stated issuer with a
// trailing "/" that the configured one lacks, or any other difference, does
// not match.
func IssuerMatches(configured, stated string) bool {
	if stated == configured {
		return true
	}
	return strings.HasSuffix(configured, "/") && stated != "" && stated == strings.TrimRight(configured, "/")
}
