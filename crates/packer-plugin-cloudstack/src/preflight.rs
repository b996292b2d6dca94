//! What only the cloud can tell about a configuration, checked at `packer validate` (in
//! `Builder.Prepare`) and again when the build resolves names: security groups need a zone
//! with security groups enabled, and a VPC tier has network ACLs instead. The rules are
//! [`security_group_problems`], shared by both places.

use std::time::Duration;

use cloudstack::{Params, Resource};
use serde_json::Value;

use crate::config::Config;

/// The longest `packer validate` waits for these lookups before it gives up checking.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(20);

/// Which security-group field the configuration sets, for messages.
fn sg_field(c: &Config) -> Option<&'static str> {
    if !c.security_groups.is_empty() {
        Some("security_groups")
    } else if c.create_security_group {
        Some("create_security_group")
    } else {
        None
    }
}

/// The problems of `c`'s security-group settings in zone `zone` (name, security groups
/// enabled) on a network that is a VPC tier (`vpc_tier`: its name), each naming the field
/// and the fix.
pub fn security_group_problems(
    c: &Config,
    (zone, sg_enabled): (&str, bool),
    vpc_tier: Option<&str>,
) -> Vec<String> {
    let Some(field) = sg_field(c) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if !sg_enabled {
        problems.push(format!(
            "{field}: zone {zone} has no security groups (securitygroupsenabled is false): \
             its networks are reached through public IPs, port forwards and firewall rules; \
             remove {field}, or build in a zone with security groups"
        ));
    }
    if let Some(tier) = vpc_tier {
        problems.push(format!(
            "{field}: network {tier} is a VPC tier, which network ACLs protect instead of \
             security groups; remove {field} (the build adds an ACL rule for SSH)"
        ));
    }
    problems
}

fn field_str(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Looks up the zone (and the network, in the project) to check the security-group
/// settings; `Err` when the cloud could not answer (then validate warns and the build
/// checks again).
async fn lookups(c: &Config) -> Result<Vec<String>, String> {
    let client = crate::builder::client_for(c).map_err(|e| e.to_string())?;
    let zone = client
        .resolve(Resource::Zone, &c.zone, &Params::new())
        .await
        .map_err(|e| format!("zone {:?}: {e}", c.zone))?;
    let sg_enabled = zone.get("securitygroupsenabled").and_then(Value::as_bool) == Some(true);
    let mut scope = Params::new().with("zoneid", field_str(&zone, "id"));
    if let Some(p) = &c.project {
        let project = client
            .resolve(Resource::Project, p, &Params::new())
            .await
            .map_err(|e| format!("project {p:?}: {e}"))?;
        scope.set("projectid", field_str(&project, "id"));
    }
    let mut tier = None;
    if let Some(n) = c.networks.first() {
        let net = client
            .resolve(Resource::Network, n, &scope)
            .await
            .map_err(|e| format!("network {n:?}: {e}"))?;
        if !field_str(&net, "vpcid").is_empty() {
            tier = Some(field_str(&net, "name"));
        }
    }
    Ok(security_group_problems(
        c,
        (&field_str(&zone, "name"), sg_enabled),
        tier.as_deref(),
    ))
}

/// The checks above for `packer validate`: errors when the cloud says the settings cannot
/// work, a warning when it could not be asked. Nothing is asked when no security-group
/// field is set.
pub async fn check(c: &Config) -> (Vec<String>, Vec<String>) {
    let Some(field) = sg_field(c) else {
        return (Vec::new(), Vec::new());
    };
    match tokio::time::timeout(PREFLIGHT_TIMEOUT, lookups(c)).await {
        Ok(Ok(errors)) => (errors, Vec::new()),
        Ok(Err(e)) => (
            Vec::new(),
            vec![format!(
                "{field}: could not check the zone and network at validate ({e}); the build \
                 checks them before creating anything"
            )],
        ),
        Err(_) => (
            Vec::new(),
            vec![format!(
                "{field}: the API did not answer within {}s to check the zone and network; \
                 the build checks them before creating anything",
                PREFLIGHT_TIMEOUT.as_secs()
            )],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(extra: Value) -> Config {
        let mut b = json!({"api_url": "http://sim/client/api", "api_key": "k", "secret_key": "s",
                           "zone": "z1", "service_offering": "small", "source_template": "t",
                           "expunge": true});
        for (k, v) in extra.as_object().into_iter().flatten() {
            b[k] = v.clone();
        }
        match Config::parse(&[b], &|_| None) {
            Ok((c, _)) => c,
            Err((errors, _)) => panic!("{errors:?}"),
        }
    }

    #[test]
    fn security_groups_need_a_zone_with_them_and_no_vpc_tier() {
        let none = config(json!({}));
        assert!(security_group_problems(&none, ("z1", false), Some("tier")).is_empty());
        let create = config(json!({"create_security_group": true}));
        assert!(security_group_problems(&create, ("z1", true), None).is_empty());
        let p = security_group_problems(&create, ("z1", false), Some("tier"));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("create_security_group: zone z1 has no security groups"));
        assert!(p[1].starts_with("create_security_group: network tier is a VPC tier"));
        let named = config(json!({"security_groups": ["web"], "create_security_group": true}));
        let p = security_group_problems(&named, ("z1", true), Some("tier"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("security_groups: network tier is a VPC tier"));
    }
}
