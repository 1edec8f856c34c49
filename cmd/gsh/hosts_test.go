package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gsh/internal/netns"
)

// The hosts suite: gsh nodes on three hosts made of network namespaces
// (alpha, beta and gamma.gsh.test), each with its own port mapper on 4369,
// started by its first node as on a real machine.

// hostTick is the -ticktime of the suite's nodes.
const hostTick = 2 * time.Second

// startOn starts gsh on host h with its stdin a pipe.
func startOn(t *testing.T, h *netns.Host, args ...string) *gshProc {
	t.Helper()
	cmd := h.Command(context.Background(), gshBin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	return startCmd(t, cmd, "gsh "+strings.Join(args, " ")+" on "+h.Name)
}

// node starts a node called name@HOST.gsh.test on h, with the suite's
// cookie and tick time.
func node(t *testing.T, h *netns.Host, name string, extra ...string) *gshProc {
	t.Helper()
	args := append([]string{"-name", name + "@" + h.FQDN, "-setcookie", "hosts", "-ticktime", hostTick.String()}, extra...)
	p := startOn(t, h, args...)
	p.eval("node()") // it runs
	return p
}

var evalSeq struct {
	sync.Mutex
	n int
}

// eval sends one input line and returns what it printed: the line's value,
// or its error line.
func (p *gshProc) eval(line string) string {
	p.t.Helper()
	evalSeq.Lock()
	evalSeq.n++
	marker := fmt.Sprintf("@@%d@@", evalSeq.n)
	evalSeq.Unlock()
	p.send(line)
	p.send(strconv.Quote(marker))
	start := p.mark
	p.mark = p.out.WaitFor(p.t, p.mark, marker+"\n", 20*time.Second)
	out := p.out.String()[start : p.mark-len(marker)-1]
	var kept []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "=INFO=") && !strings.HasPrefix(l, "gsh: warning") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

// until evaluates line until it prints want, or fails after timeout; it
// returns how long it took.
func (p *gshProc) until(line, want string, timeout time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond) // polls, gently on a shared machine
	defer tick.Stop()
	for {
		got := p.eval(line)
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			p.t.Fatalf("%s printed %q, not %q, for %v", line, got, want, timeout)
		}
		<-tick.C
	}
}

