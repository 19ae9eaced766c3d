package cmdprov

import (
	"fmt"
	"math"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

// Type tokens exactly as @pulumi/command registers them.
const (
	localCommand  = "command:local:Command"
	remoteCommand = "command:remote:Command"
	copyToRemote  = "command:remote:CopyToRemote"
	localRun      = "command:local:run"
)

// inputKeys are the input properties of each resource. Diff looks at these only, so that outputs
// kept in the state (stdout, stderr) never show up as changes.
var inputKeys = map[string][]resource.PropertyKey{
	localCommand: {"addPreviousOutputInEnv", "create", "delete", "dir", "environment", "interpreter",
		"logging", "stdin", "triggers", "update"},
	remoteCommand: {"addPreviousOutputInEnv", "connection", "create", "delete", "environment", "logging",
		"stdin", "triggers", "update"},
	copyToRemote: {"connection", "remotePath", "source", "triggers"},
}

// Defaults shared with the SDK's connectionArgsProvideDefaults; applied again here because other
// SDKs, `pulumi import` and hand-written state do not necessarily go through it.
const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

var defaultInterpreter = []string{"/bin/sh", "-c"}

type loggingMode string

const (
	logStdout          loggingMode = "stdout"
	logStderr          loggingMode = "stderr"
	logStdoutAndStderr loggingMode = "stdoutAndStderr"
	logNone            loggingMode = "none"
)

func (m loggingMode) stdout() bool { return m == "" || m == logStdout || m == logStdoutAndStderr }
func (m loggingMode) stderr() bool { return m == "" || m == logStderr || m == logStdoutAndStderr }

// commandArgs are the decoded inputs of local and remote Command (and local:run).
type commandArgs struct {
	create, update, delete *string
	stdin                  string
	environment            map[string]string
	logging                loggingMode
	addPreviousOutputInEnv bool

	dir         string   // local only
	interpreter []string // local only
	conn        *connection
}

type copyArgs struct {
	conn       *connection
	source     resource.PropertyValue
	remotePath string
}

type connection struct {
	host               string
	port               int
	user               string
	password           *string
	privateKey         *string
	privateKeyPassword *string
	agentSocketPath    *string
	hostKey            *string
	// Parsed once while decoding (a passphrase-protected key is deliberately slow to parse).
	signer         ssh.Signer
	hostPublicKey  ssh.PublicKey
	dialErrorLimit int
	perDialTimeout int
	proxy          *connection
}

// applyDefaults fills in the documented defaults so that they are recorded in the state and take
// part in diffs the same way they do with the official provider.
func applyDefaults(typ string, pm resource.PropertyMap) {
	if typ == localCommand || typ == remoteCommand {
		setDefault(pm, "addPreviousOutputInEnv", resource.NewBoolProperty(true))
	}
	if typ == remoteCommand || typ == copyToRemote {
		if c, ok := pm["connection"]; ok && c.IsObject() {
			obj := c.ObjectValue()
			connectionDefaults(obj)
			if p, ok := obj["proxy"]; ok && p.IsObject() {
				connectionDefaults(p.ObjectValue())
			}
		}
	}
}

func connectionDefaults(obj resource.PropertyMap) {
	setDefault(obj, "port", resource.NewNumberProperty(defaultPort))
	setDefault(obj, "user", resource.NewStringProperty(defaultUser))
	setDefault(obj, "dialErrorLimit", resource.NewNumberProperty(defaultDialErrorLimit))
	setDefault(obj, "perDialTimeout", resource.NewNumberProperty(defaultPerDialTimeout))
}

func setDefault(pm resource.PropertyMap, key resource.PropertyKey, v resource.PropertyValue) {
	if !hasValue(pm, key) {
		pm[key] = v
	}
}

type presence int

const (
	absent presence = iota
	unknown
	known
)

// decoder turns a property map into typed arguments, collecting Check failures on the way. Values
// that are not known yet (during preview) are skipped, not reported.
type decoder struct {
	failures []*pulumirpc.CheckFailure
	unknown  bool
}

func (d *decoder) fail(path, format string, args ...any) {
	d.failures = append(d.failures, &pulumirpc.CheckFailure{Property: path, Reason: fmt.Sprintf(format, args...)})
}

// err reports the first failure as an error for callers that cannot return Check failures.
func (d *decoder) err() error {
	if len(d.failures) > 0 {
		f := d.failures[0]
		return fmt.Errorf("invalid %s: %s", f.Property, f.Reason)
	}
	if d.unknown {
		return fmt.Errorf("inputs contain values that are not known yet")
	}
	return nil
}

func isUnknown(v resource.PropertyValue) bool {
	return v.IsComputed() || (v.IsOutput() && !v.OutputValue().Known)
}

func (d *decoder) get(pm resource.PropertyMap, key string) (resource.PropertyValue, presence) {
	v, ok := pm[resource.PropertyKey(key)]
	switch {
	case !ok || v.IsNull():
		return v, absent
	case isUnknown(v):
		d.unknown = true
		return v, unknown
	}
	if v.IsOutput() {
		v = v.OutputValue().Element
	}
	return v, known
}

func (d *decoder) str(pm resource.PropertyMap, key, path string) *string {
	v, p := d.get(pm, key)
	if p != known {
		return nil
	}
	if !v.IsString() {
		d.fail(path, "expected a string, got %s", v.TypeString())
		return nil
	}
	s := v.StringValue()
	return &s
}

func (d *decoder) requiredStr(pm resource.PropertyMap, key, path string) string {
	if _, p := d.get(pm, key); p == absent {
		d.fail(path, "missing required property '%s'", path)
		return ""
	}
	s := d.str(pm, key, path)
	if s == nil {
		return ""
	}
	if *s == "" {
		d.fail(path, "'%s' must not be empty", path)
	}
	return *s
}

func (d *decoder) boolean(pm resource.PropertyMap, key, path string, def bool) bool {
	v, p := d.get(pm, key)
	if p != known {
		return def
	}
	if !v.IsBool() {
		d.fail(path, "expected a boolean, got %s", v.TypeString())
		return def
	}
	return v.BoolValue()
}

func (d *decoder) integer(pm resource.PropertyMap, key, path string, def, minimum, maximum int) int {
	v, p := d.get(pm, key)
	if p != known {
		return def
	}
	if !v.IsNumber() {
		d.fail(path, "expected a number, got %s", v.TypeString())
		return def
	}
	n := v.NumberValue()
	if n != math.Trunc(n) || n < float64(minimum) || n > float64(maximum) {
		d.fail(path, "expected an integer between %d and %d, got %v", minimum, maximum, n)
		return def
	}
	return int(n)
}

func (d *decoder) strMap(pm resource.PropertyMap, key, path string) map[string]string {
	v, p := d.get(pm, key)
	if p != known {
		return nil
	}
	if !v.IsObject() {
		d.fail(path, "expected a map of strings, got %s", v.TypeString())
		return nil
	}
	out := map[string]string{}
	for k := range v.ObjectValue() {
		if s := d.str(v.ObjectValue(), string(k), path+"."+string(k)); s != nil {
			out[string(k)] = *s
		}
	}
	return out
}

func (d *decoder) strList(pm resource.PropertyMap, key, path string) []string {
	v, p := d.get(pm, key)
	if p != known {
		return nil
	}
	if !v.IsArray() {
		d.fail(path, "expected a list of strings, got %s", v.TypeString())
		return nil
	}
	var out []string
	for i, e := range v.ArrayValue() {
		elemPath := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case isUnknown(e):
			d.unknown = true
		case e.IsString():
			out = append(out, e.StringValue())
		default:
			d.fail(elemPath, "expected a string, got %s", e.TypeString())
		}
	}
	return out
}

