// The Go a programmer types in the first ten minutes, piped as at the
// prompt: what works, and the exact line each remaining gap prints.
// piped
// gsh: -sname gimli
// exit: 1

for i := range 3 { fmt.Print(i, " ") }
n := 2
func twice() { for i := range n { fmt.Print("twice ", i, " ") } }
twice()
min(3, 1, 2)
max(1.5, 2.5)
m := map[string]int{"a": 1}
clear(m)
m
type T struct{ A int }
type T struct{ B int }
var p *T
p.A
var a []int
a[5]
ch := make(chan int, 1)
ch <- 5
func() { v, ok := <-ch; fmt.Println(v, ok) }()
type point struct{ X, Y int }
[]*point{{1, 2}}
// Remaining gaps of the interpreter:
v, ok := <-ch
func Map[T, U any](xs []T, f func(T) U) []U { var out []U; for _, x := range xs { out = append(out, f(x)) }; return out }
Map([]int{1, 2, 3}, func(i int) string { return fmt.Sprint(i) })
z := min(2.5, 1.0) * 2

// Output:
// 0 1 2 2
// twice 0 twice 1 1
// 2.5
// {"a": 1}
// {}
// input:17: ** error: T redeclared in this block (a type declared at the prompt cannot change: give the new one another name)
// input:19: ** error: panic: runtime error: invalid memory address or nil pointer dereference
// input:21: ** error: panic: runtime error: index out of range
// chan int
// 5 true
// [&point{X: 1, Y: 2}]
// input:28: ** error: panic: nil type (while compiling: the interpreter does not support this construct)
// input:30: ** error: cannot use type func(int) string as type func(int) int
// input:31: ** error: panic: nil reflect type (while compiling: the interpreter does not support this construct)
