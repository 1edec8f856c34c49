package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/chzyer/readline"
)

// Evaluator evaluates a shell's inputs: an *Interp, or a *Remote for
// another node's interpreter (gsh -remsh).
type Evaluator interface {
	// Eval evaluates one complete input (see Interp.Eval); cancelling ctx
	// interrupts it.
	Eval(ctx context.Context, src string) (Result, error)
}

// Config configures a Shell.
type Config struct {
	// Interp evaluates the inputs, unless Eval is set.
	Interp *Interp
	// Eval, if set, evaluates the inputs instead of Interp: a remote
	// shell's *Remote.
	Eval Evaluator
	// Complete completes the word before the cursor when Tab is pressed
	// (interactive mode). Nil means the evaluator's own completion, when it
	// is a Completer (*Interp and *Remote are). Tab with nothing to complete
	// before the cursor (at the start of a line, after a space) inserts a
	// tab, so that pasted indented code stays as it was.
	Complete Completer
	In       io.Reader
	// Out gets the printed values and the error lines, in both modes, so
	// that a transcript keeps them in order. Err gets Logf's lines in
	// non-interactive mode.
	Out, Err io.Writer
	// Interactive: line editing (readline) with a prompt, history, Ctrl-C
	// handling. Otherwise In is read line by line with no prompt and no
	// terminal control sequences, so that gsh < session.gsh > out is clean.
	Interactive bool
	// Prompt returns the prompt for input number n, counted from 1, e.g.
	// "(gandalf@vm)1> ". Nil means "n> ".
	Prompt func(n int) string
	// ContinuationPrompt is shown while an input is unfinished. Empty
	// means ".. " right-aligned under the prompt.
	ContinuationPrompt string
	// HistoryFile keeps the interactive history (1000 lines at most, no
	// consecutive duplicates). Empty means no history file.
	HistoryFile string
	// OnError is called with each failed input's error. In
	// non-interactive mode, returning false stops Run (nil stops at the
	// first error); in interactive mode the result is ignored.
	OnError func(err error) bool
	// Quiet (non-interactive mode): print no values, only what the code
	// prints, and the error lines on Err, so that another program can read
	// a script's output as it reads a compiled program's.
	Quiet bool
	// Name is the source's name in non-interactive mode, for errors
	// printed as "session.gsh:12: ** error: …". Empty means "input".
	Name string
}

// Shell is the read-eval-print loop.
type Shell struct {
	cfg Config

	mu       sync.Mutex
	rl       *readline.Instance // while an interactive Run reads
	history  []string           // the history file's lines, then this session's
	fromFile int                // how many of history came from the file
	loaded   bool               // the file was read
}

// New returns a shell; Run starts it.
func New(cfg Config) *Shell {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Err == nil {
		cfg.Err = cfg.Out
	}
	if cfg.Prompt == nil {
		cfg.Prompt = func(n int) string { return fmt.Sprintf("%d> ", n) }
	}
	if cfg.Name == "" {
		cfg.Name = "input"
	}
	if cfg.Eval == nil && cfg.Interp != nil {
		cfg.Eval = cfg.Interp
	}
	if cfg.Complete == nil {
		cfg.Complete, _ = cfg.Eval.(Completer)
	}
	return &Shell{cfg: cfg}
}

// historyLimit is how many lines the history keeps, in the file too.
const historyLimit = 1000

// History returns the lines of the history: first those read from the
// history file at the start of an interactive Run (old), then those of this
// session, in order. Like the history that the up arrow walks, it holds
// each line of a multi-line input, no empty lines and no line twice in a
// row.
func (s *Shell) History() (old, session []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.history[:s.fromFile]), slices.Clone(s.history[s.fromFile:])
}

// addHistory adds a line typed in this session, and reports whether it
// did (not an empty line, not the last line again).
func (s *Shell) addHistory(line string) bool {
	line = strings.TrimSpace(line)
	if line == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.history); n > s.fromFile && s.history[n-1] == line {
		return false
	}
	s.history = append(s.history, line)
	return true
}

// recordInput adds the lines of a typed input to the history, its secrets
// redacted (see RedactSecrets), and returns those it added.
func (s *Shell) recordInput(src string) []string {
	var added []string
	for l := range strings.Lines(RedactSecrets(src)) {
		if s.addHistory(l) {
			added = append(added, strings.TrimSpace(l))
		}
	}
	return added
}

// loadHistory reads the history file, as readline does, and returns its
// lines as they are (raw) and as the history keeps them (kept: no empty
// lines, no line twice in a row, secrets redacted, the last historyLimit).
func (s *Shell) loadHistory() (raw, kept []string) {
	if s.cfg.HistoryFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.cfg.HistoryFile)
	if err != nil {
		return nil, nil
	}
	for l := range strings.Lines(string(b)) {
		raw = append(raw, strings.TrimRight(l, "\r\n"))
		l = strings.TrimSpace(RedactSecrets(l))
		if l == "" || (len(kept) > 0 && kept[len(kept)-1] == l) {
			continue
		}
		kept = append(kept, l)
	}
	if len(kept) > historyLimit {
		kept = kept[len(kept)-historyLimit:]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded {
		return raw, kept
	}
	s.loaded = true
	s.history = append(slices.Clone(kept), s.history...)
	s.fromFile = len(kept)
	return raw, kept
}