func TestHosts(t *testing.T) {
	n := netns.New(t, "alpha", "beta", "gamma")
	alpha, beta, gamma := n.Host("alpha"), n.Host("beta"), n.Host("gamma")

	t.Run("TwoMachines", func(t *testing.T) { twoMachines(t, n) })
	t.Run("NameServerService", func(t *testing.T) { nameServerService(t, n) })

	// Three hosts: each node pings only the one before it.
	t.Run("MeshAndPartition", func(t *testing.T) {
		a := node(t, alpha, "frodo")
		b := node(t, beta, "sam")
		c := node(t, gamma, "merry")
		if got := b.eval(`net_adm.ping("frodo@alpha.gsh.test")`); got != "pong" {
			t.Fatalf("sam pinging frodo: %s", got)
		}
		if got := c.eval(`net_adm.ping("sam@beta.gsh.test")`); got != "pong" {
			t.Fatalf("merry pinging sam: %s", got)
		}
		all := []string{"frodo@alpha.gsh.test", "merry@gamma.gsh.test", "sam@beta.gsh.test"}
		others := func(self string) string {
			return "[" + strings.Join(slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == self }), ", ") + "]"
		}
		a.until("nodes()", others(all[0]), 10*time.Second)
		b.until("nodes()", others(all[2]), 10*time.Second)
		c.until("nodes()", others(all[1]), 10*time.Second)

		// Global names, seen from every host.
		a.eval(`ring := spawn(func() { receive() })`)
		if got := a.eval(`global.register_name("ring", ring)`); got != "true" {
			t.Fatalf("registering ring: %s", got)
		}
		ring := a.eval("ring")
		for _, p := range []*gshProc{b, c} {
			p.until(`global.whereis_name("ring")`, ring, 5*time.Second)
		}
		if got := c.eval(`global.register_name("ring", self())`); !strings.Contains(got, "error") {
			t.Fatalf("merry registering a taken name: %s", got)
		}

		// A cut cable: gamma goes silent, and the others see merry down
		// within the tick time.
		gamma.Cut()
		cut := time.Now()
		var wg sync.WaitGroup
		for _, p := range []*gshProc{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.until(`len(nodes())`, "1", 2*hostTick)
			}()
		}
		wg.Wait()
		seen := time.Since(cut)
		t.Logf("gamma cut off: merry seen down on alpha and beta after %v (-ticktime %v)", seen.Round(time.Millisecond), hostTick)
		if seen > hostTick+time.Second {
			t.Errorf("merry seen down after %v, -ticktime %v", seen, hostTick)
		}
		c.until("nodes()", "[]", 2*hostTick)

		// Both halves carry on, and each registers the same global name.
		if got := a.eval(`rpc.call("sam@beta.gsh.test", "erlang", "node")`); got != "sam@beta.gsh.test" {
			t.Errorf("frodo calling sam during the partition: %s", got)
		}
		if got := c.eval(`kvs.start()`); got != "true" {
			t.Errorf("merry on its own: %s", got)
		}
		a.eval(`boss := spawn(func() { receive() })`)
		if got := a.eval(`global.register_name("boss", boss)`); got != "true" {
			t.Fatalf("frodo registering boss: %s", got)
		}
		c.eval(`loser := spawn(func() { fmt.Println("loser got", receive()) })`)
		if got := c.eval(`global.register_name("boss", loser)`); got != "true" {
			t.Fatalf("merry registering boss: %s", got)
		}
		boss := a.eval("boss")

		// Healing: the next call links them again, and the name held on
		// both sides goes to the node whose name sorts first.
		gamma.Mend()
		c.until(`net_adm.ping("frodo@alpha.gsh.test")`, "pong", 10*time.Second)
		for _, p := range []*gshProc{a, b, c} {
			p.until(`global.whereis_name("boss")`, boss, 10*time.Second)
		}
		c.out.WaitFor(t, 0, "loser got", 10*time.Second)
		healed := b.until(`net_adm.ping("merry@gamma.gsh.test")`, "pong", 15*time.Second)
		t.Logf("after the cable is back: sam reached merry in %v", healed.Round(time.Millisecond))
		b.until(`len(nodes())`, "2", 5*time.Second)
	})

	t.Run("LatencyAndLoss", func(t *testing.T) {
		var netemErr error
		for _, h := range n.Hosts() {
			if netemErr = h.Netem("delay", "20ms", "5ms", "loss", "1%"); netemErr != nil {
				break
			}
		}
		t.Cleanup(func() {
			for _, h := range n.Hosts() {
				h.ClearNetem()
			}
		})
		a := node(t, alpha, "pippin")
		b := node(t, beta, "bill")
		a.eval(`func slow(d string) string { t, _ := time.ParseDuration(d); time.Sleep(t); return d }`)
		b.eval(`right := 0`)
		start := time.Now()
		got := b.eval(`for i := range 100 { v, err := rpc.call("pippin@alpha.gsh.test", "strings", "Repeat", "ab", i); if err == nil && v == strings.Repeat("ab", i) { right++ } }; right`)
		if got != "100" {
			t.Errorf("of 100 calls, %s came back right", got)
		}
		t.Logf("100 calls one after the other: %v", time.Since(start).Round(time.Millisecond))
		b.eval(`rpc.set_timeout(300 * time.Millisecond)`)
		start = time.Now()
		got = b.eval(`rpc.call("pippin@alpha.gsh.test", "main", "slow", "2s")`)
		took := time.Since(start)
		if !strings.Contains(got, "timeout") {
			t.Errorf("a call of 2s with a 300ms timeout printed %s", got)
		}
		if took > 1500*time.Millisecond {
			t.Errorf("a call with a 300ms timeout took %v", took)
		}
		if got := b.eval(`rpc.call("pippin@alpha.gsh.test", "main", "slow", "10ms")`); got != "10ms" {
			t.Errorf("a short call after a timeout: %s", got)
		}
		if netemErr != nil {
			t.Skipf("the calls ran without latency or loss: %v", netemErr)
		}
	})

	// Thirty nodes, ten on each host, each pinging the first one: the
	// transitive connections make the full mesh.
	t.Run("Mesh30", func(t *testing.T) {
		const perHost = 10
		start := time.Now()
		var procs []*gshProc
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, h := range n.Hosts() {
			for i := range perHost {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := node(t, h, fmt.Sprintf("w%d", i))
					mu.Lock()
					procs = append(procs, p)
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		started := time.Since(start)
		for _, p := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if got := p.eval(`net_adm.ping("w0@alpha.gsh.test")`); got != "pong" {
					t.Errorf("pinging w0: %s", got)
				}
			}()
		}
		wg.Wait()
		for _, p := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.until("len(nodes())", strconv.Itoa(3*perHost-1), 20*time.Second)
			}()
		}
		wg.Wait()
		meshed := time.Since(start)
		rss := 0
		for _, p := range procs {
			rss += rssKB(p.cmd.Process.Pid)
		}
		t.Logf("30 nodes on 3 hosts: started in %v, full mesh %v after the start; %d MB resident in all", started.Round(time.Millisecond), meshed.Round(time.Millisecond), rss/1024)
	})
}

