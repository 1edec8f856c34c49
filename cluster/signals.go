package cluster

import (
	"fmt"
	"math"
)

// The signals between processes on two nodes, and about the link itself,
// one Go type each (signal.go says how they travel and applies them). On
// the wire a signal is one value of the codec: an array of its op (opSend,
// opLink, …) and then its fields in the order of its type's fields, so
// that a sendSignal is [1, to, msg]. decodeSignal is the one way back.

// A signal is one message of a link's signals: a fast frame's body, or a
// frame of the signal stream.
type signal interface {
	// appendTo appends the signal's wire form to dst: on an error, dst
	// unchanged and the error.
	appendTo(dst []byte) ([]byte, error)
}

// sendSignal delivers Msg to a process of the receiving node.
type sendSignal struct {
	To  any // the process's Pid, or the name it is registered under (a string)
	Msg any
}

// linkSignal links process To, of the receiving node, with From.
type linkSignal struct{ From, To Pid }

// unlinkSignal removes the link between From and To.
type unlinkSignal struct{ From, To Pid }

// exitSignal is an exit signal from From to To: a linked process's end, or
// exit(To, Reason).
type exitSignal struct {
	From, To Pid
	Reason   any
}

// monitorSignal has Watcher monitor Target, under the reference ID Ref of
// the watcher's node.
type monitorSignal struct {
	Watcher, Target Pid
	Ref             uint64
}

// demonitorSignal ends the monitor Ref (of the sending node) on Target.
type demonitorSignal struct {
	Target Pid
	Ref    uint64
}

// downSignal tells Watcher that Target, which it monitored under the
// reference ID Ref of the watcher's node, ended for Reason.
type downSignal struct {
	Watcher Pid
	Ref     uint64
	Target  Pid
	Reason  any
}

// nodesSignal lists the sender's visible nodes (Atoms), for transitive
// connections.
type nodesSignal struct{ Nodes []any }

// castSignal runs Module.Function(Args...) on the receiving node without
// an answer (see Node.Cast).
type castSignal struct {
	Module, Function string
	Args             []any
}

// displacedSignal tells the peer that this link was replaced by one from
// another node of its name, at Addr (see Node.replaced).
type displacedSignal struct{ Addr string }

// replacedSignal tells the peer that its link replaced a live one with
// another node of its name, at Addr.
type replacedSignal struct{ Addr string }

// syncSignal asks the peer for a syncedSignal with the same ID once it has
// applied every signal before it (see link.drain).
type syncSignal struct{ ID uint64 }

// syncedSignal answers the syncSignal ID.
type syncedSignal struct{ ID uint64 }

func (s sendSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opSend, s.To, s.Msg)
}

func (s linkSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opLink, s.From, s.To)
}

func (s unlinkSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opUnlink, s.From, s.To)
}

func (s exitSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opExit, s.From, s.To, s.Reason)
}

func (s monitorSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opMonitor, s.Watcher, s.Target, s.Ref)
}

func (s demonitorSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opDemonitor, s.Target, s.Ref)
}

func (s downSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opDown, s.Watcher, s.Ref, s.Target, s.Reason)
}

func (s nodesSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opNodes, s.Nodes)
}

func (s castSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opCast, s.Module, s.Function, s.Args)
}

func (s displacedSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opDisplaced, s.Addr)
}

func (s replacedSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opReplaced, s.Addr)
}

func (s syncSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opSync, s.ID)
}

func (s syncedSignal) appendTo(dst []byte) ([]byte, error) {
	return encodeArray(dst, opSynced, s.ID)
}

var errBadSignal = fmt.Errorf("malformed signal: %w", ErrProtocol)

// decodeSignal turns a decoded wire value into its signal: errBadSignal
// when it is not an array of an op and that op's fields, each of its type,
// and an error wrapping ErrProtocol for an op it does not know.
func decodeSignal(v any) (signal, error) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return nil, errBadSignal
	}
	op, _ := a[0].(int)
	// The fields are read in wire order: Go evaluates the calls in a
	// composite literal from left to right.
	f := fields{rest: a[1:], ok: true}
	var s signal
	switch op {
	case opSend:
		m := sendSignal{To: f.next(), Msg: f.next()}
		switch m.To.(type) {
		case Pid, string:
		default:
			return nil, errBadSignal
		}
		s = m
	case opLink:
		s = linkSignal{From: f.pid(), To: f.pid()}
	case opUnlink:
		s = unlinkSignal{From: f.pid(), To: f.pid()}
	case opExit:
		s = exitSignal{From: f.pid(), To: f.pid(), Reason: f.next()}
	case opMonitor:
		s = monitorSignal{Watcher: f.pid(), Target: f.pid(), Ref: f.id()}
	case opDemonitor:
		s = demonitorSignal{Target: f.pid(), Ref: f.id()}
	case opDown:
		s = downSignal{Watcher: f.pid(), Ref: f.id(), Target: f.pid(), Reason: f.next()}
	case opNodes:
		s = nodesSignal{Nodes: f.list()}
	case opCast:
		s = castSignal{Module: f.str(), Function: f.str(), Args: f.list()}
	case opDisplaced:
		s = displacedSignal{Addr: f.str()}
	case opReplaced:
		s = replacedSignal{Addr: f.str()}
	case opSync:
		s = syncSignal{ID: f.id()}
	case opSynced:
		s = syncedSignal{ID: f.id()}
	default:
		return nil, fmt.Errorf("unknown signal %d: %w", op, ErrProtocol)
	}
	if !f.done() {
		return nil, errBadSignal
	}
	return s, nil
}

