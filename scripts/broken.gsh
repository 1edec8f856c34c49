// A file that does not compile: c() names the file, the line and the
// column, and says what is wrong in Go's words.
// gsh: -sname gimli
// exit: 1

c("testdata/broken.go")

// Output:
// broken.gsh:6: ** error: broken.go:8:11: cannot use "x" (untyped string constant) as int value in argument to F
