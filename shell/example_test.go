package shell_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"gsh/shell"
)

// A session piped to the shell, as in gsh < session.gsh: each complete input
// is evaluated and its value printed; the first error stops the session.
func Example() {
	in, err := shell.NewInterp(shell.Options{Stdout: os.Stdout, Stderr: os.Stdout})
	if err != nil {
		panic(err)
	}
	session := `func fact(n int) int {
	if n <= 1 {
		return 1
	}
	return n * fact(n-1)
}
fact(10)
ages := map[string]int{"bilbo": 111, "frodo": 33}
age, ok := ages["sam"]
strings.Cut("k=v", "=")
fmt.Println("hello")
nope(1)
fmt.Println("not reached")
`
	sh := shell.New(shell.Config{
		Interp: in,
		In:     strings.NewReader(session),
		Out:    os.Stdout,
		Name:   "session.gsh",
	})
	err = sh.Run(context.Background())
	fmt.Println("Run:", err)

	// Output:
	// 3628800
	// {"bilbo": 111, "frodo": 33}
	// undefined
	// k, v, true
	// hello
	// session.gsh:12: ** error: undefined: nope
	// Run: session.gsh:12: undefined: nope
}

func ExampleFormat() {
	fmt.Println(shell.Format("fine"))
	fmt.Println(shell.Format([]any{1, "a", true, nil}))
	fmt.Println(shell.Format(map[string]int{"b": 2, "a": 1}))
	fmt.Println(shell.Format(fmt.Errorf("no such node")))
	// Output:
	// fine
	// [1, "a", true, nil]
	// {"a": 1, "b": 2}
	// ** error: no such node
}
