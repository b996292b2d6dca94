variable "cs_api_url" {
  description = "CS api URL (e.g.,) http://10.10.33.99:8080/client/api."
  type        = string
}

variable "cs_api_key" {
  description = "CS api key."
  type        = string
  sensitive   = true
}

variable "cs_secret_key" {
  description = "CS secret key."
  type        = string
  sensitive   = true
}

variable "cs_key_name" {
  description = "The SSH key name to use for the instances."
  type        = string
}

variable "cs_ssh_private_key_file" {
  description = "Path to the SSH private key file."
  type        = string
}

variable "cs_ssh_user" {
  description = "SSH user."
  type        = string
  default     = "ubuntu"
}

variable "cs_zone" {
  description = "Zone name"
  type        = string
}

variable "cs_nw_cidr_block" {
  description = "The IPv4 address range that machines in the network are assigned to."
  type        = string
  default     = "172.16.0.0/24"

  validation {
    condition     = can(cidrhost(var.cs_nw_cidr_block, 0))
    error_message = "The cs_nw_cidr_block value must be an IPv4 CIDR such as \"172.16.0.0/24\"."
  }
}

variable "cs_image" {
  description = "The name of the image to base the launched instances."
  type        = string
  default     = "Ubuntu1404_mesos"
}

variable "master_instance_type" {
  description = "The machine type to use for the master instances."
  type        = string
  default     = "t1.medium"
}

variable "slave_instance_type" {
  description = "The machine type to use for the slave instances."
  type        = string
  default     = "t1.medium"
}

variable "cs_instance_basename" {
  description = "Name to derive the machine name to assign the instance"
  type        = string
  default     = "vm"
}

variable "num_masters" {
  description = "The number of master instances to launch."
  type        = number
  default     = 3

  validation {
    condition     = var.num_masters >= 1 && floor(var.num_masters) == var.num_masters && var.num_masters % 2 == 1
    error_message = "The num_masters value must be an odd whole number (1, 3, 5, ...) so ZooKeeper keeps a majority."
  }
}

variable "master_instance_ip_start" {
  description = "The ip address (last octet) to start numbering the masters"
  type        = number
  default     = 20
}

variable "num_slaves" {
  description = "The number of slave instances to launch."
  type        = number
  default     = 3

  validation {
    condition     = var.num_slaves >= 0 && floor(var.num_slaves) == var.num_slaves
    error_message = "The num_slaves value must be a whole number, 0 or more."
  }
}

variable "cs_network_name" {
  description = "The name of the network to create and launch instances into"
  type        = string
  default     = "subnet01"
}

variable "master_ssh_port_start" {
  description = "The port on the public ip that is forwarded to the ssh port of the first master instance. Subsequent instances get the port incremented"
  type        = number
  default     = 1222
}

variable "slave_ssh_port_start" {
  description = "The port on the public ip that is forwarded to the ssh port of the first slave instance. Subsequent instances get the port incremented"
  type        = number
  default     = 2222
}

variable "provision" {
  description = "Run the node configuration over SSH after creation; false skips the provisioners (e.g. on the simulator)."
  type        = bool
  default     = true
}
