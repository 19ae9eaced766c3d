package main

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// epoch is every timestamp an image holds (file mtimes, config and history dates): the same inputs then
// give the same bytes, whenever and wherever they are built.
var epoch = time.Unix(0, 0).UTC()

// entry is one path of the image's single layer.
type entry struct {
	path   string // inside the image, without the leading slash
	typ    byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	src    string // regular files: where the content comes from
	mode   int64
	uid    int
	gid    int
	target string // symlinks
	caps   uint64 // regular files: file capabilities, permitted and effective
}

// layer is the content of an image's only layer, by path.
type layer map[string]*entry

func (l layer) add(e *entry) error {
	if _, dup := l[e.path]; dup {
		return fmt.Errorf("/%s is given twice", e.path)
	}
	l[e.path] = e
	return nil
}

// imagePath checks a destination given on the command line and returns it as a layer path.
func imagePath(dst string) (string, error) {
	if !strings.HasPrefix(dst, "/") || dst == "/" || path.Clean(dst) != dst {
		return "", fmt.Errorf("%q: want an absolute, clean path below /", dst)
	}
	return dst[1:], nil
}

// tarball writes the layer as an uncompressed tar: parents before children, in byte order of their paths,
// all owned by root unless given otherwise, timestamps at the epoch. Parent directories nobody listed are
// added as 0755 directories, as a Dockerfile COPY would create them.
func (l layer) tarball() ([]byte, error) {
	all := make(layer, len(l))
	for p, e := range l {
		all[p] = e
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if _, ok := all[dir]; !ok {
				all[dir] = &entry{path: dir, typ: tar.TypeDir, mode: 0o755}
			}
		}
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		if dir := path.Dir(p); dir != "." && all[dir].typ != tar.TypeDir {
			return nil, fmt.Errorf("/%s: its parent /%s is not a directory", p, dir)
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		if err := writeEntry(tw, all[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeEntry(tw *tar.Writer, e *entry) error {
	h := &tar.Header{
		Typeflag: e.typ, Name: e.path, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: epoch,
		Linkname: e.target,
	}
	if e.typ == tar.TypeDir {
		h.Name += "/"
	}
	var content []byte
	if e.typ == tar.TypeReg {
		var err error
		if content, err = os.ReadFile(e.src); err != nil {
			return err
		}
		h.Size = int64(len(content))
		if e.caps != 0 {
			// How setcap's xattr travels in a layer: containerd and docker set it again when they unpack.
			h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(capabilityXattr(e.caps))}
		}
	}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("/%s: %w", e.path, err)
	}
	_, err := tw.Write(content)
	return err
}

// capabilityXattr encodes file capabilities as the kernel's vfs_cap_data, revision 2 (what setcap writes
// outside a user namespace), with the effective bit: `setcap <caps>+ep`.
func capabilityXattr(caps uint64) []byte {
	const revision2, effective = 0x02000000, 0x000001
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], revision2|effective)
	binary.LittleEndian.PutUint32(b[4:], uint32(caps))      // permitted, low word; inheritable stays 0
	binary.LittleEndian.PutUint32(b[12:], uint32(caps>>32)) // permitted, high word
	return b
}

// capabilityNames are Linux's capabilities by number (linux/capability.h).
var capabilityNames = strings.Fields(`chown dac_override dac_read_search fowner fsetid kill setgid setuid
	setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner sys_module
	sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource sys_time
	sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin syslog wake_alarm
	block_suspend audit_read perfmon bpf checkpoint_restore`)

// parseCapabilities reads a comma-separated list like setcap's: cap_net_bind_service,cap_net_raw.
func parseCapabilities(list string) (uint64, error) {
	var caps uint64
	for _, c := range strings.Split(list, ",") {
		n := -1
		for i, name := range capabilityNames {
			if strings.EqualFold(c, "cap_"+name) {
				n = i
			}
		}
		if n < 0 {
			return 0, fmt.Errorf("unknown capability %q (want e.g. cap_net_bind_service)", c)
		}
		caps |= 1 << n
	}
	return caps, nil
}
