terraform {
  required_version = ">= 1.0"

  required_providers {
    # The drop-in address of apache/cloudstack-terraform-provider; our Rust
    # binary installs under it from a filesystem mirror (see
    # crates/terraform-provider-cloudstack/README.md).
    cloudstack = {
      source = "cloudstack/cloudstack"
    }
  }
}
