//! `cloudstack_template`: a template registered from a URL (Go provider
//! schema), waiting until CloudStack reports it ready (`is_ready_timeout`,
//! default 300 s; polled with a growing interval instead of Go's fixed
//! 10 s). Import by id (the Go provider has none). `userdata_link` and
//! `for_cks` are accepted and passed through at registration only.

use std::time::{Duration, Instant};

use cloudstack::{model::Template as CsTemplate, AcceptedLog, Params, Resource as Kind};
use tfplugin5::{
    async_trait, Attribute, Block, Diagnostics, NestedBlock, Resource, Schema, Type, Value,
};

use crate::{
    common::{
        accepted_state, bounded, changed, found, get_str, honor_plan, import_state, keep_spelling,
        op_timeout, planned_unless_failed, read_by_id, resolve, resolve_project, tags_of,
        tags_value, update_planned_tags, update_tags, OpError,
    },
    provider::Client,
};

const TAG_TYPE: &str = "Template";
const FORMATS: [&str; 5] = ["OVA", "QCOW2", "RAW", "VHD", "VMDK"];

/// The `cloudstack_template` resource.
#[derive(Debug)]
pub struct Template;

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
            .attribute(Attribute::optional("is_ready_timeout", Type::Number).default(300i64))
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

fn fill_state(base: &Value, t: &CsTemplate) -> Value {
    let mut s = base.clone();
    s.set_attr("id", t.id.as_str());
    s.set_attr("name", Value::from(t.name.clone()));
    s.set_attr("display_text", Value::from(t.displaytext.clone()));
    if let Some(f) = &t.format {
        if !base
            .get_str("format")
            .is_some_and(|b| b.eq_ignore_ascii_case(f))
        {
            s.set_attr("format", f.as_str());
        }
    }
    if let Some(h) = &t.hypervisor {
        if !base
            .get_str("hypervisor")
            .is_some_and(|b| b.eq_ignore_ascii_case(h))
        {
            s.set_attr("hypervisor", h.as_str());
        }
    }
    if let Some(id) = &t.ostypeid {
        s.set_attr(
            "os_type",
            keep_spelling(base.get_str("os_type"), t.ostypename.as_deref(), id),
        );
    }
    if let (Some(z), Some(zid)) = (base.get_str("zone"), &t.zoneid) {
        if z != "all" {
            s.set_attr("zone", keep_spelling(Some(z), t.zonename.as_deref(), zid));
        }
    }
    for (attr, v) in [
        ("is_extractable", t.isextractable),
        ("is_featured", t.isfeatured),
        ("is_public", t.ispublic),
        ("password_enabled", t.passwordenabled),
        ("is_ready", t.isready),
    ] {
        s.set_attr(attr, v.unwrap_or(false));
    }
    if s.get("is_ready_timeout").is_null() {
        s.set_attr("is_ready_timeout", 300i64);
    }
    s.set_attr("tags", tags_value(&t.tags));
    if let Value::Object(m) = &mut s {
        for v in m.values_mut() {
            if v.is_unknown() {
                *v = Value::Null;
            }
        }
    }
    if let Some(links) = s.get("userdata_link").as_slice().map(<[Value]>::to_vec) {
        let fixed: Vec<Value> = links
            .into_iter()
            .map(|mut l| {
                for a in ["userdata_name", "userdata_params"] {
                    if l.get(a).is_unknown() {
                        l.set_attr(a, Value::Null);
                    }
                }
                l
            })
            .collect();
        s.set_attr("userdata_link", Value::List(fixed));
    }
    s
}