func (d *decoder) logging(pm resource.PropertyMap) loggingMode {
	s := d.str(pm, "logging", "logging")
	if s == nil {
		return ""
	}
	switch m := loggingMode(*s); m {
	case logStdout, logStderr, logStdoutAndStderr, logNone:
		return m
	}
	d.fail("logging", "expected one of stdout, stderr, stdoutAndStderr, none; got %q", *s)
	return ""
}

func decodeCommand(typ string, pm resource.PropertyMap) (commandArgs, *decoder) {
	d := &decoder{}
	a := commandArgs{
		create:                 d.str(pm, "create", "create"),
		update:                 d.str(pm, "update", "update"),
		delete:                 d.str(pm, "delete", "delete"),
		environment:            d.strMap(pm, "environment", "environment"),
		logging:                d.logging(pm),
		addPreviousOutputInEnv: d.boolean(pm, "addPreviousOutputInEnv", "addPreviousOutputInEnv", true),
	}
	if typ == localRun {
		cmd := d.requiredStr(pm, "command", "command")
		a.create = &cmd
	}
	if s := d.str(pm, "stdin", "stdin"); s != nil {
		a.stdin = *s
	}
	switch typ {
	case localCommand, localRun:
		if s := d.str(pm, "dir", "dir"); s != nil {
			a.dir = *s
		}
		a.interpreter = d.strList(pm, "interpreter", "interpreter")
		for _, k := range []string{"assetPaths", "archivePaths"} {
			// Collecting files into assets is not implemented; refuse rather than silently return nothing.
			if v, p := d.get(pm, k); p == known && !(v.IsArray() && len(v.ArrayValue()) == 0) {
				d.fail(k, "'%s' is not supported by this build of pulumi-resource-command", k)
			}
		}
	case remoteCommand:
		a.conn = d.connection(pm, "connection", "connection", true)
	}
	return a, d
}

