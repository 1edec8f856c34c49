package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"gsh/builtins"
	"gsh/cluster"
	"gsh/cluster/service"
)

// startServices offers the services of the file given with -services on
// node: functions through env's handler, messages to node's processes. A
// service that exposes kvs functions starts the node's kvs, as the book's
// name server is started before it is offered. It returns what stops them.
func startServices(path string, node *cluster.Node, env *builtins.Env, logf func(string, ...any)) (stop func(), err error) {
	f, err := service.LoadFile(path)
	if err != nil {
		return nil, err
	}
	cfg := service.DefaultConfig()
	cfg.Node = node
	cfg.Handler = env
	cfg.Services = f.Services
	cfg.Logf = logf
	if t := node.Config().TLS; t != nil {
		cfg.TLS = t.Clone()
		cfg.TLS.ClientAuth = tls.NoClientCert // the secret authenticates clients
	}
	var offered []string
	for _, s := range f.Services {
		var what []string
		for _, fn := range s.Functions {
			if !strings.HasPrefix(fn, "kvs.") {
				continue
			}
			if _, _, err := env.KVS.Lookup(nil); errors.Is(err, builtins.ErrKVSNotStarted) {
				if _, err := env.KVS.Start(); err != nil {
					return nil, fmt.Errorf("starting the kvs for service %s: %w", s.Name, err)
				}
			}
		}
		what = append(what, s.Functions...)
		if s.Process != "" {
			what = append(what, "messages to "+s.Process)
		}
		if s.TLS {
			what = append(what, "over TLS")
		}
		offered = append(offered, fmt.Sprintf("%s (%s)", s.Name, strings.Join(what, ", ")))
	}
	srv, err := service.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("-services %s: %w", path, err)
	}
	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return nil, fmt.Errorf("-services %s: %w", path, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != service.ErrServerClosed {
			logf("services stopped: %v", err)
		}
	}()
	logf("services on %s: %s", ln.Addr(), strings.Join(offered, "; "))
	return func() { srv.Close(); <-done }, nil
}
