package shell

import (
	"bytes"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/chzyer/readline"
)

// terminal controls the terminal behind the shell's input, when there is
// one (In is an *os.File that is a terminal).
type terminal struct {
	inFd, outFd int // -1 when not a terminal

	mu    sync.Mutex
	saved *readline.State // the state before the first makeRaw
	winch chan os.Signal
}

type fder interface{ Fd() uintptr }

func newTerminal(in io.Reader, out io.Writer) *terminal {
	t := &terminal{inFd: -1, outFd: -1}
	if f, ok := in.(fder); ok && readline.IsTerminal(int(f.Fd())) {
		t.inFd = int(f.Fd())
	}
	if f, ok := out.(fder); ok && readline.IsTerminal(int(f.Fd())) {
		t.outFd = int(f.Fd())
	}
	return t
}

// makeRaw puts the terminal in raw mode (no echo, no line buffering, no
// signals from Ctrl-C or Ctrl-Z, output processing kept).
func (t *terminal) makeRaw() {
	if t.inFd < 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := readline.MakeRaw(t.inFd)
	if err == nil && t.saved == nil {
		t.saved = st
	}
}

// restore puts the terminal back as it was before makeRaw, and stops
// watching its size.
func (t *terminal) restore() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFd >= 0 && t.saved != nil {
		readline.Restore(t.inFd, t.saved)
		t.saved = nil
	}
	if t.winch != nil {
		signal.Stop(t.winch)
		close(t.winch)
		t.winch = nil
	}
}

func (t *terminal) width() int {
	for _, fd := range []int{t.outFd, t.inFd} {
		if fd < 0 {
			continue
		}
		if w, _, err := readline.GetSize(fd); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

func (t *terminal) onWidthChanged(f func()) {
	if t.outFd < 0 && t.inFd < 0 {
		return
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	t.mu.Lock()
	if t.winch != nil {
		signal.Stop(t.winch)
		close(t.winch)
	}
	t.winch = ch
	t.mu.Unlock()
	go func() {
		for range ch {
			f()
		}
	}()
}

// input is what readline reads: a goroutine copies In into a buffer. While
// an evaluation runs (readline is not reading then), a Ctrl-C byte (0x03)
// that comes in, or is waiting in the buffer, is taken out together with
// everything typed before it, and cancels the evaluation instead. This works
// the same on a real terminal and on a pseudo-terminal that is nobody's
// controlling terminal (where the kernel could not send SIGINT), because the
// terminal is kept in raw mode: Ctrl-C is a byte, not a signal.
type input struct {
	mu     sync.Mutex
	buf    []byte
	err    error // from In, after buf is drained
	closed bool
	intr   func() // set during an evaluation
	notify chan struct{}
}

func newInput(r io.Reader) *input {
	in := &input{notify: make(chan struct{}, 1)}
	go in.pump(r)
	return in
}

// pump copies r into the buffer. It ends at r's first error; until then it
// keeps reading r even after Close (a read cannot be cancelled), so a shell
// should be the only reader of its In.
func (in *input) pump(r io.Reader) {
	b := make([]byte, 4096)
	for {
		n, err := r.Read(b)
		in.mu.Lock()
		if in.closed {
			in.mu.Unlock()
			return
		}
		in.buf = append(in.buf, b[:n]...)
		intr := in.takeInterruptLocked()
		if err != nil {
			in.err = err
		}
		in.mu.Unlock()
		if intr != nil {
			intr()
		}
		in.wake()
		if err != nil {
			return
		}
	}
}

// takeInterruptLocked removes everything up to the last Ctrl-C from the
// buffer and returns the function to call, when an evaluation runs and a
// Ctrl-C is there.
func (in *input) takeInterruptLocked() func() {
	if in.intr == nil {
		return nil
	}
	k := bytes.LastIndexByte(in.buf, readline.CharInterrupt)
	if k < 0 {
		return nil
	}
	in.buf = append(in.buf[:0], in.buf[k+1:]...)
	return in.intr
}

func (in *input) wake() {
	select {
	case in.notify <- struct{}{}:
	default:
	}
}

// onInterrupt sets the function that a Ctrl-C calls (nil: Ctrl-C is input
// again).
func (in *input) onInterrupt(f func()) {
	in.mu.Lock()
	in.intr = f
	intr := in.takeInterruptLocked()
	in.mu.Unlock()
	if intr != nil {
		intr()
	}
}

func (in *input) Read(p []byte) (int, error) {
	for {
		in.mu.Lock()
		switch {
		case in.closed:
			in.mu.Unlock()
			return 0, io.EOF
		case len(in.buf) > 0:
			n := copy(p, in.buf)
			in.buf = in.buf[n:]
			in.mu.Unlock()
			return n, nil
		case in.err != nil:
			err := in.err
			in.mu.Unlock()
			return 0, err
		}
		in.mu.Unlock()
		<-in.notify
	}
}

// Close makes Read return io.EOF.
func (in *input) Close() error {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	in.wake()
	return nil
}

// Closed reports whether Close was called or In ended.
func (in *input) Closed() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.closed || (in.err != nil && len(in.buf) == 0)
}
