package interrupt

import (
	"bytes"
	"context"
	"testing"
)

func TestOwnNests(t *testing.T) {
	if o := CurrentOwner(); o != nil {
		t.Fatalf("owner before Own: %+v", o)
	}
	a, b := &Owner{Process: "a"}, &Owner{Process: "b"}
	restoreA := Own(a)
	if CurrentOwner() != a {
		t.Fatal("Own(a) did not make a the owner")
	}
	restoreB := Own(b)
	if CurrentOwner() != b {
		t.Fatal("Own(b) did not make b the owner")
	}
	got := make(chan *Owner)
	go func() { got <- CurrentOwner() }()
	if o := <-got; o != nil {
		t.Fatalf("a goroutine started by the go statement of Go code has owner %+v", o)
	}
	restoreB()
	if CurrentOwner() != a {
		t.Fatal("restoring b did not give a back")
	}
	restoreA()
	if o := CurrentOwner(); o != nil {
		t.Fatalf("owner after restoring all: %+v", o)
	}
}

func TestGoInheritsOwner(t *testing.T) {
	var out bytes.Buffer
	parent := &Owner{Process: "p", Ctx: context.Background(), Out: &out}
	defer Own(parent)()
	parent.AddFrame("main.f")
	got := make(chan *Owner, 1)
	Go(func() { got <- CurrentOwner() })
	c := <-got
	if c == nil || c.Process != "p" || c.Out != &out {
		t.Fatalf("child's owner = %+v, want process p and the parent's output", c)
	}
	if c.Ctx != nil {
		t.Errorf("child runs the parent's evaluation: %v", c.Ctx)
	}
	if f := c.TakeFrames(); f != nil {
		t.Errorf("child has the parent's frames: %v", f)
	}
	if f := parent.TakeFrames(); len(f) != 1 || f[0] != "main.f" {
		t.Errorf("parent's frames: %v", f)
	}
	if f := parent.TakeFrames(); f != nil {
		t.Errorf("frames after TakeFrames: %v", f)
	}
}

// BenchmarkCurrentOwner is the lookup behind self(), receive() and every
// write of interpreted code to its stdout, with some goroutines owned.
func BenchmarkCurrentOwner(b *testing.B) {
	defer Own(&Owner{Process: "p"})()
	b.RunParallel(func(pb *testing.PB) {
		defer Own(&Owner{Process: "q"})()
		for pb.Next() {
			if CurrentOwner() == nil {
				b.Fatal("no owner")
			}
		}
	})
}

// TestRelease: a released owner owns nothing, and restoring it later
// changes nothing.
func TestRelease(t *testing.T) {
	o := &Owner{Process: "gone"}
	restore := Own(o)
	done := make(chan struct{})
	go func() { Release(o); close(done) }()
	<-done
	if c := CurrentOwner(); c != nil {
		t.Fatalf("owner after Release: %+v", c)
	}
	n := &Owner{Process: "next"}
	defer Own(n)()
	restore()
	if CurrentOwner() != n {
		t.Fatal("restoring a released owner took the goroutine's new owner away")
	}
}
