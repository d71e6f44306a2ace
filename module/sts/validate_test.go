package sts

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestValidateARNs(t *testing.T) {
	good := map[string]func(string) error{
		"acs:ram::1000000000000000:role/gw-role":            ValidateRoleARN,
		"acs:ram::1000000000000000:role/App.Reader_1":       ValidateRoleARN,
		"acs:ram::1000000000000000:oidc-provider/corp-idp":  ValidateProviderARN,
		"acs:ram::1:oidc-provider/a":                        ValidateProviderARN,
		"arn:aws:iam::111122223333:role/gw-role":            ValidateAWSRoleARN,
		"arn:aws-cn:iam::111122223333:role/path/to/r+=,.@-": ValidateAWSRoleARN,
	}
	for s, f := range good {
		if err := f(s); err != nil {
			t.Errorf("%s refused: %v", s, err)
		}
	}
	bad := map[string]func(string) error{
		"acs:ram::abc:role/r":                        ValidateRoleARN,
		"acs:ram::1:role/":                           ValidateRoleARN,
		"acs:ram::1:oidc-provider/p":                 ValidateRoleARN,
		"acs:ram:cn-hangzhou:1:role/r":               ValidateRoleARN,
		"acs:ram::1:role/" + strings.Repeat("r", 65): ValidateRoleARN,
		"acs:ram::1:oidc-provider/-p":                ValidateProviderARN,
		"acs:ram::1:oidc-provider/p.":                ValidateProviderARN,
		"acs:ram::1:role/p":                          ValidateProviderARN,
		"arn:aws:iam::1111:role/r":                   ValidateAWSRoleARN,
		"arn:aws:iam::111122223333:user/r":           ValidateAWSRoleARN,
		"acs:ram::1000000000000000:role/gw-role":     ValidateAWSRoleARN,
	}
	for s, f := range bad {
		err := f(s)
		if err == nil {
			t.Errorf("%s accepted", s)
			continue
		}
		if !strings.Contains(err.Error(), "_arn") || !strings.Contains(err.Error(), "write it as") {
			t.Errorf("error for %s does not name the field and the fix: %v", s, err)
		}
	}
}

func TestValidateDurationAndPolicy(t *testing.T) {
	for d, ok := range map[time.Duration]bool{
		899 * time.Second: false, 900 * time.Second: true, time.Hour: true, 12 * time.Hour: true,
		12*time.Hour + time.Second: false, 1000*time.Second + time.Millisecond: false,
	} {
		if err := ValidateDuration(d); (err == nil) != ok {
			t.Errorf("ValidateDuration(%v) = %v", d, err)
		}
	}
	for p, ok := range map[string]bool{
		`{"Version":"1","Statement":[]}`:            true,
		`{"a":"` + strings.Repeat("x", 2040) + `"}`: true, // 2048 characters
		`{"a":"` + strings.Repeat("x", 2041) + `"}`: false,
		``:    false,
		`{`:   false,
		`[1]`: false,
	} {
		if err := ValidatePolicy(p); (err == nil) != ok {
			t.Errorf("ValidatePolicy(%.20q…) = %v", p, err)
		}
	}
}

var sessionRe = regexp.MustCompile(`^[A-Za-z0-9.@_-]{2,64}$`)

func TestSanitizeSessionName(t *testing.T) {
	cases := map[string]string{
		"alice@example.com": "alice@example.com",
		"gw-alice_1.2":      "gw-alice_1.2",
	}
	for in, want := range cases {
		if got := SanitizeSessionName(in, "edgeauth"); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
	if got := SanitizeSessionName("", "edgeauth"); got != "edgeauth" {
		t.Errorf("empty → %q", got)
	}
	if got := SanitizeSessionName("", "x"); got != "edgeauth" {
		t.Errorf("empty with unusable fallback → %q", got)
	}
	if got := SanitizeSessionName("a", "gw"); !strings.HasPrefix(got, "gw-a-") || !sessionRe.MatchString(got) {
		t.Errorf("short → %q", got)
	}
	// Changed or truncated names stay distinct.
	seen := map[string]string{}
	for _, in := range []string{"a b", "a-b", "a/b", "张三", "李四", strings.Repeat("x", 64) + "1", strings.Repeat("x", 64) + "2", strings.Repeat("x", 64)} {
		got := SanitizeSessionName(in, "edgeauth")
		if !sessionRe.MatchString(got) {
			t.Errorf("%q → %q is not a valid session name", in, got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("%q and %q both → %q", prev, in, got)
		}
		seen[got] = in
		if got != SanitizeSessionName(in, "edgeauth") {
			t.Errorf("%q: not deterministic", in)
		}
	}
}

func FuzzSanitizeSessionName(f *testing.F) {
	for _, s := range []string{"", "a", "alice@example.com", "a b c", "张三", strings.Repeat("é", 80), "\x00\n"} {
		f.Add(s, "edgeauth")
	}
	f.Add("x", "")
	f.Add("", "\x00")
	f.Fuzz(func(t *testing.T, s, fallback string) {
		got := SanitizeSessionName(s, fallback)
		if !sessionRe.MatchString(got) {
			t.Fatalf("SanitizeSessionName(%q, %q) = %q", s, fallback, got)
		}
		if sessionRe.MatchString(s) && got != s {
			t.Fatalf("valid %q changed to %q", s, got)
		}
	})
}
