// Package scripts holds gsh sessions and the Go sources they load.
//
// Each *.gsh file is a real session, replayed by this package's test with
// the real gsh binary: the statements run in order on a node, and what they
// print must equal the file's trailing "// Output:" block, as in yaegi's own
// _test files. Header comments set the session up:
//
//	// gsh: -sname bilbo                the flags of the node that runs the file
//	// peer: gandalf -eval 'kvs.start()'  a second node the harness starts first
//	// exit: 1                          the exit code it must end with (default 0)
//
// go test ./scripts -update rewrites the Output blocks from what the
// sessions print now. The host name prints as HOST.
//
// The Go sources here (kvs.go, dist_demo.go) carry the build tag gsh: they
// are for gsh's interpreter (c("scripts/kvs.go")), not for the Go compiler.
package scripts
