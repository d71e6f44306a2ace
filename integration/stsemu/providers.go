package stsemu

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// RAM limits for OIDC identity providers (docs/PROTOCOL.md §3).
const (
	maxIssuerURL       = 255
	maxClientIDs       = 50
	maxClientIDLen     = 128
	maxFingerprints    = 5
	maxFingerprintLen  = 128
	defaultIssuanceHrs = 12
	minIssuanceHrs     = 1
	maxIssuanceHrs     = 168
	maxDescriptionLen  = 256 // INVENTED: RAM descriptions are short; not in docs/PROTOCOL.md
)

var (
	providerNameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$`)
	clientIDRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.\-_:/]*$`)
	fingerprintRe  = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// Provider is a registered RAM OIDC identity provider. Field names follow
// RAM's CreateOIDCProvider API.
type Provider struct {
	// Name is the IdP name (OIDCProviderName).
	Name string `json:"OIDCProviderName"`
	// IssuerURL must be https, without query, fragment or user info.
	IssuerURL string `json:"IssuerUrl"`
	// ClientIDs are the accepted `aud` values (1–50).
	ClientIDs []string `json:"ClientIds"`
	// Fingerprints are SHA-1 hex thumbprints of a certificate in the JWKS
	// host's chain (1–5).
	Fingerprints []string `json:"Fingerprints"`
	// IssuanceLimitTime is the earliest issuance time allowed, in hours
	// (1–168; 0 means the default 12).
	IssuanceLimitTime int `json:"IssuanceLimitTime"`
	// Description is free text.
	Description string `json:"Description,omitempty"`
	// Arn is set by the emulator.
	Arn string `json:"Arn,omitempty"`
	// CreateDate and UpdateDate are set by the emulator (UTC, seconds).
	CreateDate, UpdateDate string `json:",omitempty"`
}

// ProviderUpdate changes a provider. Removing the last client ID or the last
// fingerprint is refused. (INVENTED shape: RAM has separate actions such as
// AddClientIdToOIDCProvider and UpdateOIDCProvider.)
type ProviderUpdate struct {
	// AddClientIDs and RemoveClientIDs change the accepted audiences.
	AddClientIDs    []string `json:"AddClientIds,omitempty"`
	RemoveClientIDs []string `json:"RemoveClientIds,omitempty"`
	// AddFingerprints and RemoveFingerprints rotate certificate thumbprints.
	AddFingerprints    []string `json:"AddFingerprints,omitempty"`
	RemoveFingerprints []string `json:"RemoveFingerprints,omitempty"`
	// IssuanceLimitTime in hours; 0 leaves it unchanged.
	IssuanceLimitTime int `json:"IssuanceLimitTime,omitempty"`
	// Description replaces the description when not nil.
	Description *string `json:"Description,omitempty"`
}

// ProviderARN is the ARN of the named provider in this emulator's account.
func (s *Server) ProviderARN(name string) string {
	return "acs:ram::" + s.opts.AccountID + ":oidc-provider/" + name
}

