package shell

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The remote shell (gsh -remsh gandalf@host): a Shell on one node whose
// inputs are evaluated by another node's interpreter. The client is a
// *Remote, the Shell's Evaluator; it calls the functions of a *Server on the
// other node through whatever carries calls between nodes (the cluster's
// rpc, module "shell"), so that this package knows nothing of the cluster.
//
// The calls, all with wire values only:
//
//	eval(session string, seq int, src string) map: out, text, failed, err, line, col, interrupted
//	interrupt(session string, seq int) bool
//	complete(line string, pos int) [words []string, start int]
//	open(session string) bool
//	close(session string) bool
//
// The server logs each session: who opened it, from where and when, and
// when it closed (the client's close, or its node going down).

// RemoteModule is the module name under which a node serves its Server.
const RemoteModule = "shell"

// Formatted is a value already formatted for printing (by the node that
// evaluated it): Format prints it as it is.
type Formatted string

// String returns f.
func (f Formatted) String() string { return string(f) }

// MaxRemoteOutput bounds what one remote evaluation's captured output keeps;
// the rest is replaced by a note of how much was left out.
const MaxRemoteOutput = 1 << 20

// Server serves remote shells from the node whose interpreter evaluates
// their inputs. Other nodes call the functions of Module. Each remote shell
// is a session, named by the client; its evaluations run one at a time in
// the node's interpreter, with the prompt's own, and what they print with
// fmt.Print* is captured (see WithOutput) and sent back with the result.
type Server struct {
	Interp *Interp
	// Complete completes for remote shells; nil means Interp's own.
	Complete Completer
	// Logf, when set, gets a line when a remote shell opens and when it
	// closes.
	Logf func(format string, args ...any)
	// Caller describes who makes the call of ctx, for those lines: the
	// node's name and address ("bilbo@host (127.0.0.1:40312)"). Nil
	// names the client by its session.
	Caller func(ctx context.Context) string

	mu      sync.Mutex
	open    map[string]openShell   // by session
	running map[string]*serverEval // by session
	early   map[string]int         // session → an input interrupted before its evaluation started
	history map[string][]string    // by session: the lines of its inputs
}

// sessionKey is the context key of the session an evaluation belongs to.
type sessionKey struct{}

type openShell struct {
	who   string
	since time.Time
}

// opened records that session is open, logging it the first time.
func (s *Server) opened(ctx context.Context, session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[session]; ok {
		return
	}
	who := session
	if s.Caller != nil {
		if c := s.Caller(ctx); c != "" {
			who = c
		}
	}
	if s.open == nil {
		s.open = map[string]openShell{}
	}
	now := time.Now()
	s.open[session] = openShell{who: who, since: now}
	s.logf("remote shell %s opened by %s at %s", session, who, now.Format(time.RFC3339))
}

