// Command gsh is Erlang's distributed shell in Go: a named node with a Go
// prompt, linked to its peers over cookie-authenticated TCP.
//
//	gsh -sname gandalf -setcookie abc
//	gsh -sname bilbo -setcookie abc session.gsh
//	gsh -sname bilbo -setcookie abc -remsh gandalf   # a shell evaluating on gandalf
//
// gsh --help lists every flag and environment variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var ex exitError
	switch {
	case err == nil:
	case errors.As(err, &ex):
		os.Exit(int(ex))
	default:
		fmt.Fprintln(os.Stderr, "gsh:", err)
		os.Exit(1)
	}
}
