package cmdprov

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestLocalEnv(t *testing.T) {
	r := newRunRequest("", "true", commandArgs{
		environment:            map[string]string{"B": "2", "A": "1", "HOME": "/override"},
		addPreviousOutputInEnv: true,
	}, "old out", "")
	got := localEnv([]string{"HOME=/root", "PATH=/bin"}, r)
	want := []string{"HOME=/root", "PATH=/bin", "A=1", "B=2", "HOME=/override", "PULUMI_COMMAND_STDOUT=old out"}
	if !slices.Equal(got, want) {
		t.Fatalf("env = %q, want %q", got, want)
	}

	r = newRunRequest("", "true", commandArgs{addPreviousOutputInEnv: false}, "old out", "old err")
	if got := localEnv(nil, r); len(got) != 0 {
		t.Fatalf("addPreviousOutputInEnv=false must not export previous outputs: %q", got)
	}
}

func TestLoggingModes(t *testing.T) {
	for mode, want := range map[loggingMode][2]bool{
		"": {true, true}, logStdoutAndStderr: {true, true}, logStdout: {true, false},
		logStderr: {false, true}, logNone: {false, false},
	} {
		if mode.stdout() != want[0] || mode.stderr() != want[1] {
			t.Errorf("%q: stdout=%v stderr=%v, want %v", mode, mode.stdout(), mode.stderr(), want)
		}
	}
}

func TestLineWriterSplitsLines(t *testing.T) {
	var got []string
	w := &lineWriter{emit: func(s string) { got = append(got, s) }}
	for _, chunk := range []string{"one\ntw", "o\r\n\n", "three"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("before flush: %q", got)
	}
	w.flush()
	if !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("after flush: %q", got)
	}
	// Very long lines are sent in pieces, never dropped or duplicated.
	got = nil
	long := strings.Repeat("x", maxLogLine+10)
	_, _ = w.Write([]byte(long + "\n"))
	if strings.Join(got, "") != long || len(got) != 2 {
		t.Fatalf("long line split into %d pieces", len(got))
	}
}

func TestCaptureOutputsAndFailure(t *testing.T) {
	var logged []string
	c := newCapture(logStdout, func(s string) { logged = append(logged, s) })
	_, _ = c.stdoutWriter().Write([]byte("out line\n"))
	_, _ = c.stderrWriter().Write([]byte("err line\n"))
	c.flush()
	stdout, stderr := c.result()
	if stdout != "out line" || stderr != "err line" {
		t.Fatalf("result = %q, %q", stdout, stderr)
	}
	if !slices.Equal(logged, []string{"out line"}) {
		t.Fatalf("logging=stdout logged %q", logged)
	}
	err := c.failure(errors.New("exit status 3"), "make it")
	wantErrContains(t, err, "exit status 3: running \"make it\":\n", "out line\n", "err line\n")
}

func TestCleanOutput(t *testing.T) {
	if got := cleanOutput("a\n\n"); got != "a\n" {
		t.Fatalf("only one trailing newline is removed, got %q", got)
	}
	if got := cleanOutput("bad \xff byte"); got != "bad \uFFFD byte" {
		t.Fatalf("invalid UTF-8 not replaced: %q", got)
	}
}
