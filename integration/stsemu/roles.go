package stsemu

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Role session limits (docs/PROTOCOL.md §2.3; the 3600–43200 role maximum is
// UNCONFIRMED there).
const (
	minRoleMaxSession     = 3600 * time.Second
	maxRoleMaxSession     = 43200 * time.Second
	defaultRoleMaxSession = 3600 * time.Second
)

var roleNameRe = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)

// StringList is a JSON value that is a string or a list of strings, as in
// RAM policies.
type StringList []string

// UnmarshalJSON accepts "a" and ["a","b"].
func (l *StringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

// TrustPolicy is a role's trust (assume-role) policy, as in docs/PROTOCOL.md §2.6.
type TrustPolicy struct {
	// Version is "1".
	Version string `json:"Version"`
	// Statement lists the statements; an explicit Deny wins over any Allow.
	Statement []Statement `json:"Statement"`
}

// Statement is one trust-policy statement.
type Statement struct {
	// Action must include sts:AssumeRole (or sts:* / *).
	Action StringList `json:"Action"`
	// Effect is Allow or Deny.
	Effect string `json:"Effect"`
	// Principal names the federated OIDC provider ARNs.
	Principal Principal `json:"Principal"`
	// Condition maps an operator (StringEquals, StringLike) to condition
	// keys (oidc:iss, oidc:aud, oidc:sub) and their accepted values.
	Condition map[string]map[string]StringList `json:"Condition,omitempty"`
}

// Principal names who may assume the role.
type Principal struct {
	// Federated lists OIDC provider ARNs.
	Federated StringList `json:"Federated,omitempty"`
}

// ParseTrustPolicy reads a JSON trust policy.
func ParseTrustPolicy(doc string) (TrustPolicy, error) {
	var tp TrustPolicy
	if err := json.Unmarshal([]byte(doc), &tp); err != nil {
		return TrustPolicy{}, fmt.Errorf("trust policy is not valid JSON: %w", err)
	}
	return tp, nil
}

// OIDCTrust is the usual trust policy: allow the provider, with StringEquals
// conditions on oidc:iss, oidc:aud and oidc:sub for every non-empty argument.
func OIDCTrust(providerARN, iss, aud, sub string) TrustPolicy {
	cond := map[string]StringList{}
	if iss != "" {
		cond["oidc:iss"] = StringList{iss}
	}
	if aud != "" {
		cond["oidc:aud"] = StringList{aud}
	}
	if sub != "" {
		cond["oidc:sub"] = StringList{sub}
	}
	st := Statement{Action: StringList{"sts:AssumeRole"}, Effect: "Allow",
		Principal: Principal{Federated: StringList{providerARN}}}
	if len(cond) > 0 {
		st.Condition = map[string]map[string]StringList{"StringEquals": cond}
	}
	return TrustPolicy{Version: "1", Statement: []Statement{st}}
}

// Role is a RAM role that federated users may assume.
type Role struct {
	// Name is the role name.
	Name string
	// Arn is acs:ram::<account>:role/<name>.
	Arn string
	// RoleID is the numeric role ID used in AssumedRoleId.
	RoleID string
	// Trust is the trust policy evaluated on every AssumeRoleWithOIDC.
	Trust TrustPolicy
	// MaxSessionDuration caps DurationSeconds.
	MaxSessionDuration time.Duration
}

// RoleARN is the ARN of the named role in this emulator's account.
func (s *Server) RoleARN(name string) string {
	return "acs:ram::" + s.opts.AccountID + ":role/" + name
}

// CreateRole creates a role. maxSession is its MaxSessionDuration
// (3600–43200 s; zero means 3600 s).
func (s *Server) CreateRole(name string, trust TrustPolicy, maxSession time.Duration) (Role, error) {
	if !roleNameRe.MatchString(name) {
		return Role{}, apiErr(http.StatusBadRequest, "InvalidParameter.RoleName",
			"The RoleName must be 1 to 64 characters of letters, digits, '.' and '-'.")
	}
	if maxSession == 0 {
		maxSession = defaultRoleMaxSession
	}
	if maxSession < minRoleMaxSession || maxSession > maxRoleMaxSession || maxSession%time.Second != 0 {
		return Role{}, apiErr(http.StatusBadRequest, "InvalidParameter.MaxSessionDuration",
			"The MaxSessionDuration must be between 3600 and 43200 seconds.")
	}
	if len(trust.Statement) == 0 {
		return Role{}, apiErr(http.StatusBadRequest, "InvalidParameter.AssumeRolePolicyDocument",
			"The trust policy has no statement.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roles[name]; ok {
		return Role{}, apiErr(http.StatusConflict, "EntityAlreadyExists.Role", "The role %s already exists.", name)
	}
	r := &Role{Name: name, Arn: s.RoleARN(name), RoleID: newRoleID(), Trust: trust, MaxSessionDuration: maxSession}
	s.roles[name] = r
	return *r, nil
}

// DeleteRole removes a role.
func (s *Server) DeleteRole(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roles[name]; !ok {
		return apiErr(http.StatusNotFound, "EntityNotExist.Role", "The role %s does not exist.", name)
	}
	delete(s.roles, name)
	return nil
}

func newRoleID() string {
	// RAM role IDs are 18-19 digit numbers.
	n, _ := rand.Int(rand.Reader, big.NewInt(1e17))
	return fmt.Sprintf("3%017d", n)
}

// trustContext is what the trust policy is evaluated against.
type trustContext struct {
	providerARN string
	iss, sub    string
	aud         []string
}

// allows evaluates the trust policy: an explicit Deny wins, then any Allow.
func (tp TrustPolicy) allows(c trustContext) bool {
	allowed := false
	for _, st := range tp.Statement {
		if !st.matches(c) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

func (st Statement) matches(c trustContext) bool {
	if !slices.ContainsFunc(st.Action, func(a string) bool { return a == "sts:AssumeRole" || a == "sts:*" || a == "*" }) {
		return false
	}
	if !slices.Contains(st.Principal.Federated, c.providerARN) {
		return false
	}
	for op, keys := range st.Condition {
		for key, want := range keys {
			var have []string
			switch key {
			case "oidc:iss":
				have = []string{c.iss}
			case "oidc:sub":
				have = []string{c.sub}
			case "oidc:aud":
				have = c.aud
			default:
				return false // unknown key: the condition cannot be met
			}
			if !condition(op, have, want) {
				return false
			}
		}
	}
	return true
}

// condition: some value we have matches some wanted value.
func condition(op string, have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			switch op {
			case "StringEquals":
				if h == w {
					return true
				}
			case "StringLike":
				if like(w, h) {
					return true
				}
			}
		}
	}
	return false
}

// like matches a RAM StringLike pattern: '*' is any run, '?' one character.
func like(pattern, s string) bool {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(s)
}
