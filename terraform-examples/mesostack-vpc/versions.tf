terraform {
  required_version = ">= 1.0"

  required_providers {
    # The drop-in address of apache/cloudstack-terraform-provider; our Rust
    # binary installs under it (see the README's install section).
    cloudstack = {
      source = "cloudstack/cloudstack"
    }
  }
}

provider "cloudstack" {
  api_url    = var.cs_api_url
  api_key    = var.cs_api_key
  secret_key = var.cs_secret_key
}