// closed forgets session, logging why it closed; s.mu held.
func (s *Server) closed(session, why string) {
	o, ok := s.open[session]
	if !ok {
		return
	}
	delete(s.open, session)
	s.logf("remote shell %s of %s closed (%s) after %s", session, o.who, why, time.Since(o.since).Round(time.Second))
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// Open records that the client opened session.
func (s *Server) Open(ctx context.Context, session string) bool {
	s.opened(ctx, session)
	return true
}

// Close ends session: its evaluation stops and its history goes.
func (s *Server) Close(session string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.running[session]; r != nil {
		r.cancel()
	}
	delete(s.history, session)
	s.closed(session, "closed by its client")
	return true
}

type serverEval struct {
	seq    int
	cancel context.CancelFunc
}

// Module returns the functions that other nodes call (module
// RemoteModule): eval, interrupt, complete, open and close.
func (s *Server) Module() map[string]reflect.Value {
	return map[string]reflect.Value{
		"eval":      reflect.ValueOf(s.Eval),
		"interrupt": reflect.ValueOf(s.Interrupt),
		"complete":  reflect.ValueOf(s.CompleteLine),
		"open":      reflect.ValueOf(s.Open),
		"close":     reflect.ValueOf(s.Close),
	}
}

// Eval evaluates input number seq of a session, until it ends or ctx ends
// or Interrupt(session, seq) is called, and returns a map: "out", what the
// evaluation printed; "text", how the prompt prints its result (see
// FormatResult); "failed", whether that result is an error value; and when
// the evaluation failed, "err", its message ("line" and "col" for a compile
// error's position in src, "interrupted" when it was interrupted).
func (s *Server) Eval(ctx context.Context, session string, seq int, src string) map[string]any {
	s.opened(ctx, session) // a client that did not call open
	ctx, cancel := context.WithCancel(context.WithValue(ctx, sessionKey{}, session))
	defer cancel()
	s.mu.Lock()
	if s.running == nil {
		s.running = map[string]*serverEval{}
		s.history = map[string][]string{}
	}
	h := s.history[session]
	for l := range strings.Lines(src) {
		if l = strings.TrimSpace(l); l != "" && (len(h) == 0 || h[len(h)-1] != l) {
			h = append(h, l)
		}
	}
	if len(h) > historyLimit {
		h = append([]string(nil), h[len(h)-historyLimit:]...)
	}
	s.history[session] = h
	if k, ok := s.early[session]; ok && k == seq {
		delete(s.early, session)
		cancel()
	}
	me := &serverEval{seq: seq, cancel: cancel}
	s.running[session] = me
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.running[session] == me {
			delete(s.running, session)
		}
		s.mu.Unlock()
	}()

	out := &cappedBuffer{max: MaxRemoteOutput}
	res, err := s.Interp.Eval(WithOutput(ctx, out), src)
	reply := map[string]any{"out": out.String()}
	if err != nil {
		var ce *CompileError
		if errors.As(err, &ce) && ce.File == "" {
			reply["err"], reply["line"], reply["col"] = oneLine(ce.Msg), ce.Line, ce.Col
		} else {
			reply["err"] = oneLine(err.Error())
		}
		reply["interrupted"] = errors.Is(err, ErrInterrupted)
		return reply
	}
	reply["text"] = FormatResult(res)
	if e := resultError(res); e != nil {
		reply["failed"] = true
		reply["text"] = oneLine(safeError(e))
	}
	return reply
}

// Interrupt stops input number seq of session: at once when it runs, or as
// soon as it starts if it has not yet (the interrupt may overtake it). It
// reports whether the evaluation was running.
func (s *Server) Interrupt(session string, seq int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.running[session]; r != nil && r.seq == seq {
		r.cancel()
		return true
	}
	if r := s.running[session]; r == nil || r.seq < seq {
		if s.early == nil || len(s.early) >= 1024 {
			s.early = map[string]int{} // stale ones: their sessions went on or away
		}
		s.early[session] = seq
	}
	return false
}

// DropNode stops the evaluations of the sessions of node (their names start
// with node + "/"), when that node goes down.
func (s *Server) DropNode(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for session, r := range s.running {
		if strings.HasPrefix(session, node+"/") {
			r.cancel()
		}
	}
	for session := range s.history {
		if strings.HasPrefix(session, node+"/") {
			delete(s.history, session)
		}
	}
	for session := range s.open {
		if strings.HasPrefix(session, node+"/") {
			s.closed(session, node+" went down")
		}
	}
}

// History returns the lines of the inputs of the remote shell that the
// evaluation of ctx (see Interp.Context) belongs to, and false when it
// belongs to none: history() in a remote shell prints its own.
func (s *Server) History(ctx context.Context) ([]string, bool) {
	if ctx == nil {
		return nil, false
	}
	session, ok := ctx.Value(sessionKey{}).(string)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.history[session]...), true
}

// CompleteLine completes for a remote shell: [words, start] (see
// Completer).
func (s *Server) CompleteLine(line string, pos int) []any {
	c := s.Complete
	if c == nil {
		c = s.Interp
	}
	words, start := c.Complete(line, pos)
	ws := make([]any, len(words))
	for k, w := range words {
		ws[k] = w
	}
	return []any{ws, start}
}

// cappedBuffer keeps the first max bytes written to it and counts the rest.
type cappedBuffer struct {
	mu   sync.Mutex
	b    strings.Builder
	max  int
	lost int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - c.b.Len()
	if room >= len(p) {
		c.b.Write(p)
		return len(p), nil
	}
	if room > 0 {
		c.b.Write(p[:room])
	}
	c.lost += len(p) - max(room, 0)
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost > 0 {
		return c.b.String() + fmt.Sprintf("… (%d more bytes of output)\n", c.lost)
	}
	return c.b.String()
}