// printResult prints what an evaluation printed (a remote one's), then its
// error or its values.
func (s *Shell) printResult(res Result, err error) {
	if res.Output != "" {
		io.WriteString(s.cfg.Out, res.Output)
	}
	if err != nil {
		fmt.Fprintln(s.cfg.Out, ErrorLine(err))
		return
	}
	if out := FormatResult(res); out != "" {
		fmt.Fprintln(s.cfg.Out, out)
	}
}

// InputError is the error of a failed input in non-interactive mode.
type InputError struct {
	Name string // the source's name
	Line int    // where the error is: the input's first line, or the line that a position points at
	Err  error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, errorText(e.Err))
}
func (e *InputError) Unwrap() error { return e.Err }

// errorText is an error's message without the position that the shell
// prints in front of it.
func errorText(err error) string {
	var ce *CompileError
	if errors.As(err, &ce) && ce.File == "" {
		return oneLine(ce.Msg)
	}
	return oneLine(err.Error())
}

// ErrorLine returns how the shell prints an error: "** error: msg".
func ErrorLine(err error) string {
	var ce *CompileError
	if errors.As(err, &ce) && ce.File == "" {
		return "** error: " + oneLine(ce.Error())
	}
	return "** error: " + oneLine(err.Error())
}

// Run reads, evaluates and prints until the end of input (Ctrl-D on an empty
// line) or until ctx is cancelled, and then returns nil. In non-interactive
// mode it stops at the first failing input (see Config.OnError) and returns
// an *InputError naming its line.
func (s *Shell) Run(ctx context.Context) error {
	if s.cfg.Interactive {
		return s.runInteractive(ctx)
	}
	return s.runBatch(ctx)
}

// Logf prints a line for another goroutine: above the prompt, without
// tearing the line being typed, in interactive mode; on Err otherwise.
func (s *Shell) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rl != nil {
		io.WriteString(s.rl.Stdout(), msg)
		return
	}
	io.WriteString(s.cfg.Err, msg)
}

// Print writes text that belongs on this terminal but comes from elsewhere
// (what a call served on another node printed for this prompt): above the
// line being typed at the prompt, to the output otherwise.
func (s *Shell) Print(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rl != nil {
		io.WriteString(s.rl.Stdout(), text)
		return
	}
	io.WriteString(s.cfg.Out, text)
}

// resultError is the error a result ends with, if any: the value of an
// expression statement, not an assigned one.
func resultError(r Result) error {
	if r.Assigned {
		return nil
	}
	if n := len(r.Values); n > 0 {
		if err, ok := r.Values[n-1].(error); ok && err != nil {
			return err
		}
	}
	return nil
}

