//! Templates and ISOs: listing with CloudStack's filters, createTemplate from a stopped
//! VM's volume (ready only when its job finishes), registerTemplate, update, delete.

use super::{check_id_filter_in, keyword_matches, list_answer, name_matches, require_id, Ctx};
use crate::error::ApiError;
use crate::params::Params;
use crate::render;
use crate::state::{new_id, timestamp, JobAction, Template, World};
use serde_json::{json, Value};

const CREATE_CMD: &str = "org.apache.cloudstack.api.command.user.template.CreateTemplateCmd";
const REGISTER_CMD: &str = "org.apache.cloudstack.api.command.user.template.RegisterTemplateCmd";
const DELETE_CMD: &str = "org.apache.cloudstack.api.command.user.template.DeleteTemplateCmd";

const TEMPLATE_FILTERS: &[&str] = &[
    "featured",
    "self",
    "selfexecutable",
    "sharedexecutable",
    "executable",
    "community",
    "all",
];

fn filter_matches(filter: &str, t: &Template) -> bool {
    match filter {
        "featured" => t.isfeatured,
        "self" => t.templatetype == "USER",
        "selfexecutable" => t.templatetype == "USER" && t.isready,
        "sharedexecutable" => false,
        "community" => t.ispublic && !t.isfeatured,
        // executable: everything the caller can deploy from (own, featured, public).
        _ => true,
    }
}

fn list_common(
    ctx: &mut Ctx<'_>,
    p: &Params,
    filter_param: &str,
    filter: &str,
    iso: bool,
) -> Result<Value, ApiError> {
    let filter = filter.to_lowercase();
    if !TEMPLATE_FILTERS.contains(&filter.as_str()) {
        return Err(ApiError::param(format!(
            "Unable to execute API command {} due to invalid value {} for parameter {}; valid values are {}",
            p.command.to_lowercase(),
            filter,
            filter_param,
            TEMPLATE_FILTERS.join(", ")
        )));
    }
    let id = check_id_filter_in(ctx.world, p, "id")?;
    let zoneid = check_id_filter_in(ctx.world, p, "zoneid")?;
    let w = &*ctx.world;
    let items = w
        .templates
        .iter()
        .filter(|t| !t.removed && (t.format == "ISO") == iso)
        .filter(|t| filter_matches(&filter, t))
        // a project's templates only with its id; featured and public ones for everybody
        .filter(|t| {
            super::project::visible(p, t.projectid.as_deref())
                || (filter != "self" && (t.isfeatured || t.ispublic))
        })
        .filter(|t| id.as_deref().map(|i| i == t.id).unwrap_or(true))
        .filter(|t| zoneid.as_deref().map(|z| z == t.zoneid).unwrap_or(true))
        .filter(|t| name_matches(p, &t.name))
        .filter(|t| {
            p.opt("hypervisor")
                .map(|h| iso || h.eq_ignore_ascii_case(&t.hypervisor))
                .unwrap_or(true)
        })
        .filter(|t| keyword_matches(p, &[&t.name, &t.displaytext]))
        .map(|t| render::template(w, t))
        .collect();
    list_answer(p, if iso { "iso" } else { "template" }, items)
}

/// listTemplates: `templatefilter` is required, as in CloudStack.
pub fn list_templates(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let filter = p.req("templatefilter")?.to_string();
    list_common(ctx, p, "templatefilter", &filter, false)
}

/// listIsos: `isofilter` defaults to `all`.
pub fn list_isos(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let filter = p.opt("isofilter").unwrap_or("all").to_string();
    list_common(ctx, p, "isofilter", &filter, true)
}

fn check_name(p: &Params, field: &str) -> Result<String, ApiError> {
    let v = p.req(field)?;
    if v.len() > 255 {
        return Err(ApiError::param(format!(
            "{field} must be at most 255 characters"
        )));
    }
    Ok(v.to_string())
}