func decodeCopy(pm resource.PropertyMap) (copyArgs, *decoder) {
	d := &decoder{}
	a := copyArgs{
		conn:       d.connection(pm, "connection", "connection", true),
		remotePath: d.requiredStr(pm, "remotePath", "remotePath"),
	}
	switch v, p := d.get(pm, "source"); p {
	case absent:
		d.fail("source", "missing required property 'source'")
	case known:
		if !v.IsAsset() && !v.IsArchive() {
			d.fail("source", "expected an asset or an archive, got %s", v.TypeString())
		}
		a.source = v
	}
	return a, d
}

func (d *decoder) connection(pm resource.PropertyMap, key, path string, allowProxy bool) *connection {
	v, p := d.get(pm, key)
	switch {
	case p == absent:
		d.fail(path, "missing required property '%s'", path)
		return nil
	case p == unknown:
		return nil
	case !v.IsObject():
		d.fail(path, "expected an object, got %s", v.TypeString())
		return nil
	}
	obj := v.ObjectValue()
	c := &connection{
		host:               d.requiredStr(obj, "host", path+".host"),
		port:               d.integer(obj, "port", path+".port", defaultPort, 1, 65535),
		user:               defaultUser,
		password:           d.str(obj, "password", path+".password"),
		privateKey:         d.str(obj, "privateKey", path+".privateKey"),
		privateKeyPassword: d.str(obj, "privateKeyPassword", path+".privateKeyPassword"),
		agentSocketPath:    d.str(obj, "agentSocketPath", path+".agentSocketPath"),
		hostKey:            d.str(obj, "hostKey", path+".hostKey"),
		dialErrorLimit:     d.integer(obj, "dialErrorLimit", path+".dialErrorLimit", defaultDialErrorLimit, -1, math.MaxInt32),
		perDialTimeout:     d.integer(obj, "perDialTimeout", path+".perDialTimeout", defaultPerDialTimeout, 0, math.MaxInt32),
	}
	if u := d.str(obj, "user", path+".user"); u != nil {
		c.user = *u
	}
	if c.privateKey != nil {
		var err error
		if c.signer, err = parseSigner(*c.privateKey, c.privateKeyPassword); err != nil {
			d.fail(path+".privateKey", "could not parse the private key: %v", err)
		}
	}
	if c.hostKey != nil {
		var err error
		if c.hostPublicKey, _, _, _, err = ssh.ParseAuthorizedKey([]byte(*c.hostKey)); err != nil {
			d.fail(path+".hostKey", "could not parse the host key (expected authorized_keys format): %v", err)
		}
	}
	if allowProxy {
		if _, p := d.get(obj, "proxy"); p != absent {
			c.proxy = d.connection(obj, "proxy", path+".proxy", false)
		}
	}
	return c
}
