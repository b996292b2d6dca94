//! The catalogue: zones, offerings, OS types.

use crate::{
    client::Client,
    error::Result,
    model::{DiskOffering, NetworkOffering, OsType, ServiceOffering, Zone},
    params::Params,
};

impl Client {
    /// `listZones`, all pages.
    pub async fn list_zones(&self, params: &Params) -> Result<Vec<Zone>> {
        self.list_all("listZones", "zone", params).await
    }

    /// `listServiceOfferings`, all pages.
    pub async fn list_service_offerings(&self, params: &Params) -> Result<Vec<ServiceOffering>> {
        self.list_all("listServiceOfferings", "serviceoffering", params)
            .await
    }

    /// `listDiskOfferings`, all pages.
    pub async fn list_disk_offerings(&self, params: &Params) -> Result<Vec<DiskOffering>> {
        self.list_all("listDiskOfferings", "diskoffering", params)
            .await
    }

    /// `listNetworkOfferings`, all pages.
    pub async fn list_network_offerings(&self, params: &Params) -> Result<Vec<NetworkOffering>> {
        self.list_all("listNetworkOfferings", "networkoffering", params)
            .await
    }

    /// `listOsTypes`, all pages.
    pub async fn list_os_types(&self, params: &Params) -> Result<Vec<OsType>> {
        self.list_all("listOsTypes", "ostype", params).await
    }
}
