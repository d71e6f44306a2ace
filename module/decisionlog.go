package edgeauth

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/edgeauth/caddy-edgeauth/module/metrics"
)

// parseDecisionLogLevel reads the handler's `decision_log_level` option:
// debug (the default, for ""), info, warn or error.
func parseDecisionLogLevel(s string) (zapcore.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "debug":
		return zapcore.DebugLevel, nil
	case "info":
		return zapcore.InfoLevel, nil
	case "warn", "warning":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return zapcore.DebugLevel, fmt.Errorf("decision_log_level: %q is not a level; use debug, info, warn or error", s)
}

// logDecision writes one structured line for a decision at the given level:
// the outcome and reason code, a finer detail code (e.g. "expired", from
// metrics.TokenErrorDetail), the provider, the method, host and path, and
// Caddy's client IP. It never logs the query string, the Authorization
// header, cookies, the token or any claim value. Nothing is allocated when
// the level is disabled.
func logDecision(logger *zap.Logger, level zapcore.Level, r *http.Request, reason metrics.Reason, provider, detail string) {
	if logger == nil {
		return
	}
	ce := logger.Check(level, "decision")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 8)
	fields = append(fields,
		zap.String("outcome", reason.Outcome().String()),
		zap.String("reason", reason.String()),
	)
	if detail != "" {
		fields = append(fields, zap.String("detail", detail))
	}
	if provider != "" {
		fields = append(fields, zap.String("provider", provider))
	}
	fields = append(fields,
		zap.String("method", r.Method),
		zap.String("host", r.Host),
		zap.String("path", r.URL.Path),
	)
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		fields = append(fields, zap.String("client_ip", ip))
	}
	ce.Write(fields...)
}
