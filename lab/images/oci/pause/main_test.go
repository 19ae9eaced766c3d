package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary plays every process of these tests, chosen by this variable.
const roleEnv = "PAUSE_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "pause":
		signals := listen()
		fmt.Println("ready")
		serve(signals)
	case "orphan-maker":
		os.Exit(makeOrphan(os.Getenv("PAUSE_TEST_INIT")))
	case "orphan-parent":
		if err := role("orphan").Start(); err != nil {
			fmt.Fprintln(os.Stderr, "orphan-parent:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "orphan":
		// Outlives its parent long enough to be seen adopted by pause, then exits for pause to reap.
		time.Sleep(time.Second)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func role(name string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), roleEnv+"="+name), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// startPause runs pause as PID 1 of a new PID namespace, as in a pod sandbox, and returns once it
// handles signals; done receives its exit.
func startPause(t *testing.T) (cmd *exec.Cmd, done <-chan error) {
	if os.Geteuid() != 0 {
		t.Skip("creating a PID namespace needs root")
	}
	cmd = role("pause")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	ready, exited := make(chan struct{}), make(chan error, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if lines.Text() == "ready" {
				close(ready)
			} else {
				t.Logf("pause: %s", lines.Text())
			}
		}
		exited <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("pause exited before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("pause did not start")
	}
	return cmd, exited
}

// stop signals pause and expects it to exit with status 0.
func stop(t *testing.T, cmd *exec.Cmd, done <-chan error, sig syscall.Signal) {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pause exited on %v with %v, want status 0", sig, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("pause did not exit on %v", sig)
	}
}

func TestExitsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, done := startPause(t)
			stop(t, cmd, done, sig)
		})
	}
}

// makeOrphan leaves an orphan in the PID namespace whose init is pid: it starts a parent there that
// starts the orphan and exits at once. (An orphan whose parent is outside the namespace would go to that
// parent's reaper instead.)
func makeOrphan(pid string) int {
	// setns changes the PID namespace of this thread's future children only: the fork must happen on it.
	runtime.LockOSThread()
	fd, err := unix.Open("/proc/"+pid+"/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Setns(fd, unix.CLONE_NEWPID)
	}
	if err == nil {
		err = role("orphan-parent").Run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "orphan-maker:", err)
		return 1
	}
	return 0
}

// children lists the PIDs of a process's children, as seen from here.
func children(t *testing.T, pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestReapsOrphans(t *testing.T) {
	cmd, done := startPause(t)
	pause := cmd.Process.Pid
	if err := role("orphan-maker", fmt.Sprintf("PAUSE_TEST_INIT=%d", pause)).Run(); err != nil {
		t.Fatalf("orphan-maker: %v", err)
	}
	adopted := children(t, pause)
	if len(adopted) != 1 {
		t.Fatalf("pause has children %v, want the one orphan", adopted)
	}
	orphan := adopted[0]
	for deadline := time.Now().Add(5 * time.Second); len(children(t, pause)) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			stat, _ := os.ReadFile("/proc/" + orphan + "/stat")
			t.Fatalf("orphan %s still a child of pause 5 s on (stat: %s): not reaped", orphan, strings.TrimSpace(string(stat)))
		}
	}
	if _, err := os.Stat("/proc/" + orphan); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("orphan %s left pause but still exists", orphan)
	}
	stop(t, cmd, done, syscall.SIGTERM)
}
