package main

import (
	"io"
	"testing"

	"gsh/cluster"
)

func TestProcsFlag(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.procs != cluster.DefaultMaxProcesses {
		t.Fatalf("default -procs: %v, %v", o, err)
	}
	o, err = parseFlags([]string{"-procs", "7"}, io.Discard)
	if err != nil || o.procs != 7 {
		t.Fatalf("-procs 7: %v, %v", o, err)
	}
}
