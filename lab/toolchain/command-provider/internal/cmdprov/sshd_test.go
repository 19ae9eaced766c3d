package cmdprov

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a real OpenSSH server on 127.0.0.1 with its own configuration, keys and port.
type testSSHD struct {
	port       int
	dir        string // scratch space; the server runs on this machine, so files it writes are visible here
	privateKey string
	hostKey    string // authorized_keys format
}

func newOpenSSHKey(t *testing.T) (private string, public ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), sshPub
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startSSHD(t *testing.T) *testSSHD {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the sshd integration test logs in as root and must run as root")
	}
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("skipping: %s not found (apt-get install openssh-server)", sshdPath)
	}
	// OpenSSH refuses to start without its privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	hostPriv, hostPub := newOpenSSHKey(t)
	clientPriv, clientPub := newOpenSSHKey(t)
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	port := freePort(t)
	config := write("sshd_config", strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"Port " + strconv.Itoa(port),
		"HostKey " + write("host_key", hostPriv, 0o600),
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + write("authorized_keys", string(ssh.MarshalAuthorizedKey(clientPub)), 0o600),
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		// Environment passing is opt-in on the server; RWK_REFUSED is deliberately not accepted.
		"AcceptEnv LANG LC_* RWK_ACCEPTED PULUMI_COMMAND_*",
		"Subsystem sftp internal-sftp",
		"AllowTcpForwarding yes",
	}, "\n")+"\n", 0o600)

	var logs lockedBuffer
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", config, "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("sshd log:\n%s", logs.String())
		}
	})

	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited early:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %d:\n%s", port, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &testSSHD{port: port, dir: dir, privateKey: clientPriv,
		hostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub)))}
}

