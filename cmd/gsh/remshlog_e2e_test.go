package main

import (
	"testing"
	"time"

	"gsh/cluster"
)

// TestRemoteShellIsLogged: the node a remote shell evaluates on logs who
// opened it, from where and when, and when it closed: by its client, or
// by its node going down.
func TestRemoteShellIsLogged(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	args := []string{"-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1"}
	gandalf := startGsh(t, nil, append([]string{"-sname", "gandalf"}, args...)...)
	gandalf.send(`"up"`)
	gandalf.expect("up")

	bilbo := startGsh(t, nil, append([]string{"-sname", "bilbo", "-remsh", "gandalf"}, args...)...)
	gandalf.expect("remote shell bilbo@" + host + "/")
	gandalf.expect(" opened by bilbo@" + host + " (127.0.0.1:")
	gandalf.expect(" at " + time.Now().Format("2006-01-02T"))
	bilbo.send(`node()`)
	bilbo.expect("gandalf@" + host)
	bilbo.in.Close() // the end of its input ends the remote shell
	<-bilbo.done
	gandalf.expect("remote shell bilbo@" + host + "/")
	gandalf.expect(" of bilbo@" + host + " (127.0.0.1:")
	gandalf.expect(" closed (closed by its client) after ")

	frodo := startGsh(t, nil, append([]string{"-sname", "frodo", "-remsh", "gandalf"}, args...)...)
	gandalf.expect(" opened by frodo@" + host)
	frodo.send(`node()`)
	frodo.expect("gandalf@" + host)
	frodo.cmd.Process.Kill()
	gandalf.expect(" closed (frodo@" + host + " went down) after ")
}
