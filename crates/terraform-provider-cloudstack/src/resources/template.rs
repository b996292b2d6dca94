//! `cloudstack_template`: a template registered from a URL (Go provider
//! schema), waiting until CloudStack reports it ready (`is_ready_timeout`,
//! default 300 s; polled with a growing interval instead of Go's fixed
//! 10 s). Registered through the client's `register_template`, which
//! recovers a lost answer by name, so no second template appears; a create
//! interrupted after CloudStack accepted it keeps the template (tainted).
//! Import by id (the Go provider has none). `userdata_link` and `for_cks`
//! are accepted and passed through at registration only.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use cloudstack::{api::RegisterTemplate, model::Template as CsTemplate, Params, Resource as Kind};
use serde::{Deserialize, Serialize};
use tfplugin5::{
    async_trait,
    model::{Field, Timeouts},
    Attribute, Block, Diagnostics, NestedBlock, Schema, Type, Value,
};

use crate::{
    attr,
    common::{bounded, found, import_state, resolve, spelled, tags_map, update_tags, OpError},
    kit::{Ctx, TypedResource},
    provider::Client,
};

const TAG_TYPE: &str = "Template";
const FORMATS: [&str; 5] = ["OVA", "QCOW2", "RAW", "VHD", "VMDK"];
/// `is_ready_timeout`'s default (seconds), as in the Go provider.
const READY_TIMEOUT: i64 = 300;

/// The `cloudstack_template` resource.
#[derive(Debug)]
pub struct Template;

/// One `userdata_link` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserdataLink {
    userdata_id: Option<String>,
    userdata_policy: Option<String>,
    userdata_name: Option<String>,
    userdata_params: Option<String>,
}

/// The resource's value (attribute names are the field names).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Model {
    id: Option<String>,
    name: Option<String>,
    display_text: Option<String>,
    format: Option<String>,
    hypervisor: Option<String>,
    os_type: Option<String>,
    url: Option<String>,
    project: Option<String>,
    zone: Option<String>,
    is_dynamically_scalable: Option<bool>,
    is_extractable: Option<bool>,
    is_featured: Option<bool>,
    is_public: Option<bool>,
    password_enabled: Option<bool>,
    is_ready: Option<bool>,
    is_ready_timeout: Option<i64>,
    for_cks: Option<bool>,
    tags: Option<BTreeMap<String, String>>,
    /// Absent from an import's starting state.
    #[serde(default)]
    userdata_link: Vec<UserdataLink>,
    timeouts: Option<Timeouts>,
}

/// What the plan-time checks read (see [`crate::kit`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    format: Field<String>,
    is_ready_timeout: Field<i64>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("name", Type::String))
            .attribute(Attribute::optional_computed("display_text", Type::String))
            .attribute(Attribute::required("format", Type::String))
            .attribute(Attribute::required("hypervisor", Type::String).force_new())
            .attribute(Attribute::required("os_type", Type::String))
            .attribute(Attribute::required("url", Type::String).force_new())
            .attribute(Attribute::optional_computed("project", Type::String).force_new())
            .attribute(Attribute::optional("zone", Type::String).force_new())
            .attribute(Attribute::optional_computed(
                "is_dynamically_scalable",
                Type::Bool,
            ))
            .attribute(Attribute::optional_computed("is_extractable", Type::Bool).force_new())
            .attribute(Attribute::optional_computed("is_featured", Type::Bool).force_new())
            .attribute(Attribute::optional_computed("is_public", Type::Bool))
            .attribute(Attribute::optional_computed("password_enabled", Type::Bool))
            .attribute(Attribute::computed("is_ready", Type::Bool))
            .attribute(Attribute::optional("is_ready_timeout", Type::Number).default(READY_TIMEOUT))
            .attribute(Attribute::optional_computed("for_cks", Type::Bool).force_new())
            .attribute(Attribute::optional_computed(
                "tags",
                Type::map(Type::String),
            ))
            .block(
                NestedBlock::list(
                    "userdata_link",
                    Block::new()
                        .attribute(Attribute::required("userdata_id", Type::String))
                        .attribute(Attribute::optional("userdata_policy", Type::String))
                        .attribute(Attribute::computed("userdata_name", Type::String))
                        .attribute(Attribute::computed("userdata_params", Type::String)),
                )
                .max_items(1),
            )
            .timeouts(&["create", "delete"]),
    )
}

