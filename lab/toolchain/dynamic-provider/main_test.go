package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The test binary doubles as the wrapper, so the test runs the real main without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("RWK_TEST_RUN_WRAPPER") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// fakeNode stands in for node: it resolves the provider script to a dummy path, and "runs" it as a
// shell that starts a child, ignores SIGTERM (so does the child: ignored signals are inherited), and
// prints a port the way the dynamic provider does.
const fakeNode = `#!/bin/sh
if [ "$1" = -e ]; then printf /fake/dynamic-provider; exit 0; fi
trap '' TERM
sleep 300 &
echo $! > "$PIDS/child"
echo $$ > "$PIDS/node"
echo 12345
wait
`

func TestEngineGoneStopsTheProviderTree(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "node"), []byte(fakeNode), 0o755); err != nil {
		t.Fatal(err)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	engine := grpc.NewServer()
	healthpb.RegisterHealthServer(engine, health.NewServer())
	go func() { _ = engine.Serve(lis) }()
	defer engine.Stop()

	wrapper := exec.Command(os.Args[0], lis.Addr().String())
	wrapper.Env = append(os.Environ(), "RWK_TEST_RUN_WRAPPER=1", "PIDS="+dir, "PATH="+dir+":"+os.Getenv("PATH"))
	// As the engine starts plugins: leader of a new process group.
	wrapper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := wrapper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := wrapper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-wrapper.Process.Pid, syscall.SIGKILL) }()
	exited := make(chan error, 1)
	port, _ := bufio.NewReader(stdout).ReadString('\n')
	go func() { exited <- wrapper.Wait() }()
	if strings.TrimSpace(port) != "12345" {
		t.Fatalf("the wrapper should pass the provider's port through, got %q", port)
	}
	nodePid, childPid := readPid(t, dir, "node"), readPid(t, dir, "child")

	// Several health checks pass while the engine answers.
	time.Sleep(3 * checkEvery)
	if !alive(nodePid) || !alive(childPid) {
		t.Fatal("the provider was stopped while the engine still answered")
	}

	engine.Stop()
	select {
	case <-exited:
	case <-time.After(checkEvery + killGrace + 5*time.Second):
		t.Fatal("the wrapper outlived the engine")
	}
	for _, pid := range []int{nodePid, childPid} {
		deadline := time.Now().Add(2 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d outlived the engine", pid)
		}
	}
}

func readPid(t *testing.T, dir, name string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid file %s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive is false for a process that is gone or a zombie (an orphan waiting for a reaper is already dead).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
