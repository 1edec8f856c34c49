package shell

// What the interpreter reports, in the shell's terms: panics with the
// interpreted frames they went through, and compile errors at positions of
// the input.

import (
	"errors"
	"fmt"
	"go/scanner"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/traefik/yaegi/interp"

	"gsh/internal/interrupt"
)

// PanicError is a panic recovered from the evaluation, in the user's code
// or in the interpreter itself.
type PanicError struct {
	Value any
	// Frames are the interpreted functions the panic went through,
	// innermost first: "main.f" for a function defined at the prompt,
	// "pkg.f (file.go:12)" for one loaded from a file, with the line where
	// yaegi places the frame (the start of the function's body).
	Frames []string
	// Compile is true when the interpreter panicked while compiling the
	// input (a construct it does not support), before running anything.
	Compile bool
}

func (e *PanicError) Error() string {
	var msg string
	switch v := e.Value.(type) {
	case error:
		msg = v.Error()
	case string:
		msg = v
	default:
		msg = fmt.Sprint(v)
	}
	s := "panic: " + oneLine(msg)
	if e.Compile {
		s += " (while compiling: the interpreter does not support this construct)"
	}
	if len(e.Frames) > 0 {
		s += " [in " + strings.Join(e.Frames, ", called from ") + "]"
	}
	return s
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// CompileError is an error that the parser or the interpreter reported at a
// position of the input.
type CompileError struct {
	File      string // "" for input typed or piped to the shell
	Line, Col int    // in the input, from 1
	Msg       string
}

func (e *CompileError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
}

func compileErrorFromParse(err error, file string) error {
	var el scanner.ErrorList
	if errors.As(err, &el) && len(el) > 0 {
		return &CompileError{File: file, Line: el[0].Pos.Line, Col: el[0].Pos.Column, Msg: el[0].Msg}
	}
	return err
}

func panicError(r any, frames []string, compiling bool) error {
	r = interrupt.PanicValue(r)
	if err, ok := r.(error); ok && errors.Is(err, ErrInterrupted) {
		return ErrInterrupted
	}
	if err, ok := r.(error); ok && errors.Is(err, interrupt.ErrStackOverflow) {
		return err
	}
	if !compiling {
		r = goRuntimeError(r)
	}
	return &PanicError{Value: r, Frames: frames, Compile: compiling}
}

var posRE = regexp.MustCompile(`^(\d+):(\d+): (?s:(.*))$`)

// mapCompileError turns an interpreter error "[file:]L:C: msg", whose
// position is in the rewritten source, into a *CompileError at the position
// in the input.
func mapCompileError(err error, rw *interrupt.Rewritten, file string) error {
	var el scanner.ErrorList
	if errors.As(err, &el) && len(el) > 0 {
		l, c := rw.Position(el[0].Pos.Line, el[0].Pos.Column)
		return &CompileError{File: file, Line: l, Col: c, Msg: el[0].Msg}
	}
	msg := err.Error()
	if file != "" {
		msg = strings.TrimPrefix(msg, file+":")
	}
	msg = strings.TrimPrefix(msg, interp.DefaultSourceName+":")
	m := posRE.FindStringSubmatch(msg)
	if m == nil {
		return err
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	l, c := rw.Position(line, col)
	return &CompileError{File: file, Line: l, Col: c, Msg: stripPositions(m[3])}
}

var innerPosRE = regexp.MustCompile(`\b\d+:\d+: `)

// stripPositions removes positions of the rewritten source that yaegi nests
// in some messages.
func stripPositions(s string) string { return innerPosRE.ReplaceAllString(s, "") }

var redeclRE = regexp.MustCompile(`(\S+)/_\.go redeclared in this block`)

func redeclaredImport(err error) (string, bool) {
	m := redeclRE.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	return m[1], true
}

// frameCatcher is the interpreter's stderr. It keeps the lines that yaegi
// writes for each interpreted frame a panic goes through ("L:C: panic:
// main.f(...)") out of the user's stderr, and files them with the owner of
// the goroutine that panics (see interrupt.Owner): those of an evaluation go
// to its PanicError.
type frameCatcher struct {
	out io.Writer
}

var frameRE = regexp.MustCompile(`^(?:(.*):)?(\d+):(\d+): panic: (.*)\(\.\.\.\)\r?\n?$`)

func (c *frameCatcher) Write(b []byte) (int, error) {
	if !strings.Contains(string(b), ": panic: ") {
		return c.out.Write(b)
	}
	m := frameRE.FindStringSubmatch(string(b))
	if m == nil {
		return c.out.Write(b)
	}
	file, line, fn := m[1], m[2], m[4]
	frame := fn
	if file != "" {
		frame += " (" + file + ":" + line + ")"
	} else if fn == "main" || fn == "main.func" {
		return len(b), nil // the prompt's own statements
	}
	if o := interrupt.CurrentOwner(); o != nil {
		o.AddFrame(frame)
	}
	return len(b), nil
}

// takeFrames returns, and forgets, the frames filed with the calling
// goroutine's owner.
func takeFrames() []string {
	if o := interrupt.CurrentOwner(); o != nil {
		return o.TakeFrames()
	}
	return nil
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", "")), " ")
}
