package service_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"

	"gsh/cluster"
	"gsh/cluster/portmap"
	"gsh/cluster/service"
)

// The book's name server as a service: a node exposes store and lookup of
// its kvs, nothing else, and a client that knows the secret uses them.
func Example() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	mapper := portmap.NewServer()
	go mapper.Serve(ln)
	defer mapper.Close()

	var kvs sync.Map
	cfg := cluster.DefaultConfig()
	cfg.Name = cluster.Atom("gandalf@" + cluster.ShortHostname())
	cfg.Cookie = "abc"
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.MapperPort = ln.Addr().(*net.TCPAddr).Port
	cfg.Handler = cluster.Modules{
		"kvs": {
			"store":  reflect.ValueOf(func(k string, v any) bool { kvs.Store(k, v); return true }),
			"lookup": reflect.ValueOf(func(k string) (any, bool) { return kvs.Load(k) }),
		},
		"strings": {"ToUpper": reflect.ValueOf(strings.ToUpper)},
	}
	node, err := cluster.Start(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	defer node.Close()

	scfg := service.DefaultConfig()
	scfg.Node = node
	scfg.Logf = func(string, ...any) {}
	scfg.Services = []service.Service{
		{Name: "nameServer", Secret: "ABXy45", Functions: []string{"kvs.store", "kvs.lookup"}},
	}
	srv, err := service.New(scfg)
	if err != nil {
		panic(err)
	}
	sl, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(sl)
	defer srv.Close()

	ctx := context.Background()
	c, err := service.Dial(ctx, sl.Addr().String(), "nameServer", "ABXy45", nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Call(ctx, "store", "weather", "fine"))
	fmt.Println(c.Call(ctx, "lookup", "weather"))
	_, err = c.Call(ctx, "strings.ToUpper", "hi")
	fmt.Println(errors.Is(err, service.ErrNotExposed))

	_, err = service.Dial(ctx, sl.Addr().String(), "nameServer", "guess", nil)
	fmt.Println(errors.Is(err, cluster.ErrAuth))
	// Output:
	// true <nil>
	// fine <nil>
	// true
	// true
}