func (s *Shell) runBatch(ctx context.Context) error {
	sc := bufio.NewScanner(s.cfg.In)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var (
		buf       []string
		lineNo    int
		startLine int
	)
	eval := func(src string) error {
		res, err := s.cfg.Eval.Eval(ctx, src)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if res.Output != "" {
			io.WriteString(s.cfg.Out, res.Output)
		}
		if err == nil {
			// A statement whose value is an error (rpc.call's failure, an
			// unchecked (v, error) result) fails the script too.
			err = resultError(res)
		}
		if err != nil {
			line := startLine
			var ce *CompileError
			if errors.As(err, &ce) && ce.File == "" {
				line += ce.Line - 1
			}
			ie := &InputError{Name: s.cfg.Name, Line: line, Err: err}
			errOut := s.cfg.Out
			if s.cfg.Quiet {
				errOut = s.cfg.Err
			}
			fmt.Fprintf(errOut, "%s:%d: ** error: %s\n", ie.Name, ie.Line, errorText(err))
			if s.cfg.OnError != nil && s.cfg.OnError(ie) {
				return nil
			}
			return ie
		}
		if out := FormatResultWhole(res); out != "" && !s.cfg.Quiet { // a script's values print whole
			fmt.Fprintln(s.cfg.Out, out)
		}
		return nil
	}
	for sc.Scan() {
		if ctx.Err() != nil {
			return nil
		}
		lineNo++
		line := sc.Text()
		if lineNo == 1 && strings.HasPrefix(line, "#!") {
			continue // #!/usr/bin/env gsh
		}
		if len(buf) == 0 {
			if strings.TrimSpace(line) == "" {
				continue
			}
			startLine = lineNo
		}
		buf = append(buf, line)
		src := strings.Join(buf, "\n")
		if Incomplete(src) {
			continue
		}
		buf = nil
		s.recordInput(src)
		if err := eval(src); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(buf) > 0 { // unfinished at the end: let the parser say why
		s.recordInput(strings.Join(buf, "\n"))
		if err := eval(strings.Join(buf, "\n")); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

func (s *Shell) continuation(prompt string) string {
	if s.cfg.ContinuationPrompt != "" {
		return s.cfg.ContinuationPrompt
	}
	w := utf8.RuneCountInString(prompt)
	return strings.Repeat(" ", max(0, w-3)) + ".. "
}

func (s *Shell) runInteractive(ctx context.Context) error {
	term := newTerminal(s.cfg.In, s.cfg.Out)
	defer term.restore()
	term.makeRaw()

	in := newInput(s.cfg.In)
	defer in.Close()

	raw, kept := s.loadHistory()
	var hf *historyFile
	if s.cfg.HistoryFile != "" {
		var err error
		if hf, err = openHistoryFile(s.cfg.HistoryFile, raw, kept); err != nil {
			fmt.Fprintf(s.cfg.Out, "gsh: %v; the history is not kept\n", err)
		}
		defer hf.close()
	}
	var complete readline.AutoCompleter
	if s.cfg.Complete != nil {
		complete = autoComplete{s.cfg.Complete}
	}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:       s.cfg.Prompt(1),
		AutoComplete: complete,
		// The shell keeps the history file itself (see historyFile):
		// readline's own would be world-readable and keep inputs as
		// typed, secrets included.
		HistoryLimit:           historyLimit,
		DisableAutoSaveHistory: true,
		Stdin:                  in,
		Stdout:                 s.cfg.Out,
		Stderr:                 s.cfg.Out,
		InterruptPrompt:        "^C",
		EOFPrompt:              "\n",
		FuncIsTerminal:         func() bool { return true },
		// The terminal stays raw for the whole session, evaluations
		// included, so that Ctrl-C arrives as a byte that the shell sees
		// (see input): readline's own switching back and forth is
		// disabled; entering raw mode again is needed after Ctrl-Z.
		FuncMakeRaw:        func() error { term.makeRaw(); return nil },
		FuncExitRaw:        func() error { return nil },
		FuncGetWidth:       term.width,
		FuncOnWidthChanged: term.onWidthChanged,
	})
	if err != nil {
		return err
	}
	for _, l := range kept {
		rl.SaveHistory(l)
	}
	record := func(src string) {
		for _, l := range s.recordInput(src) {
			rl.SaveHistory(l)
			hf.add(l)
		}
	}
	s.mu.Lock()
	s.rl = rl
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.rl = nil
		s.mu.Unlock()
		in.Close()
		rl.Close()
	}()
	// halt(): unblock the reader.
	stopAfter := context.AfterFunc(ctx, func() { in.Close() })
	defer stopAfter()

	n := 1
	var buf []string
	for {
		if ctx.Err() != nil {
			return nil
		}
		prompt := s.cfg.Prompt(n)
		if len(buf) > 0 {
			prompt = s.continuation(prompt)
		}
		rl.SetPrompt(prompt)
		line, err := rl.Readline()
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			record(strings.Join(buf, "\n"))
			buf = nil // Ctrl-C: forget the input
			continue
		case errors.Is(err, io.EOF):
			if len(buf) > 0 && !in.Closed() {
				buf = nil // Ctrl-D in an unfinished input: forget it
				continue
			}
			return nil
		case err != nil:
			return err
		}
		buf = append(buf, line)
		src := strings.Join(buf, "\n")
		if Incomplete(src) {
			continue
		}
		buf = nil
		record(src)
		if strings.TrimSpace(src) == "" {
			continue
		}
		s.evalInteractive(ctx, in, src)
		n++
	}
}

// evalInteractive evaluates src, with Ctrl-C (a 0x03 byte from the terminal,
// or SIGINT) cancelling it, and prints the result.
func (s *Shell) evalInteractive(ctx context.Context, in *input, src string) {
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	in.onInterrupt(cancel)
	defer in.onInterrupt(nil)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ectx.Done():
		}
	}()

	res, err := s.cfg.Eval.Eval(ectx, src)
	if ctx.Err() != nil {
		return // halted
	}
	s.printResult(res, err)
	if err != nil && s.cfg.OnError != nil {
		s.cfg.OnError(err)
	}
}

// autoComplete is readline's view of a Completer.
type autoComplete struct{ c Completer }

func (a autoComplete) Do(line []rune, pos int) ([][]rune, int) {
	pos = max(0, min(pos, len(line)))
	if pos == 0 || unicode.IsSpace(line[pos-1]) {
		return [][]rune{{'\t'}}, 0 // indentation, not a completion
	}
	text := string(line)
	bpos := len(string(line[:pos]))
	words, start := a.c.Complete(text, bpos)
	if start < 0 || start > bpos {
		return nil, 0
	}
	typed := text[start:bpos]
	var out [][]rune
	for _, w := range words {
		if strings.HasPrefix(w, typed) {
			out = append(out, []rune(w[len(typed):]))
		}
	}
	return out, utf8.RuneCountInString(typed)
}