// CreateProvider registers an OIDC identity provider with RAM's rules.
func (s *Server) CreateProvider(p Provider) (Provider, error) {
	if p.IssuanceLimitTime == 0 {
		p.IssuanceLimitTime = defaultIssuanceHrs
	}
	if e := validateProvider(&p); e != nil {
		return Provider{}, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.providers[p.Name]; ok {
		return Provider{}, apiErr(http.StatusConflict, "EntityAlreadyExists.OIDCProvider",
			"The OIDC provider %s already exists.", p.Name)
	}
	for _, q := range s.providers {
		if q.IssuerURL == p.IssuerURL {
			// INVENTED code: docs/PROTOCOL.md only says the issuer is unique per account.
			return Provider{}, apiErr(http.StatusConflict, "EntityAlreadyExists.OIDCProvider.IssuerUrl",
				"The issuer URL is already used by the OIDC provider %s.", q.Name)
		}
	}
	now := s.now().UTC().Format(timeLayout)
	p.Arn = s.ProviderARN(p.Name)
	p.CreateDate, p.UpdateDate = now, now
	stored := cloneProvider(p)
	s.providers[p.Name] = &stored
	return cloneProvider(p), nil
}

// GetProvider returns a registered provider.
func (s *Server) GetProvider(name string) (Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.providers[name]
	if !ok {
		return Provider{}, providerNotFound(name)
	}
	return cloneProvider(*p), nil
}

// ListProviders returns every provider, sorted by name.
func (s *Server) ListProviders() []Provider {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Provider, 0, len(s.providers))
	for _, p := range s.providers {
		out = append(out, cloneProvider(*p))
	}
	slices.SortFunc(out, func(a, b Provider) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// UpdateProvider applies u to the named provider, with the same validation
// as CreateProvider.
func (s *Server) UpdateProvider(name string, u ProviderUpdate) (Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.providers[name]
	if !ok {
		return Provider{}, providerNotFound(name)
	}
	p := cloneProvider(*cur)
	for _, id := range u.AddClientIDs {
		if !slices.Contains(p.ClientIDs, id) {
			p.ClientIDs = append(p.ClientIDs, id)
		}
	}
	for _, id := range u.RemoveClientIDs {
		if !slices.Contains(p.ClientIDs, id) {
			// INVENTED code.
			return Provider{}, apiErr(http.StatusNotFound, "EntityNotExist.OIDCProvider.ClientId",
				"The client ID %s is not registered on the OIDC provider %s.", id, name)
		}
		p.ClientIDs = slices.DeleteFunc(p.ClientIDs, func(s string) bool { return s == id })
	}
	for _, fp := range u.AddFingerprints {
		if !containsFold(p.Fingerprints, fp) {
			p.Fingerprints = append(p.Fingerprints, fp)
		}
	}
	for _, fp := range u.RemoveFingerprints {
		if !containsFold(p.Fingerprints, fp) {
			// INVENTED code.
			return Provider{}, apiErr(http.StatusNotFound, "EntityNotExist.OIDCProvider.Fingerprint",
				"The fingerprint %s is not registered on the OIDC provider %s.", fp, name)
		}
		p.Fingerprints = slices.DeleteFunc(p.Fingerprints, func(s string) bool { return strings.EqualFold(s, fp) })
	}
	if len(u.RemoveClientIDs) > 0 && len(p.ClientIDs) == 0 {
		// INVENTED code: RAM refuses to leave an IdP without client IDs.
		return Provider{}, apiErr(http.StatusBadRequest, "InvalidParameter.ClientIds.LastOne",
			"An OIDC provider must keep at least one client ID; add another before removing this one.")
	}
	if len(u.RemoveFingerprints) > 0 && len(p.Fingerprints) == 0 {
		// INVENTED code.
		return Provider{}, apiErr(http.StatusBadRequest, "InvalidParameter.Fingerprints.LastOne",
			"An OIDC provider must keep at least one fingerprint; add the new one before removing the old one.")
	}
	if u.IssuanceLimitTime != 0 {
		p.IssuanceLimitTime = u.IssuanceLimitTime
	}
	if u.Description != nil {
		p.Description = *u.Description
	}
	if e := validateProvider(&p); e != nil {
		return Provider{}, e
	}
	p.UpdateDate = s.now().UTC().Format(timeLayout)
	stored := cloneProvider(p)
	s.providers[name] = &stored
	return p, nil
}

// DeleteProvider removes a provider.
func (s *Server) DeleteProvider(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.providers[name]; !ok {
		return providerNotFound(name)
	}
	delete(s.providers, name)
	return nil
}

func providerNotFound(name string) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.OIDCProvider", "The OIDC provider %s does not exist.", name)
}

// validateProvider applies RAM's registration rules. It normalises
// fingerprints to lower case.
func validateProvider(p *Provider) *APIError {
	if p.Name == "" {
		return apiErr(http.StatusBadRequest, "MissingParameter.OIDCProviderName", "OIDCProviderName is mandatory for this action.")
	}
	if !providerNameRe.MatchString(p.Name) {
		return apiErr(http.StatusBadRequest, "InvalidParameter.OIDCProviderName",
			"The OIDCProviderName must be 1 to 128 characters of letters, digits, '.', '_' and '-', and must not start or end with a special character.")
	}
	if e := validateIssuer(p.IssuerURL); e != nil {
		return e
	}
	switch n := len(p.ClientIDs); {
	case n == 0:
		return apiErr(http.StatusBadRequest, "MissingParameter.ClientIds", "ClientIds is mandatory for this action.")
	case n > maxClientIDs:
		return apiErr(http.StatusBadRequest, "LimitExceeded.ClientIds", "An OIDC provider can have at most %d client IDs.", maxClientIDs)
	}
	seen := map[string]bool{}
	for _, id := range p.ClientIDs {
		if len(id) > maxClientIDLen || !clientIDRe.MatchString(id) {
			return apiErr(http.StatusBadRequest, "InvalidParameter.ClientIds",
				"The client ID %q is invalid: at most %d characters of letters, digits, '.', '-', '_', ':' and '/', not starting with a special character.", id, maxClientIDLen)
		}
		if seen[id] {
			return apiErr(http.StatusBadRequest, "InvalidParameter.ClientIds", "The client ID %q is listed twice.", id)
		}
		seen[id] = true
	}
	switch n := len(p.Fingerprints); {
	case n == 0:
		return apiErr(http.StatusBadRequest, "MissingParameter.Fingerprints", "Fingerprints is mandatory for this action.")
	case n > maxFingerprints:
		return apiErr(http.StatusBadRequest, "LimitExceeded.Fingerprints", "An OIDC provider can have at most %d fingerprints.", maxFingerprints)
	}
	for i, fp := range p.Fingerprints {
		if len(fp) > maxFingerprintLen || !fingerprintRe.MatchString(fp) {
			return apiErr(http.StatusBadRequest, "InvalidParameter.Fingerprints",
				"The fingerprint %q is invalid: at most %d letters and digits (the SHA-1 hex of the certificate, without colons).", fp, maxFingerprintLen)
		}
		p.Fingerprints[i] = strings.ToLower(fp)
	}
	if p.IssuanceLimitTime < minIssuanceHrs || p.IssuanceLimitTime > maxIssuanceHrs {
		return apiErr(http.StatusBadRequest, "InvalidParameter.IssuanceLimitTime",
			"The IssuanceLimitTime must be between %d and %d hours.", minIssuanceHrs, maxIssuanceHrs)
	}
	if len(p.Description) > maxDescriptionLen {
		return apiErr(http.StatusBadRequest, "InvalidParameter.Description", "The description is longer than %d characters.", maxDescriptionLen)
	}
	return nil
}

func validateIssuer(raw string) *APIError {
	if raw == "" {
		return apiErr(http.StatusBadRequest, "MissingParameter.IssuerUrl", "IssuerUrl is mandatory for this action.")
	}
	bad := func(why string) *APIError {
		return apiErr(http.StatusBadRequest, "InvalidParameter.IssuerUrl", "The IssuerUrl is invalid: %s.", why)
	}
	if len(raw) > maxIssuerURL {
		return bad("it is longer than 255 characters")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return bad("it is not a valid URL")
	case u.Scheme != "https":
		return bad("it must use https")
	case u.User != nil:
		return bad("it must not contain user information")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("it must not contain a query")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("it must not contain a fragment")
	}
	return nil
}

func cloneProvider(p Provider) Provider {
	p.ClientIDs = slices.Clone(p.ClientIDs)
	p.Fingerprints = slices.Clone(p.Fingerprints)
	return p
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// issuanceLimit is the provider's window as a duration.
func (p *Provider) issuanceLimit() time.Duration {
	return time.Duration(p.IssuanceLimitTime) * time.Hour
}
