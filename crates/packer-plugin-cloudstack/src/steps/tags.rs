//! Step 9: the legacy `template_tags` become resource tags on the new template
//! (`createTags resourcetype=Template`).

use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use super::BuildState;
use crate::error::Error;

/// See the module docs.
#[derive(Debug)]
pub struct Tags;

#[async_trait]
impl Step<BuildState> for Tags {
    fn name(&self) -> &str {
        "tags"
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let tags = &state.config.template.tags;
        if tags.is_empty() {
            return Ok(());
        }
        let id = state
            .template
            .as_ref()
            .map(|t| t.id.clone())
            .ok_or("no template to tag")?;
        ctx.ui.say(format!("Adding tags to template {id}...")).await;
        let tags: Vec<(String, String)> =
            tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        state
            .client
            .create_tags("Template", std::slice::from_ref(&id), &tags)
            .await
            .map_err(Error::api(format!("tagging template {id}")))?;
        Ok(())
    }
}
