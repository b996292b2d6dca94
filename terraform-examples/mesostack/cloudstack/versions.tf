terraform {
  required_version = ">= 1.0"

  required_providers {
    cloudstack = {
      source = "cloudstack/cloudstack"
    }
  }
}
