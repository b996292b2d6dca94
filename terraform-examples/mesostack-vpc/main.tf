# A Mesos cluster in a VPC, inside a project: masters and agents on tiers of their own, each
# tier behind a network ACL; the masters spread over hosts by an anti-affinity group; a load
# balancer in front of the Mesos masters and Marathon; a data disk on every agent.
#
# Nodes configure themselves at first boot: the template carries /usr/local/sbin/configure-node
# (put there by packer-templates/), and each node's user data runs it with the masters' fixed
# addresses, so no SSH provisioner has to reach the tiers.

locals {
  master_ips = [for i in range(var.num_masters) : cidrhost(var.master_tier_cidr, 10 + i)]
  agent_ips  = [for i in range(var.num_agents) : cidrhost(var.agent_tier_cidr, 10 + i)]
  masters    = join(",", local.master_ips)
}

resource "cloudstack_project" "mesos" {
  name        = var.project_name
  displaytext = "Mesos cluster (mesostack)"
}

resource "cloudstack_ssh_keypair" "mesos" {
  name       = "${var.project_name}-key"
  public_key = var.ssh_public_key
  project    = cloudstack_project.mesos.id
}

resource "cloudstack_vpc" "mesos" {
  name         = "${var.project_name}-vpc"
  display_text = "Mesos cluster VPC"
  cidr         = var.vpc_cidr
  vpc_offering = var.vpc_offering
  zone         = var.cs_zone
  project      = cloudstack_project.mesos.id
}

# --- masters' tier -----------------------------------------------------------------------------

resource "cloudstack_network_acl" "masters" {
  name        = "masters"
  description = "Mesos masters: SSH and UIs from the admins, ZooKeeper and Mesos inside the VPC"
  vpc_id      = cloudstack_vpc.mesos.id
}

resource "cloudstack_network_acl_rule" "masters" {
  acl_id = cloudstack_network_acl.masters.id

  rule {
    rule_number  = 10
    cidr_list    = var.admin_cidrs
    protocol     = "tcp"
    port         = "22"
    traffic_type = "ingress"
    description  = "SSH"
  }

  rule {
    rule_number  = 20
    cidr_list    = var.admin_cidrs
    protocol     = "tcp"
    port         = "5050"
    traffic_type = "ingress"
    description  = "Mesos master UI and API"
  }

  rule {
    rule_number  = 30
    cidr_list    = var.admin_cidrs
    protocol     = "tcp"
    port         = "8080"
    traffic_type = "ingress"
    description  = "Marathon"
  }

  rule {
    rule_number  = 40
    cidr_list    = [var.vpc_cidr]
    protocol     = "tcp"
    port         = "2181-3888"
    traffic_type = "ingress"
    description  = "ZooKeeper client, peer and election ports"
  }

  rule {
    rule_number  = 50
    cidr_list    = [var.vpc_cidr]
    protocol     = "tcp"
    port         = "5050"
    traffic_type = "ingress"
    description  = "Mesos from the agents"
  }

  rule {
    rule_number  = 100
    cidr_list    = ["0.0.0.0/0"]
    protocol     = "all"
    traffic_type = "egress"
    description  = "everything out"
  }
}

resource "cloudstack_network" "masters" {
  name             = "masters"
  display_text     = "Mesos masters"
  cidr             = var.master_tier_cidr
  network_offering = var.tier_network_offering
  vpc_id           = cloudstack_vpc.mesos.id
  acl_id           = cloudstack_network_acl.masters.id
  zone             = var.cs_zone
  project          = cloudstack_project.mesos.id
}

resource "cloudstack_affinity_group" "masters" {
  name        = "mesos-masters"
  description = "one master per host"
  type        = "host anti-affinity"
  project     = cloudstack_project.mesos.id
}

resource "cloudstack_instance" "master" {
  count              = var.num_masters
  name               = "master-${count.index}"
  template           = var.cs_image
  service_offering   = var.master_instance_type
  network_id         = cloudstack_network.masters.id
  ip_address         = local.master_ips[count.index]
  affinity_group_ids = [cloudstack_affinity_group.masters.id]
  keypair            = cloudstack_ssh_keypair.mesos.name
  project            = cloudstack_project.mesos.id
  zone               = var.cs_zone
  expunge            = true
  user_data          = <<-EOT
    #!/bin/sh
    /usr/local/sbin/configure-node master --masters ${local.masters} --id ${count.index + 1} --ip ${local.master_ips[count.index]} --restart-services
  EOT
}

# --- agents' tier ------------------------------------------------------------------------------

resource "cloudstack_network_acl" "agents" {
  name        = "agents"
  description = "Mesos agents: SSH from the admins, Mesos and task ports inside the VPC"
  vpc_id      = cloudstack_vpc.mesos.id
}

