//! Name-or-id resolution for the objects users name in Packer templates and Terraform configs.
//!
//! A UUID-looking input is fetched by id. Anything else must match a name exactly: a
//! case-sensitive exact match wins, else a unique case-insensitive exact match; partial
//! matches never count (unlike cloudstack-go's `GetXID`, which returns a lone partial hit).
//! Unknown names fail with the available names; ambiguous ones with every match and its id.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{
    client::Client,
    error::{Error, Result},
    params::Params,
};

/// How many candidate names an error message lists at most.
const MAX_CANDIDATES: usize = 25;

/// The kinds of object that can be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `listZones`.
    Zone,
    /// `listServiceOfferings`.
    ServiceOffering,
    /// `listDiskOfferings`.
    DiskOffering,
    /// `listNetworkOfferings`.
    NetworkOffering,
    /// `listTemplates` (`templatefilter=executable` unless given in the scope).
    Template,
    /// `listNetworks` (`listall=true`).
    Network,
    /// `listVirtualMachines` (`listall=true`).
    VirtualMachine,
    /// `listOsTypes`, matched by `description`.
    OsType,
    /// `listVPCOfferings`.
    VpcOffering,
    /// `listDomains` (`listall=true`).
    Domain,
    /// `listProjects` (`listall=true`).
    Project,
}

impl Resource {
    /// Human name for messages.
    pub fn label(self) -> &'static str {
        match self {
            Resource::Zone => "zone",
            Resource::ServiceOffering => "service offering",
            Resource::DiskOffering => "disk offering",
            Resource::NetworkOffering => "network offering",
            Resource::Template => "template",
            Resource::Network => "network",
            Resource::VirtualMachine => "virtual machine",
            Resource::OsType => "OS type",
            Resource::VpcOffering => "VPC offering",
            Resource::Domain => "domain",
            Resource::Project => "project",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Resource::Zone => "listZones",
            Resource::ServiceOffering => "listServiceOfferings",
            Resource::DiskOffering => "listDiskOfferings",
            Resource::NetworkOffering => "listNetworkOfferings",
            Resource::Template => "listTemplates",
            Resource::Network => "listNetworks",
            Resource::VirtualMachine => "listVirtualMachines",
            Resource::OsType => "listOsTypes",
            Resource::VpcOffering => "listVPCOfferings",
            Resource::Domain => "listDomains",
            Resource::Project => "listProjects",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Resource::Zone => "zone",
            Resource::ServiceOffering => "serviceoffering",
            Resource::DiskOffering => "diskoffering",
            Resource::NetworkOffering => "networkoffering",
            Resource::Template => "template",
            Resource::Network => "network",
            Resource::VirtualMachine => "virtualmachine",
            Resource::OsType => "ostype",
            Resource::VpcOffering => "vpcoffering",
            Resource::Domain => "domain",
            Resource::Project => "project",
        }
    }

    /// The field holding the name users type.
    fn name_field(self) -> &'static str {
        match self {
            Resource::OsType => "description",
            _ => "name",
        }
    }

    /// The server-side filter narrowing a name search (the match itself is done here).
    fn name_filter(self) -> &'static str {
        match self {
            Resource::OsType => "description",
            // listNetworks has no `name` parameter; `keyword` is a substring search.
            Resource::Network => "keyword",
            _ => "name",
        }
    }

    fn base_params(self, scope: &Params) -> Params {
        let mut p = scope.clone();
        match self {
            Resource::Template if p.get("templatefilter").is_none() => {
                p.set("templatefilter", "executable");
            }
            Resource::Network | Resource::VirtualMachine | Resource::Domain | Resource::Project
                if p.get("listall").is_none() =>
            {
                p.set("listall", "true");
            }
            _ => {}
        }
        p
    }
}

/// Whether `s` looks like a CloudStack UUID (8-4-4-4-12 hex digits).
pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

