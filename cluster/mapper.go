package cluster

import (
	"context"
	"errors"
	"time"

	"gsh/cluster/portmap"
)

// registration is the node's entry with the port mapper, and when the
// mapper accepted it.
type registration struct {
	*portmap.Registration
	at time.Time
}

// register registers the node with the port mapper of its host.
func (n *Node) register(ctx context.Context) (*registration, error) {
	r, err := portmap.Register(ctx, n.mapperAddr(), n.alive, n.Port(), n.cfg.Hidden)
	if err != nil {
		return nil, mapperErr(err)
	}
	return &registration{r, time.Now()}, nil
}

// mapperError is an error of the port mapper client that also matches the
// cluster sentinel of its kind.
type mapperError struct {
	err  error // as the client gave it
	kind error // ErrProtocol or ErrTooLarge
}

func (e *mapperError) Error() string   { return e.err.Error() }
func (e *mapperError) Unwrap() []error { return []error{e.err, e.kind} }

// mapperErr makes an error of the port mapper client match ErrProtocol or
// ErrTooLarge when it matches portmap's sentinel of that name, so that callers
// and ErrorKind see it as they see the node's own. (ErrUnknownNode, ErrBadName
// and ErrNameTaken are portmap's variables already.)
func mapperErr(err error) error {
	switch {
	case errors.Is(err, portmap.ErrProtocol) && !errors.Is(err, ErrProtocol):
		return &mapperError{err, ErrProtocol}
	case errors.Is(err, portmap.ErrTooLarge) && !errors.Is(err, ErrTooLarge):
		return &mapperError{err, ErrTooLarge}
	}
	return err
}
