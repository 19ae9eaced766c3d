// Package bridged serves Terraform plugin-framework providers through pulumi-terraform-bridge under the
// same resource tokens as Pulumi's published tls and random packages, so the npm SDKs find them.
package bridged

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	pfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
)

// Package describes one bridged provider: its Pulumi name and version, and the Pulumi type name of each
// Terraform resource and data source it exposes (all in the "index" module, as the published packages do).
type Package struct {
	Name        string
	Version     string
	Description string
	Upstream    provider.Provider
	Resources   map[string]string
	DataSources map[string]string
}

// Info builds the bridge's ProviderInfo for the package.
func (p Package) Info() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:           pfbridge.ShimProvider(p.Upstream),
		Name:        p.Name,
		Version:     p.Version,
		Description: p.Description,
		License:     "Apache-2.0",
		// The runtime needs no generated bridge metadata: there are no renames or aliases to carry.
		MetadataInfo: tfbridge.NewProviderMetadata([]byte("{}")),
		Resources:    map[string]*tfbridge.ResourceInfo{},
		DataSources:  map[string]*tfbridge.DataSourceInfo{},
	}
	for tf, typ := range p.Resources {
		info.Resources[tf] = &tfbridge.ResourceInfo{Tok: tokens.Type(p.token(typ))}
	}
	for tf, fn := range p.DataSources {
		info.DataSources[tf] = &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(p.token(fn))}
	}
	return info
}

// token follows the published packages' convention: "<pkg>:index/<lowerCamel>:<Name>".
func (p Package) token(name string) string {
	file := string(unicode.ToLower(rune(name[0]))) + name[1:]
	return fmt.Sprintf("%s:index/%s:%s", p.Name, file, name)
}

// Serve runs the provider plugin. The package schema is generated from the same ProviderInfo when the
// engine asks for it, instead of at build time, so one `go build` yields a complete plugin.
func (p Package) Serve(info tfbridge.ProviderInfo) {
	exitWhenEngineGone(os.Args[1:])
	meta := pfbridge.ProviderMetadata{
		XGetSchema: func(ctx context.Context, _ plugin.GetSchemaRequest) ([]byte, error) {
			quiet := diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never})
			res, err := pftfgen.GenerateSchema(ctx, pftfgen.GenerateSchemaOptions{
				ProviderInfo:    info,
				DiagnosticsSink: quiet,
				XInMemoryDocs:   true,
			})
			if err != nil {
				return nil, err
			}
			return res.ProviderMetadata.PackageSchema, nil
		},
	}
	pfbridge.Main(context.Background(), p.Name, info, meta)
}

// engineCheckEvery bounds how long the provider outlives an engine that died without stopping it (a killed
// `pulumi up`); a health check is one small RPC on the loopback.
const engineCheckEvery = time.Second

// exitWhenEngineGone ends the process once the engine stops answering. The bridge's own check (pulumi/pkg
// v3.218.0 provider.Main) cancels a shadowed context and so never stops the provider: after a killed
// `pulumi up` it would run forever. The engine passes its address as the last argument; without one (attach
// mode) there is nothing to watch. Exiting at once is safe: these providers start no processes, and
// nobody is left to receive the result of an operation in flight.
func exitWhenEngineGone(args []string) {
	if len(args) == 0 || strings.HasPrefix(args[len(args)-1], "-") {
		return
	}
	// A malformed address is the bridge's to report, when it connects to the engine.
	_ = rpcutil.Healthcheck(context.Background(), args[len(args)-1], engineCheckEvery, func() { os.Exit(1) })
}

// IDFromHash derives a resource ID from a (possibly secret) state property without revealing it, for
// Terraform resources that have no id attribute of their own.
func IDFromHash(property resource.PropertyKey) func(context.Context, resource.PropertyMap) (resource.ID, error) {
	return func(_ context.Context, state resource.PropertyMap) (resource.ID, error) {
		v, ok := state[property]
		if !ok {
			return "", fmt.Errorf("state has no %q property to derive an ID from", property)
		}
		if v.IsSecret() {
			v = v.SecretValue().Element
		}
		if !v.IsString() {
			return "", fmt.Errorf("state property %q is not a string", property)
		}
		sum := sha256.Sum256([]byte(v.StringValue()))
		return resource.ID(hex.EncodeToString(sum[:16])), nil
	}
}
