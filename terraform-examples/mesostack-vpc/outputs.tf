output "project_id" {
  value = cloudstack_project.mesos.id
}

output "vpc_id" {
  value = cloudstack_vpc.mesos.id
}

output "frontend_ip" {
  description = "Public address of the load balancer in front of the masters."
  value       = cloudstack_ipaddress.frontend.ip_address
}

output "mesos_url" {
  value = "http://${cloudstack_ipaddress.frontend.ip_address}:5050"
}

output "marathon_url" {
  value = "http://${cloudstack_ipaddress.frontend.ip_address}:8080"
}

output "master_ips" {
  value = cloudstack_instance.master[*].ip_address
}

output "agent_ips" {
  value = cloudstack_instance.agent[*].ip_address
}

output "master_ssh" {
  description = "host:port of each master's SSH."
  value       = [for pf in cloudstack_port_forward.master_ssh : "${cloudstack_ipaddress.master_ssh.ip_address}:${one(pf.forward).public_port}"]
}

output "agent_ssh" {
  description = "host:port of each agent's SSH."
  value       = [for pf in cloudstack_port_forward.agent_ssh : "${cloudstack_ipaddress.agent_ssh.ip_address}:${one(pf.forward).public_port}"]
}
