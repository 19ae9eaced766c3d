package bridged

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The test binary doubles as a provider process that only watches the engine.
func TestMain(m *testing.M) {
	if addr := os.Getenv("RWK_TEST_WATCH_ENGINE"); addr != "" {
		exitWhenEngineGone([]string{"-v=9", addr})
		select {}
	}
	os.Exit(m.Run())
}

func TestExitWhenEngineGone(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	engine := grpc.NewServer()
	healthpb.RegisterHealthServer(engine, health.NewServer())
	go func() { _ = engine.Serve(lis) }()
	defer engine.Stop()

	prov := exec.Command(os.Args[0])
	prov.Env = append(os.Environ(), "RWK_TEST_WATCH_ENGINE="+lis.Addr().String())
	if err := prov.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = prov.Process.Kill() }()
	exited := make(chan error, 1)
	go func() { exited <- prov.Wait() }()

	select {
	case err := <-exited:
		t.Fatalf("the provider exited while the engine still answered: %v", err)
	case <-time.After(3 * engineCheckEvery):
	}
	engine.Stop()
	select {
	case <-exited:
	case <-time.After(engineCheckEvery + 5*time.Second):
		t.Fatal("the provider outlived the engine")
	}
}
