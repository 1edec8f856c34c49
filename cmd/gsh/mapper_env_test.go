package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// findMapper returns the pid of the running "gsh -portmapper -epmd_port
// port", or 0.
func findMapper(port int) int {
	want := []byte("\x00-portmapper\x00-epmd_port\x00" + strconv.Itoa(port) + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmdline, err := os.ReadFile(d + "/cmdline")
		if err == nil && bytes.HasSuffix(cmdline, want) {
			pid, _ := strconv.Atoi(filepath.Base(d))
			return pid
		}
	}
	return 0
}

// TestMapperStartedWithoutCookie: the port mapper a node starts outlives
// it, so it must not carry the node's cookie: its environment has no
// GSH_COOKIE.
func TestMapperStartedWithoutCookie(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("needs /proc")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing answers on this port: the node starts a mapper there
	const secret = "mapper-must-not-see-this-cookie"
	p := startGsh(t, []string{"GSH_COOKIE=" + secret}, "-sname", "samwise", "-epmd_port", fmt.Sprint(port), "-addr", "127.0.0.1")
	p.send("node()")
	p.expect("samwise@")
	pid := findMapper(port)
	if pid == 0 {
		t.Fatalf("no gsh -portmapper -epmd_port %d is running", port)
	}
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		// It is the node's child, not ours: wait until it is gone.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(10 * time.Second)
		for findMapper(port) == pid {
			select {
			case <-tick.C:
			case <-deadline:
				t.Errorf("the port mapper (pid %d) outlived SIGKILL", pid)
				return
			}
		}
	})
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		if bytes.Contains(kv, []byte("GSH_COOKIE")) || bytes.Contains(kv, []byte(secret)) {
			t.Errorf("the port mapper's environment holds the cookie: %q", kv)
		}
	}
	if !bytes.Contains(env, []byte("HOME=")) {
		t.Errorf("the port mapper lost the rest of its environment (no HOME)")
	}
}
