package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// peakRSS runs cmd, not yet started, to its end and returns the peak
// resident memory of its process (VmHWM in /proc/PID/status) in KiB, read
// at the moment the process exits, and the name of the program it ran then
// (status's Name: "beam.smp" for erl, which is a shell script that execs
// erlexec, which execs the VM in the same process).
//
// The child's rusage Maxrss is no use here: on Linux it also counts the
// memory of the parent from before exec, so a start-up measured from this
// program would report this program's size. VmHWM belongs to the memory
// the process has after its last exec. The process is traced (ptrace) only
// to stop it at its exit, while that memory is still there; its other
// signals are passed on as they come, and the processes it starts are not
// traced.
func peakRSS(cmd *exec.Cmd) (kib int, name string, err error) {
	// Every ptrace request must come from the thread that started the
	// traced process.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Ptrace = true
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	pid := cmd.Process.Pid
	kib, name, err = traceToExit(pid)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 0, "", err
	}
	if err := cmd.Wait(); err != nil {
		return 0, "", err
	}
	return kib, name, nil
}

// traceToExit follows the traced process pid, stopped at its first exec,
// to its exit stop, reads its status there and lets it go.
func traceToExit(pid int) (kib int, name string, err error) {
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, "", fmt.Errorf("waiting for the traced process: %w", err)
	}
	if !ws.Stopped() {
		return 0, "", fmt.Errorf("the traced process did not stop at its exec: %v", ws)
	}
	if err := syscall.PtraceSetOptions(pid, syscall.PTRACE_O_TRACEEXIT|syscall.PTRACE_O_TRACEEXEC); err != nil {
		return 0, "", fmt.Errorf("setting ptrace options: %w", err)
	}
	sig := 0
	for {
		if err := syscall.PtraceCont(pid, sig); err != nil {
			return 0, "", fmt.Errorf("continuing the traced process: %w", err)
		}
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			return 0, "", fmt.Errorf("waiting for the traced process: %w", err)
		}
		switch {
		case ws.Exited() || ws.Signaled():
			return 0, "", errors.New("the traced process ended without an exit stop")
		case !ws.Stopped():
			sig = 0
		case ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() == syscall.PTRACE_EVENT_EXIT:
			kib, name, err := readPeak(pid)
			if derr := syscall.PtraceDetach(pid); err == nil && derr != nil {
				err = fmt.Errorf("letting the traced process go: %w", derr)
			}
			return kib, name, err
		case ws.StopSignal() == syscall.SIGTRAP:
			sig = 0 // an exec, or a trap of the tracing itself
		default:
			sig = int(ws.StopSignal())
		}
	}
}

// readPeak reads Name and VmHWM from /proc/pid/status.
func readPeak(pid int) (kib int, name string, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, "", err
	}
	return parseStatus(b)
}

// parseStatus reads Name and VmHWM (in kB) from a /proc/PID/status.
func parseStatus(b []byte) (kib int, name string, err error) {
	kib = -1
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			name = v
		case "VmHWM":
			n, err := strconv.Atoi(strings.TrimSuffix(v, " kB"))
			if err != nil {
				return 0, "", fmt.Errorf("VmHWM %q: %w", v, err)
			}
			kib = n
		}
	}
	if kib < 0 {
		return 0, "", errors.New("the process status has no VmHWM")
	}
	return kib, name, nil
}