/// `mine` unless CloudStack's `theirs` differs from it beyond case.
fn same_or(mine: Option<String>, theirs: &Option<String>) -> Option<String> {
    match (mine, theirs) {
        (Some(m), Some(t)) if m.eq_ignore_ascii_case(t) => Some(m),
        (_, Some(t)) => Some(t.clone()),
        (m, None) => m,
    }
}

/// `m` brought up to date from CloudStack's template `t`, keeping the user's spelling.
fn fill(mut m: Model, t: &CsTemplate) -> Model {
    m.id = Some(t.id.clone());
    m.name = t.name.clone();
    m.display_text = t.displaytext.clone();
    m.format = same_or(m.format, &t.format);
    m.hypervisor = same_or(m.hypervisor, &t.hypervisor);
    m.os_type = spelled(m.os_type, t.ostypename.as_deref(), t.ostypeid.as_deref());
    if m.zone.as_deref().is_some_and(|z| z != "all") {
        m.zone = spelled(m.zone, t.zonename.as_deref(), t.zoneid.as_deref());
    }
    m.is_extractable = Some(t.isextractable.unwrap_or(false));
    m.is_featured = Some(t.isfeatured.unwrap_or(false));
    m.is_public = Some(t.ispublic.unwrap_or(false));
    m.password_enabled = Some(t.passwordenabled.unwrap_or(false));
    m.is_ready = Some(t.isready.unwrap_or(false));
    m.is_ready_timeout = m.is_ready_timeout.or(Some(READY_TIMEOUT));
    m.tags = Some(tags_map(&t.tags));
    m
}

