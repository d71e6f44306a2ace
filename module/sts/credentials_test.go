package sts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestCredentialsRedaction(t *testing.T) {
	const secret, token = "SECRET-abc123", "TOKEN-CAISxyz"
	c := &Credentials{AccessKeyID: "STS.visible", AccessKeySecret: secret, SecurityToken: token,
		Expiration: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), RequestID: "R1"}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v %+v %#v %s %q %x %v %+v %#v", c, c, c, c, c, c, *c, *c, *c)
	fmt.Fprint(&buf, c, []*Credentials{c}, map[string]Credentials{"k": *c}, struct{ C *Credentials }{c})
	j, err := json.Marshal(map[string]any{"c": c})
	if err != nil {
		t.Fatal(err)
	}
	buf.Write(j)
	core, logs := newObserver()
	zap.New(core).Info("x", zap.Object("creds", c), zap.Any("any", *c))
	buf.WriteString(logs.String())

	out := buf.String()
	if strings.Contains(out, secret) || strings.Contains(out, token) {
		t.Fatalf("secret printed: %s", out)
	}
	if !strings.Contains(out, "STS.visible") || !strings.Contains(out, redacted) {
		t.Errorf("redacted form lacks the key ID or the marker: %s", out)
	}
	// The fields themselves are intact.
	if c.AccessKeySecret != secret || c.SecurityToken != token {
		t.Error("redaction changed the value")
	}
}

// newObserver is a zap core writing JSON into a buffer.
func newObserver() (zapcore.Core, *bytes.Buffer) {
	var b bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zapcore.NewCore(enc, zapcore.AddSync(&b), zapcore.DebugLevel), &b
}

func TestErrorString(t *testing.T) {
	e := &Error{Kind: InvalidToken, Code: "AuthenticationFail.OIDCToken.Expired", RequestID: "R1", Message: "expired", HTTPStatus: 401}
	want := "sts: invalid_token: AuthenticationFail.OIDCToken.Expired: expired (HTTP 401, request id R1)"
	if e.Error() != want {
		t.Errorf("%q", e.Error())
	}
}