/// createTemplate from a volume whose VM is Stopped; ready when its job finishes.
pub fn create_template(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = check_name(p, "name")?;
    let displaytext = check_name(p, "displaytext")?;
    let os = require_id(p, "ostypeid", &ctx.world.os_types, |o| &o.id)?.clone();
    if p.opt("snapshotid").is_some() && p.opt("volumeid").is_none() {
        return Err(ApiError::param(
            "Creating a template from a snapshot is not supported by the simulator; use volumeid",
        ));
    }
    let Some(_) = p.opt("volumeid") else {
        return Err(ApiError::param(
            "Failed to create private template record, neither volume ID nor snapshot ID were specified",
        ));
    };
    let volume = require_id(p, "volumeid", &ctx.world.volumes, |v| &v.id)?.clone();
    let projectid =
        super::optional_id(p, "projectid", &ctx.world.projects, |x| &x.id)?.map(|x| x.id.clone());
    let vm = volume
        .virtualmachineid
        .as_deref()
        .and_then(|id| ctx.world.vm(id))
        .cloned();
    if let Some(vm) = &vm {
        if vm.state != "Stopped" {
            return Err(ApiError::param(format!(
                "VM {} must be in Stopped state to create a template from its volume {}, but it is in {} state",
                vm.name, volume.name, vm.state
            )));
        }
    }
    let hypervisor = vm
        .as_ref()
        .map(|v| v.hypervisor.clone())
        .unwrap_or_else(|| "KVM".into());
    let format = match hypervisor.to_lowercase().as_str() {
        "xenserver" => "VHD",
        "vmware" => "OVA",
        _ => "QCOW2",
    };
    let id = new_id();
    ctx.world.templates.push(Template {
        id: id.clone(),
        name,
        displaytext,
        ostypeid: os.id,
        zoneid: volume.zoneid.clone(),
        isready: false,
        status: "Creating".into(),
        format: format.into(),
        hypervisor,
        isfeatured: p.flag("isfeatured", false)?,
        ispublic: p.flag("ispublic", false)?,
        passwordenabled: p.flag("passwordenabled", false)?,
        isdynamicallyscalable: p.flag("isdynamicallyscalable", false)?,
        requireshvm: p.flag("requireshvm", false)?,
        isextractable: p.flag("isextractable", false)?,
        templatetype: "USER".into(),
        size: volume.size,
        created: timestamp(),
        templatetag: p.opt("templatetag").map(str::to_string),
        url: None,
        sourcevolumeid: Some(volume.id.clone()),
        removed: false,
        projectid,
    });
    Ok(ctx.async_answer(
        CREATE_CMD,
        "Template",
        &id,
        JobAction::TemplateReady {
            template: id.clone(),
        },
    ))
}

/// registerTemplate: sync answer with the (not yet ready) template; a background job
/// (with the command's latency) makes it ready, like a finished download.
pub fn register_template(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let name = check_name(p, "name")?;
    let displaytext = p.opt("displaytext").unwrap_or(&name).to_string();
    let format = p.req("format")?.to_uppercase();
    const FORMATS: &[&str] = &["QCOW2", "RAW", "VHD", "VHDX", "OVA", "VMDK", "ISO", "TAR"];
    if !FORMATS.contains(&format.as_str()) {
        return Err(ApiError::param(format!(
            "Image format: {format} is incorrect. Supported formats are {}",
            FORMATS.join(", ")
        )));
    }
    let hypervisor = p.req("hypervisor")?.to_string();
    let url = p.req("url")?.to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::param(format!(
            "Unsupported scheme for url: {url}"
        )));
    }
    let os = require_id(p, "ostypeid", &ctx.world.os_types, |o| &o.id)?.clone();
    let zoneid = match p.req("zoneid")? {
        "-1" => ctx
            .world
            .zones
            .first()
            .map(|z| z.id.clone())
            .ok_or_else(|| ApiError::param("no zone to register the template in"))?,
        _ => require_id(p, "zoneid", &ctx.world.zones, |z| &z.id)?
            .id
            .clone(),
    };
    let id = new_id();
    ctx.world.templates.push(Template {
        id: id.clone(),
        name,
        displaytext,
        ostypeid: os.id,
        zoneid,
        isready: false,
        status: "Download In Progress".into(),
        format,
        hypervisor,
        isfeatured: p.flag("isfeatured", false)?,
        ispublic: p.flag("ispublic", false)?,
        passwordenabled: p.flag("passwordenabled", false)?,
        isdynamicallyscalable: p.flag("isdynamicallyscalable", false)?,
        requireshvm: p.flag("requireshvm", false)?,
        isextractable: p.flag("isextractable", false)?,
        templatetype: "USER".into(),
        size: 2 * (1 << 30),
        created: timestamp(),
        templatetag: p.opt("templatetag").map(str::to_string),
        url: Some(url),
        sourcevolumeid: None,
        removed: false,
        projectid: p.opt("projectid").map(str::to_string),
    });
    ctx.job(
        REGISTER_CMD,
        Some("Template"),
        Some(&id),
        JobAction::TemplateReady {
            template: id.clone(),
        },
    );
    let w = &*ctx.world;
    let t = w
        .template(&id)
        .ok_or_else(|| ApiError::with_code(530, "template vanished"))?;
    Ok(json!({"count": 1, "template": [render::template(w, t)]}))
}

