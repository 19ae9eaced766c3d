package cmdprov

import (
	"context"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func checkFailures(t *testing.T, typ string, news resource.PropertyMap) map[string]string {
	t.Helper()
	p, _ := newTestProvider(t)
	resp, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnOf(typ, "r"), News: toStruct(t, news)})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	out := map[string]string{}
	for _, f := range resp.Failures {
		out[f.Property] = f.Reason
	}
	return out
}

func TestCheckAppliesConnectionDefaults(t *testing.T) {
	p, _ := newTestProvider(t)
	got := check(t, p, remoteCommand, props(map[string]any{
		"connection": map[string]any{
			"host":  "example.test",
			"proxy": map[string]any{"host": "bastion.test", "user": "jump"},
		},
		"create": "hostname",
	}))
	conn := got["connection"].ObjectValue()
	if conn["port"].NumberValue() != 22 || conn["user"].StringValue() != "root" ||
		conn["dialErrorLimit"].NumberValue() != 10 || conn["perDialTimeout"].NumberValue() != 15 {
		t.Fatalf("connection defaults not applied: %v", conn)
	}
	proxy := conn["proxy"].ObjectValue()
	if proxy["port"].NumberValue() != 22 || proxy["user"].StringValue() != "jump" || proxy["dialErrorLimit"].NumberValue() != 10 {
		t.Fatalf("proxy defaults not applied or user overwritten: %v", proxy)
	}
	if !got["addPreviousOutputInEnv"].BoolValue() {
		t.Fatalf("addPreviousOutputInEnv should default to true")
	}
	wantString(t, got, "create", "hostname")
}

func TestCheckKeepsExplicitValues(t *testing.T) {
	p, _ := newTestProvider(t)
	got := check(t, p, localCommand, props(map[string]any{"create": "true", "addPreviousOutputInEnv": false}))
	if got["addPreviousOutputInEnv"].BoolValue() {
		t.Fatalf("explicit addPreviousOutputInEnv=false was overwritten")
	}
	got = check(t, p, remoteCommand, props(map[string]any{"connection": map[string]any{
		"host": "h", "port": 2222, "user": "deploy", "dialErrorLimit": -1, "perDialTimeout": 0}}))
	conn := got["connection"].ObjectValue()
	if conn["port"].NumberValue() != 2222 || conn["user"].StringValue() != "deploy" ||
		conn["dialErrorLimit"].NumberValue() != -1 || conn["perDialTimeout"].NumberValue() != 0 {
		t.Fatalf("explicit connection values changed: %v", conn)
	}
}

func TestCheckFailures(t *testing.T) {
	cases := []struct {
		name string
		typ  string
		news map[string]any
		want []string // failing property paths
	}{
		{"remote without connection", remoteCommand, map[string]any{"create": "x"}, []string{"connection"}},
		{"remote without host", remoteCommand, map[string]any{"connection": map[string]any{"user": "u"}}, []string{"connection.host"}},
		{"proxy without host", remoteCommand, map[string]any{"connection": map[string]any{
			"host": "h", "proxy": map[string]any{"user": "u"}}}, []string{"connection.proxy.host"}},
		{"bad port", remoteCommand, map[string]any{"connection": map[string]any{"host": "h", "port": 70000}}, []string{"connection.port"}},
		{"bad key", remoteCommand, map[string]any{"connection": map[string]any{"host": "h", "privateKey": "nope"}}, []string{"connection.privateKey"}},
		{"bad logging", localCommand, map[string]any{"create": "x", "logging": "everything"}, []string{"logging"}},
		{"env not strings", localCommand, map[string]any{"environment": map[string]any{"A": 1.0}}, []string{"environment.A"}},
		{"assetPaths unsupported", localCommand, map[string]any{"assetPaths": []any{"*.txt"}}, []string{"assetPaths"}},
		{"copy without anything", copyToRemote, map[string]any{}, []string{"connection", "remotePath", "source"}},
		{"copy with a string source", copyToRemote, map[string]any{
			"connection": map[string]any{"host": "h"}, "remotePath": "/tmp/x", "source": "text"}, []string{"source"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := checkFailures(t, tc.typ, props(tc.news))
			var paths []string
			for k := range got {
				paths = append(paths, k)
			}
			slices.Sort(paths)
			if !slices.Equal(paths, tc.want) {
				t.Fatalf("failures on %v, want %v (%v)", paths, tc.want, got)
			}
		})
	}
}

func TestCheckAcceptsUnknowns(t *testing.T) {
	got := checkFailures(t, remoteCommand, resource.PropertyMap{
		"connection": resource.NewObjectProperty(resource.PropertyMap{
			"host": resource.MakeComputed(resource.NewStringProperty("")),
		}),
		"create": resource.MakeComputed(resource.NewStringProperty("")),
	})
	if len(got) != 0 {
		t.Fatalf("unknown values must not fail Check: %v", got)
	}
	got = checkFailures(t, copyToRemote, resource.PropertyMap{
		"connection": resource.MakeComputed(resource.NewObjectProperty(resource.PropertyMap{})),
		"remotePath": resource.NewStringProperty("/x"),
		"source":     resource.MakeComputed(resource.NewStringProperty("")),
	})
	if len(got) != 0 {
		t.Fatalf("unknown values must not fail Check: %v", got)
	}
}

func TestCheckRejectsUnknownType(t *testing.T) {
	p, _ := newTestProvider(t)
	_, err := p.Check(context.Background(), &pulumirpc.CheckRequest{Urn: urnOf("command:remote:CopyFile", "r")})
	wantErrContains(t, err, "unknown resource type", "command:remote:CopyFile")
}
