resource "cloudstack_instance" "master" {
  count            = var.num_masters
  template         = var.cs_image
  service_offering = var.master_instance_type
  keypair          = var.cs_key_name
  network_id       = cloudstack_network.network01.id
  name             = "master-${count.index}"
  zone             = var.cs_zone
  expunge          = true
  ip_address       = cidrhost(var.cs_nw_cidr_block, var.master_instance_ip_start + count.index)
}

resource "cloudstack_firewall" "master_ssh" {
  count         = var.num_masters
  ip_address_id = cloudstack_ipaddress.public_ip.id
  depends_on    = [cloudstack_instance.master]

  rule {
    cidr_list = ["0.0.0.0/0"]
    protocol  = "tcp"
    ports     = [tostring(count.index + var.master_ssh_port_start)]
  }
}

resource "cloudstack_firewall" "mesos_5050" {
  ip_address_id = cloudstack_ipaddress.public_ip.id
  depends_on    = [cloudstack_instance.master, cloudstack_firewall.master_ssh]

  rule {
    cidr_list = ["0.0.0.0/0"]
    protocol  = "tcp"
    ports     = ["5050"]
  }
}

resource "cloudstack_firewall" "marathon_8080" {
  ip_address_id = cloudstack_ipaddress.public_ip.id
  depends_on    = [cloudstack_instance.master, cloudstack_firewall.mesos_5050]

  rule {
    cidr_list = ["0.0.0.0/0"]
    protocol  = "tcp"
    ports     = ["8080"]
  }
}

resource "cloudstack_port_forward" "master_ssh" {
  count         = var.num_masters
  ip_address_id = cloudstack_ipaddress.public_ip.id

  forward {
    protocol           = "tcp"
    private_port       = 22
    public_port        = count.index + var.master_ssh_port_start
    virtual_machine_id = cloudstack_instance.master[count.index].id
  }
}

resource "cloudstack_port_forward" "master_5050" {
  ip_address_id = cloudstack_ipaddress.public_ip.id

  forward {
    protocol           = "tcp"
    private_port       = 5050
    public_port        = 5050
    virtual_machine_id = cloudstack_instance.master[0].id
  }
}

resource "cloudstack_port_forward" "master_8080" {
  ip_address_id = cloudstack_ipaddress.public_ip.id

  forward {
    protocol           = "tcp"
    private_port       = 8080
    public_port        = 8080
    virtual_machine_id = cloudstack_instance.master[0].id
  }
}

# Node configuration over the forwarded SSH port. Terraform cannot switch
# provisioners off, so they ride on a resource of their own that exists only
# when var.provision is true: a per-node egress rule (the node's ZooKeeper and
# Mesos traffic, already allowed by the network-wide rules) whose creation runs
# the provisioners. The resources above keep their addresses either way.
resource "cloudstack_egress_firewall" "master_config" {
  count      = var.provision ? var.num_masters : 0
  network_id = cloudstack_network.network01.id
  depends_on = [
    cloudstack_egress_firewall.network01,
    cloudstack_firewall.master_ssh,
    cloudstack_port_forward.master_ssh,
  ]

  rule {
    cidr_list = ["${cloudstack_instance.master[count.index].ip_address}/32"]
    protocol  = "tcp"
    ports     = ["2181", "2888", "3888", "5050", "8080"]
  }

  connection {
    type        = "ssh"
    host        = cloudstack_ipaddress.public_ip.ip_address
    port        = count.index + var.master_ssh_port_start
    user        = var.cs_ssh_user
    private_key = file(var.cs_ssh_private_key_file)
  }

  provisioner "file" {
    source      = "${path.module}/../scripts/configure-node"
    destination = "/tmp/configure-node"
  }

  provisioner "remote-exec" {
    inline = [
      "chmod a+x /tmp/configure-node",
      "echo '${cloudstack_instance.master[count.index].ip_address} ${cloudstack_instance.master[count.index].name}' | sudo tee -a /etc/hosts",
      "sudo /tmp/configure-node master --masters ${join(",", cloudstack_instance.master[*].ip_address)} --id ${count.index + 1} --ip ${cloudstack_instance.master[count.index].ip_address} --restart-services",
      "echo 'Completed master terraform provisioning' > ~/install.log",
    ]
  }
}
