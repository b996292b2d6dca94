resource "cloudstack_instance" "slave" {
  depends_on       = [cloudstack_instance.master]
  count            = var.num_slaves
  template         = var.cs_image
  service_offering = var.slave_instance_type
  keypair          = var.cs_key_name
  network_id       = cloudstack_network.network01.id
  name             = "slave-${count.index}"
  zone             = var.cs_zone
  expunge          = true
}

resource "cloudstack_firewall" "slave_ssh" {
  count         = var.num_slaves
  ip_address_id = cloudstack_ipaddress.public_ip.id
  depends_on    = [cloudstack_instance.slave, cloudstack_firewall.master_ssh]

  rule {
    cidr_list = ["0.0.0.0/0"]
    protocol  = "tcp"
    ports     = [tostring(count.index + var.slave_ssh_port_start)]
  }
}

resource "cloudstack_port_forward" "slave_ssh" {
  count         = var.num_slaves
  ip_address_id = cloudstack_ipaddress.public_ip.id

  forward {
    protocol           = "tcp"
    private_port       = 22
    public_port        = count.index + var.slave_ssh_port_start
    virtual_machine_id = cloudstack_instance.slave[count.index].id
  }
}

# See master_config in master.tf: carries the slave's provisioners.
resource "cloudstack_egress_firewall" "slave_config" {
  count      = var.provision ? var.num_slaves : 0
  network_id = cloudstack_network.network01.id
  depends_on = [
    cloudstack_egress_firewall.network01,
    cloudstack_firewall.slave_ssh,
    cloudstack_port_forward.slave_ssh,
  ]

  rule {
    cidr_list = ["${cloudstack_instance.slave[count.index].ip_address}/32"]
    protocol  = "tcp"
    ports     = ["2181", "5051"]
  }

  connection {
    type        = "ssh"
    host        = cloudstack_ipaddress.public_ip.ip_address
    port        = count.index + var.slave_ssh_port_start
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
      "echo '${cloudstack_instance.slave[count.index].ip_address} ${cloudstack_instance.slave[count.index].name}' | sudo tee -a /etc/hosts",
      "sudo /tmp/configure-node slave --masters ${join(",", cloudstack_instance.master[*].ip_address)} --ip ${cloudstack_instance.slave[count.index].ip_address} --restart-services",
      "echo 'Completed terraform slave provisioning' > ~/install.log",
    ]
  }
}