func (s *testSSHD) connection(extra map[string]any) map[string]any {
	c := map[string]any{"host": "127.0.0.1", "port": float64(s.port), "user": "root", "privateKey": s.privateKey}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func TestRemoteCommandAgainstSSHD(t *testing.T) {
	s := startSSHD(t)
	p, logs := newTestProvider(t)
	marker := filepath.Join(s.dir, "deleted")

	inputs := check(t, p, remoteCommand, props(map[string]any{
		"connection":  s.connection(map[string]any{"hostKey": s.hostKey}),
		"create":      `echo "create:$RWK_ACCEPTED"; echo "to stderr" >&2`,
		"update":      `echo "update after [$PULUMI_COMMAND_STDOUT|$PULUMI_COMMAND_STDERR]"`,
		"delete":      `printf '%s' "$PULUMI_COMMAND_STDOUT" > ` + marker,
		"environment": map[string]any{"RWK_ACCEPTED": "yes"},
	}))

	t.Run("create", func(t *testing.T) {
		_, state, err := create(t, p, remoteCommand, inputs)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		wantString(t, state, "stdout", "create:yes")
		wantString(t, state, "stderr", "to stderr")
		msgs := strings.Join(logs.messages(), "\n")
		if !strings.Contains(msgs, "create:yes") || !strings.Contains(msgs, "to stderr") {
			t.Fatalf("output was not streamed to the engine: %q", msgs)
		}
		logs.reset()

		news := inputs.Copy()
		news["stdin"] = resource.NewStringProperty("unused")
		updated, err := update(t, p, remoteCommand, state, news)
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		wantString(t, updated, "stdout", "update after [create:yes|to stderr]")

		if err := del(t, p, remoteCommand, updated); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if b, err := os.ReadFile(marker); err != nil || string(b) != "update after [create:yes|to stderr]" {
			t.Fatalf("delete command did not run with the previous stdout: %q %v", b, err)
		}
	})

	t.Run("stdin and logging=stdout", func(t *testing.T) {
		logs.reset()
		in := check(t, p, remoteCommand, props(map[string]any{
			"connection": s.connection(nil),
			"create":     "tr a-z A-Z; echo hidden >&2",
			"stdin":      "from stdin\n",
			"logging":    "stdout",
		}))
		_, state, err := create(t, p, remoteCommand, in)
		if err != nil {
			t.Fatal(err)
		}
		wantString(t, state, "stdout", "FROM STDIN")
		wantString(t, state, "stderr", "hidden")
		if msgs := logs.messages(); len(msgs) != 1 || msgs[0] != "FROM STDIN" {
			t.Fatalf("logging=stdout logged %q", msgs)
		}
	})

	t.Run("failing command", func(t *testing.T) {
		in := check(t, p, remoteCommand, props(map[string]any{
			"connection": s.connection(nil),
			"create":     "echo partial output; exit 7",
		}))
		_, _, err := create(t, p, remoteCommand, in)
		wantErrContains(t, err, "Process exited with status 7", `running "echo partial output; exit 7"`, "partial output")
	})

	t.Run("refused environment variable", func(t *testing.T) {
		logs.reset()
		in := check(t, p, remoteCommand, props(map[string]any{
			"connection":  s.connection(nil),
			"create":      "true",
			"environment": map[string]any{"RWK_REFUSED": "x"},
		}))
		_, _, err := create(t, p, remoteCommand, in)
		wantErrContains(t, err, `could not set environment variable "RWK_REFUSED"`)
		if msgs := strings.Join(logs.messages(), "\n"); !strings.Contains(msgs, "AcceptEnv") {
			t.Fatalf("no AcceptEnv hint logged: %q", msgs)
		}
	})

	t.Run("wrong key gives up after dialErrorLimit", func(t *testing.T) {
		other, _ := newOpenSSHKey(t)
		in := check(t, p, remoteCommand, props(map[string]any{
			"connection": s.connection(map[string]any{"privateKey": other, "dialErrorLimit": 1.0}),
			"create":     "true",
		}))
		start := time.Now()
		_, _, err := create(t, p, remoteCommand, in)
		wantErrContains(t, err, "after 2 failed attempts", "unable to authenticate")
		if time.Since(start) > 10*time.Second {
			t.Fatalf("giving up took %v", time.Since(start))
		}
	})

	t.Run("wrong host key is rejected", func(t *testing.T) {
		_, otherPub := newOpenSSHKey(t)
		in := check(t, p, remoteCommand, props(map[string]any{
			"connection": s.connection(map[string]any{
				"hostKey": string(ssh.MarshalAuthorizedKey(otherPub)), "dialErrorLimit": 0.0}),
			"create": "true",
		}))
		_, _, err := create(t, p, remoteCommand, in)
		wantErrContains(t, err, "host key mismatch")
	})

	t.Run("through a proxy", func(t *testing.T) {
		// The same server serves as bastion and as target, reached via the bastion's loopback.
		conn := s.connection(nil)
		conn["proxy"] = s.connection(nil)
		in := check(t, p, remoteCommand, props(map[string]any{"connection": conn, "create": "echo via proxy"}))
		_, state, err := create(t, p, remoteCommand, in)
		if err != nil {
			t.Fatal(err)
		}
		wantString(t, state, "stdout", "via proxy")
	})
}

func TestCopyToRemoteAgainstSSHD(t *testing.T) {
	s := startSSHD(t)
	p, _ := newTestProvider(t)

	copyInputs := func(source resource.PropertyValue, remotePath string) resource.PropertyMap {
		in := props(map[string]any{"connection": s.connection(nil), "remotePath": remotePath})
		in["source"] = source
		return check(t, p, copyToRemote, in)
	}
	readFile := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	t.Run("string asset", func(t *testing.T) {
		text, err := resource.NewTextAsset("hello from a StringAsset\n")
		if err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(s.dir, "remote", "nested", "greeting.txt")
		in := copyInputs(resource.NewAssetProperty(text), dest)
		id, state, err := create(t, p, copyToRemote, in)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if len(id) != 8 {
			t.Fatalf("id %q", id)
		}
		if got := readFile(dest); got != "hello from a StringAsset\n" {
			t.Fatalf("copied %q", got)
		}
		wantString(t, state, "remotePath", dest)

		changed, _ := resource.NewTextAsset("changed")
		news := in.Copy()
		news["source"] = resource.NewAssetProperty(changed)
		if _, err := update(t, p, copyToRemote, state, news); err != nil {
			t.Fatalf("update: %v", err)
		}
		if got := readFile(dest); got != "changed" {
			t.Fatalf("update copied %q", got)
		}
		if err := del(t, p, copyToRemote, state); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := os.Stat(dest); err != nil {
			t.Fatalf("delete must leave copied files in place: %v", err)
		}
	})

	t.Run("file asset into an existing directory", func(t *testing.T) {
		local := filepath.Join(t.TempDir(), "script.sh")
		if err := os.WriteFile(local, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		a, err := resource.NewPathAsset(local)
		if err != nil {
			t.Fatal(err)
		}
		destDir := filepath.Join(s.dir, "bin")
		if err := os.Mkdir(destDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, _, err := create(t, p, copyToRemote, copyInputs(resource.NewAssetProperty(a), destDir)); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(filepath.Join(destDir, "script.sh"))
		if err != nil || info.Mode().Perm() != 0o755 {
			t.Fatalf("script not copied with its mode: %v %v", info, err)
		}
	})

	t.Run("directory archive", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "payload")
		if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"a.txt": "A", "sub/b.txt": "B"} {
			if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ar, err := resource.NewPathArchive(src)
		if err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(s.dir, "deploy")
		if _, _, err := create(t, p, copyToRemote, copyInputs(resource.NewArchiveProperty(ar), dest)); err != nil {
			t.Fatal(err)
		}
		if readFile(filepath.Join(dest, "payload", "a.txt")) != "A" || readFile(filepath.Join(dest, "payload", "sub", "b.txt")) != "B" {
			t.Fatal("directory not copied to remotePath/payload")
		}
	})

	t.Run("asset archive", func(t *testing.T) {
		one, _ := resource.NewTextAsset("1")
		two, _ := resource.NewTextAsset("2")
		ar, err := resource.NewAssetArchive(map[string]any{"one.txt": one, "dir/two.txt": two})
		if err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(s.dir, "bundle")
		if _, _, err := create(t, p, copyToRemote, copyInputs(resource.NewArchiveProperty(ar), dest)); err != nil {
			t.Fatal(err)
		}
		if readFile(filepath.Join(dest, "one.txt")) != "1" || readFile(filepath.Join(dest, "dir", "two.txt")) != "2" {
			t.Fatal("asset archive entries not written below remotePath")
		}
	})

	t.Run("a large file arrives whole over a longer one", func(t *testing.T) {
		// Many packets in flight at once (concurrent writes): every byte must land at its offset, and the
		// file must end where the source ends.
		data := make([]byte, 8<<20+12345)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		local := filepath.Join(t.TempDir(), "blob")
		if err := os.WriteFile(local, data, 0o644); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(s.dir, "blob")
		if err := os.WriteFile(dest, make([]byte, len(data)+4096), 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := resource.NewPathAsset(local)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := create(t, p, copyToRemote, copyInputs(resource.NewAssetProperty(a), dest)); err != nil {
			t.Fatal(err)
		}
		if got := readFile(dest); got != string(data) {
			t.Fatalf("copied %d bytes that differ from the %d of the source", len(got), len(data))
		}
	})

	t.Run("preview copies nothing", func(t *testing.T) {
		text, _ := resource.NewTextAsset("x")
		dest := filepath.Join(s.dir, "preview.txt")
		in := copyInputs(resource.NewAssetProperty(text), dest)
		_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
			Urn: urnOf(copyToRemote, "r"), Properties: toStruct(t, in), Preview: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dest); err == nil {
			t.Fatal("preview copied the file")
		}
	})
}
