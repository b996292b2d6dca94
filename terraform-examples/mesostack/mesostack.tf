module "mesostack" {
  source = "./cloudstack"

  # CS API URL
  cs_api_url = var.cs_api_url

  # CS access key
  cs_api_key = var.cs_api_key

  # CS secret key
  cs_secret_key = var.cs_secret_key

  # The SSH key name to use for the instances
  cs_key_name = var.cs_key_name

  # Path to the SSH private key file
  cs_ssh_private_key_file = var.cs_ssh_private_key_file

  # cloudstack zone name
  cs_zone = var.cs_zone

  # template of the instances
  cs_image = var.cs_image

  # The number of master VMs to launch
  num_masters = var.num_masters

  # The number of slave VMs to launch
  num_slaves = var.num_slaves

  # network and public SSH ports
  cs_nw_cidr_block      = var.cs_nw_cidr_block
  master_ssh_port_start = var.master_ssh_port_start
  slave_ssh_port_start  = var.slave_ssh_port_start

  # Run the node configuration over SSH (provisioners)
  provision = var.provision
}
