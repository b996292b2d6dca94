//! `cloudstack_egress_firewall`: egress rules of a guest network, ID =
//! `network_id`, schema as in apache/cloudstack-terraform-provider (`rule`
//! adds `dest_cidr_list` and protocol `all`), plus import by network ID.
//! The rule-set logic is shared with `cloudstack_firewall` (see
//! [`super::firewall`]).

use super::firewall::{Kind, RuleSet};

/// `cloudstack_egress_firewall`, for the provider's registry.
pub(crate) fn resource() -> RuleSet {
    RuleSet(Kind::Egress)
}
