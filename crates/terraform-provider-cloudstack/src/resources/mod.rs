//! The managed resource types (`resource "cloudstack_..."`), one file each.
//! Registry: add a `mod` line and an entry in [`resources`].

use std::sync::Arc;

use tfplugin5::Resource;

use crate::{
    kit::{CheckedResource, Typed},
    provider::{Client, Handle},
};

mod affinity_group;
mod attach_volume;
mod disk;
mod instance;
mod ipaddress;
mod loadbalancer_rule;
mod network;
mod network_acl;
mod network_acl_rule;
mod nic;
mod project;
mod secondary_ipaddress;
mod security_group;
mod security_group_rule;
mod ssh_keypair;
mod static_nat;
mod template;
mod user_data;
mod volume;
mod vpc;
// provider-rules: port_forward, firewall (also egress_firewall) (mod lines below)
mod firewall;
mod port_forward;

/// Every resource type this provider serves. `handle` gives plan-time
/// checks the configured client.
pub fn resources(handle: &Handle) -> Vec<Arc<dyn Resource<Client>>> {
    checked(handle)
        .into_iter()
        .map(CheckedResource::into_resource)
        .collect()
}

/// The same, with the checks of their models and views.
pub fn checked(handle: &Handle) -> Vec<Arc<dyn CheckedResource>> {
    vec![
        Arc::new(Typed(affinity_group::AffinityGroup)),
        Arc::new(Typed(attach_volume::AttachVolume)),
        Arc::new(Typed(disk::Disk)),
        Arc::new(Typed(project::Project::new(handle.clone()))),
        Arc::new(Typed(security_group::SecurityGroup)),
        Arc::new(Typed(user_data::UserData)),
        Arc::new(Typed(volume::Volume)),
        Arc::new(Typed(instance::Instance::new(handle.clone()))),
        Arc::new(Typed(network::Network::new(handle.clone()))),
        Arc::new(Typed(ipaddress::IpAddress::new(handle.clone()))),
        Arc::new(Typed(ssh_keypair::SshKeypair)),
        Arc::new(Typed(template::Template)),
        // provider-rules entries below
        Arc::new(Typed(port_forward::PortForward)),
        Arc::new(Typed(firewall::ingress())),
        Arc::new(Typed(firewall::egress())),
        // typed resources (crate::kit)
        Arc::new(Typed(loadbalancer_rule::LoadBalancerRuleResource)),
        Arc::new(Typed(network_acl::NetworkAcl)),
        Arc::new(Typed(network_acl_rule::NetworkAclRule)),
        Arc::new(Typed(security_group_rule::SecurityGroupRule)),
        Arc::new(Typed(nic::NicResource)),
        Arc::new(Typed(secondary_ipaddress::SecondaryIpAddress)),
        Arc::new(Typed(static_nat::StaticNat)),
        Arc::new(Typed(vpc::VpcResource::new(handle.clone()))),
    ]
}
