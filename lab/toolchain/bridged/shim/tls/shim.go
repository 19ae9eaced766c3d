// Package shim exposes terraform-provider-tls's internal plugin-framework provider to the bridge.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	upstream "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

// NewProvider returns the upstream Terraform provider.
func NewProvider() provider.Provider { return upstream.New() }
