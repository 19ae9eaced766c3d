// Command pulumi-resource-command is a stand-in for the official pulumi-command resource provider:
// the official source is not reachable from this project's machines, so we build a compatible
// implementation of the part of its schema that @pulumi/command uses.
package main

import (
	"fmt"
	"os"

	"rwk.lab/command-provider/internal/cmdprov"
)

// version is stamped at build time (-ldflags "-X main.version=1.2.1") so that the engine sees the
// same plugin version as the npm SDK requests.
var version = "dev"

func main() {
	if err := cmdprov.Main("command", version, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
}
