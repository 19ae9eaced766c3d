// Command pause is the first process of every pod sandbox (registry.k8s.io/pause): it holds the pod's
// namespaces open by doing nothing until it is told to stop. As PID 1 of a pod that shares its process
// namespace it also inherits every orphan, and must reap them or they stay zombies for the pod's life.
// The kernel delivers no signal to a PID 1 without a handler for it, so stopping depends on the handlers
// here: SIGINT and SIGTERM end it with status 0.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := listen()
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not running as PID 1, orphans will not be reaped here")
	}
	serve(signals)
}

// listen comes first: until it has run, Go's runtime handles these signals itself (a SIGTERM then ends
// the process with status 2).
func listen() <-chan os.Signal {
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	return signals
}

func serve(signals <-chan os.Signal) {
	for s := range signals {
		if s == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Printf("Shutting down, got signal: %v\n", s)
		os.Exit(0)
	}
}

// reap collects every exited child: SIGCHLDs that arrive together are delivered as one.
func reap() {
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 {
			return
		}
	}
}
