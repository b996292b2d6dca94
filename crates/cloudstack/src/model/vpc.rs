//! The VPC family: VPCs, their offerings, network ACL lists and their items,
//! load balancer rules (CloudStack's `VpcResponse`, `VpcOfferingResponse`,
//! `NetworkACLResponse`, `NetworkACLItemResponse`, `LoadBalancerResponse`).

use super::{lenient, Tag};
use serde::{Deserialize, Serialize};

model! {
    /// A VPC (`listVPCs` → `vpc`; `createVPC`'s job result).
    Vpc {
        strings: [name, displaytext, state, zoneid, zonename, cidr, vpcofferingid,
                  vpcofferingname, created, account, domainid, project, projectid,
                  networkdomain],
        ints: [],
        bools: [restartrequired, redundantvpcrouter, distributedvpcrouter],
        extra: {
            /// Resource tags.
            tags: Vec<Tag>
        }
    }
}

model! {
    /// A VPC offering (`listVPCOfferings` → `vpcoffering`).
    VpcOffering {
        strings: [name, displaytext, state],
        ints: [],
        bools: [isdefault]
    }
}

model! {
    /// A network ACL list (`listNetworkACLLists` → `networkacllist`); `vpcid` is
    /// absent for the built-in `default_allow` / `default_deny`.
    NetworkAclList {
        strings: [name, description, vpcid],
        ints: [],
        bools: [fordisplay]
    }
}

model! {
    /// A network ACL item, i.e. a rule (`listNetworkACLs` → `networkacl`). `cidrlist` is
    /// comma separated; `startport`/`endport` arrive as strings.
    NetworkAclItem {
        strings: [protocol, startport, endport, traffictype, state, cidrlist, aclid, aclname,
                  action, reason],
        ints: [number, icmptype, icmpcode],
        bools: [fordisplay],
        extra: {
            /// Resource tags.
            tags: Vec<Tag>
        }
    }
}

model! {
    /// A load balancer rule (`listLoadBalancerRules` → `loadbalancerrule`).
    LoadBalancerRule {
        strings: [name, description, algorithm, publicip, publicipid, publicport, privateport,
                  protocol, networkid, zoneid, state, cidrlist, account, domainid, project,
                  projectid],
        ints: [],
        bools: [fordisplay],
        extra: {
            /// Resource tags.
            tags: Vec<Tag>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_items_take_string_ports_and_int_numbers() {
        let r: NetworkAclItem = serde_json::from_str(
            r#"{"id":"r","protocol":"tcp","startport":"80","endport":"80","number":3,
                "cidrlist":"10.0.0.0/8,0.0.0.0/0","traffictype":"Ingress","action":"Allow"}"#,
        )
        .unwrap();
        assert_eq!(r.number, Some(3));
        assert_eq!(r.startport.as_deref(), Some("80"));
        let v: Vpc =
            serde_json::from_str(r#"{"id":"v","cidr":"10.0.0.0/16","restartrequired":false}"#)
                .unwrap();
        assert_eq!(v.restartrequired, Some(false));
    }
}
