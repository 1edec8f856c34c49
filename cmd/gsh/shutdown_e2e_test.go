package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"gsh/cluster"
)

// TestSIGTERMEndsNodeServingStuckCalls: SIGTERM ends a node that serves
// calls that do not stop when told to, within the shutdown grace, and the
// node says which calls it abandoned.
func TestSIGTERMEndsNodeServingStuckCalls(t *testing.T) {
	_, port := privateMapper(t)
	addr := net.JoinHostPort("127.0.0.1", port)
	host := cluster.ShortHostname()
	args := func(name string) []string {
		return []string{"-sname", name, "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1"}
	}
	s := startGsh(t, nil, args("stuck")...)
	// A plain channel operation: Ctrl-C and deadlines cannot stop it.
	s.send(`func hold() int { fmt.Println("HOLDING"); return <-make(chan int) }`)
	s.send(`"defined"`)
	s.expect("defined")
	b := startGsh(t, nil, args("bilbo")...)
	stuck := `"stuck@` + host + `"`
	b.send(`spawn(func() { rpc.call(` + stuck + `, "time", "Sleep", time.Hour) })`)
	b.send(`rpc.call(` + stuck + `, "main", "hold")`)
	b.expect("HOLDING") // what a served call prints goes to its caller

	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(shutdownGrace + 5*time.Second):
		t.Fatalf("stuck still runs %v after SIGTERM", time.Since(start))
	}
	t.Logf("stuck exited %v after SIGTERM", time.Since(start))
	s.expect("gsh: shutdown abandoned ")
	s.expect("main.hold from bilbo@" + host)
	b.expect("node down")
	mapperHas(t, addr, "stuck", false)
}

// TestExitDeliversWhatWasSent: a gsh that sends and casts and exits at
// once (the end of -eval) delivers all of it first.
func TestExitDeliversWhatWasSent(t *testing.T) {
	_, port := privateMapper(t)
	host := cluster.ShortHostname()
	args := func(name string) []string {
		return []string{"-sname", name, "-setcookie", "abc", "-epmd_port", port, "-addr", "127.0.0.1"}
	}
	k := startGsh(t, nil, args("keeper")...)
	k.send(`kvs.start()`)
	k.send(`func put(key, v string) { kvs.store(key, v); fmt.Println("STORED", key, v) }`)
	k.send(`register("inbox", spawn(func() { for { fmt.Println("GOT", receive()) } }))`)
	k.send(`"ready"`)
	k.expect("ready")
	keeper := `"keeper@` + host + `"`
	const runs = 5
	for i := range runs {
		eval := fmt.Sprintf(`net_adm.ping(%s); rpc.cast(%s, "main", "put", "k%d", "v%d"); send(at("inbox", %s), "m%d")`,
			keeper, keeper, i, i, keeper, i)
		cmd := exec.Command(gshBin, append(args(fmt.Sprint("sender", i)), "-eval", eval)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sender %d: %v\n%s", i, err, out)
		}
	}
	from := k.mark
	for i := range runs {
		for _, want := range []string{fmt.Sprintf("STORED k%d v%d\n", i, i), fmt.Sprintf("GOT m%d\n", i)} {
			k.out.WaitFor(t, from, want, 10*time.Second)
		}
	}
	k.send(`kvs.lookup("k4")`)
	k.expect("v4")
}
