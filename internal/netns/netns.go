// Package netns makes hosts for tests out of Linux network namespaces: each
// host is a namespace with one interface on a shared switch (a bridge in a
// namespace of its own), an address that exists only inside the test's
// namespaces, and its own /etc/hosts (ip netns exec mounts
// /etc/netns/NAMESPACE/hosts over /etc/hosts) naming every host of the
// test. Programs run on a host through "ip netns exec". Everything a Net
// makes — namespaces, links, /etc/netns folders and the processes left in
// its namespaces — is removed when the test ends, even when it fails.
//
// It needs root and the ip command (iproute2); New skips the test, with one
// line saying why, when the machine does not allow it.
package netns

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Domain is the domain of the hosts' names: alpha.gsh.test.
const Domain = "gsh.test"

// Subnet is where the hosts' addresses are: 10.231.0.1 for the first host,
// 10.231.0.2 for the next.
const Subnet = "10.231.0."

// Host is one machine of a Net.
type Host struct {
	Name string // "alpha"
	FQDN string // "alpha.gsh.test"
	IP   string // "10.231.0.1"
	NS   string // its network namespace
	port string // the other end of its link, on the switch
	net  *Net
}

// Net is hosts joined by one switch.
type Net struct {
	t      testing.TB
	sw     string // the switch's namespace
	hosts  []*Host
	prefix string
}

var seq atomic.Int64

// New makes one host per name, all on one switch. It skips the test when
// not run as root, when ip is missing, or when the kernel refuses a network
// namespace.
func New(t testing.TB, names ...string) *Net {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root: the hosts suite runs as root (as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2): the hosts suite needs it")
	}
	n := &Net{t: t, prefix: fmt.Sprintf("gsh%d-%d", os.Getpid(), seq.Add(1))}
	n.sw = n.prefix + "-sw"
	if out, err := ip("netns", "add", n.sw); err != nil {
		t.Skipf("this machine refuses network namespaces (ip netns add: %v: %s)", err, strings.TrimSpace(out))
	}
	t.Cleanup(n.remove)
	n.must("-n", n.sw, "link", "add", "sw", "type", "bridge")
	n.must("-n", n.sw, "link", "set", "sw", "up")
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	for i, name := range names {
		h := &Host{
			Name: name,
			FQDN: name + "." + Domain,
			IP:   Subnet + strconv.Itoa(i+1),
			NS:   n.prefix + "-" + name,
			port: "p" + strconv.Itoa(i+1),
			net:  n,
		}
		n.hosts = append(n.hosts, h)
		fmt.Fprintf(&hosts, "%s %s %s\n", h.IP, h.FQDN, h.Name)
	}
	for _, h := range n.hosts {
		n.must("netns", "add", h.NS)
		// Made inside the switch's namespace with the host's end sent
		// straight to the host: no interface ever exists outside the
		// test's namespaces.
		n.must("-n", n.sw, "link", "add", h.port, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
		n.must("-n", n.sw, "link", "set", h.port, "master", "sw", "up")
		n.must("-n", h.NS, "addr", "add", h.IP+"/24", "dev", "eth0")
		n.must("-n", h.NS, "link", "set", "eth0", "up")
		n.must("-n", h.NS, "link", "set", "lo", "up")
		dir := filepath.Join("/etc/netns", h.NS)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("making %s: %v", dir, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts.String()), 0o644); err != nil {
			t.Fatalf("writing %s/hosts: %v", dir, err)
		}
	}
	return n
}

// Hosts lists the hosts in the order New was given their names.
func (n *Net) Hosts() []*Host { return n.hosts }

// Host returns the host called name.
func (n *Net) Host(name string) *Host {
	for _, h := range n.hosts {
		if h.Name == name {
			return h
		}
	}
	n.t.Fatalf("no host %s", name)
	return nil
}

// Command is a command that runs on the host.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Cut takes the host's link to the switch down: it is cut off from every
// other host, silently (nothing is sent to either side).
func (h *Host) Cut() { h.net.must("-n", h.net.sw, "link", "set", h.port, "down") }

// Mend brings the host's link back.
func (h *Host) Mend() { h.net.must("-n", h.net.sw, "link", "set", h.port, "up") }

// Netem shapes what the host sends with tc netem (args as tc takes them
// after "netem": "delay", "20ms", "5ms", "loss", "1%"). It returns an error
// when the kernel has no netem queueing discipline.
func (h *Host) Netem(args ...string) error {
	out, err := exec.Command("tc", append([]string{"-n", h.NS, "qdisc", "replace", "dev", "eth0", "root", "netem"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("tc netem on %s: %v: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ClearNetem removes what Netem set.
func (h *Host) ClearNetem() {
	exec.Command("tc", "-n", h.NS, "qdisc", "del", "dev", "eth0", "root").Run()
}

// Pids lists the processes running in the host's namespace.
func (h *Host) Pids() []int {
	out, _ := ip("netns", "pids", h.NS)
	var pids []int
	for _, f := range strings.Fields(out) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

func (n *Net) must(args ...string) {
	n.t.Helper()
	if out, err := ip(args...); err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
	}
}

func ip(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	return string(out), err
}

// remove ends the processes left on the hosts, then removes the namespaces
// (which takes their links with them) and the /etc/netns folders. It
// checks that nothing is left.
func (n *Net) remove() {
	for _, h := range n.hosts {
		for _, p := range h.Pids() {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	for _, h := range n.hosts {
		deadline := time.Now().Add(5 * time.Second)
		for len(h.Pids()) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // a killed process takes a moment to be reaped
		}
		if ps := h.Pids(); len(ps) > 0 {
			n.t.Errorf("processes %v still run on %s", ps, h.Name)
		}
		if out, err := ip("netns", "del", h.NS); err != nil {
			n.t.Errorf("removing namespace %s: %v: %s", h.NS, err, out)
		}
		if err := os.RemoveAll(filepath.Join("/etc/netns", h.NS)); err != nil {
			n.t.Errorf("removing /etc/netns/%s: %v", h.NS, err)
		}
	}
	if out, err := ip("netns", "del", n.sw); err != nil {
		n.t.Errorf("removing namespace %s: %v: %s", n.sw, err, out)
	}
	os.Remove("/etc/netns") // when no other namespace has a folder there
	if out, _ := ip("netns", "list"); strings.Contains(out, n.prefix) {
		n.t.Errorf("namespaces left behind:\n%s", out)
	}
}
