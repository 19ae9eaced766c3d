package cmdprov

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestLocalCommandLifecycle(t *testing.T) {
	p, logs := newTestProvider(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "deleted")
	inputs := check(t, p, localCommand, props(map[string]any{
		"create":      `echo "created $GREETING in $(pwd)"; echo warn >&2`,
		"update":      `echo "updated after [$PULUMI_COMMAND_STDOUT] [$PULUMI_COMMAND_STDERR]"`,
		"delete":      `echo "$PULUMI_COMMAND_STDOUT" > ` + marker,
		"dir":         dir,
		"environment": map[string]any{"GREETING": "hello"},
	}))

	id, state, err := create(t, p, localCommand, inputs)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !strings.HasPrefix(id, "r") || len(id) != len("r")+8 {
		t.Fatalf("id %q should be the name plus 8 hex characters", id)
	}
	wantString(t, state, "stdout", "created hello in "+dir)
	wantString(t, state, "stderr", "warn")
	wantString(t, state, "dir", dir)
	// stdout and stderr are copied concurrently, so only the set of lines is deterministic.
	if msgs := logs.messages(); !slices.Equal(slices.Sorted(slices.Values(msgs)), []string{"created hello in " + dir, "warn"}) {
		t.Fatalf("logged %q", msgs)
	}
	for _, e := range logs.entries {
		if !e.ephemeral || e.sev != pulumirpc.LogSeverity_INFO || e.urn != urnOf(localCommand, "r") {
			t.Fatalf("unexpected log entry %+v", e)
		}
	}

	news := inputs.Copy()
	news["environment"] = resource.NewObjectProperty(props(map[string]any{"GREETING": "bye"}))
	state2, err := update(t, p, localCommand, state, news)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	wantString(t, state2, "stdout", "updated after [created hello in "+dir+"] [warn]")
	wantString(t, state2, "stderr", "")

	if err := del(t, p, localCommand, state2); err != nil {
		t.Fatalf("delete: %v", err)
	}
	b, err := os.ReadFile(marker)
	if err != nil || string(b) != "updated after [created hello in "+dir+"] [warn]\n" {
		t.Fatalf("delete did not see the previous stdout: %q %v", b, err)
	}
}

func TestLocalUpdateFallsBackToCreate(t *testing.T) {
	p, _ := newTestProvider(t)
	inputs := check(t, p, localCommand, props(map[string]any{"create": `echo "run with [$PULUMI_COMMAND_STDOUT]"`}))
	_, state, err := create(t, p, localCommand, inputs)
	if err != nil {
		t.Fatal(err)
	}
	news := inputs.Copy()
	news["stdin"] = resource.NewStringProperty("ignored")
	state2, err := update(t, p, localCommand, state, news)
	if err != nil {
		t.Fatal(err)
	}
	wantString(t, state2, "stdout", "run with [run with []]")

	// addPreviousOutputInEnv=false hides the previous outputs.
	news["addPreviousOutputInEnv"] = resource.NewBoolProperty(false)
	state3, err := update(t, p, localCommand, state2, news)
	if err != nil {
		t.Fatal(err)
	}
	wantString(t, state3, "stdout", "run with []")
}

func TestLocalStdinInterpreterAndLoggingNone(t *testing.T) {
	p, logs := newTestProvider(t)
	inputs := check(t, p, localCommand, props(map[string]any{
		"create":      "import sys; print(sys.stdin.read().upper())",
		"interpreter": []any{"python3", "-c"},
		"stdin":       "shout",
		"logging":     "none",
	}))
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		inputs["create"] = resource.NewStringProperty("tr a-z A-Z")
		inputs["interpreter"] = resource.NewArrayProperty([]resource.PropertyValue{
			resource.NewStringProperty("/bin/sh"), resource.NewStringProperty("-c")})
	}
	_, state, err := create(t, p, localCommand, inputs)
	if err != nil {
		t.Fatal(err)
	}
	wantString(t, state, "stdout", "SHOUT")
	if msgs := logs.messages(); len(msgs) != 0 {
		t.Fatalf("logging=none still logged %q", msgs)
	}
}