fn id_of(v: &Value) -> String {
    match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Picks the one object named `name` among `items` (deduplicated by id: zone-scoped templates
/// appear once per zone).
pub(crate) fn pick(
    kind: Resource,
    name: &str,
    items: &[Value],
    all_names: impl FnOnce() -> Vec<String>,
) -> Result<Value> {
    let name_field = kind.name_field();
    let unique = |pred: &dyn Fn(&str) -> bool| -> BTreeMap<String, Value> {
        items
            .iter()
            .filter(|v| field(v, name_field).is_some_and(pred))
            .map(|v| (id_of(v), v.clone()))
            .collect()
    };
    let mut matches = unique(&|n: &str| n == name);
    if matches.is_empty() {
        matches = unique(&|n: &str| n.eq_ignore_ascii_case(name));
    }
    match matches.len() {
        1 => Ok(matches.into_values().next().unwrap_or_default()),
        0 => {
            let mut candidates = all_names();
            candidates.sort();
            candidates.dedup();
            candidates.truncate(MAX_CANDIDATES);
            Err(Error::NotFound {
                kind: kind.label(),
                name: name.to_string(),
                candidates,
            })
        }
        _ => Err(Error::Ambiguous {
            kind: kind.label(),
            name: name.to_string(),
            matches: matches
                .iter()
                .map(|(id, v)| (field(v, name_field).unwrap_or("").to_string(), id.clone()))
                .collect(),
        }),
    }
}

impl Client {
    /// Resolves `name_or_id` to the raw object. `scope` adds filters (e.g. `zoneid` for
    /// templates, networks and VMs).
    pub async fn resolve(&self, kind: Resource, name_or_id: &str, scope: &Params) -> Result<Value> {
        let base = kind.base_params(scope);
        let command = kind.command();
        if is_uuid(name_or_id) {
            let by_id = base.clone().with("id", name_or_id);
            match self.list_all_values(command, kind.key(), &by_id).await {
                Ok(items) => {
                    if let Some(v) = items.into_iter().find(|v| id_of(v) == name_or_id) {
                        return Ok(v);
                    }
                }
                // CloudStack answers 431 for an unknown UUID on some lists.
                Err(e) if e.is_param_error() => {}
                Err(e) => return Err(e),
            }
        }
        let filtered = base.clone().with(kind.name_filter(), name_or_id);
        let items = self.list_all_values(command, kind.key(), &filtered).await?;
        let narrowed = pick(kind, name_or_id, &items, Vec::new);
        match narrowed {
            Err(Error::NotFound { .. }) => {
                // Unknown name (or a server that filters differently): list everything once
                // to match against and to name the candidates.
                let all = self.list_all_values(command, kind.key(), &base).await?;
                let names = || {
                    all.iter()
                        .filter_map(|v| field(v, kind.name_field()).map(str::to_string))
                        .collect()
                };
                pick(kind, name_or_id, &all, names)
            }
            other => other,
        }
    }

    /// Resolves `name_or_id` to an id; see [`Client::resolve`].
    pub async fn resolve_id(
        &self,
        kind: Resource,
        name_or_id: &str,
        scope: &Params,
    ) -> Result<String> {
        Ok(id_of(&self.resolve(kind, name_or_id, scope).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uuid_shape() {
        assert!(is_uuid("0b8e9a5c-1c4e-4b7a-9d2b-3f1e2a4b5c6d"));
        assert!(!is_uuid("zone001"));
        assert!(!is_uuid("0b8e9a5c-1c4e-4b7a-9d2b-3f1e2a4b5c6"));
    }

    #[test]
    fn exact_before_case_insensitive_never_partial() {
        let items = vec![
            json!({"id": "1", "name": "Ubuntu 14.04"}),
            json!({"id": "2", "name": "ubuntu 14.04"}),
            json!({"id": "3", "name": "Ubuntu 14.04 LTS"}),
            json!({"id": "3", "name": "Ubuntu 14.04 LTS"}),
        ];
        let none = Vec::new;
        assert_eq!(
            pick(Resource::Template, "Ubuntu 14.04", &items, none).unwrap()["id"],
            "1"
        );
        assert_eq!(
            pick(Resource::Template, "Ubuntu 14.04 LTS", &items, none).unwrap()["id"],
            "3"
        );
        let amb = pick(Resource::Template, "UBUNTU 14.04", &items, none).unwrap_err();
        assert!(
            matches!(amb, Error::Ambiguous { ref matches, .. } if matches.len() == 2),
            "{amb}"
        );
        let nf = pick(Resource::Template, "Ubuntu", &items, || {
            vec!["Ubuntu 14.04".into(), "ubuntu 14.04".into()]
        })
        .unwrap_err();
        assert!(
            nf.to_string()
                .contains("available: Ubuntu 14.04, ubuntu 14.04"),
            "{nf}"
        );
    }
}
