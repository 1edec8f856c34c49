package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pipeGsh runs gsh with src as its piped input and returns what it printed
// on stdout and stderr.
func pipeGsh(t *testing.T, port, name, src string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gshBin, "-sname", name, "-epmd_port", port, "-addr", "127.0.0.1")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GSH_COOKIE=abc")
	cmd.Stdin = strings.NewReader(src)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

var pidRE = regexp.MustCompile(`<[^<>]+\.\d+>`)

// TestPromptProcessSurvivesLinkedCrash: when a process linked to the
// prompt's crashes, the prompt prints the exit, as erl does, and goes on in
// a new process: a new pid, a mailbox, monitors and flush() that work.
func TestPromptProcessSurvivesLinkedCrash(t *testing.T) {
	_, port := privateMapper(t)

	// The session of the report, as typed.
	out := pipeGsh(t, port, "lk", "spawn_link(func(){ panic(\"boom\") })\ntime.Sleep(100*time.Millisecond)\nsend(self(),\"hello\")\nreceive(100*time.Millisecond)\nself()\n")
	if !strings.Contains(out, "** exception exit: boom\n") {
		t.Errorf("no exit printed:\n%s", out)
	}
	// (Its receive gets hello unless the crash took longer than the
	// session's 100 ms sleep: the second session waits for it.)
	if strings.Contains(out, "process exited") || strings.Contains(out, "** error") {
		t.Errorf("the prompt's receive after the crash failed:\n%s", out)
	}

	// The new process is another pid; monitors, flush() and i() work.
	out = pipeGsh(t, port, "lk2", strings.Join([]string{
		`first := self()`,
		`spawn_link(func(){ panic("boom") })`,
		`for k := 0; self() == first && k < 10000; k++ { time.Sleep(time.Millisecond) }`,
		`self() != first`,
		`ref := monitor(spawn(func(){ panic("again") }))`,
		`m := receive(5*time.Second); m.(Down).Ref == ref`,
		`send(self(), "hello"); receive(5*time.Second)`,
		`send(self(), "queued")`,
		`flush()`,
		`i()`,
		`"end"`,
	}, "\n")+"\n")
	if strings.Count(out, "** exception exit: boom\n") != 1 {
		t.Errorf("the exit is not printed once:\n%s", out)
	}
	if strings.Count(out, "\ntrue\n") != 2 {
		t.Errorf("no new pid, or no Down message:\n%s", out)
	}
	if !strings.Contains(out, "\nhello\nqueued\n") || !strings.Contains(out, "Shell got queued\n") {
		t.Errorf("flush() after the crash:\n%s", out)
	}
	pids := pidRE.FindAllString(out, -1)
	if len(pids) < 2 {
		t.Fatalf("no pids in:\n%s", out)
	}
	if !regexp.MustCompile(`<[^<>]+>\s+shell \(the prompt\)`).MatchString(out) || !strings.HasSuffix(out, "end\n") {
		t.Errorf("i() does not list the prompt's new process:\n%s", out)
	}
	if strings.Contains(out, "** error") {
		t.Errorf("an input failed:\n%s", out)
	}
}

// TestPromptTrapsExits: with trap_exit on, a linked crash is an Exit
// message to the prompt, whose process lives on.
func TestPromptTrapsExits(t *testing.T) {
	_, port := privateMapper(t)
	out := pipeGsh(t, port, "trap", strings.Join([]string{
		`first := self()`,
		`process_flag("trap_exit", true)`,
		`p := spawn_link(func(){ panic("boom") })`,
		`m := receive(5*time.Second); m.(Exit).From == p`,
		`m.(Exit).Reason`,
		`self() == first`,
	}, "\n")+"\n")
	if !strings.HasSuffix(out, "true\nboom\ntrue\n") || strings.Contains(out, "exception exit") {
		t.Errorf("trapped exit:\n%s", out)
	}
}
