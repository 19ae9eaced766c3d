package cmdprov

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// sshClient is a connection to the target host; when it was reached through a bastion, closing it
// also closes the bastion connection.
type sshClient struct {
	*ssh.Client
	proxy *ssh.Client
}

func (c *sshClient) Close() error {
	err := c.Client.Close()
	if c.proxy != nil {
		_ = c.proxy.Close()
	}
	return err
}

func parseSigner(key string, passphrase *string) (ssh.Signer, error) {
	if passphrase != nil && *passphrase != "" {
		return ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(*passphrase))
	}
	return ssh.ParsePrivateKey([]byte(key))
}

// clientConfig builds the SSH settings for one hop. The returned closer releases the agent socket,
// which is only needed until authentication is over.
func clientConfig(c *connection) (*ssh.ClientConfig, io.Closer, error) {
	cfg := &ssh.ClientConfig{
		User: c.user,
		// pulumi-command documents that the host key is not checked unless hostKey is given.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec
	}
	if pk := c.hostPublicKey; pk != nil {
		cfg.HostKeyCallback = ssh.FixedHostKey(pk)
		// Ask the server for exactly this kind of key, or it may present another one it has.
		cfg.HostKeyAlgorithms = []string{pk.Type()}
		if pk.Type() == ssh.KeyAlgoRSA {
			cfg.HostKeyAlgorithms = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
	}
	if c.signer != nil {
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(c.signer))
	}
	if c.password != nil {
		password := *c.password
		cfg.Auth = append(cfg.Auth, ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}

	var closer io.Closer = noopCloser{}
	socket, explicit := os.Getenv("SSH_AUTH_SOCK"), c.agentSocketPath != nil
	if explicit {
		socket = *c.agentSocketPath
	}
	if socket != "" {
		conn, err := net.Dial("unix", socket)
		if err != nil && explicit {
			return nil, nil, fmt.Errorf("could not connect to the SSH agent at %s: %w", socket, err)
		}
		// A stale inherited SSH_AUTH_SOCK is ignored: it should not break key or password logins.
		if err == nil {
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
			closer = conn
		}
	}
	return cfg, closer, nil
}

type noopCloser struct{}

func (noopCloser) Close() error { return nil }

// dialSSH connects to the host in c, through c.proxy when set, retrying each hop up to its
// dialErrorLimit like the official provider (hosts are often still booting).
func (p *Provider) dialSSH(ctx context.Context, c *connection, urn string) (*sshClient, error) {
	status := p.statusLogger(ctx, urn)
	cfg, agentConn, err := clientConfig(c)
	if err != nil {
		return nil, err
	}
	defer agentConn.Close()
	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))

	if c.proxy == nil {
		cl, err := retryDial(ctx, "Dial", c.dialErrorLimit, status, func() (*ssh.Client, error) {
			return dialDirect(ctx, addr, cfg, c.perDialTimeout)
		})
		if err != nil {
			return nil, err
		}
		return &sshClient{Client: cl}, nil
	}

	pcfg, proxyAgentConn, err := clientConfig(c.proxy)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	defer proxyAgentConn.Close()
	proxyAddr := net.JoinHostPort(c.proxy.host, strconv.Itoa(c.proxy.port))
	proxy, err := retryDial(ctx, "Dial proxy", c.proxy.dialErrorLimit, status, func() (*ssh.Client, error) {
		return dialDirect(ctx, proxyAddr, pcfg, c.proxy.perDialTimeout)
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	cl, err := retryDial(ctx, "Dial from proxy", c.dialErrorLimit, status, func() (*ssh.Client, error) {
		conn, err := proxy.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return handshake(ctx, conn, addr, cfg, c.perDialTimeout)
	})
	if err != nil {
		_ = proxy.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return &sshClient{Client: cl, proxy: proxy}, nil
}

func dialDirect(ctx context.Context, addr string, cfg *ssh.ClientConfig, timeoutSeconds int) (*ssh.Client, error) {
	dctx := ctx
	if timeoutSeconds > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, time.Duration(timeoutSeconds)*time.Second)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return handshake(ctx, conn, addr, cfg, timeoutSeconds)
}

// handshake runs the SSH handshake on conn. The per-dial timeout covers it too: a server that
// accepts TCP but never answers (sshd still starting) must not hang the deployment. Closing the
// connection works for proxied channels as well, which do not support deadlines.
func handshake(ctx context.Context, conn net.Conn, addr string, cfg *ssh.ClientConfig, timeoutSeconds int) (*ssh.Client, error) {
	stopOnCancel := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stopOnCancel()
	if timeoutSeconds > 0 {
		t := time.AfterFunc(time.Duration(timeoutSeconds)*time.Second, func() { _ = conn.Close() })
		defer t.Stop()
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// retryDial calls dial until it succeeds, it has failed more than limit times (-1: no limit), or
// ctx ends, backing off from 100ms to 5s between attempts.
func retryDial[T any](ctx context.Context, what string, limit int, status func(string), dial func() (T, error)) (T, error) {
	var zero T
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := dial()
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return zero, errors.Join(ctx.Err(), err)
		}
		if limit >= 0 && attempt > limit {
			return zero, fmt.Errorf("after %d failed attempts: %w", attempt, err)
		}
		max := "inf"
		if limit >= 0 {
			max = strconv.Itoa(limit + 1)
		}
		status(fmt.Sprintf("%s %d/%s failed: retrying", what, attempt, max))
		select {
		case <-ctx.Done():
			return zero, errors.Join(ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(delay*3/2, 5*time.Second)
	}
}
