// Package decision is the closed vocabulary of the gateway's decisions:
// why a request was allowed or refused (Reason), what it was answered with
// (Outcome), the finer detail code of a token failure (TokenErrorDetail,
// the token.Code the error was made with) and the result of an STS
// exchange (STSResult). The metrics labels (module/metrics) and the
// decision log (module/decisionlog.go) both use it, so the two always
// spell a decision the same way.
//
// Every mapping here reads typed errors (token.Error's Kind and Code,
// sts.Error's Kind), never an error's wording. The sets are closed: adding
// a value is a change to this package, never a value computed from a
// request.
package decision
