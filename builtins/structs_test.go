package builtins_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestStructsCrossTheWire sends structs typed at one prompt to a node that
// declared the same types, which receives them as its own, and to one that
// did not, which receives values that print with the type's name and whose
// fields can be read; an rpc argument fits the remote function's parameter.
func TestStructsCrossTheWire(t *testing.T) {
	c := newCluster(t)
	a, b, n := c.start("sa"), c.start("sb"), c.start("sn")
	decl := "type Point struct{ X, Y int }\n" +
		"type Line struct {\n A, B Point\n P *Point\n L []Point\n M map[string]Point\n Tag string\n}"
	for _, g := range []*gshNode{a, b} {
		g.must(decl, "")
	}
	b.must("func norm(p Point) float64 { return math.Hypot(float64(p.X), float64(p.Y)) }", "")
	b.must(`register("inbox", self())`, "true")
	n.must(`register("inbox", self())`, "true")

	a.must(fmt.Sprintf(`rpc.call(%q, "main", "norm", Point{3, 4})`, b.name()), "5")
	a.must(fmt.Sprintf(`rpc.call(%q, "main", "norm", &Point{6, 8})`, b.name()), "10")
	b.must("func mk(x int) Point { return Point{x, x + 1} }", "")
	a.must(fmt.Sprintf(`p, _ := rpc.call(%q, "main", "mk", 1); p.(Point).Y`, b.name()), "2")
	a.must(fmt.Sprintf(`ps, _ := rpc.multicall([]string{%q}, "main", "mk", 2); ps[0].(Point).Y`, b.name()), "3")
	a.must(fmt.Sprintf(`k := rpc.async_call(%q, "main", "mk", 3); p, _ = rpc.yield(k); p.(Point).Y`, b.name()), "4")
	n.must(fmt.Sprintf(`p, _ := rpc.call(%q, "main", "mk", 1); p.(Struct).Field("Y")`, b.name()), "2")

	for _, g := range []*gshNode{b, n} {
		a.must(fmt.Sprintf(`send(at("inbox", %q), Point{5, 6})`, g.name()), "Point{X: 5, Y: 6}")
		g.must("m := receive(10 * time.Second)", "Point{X: 5, Y: 6}")
	}
	b.must("m.(Point).X + m.(Point).Y", "11")
	b.must(`fmt.Sprintf("%T", m) == fmt.Sprintf("%T", Point{})`, "true")
	n.must(`m.(Struct).Field("Y")`, "6")
	n.must(`m.(Struct).Name`, "Point")

	line := `Line{A: Point{1, 2}, B: Point{3, 4}, P: &Point{5, 6}, L: []Point{{7, 8}}, M: map[string]Point{"k": {9, 10}}, Tag: "t"}`
	want := `Line{A: Point{X: 1, Y: 2}, B: Point{X: 3, Y: 4}, P: &Point{X: 5, Y: 6}, L: [Point{X: 7, Y: 8}], M: {"k": Point{X: 9, Y: 10}}, Tag: "t"}`
	for _, g := range []*gshNode{b, n} {
		a.must(fmt.Sprintf(`send(at("inbox", %q), %s)`, g.name(), line), want)
	}
	b.must("l := receive(10 * time.Second).(Line)", want)
	b.must(`l.P.X + l.L[0].Y + l.M["k"].X + l.B.Y`, "26")
	// Without the types, the pointer is followed and the list and map are
	// wire values.
	n.must("receive(10 * time.Second)", `Line{A: Point{X: 1, Y: 2}, B: Point{X: 3, Y: 4}, P: Point{X: 5, Y: 6}, L: [Point{X: 7, Y: 8}], M: {"k": Point{X: 9, Y: 10}}, Tag: "t"}`)

	// A list of structs, and a struct the node does not know inside one it
	// knows nothing of, are retyped where they can be.
	n.must("type Point struct{ X, Y int }", "")
	a.must(fmt.Sprintf(`send(at("inbox", %q), []any{Point{1, 1}, Line{A: Point{2, 2}}})`, n.name()),
		`[Point{X: 1, Y: 1}, Line{A: Point{X: 2, Y: 2}, B: Point{X: 0, Y: 0}, P: nil, L: nil, M: nil, Tag: ""}]`)
	n.must("ms := receive(10 * time.Second).([]any)", `[Point{X: 1, Y: 1}, Line{A: Point{X: 2, Y: 2}, B: Point{X: 0, Y: 0}, P: nil, L: [], M: {}, Tag: ""}]`)
	n.must("ms[0].(Point).X + ms[1].(Struct).Field(\"A\").(Point).Y", "3")

	// A struct that does not fit the parameter is refused, saying why.
	a.must("type Point3 struct{ X, Y, Z int }", "")
	a.must(fmt.Sprintf(`rpc.call(%q, "main", "norm", Point3{1, 2, 3})`, b.name()),
		fmt.Sprintf("** error: %s: argument 1: Point3{X: 1, Y: 2, Z: 3} does not fit struct { X int; Y int }: it has no field Z: bad arguments", b.name()))
}

// TestStructsOfLoadedPackage sends a struct of a package that two nodes
// loaded with nl(): it arrives as that package's type, and fits the
// parameter of the package's function called with rpc. (Its fields differ
// from those of the Point types of the test above: struct types declared in
// the interpreter with the same fields are one type in Go's reflection, and
// one such type given two names keeps neither.)
func TestStructsOfLoadedPackage(t *testing.T) {
	c := newCluster(t)
	a, b := c.start("la"), c.start("lb")
	file := filepath.Join(t.TempDir(), "geo.go")
	src := "package geo\n\nimport \"math\"\n\ntype Point struct{ Lat, Lon int }\n\nfunc Norm(p Point) float64 { return math.Hypot(float64(p.Lat), float64(p.Lon)) }\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	a.must(fmt.Sprintf("net_adm.ping(%q)", b.name()), "pong")
	a.must(fmt.Sprintf("nl(%q)", file), fmt.Sprintf("[%s, %s]", a.name(), b.name()))
	b.must(`register("inbox", self())`, "true")
	a.must(fmt.Sprintf(`send(at("inbox", %q), geo.Point{5, 6})`, b.name()), "geo.Point{Lat: 5, Lon: 6}")
	b.must("p := receive(10 * time.Second).(geo.Point)", "geo.Point{Lat: 5, Lon: 6}")
	a.must(fmt.Sprintf(`rpc.call(%q, "geo", "norm", geo.Point{3, 4})`, b.name()), "5")
}