func TestLocalFailureReportsExitAndOutput(t *testing.T) {
	p, _ := newTestProvider(t)
	inputs := check(t, p, localCommand, props(map[string]any{"create": "echo partial; echo broken >&2; exit 3"}))
	_, _, err := create(t, p, localCommand, inputs)
	wantErrContains(t, err, "exit status 3", `running "echo partial; echo broken >&2; exit 3"`, "partial\n", "broken\n")

	inputs = check(t, p, localCommand, props(map[string]any{"create": "true", "dir": "/does/not/exist"}))
	_, _, err = create(t, p, localCommand, inputs)
	wantErrContains(t, err, "/does/not/exist")
}

func TestLocalNoCreateCommand(t *testing.T) {
	p, _ := newTestProvider(t)
	inputs := check(t, p, localCommand, props(map[string]any{"delete": "true"}))
	_, state, err := create(t, p, localCommand, inputs)
	if err != nil {
		t.Fatal(err)
	}
	wantString(t, state, "stdout", "")
	wantString(t, state, "stderr", "")
}

func TestPreviewDoesNotRun(t *testing.T) {
	p, _ := newTestProvider(t)
	marker := filepath.Join(t.TempDir(), "ran")
	inputs := check(t, p, localCommand, props(map[string]any{"create": "touch " + marker, "update": "touch " + marker}))
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnOf(localCommand, "r"), Properties: toStruct(t, inputs), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	outs := fromStruct(t, resp.Properties)
	if !outs["stdout"].IsComputed() || !outs["stderr"].IsComputed() {
		t.Fatalf("preview outputs should be unknown: %v", outs)
	}
	old := inputs.Copy()
	setOutputs(old, "before", "")
	uresp, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{Urn: urnOf(localCommand, "r"),
		Olds: toStruct(t, old), News: toStruct(t, inputs), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if outs := fromStruct(t, uresp.Properties); !outs["stdout"].IsComputed() {
		t.Fatalf("update preview stdout should be unknown: %v", outs)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("a preview ran the command")
	}
}

func TestLocalRunInvoke(t *testing.T) {
	p, _ := newTestProvider(t)
	resp, err := p.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: localRun,
		Args: toStruct(t, props(map[string]any{"command": "echo $X", "environment": map[string]any{"X": "ran"}}))})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("invoke: %v %v", err, resp.GetFailures())
	}
	ret := fromStruct(t, resp.Return)
	wantString(t, ret, "stdout", "ran")
	wantString(t, ret, "command", "echo $X")

	resp, err = p.Invoke(context.Background(), &pulumirpc.InvokeRequest{Tok: localRun, Args: toStruct(t, props(nil))})
	if err != nil || len(resp.Failures) != 1 || resp.Failures[0].Property != "command" {
		t.Fatalf("missing command should be a failure: %v %v", resp, err)
	}
}

func TestCancelStopsRunningCommand(t *testing.T) {
	p, _ := newTestProvider(t)
	started := filepath.Join(t.TempDir(), "started")
	inputs := check(t, p, localCommand, props(map[string]any{"create": "touch " + started + "; exec sleep 30"}))
	errc := make(chan error, 1)
	go func() {
		_, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
			Urn: urnOf(localCommand, "r"), Properties: toStruct(t, inputs)})
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(started); err != nil; _, err = os.Stat(started) {
		if time.Now().After(deadline) {
			t.Fatal("command did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The engine calls Cancel on Ctrl-C; the running command must be stopped, not waited for.
	if _, err := p.Cancel(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		wantErrContains(t, err, "terminated")
	case <-time.After(10 * time.Second):
		t.Fatal("Cancel did not stop the command")
	}
}
