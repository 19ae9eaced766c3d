// Package cmdprov implements the resources of pulumi-command 1.x that @pulumi/command uses
// (local.Command, remote.Command, remote.CopyToRemote and the local.run function) directly on the
// ResourceProvider gRPC interface.
package cmdprov

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

//go:embed schema.json
var schemaJSON []byte

// Logger receives the provider's diagnostics; in production it is the engine's Log RPC.
type Logger interface {
	Log(ctx context.Context, sev pulumirpc.LogSeverity, urn, msg string, ephemeral bool) error
}

// Provider is the ResourceProviderServer. It keeps no per-resource state: everything it needs is in
// the requests, so concurrent operations are independent.
type Provider struct {
	pulumirpc.UnimplementedResourceProviderServer

	version string

	mu     sync.Mutex
	logger Logger

	// cancelCtx ends every running operation when the engine calls Cancel or we shut down.
	cancelCtx context.Context
	cancelAll context.CancelFunc
}

// New returns a provider that reports the given plugin version.
func New(version string) *Provider {
	ctx, cancel := context.WithCancel(context.Background())
	return &Provider{version: version, cancelCtx: ctx, cancelAll: cancel}
}

// SetLogger replaces the engine connection as the destination of diagnostics.
func (p *Provider) SetLogger(l Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logger = l
}

func (p *Provider) connectEngine(addr string) error {
	l, err := dialEngine(addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	old, _ := p.logger.(*engineLogger)
	p.logger = l
	p.mu.Unlock()
	if old != nil {
		_ = old.conn.Close()
	}
	return nil
}

func (p *Provider) log(ctx context.Context, sev pulumirpc.LogSeverity, urn, msg string, ephemeral bool) {
	p.mu.Lock()
	l := p.logger
	p.mu.Unlock()
	if l == nil {
		return
	}
	// Output that arrives while an operation is being cancelled is still worth showing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = l.Log(ctx, sev, urn, msg, ephemeral)
}

// statusLogger streams command output the way pulumi-command 1.x does: one ephemeral info message
// per line, shown in the resource's row of the progress display.
func (p *Provider) statusLogger(ctx context.Context, urn string) func(string) {
	return func(line string) { p.log(ctx, pulumirpc.LogSeverity_INFO, urn, line, true) }
}

// opContext bounds one operation by the request, the engine's Cancel and customTimeouts.
func (p *Provider) opContext(ctx context.Context, timeoutSeconds float64) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.cancelCtx, cancel)
	release := func() { stop(); cancel() }
	if timeoutSeconds > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeout(ctx, time.Duration(timeoutSeconds*float64(time.Second)))
		return ctx, func() { cancelTimeout(); release() }
	}
	return ctx, release
}

func unmarshalProps(s *structpb.Struct) (resource.PropertyMap, error) {
	// Secrets arrive unwrapped (we do not accept secrets); keep unknowns so previews can be answered.
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true})
}

func marshalProps(pm resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(pm, plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true})
}

// resourceType prefers the request's type field and falls back to the URN for older engines.
func resourceType(typ, urn string) (string, error) {
	if typ == "" && urn != "" {
		typ = string(resource.URN(urn).Type())
	}
	if _, ok := inputKeys[typ]; !ok {
		return "", fmt.Errorf("unknown resource type %q", typ)
	}
	return typ, nil
}

func resourceName(name, urn string) string {
	if name == "" && urn != "" {
		return resource.URN(urn).Name()
	}
	return name
}

func (p *Provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *Provider) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetSubpackageName() != "" {
		return nil, fmt.Errorf("this provider has no subpackages (asked for %q)", req.GetSubpackageName())
	}
	s, err := versionedSchema(p.version)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: s}, nil
}

// versionedSchema stamps the build's version into the embedded schema.
func versionedSchema(version string) (string, error) {
	var spec map[string]any
	if err := json.Unmarshal(schemaJSON, &spec); err != nil {
		return "", fmt.Errorf("embedded schema: %w", err)
	}
	if version != "" && version != "dev" {
		spec["version"] = version
	}
	out, err := json.Marshal(spec)
	return string(out), err
}

