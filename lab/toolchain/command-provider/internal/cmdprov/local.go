package cmdprov

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// runLocal runs r.command through the interpreter (default /bin/sh -c) in dir, with the
// provider's own environment plus the requested variables.
func (p *Provider) runLocal(ctx context.Context, a commandArgs, r runRequest) (stdout, stderr string, err error) {
	argv := slices.Clone(a.interpreter)
	if len(argv) == 0 {
		argv = slices.Clone(defaultInterpreter)
	}
	argv = append(argv, r.command)

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = a.dir
	cmd.Env = localEnv(os.Environ(), r)
	if r.stdin != "" {
		cmd.Stdin = strings.NewReader(r.stdin)
	}
	c := newCapture(r.logging, p.statusLogger(ctx, r.urn))
	cmd.Stdout = c.stdoutWriter()
	cmd.Stderr = c.stderrWriter()

	err = cmd.Run()
	c.flush()
	if err != nil {
		return "", "", c.failure(err, r.command)
	}
	stdout, stderr = c.result()
	return stdout, stderr, nil
}
