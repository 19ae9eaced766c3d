package cmdprov

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a cancelled command gets between SIGTERM and SIGKILL. When the engine shuts us
// down it SIGKILLs our process group 5 s after its SIGINT, and the commands are not in that group, so
// they must be gone before then.
const stopGrace = 2 * time.Second

// runLocal runs r.command through the interpreter (default /bin/sh -c) in dir, with the
// provider's own environment plus the requested variables.
func (p *Provider) runLocal(ctx context.Context, a commandArgs, r runRequest) (stdout, stderr string, err error) {
	argv := slices.Clone(a.interpreter)
	if len(argv) == 0 {
		argv = slices.Clone(defaultInterpreter)
	}
	argv = append(argv, r.command)

	cmd := exec.Command(argv[0], argv[1:]...)
	// In a process group of its own, so that stopping the command stops what it started as well: the
	// interpreter alone would leave its children running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Dir = a.dir
	cmd.Env = localEnv(os.Environ(), r)
	if r.stdin != "" {
		cmd.Stdin = strings.NewReader(r.stdin)
	}
	c := newCapture(r.logging, p.statusLogger(ctx, r.urn))
	cmd.Stdout = c.stdoutWriter()
	cmd.Stderr = c.stderrWriter()
	if a.dir != "" {
		// os/exec names a missing directory itself only for commands without SysProcAttr.
		if _, err := os.Stat(a.dir); err != nil {
			if pe, ok := err.(*os.PathError); ok {
				pe.Op = "chdir"
			}
			return "", "", c.failure(err, r.command)
		}
	}

	if err := cmd.Start(); err != nil {
		return "", "", c.failure(err, r.command)
	}
	// On cancellation the group gets SIGTERM, and SIGKILL once the interpreter has exited or stopGrace
	// has passed: that also ends members that ignore SIGTERM, and frees the output pipes that a member
	// outliving the interpreter would otherwise hold open, with Wait waiting on them.
	waited, killed := make(chan struct{}), make(chan struct{})
	stopWatching := context.AfterFunc(ctx, func() {
		defer close(killed)
		group := -cmd.Process.Pid
		_ = syscall.Kill(group, syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(stopGrace):
		}
		_ = syscall.Kill(group, syscall.SIGKILL)
	})
	err = cmd.Wait()
	close(waited)
	if !stopWatching() {
		<-killed
	}
	c.flush()
	if err != nil {
		return "", "", c.failure(err, r.command)
	}
	stdout, stderr = c.result()
	return stdout, stderr, nil
}
