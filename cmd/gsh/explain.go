package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gsh/cluster"
	"gsh/cluster/service"
	"gsh/shell"
)

// hintError is an error of the cluster library with what to do about it on
// gsh's command line.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + ": " + e.hint }
func (e *hintError) Unwrap() error { return e.err }

// tlsMismatch are what the library says when one node runs with TLS and the
// other without (the refusal of a TLS node, its log line, and the log line
// of a node without TLS that a TLS node dialled).
var tlsMismatch = []string{"accepts TLS links only", "runs without TLS", "the peer runs with TLS"}

// What gsh's flags do about the errors that explain and explainLine know.
const (
	notDistributedHint = "start it with -sname NAME or -name NAME"
	nameTypeHint       = "start both with -sname or both with -name"
	tlsHint            = "links over TLS need -tls_cert, -tls_key and -tls_ca on both nodes"
	erlangHint         = "start gsh with -erlang"
	procsHint          = "-procs N sets a gsh node's limit"
	serviceTLSHint     = "give gsh -tls_cert and -tls_key"
)

// explain adds to err, when gsh's flags avoid it, the flags that do:
// errors.Is and errors.As see err as before.
func explain(err error) error {
	var h *hintError
	if err == nil || errors.As(err, &h) {
		return err
	}
	var noDomain *cluster.NoDomainError
	var mismatch *cluster.AddrMismatchError
	hint := ""
	switch {
	case errors.As(err, &noDomain):
		hint = fmt.Sprintf("-sname %s gives a short name", noDomain.Name)
	case errors.As(err, &mismatch):
		alive, _, _ := cluster.SplitName(mismatch.Name)
		hint = fmt.Sprintf("give -addr %s, or -name %s@%s", mismatch.Resolved, alive, mismatch.Listen)
	case errors.Is(err, cluster.ErrErlangOff):
		hint = erlangHint
	case errors.Is(err, cluster.ErrTooManyProcesses):
		hint = procsHint
	case errors.Is(err, service.ErrNoCertificate):
		hint = serviceTLSHint
	case errors.Is(err, cluster.ErrNotDistributed):
		hint = notDistributedHint
	case errors.Is(err, cluster.ErrNameType):
		hint = nameTypeHint
	case errors.Is(err, cluster.ErrTLS) || errors.Is(err, cluster.ErrProtocol):
		msg := err.Error()
		if slices.ContainsFunc(tlsMismatch, func(s string) bool { return strings.Contains(msg, s) }) {
			hint = tlsHint
		}
	}
	if hint == "" {
		return err
	}
	return &hintError{err, hint}
}

// explainLine is explain for a line of the node's log, which holds the
// text of an error rather than the error (a refused connection's line).
func explainLine(line string) string {
	hint := ""
	switch {
	case strings.Contains(line, cluster.ErrNotDistributed.Error()):
		hint = notDistributedHint
	case strings.Contains(line, cluster.ErrNameType.Error()):
		hint = nameTypeHint
	case strings.Contains(line, cluster.ErrErlangOff.Error()):
		hint = erlangHint
	case slices.ContainsFunc(tlsMismatch, func(s string) bool { return strings.Contains(line, s) }):
		hint = tlsHint
	}
	if hint == "" || strings.HasSuffix(line, hint) {
		return line
	}
	return line + ": " + hint
}

// explaining is the shell's evaluator with explain applied to the error an
// input fails with and to an error it results in.
type explaining struct{ shell.Evaluator }

func (e explaining) Eval(ctx context.Context, src string) (shell.Result, error) {
	res, err := e.Evaluator.Eval(ctx, src)
	if n := len(res.Values); n > 0 {
		if verr, ok := res.Values[n-1].(error); ok && verr != nil {
			if x := explain(verr); x != verr {
				res.Values = slices.Clone(res.Values)
				res.Values[n-1] = x
			}
		}
	}
	return res, explain(err)
}
