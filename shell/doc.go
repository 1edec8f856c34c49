// Package shell is gsh's read-eval-print loop: a Go interpreter (yaegi) with
// line editing (readline), in the manner of Erlang's shell.
//
// # Interp
//
// An [Interp] is the node's one interpreter. [Interp.Eval] takes one complete
// input, as typed at the prompt: statements, declarations, an expression or a
// whole file. Every source goes through [interrupt.Instrument] first, so that
// cancelling the context of an evaluation (Ctrl-C) stops that evaluation and
// nothing else: processes spawned by it and remote calls being served keep
// running. Functions declared at the prompt or by a loaded file can be called
// from any goroutine through [Interp.Func], which is how other nodes call
// them.
//
// Eval also works around some of yaegi's weaknesses at the top level of the
// prompt (where variables are globals): comma-ok assignments (v, ok := m[k],
// v, ok := x.(T)) are rewritten, compound statements, go statements and
// expression statements run inside a function literal. A comma-ok receive
// (v, ok := <-ch) at the top level is still refused by yaegi, and a range over
// an integer makes yaegi panic; both come back as errors. yaegi's own log
// line for such a panic ("nil type") goes to the standard logger.
//
// # Printing
//
// [Format] and [FormatResult] say how the prompt prints values: top-level
// strings unquoted, collections Go-like but with quoted strings
// ([1, "a", true] and {"a": 1}), Atoms bare, errors as "** error: msg".
//
// # Shell
//
// A [Shell] reads inputs, line by line until they are complete (see
// [Incomplete]), evaluates them and prints their values, and errors as one
// line "** error: msg", both on Config.Out so that a transcript keeps them in
// order. Interactive mode uses readline: prompt, history, Ctrl-C clearing the
// line, Ctrl-D ending the session, and [Shell.Logf] printing log lines above
// the prompt. Non-interactive mode (gsh < session.gsh) prints no prompt and
// stops at the first error, printed as "session.gsh:12: ** error: msg".
//
// Ctrl-C during an evaluation: the terminal is kept in raw mode for the
// whole interactive session, so Ctrl-C is never turned into SIGINT by the
// terminal; it reaches the shell as a byte (0x03). A goroutine copies the
// input into a buffer that readline reads from; while an evaluation runs
// (readline does not read then) a Ctrl-C found in that buffer is taken out,
// with what was typed before it, and cancels the evaluation. This works the
// same on a real terminal and on a pseudo-terminal that is nobody's
// controlling terminal (where the kernel could not deliver SIGINT anyway).
// SIGINT from elsewhere (kill -INT) also cancels the running evaluation.
package shell
