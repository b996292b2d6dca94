# Where current Packer (1.7+) finds the cloudstack builder: `packer init packer-templates/`
# installs it, and building the directory uses it. Kept apart from mesostack.pkr.hcl because
# Packer 1.6.6 rejects a required_plugins block; build that file alone with 1.6.6.

packer {
  required_plugins {
    cloudstack = {
      version = ">= 0.1.0"
      source  = "github.com/mesostack/cloudstack"
    }
  }
}