// twoMachines follows the README's "Two machines" section: the commands
// it gives for each machine, then its session, line by line.
func twoMachines(t *testing.T, n *netns.Net) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "\n## Two machines\n")
	if !ok {
		t.Fatal("the README has no section Two machines")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	command := regexp.MustCompile(`^\s*(\w+)\$ gsh (.*)$`)
	prompt := regexp.MustCompile(`^\s*\(([^)]+)\)\d+> (.*)$`)
	procs := map[string]*gshProc{}
	var cur *gshProc
	var want []string
	checked := 0
	check := func() {
		if cur != nil && want != nil {
			for _, w := range want {
				cur.expect(w + "\n")
				checked++
			}
		}
		want = nil
	}
	inBlock := false
	for _, line := range strings.Split(sec, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			check()
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		if m := command.FindStringSubmatch(line); m != nil {
			args := strings.Fields(m[2])
			name := args[slices.Index(args, "-name")+1]
			p := startOn(t, n.Host(m[1]), args...)
			procs[name] = p
			continue
		}
		if m := prompt.FindStringSubmatch(line); m != nil {
			check()
			cur = procs[m[1]]
			if cur == nil {
				t.Fatalf("the session types on %s, which no command started", m[1])
			}
			cur.send(m[2])
			want = []string{}
			continue
		}
		if want != nil {
			want = append(want, trimmed)
		}
	}
	if len(procs) != 2 || checked < 5 {
		t.Fatalf("the section started %d nodes and showed %d lines of output, want 2 nodes and 5 lines at least", len(procs), checked)
	}
	t.Logf("followed the README's Two machines section: 2 nodes, %d lines of output", checked)
	// gandalf listens on the first port of the range the section gives.
	bilbo := procs["bilbo@beta.gsh.test"]
	bilbo.eval(`c, err := net.Dial("tcp", "alpha.gsh.test:9100")`)
	if got := bilbo.eval(`err == nil`); got != "true" {
		t.Errorf("nothing listens on alpha.gsh.test:9100: %s", bilbo.eval("err"))
	}
	bilbo.eval(`c.Close()`)
}