// decodeSignalFrame decodes the body of a signal frame, within lim, into
// its signal: what decodeSignal(DecodeWith(body, lim)) gives, signal and
// error alike, but read straight from the bytes, without building the
// frame's array or boxing its Pids as values first (only a field that is
// any, such as a message, is decoded as a value). Input that the direct
// reading refuses goes through DecodeWith and decodeSignal again, so that a
// bad frame is reported exactly as they report it.
func decodeSignalFrame(body []byte, lim DecodeLimits) (signal, error) {
	m, s, err := decodeSignalWith(body, lim, nil)
	if err == nil && s == nil {
		return m, nil
	}
	return s, err
}

// A signalDecoder decodes the signal frames that one goroutine reads from
// a link, as decodeSignalFrame does, and keeps what spares allocating anew
// for the next: the atoms the frames carry (see atomTable) and the Pids,
// boxed (see pidCache).
type signalDecoder struct {
	atoms atomTable
	pids  pidCache
}

// decode is decodeSignalFrame, but for the one signal there are most of,
// which it gives in m, unboxed: a message, in m with s nil, or another
// signal, in s.
func (sd *signalDecoder) decode(body []byte, lim DecodeLimits) (m sendSignal, s signal, err error) {
	return decodeSignalWith(body, lim, sd)
}

// decodeSignalWith is signalDecoder.decode, with what sd keeps if sd is
// not nil.
func decodeSignalWith(body []byte, lim DecodeLimits, sd *signalDecoder) (m sendSignal, s signal, err error) {
	d := wireDecoder{data: body, lim: lim.resolve()}
	if sd != nil {
		d.atoms, d.pids = &sd.atoms, &sd.pids
	}
	if m, s, err := d.signal(); err == nil && d.pos == len(body) {
		return m, s, nil
	}
	v, err := DecodeWith(body, lim)
	if err != nil {
		return sendSignal{}, nil, err
	}
	s, err = decodeSignal(v)
	return sendSignal{}, s, err
}

// signal reads one signal, with the checks and memory charges that
// DecodeWith and decodeSignal make on it, up to the end of its array: a
// message in m, with s nil, or another signal in s. Its error says only
// that the input is not one well-formed signal.
func (d *wireDecoder) signal() (m sendSignal, s signal, err error) {
	d.budget = len(d.data) + d.lim.MaxMemory
	if err := d.charge(wireCostSlot); err != nil { // as top
		return sendSignal{}, nil, err
	}
	ib, arg, err := d.head()
	if err != nil {
		return sendSignal{}, nil, err
	}
	if ib&0xe0 != wireMajArray {
		return sendSignal{}, nil, errBadSignal
	}
	n, err := d.count(arg, 1, 0)
	if err != nil {
		return sendSignal{}, nil, err
	}
	if n == 0 {
		return sendSignal{}, nil, errBadSignal
	}
	if err := d.charge(wireCostList + n*wireCostSlot); err != nil {
		return sendSignal{}, nil, err
	}
	// The op, an int as decodeSignal takes it.
	if ib, arg, err = d.head(); err != nil {
		return sendSignal{}, nil, err
	}
	if ib&0xe0 != wireMajUint || arg > math.MaxInt {
		return sendSignal{}, nil, errBadSignal
	}
	if err := d.charge(wireCostNumber); err != nil {
		return sendSignal{}, nil, err
	}
	f := frameFields{d: d, left: n - 1}
	// The same switch as decodeSignal's, over fields read from the frame:
	// sharing it through an interface would put f on the heap and box
	// every signal, which this path (every message between gsh nodes)
	// exists to avoid (BenchmarkDecodeSignal: 2 allocations against 4).
	switch int(arg) {
	case opSend:
		m = sendSignal{To: f.dest(), Msg: f.value()}
	case opLink:
		s = linkSignal{From: f.pid(), To: f.pid()}
	case opUnlink:
		s = unlinkSignal{From: f.pid(), To: f.pid()}
	case opExit:
		s = exitSignal{From: f.pid(), To: f.pid(), Reason: f.value()}
	case opMonitor:
		s = monitorSignal{Watcher: f.pid(), Target: f.pid(), Ref: f.id()}
	case opDemonitor:
		s = demonitorSignal{Target: f.pid(), Ref: f.id()}
	case opDown:
		s = downSignal{Watcher: f.pid(), Ref: f.id(), Target: f.pid(), Reason: f.value()}
	case opNodes:
		s = nodesSignal{Nodes: f.list()}
	case opCast:
		s = castSignal{Module: f.str(), Function: f.str(), Args: f.list()}
	case opDisplaced:
		s = displacedSignal{Addr: f.str()}
	case opReplaced:
		s = replacedSignal{Addr: f.str()}
	case opSync:
		s = syncSignal{ID: f.id()}
	case opSynced:
		s = syncedSignal{ID: f.id()}
	default:
		return sendSignal{}, nil, errBadSignal
	}
	if f.err == nil && f.left != 0 {
		f.err = errBadSignal
	}
	if f.err != nil {
		return sendSignal{}, nil, f.err
	}
	return m, s, nil
}

