package cmdprov

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The schema is hand-written; this keeps it in step with what Check and Diff actually handle.
func TestSchemaMatchesImplementation(t *testing.T) {
	p, _ := newTestProvider(t)
	resp, err := p.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		Resources map[string]struct {
			InputProperties map[string]json.RawMessage `json:"inputProperties"`
			Properties      map[string]json.RawMessage `json:"properties"`
		} `json:"resources"`
		Types     map[string]json.RawMessage `json:"types"`
		Functions map[string]json.RawMessage `json:"functions"`
	}
	if err := json.Unmarshal([]byte(resp.Schema), &spec); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if spec.Name != "command" || spec.Version != "1.2.3" {
		t.Fatalf("name %q version %q", spec.Name, spec.Version)
	}
	if got := slices.Sorted(maps.Keys(spec.Resources)); !slices.Equal(got, slices.Sorted(maps.Keys(inputKeys))) {
		t.Fatalf("resources %v", got)
	}
	for typ, keys := range inputKeys {
		var want []string
		for _, k := range keys {
			want = append(want, string(k))
		}
		got := slices.Sorted(maps.Keys(spec.Resources[typ].InputProperties))
		if !slices.Equal(got, want) {
			t.Errorf("%s inputs: schema %v, implementation %v", typ, got, want)
		}
		for k := range spec.Resources[typ].InputProperties {
			if _, ok := spec.Resources[typ].Properties[k]; !ok {
				t.Errorf("%s: input %s is missing from the outputs", typ, k)
			}
		}
	}
	for _, typ := range []string{"command:remote:Connection", "command:remote:ProxyConnection",
		"command:local:Logging", "command:remote:Logging"} {
		if _, ok := spec.Types[typ]; !ok {
			t.Errorf("type %s missing", typ)
		}
	}
	if _, ok := spec.Functions[localRun]; !ok {
		t.Errorf("function %s missing", localRun)
	}
}

func TestPluginInfoAndConfigure(t *testing.T) {
	p, _ := newTestProvider(t)
	info, err := p.GetPluginInfo(context.Background(), nil)
	if err != nil || info.Version != "1.2.3" {
		t.Fatalf("plugin info %v %v", info, err)
	}
	cfg, err := p.Configure(context.Background(), &pulumirpc.ConfigureRequest{AcceptSecrets: true})
	if err != nil || cfg.AcceptSecrets || !cfg.SupportsPreview {
		t.Fatalf("configure %v %v", cfg, err)
	}
}
