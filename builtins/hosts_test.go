package builtins_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gsh/cluster"
)

// set_cookie(node, cookie) lets two nodes with different cookies link, in
// both directions; disconnect_node drops the link and says whether there
// was one.
func TestSetCookieForOneNodeAndDisconnect(t *testing.T) {
	c := newCluster(t)
	a := c.start("a")
	b := c.startWith("b", func(cfg *cluster.Config) { cfg.Cookie = "other" })
	a.must(fmt.Sprintf("net_adm.ping(%q)", b.name()), "pang")
	a.must(fmt.Sprintf("set_cookie(%q, %q)", b.name(), "other"), "true")
	a.must(fmt.Sprintf("net_adm.ping(%q)", b.name()), "pong")
	a.must(fmt.Sprintf("disconnect_node(%q)", b.name()), "true")
	deadline := time.Now().Add(5 * time.Second)
	for b.node.Connected(a.node.Name()) {
		if time.Now().After(deadline) {
			t.Fatal("b still has a link to a after disconnect_node")
		}
		time.Sleep(5 * time.Millisecond) // polling the link table
	}
	a.must(fmt.Sprintf("disconnect_node(%q)", b.name()), "false")
	b.must(fmt.Sprintf("net_adm.ping(%q)", a.name()), "pong")
	a.must(`get_cookie()`, "dist-test")
	if got := a.eval(`set_cookie(1, "x")`); !strings.Contains(got, "bad arguments") {
		t.Errorf("set_cookie(1, \"x\"): %s", got)
	}
	if got := a.eval(`disconnect_node("nohost")`); !strings.Contains(got, "not name@host") {
		t.Errorf("disconnect_node(\"nohost\"): %s", got)
	}
}