// frameFields reads the fields of a signal from its encoding, as fields
// reads them from its decoded array: each read takes the next field, and
// the first one missing or of another type sets err.
type frameFields struct {
	d    *wireDecoder
	left int // the fields not read yet
	err  error
}

// head reads the next field's initial byte and argument, when there is a
// next field and no error yet.
func (f *frameFields) head() (ib byte, arg uint64, ok bool) {
	if f.err != nil {
		return 0, 0, false
	}
	if f.left == 0 {
		f.err = errBadSignal
		return 0, 0, false
	}
	f.left--
	ib, arg, f.err = f.d.head()
	return ib, arg, f.err == nil
}

// value reads a field of any type, as DecodeWith decodes a list element.
func (f *frameFields) value() any {
	if f.err != nil {
		return nil
	}
	if f.left == 0 {
		f.err = errBadSignal
		return nil
	}
	f.left--
	v, err := f.d.value(1)
	f.err = err
	return v
}

func (f *frameFields) pid() Pid {
	ib, arg, ok := f.head()
	if !ok {
		return Pid{}
	}
	if ib&0xe0 != wireMajTag || arg != wireTagPid {
		f.err = errBadSignal
		return Pid{}
	}
	p, err := f.d.pid()
	f.err = err
	return p
}

// dest reads a message's destination: a Pid or a registered name.
func (f *frameFields) dest() any {
	ib, arg, ok := f.head()
	if !ok {
		return nil
	}
	switch {
	case ib&0xe0 == wireMajText:
		s, err := f.d.text(arg)
		f.err = err
		return s
	case ib&0xe0 == wireMajTag && arg == wireTagPid:
		p, err := f.d.pid()
		if f.err = err; err != nil {
			return nil
		}
		if f.d.pids != nil {
			return f.d.pids.get(p)
		}
		return p
	}
	f.err = errBadSignal
	return nil
}

func (f *frameFields) str() string {
	ib, arg, ok := f.head()
	if !ok {
		return ""
	}
	if ib&0xe0 != wireMajText {
		f.err = errBadSignal
		return ""
	}
	s, err := f.d.text(arg)
	f.err = err
	return s
}

// id reads a reference or sync ID: an int, not negative.
func (f *frameFields) id() uint64 {
	ib, arg, ok := f.head()
	if !ok {
		return 0
	}
	if ib&0xe0 != wireMajUint || arg > math.MaxInt {
		f.err = errBadSignal
		return 0
	}
	f.err = f.d.charge(wireCostNumber)
	return arg
}

// list reads a list; null is an empty one.
func (f *frameFields) list() []any {
	v := f.value()
	l, ok := v.([]any)
	if f.err == nil && !ok && v != nil {
		f.err = errBadSignal
	}
	return l
}

// fields reads the fields of a wire message (a signal, a request) in
// order. Each read takes the next field; ok turns false when there is none
// or it has another type.
type fields struct {
	rest []any
	ok   bool
}

func (f *fields) next() any {
	if len(f.rest) == 0 {
		f.ok = false
		return nil
	}
	v := f.rest[0]
	f.rest = f.rest[1:]
	return v
}

func (f *fields) pid() Pid {
	p, ok := f.next().(Pid)
	f.ok = f.ok && ok
	return p
}

func (f *fields) str() string {
	s, ok := f.next().(string)
	f.ok = f.ok && ok
	return s
}

func (f *fields) num() int {
	k, ok := f.next().(int)
	f.ok = f.ok && ok
	return k
}

// id reads a reference or sync ID: an int, not negative.
func (f *fields) id() uint64 {
	k := f.num()
	f.ok = f.ok && k >= 0
	return uint64(k)
}

// list reads a list; null is an empty one.
func (f *fields) list() []any {
	v := f.next()
	l, ok := v.([]any)
	f.ok = f.ok && (ok || v == nil)
	return l
}

// done reports whether every field read was there and of its type, and no
// field is left.
func (f *fields) done() bool { return f.ok && len(f.rest) == 0 }
