output "public_ip" {
  value = module.mesostack.public_ip
}

output "master_ips" {
  value = module.mesostack.master_ips
}

output "slave_ips" {
  value = module.mesostack.slave_ips
}

output "master_ssh_ports" {
  value = module.mesostack.master_ssh_ports
}

output "slave_ssh_ports" {
  value = module.mesostack.slave_ssh_ports
}

output "mesos_url" {
  value = module.mesostack.mesos_url
}

output "marathon_url" {
  value = module.mesostack.marathon_url
}
