//! Guest networks.

use crate::{client::Client, error::Result, model::Network, params::Params};

/// Arguments of `createNetwork`.
#[derive(Debug, Clone, Default)]
pub struct CreateNetwork {
    /// `name` (used to recover from unclear failures).
    pub name: String,
    /// `displaytext` (defaults to the name).
    pub display_text: Option<String>,
    /// `networkofferingid`.
    pub network_offering_id: String,
    /// `zoneid`.
    pub zone_id: String,
    /// Any other parameter (`gateway`, `netmask`, `vpcid`, ...).
    pub extra: Params,
}

impl Client {
    /// `createNetwork`; recovered by name within the zone.
    pub async fn create_network(&self, req: &CreateNetwork) -> Result<Network> {
        const CMD: &str = "createNetwork";
        let mut params = req.extra.clone();
        params
            .set("name", &req.name)
            .set(
                "displaytext",
                req.display_text.clone().unwrap_or_else(|| req.name.clone()),
            )
            .set("networkofferingid", &req.network_offering_id)
            .set("zoneid", &req.zone_id);
        let scope = Params::new()
            .with("zoneid", &req.zone_id)
            .with("keyword", &req.name)
            .with("listall", "true");
        let lookup = || self.find_by_name("listNetworks", "network", &scope, &req.name);
        let v = self
            .create_with_recovery(CMD, &params, Some("network"), lookup)
            .await?;
        Self::typed(CMD, v)
    }

    /// `deleteNetwork`, waiting for the job.
    pub async fn delete_network(&self, id: &str) -> Result<()> {
        self.delete_async("deleteNetwork", &Params::new().with("id", id))
            .await
    }

    /// `listNetworks`, all pages.
    pub async fn list_networks(&self, params: &Params) -> Result<Vec<Network>> {
        self.list_all("listNetworks", "network", params).await
    }
}
