//! Network ACL lists of VPCs and their items (rules): `createNetworkACL` (recovered by its
//! match fields), `deleteNetworkACL`, `listNetworkACLLists`.

use serde_json::Value;

use crate::{
    client::Client,
    error::Result,
    model::{NetworkAclItem, NetworkAclList},
    params::Params,
};

use super::address::{rule_matches, s};

/// Arguments of `createNetworkACL` (an item of an ACL list).
#[derive(Debug, Clone, Default)]
pub struct CreateNetworkAcl {
    /// `aclid`: the list the item joins.
    pub acl_id: String,
    /// `protocol` (`tcp`, `udp`, `icmp`, `all` or a number).
    pub protocol: String,
    /// `startport`.
    pub start_port: Option<u16>,
    /// `endport`.
    pub end_port: Option<u16>,
    /// `cidrlist` (CloudStack's default: `0.0.0.0/0`).
    pub cidr_list: Vec<String>,
    /// `traffictype`: `ingress` (CloudStack's default) or `egress`.
    pub traffic_type: Option<String>,
    /// `action`: `allow` (CloudStack's default) or `deny`.
    pub action: Option<String>,
    /// Any other parameter (`number`, `reason`, `icmptype`, `icmpcode`).
    pub extra: Params,
}

impl Client {
    /// `createNetworkACL`, waiting for the job; an unclear failure is recovered by finding the
    /// item of the list with the same protocol, ports, CIDRs, traffic type and action.
    pub async fn create_network_acl(&self, req: &CreateNetworkAcl) -> Result<NetworkAclItem> {
        const CMD: &str = "createNetworkACL";
        let traffic = req.traffic_type.as_deref().unwrap_or("ingress");
        let action = req.action.as_deref().unwrap_or("allow");
        let mut params = req.extra.clone();
        params
            .set("aclid", &req.acl_id)
            .set("protocol", &req.protocol)
            .set_opt("startport", req.start_port.map(|p| p.to_string()))
            .set_opt("endport", req.end_port.map(|p| p.to_string()))
            .set_list("cidrlist", &req.cidr_list)
            .set("traffictype", traffic)
            .set("action", action);
        let same = |r: &Value| {
            rule_matches(
                r,
                &req.protocol,
                req.start_port,
                req.end_port,
                &req.cidr_list,
            ) && s(r, "traffictype").is_some_and(|t| t.eq_ignore_ascii_case(traffic))
                && s(r, "action").is_some_and(|a| a.eq_ignore_ascii_case(action))
        };
        let scope = Params::new().with("aclid", &req.acl_id);
        let lookup = || async {
            let items = self
                .list_all_values("listNetworkACLs", "networkacl", &scope)
                .await?;
            Ok(items.into_iter().find(|r| same(r)))
        };
        let v = self
            .create_with_recovery(CMD, &params, Some("networkacl"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `deleteNetworkACL` (one item), waiting for the job.
    pub async fn delete_network_acl(&self, id: &str) -> Result<()> {
        self.delete_async("deleteNetworkACL", &Params::new().with("id", id))
            .await
    }

    /// `listNetworkACLLists`, all pages.
    pub async fn list_network_acl_lists(&self, params: &Params) -> Result<Vec<NetworkAclList>> {
        self.list_all("listNetworkACLLists", "networkacllist", params)
            .await
    }
}
