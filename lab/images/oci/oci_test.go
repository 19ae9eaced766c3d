package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// inputs writes stand-ins for an image's source files into dir. variant changes what must not matter:
// file times and permission bits beyond "executable or not".
func inputs(t *testing.T, dir string, variant int) map[string]string {
	t.Helper()
	files := map[string]struct {
		content string
		exec    bool
	}{
		"binary": {strings.Repeat("\x7fELF static binary ", 4096), true},
		"passwd": {"root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n", false},
		"group":  {"root:x:0:\nnobody:x:65534:\n", false},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for name, f := range files {
		p := filepath.Join(dir, name)
		mode := []os.FileMode{0o644, 0o600}[variant]
		if f.exec {
			mode = []os.FileMode{0o755, 0o700}[variant]
		}
		if err := os.WriteFile(p, []byte(f.content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		when := time.Date(2001+variant*20, 2, 3, 4, 5, 6, 7, time.UTC)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

// kinds are the four kinds of image lab/images/oci/build-images.sh makes, with stand-in inputs.
func kinds(in map[string]string) map[string][]string {
	path := "--env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	base := []string{"--file", in["passwd"] + ":/etc/passwd", "--file", in["group"] + ":/etc/group", "--dir", "/tmp:1777",
		"--dir", "/home/nonroot:0700:65532:65532", path, "--workdir", "/"}
	return map[string][]string{
		"pause": {"--name", "registry.k8s.io/pause:3.10.1", "--file", in["binary"] + ":/pause",
			"--user", "65535:65535", "--entrypoint", "/pause"},
		"kube-apiserver": append([]string{"--name", "registry.k8s.io/kube-apiserver:v1.34.4",
			"--file", in["binary"] + ":/usr/local/bin/kube-apiserver", "--file", in["binary"] + ":/go-runner",
			"--setcap", "/usr/local/bin/kube-apiserver:cap_net_bind_service", "--entrypoint", "/go-runner"}, base...),
		"coredns": append([]string{"--name", "registry.k8s.io/coredns/coredns:v1.14.7",
			"--file", in["binary"] + ":/coredns", "--setcap", "/coredns:cap_net_bind_service",
			"--user", "65532:65532", "--expose", "53/tcp", "--expose", "53/udp", "--entrypoint", "/coredns"}, base...),
		"busybox": {"--name", "docker.io/library/busybox:1.35.0", "--file", in["binary"] + ":/bin/busybox",
			"--symlink", "/bin/sh:busybox", "--symlink", "/bin/sleep:busybox", "--symlink", "/usr/bin/env:../../bin/env",
			"--file", in["passwd"] + ":/etc/passwd", "--dir", "/tmp:1777", path, "--cmd", "sh"},
	}
}

type built struct{ manifest, config, archiveSum string }

func buildArgs(t *testing.T, args []string, out string) built {
	t.Helper()
	var stdout bytes.Buffer
	if err := run(append(append([]string{"build"}, args...), "--out", out), &stdout); err != nil {
		t.Fatalf("build %v: %v", args, err)
	}
	lines := strings.Fields(stdout.String())
	if len(lines) != 6 || lines[2] != "manifest" || lines[4] != "config" {
		t.Fatalf("build printed %q", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return built{lines[3], lines[5], fmt.Sprintf("%x", sha256.Sum256(b))}
}

func TestSameInputsSameDigests(t *testing.T) {
	dir := t.TempDir()
	first := inputs(t, filepath.Join(dir, "a"), 0)
	second := inputs(t, filepath.Join(dir, "b"), 1)
	// A change of content must show: the digest covers the files, not just the recipe.
	changed := inputs(t, filepath.Join(dir, "c"), 0)
	if err := os.WriteFile(changed["binary"], []byte("another binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	for kind, args := range kinds(first) {
		t.Run(kind, func(t *testing.T) {
			a := buildArgs(t, args, filepath.Join(dir, kind+"-a.tar"))
			b := buildArgs(t, kinds(second)[kind], filepath.Join(dir, kind+"-b.tar"))
			if a != b {
				t.Fatalf("two builds from the same content differ:\n%+v\n%+v", a, b)
			}
			if c := buildArgs(t, kinds(changed)[kind], filepath.Join(dir, kind+"-c.tar")); c.manifest == a.manifest {
				t.Fatal("another binary gave the same digest")
			}
		})
	}
}

// TestArchive reads a built archive the ways its consumers do: as an OCI layout (containerd's import),
// through docker's manifest.json, and entry by entry.
func TestArchive(t *testing.T) {
	dir := t.TempDir()
	in := inputs(t, filepath.Join(dir, "in"), 0)
	archive := filepath.Join(dir, "coredns.tar")
	got := buildArgs(t, kinds(in)["coredns"], archive)

	ref, manifest, config, err := inspect(archive)
	if err != nil {
		t.Fatal(err)
	}
	if ref != "registry.k8s.io/coredns/coredns:v1.14.7" || manifest != got.manifest || config != got.config {
		t.Fatalf("inspect: %s %s %s, build printed %+v", ref, manifest, config, got)
	}

	extracted := filepath.Join(dir, "layout")
	if err := os.MkdirAll(extracted, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xf", archive, "-C", extracted).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	p, err := layout.FromPath(extracted)
	if err != nil {
		t.Fatal(err)
	}
	index, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(index); err != nil {
		t.Fatal(err)
	}
	im, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	wantAnnotations := map[string]string{
		"io.containerd.image.name":          "registry.k8s.io/coredns/coredns:v1.14.7",
		"org.opencontainers.image.ref.name": "v1.14.7",
	}
	if len(im.Manifests) != 1 || !reflect.DeepEqual(im.Manifests[0].Annotations, wantAnnotations) {
		t.Fatalf("index.json: %+v", im.Manifests)
	}

	tag, err := name.NewTag("registry.k8s.io/coredns/coredns:v1.14.7")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	if d, _ := img.ConfigName(); d.String() != got.config {
		t.Fatalf("manifest.json's image has config %s, want %s", d, got.config)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wantConfig := v1.Config{
		Entrypoint:   []string{"/coredns"},
		Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		User:         "65532:65532",
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{"53/tcp": {}, "53/udp": {}},
	}
	if !reflect.DeepEqual(cf.Config, wantConfig) || cf.OS != "linux" || !cf.Created.Equal(epoch) {
		t.Fatalf("config: %+v", cf)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var listing []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(epoch) {
			t.Errorf("%s: mtime %v", h.Name, h.ModTime)
		}
		line := fmt.Sprintf("%s %c %04o %d:%d", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid)
		if c, ok := h.PAXRecords["SCHILY.xattr.security.capability"]; ok {
			line += fmt.Sprintf(" cap=%x", c)
		}
		listing = append(listing, line)
	}
	want := []string{
		"coredns 0 0755 0:0 cap=0100000200040000000000000000000000000000",
		"etc/ 5 0755 0:0",
		"etc/group 0 0644 0:0",
		"etc/passwd 0 0644 0:0",
		"home/ 5 0755 0:0",
		"home/nonroot/ 5 0700 65532:65532",
		"tmp/ 5 1777 0:0",
	}
	if !reflect.DeepEqual(listing, want) {
		t.Fatalf("layer:\n%s\nwant:\n%s", strings.Join(listing, "\n"), strings.Join(want, "\n"))
	}
}

// The layer must be gzip with nothing in its header that varies between builds.
func TestLayerGzipHeader(t *testing.T) {
	dir := t.TempDir()
	in := inputs(t, filepath.Join(dir, "in"), 0)
	archive := filepath.Join(dir, "pause.tar")
	buildArgs(t, kinds(in)["pause"], archive)
	tag, _ := name.NewTag("registry.k8s.io/pause:3.10.1")
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" || zr.Comment != "" {
		t.Fatalf("gzip header: %+v", zr.Header)
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	in := inputs(t, dir, 0)
	out := filepath.Join(dir, "out.tar")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "busybox:1.35.0"}, "docker.io/library/busybox:1.35.0"},
		{[]string{"--name", "index.docker.io/library/busybox:1.35.0"}, "docker.io/library/busybox:1.35.0"},
		{[]string{"--name", "registry.k8s.io/pause"}, "tag"},
		{[]string{"--name", "registry.k8s.io/pause:3.10.1", "--file", in["binary"] + ":pause"}, "absolute"},
		{[]string{"--name", "registry.k8s.io/pause:3.10.1", "--file", in["binary"] + ":/a/../pause"}, "clean"},
		{[]string{"--name", "registry.k8s.io/pause:3.10.1", "--file", in["binary"] + ":/pause",
			"--symlink", "/pause:x"}, "given twice"},
		{[]string{"--name", "registry.k8s.io/pause:3.10.1", "--file", in["binary"] + ":/pause:999"}, "octal"},
		{[]string{"--name", "registry.k8s.io/pause:3.10.1", "--dir", "/tmp", "--setcap", "/tmp:cap_chown"}, "not a --file"},
		{[]string{"--name", "registry.k8s.io/pause:3.10.1", "--file", in["binary"] + ":/pause",
			"--setcap", "/pause:cap_flying"}, "unknown capability"},
		{[]string{"--name", "registry.k8s.io/pause:3.10.1", "--symlink", "/lib64:lib",
			"--file", in["binary"] + ":/lib64/ld.so"}, "not a directory"},
		{[]string{"--name", "registry.k8s.io/pause:3.10.1", "--env", "PATH"}, "<name>=<value>"},
	} {
		err := run(append([]string{"build", "--out", out}, c.args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error about %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused build left %s behind", out)
	}
}

func TestCapabilities(t *testing.T) {
	caps, err := parseCapabilities("cap_net_bind_service,CAP_NET_RAW,cap_checkpoint_restore")
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(1<<10 | 1<<13 | 1<<40); caps != want {
		t.Fatalf("got %#x, want %#x", caps, want)
	}
	// What `setcap cap_net_bind_service+ep` writes: revision 2 with the effective bit, permitted bit 10.
	if got := fmt.Sprintf("%x", capabilityXattr(1<<10)); got != "0100000200040000000000000000000000000000" {
		t.Fatalf("xattr %s", got)
	}
}
