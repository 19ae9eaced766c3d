// Command pulumi-resource-pulumi-nodejs starts Pulumi's Node.js dynamic provider the way the SDK's script of
// the same name does, and also ends it when the engine goes away. The SDK's provider never checks on the
// engine, so after a killed `pulumi up` it (and whatever its create started) would run on forever.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const (
	// checkEvery bounds how long the provider outlives the engine; a health check is one small local RPC.
	checkEvery = time.Second
	// killGrace is how long SIGTERM gets before SIGKILL. The engine's own shutdown waits 5 s after its
	// SIGINT before it kills the process group, so this stays below that.
	killGrace = 2 * time.Second
)

func main() {
	code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-pulumi-nodejs: %v\n", err)
	}
	os.Exit(code)
}

func run(args []string) (int, error) {
	script, err := dynamicProviderScript()
	if err != nil {
		return 1, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gone <-chan struct{}
	// The engine passes its address last, after any logging and tracing flags.
	if len(args) > 0 {
		if gone, err = watchEngine(ctx, args[len(args)-1]); err != nil {
			return 1, err
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)

	node := exec.Command("node", append([]string{script}, args...)...)
	node.Stdin, node.Stdout, node.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := node.Start(); err != nil {
		return 1, err
	}
	exited := make(chan struct{})
	go func() { _ = node.Wait(); close(exited) }()

	for {
		select {
		case <-exited:
			return exitCode(node.ProcessState), nil
		case sig := <-sigs:
			// The engine interrupts the whole process group, but anyone else signals only us.
			_ = node.Process.Signal(sig)
		case <-gone:
			// Nothing is reported: whoever would read it is gone.
			stopTree(node, exited)
			return 1, nil
		}
	}
}

// dynamicProviderScript resolves the provider from the program's directory (our working directory) with
// node's own module resolution, as the SDK's script does.
func dynamicProviderScript() (string, error) {
	out, err := exec.Command("node", "-e",
		`process.stdout.write(require.resolve("@pulumi/pulumi/cmd/dynamic-provider"))`).Output()
	if err != nil {
		return "", fmt.Errorf("could not resolve @pulumi/pulumi/cmd/dynamic-provider from %s: %w", cwd(), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func cwd() string {
	d, _ := os.Getwd()
	return d
}

// watchEngine returns a channel that is closed once the engine at addr stops answering health checks.
// Engines that do not implement the health service still answer with Unimplemented, which counts as alive.
func watchEngine(ctx context.Context, addr string) (<-chan struct{}, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("engine address %q: %w", addr, err)
	}
	health := healthpb.NewHealthClient(conn)
	gone := make(chan struct{})
	go func() {
		defer func() { _ = conn.Close() }()
		tick := time.NewTicker(checkEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// No deadline: a busy engine is slow, not gone. A dead one refuses the connection at once.
			_, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil && status.Code(err) != codes.Unimplemented && ctx.Err() == nil {
				close(gone)
				return
			}
		}
	}()
	return gone, nil
}

// stopTree ends node and what it started. The engine starts every plugin as the leader of its own process
// group, so the group is node and all its descendants (plus us); started any other way, only node is ours
// to stop.
func stopTree(node *exec.Cmd, exited <-chan struct{}) {
	signalTree := func(sig syscall.Signal) { _ = node.Process.Signal(sig) }
	if pid := os.Getpid(); syscall.Getpgrp() == pid {
		signalTree = func(sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }
	}
	signalTree(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(killGrace):
	}
	// Also reaches children that outlived node or ignore SIGTERM. In a group we lead it ends us as well;
	// with the engine gone nobody is waiting for our exit status.
	signalTree(syscall.SIGKILL)
}

func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
