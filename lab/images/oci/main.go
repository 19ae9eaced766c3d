// Command oci writes container images as archives that `ctr images import` and `docker load` take, from
// files on this machine alone: no registry, no container engine, no base image. Each image is one layer
// described on the command line, and the same inputs always give the same digests.
package main

import (
	"archive/tar"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const usage = `usage:
  oci build --name <ref> --out <archive> [flags]   write an image archive, print its digests
  oci inspect <archive>                             print an archive's image name and digests

Both print three lines: "name <ref>", "manifest <digest>" (what a ref@digest pins, and what ctr shows),
"config <digest>" (the image ID that crictl and docker show).

build flags (* = repeatable; destinations are absolute paths in the image):
  --name <ref>                    the image's full name as containerd normalizes it, with its tag:
                                  registry.k8s.io/pause:3.10.1, docker.io/library/busybox:1.35.0
  --out <archive>                 written atomically (an OCI layout, plus docker's manifest.json)
  --file <src>:<dst>[:<mode>]*    a regular file; mode in octal, default 0755 if <src> is executable
                                  by anyone, else 0644
  --dir <dst>[:<mode>[:<uid>:<gid>]]*   a directory (default 0755, root); parents of everything are
                                  added as 0755 root directories
  --symlink <dst>:<target>*       a symbolic link
  --setcap <dst>:<caps>*          file capabilities of a --file, permitted and effective (setcap's
                                  <caps>+ep), e.g. cap_net_bind_service
  --entrypoint <arg>*             one argument each; none: no entrypoint
  --cmd <arg>*                    one argument each; none: no cmd
  --env <name>=<value>*
  --user <user>[:<group>]
  --workdir <dir>
  --expose <port>/<proto>*
`

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oci:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "build":
		s, err := parseBuild(args[1:])
		if err != nil {
			return err
		}
		manifest, config, err := build(s)
		if err != nil {
			return err
		}
		return report(stdout, s.name, manifest, config)
	case "inspect":
		if len(args) != 2 {
			return errors.New("usage: oci inspect <archive>")
		}
		ref, manifest, config, err := inspect(args[1])
		if err != nil {
			return err
		}
		return report(stdout, ref, manifest, config)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q (want build or inspect)", args[0])
}

func report(w io.Writer, ref, manifest, config string) error {
	_, err := fmt.Fprintf(w, "name %s\nmanifest %s\nconfig %s\n", ref, manifest, config)
	return err
}

// spec is everything an image is built from.
type spec struct {
	name       string
	out        string
	layer      layer
	entrypoint []string
	cmd        []string
	env        []string
	user       string
	workdir    string
	expose     []string
}

// list is a repeatable flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func parseBuild(args []string) (*spec, error) {
	s := &spec{layer: layer{}}
	var files, dirs, symlinks, setcaps list
	fs := flag.NewFlagSet("oci build", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
	fs.StringVar(&s.name, "name", "", "")
	fs.StringVar(&s.out, "out", "", "")
	fs.Var(&files, "file", "")
	fs.Var(&dirs, "dir", "")
	fs.Var(&symlinks, "symlink", "")
	fs.Var(&setcaps, "setcap", "")
	fs.Var((*list)(&s.entrypoint), "entrypoint", "")
	fs.Var((*list)(&s.cmd), "cmd", "")
	fs.Var((*list)(&s.env), "env", "")
	fs.StringVar(&s.user, "user", "", "")
	fs.StringVar(&s.workdir, "workdir", "", "")
	fs.Var((*list)(&s.expose), "expose", "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if s.name == "" || s.out == "" {
		return nil, errors.New("--name and --out are required")
	}
	if err := checkName(s.name); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := s.addFile(f); err != nil {
			return nil, fmt.Errorf("--file %s: %w", f, err)
		}
	}
	for _, d := range dirs {
		if err := s.addDir(d); err != nil {
			return nil, fmt.Errorf("--dir %s: %w", d, err)
		}
	}
	for _, l := range symlinks {
		if err := s.addSymlink(l); err != nil {
			return nil, fmt.Errorf("--symlink %s: %w", l, err)
		}
	}
	for _, c := range setcaps {
		if err := s.setcap(c); err != nil {
			return nil, fmt.Errorf("--setcap %s: %w", c, err)
		}
	}
	for _, e := range s.env {
		if !strings.Contains(e, "=") {
			return nil, fmt.Errorf("--env %s: want <name>=<value>", e)
		}
	}
	return s, nil
}

func (s *spec) addFile(arg string) error {
	parts := strings.Split(arg, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return errors.New("want <src>:<dst>[:<mode>]")
	}
	p, err := imagePath(parts[1])
	if err != nil {
		return err
	}
	info, err := os.Stat(parts[0])
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	// The source's own permissions depend on the umask of whoever made it; only "executable or not" is
	// taken from it.
	mode := int64(0o644)
	if info.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	if len(parts) == 3 {
		if mode, err = parseMode(parts[2]); err != nil {
			return err
		}
	}
	return s.layer.add(&entry{path: p, typ: tar.TypeReg, src: parts[0], mode: mode})
}

func (s *spec) addDir(arg string) error {
	parts := strings.Split(arg, ":")
	if len(parts) != 1 && len(parts) != 2 && len(parts) != 4 {
		return errors.New("want <dst>[:<mode>[:<uid>:<gid>]]")
	}
	p, err := imagePath(parts[0])
	if err != nil {
		return err
	}
	e := &entry{path: p, typ: tar.TypeDir, mode: 0o755}
	if len(parts) > 1 {
		if e.mode, err = parseMode(parts[1]); err != nil {
			return err
		}
	}
	if len(parts) == 4 {
		if e.uid, err = strconv.Atoi(parts[2]); err != nil {
			return fmt.Errorf("uid: %w", err)
		}
		if e.gid, err = strconv.Atoi(parts[3]); err != nil {
			return fmt.Errorf("gid: %w", err)
		}
	}
	return s.layer.add(e)
}

func (s *spec) addSymlink(arg string) error {
	dst, target, ok := strings.Cut(arg, ":")
	if !ok || target == "" {
		return errors.New("want <dst>:<target>")
	}
	p, err := imagePath(dst)
	if err != nil {
		return err
	}
	return s.layer.add(&entry{path: p, typ: tar.TypeSymlink, mode: 0o777, target: target})
}

func (s *spec) setcap(arg string) error {
	dst, names, ok := strings.Cut(arg, ":")
	if !ok {
		return errors.New("want <dst>:<caps>")
	}
	p, err := imagePath(dst)
	if err != nil {
		return err
	}
	e := s.layer[p]
	if e == nil || e.typ != tar.TypeReg {
		return errors.New("not a --file of this image")
	}
	e.caps, err = parseCapabilities(names)
	return err
}

func parseMode(s string) (int64, error) {
	m, err := strconv.ParseInt(s, 8, 64)
	if err != nil || m < 0 || m > 0o7777 {
		return 0, fmt.Errorf("mode %q: want octal, at most 7777", s)
	}
	return m, nil
}
