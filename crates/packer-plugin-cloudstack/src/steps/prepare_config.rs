//! Step 1: resolve every name-or-id of the template to ids (zone, service offering,
//! template or ISO, networks, disk offering, OS type, public IP) and prepare user data.

use cloudstack::{model::Network, resolve::is_uuid, Params, Resource};
use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};
use serde_json::Value;

use super::BuildState;
use crate::{config::Source, error::Error};

/// See the module docs.
#[derive(Debug)]
pub struct PrepareConfig;

fn str_field(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl PrepareConfig {
    async fn resolve(
        state: &BuildState,
        field: &str,
        kind: Resource,
        name: &str,
        scope: &Params,
    ) -> Result<Value, Error> {
        state
            .client
            .resolve(kind, name, scope)
            .await
            .map_err(Error::api(format!(
                "{field}: resolving {} {name:?}",
                kind.label()
            )))
    }

    /// `listIsos` has no `Resource` kind in the client: match by id, then exact name.
    async fn resolve_iso(state: &BuildState, name: &str, zone_id: &str) -> Result<String, Error> {
        let scope = Params::new()
            .with("isofilter", "executable")
            .with("zoneid", zone_id);
        let isos = state
            .client
            .list_all_values("listIsos", "iso", &scope)
            .await
            .map_err(Error::api(format!("source_iso: listing ISOs for {name:?}")))?;
        let hits: Vec<&Value> = isos
            .iter()
            .filter(|i| str_field(i, "id") == name)
            .chain(isos.iter().filter(|i| str_field(i, "name") == name))
            .collect();
        match hits.first() {
            Some(i) => Ok(str_field(i, "id")),
            None => Err(Error::Build(format!(
                "source_iso: no executable ISO {name:?} in the zone; available: {}",
                isos.iter()
                    .map(|i| str_field(i, "name"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// OS types are named by description; the legacy `template_os_id` is an id (even a
    /// numeric one), so ids are tried first.
    async fn resolve_os_type(state: &BuildState, os: &str) -> Result<String, Error> {
        if is_uuid(os) || os.chars().all(|c| c.is_ascii_digit()) {
            match state
                .client
                .list_os_types(&Params::new().with("id", os))
                .await
            {
                Ok(found) => {
                    if let Some(t) = found.into_iter().find(|t| t.id == os) {
                        return Ok(t.id);
                    }
                }
                Err(e) if e.is_param_error() => {}
                Err(e) => return Err(Error::api("template_os: looking up the OS type")(e)),
            }
        }
        let v = Self::resolve(state, "template_os", Resource::OsType, os, &Params::new()).await?;
        Ok(str_field(&v, "id"))
    }

    /// `security_groups` entries: ids, or exact names (`listSecurityGroups` in the project).
    async fn resolve_security_group(state: &BuildState, group: &str) -> Result<String, Error> {
        let key = if is_uuid(group) {
            "id"
        } else {
            "securitygroupname"
        };
        let found = state
            .client
            .list_security_groups(&state.in_project(Params::new().with(key, group)))
            .await
            .map_err(Error::api(format!("security_groups: looking up {group:?}")))?;
        found
            .into_iter()
            .find(|g| g.id == group || g.name.as_deref() == Some(group))
            .map(|g| g.id)
            .ok_or_else(|| {
                Error::Build(format!(
                    "security_groups: no security group {group:?}{}",
                    if state.project_id().is_some() {
                        " in the project"
                    } else {
                        ""
                    }
                ))
            })
    }

    async fn resolve_public_ip(state: &BuildState, ip: &str) -> Result<(String, String), Error> {
        let key = if is_uuid(ip) { "id" } else { "ipaddress" };
        let found = state
            .client
            .list_public_ip_addresses(
                &state.in_project(Params::new().with(key, ip).with("listall", "true")),
            )
            .await
            .map_err(Error::api(format!("public_ip_address: looking up {ip:?}")))?;
        found
            .into_iter()
            .find(|a| a.id == ip || a.ipaddress.as_deref() == Some(ip))
            .map(|a| (a.id.clone(), a.ipaddress.unwrap_or_default()))
            .ok_or_else(|| {
                Error::Build(format!(
                    "public_ip_address: {ip:?} is not an IP address (or IP id) of this account"
                ))
            })
    }
}

#[async_trait]
impl Step<BuildState> for PrepareConfig {
    fn name(&self) -> &str {
        "prepare_config"
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let c = state.config.clone();
        ctx.ui.say("Preparing config...").await;
        // The project first: the other lookups are scoped to it.
        if let Some(p) = &c.project {
            let v = Self::resolve(state, "project", Resource::Project, p, &Params::new()).await?;
            let id = str_field(&v, "id");
            ctx.ui
                .message(format!(
                    "Building in project {} ({id})",
                    str_field(&v, "name")
                ))
                .await;
            state.resolved.project_id = Some(id);
        }
        let zone = Self::resolve(state, "zone", Resource::Zone, &c.zone, &Params::new()).await?;
        let zone_id = str_field(&zone, "id");
        state.resolved.zone_name = str_field(&zone, "name");
        state.resolved.zone_advanced =
            str_field(&zone, "networktype").eq_ignore_ascii_case("advanced");
        state.resolved.zone_security_groups =
            zone.get("securitygroupsenabled").and_then(Value::as_bool) == Some(true);
        let in_zone = Params::new().with("zoneid", &zone_id);

        let so = Self::resolve(
            state,
            "service_offering",
            Resource::ServiceOffering,
            &c.service_offering,
            &Params::new(),
        )
        .await?;
        state.resolved.service_offering_id = str_field(&so, "id");

        match &c.source {
            Source::Template(t) => {
                let v = Self::resolve(state, "source_template", Resource::Template, t, &in_zone)
                    .await?;
                state.resolved.source_id = str_field(&v, "id");
            }
            Source::Iso(i) => {
                state.resolved.source_id = Self::resolve_iso(state, i, &zone_id).await?;
                state.resolved.source_is_iso = true;
            }
        }

        let mut network_ids = Vec::new();
        let mut first_network = None;
        for n in &c.networks {
            let scope = state.in_project(in_zone.clone());
            let v = Self::resolve(state, "network", Resource::Network, n, &scope).await?;
            network_ids.push(str_field(&v, "id"));
            first_network.get_or_insert(v);
        }
        let first_network: Option<Network> = first_network
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| format!("network: unexpected answer from listNetworks: {e}"))?;
        let vpc_tier = first_network
            .as_ref()
            .filter(|n| n.vpcid.is_some())
            .map(|n| n.name.clone().unwrap_or_else(|| n.id.clone()));
        let problems = crate::preflight::security_group_problems(
            &c,
            (
                &state.resolved.zone_name,
                state.resolved.zone_security_groups,
            ),
            vpc_tier.as_deref(),
        );
        if !problems.is_empty() {
            return Err(problems.join("\n").into());
        }
        // A VPC tier needs a rule on its ACL list for SSH: refuse a list that cannot change
        // before anything is created.
        if let (Some(net), false) = (
            first_network.filter(|n| n.vpcid.is_some()),
            c.prevent_firewall_changes || c.use_local_ip_address,
        ) {
            let acl = super::setup_networking::tier_acl_list(state, &net).await?;
            state.resolved.vpc_acl_id = Some(acl);
        }
        for g in &c.security_groups {
            let id = Self::resolve_security_group(state, g).await?;
            state.resolved.security_group_ids.push(id);
        }
        state.resolved.network_ids = network_ids;

        if let Some(d) = &c.disk_offering {
            let v = Self::resolve(
                state,
                "disk_offering",
                Resource::DiskOffering,
                d,
                &Params::new(),
            )
            .await?;
            state.resolved.disk_offering_id = Some(str_field(&v, "id"));
        }
        if let Some(os) = &c.template.os {
            state.resolved.os_type_id = Some(Self::resolve_os_type(state, os).await?);
        }
        if let Some(ip) = &c.public_ip_address {
            state.resolved.public_ip = Some(Self::resolve_public_ip(state, ip).await?);
        }

        state.resolved.zone_id = zone_id;
        ctx.ui
            .message(format!(
                "Zone {} ({}), service offering {}, {} {}",
                state.resolved.zone_name,
                state.resolved.zone_id,
                state.resolved.service_offering_id,
                if state.resolved.source_is_iso {
                    "ISO"
                } else {
                    "template"
                },
                state.resolved.source_id
            ))
            .await;
        Ok(())
    }
}