resource "cloudstack_network_acl_rule" "agents" {
  acl_id = cloudstack_network_acl.agents.id

  rule {
    rule_number  = 10
    cidr_list    = var.admin_cidrs
    protocol     = "tcp"
    port         = "22"
    traffic_type = "ingress"
    description  = "SSH"
  }

  rule {
    rule_number  = 20
    cidr_list    = [var.vpc_cidr]
    protocol     = "tcp"
    port         = "5051"
    traffic_type = "ingress"
    description  = "Mesos agent from the masters"
  }

  rule {
    rule_number  = 30
    cidr_list    = [var.vpc_cidr]
    protocol     = "tcp"
    port         = "31000-32000"
    traffic_type = "ingress"
    description  = "Mesos task ports"
  }

  rule {
    rule_number  = 100
    cidr_list    = ["0.0.0.0/0"]
    protocol     = "all"
    traffic_type = "egress"
    description  = "everything out"
  }
}

resource "cloudstack_network" "agents" {
  name             = "agents"
  display_text     = "Mesos agents"
  cidr             = var.agent_tier_cidr
  network_offering = var.tier_network_offering
  vpc_id           = cloudstack_vpc.mesos.id
  acl_id           = cloudstack_network_acl.agents.id
  zone             = var.cs_zone
  project          = cloudstack_project.mesos.id
}

resource "cloudstack_instance" "agent" {
  count            = var.num_agents
  name             = "agent-${count.index}"
  template         = var.cs_image
  service_offering = var.agent_instance_type
  network_id       = cloudstack_network.agents.id
  ip_address       = local.agent_ips[count.index]
  keypair          = cloudstack_ssh_keypair.mesos.name
  project          = cloudstack_project.mesos.id
  zone             = var.cs_zone
  expunge          = true
  user_data        = <<-EOT
    #!/bin/sh
    /usr/local/sbin/configure-node slave --masters ${local.masters} --ip ${local.agent_ips[count.index]} --restart-services
  EOT
}

resource "cloudstack_disk" "agent_data" {
  count              = var.num_agents
  name               = "agent-${count.index}-data"
  attach             = true
  disk_offering      = var.agent_disk_offering
  size               = var.agent_disk_size
  virtual_machine_id = cloudstack_instance.agent[count.index].id
  project            = cloudstack_project.mesos.id
  zone               = var.cs_zone
}

# --- public side -------------------------------------------------------------------------------

# The cluster's front door: Mesos masters and Marathon, balanced over the masters.
resource "cloudstack_ipaddress" "frontend" {
  vpc_id  = cloudstack_vpc.mesos.id
  project = cloudstack_project.mesos.id
}

resource "cloudstack_loadbalancer_rule" "mesos" {
  name          = "mesos-master"
  description   = "Mesos masters (the leader redirects)"
  ip_address_id = cloudstack_ipaddress.frontend.id
  network_id    = cloudstack_network.masters.id
  algorithm     = "source"
  private_port  = 5050
  public_port   = 5050
  protocol      = "tcp"
  member_ids    = cloudstack_instance.master[*].id
  project       = cloudstack_project.mesos.id
}

resource "cloudstack_loadbalancer_rule" "marathon" {
  name          = "marathon"
  description   = "Marathon on every master"
  ip_address_id = cloudstack_ipaddress.frontend.id
  network_id    = cloudstack_network.masters.id
  algorithm     = "roundrobin"
  private_port  = 8080
  public_port   = 8080
  protocol      = "tcp"
  member_ids    = cloudstack_instance.master[*].id
  project       = cloudstack_project.mesos.id
  # one rule at a time on an IP: the simulator and CloudStack's VPC router both serialise
  depends_on = [cloudstack_loadbalancer_rule.mesos]
}

# SSH for operators: one public address per tier (a VPC address serves a single tier), one
# forwarded port per node, so scaling the agents touches only the agents that change.
resource "cloudstack_ipaddress" "master_ssh" {
  vpc_id  = cloudstack_vpc.mesos.id
  project = cloudstack_project.mesos.id
}

resource "cloudstack_port_forward" "master_ssh" {
  count         = var.num_masters
  ip_address_id = cloudstack_ipaddress.master_ssh.id
  project       = cloudstack_project.mesos.id

  forward {
    protocol           = "tcp"
    private_port       = 22
    public_port        = var.master_ssh_port_start + count.index
    virtual_machine_id = cloudstack_instance.master[count.index].id
  }
}

resource "cloudstack_ipaddress" "agent_ssh" {
  vpc_id  = cloudstack_vpc.mesos.id
  project = cloudstack_project.mesos.id
}

resource "cloudstack_port_forward" "agent_ssh" {
  count         = var.num_agents
  ip_address_id = cloudstack_ipaddress.agent_ssh.id
  project       = cloudstack_project.mesos.id

  forward {
    protocol           = "tcp"
    private_port       = 22
    public_port        = var.agent_ssh_port_start + count.index
    virtual_machine_id = cloudstack_instance.agent[count.index].id
  }
}
