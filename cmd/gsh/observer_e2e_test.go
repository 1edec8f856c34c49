package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gsh/cluster"
)

// chromium finds a headless-capable browser, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH (.ci/run installs Debian's chromium): the observer's browser tests need one")
	return ""
}

// browser starts a headless chromium and returns a context driving one tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	// The first action starts the browser, which lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// waitJS waits until the expression is true on the page.
func waitJS(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting %v for %s (%s): %v\npage:\n%s", timeout, what, expr, err, page)
	}
	return time.Since(start)
}

var observerURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+/\?token=[0-9a-f]+`)

// TestObserverPage drives the observer page in a real headless chromium:
// three gsh nodes, a spawned process appears, its mailbox count moves as
// messages arrive, a node killed with SIGKILL turns down, and requests
// without the token are refused.
func TestObserverPage(t *testing.T) {
	chromium(t)
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	node := func(n string) string { return n + "@" + host }
	args := func(name string, more ...string) []string {
		return append([]string{"-sname", name, "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1"}, more...)
	}

	gandalf := startGsh(t, nil, args("gandalf")...)
	gandalf.send("observer.start()")
	gandalf.expect("?token=")
	page := observerURL.FindString(gandalf.out.String())
	if page == "" {
		t.Fatalf("observer.start() printed no address:\n%s", gandalf.out)
	}

	// A -noshell node with -observer prints its own page's address.
	frodo := startGsh(t, nil, args("frodo", "-noshell", "-observer", "127.0.0.1:0")...)
	frodo.expect("observer on http://127.0.0.1:")
	bilbo := startGsh(t, nil, args("bilbo")...)
	bilbo.send(fmt.Sprintf("net_adm.ping(%q)", node("gandalf")))
	bilbo.expect("pong")
	bilbo.send(fmt.Sprintf("net_adm.ping(%q)", node("frodo")))
	bilbo.expect("pong")

	// Without the token, or with another, every path is refused.
	u, _ := url.Parse(page)
	for _, bad := range []string{u.Scheme + "://" + u.Host + "/", u.Scheme + "://" + u.Host + "/events", u.Scheme + "://" + u.Host + "/state?token=00" + u.Query().Get("token")[2:], u.Scheme + "://" + u.Host + "/app.js?token=x"} {
		resp, err := http.Get(bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("GET %s: %s, want 403 Forbidden", bad, resp.Status)
		}
	}
	// The page only reads unless asked otherwise: killing is refused.
	resp, err := http.PostForm(u.Scheme+"://"+u.Host+"/kill?token="+u.Query().Get("token"), url.Values{"node": {node("bilbo")}, "pid": {"<" + node("bilbo") + ".1>"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST /kill on a read-only observer: %s, want 403 Forbidden", resp.Status)
	}

	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "three nodes up", `document.querySelectorAll('#graph .node.up').length === 3`, 15*time.Second)
	waitJS(t, ctx, "the links between them", `document.querySelectorAll('#graph .edge').length === 3`, 5*time.Second)

	// A process spawned on bilbo appears in bilbo's list.
	bilbo.send(`register("sink", spawn(func() { receive(func(m any) bool { return false }) }))`)
	bilbo.expect("true")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#tabs button[data-node=%q]`, node("bilbo"))))); err != nil {
		t.Fatal(err)
	}
	row := `[...document.querySelectorAll('#procs tbody tr')].find(r => r.querySelector('.name').textContent === 'sink')`
	waitJS(t, ctx, "the spawned process", row+` !== undefined`, 5*time.Second)
	waitJS(t, ctx, "its empty mailbox", row+`.querySelector('.mailbox').textContent === '0'`, 5*time.Second)

	// Its mailbox count moves as messages from gandalf arrive.
	gandalf.send(fmt.Sprintf(`for i := 0; i < 7; i++ { send(at("sink", %q), i) }`, node("bilbo")))
	waitJS(t, ctx, "7 messages in its mailbox", row+`.querySelector('.mailbox').textContent === '7'`, 5*time.Second)
	gandalf.send(fmt.Sprintf(`for i := 0; i < 5; i++ { send(at("sink", %q), i) }`, node("bilbo")))
	waitJS(t, ctx, "12 messages in its mailbox", row+`.querySelector('.mailbox').textContent === '12'`, 5*time.Second)

	// The kvs and the global names.
	gandalf.send(`kvs.start()`)
	gandalf.send(`kvs.store("weather", "fine")`)
	gandalf.send(`global.register_name("ring", spawn(func() { receive() }))`)
	gandalf.expect("true")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#tabs button[data-node=%q]`, node("gandalf"))))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "gandalf's kvs", `document.querySelector('#kvs tbody').textContent.includes('fine')`, 5*time.Second)
	waitJS(t, ctx, "the global name", `document.querySelector('#globals tbody').textContent.includes('ring')`, 5*time.Second)
	if path := os.Getenv("GSH_OBSERVER_SCREENSHOT"); path != "" {
		// Steady load for the charts, then the picture the README shows.
		bilbo.send(fmt.Sprintf(`spawn(func() { for { rpc.call(%q, "erlang", "node"); send(at("sink", %q), 1); time.Sleep(2 * time.Millisecond) } })`, node("gandalf"), node("bilbo")))
		waitJS(t, ctx, "a few seconds of load", `document.querySelector('#load-node').textContent.includes('· last 8 s') && document.querySelectorAll('.chart .value')[1].textContent !== '0'`, 20*time.Second)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// frodo killed with SIGKILL turns down on the page within a second.
	frodo.cmd.Process.Signal(syscall.SIGKILL)
	<-frodo.done
	took := waitJS(t, ctx, "frodo down", fmt.Sprintf(`document.querySelector('#graph .node.down[data-node=%q]') !== null`, node("frodo")), 5*time.Second)
	t.Logf("frodo shown down %v after it was killed", took)
	if took > time.Second {
		t.Errorf("frodo shown down %v after it was killed, want within a second", took)
	}
	up, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#graph .node.up').length`))
	if err != nil {
		t.Fatal(err)
	}
	if up != 2 {
		t.Errorf("%d nodes up on the page after frodo's end, want 2", up)
	}
	if strings.Contains(gandalf.out.String(), "panic") {
		t.Errorf("gandalf printed a panic:\n%s", gandalf.out)
	}
}

// TestObserverFlags: -observer with an address it cannot serve on, and
// -observer_kill alone, are refused with a message saying why.
func TestObserverFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-observer_kill", "-eval", "1"}, "-observer_kill goes with -observer ADDR"},
		{[]string{"-observer", "localhost", "-eval", "1"}, "-observer localhost: starting the observer on localhost: listen tcp: address localhost: missing port in address"},
	} {
		var out strings.Builder
		err := run(context.Background(), c.args, strings.NewReader(""), &out, &out)
		if err == nil || err.Error() != c.want {
			t.Errorf("gsh %q: %v, want %s", c.args, err, c.want)
		}
	}
}
