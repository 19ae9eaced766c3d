package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The index annotation containerd names an imported image by (ctr images import, and docker load since
// 25), taken verbatim; the OCI ref.name beside it is the tag alone, as docker save writes it.
const (
	containerdImageName = "io.containerd.image.name"
	ociRefName          = "org.opencontainers.image.ref.name"
)

// writeArchive writes img as an OCI image layout in a tar, the format `docker save` writes since Docker
// 25: containerd imports an OCI layout as is, so the manifest digest it records is the one printed here
// (from a docker-only archive it writes a manifest of its own, with another digest). The docker
// manifest.json beside it is for docker load before 25. Metadata and the manifest come first, so that
// inspect reads only the head of the file.
func writeArchive(out, ref string, img v1.Image) error {
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return err
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType:   types.OCIManifestSchema1,
			Size:        int64(len(manifest)),
			Digest:      digestOf(manifest),
			Annotations: map[string]string{containerdImageName: ref, ociRefName: tag.TagStr()},
			Platform:    &v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		}},
	})
	if err != nil {
		return err
	}
	docker := tarball.Descriptor{Config: blobPath(digestOf(config)), RepoTags: []string{ref}}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		docker.Layers = append(docker.Layers, blobPath(d))
	}
	dockerManifest, err := json.Marshal(tarball.Manifest{docker})
	if err != nil {
		return err
	}

	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	tw := tar.NewWriter(f)
	for _, small := range []struct {
		name    string
		content []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{"manifest.json", dockerManifest},
		{"blobs/", nil},
		{"blobs/sha256/", nil},
		{blobPath(digestOf(manifest)), manifest},
		{blobPath(digestOf(config)), config},
	} {
		if err := writeMember(tw, small.name, int64(len(small.content)), bytes.NewReader(small.content)); err != nil {
			return err
		}
	}
	for _, l := range layers {
		if err := writeLayer(tw, l); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}

func writeLayer(tw *tar.Writer, l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return writeMember(tw, blobPath(d), size, rc)
}

// writeMember writes a file (or, for a name ending in /, a directory) of the archive itself.
func writeMember(tw *tar.Writer, name string, size int64, r io.Reader) error {
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: epoch}
	if name[len(name)-1] == '/' {
		h.Typeflag, h.Mode = tar.TypeDir, 0o755
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := io.Copy(tw, r)
	return err
}

func digestOf(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// inspect reads an image archive's name and digests. It checks the manifest it reads against its digest,
// and accepts any single-image OCI layout archive (docker save's as well as ours).
func inspect(archive string) (ref, manifest, config string, err error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", "", "", err
	}
	defer f.Close()
	var index *v1.IndexManifest
	blobs := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", "", fmt.Errorf("%s: %w", archive, err)
		}
		// Manifests and indexes are small; layers are not, and are not needed.
		if h.Typeflag != tar.TypeReg || h.Size > 1<<20 {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return "", "", "", err
		}
		if h.Name == "index.json" {
			if index, err = v1.ParseIndexManifest(bytes.NewReader(b)); err != nil {
				return "", "", "", fmt.Errorf("%s: index.json: %w", archive, err)
			}
		} else {
			blobs[h.Name] = b
		}
		if index != nil && len(index.Manifests) == 1 && blobs[blobPath(index.Manifests[0].Digest)] != nil {
			break
		}
	}
	if index == nil || len(index.Manifests) != 1 {
		return "", "", "", fmt.Errorf("%s: not an OCI layout archive of one image", archive)
	}
	d := index.Manifests[0]
	raw := blobs[blobPath(d.Digest)]
	if raw == nil {
		return "", "", "", fmt.Errorf("%s: manifest %s missing", archive, d.Digest)
	}
	if digestOf(raw) != d.Digest {
		return "", "", "", fmt.Errorf("%s: manifest does not match its digest %s", archive, d.Digest)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return "", "", "", fmt.Errorf("%s: manifest: %w", archive, err)
	}
	if ref = d.Annotations[containerdImageName]; ref == "" {
		return "", "", "", errors.New(archive + ": the image has no " + containerdImageName + " annotation")
	}
	return ref, d.Digest.String(), m.Config.Digest.String(), nil
}
