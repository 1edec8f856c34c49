package cluster

import (
	"errors"
	"fmt"
	"testing"

	"gsh/cluster/portmap"
)

// TestMapperErrors: the port mapper's sentinels are cluster's, or match
// cluster's of the same name, locally and across the wire.
func TestMapperErrors(t *testing.T) {
	for _, tc := range []struct {
		mapper, cluster error
		kind            string
	}{
		{portmap.ErrUnknownNode, ErrUnknownNode, "unknown_node"},
		{portmap.ErrBadName, ErrBadName, "badname"},
		{portmap.ErrNameTaken, ErrNameTaken, "name_taken"},
		{portmap.ErrProtocol, ErrProtocol, "protocol"},
		{portmap.ErrTooLarge, ErrTooLarge, "too_large"},
	} {
		err := mapperErr(fmt.Errorf("port mapper at 127.0.0.1:1: looking up %q: %w", "a", tc.mapper))
		if !errors.Is(err, tc.mapper) || !errors.Is(err, tc.cluster) {
			t.Errorf("%v: errors.Is with portmap's and cluster's sentinel: %v, %v", err, errors.Is(err, tc.mapper), errors.Is(err, tc.cluster))
		}
		if want := fmt.Sprintf("port mapper at 127.0.0.1:1: looking up %q: %v", "a", tc.mapper); err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
		if k := ErrorKind(err); k != tc.kind {
			t.Errorf("ErrorKind(%v) = %q, want %q", err, k, tc.kind)
		}
		// What a remote node gets back unwraps to both too.
		re := &RemoteError{Node: "a@b", Kind: ErrorKind(err), Msg: err.Error()}
		if !errors.Is(re, tc.cluster) {
			t.Errorf("remote %v does not match cluster's sentinel", re)
		}
	}
	if err := mapperErr(nil); err != nil {
		t.Errorf("mapperErr(nil) = %v", err)
	}
}
