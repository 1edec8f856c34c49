package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"

	"gsh/cluster"
	"gsh/cluster/portmap"
)

// Two nodes on loopback with a private port mapper: one serves a module of
// Go functions, the other calls it.
func ExampleNode_Call() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	mapper := portmap.NewServer()
	go mapper.Serve(ln)
	defer mapper.Close()

	start := func(name string, h cluster.Handler) *cluster.Node {
		cfg := cluster.DefaultConfig()
		cfg.Name = cluster.Atom(name + "@" + cluster.ShortHostname())
		cfg.Cookie = "abc"
		cfg.ListenAddr = "127.0.0.1:0"
		cfg.MapperPort = ln.Addr().(*net.TCPAddr).Port
		cfg.Handler = h
		n, err := cluster.Start(context.Background(), cfg)
		if err != nil {
			panic(err)
		}
		return n
	}
	gandalf := start("gandalf", cluster.Modules{
		"strings": {"ToUpper": reflect.ValueOf(strings.ToUpper)},
	})
	defer gandalf.Close()
	bilbo := start("bilbo", nil)
	defer bilbo.Close()

	v, err := bilbo.Call(context.Background(), gandalf.Name(), "strings", "ToUpper", "fine")
	fmt.Println(v, err)

	_, err = bilbo.Call(context.Background(), gandalf.Name(), "strings", "ToLower", "FINE")
	fmt.Println(errors.Is(err, cluster.ErrUnknownFunction))
	// Output:
	// FINE <nil>
	// true
}