// Handshake is the engine's first call on recent CLIs; it also tells us where the engine is when
// we were started for debugging without arguments.
func (p *Provider) Handshake(_ context.Context, req *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	p.mu.Lock()
	haveLogger := p.logger != nil
	p.mu.Unlock()
	if !haveLogger && req.GetEngineAddress() != "" {
		if err := p.connectEngine(req.GetEngineAddress()); err != nil {
			return nil, err
		}
	}
	return &pulumirpc.ProviderHandshakeResponse{}, nil
}

func (p *Provider) Attach(_ context.Context, req *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	if err := p.connectEngine(req.GetAddress()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// The provider has no configuration; the SDK may still send a "version" key, which is ignored.

func (p *Provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *Provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *Provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	// acceptSecrets=false: the engine unwraps secrets for us and marks the matching outputs secret
	// again, which is what keeps connection secret in the state.
	return &pulumirpc.ConfigureResponse{AcceptSecrets: false, SupportsPreview: true}, nil
}

func (p *Provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancelAll()
	return &emptypb.Empty{}, nil
}

func (p *Provider) GetMapping(context.Context, *pulumirpc.GetMappingRequest) (*pulumirpc.GetMappingResponse, error) {
	return &pulumirpc.GetMappingResponse{}, nil
}

func (p *Provider) GetMappings(context.Context, *pulumirpc.GetMappingsRequest) (*pulumirpc.GetMappingsResponse, error) {
	return &pulumirpc.GetMappingsResponse{}, nil
}

func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	typ, err := resourceType(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshalProps(req.GetNews())
	if err != nil {
		return nil, err
	}
	applyDefaults(typ, news)
	var d *decoder
	if typ == copyToRemote {
		_, d = decodeCopy(news)
	} else {
		_, d = decodeCommand(typ, news)
	}
	inputs, err := marshalProps(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: d.failures}, nil
}

func (p *Provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	typ, err := resourceType(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshalProps(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshalProps(req.GetNews())
	if err != nil {
		return nil, err
	}
	return diffInputs(typ, olds, news, req.GetIgnoreChanges()), nil
}

func (p *Provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	typ, err := resourceType(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	news, err := unmarshalProps(req.GetProperties())
	if err != nil {
		return nil, err
	}
	ctx, done := p.opContext(ctx, req.GetTimeout())
	defer done()

	outs := news.Copy()
	var id string
	switch {
	case req.GetPreview():
		if typ != copyToRemote {
			markOutputsUnknown(outs)
		}
	case typ == copyToRemote:
		if err := p.copyFiles(ctx, req.GetUrn(), news); err != nil {
			return nil, err
		}
		if id, err = resource.NewUniqueHex("", 8, 0); err != nil {
			return nil, err
		}
	default:
		stdout, stderr, err := p.runCommand(ctx, typ, req.GetUrn(), news, createCommand, "", "")
		if err != nil {
			return nil, err
		}
		setOutputs(outs, stdout, stderr)
		if id, err = resource.NewUniqueHex(resourceName(req.GetName(), req.GetUrn()), 8, 0); err != nil {
			return nil, err
		}
	}
	props, err := marshalProps(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Read returns the state as is: nothing on a host tells us what a command did.
func (p *Provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *Provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	typ, err := resourceType(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	olds, err := unmarshalProps(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshalProps(req.GetNews())
	if err != nil {
		return nil, err
	}
	ctx, done := p.opContext(ctx, req.GetTimeout())
	defer done()

	outs := news.Copy()
	switch {
	case typ == copyToRemote:
		// Any in-place change (source, remotePath, connection) means copying again.
		if !req.GetPreview() {
			if err := p.copyFiles(ctx, req.GetUrn(), news); err != nil {
				return nil, err
			}
		}
	case !hasValue(news, "update") && !hasValue(news, "create"):
		// Nothing to run: the previous outputs stay.
		setOutputs(outs, stringProp(olds, "stdout"), stringProp(olds, "stderr"))
	case req.GetPreview():
		markOutputsUnknown(outs)
	default:
		prevStdout, prevStderr := stringProp(olds, "stdout"), stringProp(olds, "stderr")
		stdout, stderr, err := p.runCommand(ctx, typ, req.GetUrn(), news, updateCommand, prevStdout, prevStderr)
		if err != nil {
			return nil, err
		}
		setOutputs(outs, stdout, stderr)
	}
	props, err := marshalProps(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *Provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	typ, err := resourceType(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	// Like the official provider, CopyToRemote leaves the copied files in place.
	if typ == copyToRemote {
		return &emptypb.Empty{}, nil
	}
	state, err := unmarshalProps(req.GetProperties())
	if err != nil {
		return nil, err
	}
	a, d := decodeCommand(typ, state)
	if a.delete == nil {
		return &emptypb.Empty{}, nil
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	ctx, done := p.opContext(ctx, req.GetTimeout())
	defer done()
	r := newRunRequest(req.GetUrn(), *a.delete, a, stringProp(state, "stdout"), stringProp(state, "stderr"))
	if _, _, err := p.run(ctx, typ, a, r); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Invoke serves command:local:run, which runs its command every time the program runs, previews
// included, like the official function.
func (p *Provider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != localRun {
		return nil, fmt.Errorf("unknown function %q", req.GetTok())
	}
	args, err := unmarshalProps(req.GetArgs())
	if err != nil {
		return nil, err
	}
	a, d := decodeCommand(localRun, args)
	if len(d.failures) > 0 {
		return &pulumirpc.InvokeResponse{Failures: d.failures}, nil
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	ctx, done := p.opContext(ctx, 0)
	defer done()
	stdout, stderr, err := p.runLocal(ctx, a, newRunRequest("", *a.create, a, "", ""))
	if err != nil {
		return nil, err
	}
	outs := args.Copy()
	setOutputs(outs, stdout, stderr)
	ret, err := marshalProps(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

func (p *Provider) run(ctx context.Context, typ string, a commandArgs, r runRequest) (string, string, error) {
	if typ == remoteCommand {
		return p.runRemote(ctx, a.conn, r)
	}
	return p.runLocal(ctx, a, r)
}

func setOutputs(pm resource.PropertyMap, stdout, stderr string) {
	pm["stdout"] = resource.NewStringProperty(stdout)
	pm["stderr"] = resource.NewStringProperty(stderr)
}

// markOutputsUnknown is the preview answer: the outputs exist but depend on running the command.
func markOutputsUnknown(pm resource.PropertyMap) {
	pm["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
	pm["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
}

// copyFiles decodes a CopyToRemote's inputs and copies its source to the host.
func (p *Provider) copyFiles(ctx context.Context, urn string, pm resource.PropertyMap) error {
	a, d := decodeCopy(pm)
	if err := d.err(); err != nil {
		return err
	}
	return p.copyToRemoteHost(ctx, urn, a)
}

// runCommand decodes a command resource's inputs and runs the command that pick chooses; with none
// chosen, nothing runs and the outputs are empty.
func (p *Provider) runCommand(ctx context.Context, typ, urn string, pm resource.PropertyMap,
	pick func(commandArgs) *string, prevStdout, prevStderr string,
) (string, string, error) {
	a, d := decodeCommand(typ, pm)
	if err := d.err(); err != nil {
		return "", "", err
	}
	command := pick(a)
	if command == nil {
		return "", "", nil
	}
	return p.run(ctx, typ, a, newRunRequest(urn, *command, a, prevStdout, prevStderr))
}

func createCommand(a commandArgs) *string { return a.create }

// updateCommand is the update command, or the create command when there is none (as upstream).
func updateCommand(a commandArgs) *string {
	if a.update != nil {
		return a.update
	}
	return a.create
}

func hasValue(pm resource.PropertyMap, key resource.PropertyKey) bool {
	v, ok := pm[key]
	return ok && !v.IsNull()
}

func stringProp(pm resource.PropertyMap, key resource.PropertyKey) string {
	if v, ok := pm[key]; ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}
