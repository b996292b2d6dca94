//! Zones, OS types, capabilities and the always-empty lists (projects, security groups).

use super::{check_id_filter_in, keyword_matches, list_answer, name_matches, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use serde_json::{json, Value};

/// listZones (id, name, keyword, available, networktype).
pub fn list_zones(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let items = ctx
        .world
        .zones
        .iter()
        .filter(|z| id.as_deref().map(|i| i == z.id).unwrap_or(true))
        .filter(|z| name_matches(p, &z.name))
        .filter(|z| keyword_matches(p, &[&z.name]))
        .filter(|z| {
            p.opt("networktype")
                .map(|t| t.eq_ignore_ascii_case(&z.networktype))
                .unwrap_or(true)
        })
        .map(render::zone)
        .collect();
    list_answer(p, "zone", items)
}

/// listOsTypes (id, description: substring match like CloudStack's `LIKE %x%`, oscategoryid).
pub fn list_os_types(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let desc = p.opt("description").map(str::to_lowercase);
    let items = ctx
        .world
        .os_types
        .iter()
        .filter(|o| id.as_deref().map(|i| i == o.id).unwrap_or(true))
        .filter(|o| {
            desc.as_deref()
                .map(|d| o.description.to_lowercase().contains(d))
                .unwrap_or(true)
        })
        .filter(|o| {
            p.opt("oscategoryid")
                .map(|c| c == o.oscategoryid)
                .unwrap_or(true)
        })
        .filter(|o| keyword_matches(p, &[&o.description]))
        .map(render::os_type)
        .collect();
    list_answer(p, "ostype", items)
}

/// listOsCategories: one category per distinct id in the OS types.
pub fn list_os_categories(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let mut ids: Vec<&str> = ctx
        .world
        .os_types
        .iter()
        .map(|o| o.oscategoryid.as_str())
        .collect();
    ids.sort();
    ids.dedup();
    let items = ids
        .into_iter()
        .map(|id| json!({"id": id, "name": "Linux"}))
        .collect();
    list_answer(p, "oscategory", items)
}

/// listCapabilities: what a 4.x management server reports (clients probe the version).
pub fn list_capabilities(_ctx: &mut Ctx<'_>, _p: &Params) -> Result<Value, ApiError> {
    Ok(json!({"capability": {
        "securitygroupsenabled": false,
        "dynamicrolesenabled": true,
        "cloudstackversion": "4.11.3.0",
        "userpublictemplateenabled": true,
        "supportELB": "false",
        "projectinviterequired": false,
        "allowusercreateprojects": true,
        "customdiskofferingminsize": 1,
        "customdiskofferingmaxsize": 1024,
        "regionsecondaryenabled": false,
        "kvmsnapshotenabled": false,
        "allowuserviewdestroyedvm": true,
        "allowuserexpungerecovervm": true,
        "apilimitinterval": 1,
        "apilimitmax": 10000,
        "allowuserexpungerecovervolume": true,
    }}))
}

/// listDomains (id, name, keyword): the simulator's one domain, `ROOT`; any other id is
/// CloudStack's invalid-id error.
pub fn list_domains(_ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    if let Some(id) = p.opt("id").filter(|id| *id != render::DOMAIN_ID) {
        return Err(p.invalid_id("id", id));
    }
    let name = render::DOMAIN_NAME;
    let items = std::iter::once(render::domain())
        .filter(|_| name_matches(p, name) && keyword_matches(p, &[name]))
        .collect();
    list_answer(p, "domain", items)
}

/// listRegions: the single local region.
pub fn list_regions(_ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    list_answer(
        p,
        "region",
        vec![
            json!({"id": 1, "name": "Local", "endpoint": "http://localhost:8080/client/",
            "gslbserviceenabled": true, "portableipserviceenabled": false}),
        ],
    )
}

/// listHypervisors: the hypervisors templates may use.
pub fn list_hypervisors(_ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let items = ["KVM", "XenServer", "VMware"]
        .iter()
        .map(|h| json!({"name": h}))
        .collect();
    list_answer(p, "hypervisor", items)
}
