package scripts

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gsh/cluster"
	"gsh/cluster/portmap"
	"gsh/internal/gshtest"
)

var update = flag.Bool("update", false, "rewrite the Output blocks of the sessions")

var gshBin string

func TestMain(m *testing.M) {
	flag.Parse()
	gshtest.Main(m, &gshBin)
}

// session is a parsed .gsh file.
type session struct {
	flags  []string
	peers  [][]string // name, then flags
	exit   int        // the exit code the session ends with
	piped  bool       // "// piped": the file is gsh's stdin, as in gsh < file.gsh
	body   string     // the file up to its Output block
	output string     // the expected output
}

const outputMark = "// Output:"

func parseSession(src string) (session, error) {
	var s session
	body, out, found := strings.Cut(src, outputMark+"\n")
	if !found {
		body, _, found = strings.Cut(src, outputMark)
	}
	s.body = body
	if found {
		var lines []string
		for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			l = strings.TrimPrefix(l, "//")
			lines = append(lines, strings.TrimPrefix(l, " "))
		}
		if len(lines) > 0 {
			s.output = strings.Join(lines, "\n") + "\n"
		}
	}
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, "//") {
			if strings.HasPrefix(l, "#!") {
				continue
			}
			break
		}
		l = strings.TrimSpace(strings.TrimPrefix(l, "//"))
		switch {
		case strings.HasPrefix(l, "gsh:"):
			f, err := splitArgs(strings.TrimPrefix(l, "gsh:"))
			if err != nil {
				return s, err
			}
			s.flags = append(s.flags, f...)
		case l == "piped":
			s.piped = true
		case strings.HasPrefix(l, "exit:"):
			if _, err := fmt.Sscan(strings.TrimPrefix(l, "exit:"), &s.exit); err != nil {
				return s, fmt.Errorf("bad exit line %q: %v", l, err)
			}
		case strings.HasPrefix(l, "peer:"):
			f, err := splitArgs(strings.TrimPrefix(l, "peer:"))
			if err != nil || len(f) == 0 {
				return s, fmt.Errorf("bad peer line %q: %v", l, err)
			}
			s.peers = append(s.peers, f)
		}
	}
	return s, nil
}

// splitArgs splits a header line into words; single quotes group.
func splitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted = !quoted
			in = true
		case (r == ' ' || r == '\t') && !quoted:
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unclosed quote in %q", s)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

func TestSessions(t *testing.T) {
	files, err := filepath.Glob("*.gsh")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sessions: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(file, ".gsh"), func(t *testing.T) {
			t.Parallel()
			runSession(t, file)
		})
	}
}

func runSession(t *testing.T, file string) {
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseSession(string(src))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := portmap.NewServer()
	go m.Serve(ln)
	defer m.Close()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "GSH_EPMD_PORT="+port, "GSH_COOKIE=gsh-scripts")
	common := []string{"-addr", "127.0.0.1"}

	for _, p := range s.peers {
		args := append([]string{"-sname", p[0]}, common...)
		args = append(args, "-noshell")
		rest := p[1:]
		eval := `"ready"`
		for i := 0; i < len(rest); i++ {
			if rest[i] == "-eval" && i+1 < len(rest) {
				eval = rest[i+1] + "\n" + eval
				i++
				continue
			}
			args = append(args, rest[i])
		}
		args = append(args, "-eval", eval)
		cmd := exec.Command(gshBin, args...)
		cmd.Env = env
		out := gshtest.NewOutput()
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("peer %s printed:\n%s", p[0], out)
			}
		}()
		out.WaitFor(t, 0, "ready", 20*time.Second)
	}

	flags := s.flags
	if len(flags) == 0 {
		flags = []string{"-sname", "session"}
	}
	args := append(append([]string{}, flags...), common...)
	if !s.piped {
		args = append(args, file)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gshBin, args...)
	if s.piped {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	got := strings.ReplaceAll(stdout.String(), "@"+cluster.ShortHostname(), "@HOST")
	if *update {
		rewrite(t, file, s, got)
		return
	}
	if code := cmd.ProcessState.ExitCode(); code != s.exit {
		t.Errorf("gsh %s: exit code %d, want %d (%v)\nstderr:\n%s", strings.Join(args, " "), code, s.exit, runErr, stderr.String())
	}
	if got != s.output {
		t.Errorf("%s: output differs (go test ./scripts -update rewrites it)\n--- got\n%s--- want\n%s--- stderr\n%s", file, got, s.output, stderr.String())
	}
}

func rewrite(t *testing.T, file string, s session, got string) {
	var b strings.Builder
	b.WriteString(strings.TrimRight(s.body, "\n"))
	b.WriteString("\n\n" + outputMark + "\n")
	for _, l := range strings.Split(strings.TrimRight(got, "\n"), "\n") {
		if l == "" {
			b.WriteString("//\n")
			continue
		}
		b.WriteString("// " + l + "\n")
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
