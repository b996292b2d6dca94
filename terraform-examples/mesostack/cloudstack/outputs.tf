output "public_ip" {
  value = cloudstack_ipaddress.public_ip.ip_address
}

output "master_ips" {
  value = cloudstack_instance.master[*].ip_address
}

output "slave_ips" {
  value = cloudstack_instance.slave[*].ip_address
}

output "master_ssh_ports" {
  value = [for i in range(var.num_masters) : i + var.master_ssh_port_start]
}

output "slave_ssh_ports" {
  value = [for i in range(var.num_slaves) : i + var.slave_ssh_port_start]
}

output "mesos_url" {
  value = "http://${cloudstack_ipaddress.public_ip.ip_address}:5050"
}

output "marathon_url" {
  value = "http://${cloudstack_ipaddress.public_ip.ip_address}:8080"
}