// nameServerService follows the README's "Services for untrusted clients"
// section across two hosts: gandalf on alpha offers the section's
// nameServer service on alpha's address, and bilbo on beta, a node with
// the same cookie, types the section's session at its prompt with the
// server named by its host name (which beta resolves through its
// /etc/hosts). What the service does not expose is refused, and logged on
// alpha with beta's address; bilbo never becomes gandalf's peer.
func nameServerService(t *testing.T, n *netns.Net) {
	alpha, beta := n.Host("alpha"), n.Host("beta")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "\n## Services for untrusted clients\n")
	if !ok {
		t.Fatal("the README has no section Services for untrusted clients")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	spec := regexp.MustCompile(`\{"name": "nameServer".*\}`).FindString(sec)
	if spec == "" {
		t.Fatal("the section offers no nameServer service")
	}
	// The section listens on 127.0.0.1:2233; here, on alpha's address,
	// given by its host name.
	file := servicesFile(t, `{"listen": "`+alpha.FQDN+`:2233", "services": [`+spec+`]}`)
	gandalf := node(t, alpha, "gandalf", "-services", file)
	gandalf.out.WaitFor(t, 0, "=INFO= services on "+alpha.IP+":2233: nameServer (kvs.store, kvs.lookup)\n", 10*time.Second)
	bilbo := node(t, beta, "bilbo")

	// The section's session, with the server's host name for 127.0.0.1.
	_, session, ok := strings.Cut(sec, "the book's name server:\n\n```\n")
	if !ok {
		t.Fatal("the section shows no session of the book's name server")
	}
	session, _, _ = strings.Cut(session, "```")
	prompt := regexp.MustCompile(`^\(bilbo@HOST\)\d+> (.*)$`)
	var line string
	var want []string
	typed := 0
	run := func() {
		if line == "" {
			return
		}
		// Piped input names the input in its error lines, where a
		// terminal's prompt shows only "** error: …".
		got := regexp.MustCompile(`(?m)^input:\d+: `).ReplaceAllString(bilbo.eval(line), "")
		if got != strings.Join(want, "\n") {
			t.Errorf("bilbo on beta typed %s\nand got:\n%s\nwhere the README shows:\n%s", line, got, strings.Join(want, "\n"))
		}
		typed++
	}
	for _, l := range strings.Split(strings.TrimSpace(session), "\n") {
		l = strings.ReplaceAll(l, "127.0.0.1", alpha.FQDN)
		if m := prompt.FindStringSubmatch(l); m != nil {
			run()
			line, want = m[1], nil
			continue
		}
		want = append(want, l)
	}
	run()
	if typed < 5 {
		t.Fatalf("the section's session has %d inputs, want 5 at least", typed)
	}

	// Beyond the section: kvs.start is not exposed either; each refusal
	// is logged on alpha with beta's address (log lines come as they
	// happen, so gandalf's prompt is read past them); what bilbo stored
	// is in gandalf's kvs on alpha.
	if got := bilbo.eval(`c.Call("kvs.start")`); !strings.HasSuffix(got, "** error: service nameServer exposes kvs.store, kvs.lookup, not kvs.start: not exposed by the service") {
		t.Errorf(`c.Call("kvs.start"): %s`, got)
	}
	for _, l := range []string{
		`refused a call of "os.ReadFile" from a client of service nameServer at ` + beta.IP + ":",
		`refused a call of "kvs.start" from a client of service nameServer at ` + beta.IP + ":",
		"refused a client of service nameServer at " + beta.IP + ":",
	} {
		gandalf.mark = max(gandalf.mark, gandalf.out.WaitFor(t, 0, l, 10*time.Second))
	}
	gandalf.mark = gandalf.out.WaitFor(t, gandalf.mark, "\n", 10*time.Second)
	if got := gandalf.eval(`kvs.lookup("weather")`); got != "fine" {
		t.Errorf(`gandalf's kvs.lookup("weather"): %s`, got)
	}
	if got := bilbo.eval(`c.Call("store", "ring", "precious")`); got != "true" {
		t.Errorf("a store after the refusals: %s", got)
	}
	if got := gandalf.eval(`kvs.lookup("ring")`); got != "precious" {
		t.Errorf(`gandalf's kvs.lookup("ring"): %s`, got)
	}
	if got := gandalf.eval("nodes()"); got != "[]" {
		t.Errorf("gandalf's nodes(): %s", got)
	}
	if strings.Contains(gandalf.out.String(), "bilbo") {
		t.Errorf("gandalf heard of bilbo:\n%s", gandalf.out)
	}
	t.Logf("followed the README's name server session from beta to alpha: %d inputs", typed)
}

// rssKB is the resident memory of process pid in KiB, 0 when unknown.
func rssKB(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	return 0
}
