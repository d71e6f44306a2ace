package demoidp

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
	"strings"
)

const pageCSS = `body{font:15px/1.45 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:34rem;margin:3rem auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin:.2rem 0 1rem}label{display:block;margin:.6rem 0 .2rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #bbc;border-radius:4px}
button{margin-top:1rem;padding:.5rem 1.2rem;border:0;border-radius:4px;font-size:1rem;cursor:pointer;background:#ff6a00;color:#fff}
button.secondary{background:#dde}table{border-collapse:collapse;width:100%;margin-top:.5rem;font-size:.9rem}
td,th{border-bottom:1px solid #e3e5ea;padding:.3rem .4rem;text-align:left}code{background:#eef;padding:0 .2rem}
.err{background:#fde8e8;color:#8a1c1c;padding:.5rem;border-radius:4px}.muted{color:#667}s{color:#a33}`

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{{.}} · edgeauth demo IdP</title>
<style>` + pageCSS + `</style></head><body><main>{{end}}
{{define "foot"}}<p class="muted">edgeauth demo identity provider — for tests and demos only.</p></main></body></html>{{end}}

{{define "login"}}{{template "head" "Sign in"}}
<h1>Sign in to continue to <code>{{.ClientID}}</code></h1>
{{if .Error}}<p class="err" id="error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}" id="login-form">
<input type="hidden" name="req" value="{{.ReqID}}">
<label for="username">Username</label><input type="text" id="username" name="username" value="{{.LoginHint}}" autocomplete="username" autofocus>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password">
<button type="submit" id="login">Sign in</button>
</form>
<h2 style="font-size:1rem;margin-top:1.5rem">Demo users</h2>
<table id="demo-users"><tr><th>username</th><th>password</th><th>type</th><th>name</th><th>may grant</th></tr>
{{range .Users}}<tr><td><code>{{.Username}}</code></td><td><code>{{.Password}}</code></td><td>{{.Type}}</td><td>{{.Name}}</td><td>{{.Scopes}}</td></tr>
{{end}}</table>
{{template "foot"}}{{end}}

{{define "consent"}}{{template "head" "Consent"}}
<h1><code>{{.ClientID}}</code> asks for access</h1>
<p>Signed in as <strong id="signed-in-user">{{.User}}</strong>. The application requests:</p>
<ul id="scopes">{{range .Scopes}}<li>{{if .Grantable}}<code>{{.Name}}</code> — {{.Description}}{{else}}<s><code>{{.Name}}</code></s> — you may not grant this; it will be left out{{end}}</li>
{{end}}</ul>
<form method="post" action="{{.Action}}" id="consent-form">
<input type="hidden" name="req" value="{{.ReqID}}">
<button type="submit" id="allow" name="action" value="allow">Allow</button>
<button type="submit" id="deny" name="action" value="deny" class="secondary">Deny</button>
</form>
{{template "foot"}}{{end}}

{{define "message"}}{{template "head" .Title}}
<h1 id="title">{{.Title}}</h1><p id="message">{{.Message}}</p>
{{if .Link}}<p><a id="continue" href="{{.Link}}">Continue</a></p>{{end}}
{{template "foot"}}{{end}}
`))

var scopeDescriptions = map[string]string{
	"openid":      "sign you in (your subject identifier)",
	"aliuid":      "your Alibaba Cloud account ID and user ID (aid, uid)",
	"profile":     "your identity type, display name and logon name",
	"email":       "your email address",
	"/acs/alidns": "manage Alibaba Cloud DNS on your behalf",
	"/acs/ecs":    "manage ECS instances on your behalf",
	"/acs/oss":    "access OSS buckets on your behalf",
}

// render writes an HTML page with headers that keep it out of frames and caches.
func render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "demoidp: rendering page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// No form-action: browsers apply it to the redirect after the form post.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type userRow struct{ Username, Password, Type, Name, Scopes string }

func (s *Server) loginPage(w http.ResponseWriter, status int, id string, req *authRequest, errMsg string) {
	var rows []userRow
	for _, u := range s.opts.Users {
		rows = append(rows, userRow{u.Username, u.Password, u.Type, u.Name, strings.Join(u.Scopes, " ")})
	}
	render(w, status, "login", map[string]any{
		"Action": PathLogin, "ReqID": id, "ClientID": req.client.ID, "LoginHint": req.loginHint,
		"Error": errMsg, "Users": rows,
	})
}

type scopeRow struct {
	Name, Description string
	Grantable         bool
}

func (s *Server) consentPage(w http.ResponseWriter, id string, req *authRequest) {
	var rows []scopeRow
	for _, sc := range req.scopes {
		desc := scopeDescriptions[sc]
		if desc == "" {
			desc = "the " + sc + " permission"
		}
		rows = append(rows, scopeRow{sc, desc, slices.Contains(req.user.Scopes, sc)})
	}
	who := req.user.Username
	if req.user.Name != "" {
		who = req.user.Name + " (" + req.user.Username + ")"
	}
	render(w, http.StatusOK, "consent", map[string]any{
		"Action": PathConsent, "ReqID": id, "ClientID": req.client.ID, "User": who, "Scopes": rows,
	})
}

func (s *Server) errorPage(w http.ResponseWriter, status int, title, msg string) {
	render(w, status, "message", map[string]any{"Title": title, "Message": msg})
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		s.errorPage(w, http.StatusNotFound, "Not found", "No such page on the demo IdP.")
		return
	}
	render(w, http.StatusOK, "message", map[string]any{
		"Title":   "edgeauth demo IdP",
		"Message": "An OpenID provider for tests and demos. Its metadata is at " + s.issuer + PathDiscovery + ".",
		"Link":    PathDiscovery,
	})
}
