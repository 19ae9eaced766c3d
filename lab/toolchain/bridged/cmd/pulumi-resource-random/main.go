// Command pulumi-resource-random serves hashicorp/terraform-provider-random as the Pulumi "random" package.
package main

import (
	randomshim "github.com/terraform-providers/terraform-provider-random/shim"

	"rwk.lab/bridged/internal/bridged"
)

// Version is stamped at build time and must equal the @pulumi/random version in package.json.
var Version = "0.0.0-dev"

func main() {
	pkg := bridged.Package{
		Name:        "random",
		Version:     Version,
		Description: "Randomness (terraform-provider-random through pulumi-terraform-bridge).",
		Upstream:    randomshim.NewProvider(),
		Resources: map[string]string{
			"random_bytes":    "RandomBytes",
			"random_id":       "RandomId",
			"random_integer":  "RandomInteger",
			"random_password": "RandomPassword",
			"random_pet":      "RandomPet",
			"random_shuffle":  "RandomShuffle",
			"random_string":   "RandomString",
			"random_uuid":     "RandomUuid",
		},
	}
	info := pkg.Info()
	// random_bytes has no id attribute; its only identity is the (secret) value itself.
	info.Resources["random_bytes"].ComputeID = bridged.IDFromHash("base64")
	pkg.Serve(info)
}
