# The mesostack image as an HCL2 template: the same build as mesostack.json, with the same
# variables and defaults and the same provisioning, using the modern field names of the
# cloudstack builder. Credentials come only from the environment:
# CLOUDSTACK_API_URL, CLOUDSTACK_API_KEY, CLOUDSTACK_SECRET_KEY.
#
#   Packer 1.6.6:  packer build packer-templates/mesostack.pkr.hcl
#   Packer 1.7+:   packer init packer-templates/   (reads plugins.pkr.hcl; or packer plugins
#                  install --path ...), then packer build packer-templates/
#
# The required_plugins block lives in plugins.pkr.hcl because Packer 1.6.6 rejects it.

variable "zone" {
  type        = string
  description = "Zone name or id (default: the simulator's zone001)."
  default     = "5ea72245-fbe5-4646-9a88-277b81facfbe"
}

variable "service_offering" {
  type        = string
  description = "Service offering name or id of the build VM (default: the simulator's t1.small)."
  default     = "03f15d3e-57cd-41de-afb0-8714c3a3f05a"
}

variable "source_template" {
  type        = string
  description = "Base template name or id, a plain Ubuntu (default: the simulator's Ubuntu 14.04)."
  default     = "936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5"
}

variable "network" {
  type        = string
  description = "Network name or id the build VM joins (default: the simulator's guestnet001)."
  default     = "5fed5b81-ea49-4e5a-bc36-ee52bd782d54"
}

variable "template_os" {
  type        = string
  description = "OS type of the new template (default: the simulator's Ubuntu 14.04 (64-bit))."
  default     = "c0a80a01-0000-4000-8000-000000000141"
}

variable "hypervisor" {
  type        = string
  description = "Hypervisor of the build VM (CloudStack ignores it when the template has one)."
  default     = "KVM"
}

variable "template_name" {
  type        = string
  description = "Name of the new template: the Terraform module's cs_image default."
  default     = "Ubuntu1404_mesos"
}

variable "template_display_text" {
  type        = string
  description = "Display text of the new template."
  default     = "Ubuntu 14.04 with Mesos, Marathon and ZooKeeper"
}

variable "ssh_username" {
  type        = string
  description = "User of the base template that Packer logs in as (it needs sudo)."
  default     = "ubuntu"
}

variable "ssh_timeout" {
  type        = string
  description = "How long to wait for SSH on the build VM."
  default     = "15m"
}

variable "async_timeout" {
  type        = string
  description = "How long to wait for each CloudStack async job."
  default     = "30m"
}

variable "mesos_repo_url" {
  type        = string
  description = "Mesosphere package repository (a mirror of it, today)."
  default     = "http://repos.mesosphere.io"
}

variable "mesos_repo_key" {
  type        = string
  description = "Signing key id of the Mesosphere repository."
  default     = "E56151BF"
}

variable "mesos_repo_keyserver" {
  type        = string
  description = "Key server holding mesos_repo_key."
  default     = "hkp://keyserver.ubuntu.com:80"
}

variable "java_ppa" {
  type        = string
  description = "PPA providing Java 8 on Ubuntu 14.04; empty for none."
  default     = "ppa:openjdk-r/ppa"
}

variable "java_packages" {
  type        = string
  description = "Java package(s), space-separated."
  default     = "openjdk-8-jre-headless"
}

variable "mesos_packages" {
  type        = string
  description = "Mesos package(s), space-separated."
  default     = "mesos"
}

variable "marathon_packages" {
  type        = string
  description = "Marathon package(s), space-separated."
  default     = "marathon"
}

variable "zookeeper_packages" {
  type        = string
  description = "ZooKeeper package(s), space-separated (zookeeperd runs the service)."
  default     = "zookeeperd"
}

variable "extra_packages" {
  type        = string
  description = "Other packages for the image, space-separated."
  default     = "curl jq"
}

source "cloudstack" "mesos" {
  zone                  = var.zone
  service_offering      = var.service_offering
  source_template       = var.source_template
  network               = var.network
  hypervisor            = var.hypervisor
  ssh_username          = var.ssh_username
  ssh_timeout           = var.ssh_timeout
  async_timeout         = var.async_timeout
  template_name         = var.template_name
  template_display_text = var.template_display_text
  template_os           = var.template_os
}

build {
  sources = ["source.cloudstack.mesos"]

  provisioner "file" {
    source      = "${path.root}/../terraform-examples/mesostack/scripts/configure-node"
    destination = "/tmp/configure-node"
  }

  provisioner "shell" {
    script = "${path.root}/scripts/provision-mesos.sh"
    environment_vars = [
      "MESOS_REPO_URL=${var.mesos_repo_url}",
      "MESOS_REPO_KEY=${var.mesos_repo_key}",
      "MESOS_REPO_KEYSERVER=${var.mesos_repo_keyserver}",
      "JAVA_PPA=${var.java_ppa}",
      "JAVA_PACKAGES=${var.java_packages}",
      "MESOS_PACKAGES=${var.mesos_packages}",
      "MARATHON_PACKAGES=${var.marathon_packages}",
      "ZOOKEEPER_PACKAGES=${var.zookeeper_packages}",
      "EXTRA_PACKAGES=${var.extra_packages}",
      "CONFIGURE_NODE_SRC=/tmp/configure-node",
    ]
  }
}
