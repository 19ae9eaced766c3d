package cmdprov

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/grpclog"
)

// Main speaks the resource plugin launch protocol: the engine starts us with its own gRPC address as
// the only positional argument (plus optional logging/tracing flags), and reads the port we listen
// on from the first line of our stdout. Without an address we start in attach mode and learn the
// engine address from Attach or Handshake (PULUMI_DEBUG_PROVIDERS).
//
// pkg/v3's provider.Main does the same, but depending on pkg/v3 would pull the whole engine into this
// small plugin, so the few lines are repeated here on top of sdk/v3 alone.
func Main(name, version string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	logToStderr := fs.Bool("logtostderr", false, "log to stderr")
	verbose := fs.Int("v", 0, "log verbosity")
	_ = fs.String("tracing", "", "tracing endpoint (ignored)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logging.InitLogging(*logToStderr, *verbose, false)
	// gRPC's own chatter would otherwise land in the engine's view of our stderr.
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr))

	// The engine stops plugins with SIGINT.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Once the engine is gone our stdout and stderr are broken pipes, and a stray write to them would
	// kill us (Go's default for SIGPIPE on fd 1 and 2) before we have stopped the commands we started.
	// Notify, not Ignore: an ignored signal would stay ignored in those commands.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	var engineAddr string
	switch fs.NArg() {
	case 0:
	case 1:
		engineAddr = fs.Arg(0)
	default:
		return errors.New("expected at most one argument: the engine address")
	}
	return serve(ctx, New(version), engineAddr, os.Stdout)
}

// engineCheckEvery bounds how long we outlive an engine that died without stopping us (a killed
// `pulumi up`); a health check is one small RPC on the loopback.
const engineCheckEvery = time.Second

// serve answers the engine until ctx ends or the engine at engineAddr stops answering, then stops the
// running commands and returns once their requests have been answered. It writes the port it listens
// on to portOut.
func serve(ctx context.Context, prov *Provider, engineAddr string, portOut io.Writer) error {
	if engineAddr != "" {
		if err := prov.connectEngine(engineAddr); err != nil {
			return fmt.Errorf("could not connect to the engine at %s: %w", engineAddr, err)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		if err := rpcutil.Healthcheck(ctx, engineAddr, engineCheckEvery, cancel); err != nil {
			return fmt.Errorf("could not start the engine health check: %w", err)
		}
	}

	stopServing := make(chan bool)
	go func() {
		<-ctx.Done()
		prov.cancelAll()
		// GracefulStop (on close) waits for the cancelled operations, i.e. for their commands to end.
		close(stopServing)
	}()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stopServing,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, prov)
			return nil
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(portOut, "%d\n", handle.Port)
	return <-handle.Done
}

// engineLogger forwards diagnostics to the engine's Log RPC.
type engineLogger struct {
	conn   *grpc.ClientConn
	client pulumirpc.EngineClient
}

func dialEngine(addr string) (*engineLogger, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		rpcutil.GrpcChannelOptions())
	if err != nil {
		return nil, err
	}
	return &engineLogger{conn: conn, client: pulumirpc.NewEngineClient(conn)}, nil
}

func (l *engineLogger) Log(ctx context.Context, sev pulumirpc.LogSeverity, urn, msg string, ephemeral bool) error {
	_, err := l.client.Log(ctx, &pulumirpc.LogRequest{
		Severity:  sev,
		Message:   strings.ToValidUTF8(msg, "\uFFFD"),
		Urn:       urn,
		Ephemeral: ephemeral,
	})
	return err
}
