resource "cloudstack_network" "network01" {
  name             = var.cs_network_name
  display_text     = var.cs_network_name
  cidr             = var.cs_nw_cidr_block
  network_offering = "DefaultIsolatedNetworkOfferingWithSourceNatService"
  zone             = var.cs_zone
}

resource "cloudstack_egress_firewall" "network01" {
  network_id = cloudstack_network.network01.id
  depends_on = [cloudstack_instance.master]

  rule {
    cidr_list = ["0.0.0.0/0"]
    protocol  = "tcp"
    ports     = ["1-65535"]
  }

  rule {
    cidr_list = ["0.0.0.0/0"]
    protocol  = "udp"
    ports     = ["1-65535"]
  }

  rule {
    cidr_list = ["0.0.0.0/0"]
    protocol  = "icmp"
    icmp_type = -1
    icmp_code = -1
  }
}

resource "cloudstack_ipaddress" "public_ip" {
  network_id = cloudstack_network.network01.id
  depends_on = [cloudstack_instance.master]
}
