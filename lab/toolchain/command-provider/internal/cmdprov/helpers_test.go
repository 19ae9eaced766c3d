package cmdprov

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

type logEntry struct {
	sev       pulumirpc.LogSeverity
	urn, msg  string
	ephemeral bool
}

// recLogger stands in for the engine's Log RPC.
type recLogger struct {
	mu      sync.Mutex
	entries []logEntry
}

func (l *recLogger) Log(_ context.Context, sev pulumirpc.LogSeverity, urn, msg string, ephemeral bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, logEntry{sev, urn, msg, ephemeral})
	return nil
}

func (l *recLogger) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.entries {
		out = append(out, e.msg)
	}
	return out
}

func (l *recLogger) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}

func newTestProvider(t *testing.T) (*Provider, *recLogger) {
	t.Helper()
	p := New("1.2.3")
	l := &recLogger{}
	p.SetLogger(l)
	t.Cleanup(p.cancelAll)
	return p, l
}

func urnOf(typ, name string) string {
	return "urn:pulumi:test::proj::" + typ + "::" + name
}

func toStruct(t *testing.T, pm resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := marshalProps(pm)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return s
}

func fromStruct(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	pm, err := unmarshalProps(s)
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return pm
}

func props(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

// check runs Check and fails the test on failures.
func check(t *testing.T, p *Provider, typ string, news resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnOf(typ, "r"), Type: typ, News: toStruct(t, news)})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if len(resp.Failures) > 0 {
		t.Fatalf("Check failures: %v", resp.Failures)
	}
	return fromStruct(t, resp.Inputs)
}

func create(t *testing.T, p *Provider, typ string, inputs resource.PropertyMap) (string, resource.PropertyMap, error) {
	t.Helper()
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: urnOf(typ, "r"), Type: typ, Name: "r", Properties: toStruct(t, inputs)})
	if err != nil {
		return "", nil, err
	}
	return resp.Id, fromStruct(t, resp.Properties), nil
}

func update(t *testing.T, p *Provider, typ string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	t.Helper()
	resp, err := p.Update(context.Background(), &pulumirpc.UpdateRequest{
		Id: "id", Urn: urnOf(typ, "r"), Type: typ, Olds: toStruct(t, olds), News: toStruct(t, news)})
	if err != nil {
		return nil, err
	}
	return fromStruct(t, resp.Properties), nil
}

func del(t *testing.T, p *Provider, typ string, state resource.PropertyMap) error {
	t.Helper()
	_, err := p.Delete(context.Background(), &pulumirpc.DeleteRequest{
		Id: "id", Urn: urnOf(typ, "r"), Type: typ, Properties: toStruct(t, state)})
	return err
}

func wantString(t *testing.T, pm resource.PropertyMap, key, want string) {
	t.Helper()
	v, ok := pm[resource.PropertyKey(key)]
	if !ok || !v.IsString() {
		t.Fatalf("%s: want string %q, got %v", key, want, v)
	}
	if v.StringValue() != want {
		t.Fatalf("%s = %q, want %q", key, v.StringValue(), want)
	}
}

func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got nil", parts)
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Fatalf("error %q does not contain %q", err.Error(), part)
		}
	}
}
