//! Build steps with reverse-order cleanup, the shape of Go's `multistep` that every Packer
//! builder uses: run steps in order, stop at the first error or at cancellation, then clean
//! up every step that ran (the failing one included), last first. Cleanup always runs to
//! completion, even after a cancel, so nothing is left behind.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::{
    services::{builder::BUILD_CANCELLED, hook::Hook, ui::Ui},
    BoxError,
};

/// What every step can use: Packer's Ui, the provisioning hook and the build's cancel token.
#[derive(Debug, Clone)]
pub struct StepContext {
    /// Progress output.
    pub ui: Ui,
    /// Runs provisioners.
    pub hook: Hook,
    /// Fires when Packer cancels the build (Ctrl-C); long waits should watch it.
    pub cancel: CancellationToken,
}

/// One build step over shared state `S` (the Go "state bag", typed).
#[async_trait]
pub trait Step<S: Send>: Send + Sync {
    /// Short name for logs.
    fn name(&self) -> &str;
    /// Does the step's work; an error halts the build.
    async fn run(&self, state: &mut S, ctx: &StepContext) -> Result<(), BoxError>;
    /// Undoes what `run` created; called for every step whose `run` was called, in reverse.
    async fn cleanup(&self, _state: &mut S, _ctx: &StepContext) {}
}

/// Runs `steps` in order with cleanup in reverse. Returns the first step error, or
/// [`BUILD_CANCELLED`] if the build was cancelled (also when a step failed because of it).
pub async fn run_steps<S: Send>(
    steps: &[Box<dyn Step<S>>],
    state: &mut S,
    ctx: &StepContext,
) -> Result<(), BoxError> {
    let mut ran = 0;
    let mut result: Result<(), BoxError> = Ok(());
    for step in steps {
        if ctx.cancel.is_cancelled() {
            result = Err(BUILD_CANCELLED.into());
            break;
        }
        tracing::info!("step {}: run", step.name());
        ran += 1;
        if let Err(e) = step.run(state, ctx).await {
            tracing::warn!("step {} failed: {e}", step.name());
            result = Err(e);
            break;
        }
    }
    for step in steps[..ran].iter().rev() {
        tracing::info!("step {}: cleanup", step.name());
        step.cleanup(state, ctx).await;
    }
    if ctx.cancel.is_cancelled() {
        return Err(BUILD_CANCELLED.into());
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::CoreStub;

    struct Rec {
        name: &'static str,
        fail: bool,
        cancel_during_run: bool,
    }

    #[async_trait]
    impl Step<Vec<String>> for Rec {
        fn name(&self) -> &str {
            self.name
        }
        async fn run(&self, log: &mut Vec<String>, ctx: &StepContext) -> Result<(), BoxError> {
            log.push(format!("run {}", self.name));
            ctx.ui.say(format!("step {}", self.name)).await;
            if self.cancel_during_run {
                ctx.cancel.cancel();
                return Err("interrupted".into());
            }
            if self.fail {
                return Err(format!("{} failed", self.name).into());
            }
            Ok(())
        }
        async fn cleanup(&self, log: &mut Vec<String>, _ctx: &StepContext) {
            log.push(format!("cleanup {}", self.name));
        }
    }

    fn step(name: &'static str, fail: bool, cancel: bool) -> Box<dyn Step<Vec<String>>> {
        Box::new(Rec {
            name,
            fail,
            cancel_during_run: cancel,
        })
    }

    #[tokio::test]
    async fn success_cleans_up_everything_in_reverse() {
        let core = CoreStub::start().await;
        let mut log = Vec::new();
        let steps = vec![step("a", false, false), step("b", false, false)];
        run_steps(&steps, &mut log, &core.context()).await.unwrap();
        assert_eq!(log, ["run a", "run b", "cleanup b", "cleanup a"]);
        assert_eq!(core.lines(), ["say: step a", "say: step b"]);
    }

    #[tokio::test]
    async fn failure_halts_and_cleans_up_steps_that_ran() {
        let core = CoreStub::start().await;
        let mut log = Vec::new();
        let steps = vec![
            step("a", false, false),
            step("b", true, false),
            step("c", false, false),
        ];
        let err = run_steps(&steps, &mut log, &core.context())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "b failed");
        assert_eq!(log, ["run a", "run b", "cleanup b", "cleanup a"]);
    }

    #[tokio::test]
    async fn cancel_reports_cancelled_and_still_cleans_up() {
        let core = CoreStub::start().await;
        let mut log = Vec::new();
        let steps = vec![
            step("a", false, false),
            step("b", false, true),
            step("c", false, false),
        ];
        let err = run_steps(&steps, &mut log, &core.context())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), BUILD_CANCELLED);
        assert_eq!(log, ["run a", "run b", "cleanup b", "cleanup a"]);
    }
}
