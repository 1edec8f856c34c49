package main

import (
	"context"
	"strings"

	"gsh/builtins"
	"gsh/shell"
)

// completer is Tab at a gsh prompt: node names inside the string argument
// of a builtin that takes one (rpc.call("ga → "gandalf@host"), else the
// interpreter's names (builtins, packages and their members, names bound at
// the prompt).
type completer struct {
	env    *builtins.Env
	interp *shell.Interp
}

func (c completer) Complete(line string, pos int) ([]string, int) {
	if call, arg, start, ok := shell.StringArg(line, pos); ok {
		want, takes := builtins.NodeArg(call)
		if !takes || want != arg {
			return nil, pos
		}
		quote := line[start-1 : start]
		typed := line[start:pos]
		var words []string
		for _, n := range c.env.KnownNodes(context.Background()) {
			if strings.HasPrefix(n, typed) {
				words = append(words, n+quote) // and close the string
			}
		}
		return words, start
	}
	return c.interp.Complete(line, pos)
}
