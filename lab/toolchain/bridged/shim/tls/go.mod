// The shim's path sits under the upstream module so it may import its internal provider package.
module github.com/hashicorp/terraform-provider-tls/shim

go 1.25.8

require github.com/hashicorp/terraform-provider-tls v1.2.1-0.20260819085117-d044ca7c6f52
