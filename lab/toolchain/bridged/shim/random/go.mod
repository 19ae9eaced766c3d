// The shim's path sits under the upstream module so it may import its internal provider package.
module github.com/terraform-providers/terraform-provider-random/shim

go 1.25.8

require github.com/terraform-providers/terraform-provider-random v0.0.0