async fn find(c: &Client, id: &str) -> Result<Option<CsTemplate>, OpError> {
    let p = Params::new().with("id", id).with("listall", "true");
    match bounded(c, c.timeout, c.api.list_templates("self", &p)).await {
        Ok(v) => Ok(v.into_iter().find(|t| t.id == id)),
        Err(OpError::Api(e)) if e.is_param_error() || e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Waits until the template `id` is ready (`is_ready_timeout`); the state
/// to keep, with an error pushed when it is not ready (kept tainted) or
/// gone (`None`).
async fn wait_ready(c: &Client, plan: Model, id: &str, diags: &mut Diagnostics) -> Option<Model> {
    let name = plan.name.clone().unwrap_or_default();
    let secs = plan.is_ready_timeout.unwrap_or(READY_TIMEOUT).max(1) as u64;
    let ready_limit = Duration::from_secs(secs);
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    let bare = |plan: Model| {
        let t = CsTemplate {
            id: id.to_string(),
            ..Default::default()
        };
        Some(Model {
            is_ready: Some(false),
            ..fill(plan, &t)
        })
    };
    loop {
        match find(c, id).await {
            Ok(Some(t)) if t.isready == Some(true) => return Some(fill(plan, &t)),
            Ok(Some(t)) if started.elapsed() >= ready_limit => {
                diags.push(
                    tfplugin5::Diagnostic::error(
                        format!("Template {name} not ready after {secs}s"),
                        format!(
                            "Status: {}. The template is kept (tainted); raise is_ready_timeout \
                             if downloads are slow.",
                            t.status.as_deref().unwrap_or("unknown")
                        ),
                    )
                    .at(tfplugin5::AttributePath::attr(attr!(
                        Model,
                        is_ready_timeout
                    ))),
                );
                return Some(fill(plan, &t));
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                diags.error(
                    format!("Template {name} disappeared while waiting for it"),
                    "CloudStack removed it (failed download?); check the url.",
                );
                return None;
            }
            Err(e) => {
                diags.push(e.diagnostic("waiting for the template", None, "create"));
                return bare(plan);
            }
        }
        tokio::select! {
            _ = c.stop.cancelled() => {
                diags.error(
                    "Interrupted while waiting for the template",
                    format!("Template {id} is kept in state (tainted)."),
                );
                return bare(plan);
            }
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

#[async_trait]
impl TypedResource for Template {
    type Model = Model;
    type View = View;

    fn type_name(&self) -> &'static str {
        "cloudstack_template"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn create_command(&self) -> Option<&'static str> {
        Some("registerTemplate")
    }

    async fn validate(&self, config: View, diags: &mut Diagnostics) {
        if let Some(f) = config.format.known() {
            if !FORMATS.iter().any(|x| x.eq_ignore_ascii_case(f)) {
                diags.attribute_error(
                    attr!(Model, format),
                    format!("Unsupported template format {f:?}"),
                    format!("Use one of {}.", FORMATS.join(", ")),
                );
            }
        }
        if let Some(t) = config.is_ready_timeout.known() {
            if *t <= 0 {
                diags.attribute_error(
                    attr!(Model, is_ready_timeout),
                    "is_ready_timeout must be positive",
                    "Seconds.",
                );
            }
        }
    }

    async fn create(&self, cx: Ctx<'_>, plan: Model, diags: &mut Diagnostics) -> Option<Model> {
        let c = cx.c;
        let limit = cx.limit("create", diags);
        let name = plan.name.clone().unwrap_or_default();
        let os = plan.os_type.as_deref().unwrap_or_default();
        let os_type_id = resolve(
            c,
            Kind::OsType,
            attr!(Model, os_type),
            os,
            &Params::new(),
            diags,
        )
        .await?;
        let zone_id = match plan.zone.as_deref() {
            None | Some("all") => "-1".to_string(),
            Some(z) => resolve(c, Kind::Zone, attr!(Model, zone), z, &Params::new(), diags).await?,
        };
        let project_id = cx.project_id(plan.project.as_deref(), diags).await.ok()?;
        let mut req = RegisterTemplate {
            name: name.clone(),
            display_text: plan.display_text.clone().unwrap_or_else(|| name.clone()),
            format: plan
                .format
                .as_deref()
                .unwrap_or_default()
                .to_ascii_uppercase(),
            hypervisor: plan.hypervisor.clone().unwrap_or_default(),
            url: plan.url.clone().unwrap_or_default(),
            os_type_id,
            zone_id,
            project_id,
            extra: Params::new(),
        };
        for (value, param) in [
            (plan.is_dynamically_scalable, "isdynamicallyscalable"),
            (plan.is_extractable, "isextractable"),
            (plan.is_featured, "isfeatured"),
            (plan.is_public, "ispublic"),
            (plan.password_enabled, "passwordenabled"),
            (plan.for_cks, "forcks"),
        ] {
            req.extra.set_opt(param, value.map(|b| b.to_string()));
        }
        let api = c.api_with_timeout(limit);
        let t = match bounded(c, limit, api.register_template(&req)).await {
            Ok(t) => t,
            Err(e) => {
                let action = format!("registering template {name}");
                diags.push(e.diagnostic(&action, Some(attr!(Model, url)), "create"));
                // the kit keeps a template CloudStack accepted (tainted)
                return None;
            }
        };
        let id = t.id.clone();
        if let Some(link) = plan.userdata_link.first() {
            let mut lp = Params::new().with("templateid", &id);
            lp.set_opt("userdataid", link.userdata_id.as_deref());
            lp.set_opt("userdatapolicy", link.userdata_policy.as_deref());
            if let Err(e) =
                bounded(c, limit, api.request_async("linkUserDataToTemplate", &lp)).await
            {
                diags.push(e.diagnostic(
                    "linking user data",
                    Some(attr!(Model, userdata_link)),
                    "create",
                ));
            }
        }
        let tags = plan.tags.clone().unwrap_or_default();
        if !tags.is_empty() {
            if let Err(e) = update_tags(c, limit, TAG_TYPE, &id, &BTreeMap::new(), &tags).await {
                diags.push(e.diagnostic(
                    "tagging the template",
                    Some(attr!(Model, tags)),
                    "create",
                ));
            }
        }
        wait_ready(c, plan, &id, diags).await
    }

    async fn read(&self, cx: Ctx<'_>, state: Model, diags: &mut Diagnostics) -> Option<Model> {
        let id = state.id.clone()?;
        found(find(cx.c, &id).await, "template", &id, "read", diags).map(|t| fill(state, &t))
    }

    async fn update(
        &self,
        cx: Ctx<'_>,
        prior: Model,
        plan: Model,
        diags: &mut Diagnostics,
    ) -> Option<Model> {
        let c = cx.c;
        let id = prior.id.clone()?;
        let mut p = Params::new().with("id", &id);
        if plan.name != prior.name {
            p.set_opt("name", plan.name.as_deref());
        }
        if plan.display_text != prior.display_text {
            p.set_opt("displaytext", plan.display_text.as_deref());
        }
        if plan.format != prior.format {
            p.set_opt(
                "format",
                plan.format.as_deref().map(str::to_ascii_uppercase),
            );
        }
        if plan.os_type != prior.os_type {
            let os = plan.os_type.as_deref().unwrap_or_default();
            let os_id = resolve(
                c,
                Kind::OsType,
                attr!(Model, os_type),
                os,
                &Params::new(),
                diags,
            )
            .await?;
            p.set("ostypeid", os_id);
        }
        for (new, old, param) in [
            (
                plan.is_dynamically_scalable,
                prior.is_dynamically_scalable,
                "isdynamicallyscalable",
            ),
            (
                plan.password_enabled,
                prior.password_enabled,
                "passwordenabled",
            ),
        ] {
            if new != old {
                p.set_opt(param, new.map(|b| b.to_string()));
            }
        }
        if p.iter().count() > 1 {
            if let Err(e) = bounded(c, c.timeout, c.api.request_async("updateTemplate", &p)).await {
                diags.push(e.diagnostic(&format!("updating template {id}"), None, "update"));
                return None;
            }
        }
        // updateTemplate does not take ispublic; CloudStack changes it through
        // updateTemplatePermissions (the Go provider plans the change but never sends it).
        if plan.is_public != prior.is_public {
            if let Some(public) = plan.is_public {
                let perms = Params::new()
                    .with("id", &id)
                    .with("ispublic", public.to_string());
                let sent = c.api.request("updateTemplatePermissions", &perms);
                if let Err(e) = bounded(c, c.timeout, sent).await {
                    let action = format!("updating template {id}");
                    diags.push(e.diagnostic(&action, Some(attr!(Model, is_public)), "update"));
                    return None;
                }
            }
        }
        if !cx
            .update_tags(TAG_TYPE, &id, c.timeout, &prior.tags, &plan.tags, diags)
            .await
        {
            return None;
        }
        let t = match find(c, &id).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                diags.error(
                    format!("Template {id} no longer exists"),
                    "It was deleted outside Terraform; run `terraform apply` again to register it.",
                );
                return None;
            }
            Err(e) => {
                diags.push(e.diagnostic(&format!("reading template {id}"), None, "update"));
                return None;
            }
        };
        // not part of listTemplates' answer in every version
        let scalable = plan.is_dynamically_scalable;
        Some(Model {
            is_dynamically_scalable: scalable,
            ..fill(plan, &t)
        })
    }

    async fn delete(&self, cx: Ctx<'_>, prior: Model, diags: &mut Diagnostics) {
        let Some(id) = prior.id.as_deref() else {
            return;
        };
        let p = Params::new().with("id", id);
        cx.delete("deleteTemplate", &p, &format!("template {id}"), diags)
            .await;
    }

    /// `terraform import cloudstack_template.x <id>` or `<project>/<id>`.
    fn import(&self, id: &str) -> Vec<Value> {
        import_state(
            id,
            &[(attr!(Model, is_ready_timeout), READY_TIMEOUT.into())],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{common::testenv, kit::Typed};
    use tfplugin5::Resource;

    /// A plan for template `name`, computed attributes unknown.
    fn planned(name: &str) -> Value {
        let mut planned = Value::object([
            ("name", Value::from(name)),
            ("format", "QCOW2".into()),
            ("hypervisor", "KVM".into()),
            ("os_type", "Ubuntu 14.04 (64-bit)".into()),
            ("url", format!("http://images.example/{name}.qcow2").into()),
            ("zone", "zone001".into()),
            ("is_ready_timeout", 60i64.into()),
        ]);
        for a in [
            "id",
            "display_text",
            "project",
            "is_dynamically_scalable",
            "is_extractable",
            "is_featured",
            "is_public",
            "password_enabled",
            "is_ready",
            "for_cks",
            "tags",
        ] {
            planned.set_attr(a, Value::Unknown);
        }
        planned
    }

    fn live_named(env: &testenv::Env, name: &str) -> Vec<String> {
        env.sim
            .world()
            .templates
            .into_iter()
            .filter(|t| t.name == name && !t.removed)
            .map(|t| t.id)
            .collect()
    }

    /// Ctrl-C while the registered template downloads: CloudStack accepted it, so it is
    /// kept in state (tainted) instead of being orphaned.
    #[tokio::test]
    async fn an_accepted_register_interrupted_is_kept_tainted() {
        let mut opts = cloudstack_sim::Options::default();
        opts.job_latency.apply("registerTemplate=30000").unwrap();
        let env = testenv::start(opts).await;
        let c = testenv::stopped_after(&env, Duration::from_millis(500));
        let mut d = Diagnostics::default();
        let state = Typed(Template).create(&c, &planned("slow"), &mut d).await;
        testenv::assert_kept_tainted(&state, &d, &live_named(&env, "slow"));
        assert_eq!(state.get_bool("is_ready"), Some(false));
    }

    /// Lost and garbled answers to registerTemplate never register a template twice.
    #[tokio::test]
    async fn faults_never_duplicate_a_template() {
        let opts = cloudstack_sim::Options {
            fault_rate: 0.3,
            fault_seed: 11,
            ..Default::default()
        };
        let env = testenv::start(opts).await;
        for i in 0..5 {
            let name = format!("img-{i}");
            let mut id = None;
            // like repeated `terraform apply`: try again until recorded
            for _ in 0..5 {
                let mut d = Diagnostics::default();
                let s = Typed(Template)
                    .create(&env.client, &planned(&name), &mut d)
                    .await;
                if let Some(x) = s.get_str("id") {
                    id = Some(x.to_string());
                    break;
                }
            }
            let id = id.unwrap_or_else(|| panic!("{name} never registered"));
            assert_eq!(live_named(&env, &name), vec![id], "{name}");
        }
        assert!(env.sim.stats()["faults"].as_u64().unwrap() > 0);
    }

    #[tokio::test]
    async fn register_waits_until_ready_then_updates_and_deletes() {
        let mut opts = cloudstack_sim::Options::default();
        opts.job_latency.apply("registerTemplate=700").unwrap();
        let env = testenv::start(opts).await;
        let c = &env.client;
        let planned = planned("mesos");
        let mut d = Diagnostics::default();
        let state = Typed(Template).create(c, &planned, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(state.is_fully_known(), "{state:?}");
        assert_eq!(state.get_bool("is_ready"), Some(true));
        assert_eq!(state.get_str("os_type"), Some("Ubuntu 14.04 (64-bit)"));
        assert_eq!(state.get_str("zone"), Some("zone001"));
        assert_eq!(Typed(Template).read(c, &state, &mut d).await, state);

        let mut next = state.clone();
        next.set_attr("name", "mesos-2");
        let was_public = state.get_bool("is_public").unwrap_or(false);
        next.set_attr("is_public", !was_public);
        let updated = Typed(Template).update(c, &state, &next, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(updated.get_str("name"), Some("mesos-2"));
        // The change really reached CloudStack: a fresh read sees it.
        let reread = Typed(Template).read(c, &updated, &mut d).await;
        assert_eq!(
            reread.get_bool("is_public"),
            Some(!was_public),
            "{reread:?}"
        );

        Typed(Template).delete(c, &updated, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(Typed(Template).read(c, &updated, &mut d).await.is_null());
    }

    #[tokio::test]
    async fn format_is_checked() {
        let mut d = Diagnostics::default();
        Typed(Template)
            .validate(&Value::object([("format", "ISO")]), &mut d)
            .await;
        assert!(d.0[0].detail.contains("QCOW2"));
    }
}
