// Command pulumi-resource-tls serves hashicorp/terraform-provider-tls as the Pulumi "tls" package.
package main

import (
	tlsshim "github.com/hashicorp/terraform-provider-tls/shim"

	"rwk.lab/bridged/internal/bridged"
)

// Version is stamped at build time and must equal the @pulumi/tls version in package.json.
var Version = "0.0.0-dev"

func main() {
	pkg := bridged.Package{
		Name:        "tls",
		Version:     Version,
		Description: "TLS keys and certificates (terraform-provider-tls through pulumi-terraform-bridge).",
		Upstream:    tlsshim.NewProvider(),
		Resources: map[string]string{
			"tls_cert_request":        "CertRequest",
			"tls_locally_signed_cert": "LocallySignedCert",
			"tls_private_key":         "PrivateKey",
			"tls_self_signed_cert":    "SelfSignedCert",
		},
		DataSources: map[string]string{
			"tls_certificate": "getCertificate",
			"tls_public_key":  "getPublicKey",
		},
	}
	pkg.Serve(pkg.Info())
}
