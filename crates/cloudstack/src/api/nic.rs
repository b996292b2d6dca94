//! A VM's NICs and their secondary IPs: `addNicToVirtualMachine` (recovered by the VM's NIC
//! in that network), `removeNicFromVirtualMachine`, `listNics`, `addIpToNic` (recovered by
//! address when one is asked for), `removeIpFromNic`.

use crate::{
    client::Client,
    error::{Error, Result},
    model::{Nic, NicSecondaryIp, VirtualMachine},
    params::Params,
};

impl Client {
    /// Adds a NIC on `network_id` to VM `vm_id` and returns it; CloudStack allows one NIC per
    /// network and VM, so an unclear failure is recovered by finding the VM's NIC there.
    pub async fn add_nic_to_virtual_machine(
        &self,
        vm_id: &str,
        network_id: &str,
        ip_address: Option<&str>,
        mac_address: Option<&str>,
    ) -> Result<Nic> {
        const CMD: &str = "addNicToVirtualMachine";
        let mut p = Params::new()
            .with("virtualmachineid", vm_id)
            .with("networkid", network_id);
        p.set_opt("ipaddress", ip_address)
            .set_opt("macaddress", mac_address);
        let in_network = |vm: &VirtualMachine| {
            vm.nic
                .iter()
                .find(|n| n.networkid.as_deref() == Some(network_id))
                .cloned()
        };
        let lookup = || async {
            let vm = self.get_virtual_machine(vm_id).await?;
            Ok(vm
                .filter(|vm| in_network(vm).is_some())
                .and_then(|vm| serde_json::to_value(vm).ok()))
        };
        let v = self
            .create_with_recovery(CMD, &p, Some("virtualmachine"), lookup)
            .await?;
        let vm: VirtualMachine = Self::typed(CMD, v)?;
        in_network(&vm).ok_or_else(|| Error::Decode {
            command: CMD.into(),
            message: format!("the VM has no NIC in network {network_id}"),
        })
    }

    /// `removeNicFromVirtualMachine`, waiting for its job.
    pub async fn remove_nic_from_virtual_machine(&self, vm_id: &str, nic_id: &str) -> Result<()> {
        let p = Params::new()
            .with("virtualmachineid", vm_id)
            .with("nicid", nic_id);
        self.delete_async("removeNicFromVirtualMachine", &p).await
    }

    /// `listNics` of VM `vm_id` (one NIC with `nic_id`).
    pub async fn list_nics(&self, vm_id: &str, nic_id: Option<&str>) -> Result<Vec<Nic>> {
        let mut p = Params::new().with("virtualmachineid", vm_id);
        p.set_opt("nicid", nic_id);
        self.list_all("listNics", "nic", &p).await
    }

    /// The VM holding NIC `nic_id` (or, with `secondary`, the secondary IP of that id) among
    /// every VM the caller sees: what an import by id needs.
    pub async fn find_vm_by_nic(
        &self,
        id: &str,
        secondary: bool,
    ) -> Result<Option<VirtualMachine>> {
        let p = Params::new().with("listall", "true");
        let vms = self.list_virtual_machines(&p).await?;
        Ok(vms.into_iter().find(|vm| {
            vm.nic.iter().any(|n| {
                if secondary {
                    n.secondaryip.iter().any(|s| s.id == id)
                } else {
                    n.id == id
                }
            })
        }))
    }

    /// `addIpToNic`: a secondary IP on NIC `nic_id` (`ip_address`, else the next free one).
    /// With an address given, an unclear failure is recovered by finding it on the NIC.
    pub async fn add_ip_to_nic(
        &self,
        vm_id: &str,
        nic_id: &str,
        ip_address: Option<&str>,
    ) -> Result<NicSecondaryIp> {
        const CMD: &str = "addIpToNic";
        let mut p = Params::new().with("nicid", nic_id);
        p.set_opt("ipaddress", ip_address);
        let v = match ip_address {
            Some(ip) => {
                let lookup = || async {
                    let nics = self.list_nics(vm_id, Some(nic_id)).await?;
                    Ok(nics
                        .iter()
                        .flat_map(|n| n.secondaryip.iter())
                        .find(|s| s.ipaddress.as_deref() == Some(ip))
                        .and_then(|s| serde_json::to_value(s).ok()))
                };
                self.create_with_recovery(CMD, &p, Some("nicsecondaryip"), lookup)
                    .await?
            }
            None => self.mutate_async(CMD, &p, "nicsecondaryip").await?,
        };
        Self::typed(CMD, v)
    }

    /// `removeIpFromNic` (secondary IP `id`), waiting for its job.
    pub async fn remove_ip_from_nic(&self, id: &str) -> Result<()> {
        self.delete_async("removeIpFromNic", &Params::new().with("id", id))
            .await
    }
}
