package cmdprov

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func diff(t *testing.T, typ string, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	p, _ := newTestProvider(t)
	resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{
		Id: "id", Urn: urnOf(typ, "r"), Olds: toStruct(t, olds), News: toStruct(t, news)})
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	return resp
}

var baseState = map[string]any{
	"create": "echo hi", "addPreviousOutputInEnv": true, "triggers": []any{"a", 1.0},
	"stdout": "hi", "stderr": "",
}

func withChanges(base map[string]any, changes map[string]any) resource.PropertyMap {
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return props(m)
}

func TestDiffNoChangesIgnoresOutputs(t *testing.T) {
	news := withChanges(baseState, map[string]any{"stdout": nil, "stderr": nil})
	resp := diff(t, localCommand, props(baseState), news)
	if resp.Changes != pulumirpc.DiffResponse_DIFF_NONE || len(resp.Diffs) != 0 {
		t.Fatalf("want no diff, got %v", resp)
	}
}

func TestDiffInputChangeIsUpdate(t *testing.T) {
	news := withChanges(baseState, map[string]any{"stdout": nil, "stderr": nil, "create": "echo bye", "dir": "/tmp"})
	resp := diff(t, localCommand, props(baseState), news)
	if resp.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(resp.Replaces) != 0 {
		t.Fatalf("want an in-place update, got %v", resp)
	}
	if k := resp.DetailedDiff["create"].GetKind(); k != pulumirpc.PropertyDiff_UPDATE {
		t.Fatalf("create: kind %v", k)
	}
	if k := resp.DetailedDiff["dir"].GetKind(); k != pulumirpc.PropertyDiff_ADD {
		t.Fatalf("dir: kind %v", k)
	}
}

func TestDiffTriggersReplace(t *testing.T) {
	news := withChanges(baseState, map[string]any{"stdout": nil, "stderr": nil, "triggers": []any{"a", 2.0}})
	resp := diff(t, localCommand, props(baseState), news)
	if len(resp.Replaces) != 1 || resp.Replaces[0] != "triggers" {
		t.Fatalf("want triggers to replace, got %v", resp)
	}
	if k := resp.DetailedDiff["triggers"].GetKind(); k != pulumirpc.PropertyDiff_UPDATE_REPLACE {
		t.Fatalf("triggers: kind %v", k)
	}
	// Removing the triggers replaces as well.
	resp = diff(t, localCommand, props(baseState), withChanges(baseState, map[string]any{"triggers": nil}))
	if k := resp.DetailedDiff["triggers"].GetKind(); k != pulumirpc.PropertyDiff_DELETE_REPLACE {
		t.Fatalf("removed triggers: kind %v", k)
	}
}

func TestDiffUnknownIsChange(t *testing.T) {
	news := props(baseState)
	news["triggers"] = resource.MakeComputed(resource.NewStringProperty(""))
	news["update"] = resource.MakeComputed(resource.NewStringProperty(""))
	resp := diff(t, localCommand, props(baseState), news)
	if resp.DetailedDiff["triggers"].GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE ||
		resp.DetailedDiff["update"].GetKind() != pulumirpc.PropertyDiff_ADD {
		t.Fatalf("unknown inputs must diff: %v", resp.DetailedDiff)
	}
}

func TestDiffCopyToRemote(t *testing.T) {
	old := props(map[string]any{"connection": map[string]any{"host": "h"}, "remotePath": "/a"})
	news := props(map[string]any{"connection": map[string]any{"host": "h"}, "remotePath": "/a"})
	a1, _ := resource.NewTextAsset("one")
	a2, _ := resource.NewTextAsset("two")
	old["source"], news["source"] = resource.NewAssetProperty(a1), resource.NewAssetProperty(a2)
	resp := diff(t, copyToRemote, old, news)
	if resp.DetailedDiff["source"].GetKind() != pulumirpc.PropertyDiff_UPDATE || len(resp.Replaces) != 0 {
		t.Fatalf("source change should update in place: %v", resp)
	}
	news["source"] = resource.NewAssetProperty(a1)
	if resp := diff(t, copyToRemote, old, news); resp.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("same asset should not diff: %v", resp)
	}
}

func TestDiffHonoursIgnoreChanges(t *testing.T) {
	news := withChanges(baseState, map[string]any{"create": "echo other"})
	p, _ := newTestProvider(t)
	resp, err := p.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: urnOf(localCommand, "r"),
		Olds: toStruct(t, props(baseState)), News: toStruct(t, news), IgnoreChanges: []string{"create"}})
	if err != nil || resp.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("ignored change reported: %v %v", resp, err)
	}
}
