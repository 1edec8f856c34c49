package main

import (
	"os"
	"runtime"
	"strings"
)

// Heap profiling is off in gsh, unless GODEBUG=memprofilerate=N asks for
// it: with it on, every 512 KiB allocated the runtime unwinds the
// allocating stack, reading the binary's function tables, and at start-up
// (the interpreter's symbol tables are allocated then) those reads keep
// about 1 MB more of the binary resident. Code at the prompt can still set
// runtime.MemProfileRate before taking a heap profile.
func init() {
	if !strings.Contains(os.Getenv("GODEBUG"), "memprofilerate=") {
		runtime.MemProfileRate = 0
	}
}
