// One variable for a call of two results is refused, as Go refuses it:
// at the top level, in a loaded file, inside a function typed here. An
// error result is never dropped on the floor.
// gsh: -sname gimli
// exit: 1

_, err := c("testdata/mismatch.go")
if r, err := rpc.call("nobody@nohost", "kvs", "lookup", "weather"); err != nil {
	fmt.Println("got", r, "and an error")
}
func lookup() any {
	r := rpc.call("nobody@nohost", "kvs", "lookup", "weather")
	return r
}
"never printed"

// Output:
// error("mismatch.go:5:2: assignment mismatch: 1 variable but rpc.call returns 2 values")
// got <nil> and an error
// mismatch.gsh:12: ** error: assignment mismatch: 1 variable but rpc.call returns 2 values
