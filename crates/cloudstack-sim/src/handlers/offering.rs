//! Service, disk and network offerings (read-only: they come from the seed).

use super::{check_id_filter_in, keyword_matches, list_answer, name_matches, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use serde_json::Value;

/// listServiceOfferings (id, name, keyword; zoneid accepted, offerings are global).
pub fn list_service_offerings(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    check_id_filter_in(ctx.world, p, "zoneid")?;
    let items = ctx
        .world
        .service_offerings
        .iter()
        .filter(|o| id.as_deref().map(|i| i == o.id).unwrap_or(true))
        .filter(|o| name_matches(p, &o.name))
        .filter(|o| keyword_matches(p, &[&o.name, &o.displaytext]))
        .map(render::service_offering)
        .collect();
    list_answer(p, "serviceoffering", items)
}

/// listDiskOfferings (id, name, keyword).
pub fn list_disk_offerings(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let items = ctx
        .world
        .disk_offerings
        .iter()
        .filter(|o| id.as_deref().map(|i| i == o.id).unwrap_or(true))
        .filter(|o| name_matches(p, &o.name))
        .filter(|o| keyword_matches(p, &[&o.name, &o.displaytext]))
        .map(render::disk_offering)
        .collect();
    list_answer(p, "diskoffering", items)
}

/// listNetworkOfferings (id, name, keyword, guestiptype, forvpc).
pub fn list_network_offerings(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let items = ctx
        .world
        .network_offerings
        .iter()
        .filter(|o| id.as_deref().map(|i| i == o.id).unwrap_or(true))
        .filter(|o| name_matches(p, &o.name))
        .filter(|o| keyword_matches(p, &[&o.name, &o.displaytext]))
        .filter(|o| {
            p.opt("forvpc")
                .is_none_or(|f| f.eq_ignore_ascii_case(&o.forvpc.to_string()))
        })
        .filter(|o| {
            p.opt("guestiptype")
                .map(|g| g.eq_ignore_ascii_case(&o.guestiptype))
                .unwrap_or(true)
        })
        .map(render::network_offering)
        .collect();
    list_answer(p, "networkoffering", items)
}