async fn find(c: &Client, id: &str) -> Result<Option<CsTemplate>, OpError> {
    let p = Params::new().with("id", id).with("listall", "true");
    match bounded(c, c.timeout, c.api.list_templates("self", &p)).await {
        Ok(v) => Ok(v.into_iter().find(|t| t.id == id)),
        Err(OpError::Api(e)) if e.is_param_error() || e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The create itself; `create` keeps the planned values afterwards.
async fn create_impl(c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
    let limit = op_timeout(c, planned, "create", diags);
    let name = get_str(planned, "name").unwrap_or_default().to_string();
    let mut p = Params::new()
        .with("name", &name)
        .with(
            "displaytext",
            get_str(planned, "display_text").unwrap_or(&name),
        )
        .with(
            "format",
            get_str(planned, "format")
                .unwrap_or_default()
                .to_ascii_uppercase(),
        )
        .with(
            "hypervisor",
            get_str(planned, "hypervisor").unwrap_or_default(),
        )
        .with("url", get_str(planned, "url").unwrap_or_default());
    let os = get_str(planned, "os_type").unwrap_or_default();
    match resolve(c, Kind::OsType, "os_type", os, &Params::new(), diags).await {
        Some(id) => p.set("ostypeid", id),
        None => return Value::Null,
    };
    match get_str(planned, "zone") {
        None | Some("all") => p.set("zoneid", "-1"),
        Some(z) => match resolve(c, Kind::Zone, "zone", z, &Params::new(), diags).await {
            Some(id) => p.set("zoneid", id),
            None => return Value::Null,
        },
    };
    if let Some(pr) = get_str(planned, "project") {
        match resolve_project(c, "project", pr, diags).await {
            Some(id) => p.set("projectid", id),
            None => return Value::Null,
        };
    }
    for (attr, param) in [
        ("is_dynamically_scalable", "isdynamicallyscalable"),
        ("is_extractable", "isextractable"),
        ("is_featured", "isfeatured"),
        ("is_public", "ispublic"),
        ("password_enabled", "passwordenabled"),
        ("for_cks", "forcks"),
    ] {
        if let Some(b) = planned.get_bool(attr) {
            p.set(param, b.to_string());
        }
    }
    let accepted = AcceptedLog::new();
    let api = c.api_with_timeout(limit).recording_accepted(&accepted);
    let scope = Params::new()
        .with("templatefilter", "self")
        .with("name", &name)
        .with("listall", "true");
    let lookup = || async {
        let all = api
            .list_all_values("listTemplates", "template", &scope)
            .await?;
        Ok(all
            .into_iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name.as_str())))
    };
    let registered = bounded(
        c,
        limit,
        api.create_with_recovery("registerTemplate", &p, Some("template"), lookup),
    )
    .await;
    let value = match registered {
        Ok(serde_json::Value::Array(mut a)) if !a.is_empty() => a.swap_remove(0),
        Ok(v) => v,
        Err(e) => {
            diags.push(e.diagnostic(
                &format!("registering template {name}"),
                Some("url"),
                "create",
            ));
            return accepted_state(planned, &accepted, "registerTemplate", diags);
        }
    };
    let Some(id) = value.get("id").and_then(|i| i.as_str()).map(str::to_string) else {
        diags.error("registerTemplate returned no id", value.to_string());
        return Value::Null;
    };
    if let Some(link) = planned.get_slice("userdata_link").first() {
        let mut lp = Params::new().with("templateid", &id);
        lp.set_opt("userdataid", link.get_str("userdata_id"));
        lp.set_opt("userdatapolicy", link.get_str("userdata_policy"));
        if let Err(e) = bounded(c, limit, api.request_async("linkUserDataToTemplate", &lp)).await {
            diags.push(e.diagnostic("linking user data", Some("userdata_link"), "create"));
        }
    }
    let tags = tags_of(planned);
    if !tags.is_empty() {
        if let Err(e) = update_tags(c, limit, TAG_TYPE, &id, &Default::default(), &tags).await {
            diags.push(e.diagnostic("tagging the template", Some("tags"), "create"));
        }
    }
    // wait until ready
    let ready_limit =
        Duration::from_secs(planned.get_i64("is_ready_timeout").unwrap_or(300).max(1) as u64);
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match find(c, &id).await {
            Ok(Some(t)) if t.isready == Some(true) => return fill_state(planned, &t),
            Ok(Some(t)) if started.elapsed() >= ready_limit => {
                diags.push(
                    tfplugin5::Diagnostic::error(
                        format!("Template {name} not ready after {}s", ready_limit.as_secs()),
                        format!(
                            "Status: {}. The template is kept (tainted); raise is_ready_timeout \
                             if downloads are slow.",
                            t.status.as_deref().unwrap_or("unknown")
                        ),
                    )
                    .at(tfplugin5::AttributePath::attr("is_ready_timeout")),
                );
                return fill_state(planned, &t);
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                diags.error(
                    format!("Template {name} disappeared while waiting for it"),
                    "CloudStack removed it (failed download?); check the url.",
                );
                return Value::Null;
            }
            Err(e) => {
                diags.push(e.diagnostic("waiting for the template", None, "create"));
                let mut s = planned.clone();
                s.set_attr("id", id.as_str());
                return fill_state(
                    &s,
                    &CsTemplate {
                        id: id.clone(),
                        ..Default::default()
                    },
                );
            }
        }
        tokio::select! {
            _ = c.stop.cancelled() => {
                diags.error("Interrupted while waiting for the template", "");
                return fill_state(planned, &CsTemplate { id: id.clone(), ..Default::default() });
            }
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

#[async_trait]
impl Resource<Client> for Template {
    fn type_name(&self) -> &'static str {
        "cloudstack_template"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(f) = config.get_str("format") {
            if !FORMATS.iter().any(|x| x.eq_ignore_ascii_case(f)) {
                diags.attribute_error(
                    "format",
                    format!("Unsupported template format {f:?}"),
                    format!("Use one of {}.", FORMATS.join(", ")),
                );
            }
        }
        if let Some(t) = config.get_i64("is_ready_timeout") {
            if t <= 0 {
                diags.attribute_error(
                    "is_ready_timeout",
                    "is_ready_timeout must be positive",
                    "Seconds.",
                );
            }
        }
    }

    async fn create(&self, c: &Client, planned: &Value, diags: &mut Diagnostics) -> Value {
        let state = create_impl(c, planned, diags).await;
        planned_unless_failed(planned, state, diags)
    }

    async fn read(&self, c: &Client, state: &Value, diags: &mut Diagnostics) -> Value {
        let lookup = |id| find(c, id);
        read_by_id(state, "template", diags, lookup, |t| fill_state(state, t)).await
    }

    async fn update(
        &self,
        c: &Client,
        prior: &Value,
        planned: &Value,
        diags: &mut Diagnostics,
    ) -> Value {
        let Some(id) = prior.get_str("id") else {
            return Value::Null;
        };
        let ch = |n: &str| changed(prior, planned, n);
        let mut p = Params::new().with("id", id);
        if ch("name") {
            p.set_opt("name", get_str(planned, "name"));
        }
        if ch("display_text") {
            p.set_opt("displaytext", get_str(planned, "display_text"));
        }
        if ch("format") {
            p.set_opt(
                "format",
                get_str(planned, "format").map(str::to_ascii_uppercase),
            );
        }
        if ch("os_type") {
            let os = get_str(planned, "os_type").unwrap_or_default();
            match resolve(c, Kind::OsType, "os_type", os, &Params::new(), diags).await {
                Some(o) => {
                    p.set("ostypeid", o);
                }
                None => return Value::Null,
            }
        }
        for (attr, param) in [
            ("is_dynamically_scalable", "isdynamicallyscalable"),
            ("password_enabled", "passwordenabled"),
        ] {
            if ch(attr) {
                if let Some(b) = planned.get_bool(attr) {
                    p.set(param, b.to_string());
                }
            }
        }
        if p.iter().count() > 1 {
            if let Err(e) = bounded(c, c.timeout, c.api.request_async("updateTemplate", &p)).await {
                diags.push(e.diagnostic(&format!("updating template {id}"), None, "update"));
                return Value::Null;
            }
        }
        // updateTemplate does not take ispublic; CloudStack changes it through
        // updateTemplatePermissions (the Go provider plans the change but never sends it).
        if ch("is_public") {
            if let Some(public) = planned.get_bool("is_public") {
                let perms = Params::new()
                    .with("id", id)
                    .with("ispublic", public.to_string());
                if let Err(e) = bounded(
                    c,
                    c.timeout,
                    c.api.request("updateTemplatePermissions", &perms),
                )
                .await
                {
                    diags.push(e.diagnostic(
                        &format!("updating template {id}"),
                        Some("is_public"),
                        "update",
                    ));
                    return Value::Null;
                }
            }
        }
        if !update_planned_tags(c, c.timeout, TAG_TYPE, id, prior, planned, diags).await {
            return Value::Null;
        }
        let Some(t) = found(find(c, id).await, "template", id, "update", diags) else {
            return Value::Null;
        };
        let mut s = fill_state(planned, &t);
        // not part of listTemplates' answer in every version
        s.set_attr(
            "is_dynamically_scalable",
            planned.get("is_dynamically_scalable").clone(),
        );
        honor_plan(planned, s)
    }

    async fn delete(&self, c: &Client, prior: &Value, diags: &mut Diagnostics) {
        let Some(id) = prior.get_str("id") else {
            return;
        };
        let limit = op_timeout(c, prior, "delete", diags);
        let api = c.api_with_timeout(limit);
        match bounded(c, limit, api.delete_template(id, None)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => diags.push(e.diagnostic(&format!("deleting template {id}"), None, "delete")),
        }
    }

    /// `terraform import cloudstack_template.x <id>` or `<project>/<id>`.
    async fn import(&self, _c: &Client, id: &str, _diags: &mut Diagnostics) -> Vec<Value> {
        import_state(id, &[("is_ready_timeout", 300i64.into())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::common::testenv;

    #[tokio::test]
    async fn register_waits_until_ready_then_updates_and_deletes() {
        let mut opts = cloudstack_sim::Options::default();
        opts.job_latency.apply("registerTemplate=700").unwrap();
        let env = testenv::start(opts).await;
        let c = &env.client;
        let mut planned = Value::object([
            ("name", Value::from("mesos")),
            ("format", "QCOW2".into()),
            ("hypervisor", "KVM".into()),
            ("os_type", "Ubuntu 14.04 (64-bit)".into()),
            ("url", "http://images.example/mesos.qcow2".into()),
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
        let mut d = Diagnostics::default();
        let state = Template.create(c, &planned, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(state.is_fully_known(), "{state:?}");
        assert_eq!(state.get_bool("is_ready"), Some(true));
        assert_eq!(state.get_str("os_type"), Some("Ubuntu 14.04 (64-bit)"));
        assert_eq!(state.get_str("zone"), Some("zone001"));
        assert_eq!(Template.read(c, &state, &mut d).await, state);

        let mut next = state.clone();
        next.set_attr("name", "mesos-2");
        let was_public = state.get_bool("is_public").unwrap_or(false);
        next.set_attr("is_public", !was_public);
        let updated = Template.update(c, &state, &next, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(updated.get_str("name"), Some("mesos-2"));
        // The change really reached CloudStack: a fresh read sees it.
        let reread = Template.read(c, &updated, &mut d).await;
        assert_eq!(
            reread.get_bool("is_public"),
            Some(!was_public),
            "{reread:?}"
        );

        Template.delete(c, &updated, &mut d).await;
        assert!(!d.has_errors(), "{d:?}");
        assert!(Template.read(c, &updated, &mut d).await.is_null());
    }

    #[tokio::test]
    async fn format_is_checked() {
        let mut d = Diagnostics::default();
        Template
            .validate(&Value::object([("format", "ISO")]), &mut d)
            .await;
        assert!(d.0[0].detail.contains("QCOW2"));
    }
}
