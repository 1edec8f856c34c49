package portmap_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"gsh/cluster/portmap"
)

// A port mapper on a spare loopback port, a node registering with it and
// another one looking it up.
func Example() {
	l, err := net.Listen("tcp", "127.0.0.1:0") // epmd's own port is 4369
	if err != nil {
		fmt.Println(err)
		return
	}
	m := portmap.NewServer()
	go m.Serve(l)
	defer m.Close()
	addr := l.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reg, err := portmap.Register(ctx, addr, "shell", 40100, false)
	if err != nil {
		fmt.Println(err)
		return
	}

	e, err := portmap.Lookup(ctx, addr, "shell")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Name, e.Port, e.IsGsh(), e.HighVersion, e.LowVersion)

	_, err = portmap.Register(ctx, addr, "shell", 40101, false)
	fmt.Println(errors.Is(err, portmap.ErrNameTaken))

	reg.Close() // the name is free again once the mapper sees the connection close
	<-reg.Done()
	// Output:
	// shell 40100 true 6 5
	// true
}
