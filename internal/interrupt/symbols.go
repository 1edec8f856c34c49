package interrupt

import (
	"reflect"

	"github.com/traefik/yaegi/interp"
)

// Symbols exports this package to the interpreter, to be imported as
// ImportDecl (import _gsh "gsh/internal/interrupt") by instrumented code.
var Symbols = interp.Exports{
	ImportPath + "/interrupt": {
		"Tick":           reflect.ValueOf(Tick),
		"Enter":          reflect.ValueOf(Enter),
		"Pending":        reflect.ValueOf(&Pending).Elem(),
		"Go":             reflect.ValueOf(Go),
		"Named":          reflect.ValueOf(Named),
		"Results":        reflect.ValueOf(Results),
		"SameName":       reflect.ValueOf(SameName),
		"Sleep":          reflect.ValueOf(Sleep),
		"Doomed":         reflect.ValueOf(Doomed),
		"ErrInterrupted": reflect.ValueOf(&ErrInterrupted).Elem(),
	},
}
