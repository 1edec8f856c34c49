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
//
// Tab completes the word before the cursor through Config.Complete (a
// [Completer]); [Interp.Complete] knows Go's keywords and builtins, package
// names and their members (the standard library's exported ones, and every
// member of the Exports, such as rpc.call), the names of dot-imported
// packages, and the names bound by inputs that succeeded, tracked from their
// syntax trees. [StringArg] tells when the cursor is in a string argument of
// a call, where gsh completes node names. Tab with nothing before the cursor
// inserts a tab, so that pasted indented code keeps its indentation.
//
// [Shell.History] gives the history file's lines and this session's, one per
// line typed, as the up arrow walks them. In non-interactive mode a first
// line starting with #! is skipped, so that a script can be run as a
// program.
//
// # Remote shell
//
// A Shell evaluates with an [Evaluator]: the *Interp by default, or a
// [Remote], the client of another node's [Server] (gsh -remsh). The Remote
// sends each complete input (Incomplete is decided on the client) to the
// Server, which evaluates it in its node's interpreter with the output of
// that evaluation captured ([WithOutput]: what the evaluating goroutine
// prints with fmt.Print* goes to a buffer of its own, all else to the node's
// stdout), and sends back that output and the result as the prompt prints
// it. Ctrl-C cancels the Remote's evaluation, which sends the Server an
// interrupt for it: the remote evaluation stops, processes it spawned do
// not. The calls travel as wire values through whatever the caller provides
// (gsh uses the cluster's rpc, module "shell"): this package does not know
// the cluster.
package shell
