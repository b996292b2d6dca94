//! Step 2b (the Go builder's `stepCreateSecurityGroup`): with `create_security_group` (and
//! no `security_groups`), a temporary group `packer-<uuid>` in the build's project that lets
//! TCP `ssh_port` in from `cidr_list`; the VM is deployed into it (or into the resolved
//! `security_groups`). Cleanup deletes it, after the VM is expunged (cleanups run last
//! first), which CloudStack requires of a group in use.

use packer_sdk::{
    async_trait,
    steps::{Step, StepContext},
    BoxError,
};

use super::BuildState;
use crate::error::Error;

/// See the module docs.
#[derive(Debug)]
pub struct SecurityGroup;

#[async_trait]
impl Step<BuildState> for SecurityGroup {
    fn name(&self) -> &str {
        "security_group"
    }

    fn left_behind(&self, state: &BuildState) -> Vec<String> {
        state
            .temporary_security_group
            .iter()
            .map(|id| {
                format!(
                    "temporary security group {} ({id}): cs deleteSecurityGroup id={id}{}",
                    state.config.temporary_security_group_name,
                    state.cs_project_arg()
                )
            })
            .collect()
    }

    async fn run(&self, state: &mut BuildState, ctx: &StepContext) -> Result<(), BoxError> {
        let c = state.config.clone();
        if !c.security_groups.is_empty() || !c.create_security_group {
            return Ok(());
        }
        let name = c.temporary_security_group_name.clone();
        ctx.ui
            .say(format!("Creating temporary security group {name}..."))
            .await;
        let group = state
            .client
            .create_security_group(
                &name,
                Some("Temporary security group created by Packer"),
                state.project_id(),
            )
            .await;
        state.temporary_security_group = match &group {
            Ok(g) => Some(g.id.clone()),
            Err(_) => state.accepted.last_id("createSecurityGroup"),
        };
        let group = group.map_err(Error::api(format!(
            "create_security_group: creating security group {name}"
        )))?;
        ctx.ui
            .message(format!(
                "Allowing TCP {} from {} in security group {name} ({})...",
                c.ssh.port,
                c.cidr_list.join(","),
                group.id
            ))
            .await;
        state
            .client
            .authorize_security_group_ingress(
                &group.id,
                "tcp",
                (c.ssh.port, c.ssh.port),
                &c.cidr_list,
                state.project_id(),
            )
            .await
            .map_err(Error::api(format!(
                "create_security_group: allowing TCP {} in security group {name}",
                c.ssh.port
            )))?;
        state.resolved.security_group_ids = vec![group.id];
        Ok(())
    }

    async fn cleanup(&self, state: &mut BuildState, ctx: &StepContext) {
        let Some(id) = state.temporary_security_group.take() else {
            return;
        };
        let name = state.config.temporary_security_group_name.clone();
        ctx.ui
            .say(format!(
                "Deleting temporary security group {name} ({id})..."
            ))
            .await;
        super::clean_up(
            state,
            ctx,
            &format!("deleting temporary security group {name} ({id})"),
            &format!(
                "delete it yourself (deleteSecurityGroup id={id}{})",
                state.cs_project_arg()
            ),
            || state.client.delete_security_group(&id, state.project_id()),
        )
        .await;
    }
}
