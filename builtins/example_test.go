package builtins_test

import (
	"context"
	"fmt"

	"gsh/builtins"
	"gsh/cluster"
)

// The builtins of a node that is not distributed, served as another node's
// rpc calls would be: the builtin modules and the Go standard library.
func ExampleEnv_HandleCall() {
	node, err := cluster.Start(context.Background(), cluster.DefaultConfig())
	if err != nil {
		panic(err)
	}
	defer node.Close()
	env := builtins.New(node)

	v, _ := env.HandleCall(context.Background(), node.Name(), "erlang", "node", nil)
	fmt.Println(v)
	v, _ = env.HandleCall(context.Background(), node.Name(), "strings", "Repeat", []any{"ab", 2})
	fmt.Println(v)
	_, err = env.HandleCall(context.Background(), node.Name(), "kvs", "lookup", []any{"weather"})
	fmt.Println(err)
	// Output:
	// nonode@nohost
	// abab
	// kvs is not started on nonode@nohost: call kvs.start() there first
}
