package cmdprov

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// A killed `pulumi up` stops its plugins no other way: when the engine stops answering, the provider
// must stop the commands it started, including what they started and what ignores SIGTERM, and exit.
func TestEngineGoneStopsCommandsAndServing(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	engine := grpc.NewServer()
	healthpb.RegisterHealthServer(engine, health.NewServer())
	go func() { _ = engine.Serve(lis) }()
	defer engine.Stop()

	p := New("1.2.3")
	portR, portW := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- serve(context.Background(), p, lis.Addr().String(), portW) }()
	port, err := bufio.NewReader(portR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()

	dir := t.TempDir()
	// The shell and its child both ignore SIGTERM (ignored signals are inherited).
	inputs := check(t, p, localCommand, props(map[string]any{"create": "trap '' TERM; sleep 300 & echo $! > " +
		filepath.Join(dir, "child") + "; echo $$ > " + filepath.Join(dir, "shell") + "; wait"}))
	created := make(chan error, 1)
	go func() {
		_, err := pulumirpc.NewResourceProviderClient(conn).Create(context.Background(), &pulumirpc.CreateRequest{
			Urn: urnOf(localCommand, "r"), Type: localCommand, Name: "r", Properties: toStruct(t, inputs)})
		created <- err
	}()
	shell, child := readPid(t, dir, "shell"), readPid(t, dir, "child")

	time.Sleep(3 * engineCheckEvery)
	if !alive(shell) || !alive(child) {
		t.Fatal("the command was stopped while the engine still answered")
	}

	engine.Stop()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(engineCheckEvery + stopGrace + 5*time.Second):
		t.Fatal("the provider outlived the engine")
	}
	if err := <-created; err == nil {
		t.Fatal("the interrupted create should fail")
	}
	for _, pid := range []int{shell, child} {
		if alive(pid) {
			t.Errorf("process %d of the command outlived the provider", pid)
		}
	}
}

func readPid(t *testing.T, dir, name string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command did not write %s", name)
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
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}
