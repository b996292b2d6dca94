variable "cs_api_url" {
  description = "CloudStack API URL, e.g. https://cloud.example.com/client/api."
  type        = string
}

variable "cs_api_key" {
  description = "CloudStack API key."
  type        = string
  sensitive   = true
}

variable "cs_secret_key" {
  description = "CloudStack secret key."
  type        = string
  sensitive   = true
}

variable "cs_zone" {
  description = "Name or id of the zone (an Advanced zone with VPC support)."
  type        = string
  default     = "zone001"
}

variable "cs_image" {
  description = "Name or id of the Mesos template (the one `packer build mesostack.json` makes)."
  type        = string
  default     = "Ubuntu1404_mesos"
}

variable "project_name" {
  description = "Name of the CloudStack project that owns every object of the cluster."
  type        = string
  default     = "mesostack"
}

variable "ssh_public_key" {
  description = "OpenSSH public key installed on every node (one line, e.g. file(\"~/.ssh/id_rsa.pub\"))."
  type        = string
}

variable "admin_cidrs" {
  description = "Networks allowed to reach the nodes over SSH and the Mesos/Marathon UIs."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "vpc_cidr" {
  description = "Address range of the VPC; the tiers below must lie inside it."
  type        = string
  default     = "10.10.0.0/16"
}

variable "master_tier_cidr" {
  description = "Address range of the masters' tier."
  type        = string
  default     = "10.10.1.0/24"
}

variable "agent_tier_cidr" {
  description = "Address range of the agents' tier."
  type        = string
  default     = "10.10.2.0/24"
}

variable "vpc_offering" {
  description = "Name or id of the VPC offering."
  type        = string
  default     = "Default VPC offering"
}

variable "tier_network_offering" {
  description = "Name or id of the network offering of the tiers (must provide Lb on the masters' tier)."
  type        = string
  default     = "DefaultIsolatedNetworkOfferingForVpcNetworks"
}

variable "master_instance_type" {
  description = "Service offering of the masters."
  type        = string
  default     = "t1.medium"
}

variable "agent_instance_type" {
  description = "Service offering of the agents."
  type        = string
  default     = "t1.medium"
}

variable "num_masters" {
  description = "Number of masters (odd, for a ZooKeeper majority; no more than the zone has hosts: they are spread by host anti-affinity)."
  type        = number
  default     = 3
}

variable "num_agents" {
  description = "Number of agents."
  type        = number
  default     = 3
}

variable "agent_disk_offering" {
  description = "Disk offering of the agents' data disks (a custom-size offering, as size is set)."
  type        = string
  default     = "Custom"
}

variable "agent_disk_size" {
  description = "Size of each agent's data disk, in GB."
  type        = number
  default     = 50
}

variable "master_ssh_port_start" {
  description = "Public port forwarded to SSH of the first master (then +1 per master)."
  type        = number
  default     = 1222
}

variable "agent_ssh_port_start" {
  description = "Public port forwarded to SSH of the first agent (then +1 per agent)."
  type        = number
  default     = 2222
}
