package cmdprov

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Names of the variables that carry the previous run's outputs into update and delete.
const (
	envPrevStdout = "PULUMI_COMMAND_STDOUT"
	envPrevStderr = "PULUMI_COMMAND_STDERR"
)

// runRequest is one execution of a command, local or remote.
type runRequest struct {
	urn         string
	command     string
	stdin       string
	environment map[string]string
	logging     loggingMode
	// prevStdout/prevStderr are exported only when addPreviousOutputInEnv is on and they are non-empty.
	prevStdout, prevStderr string
}

func newRunRequest(urn, command string, a commandArgs, prevStdout, prevStderr string) runRequest {
	r := runRequest{urn: urn, command: command, stdin: a.stdin, environment: a.environment, logging: a.logging}
	if a.addPreviousOutputInEnv {
		r.prevStdout, r.prevStderr = prevStdout, prevStderr
	}
	return r
}

type envVar struct{ name, value string }

// userEnv is the caller's environment in a stable order, so runs are reproducible.
func (r runRequest) userEnv() []envVar {
	var out []envVar
	for _, k := range slices.Sorted(maps.Keys(r.environment)) {
		out = append(out, envVar{k, r.environment[k]})
	}
	return out
}

func (r runRequest) previousOutputEnv() []envVar {
	var out []envVar
	if r.prevStdout != "" {
		out = append(out, envVar{envPrevStdout, r.prevStdout})
	}
	if r.prevStderr != "" {
		out = append(out, envVar{envPrevStderr, r.prevStderr})
	}
	return out
}

// localEnv appends our variables after the inherited ones: exec keeps the last value of a
// duplicated name, so user settings win over the provider's own environment.
func localEnv(base []string, r runRequest) []string {
	env := slices.Clone(base)
	for _, v := range append(r.userEnv(), r.previousOutputEnv()...) {
		env = append(env, v.name+"="+v.value)
	}
	return env
}

// capture collects a command's stdout and stderr for the outputs and for error messages, and
// streams the streams selected by the logging mode to the engine line by line.
type capture struct {
	stdout, stderr bytes.Buffer
	combined       lockedBuffer
	outLog, errLog *lineWriter
}

func newCapture(mode loggingMode, emit func(string)) *capture {
	c := &capture{}
	if mode.stdout() {
		c.outLog = &lineWriter{emit: emit}
	}
	if mode.stderr() {
		c.errLog = &lineWriter{emit: emit}
	}
	return c
}

func (c *capture) stdoutWriter() io.Writer { return c.writer(&c.stdout, c.outLog) }
func (c *capture) stderrWriter() io.Writer { return c.writer(&c.stderr, c.errLog) }

func (c *capture) writer(own *bytes.Buffer, log *lineWriter) io.Writer {
	ws := []io.Writer{own, &c.combined}
	if log != nil {
		ws = append(ws, log)
	}
	return io.MultiWriter(ws...)
}

// flush emits a last line that had no newline; call it once the command has finished.
func (c *capture) flush() {
	for _, l := range []*lineWriter{c.outLog, c.errLog} {
		if l != nil {
			l.flush()
		}
	}
}

// result returns the outputs the way the official provider records them: one trailing newline
// removed. Invalid UTF-8 is replaced because protobuf strings must be valid UTF-8.
func (c *capture) result() (stdout, stderr string) {
	return cleanOutput(c.stdout.String()), cleanOutput(c.stderr.String())
}

// failure formats a failed run like the official provider: the exit error, the command and
// everything it printed.
func (c *capture) failure(err error, command string) error {
	return fmt.Errorf("%w: running %q:\n%s", err, command, strings.ToValidUTF8(c.combined.String(), "\uFFFD"))
}

func cleanOutput(s string) string {
	return strings.ToValidUTF8(strings.TrimSuffix(s, "\n"), "\uFFFD")
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// maxLogLine bounds one log message and what we buffer while waiting for a newline; longer lines
// are sent in pieces.
const maxLogLine = 64 * 1024

// lineWriter calls emit once per complete line written to it. It never invents output: empty lines
// are dropped and everything else is passed on as printed (minus the line terminator).
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.send(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= maxLogLine {
		w.send(w.buf[:maxLogLine])
		w.buf = w.buf[maxLogLine:]
	}
	// Copy the remainder so the consumed prefix can be garbage collected.
	w.buf = append([]byte(nil), w.buf...)
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.send(w.buf)
	w.buf = nil
}

func (w *lineWriter) send(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	for len(line) > maxLogLine {
		w.emit(string(line[:maxLogLine]))
		line = line[maxLogLine:]
	}
	if len(line) > 0 {
		w.emit(string(line))
	}
}