/// The template the `id` parameter names; a removed one is refused like an unknown id.
fn live_template(w: &World, p: &Params) -> Result<Template, ApiError> {
    let t = require_id(p, "id", &w.templates, |t| &t.id)?.clone();
    if t.removed {
        return Err(p.invalid_id("id", &t.id));
    }
    Ok(t)
}

/// updateTemplate (name, displaytext, ostypeid, passwordenabled, isdynamicallyscalable,
/// requireshvm, format) — sync.
pub fn update_template(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let t = live_template(ctx.world, p)?;
    if let Some(os) = p.opt("ostypeid") {
        if !ctx.world.os_types.iter().any(|o| o.id == os) {
            return Err(p.invalid_id("ostypeid", os));
        }
    }
    let passwordenabled = p.bool("passwordenabled")?;
    let scalable = p.bool("isdynamicallyscalable")?;
    let hvm = p.bool("requireshvm")?;
    let Some(m) = ctx.world.templates.iter_mut().find(|x| x.id == t.id) else {
        return Err(p.invalid_id("id", &t.id));
    };
    if let Some(n) = p.opt("name") {
        m.name = n.to_string();
    }
    if let Some(d) = p.opt("displaytext") {
        m.displaytext = d.to_string();
    }
    if let Some(os) = p.opt("ostypeid") {
        m.ostypeid = os.to_string();
    }
    if let Some(f) = p.opt("format") {
        m.format = f.to_uppercase();
    }
    if let Some(b) = passwordenabled {
        m.passwordenabled = b;
    }
    if let Some(b) = scalable {
        m.isdynamicallyscalable = b;
    }
    if let Some(b) = hvm {
        m.requireshvm = b;
    }
    ctx.changed = true;
    let w = &*ctx.world;
    let t = w
        .template(&t.id)
        .ok_or_else(|| ApiError::with_code(530, "template vanished"))?;
    Ok(json!({"template": render::template(w, t)}))
}

/// updateTemplatePermissions (ispublic, isfeatured, isextractable) — sync, answers
/// `{"success": true}` as CloudStack does. Account/project sharing (`accounts`, `op`) is not
/// simulated.
pub fn update_template_permissions(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let t = live_template(ctx.world, p)?;
    let public = p.bool("ispublic")?;
    let featured = p.bool("isfeatured")?;
    let extractable = p.bool("isextractable")?;
    let Some(m) = ctx.world.templates.iter_mut().find(|x| x.id == t.id) else {
        return Err(p.invalid_id("id", &t.id));
    };
    if let Some(b) = public {
        m.ispublic = b;
    }
    if let Some(b) = featured {
        m.isfeatured = b;
    }
    if let Some(b) = extractable {
        m.isextractable = b;
    }
    ctx.changed = true;
    Ok(json!({"success": true}))
}

/// deleteTemplate: async; the template disappears when the job finishes.
pub fn delete_template(ctx: &mut Ctx<'_>, p: &Params) -> Result<Value, ApiError> {
    let t = live_template(ctx.world, p)?;
    if t.templatetype == "SYSTEM" {
        return Err(ApiError::param("Unable to delete a system template"));
    }
    let jobid = ctx.job(
        DELETE_CMD,
        Some("Template"),
        Some(&t.id),
        JobAction::TemplateDelete {
            template: t.id.clone(),
        },
    );
    Ok(json!({"jobid": jobid}))
}
