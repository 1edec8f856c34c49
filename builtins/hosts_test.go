package builtins_test

import (
	"fmt"
	"gsh/internal/gshtest"
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
	gshtest.Eventually(t, 5*time.Second, "b dropping its link to a after disconnect_node", func() bool { return !b.node.Connected(a.node.Name()) })
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
