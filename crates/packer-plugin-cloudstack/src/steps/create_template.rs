//! Step 8: create the template from the stopped VM's ROOT volume (`listVolumes type=ROOT`,
//! `createTemplate`), then poll `listTemplates` until it is ready. The Go builder sleeps a
//! fixed 30 s instead; polling is both faster and safer. While waiting it shows progress:
//! each new `status` CloudStack reports (which carries the percentage while a template is
//! copied, e.g. `45% Downloaded`) with the size so far, and the elapsed time at least
//! every [`super::PROGRESS_EVERY`] otherwise. The same lines show while the
//! `createTemplate` job itself runs (the copy happens then in CloudStack).

use std::time::{Duration, Instant};

use cloudstack::{api::CreateTemplate as CreateTemplateReq, model::Template, Params};
use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError, Ui,
};

use super::{elapsed_text, BuildState, PROGRESS_EVERY};
use crate::error::Error;

/// See the module docs.
#[derive(Debug)]
pub struct CreateTemplate;

/// First and longest pause between readiness polls.
const POLL_FIRST: Duration = Duration::from_millis(200);
const POLL_CAP: Duration = Duration::from_secs(10);

/// `1.5 GiB`, `300.0 MiB`, `512 bytes`.
fn size_text(bytes: i64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let b = bytes as f64;
    if b >= 1024.0 * MIB {
        format!("{:.1} GiB", b / (1024.0 * MIB))
    } else if b >= MIB {
        format!("{:.1} MiB", b / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// One progress line: the status and size CloudStack reports, if any, and the time waited.
fn progress_line(t: Option<&Template>, elapsed: Duration) -> String {
    let status = t
        .and_then(|t| t.status.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or("not ready yet");
    let size = t
        .and_then(|t| t.physicalsize.or(t.size))
        .filter(|n| *n > 0)
        .map(|n| format!(", {}", size_text(n)))
        .unwrap_or_default();
    format!("{status}{size} ({} elapsed)", elapsed_text(elapsed))
}

/// Whether a template's `status` reports a failed copy or download.
fn failed(t: &Template) -> bool {
    let s = t.status.as_deref().unwrap_or_default().to_ascii_lowercase();
    s.contains("error") || s.contains("fail") || s.contains("abandon")
}

async fn wait_ready(
    state: &BuildState,
    ui: &Ui,
    id: &str,
    timeout: Duration,
) -> Result<Template, Error> {
    let started = Instant::now();
    let mut delay = POLL_FIRST;
    let mut last_status: Option<String> = None;
    let mut last_report = Instant::now();
    loop {
        let found = state
            .client
            .list_templates("self", &state.in_project(Params::new().with("id", id)))
            .await
            .map_err(Error::api(format!(
                "checking whether template {id} is ready"
            )))?;
        let current = found.into_iter().find(|t| t.id == id);
        let status = current.as_ref().and_then(|t| t.status.clone());
        let ready = current.as_ref().is_some_and(|t| t.isready == Some(true));
        if !ready
            && ((status.is_some() && status != last_status)
                || last_report.elapsed() >= PROGRESS_EVERY)
        {
            ui.message(format!(
                "Template {id}: {}",
                progress_line(current.as_ref(), started.elapsed())
            ))
            .await;
            last_status = status;
            last_report = Instant::now();
        }
        match current {
            Some(t) if t.isready == Some(true) => return Ok(t),
            Some(t) if failed(&t) => {
                return Err(Error::Build(format!(
                    "template {id} failed: {}",
                    t.status.unwrap_or_default()
                )))
            }
            Some(_) | None => {}
        }
        if started.elapsed() >= timeout {
            return Err(Error::Build(format!(
                "template {id} was not ready after {timeout:?} (async_timeout); it is kept, \
                 check its status in CloudStack"
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(POLL_CAP);
    }
}

#[async_trait]
impl Step<BuildState> for CreateTemplate {
    fn name(&self) -> &str {
        "create_template"
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let c = state.config.clone();
        let vm_id = state
            .vm_id
            .clone()
            .ok_or("no instance to make a template from")?;
        let t = &c.template;
        ctx.ui.say(format!("Creating template: {}", t.name)).await;
        let volumes = state
            .client
            .list_volumes(
                &state.in_project(
                    Params::new()
                        .with("virtualmachineid", &vm_id)
                        .with("type", "ROOT")
                        .with("listall", "true"),
                ),
            )
            .await
            .map_err(Error::api(format!(
                "listing the ROOT volume of instance {vm_id}"
            )))?;
        let volume = match volumes.as_slice() {
            [v] => v.id.clone(),
            other => {
                return Err(format!(
                    "expected exactly one ROOT volume for instance {vm_id}, found {}",
                    other.len()
                )
                .into())
            }
        };
        let os_type_id = state
            .resolved
            .os_type_id
            .clone()
            .or_else(|| state.vm_os_type_id.clone())
            .ok_or("template_os: must be set (the instance does not report its OS type)")?;
        let flag = |b: bool| if b { "true" } else { "false" };
        let mut extra = Params::new();
        extra
            .set("isfeatured", flag(t.featured))
            .set("ispublic", flag(t.public))
            .set("passwordenabled", flag(t.password_enabled))
            .set("isdynamicallyscalable", flag(t.scalable))
            .set("requireshvm", flag(t.requires_hvm))
            .set_opt("templatetag", t.tag.as_deref())
            .set_opt("projectid", state.project_id());
        if t.extractable {
            extra.set("isextractable", "true");
        }
        let req = CreateTemplateReq {
            name: t.name.clone(),
            display_text: t.display_text.clone(),
            os_type_id,
            volume_id: volume.clone(),
            extra,
        };
        // While the job runs, the template (known by the id of the accepted answer) shows
        // its status and size.
        let st: &BuildState = state;
        let probe = |elapsed: Duration| {
            let id = st.accepted.last_id("createTemplate");
            async move {
                let current = match &id {
                    Some(id) => st
                        .client
                        .list_templates("self", &st.in_project(Params::new().with("id", id)))
                        .await
                        .ok()
                        .and_then(|ts| ts.into_iter().find(|t| &t.id == id)),
                    None => None,
                };
                format!(
                    "Template {}: {}",
                    t.name,
                    progress_line(current.as_ref(), elapsed)
                )
            }
        };
        let creating = super::with_progress(&ctx.ui, st.client.create_template(&req), probe);
        let created = match creating.await {
            Ok(created) => created,
            Err(e) => {
                // Accepted, then lost: say which template exists, the build's result or not.
                let accepted = match state.accepted.last_id("createTemplate") {
                    Some(id) => format!(
                        "; CloudStack had accepted it as template {id}: check it, or delete it \
                         with deleteTemplate id={id}"
                    ),
                    None => String::new(),
                };
                return Err(Error::api(format!(
                    "creating template {} from volume {volume} (check the template name is not \
                     taken and the account's template limit){accepted}",
                    t.name
                ))(e)
                .into());
            }
        };
        ctx.ui
            .message(format!(
                "Template {} has id {}; waiting until it is ready...",
                t.name, created.id
            ))
            .await;
        let ready = super::unless_cancelled(
            ctx,
            wait_ready(state, &ctx.ui, &created.id, c.async_timeout),
        )
        .await;
        // Recorded even when not ready: the artifact (and the user) must know its id.
        state.template = Some(created.clone());
        let ready = ready?;
        ctx.ui
            .message(format!("Template {} ({}) is ready", t.name, ready.id))
            .await;
        state.template = Some(ready);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(status: Option<&str>, physical: Option<i64>, size: Option<i64>) -> Template {
        let mut t: Template = serde_json::from_value(serde_json::json!({"id": "t1"})).unwrap();
        t.status = status.map(str::to_owned);
        t.physicalsize = physical;
        t.size = size;
        t
    }

    #[test]
    fn progress_shows_status_size_and_elapsed_time() {
        let t = template(
            Some("45% Downloaded"),
            None,
            Some(3 * 1024 * 1024 * 1024 / 2),
        );
        assert_eq!(
            progress_line(Some(&t), Duration::from_secs(65)),
            "45% Downloaded, 1.5 GiB (1m05s elapsed)"
        );
        let t = template(Some("Creating"), Some(300 * 1024 * 1024), Some(10));
        assert_eq!(
            progress_line(Some(&t), Duration::from_secs(3)),
            "Creating, 300.0 MiB (3s elapsed)"
        );
        let t = template(Some(""), Some(0), None);
        assert_eq!(
            progress_line(Some(&t), Duration::from_secs(20)),
            "not ready yet (20s elapsed)"
        );
        assert_eq!(
            progress_line(None, Duration::from_millis(900)),
            "not ready yet (0s elapsed)"
        );
        assert_eq!(size_text(512), "512 bytes");
    }
}
