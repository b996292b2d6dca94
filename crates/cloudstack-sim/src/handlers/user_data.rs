//! Registered user data (CloudStack 4.18+): registerUserData, listUserData, deleteUserData,
//! all sync, with UserDataRegistryServiceImpl's rules: names and contents are unique per
//! account, content must be base64, data used by a VM cannot be deleted.

use super::{check_id_filter_in, keyword_matches, list_answer, name_matches, require_id, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::new_id;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A registered user data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserData {
    /// UUID.
    pub id: String,
    /// Name (unique per account).
    pub name: String,
    /// Base64 content.
    pub userdata: String,
    /// Comma-separated variable names, if any.
    #[serde(default)]
    pub params: Option<String>,
    /// Owning project, if any.
    #[serde(default)]
    pub projectid: Option<String>,
}

/// User data as CloudStack's `UserDataManager.validateUserData` accepts it: base64 (spaces
/// and line breaks ignored), at most 32 KiB by GET. Returns the cleaned text.
pub fn validate(text: &str) -> Result<String, ApiError> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .is_err()
    {
        return Err(ApiError::param("User data is not base64 encoded."));
    }
    if clean.len() > 32768 {
        return Err(ApiError::param(
            "User data is too long for an http POST request",
        ));
    }
    Ok(clean)
}

/// registerUserData: name, userdata, params, projectid.
pub fn register(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = p.req("name")?.to_string();
    let raw = p.req("userdata")?;
    let project = p.opt("projectid").map(str::to_string);
    let mine = |u: &&UserData| u.projectid == project;
    if ctx
        .world
        .user_data
        .iter()
        .filter(mine)
        .any(|u| u.name == name)
    {
        return Err(ApiError::param(format!(
            "A userdata with name {name} already exists for this account."
        )));
    }
    if let Some(same) = ctx
        .world
        .user_data
        .iter()
        .filter(mine)
        .find(|u| u.userdata == raw)
    {
        return Err(ApiError::param(format!(
            "Userdata {} with same content already exists for this account.",
            same.name
        )));
    }
    let u = UserData {
        id: new_id(),
        name,
        userdata: validate(raw)?,
        params: p
            .opt("params")
            .map(str::to_string)
            .filter(|s| !s.is_empty()),
        projectid: project,
    };
    let v = render::user_data(&u);
    ctx.world.user_data.push(u);
    ctx.changed = true;
    Ok(json!({"userdata": v}))
}

/// listUserData (id, name, keyword).
pub fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let items = ctx
        .world
        .user_data
        .iter()
        .filter(|u| id.as_deref().map(|i| i == u.id).unwrap_or(true))
        .filter(|u| super::project::visible(p, u.projectid.as_deref()))
        .filter(|u| name_matches(p, &u.name))
        .filter(|u| keyword_matches(p, &[&u.name]))
        .map(render::user_data)
        .collect();
    list_answer(p, "userdata", items)
}

/// deleteUserData: id; refused while a VM uses it.
pub fn delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let u = require_id(p, "id", &ctx.world.user_data, |u| &u.id)?.clone();
    if ctx
        .world
        .virtual_machines
        .iter()
        .any(|v| v.userdataid.as_deref() == Some(u.id.as_str()))
    {
        return Err(ApiError::with_code(
            530,
            format!(
                "Userdata {} cannot be removed as it is being used by some instances",
                u.name
            ),
        ));
    }
    ctx.world.user_data.retain(|x| x.id != u.id);
    ctx.world.retire(&u.id);
    ctx.changed = true;
    Ok(super::success())
}
