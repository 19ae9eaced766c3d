package cmdprov

import (
	"context"
	"errors"
	"fmt"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

// setenvHint explains the usual reason for a refused variable: OpenSSH only accepts the names
// listed in the server's AcceptEnv (Debian's default config lists LANG and LC_* only).
func setenvHint(name string) string {
	return fmt.Sprintf("Unable to set '%s'. This only works if your SSH server is configured to accept "+
		"these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, "+
		"you could prefix the command itself with the variables in the form 'VAR=value command'", name)
}

// runRemote runs r.command in a new session on the host. Like the official provider, environment
// variables travel as SSH "env" requests: a refused user variable fails the run, a refused
// PULUMI_COMMAND_STDOUT/STDERR only warns.
func (p *Provider) runRemote(ctx context.Context, conn *connection, r runRequest) (stdout, stderr string, err error) {
	client, err := p.dialSSH(ctx, conn, r.urn)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("could not open an SSH session: %w", err)
	}
	defer session.Close()

	for _, v := range r.userEnv() {
		if err := session.Setenv(v.name, v.value); err != nil {
			p.log(ctx, pulumirpc.LogSeverity_ERROR, r.urn, setenvHint(v.name), false)
			return "", "", fmt.Errorf("could not set environment variable %q: %w", v.name, err)
		}
	}
	for _, v := range r.previousOutputEnv() {
		if err := session.Setenv(v.name, v.value); err != nil {
			p.log(ctx, pulumirpc.LogSeverity_WARNING, r.urn, setenvHint(v.name), false)
		}
	}
	if r.stdin != "" {
		session.Stdin = strings.NewReader(r.stdin)
	}
	c := newCapture(r.logging, p.statusLogger(ctx, r.urn))
	session.Stdout = c.stdoutWriter()
	session.Stderr = c.stderrWriter()

	// Cancellation (engine Cancel, timeouts) must not leave us waiting on a remote command.
	stop := context.AfterFunc(ctx, func() {
		_ = session.Signal(ssh.SIGKILL)
		_ = client.Close()
	})
	defer stop()

	err = session.Run(r.command)
	c.flush()
	if err != nil {
		if ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		return "", "", c.failure(err, r.command)
	}
	stdout, stderr = c.result()
	return stdout, stderr, nil
}
