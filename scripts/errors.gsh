// A script stops at its first error: it prints the file, the line and the
// error, and gsh exits with status 1. Values that are errors count too.
// gsh: -sname gimli
// exit: 1

func double(x int) int { return 2 * x }
rpc.call(node(), "main", "double", 21)
rpc.call(node(), "main", "double", "twenty-one")
"never printed"

// Output:
// 42
// errors.gsh:8: ** error: gimli@HOST: argument 1: "twenty-one" (string) does not fit int: bad arguments