// Remote is the client side of a remote shell: an Evaluator (and a
// Completer) whose inputs are evaluated by a Server on another node.
// Cancelling an evaluation's context (Ctrl-C) sends the remote node an
// interrupt for it, and waits a little for the evaluation to come back
// interrupted.
type Remote struct {
	// Call calls a function of the remote node's Server (module
	// RemoteModule), e.g. through cluster.Node.Call, and gives up when ctx
	// ends.
	Call func(ctx context.Context, function string, args ...any) (any, error)
	// Session names this shell on the remote node: unique, starting with
	// this node's name and a "/" (see Server.DropNode).
	Session string

	seq atomic.Int64
}

// RemoteTimeout bounds a remote evaluation, which else runs as long as it
// needs to until it is interrupted.
const RemoteTimeout = 365 * 24 * time.Hour

// remoteWait is how long Eval waits, after sending an interrupt, for the
// interrupted evaluation to come back.
const remoteWait = Grace + 5*time.Second

// Eval evaluates src on the remote node.
func (r *Remote) Eval(ctx context.Context, src string) (Result, error) {
	seq := int(r.seq.Add(1))
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RemoteTimeout)
	defer cancel()
	type reply struct {
		v   any
		err error
	}
	done := make(chan reply, 1)
	go func() {
		v, err := r.Call(callCtx, "eval", r.Session, seq, src)
		done <- reply{v, err}
	}()
	var rep reply
	select {
	case rep = <-done:
	case <-ctx.Done():
		ictx, icancel := context.WithTimeout(context.WithoutCancel(ctx), remoteWait)
		defer icancel()
		go r.Call(ictx, "interrupt", r.Session, seq)
		t := time.NewTimer(remoteWait)
		defer t.Stop()
		select {
		case rep = <-done:
		case <-t.C:
			return Result{}, fmt.Errorf("%w: the remote node did not answer", ErrInterrupted)
		}
	}
	if rep.err != nil {
		return Result{}, rep.err
	}
	return decodeRemote(rep.v)
}

// remoteError is an evaluation's error on the remote node.
type remoteError struct {
	msg         string
	interrupted bool
}

func (e *remoteError) Error() string { return e.msg }

// Is makes an interrupted remote evaluation's error match ErrInterrupted.
func (e *remoteError) Is(target error) bool { return e.interrupted && target == ErrInterrupted }

// remoteValueError is a result that was an error value on the remote node.
type remoteValueError struct{ msg string }

func (e *remoteValueError) Error() string { return e.msg }

func decodeRemote(v any) (Result, error) {
	m := map[string]any{}
	switch x := v.(type) {
	case map[string]any:
		m = x
	case map[any]any:
		for k, e := range x {
			if s, ok := k.(string); ok {
				m[s] = e
			}
		}
	default:
		return Result{}, fmt.Errorf("the remote shell answered %T", v)
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	num := func(k string) int { n, _ := m[k].(int); return n }
	flag := func(k string) bool { b, _ := m[k].(bool); return b }
	res := Result{Output: str("out")}
	if msg, ok := m["err"].(string); ok {
		if line := num("line"); line > 0 {
			return res, &CompileError{Line: line, Col: num("col"), Msg: msg}
		}
		if flag("interrupted") && msg == ErrInterrupted.Error() {
			return res, ErrInterrupted
		}
		return res, &remoteError{msg: msg, interrupted: flag("interrupted")}
	}
	switch text := str("text"); {
	case flag("failed"):
		res.Values = []any{&remoteValueError{msg: text}}
	case text != "":
		res.Values = []any{Formatted(text)}
	}
	return res, nil
}

// Open tells the remote node that this shell opens, so that it logs who
// opened it. (A node that serves no open answers with Call's error for an
// unknown function; its evaluations work all the same.)
func (r *Remote) Open(ctx context.Context) error {
	_, err := r.Call(ctx, "open", r.Session)
	return err
}

// Close tells the remote node that this shell closes, giving up after a
// second.
func (r *Remote) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r.Call(ctx, "close", r.Session)
}

// Complete completes on the remote node, giving up after a second.
func (r *Remote) Complete(line string, pos int) ([]string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := r.Call(ctx, "complete", line, pos)
	if err != nil {
		return nil, pos
	}
	l, ok := v.([]any)
	if !ok || len(l) != 2 {
		return nil, pos
	}
	start, ok := l[1].(int)
	if !ok {
		return nil, pos
	}
	var words []string
	switch ws := l[0].(type) {
	case []any:
		for _, w := range ws {
			if s, ok := w.(string); ok {
				words = append(words, s)
			}
		}
	case []string:
		words = ws
	}
	return words, start
}
