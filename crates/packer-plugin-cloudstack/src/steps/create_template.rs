//! Step 8: create the template from the stopped VM's ROOT volume (`listVolumes type=ROOT`,
//! `createTemplate`), then poll `listTemplates` until it is ready. The Go builder sleeps a
//! fixed 30 s instead; polling is both faster and safer.

use std::time::{Duration, Instant};

use cloudstack::{api::CreateTemplate as CreateTemplateReq, model::Template, Params};
use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use super::BuildState;
use crate::error::Error;

/// See the module docs.
#[derive(Debug)]
pub struct CreateTemplate;

/// First and longest pause between readiness polls.
const POLL_FIRST: Duration = Duration::from_millis(200);
const POLL_CAP: Duration = Duration::from_secs(10);

/// Whether a template's `status` reports a failed copy or download.
fn failed(t: &Template) -> bool {
    let s = t.status.as_deref().unwrap_or_default().to_ascii_lowercase();
    s.contains("error") || s.contains("fail") || s.contains("abandon")
}

async fn wait_ready(state: &BuildState, id: &str, timeout: Duration) -> Result<Template, Error> {
    let started = Instant::now();
    let mut delay = POLL_FIRST;
    loop {
        let found = state
            .client
            .list_templates("self", &Params::new().with("id", id))
            .await
            .map_err(Error::api(format!(
                "checking whether template {id} is ready"
            )))?;
        match found.into_iter().find(|t| t.id == id) {
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
                &Params::new()
                    .with("virtualmachineid", &vm_id)
                    .with("type", "ROOT")
                    .with("listall", "true"),
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
            .set_opt("templatetag", t.tag.as_deref());
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
        let created = match state.client.create_template(&req).await {
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
        let ready =
            super::unless_cancelled(ctx, wait_ready(state, &created.id, c.async_timeout)).await;
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
