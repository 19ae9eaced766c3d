package main

import (
	"bytes"
	"fmt"
	"io"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// checkName accepts only a tagged reference written the way containerd stores it: CRI looks an image up
// by its normalized name (busybox:1.35.0 -> docker.io/library/busybox:1.35.0), and an archive names the
// image once, verbatim.
func checkName(ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	registry := tag.RegistryStr()
	if registry == name.DefaultRegistry {
		registry = "docker.io"
	}
	if normalized := registry + "/" + tag.RepositoryStr() + ":" + tag.TagStr(); normalized != ref {
		return fmt.Errorf("--name %s: write it as containerd names it, registry and tag included: %s", ref, normalized)
	}
	return nil
}

// build writes the image's archive and returns its manifest and config digests.
func build(s *spec) (manifest, config string, err error) {
	img, err := image(s)
	if err != nil {
		return "", "", err
	}
	if err := writeArchive(s.out, s.name, img); err != nil {
		return "", "", err
	}
	m, err := img.Digest()
	if err != nil {
		return "", "", err
	}
	c, err := img.ConfigName()
	if err != nil {
		return "", "", err
	}
	return m.String(), c.String(), nil
}

// image is the spec as an OCI image for this machine's architecture (the files it packs are built here).
func image(s *spec) (v1.Image, error) {
	content, err := s.layer.tarball()
	if err != nil {
		return nil, err
	}
	// gzip at the fastest level (go-containerregistry's default): kube-apiserver's layer comes out 16%
	// larger than at the default level, in a quarter of the time (1.2 s instead of 4.8 s). Cached,
	// because the digest and the archive both need the compressed bytes.
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   l,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "real-world-kubernetes lab/images/oci"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = runtime.GOARCH
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		Entrypoint: s.entrypoint,
		Cmd:        s.cmd,
		Env:        s.env,
		User:       s.user,
		WorkingDir: s.workdir,
	}
	if len(s.expose) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range s.expose {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}
