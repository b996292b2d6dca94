variable "cs_api_url" {
  description = "CloudStack API URL, e.g. http://10.81.29.35:8080/client/api."
  type        = string
  default     = "http://10.81.29.35:8080/client/api"
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

variable "cs_key_name" {
  description = "The SSH key pair name to use for the instances."
  type        = string
  default     = "ubuntu"
}

variable "cs_ssh_private_key_file" {
  description = "Path to the SSH private key file of that key pair."
  type        = string
  default     = "./ubuntu.pem"
}

variable "cs_zone" {
  description = "CloudStack zone name."
  type        = string
  default     = "zone001"
}

variable "cs_image" {
  description = "Name of the template the instances are launched from."
  type        = string
  default     = "Ubuntu1404_mesos"
}

variable "num_masters" {
  description = "The number of master VMs to launch (odd, for a ZooKeeper majority)."
  type        = number
  default     = 3
}

variable "num_slaves" {
  description = "The number of slave VMs to launch."
  type        = number
  default     = 3
}

variable "provision" {
  description = "Configure the nodes over SSH after creation (false on the simulator, whose VMs have no SSH)."
  type        = bool
  default     = true
}

variable "cs_nw_cidr_block" {
  description = "The IPv4 address range of the cluster network."
  type        = string
  default     = "172.16.0.0/24"
}

variable "master_ssh_port_start" {
  description = "Public port forwarded to SSH of the first master (then +1 per master)."
  type        = number
  default     = 1222
}

variable "slave_ssh_port_start" {
  description = "Public port forwarded to SSH of the first slave (then +1 per slave)."
  type        = number
  default     = 2222
}
