//! Build steps with reverse-order cleanup, the shape of Go's `multistep` that every Packer
//! builder uses: run steps in order, stop at the first error or at cancellation, then clean
//! up every step that ran (the failing one included), last first. Cleanup always runs to
//! completion, even after a cancel, so nothing is left behind — unless the person asked
//! Packer to keep it (`-on-error`, see [`OnError`]).
//!
//! `-debug` ([`StepContext::debug`]) pauses after each step and before each cleanup until
//! the person presses enter, as the Go SDK's `MultistepDebugFn` does.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::{
    services::{builder::BUILD_CANCELLED, hook::Hook, ui::Ui},
    BoxError,
};

/// What a failed or cancelled build does with what its steps created: Packer's
/// `-on-error`, passed to builders as `packer_on_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Clean up everything (the default).
    #[default]
    Cleanup,
    /// Leave everything in place for debugging, and say what was left and how to remove it.
    Abort,
    /// Ask (through `Ui.Ask`) whether to clean up, abort or retry the failed step.
    Ask,
    /// Like `Abort`, but run the error-cleanup provisioner first.
    RunCleanupProvisioner,
}

impl OnError {
    /// Reads Packer's `packer_on_error` setting (`""` is the default, `cleanup`).
    pub fn from_setting(s: &str) -> Option<OnError> {
        match s {
            "" | "cleanup" => Some(OnError::Cleanup),
            "abort" => Some(OnError::Abort),
            "ask" => Some(OnError::Ask),
            "run-cleanup-provisioner" => Some(OnError::RunCleanupProvisioner),
            _ => None,
        }
    }
}

/// What every step can use: Packer's Ui, the provisioning hook and the build's cancel token.
#[derive(Debug, Clone)]
pub struct StepContext {
    /// Progress output.
    pub ui: Ui,
    /// Runs provisioners.
    pub hook: Hook,
    /// Fires when Packer cancels the build (Ctrl-C); long waits should watch it.
    pub cancel: CancellationToken,
    /// `-on-error`.
    pub on_error: OnError,
    /// `-debug`: pause between steps.
    pub debug: bool,
    /// Set while cleaning up after a failed or cancelled build (Go's `StateHalted`).
    pub halted: bool,
}

impl StepContext {
    /// A context with the default `-on-error` (cleanup) and no `-debug`.
    pub fn new(ui: Ui, hook: Hook, cancel: CancellationToken) -> Self {
        StepContext {
            ui,
            hook,
            cancel,
            on_error: OnError::Cleanup,
            debug: false,
            halted: false,
        }
    }
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
    /// What this step created that still exists, one line each saying what it is and how
    /// to remove it by hand: printed when the build is aborted without cleanup.
    fn left_behind(&self, _state: &S) -> Vec<String> {
        Vec::new()
    }
    /// Whether `cleanup` still runs under `-on-error=run-cleanup-provisioner` (true for the
    /// step whose cleanup runs the error-cleanup provisioner).
    fn runs_cleanup_provisioner(&self) -> bool {
        false
    }
}

/// The person's answer to "the step failed: what now?" under `-on-error=ask`.
enum Answer {
    Cleanup,
    Abort,
    Retry,
}

/// Go's prompt and parsing: the first letter, anything unanswered meaning clean up.
async fn ask_after_failure(ctx: &StepContext, step: &str) -> Answer {
    ctx.ui.say(format!("Step {step:?} failed")).await;
    loop {
        let line = tokio::select! {
            r = ctx.ui.ask(
                "[c] Clean up and exit, [a] abort without cleanup, or [r] retry step (build may \
                 fail even if retry succeeds)?",
            ) => r.unwrap_or_default(),
            () = ctx.cancel.cancelled() => return Answer::Cleanup,
        };
        match format!("{}c", line.trim().to_lowercase()).as_bytes()[0] {
            b'c' => return Answer::Cleanup,
            b'a' => return Answer::Abort,
            b'r' => return Answer::Retry,
            _ => ctx.ui.say(format!("Incorrect input: {line:?}")).await,
        }
    }
}

/// `-debug`: waits for enter (or a cancel).
async fn pause(ctx: &StepContext, location: &str, step: &str) {
    let query = format!("Pausing {location} step '{step}'. Press enter to continue.");
    tokio::select! {
        _ = ctx.ui.ask(&query) => {}
        () = ctx.cancel.cancelled() => {}
    }
}

/// Runs `steps` in order with cleanup in reverse. Returns the first step error, or
/// [`BUILD_CANCELLED`] if the build was cancelled (also when a step failed because of it).
/// With `-on-error=abort` (or `ask` answered "abort") a failed or cancelled build skips
/// cleanup and its error lists what was left and how to remove it.
pub async fn run_steps<S: Send>(
    steps: &[Box<dyn Step<S>>],
    state: &mut S,
    ctx: &StepContext,
) -> Result<(), BoxError> {
    let mut ran = 0;
    let mut result: Result<(), BoxError> = Ok(());
    let mut abort = false;
    'steps: for step in steps {
        if ctx.cancel.is_cancelled() {
            result = Err(BUILD_CANCELLED.into());
            break;
        }
        tracing::info!("step {}: run", step.name());
        ran += 1;
        loop {
            let Err(e) = step.run(state, ctx).await else {
                break;
            };
            tracing::warn!("step {} failed: {e}", step.name());
            if ctx.on_error == OnError::Ask && !ctx.cancel.is_cancelled() {
                ctx.ui.error(e.to_string()).await;
                match ask_after_failure(ctx, step.name()).await {
                    Answer::Retry => continue,
                    Answer::Abort => abort = true,
                    Answer::Cleanup => {}
                }
            }
            result = Err(e);
            break 'steps;
        }
        if ctx.debug {
            pause(ctx, "after run of", step.name()).await;
        }
    }
    let failed = result.is_err() || ctx.cancel.is_cancelled();
    let keep_provisioner_cleanup = ctx.on_error == OnError::RunCleanupProvisioner;
    if failed && (abort || ctx.on_error == OnError::Abort || keep_provisioner_cleanup) {
        let cleanup_ctx = StepContext {
            halted: true,
            ..ctx.clone()
        };
        for step in steps[..ran].iter().rev() {
            if keep_provisioner_cleanup && step.runs_cleanup_provisioner() {
                step.cleanup(state, &cleanup_ctx).await;
            }
        }
        let left: Vec<String> = steps[..ran]
            .iter()
            .rev()
            .flat_map(|step| step.left_behind(state))
            .collect();
        let reason = match result {
            Err(e) => e.to_string(),
            Ok(()) => BUILD_CANCELLED.to_owned(),
        };
        let mut message = format!("{reason}\n\nAborted without cleanup (-on-error); ");
        if left.is_empty() {
            message.push_str("nothing was left to remove.");
        } else {
            message.push_str("left in place, remove each when done:");
            for line in left {
                message.push_str("\n  - ");
                message.push_str(&line);
            }
        }
        return Err(message.into());
    }
    let cleanup_ctx = StepContext {
        halted: failed,
        ..ctx.clone()
    };
    for step in steps[..ran].iter().rev() {
        if ctx.debug {
            pause(ctx, "before cleanup of", step.name()).await;
        }
        tracing::info!("step {}: cleanup", step.name());
        step.cleanup(state, &cleanup_ctx).await;
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
        fn left_behind(&self, log: &Vec<String>) -> Vec<String> {
            let made = log.contains(&format!("run {}", self.name));
            let gone = log.contains(&format!("cleanup {}", self.name));
            if made && !gone {
                vec![format!("{}: remove-{}", self.name, self.name)]
            } else {
                Vec::new()
            }
        }
        fn runs_cleanup_provisioner(&self) -> bool {
            self.name == "provision"
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

    /// A step that fails on its first run only (for retries).
    struct Flaky(std::sync::atomic::AtomicBool);

    #[async_trait]
    impl Step<Vec<String>> for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        async fn run(&self, log: &mut Vec<String>, _ctx: &StepContext) -> Result<(), BoxError> {
            log.push("run flaky".into());
            if self.0.swap(false, std::sync::atomic::Ordering::SeqCst) {
                return Err("flaky failed".into());
            }
            Ok(())
        }
        async fn cleanup(&self, log: &mut Vec<String>, _ctx: &StepContext) {
            log.push("cleanup flaky".into());
        }
    }

    fn with(core: &CoreStub, on_error: OnError, debug: bool) -> StepContext {
        let mut ctx = core.context();
        ctx.on_error = on_error;
        ctx.debug = debug;
        ctx
    }

    #[test]
    fn on_error_settings() {
        assert_eq!(OnError::from_setting(""), Some(OnError::Cleanup));
        assert_eq!(OnError::from_setting("abort"), Some(OnError::Abort));
        assert_eq!(OnError::from_setting("ask"), Some(OnError::Ask));
        assert_eq!(
            OnError::from_setting("run-cleanup-provisioner"),
            Some(OnError::RunCleanupProvisioner)
        );
        assert_eq!(OnError::from_setting("explode"), None);
    }

    #[tokio::test]
    async fn abort_skips_cleanup_and_lists_what_was_left() {
        let core = CoreStub::start().await;
        let mut log = Vec::new();
        let steps = vec![step("a", false, false), step("b", true, false)];
        let err = run_steps(&steps, &mut log, &with(&core, OnError::Abort, false))
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(log, ["run a", "run b"]);
        assert!(
            err.starts_with("b failed\n\nAborted without cleanup"),
            "{err}"
        );
        // Last made, first listed (the order to remove them in).
        let b = err.find("b: remove-b").unwrap();
        let a = err.find("a: remove-a").unwrap();
        assert!(b < a, "{err}");
    }

    #[tokio::test]
    async fn abort_does_nothing_special_on_success() {
        let core = CoreStub::start().await;
        let mut log = Vec::new();
        let steps = vec![step("a", false, false)];
        run_steps(&steps, &mut log, &with(&core, OnError::Abort, false))
            .await
            .unwrap();
        assert_eq!(log, ["run a", "cleanup a"]);
    }

    #[tokio::test]
    async fn run_cleanup_provisioner_cleans_up_only_the_provision_step() {
        let core = CoreStub::start().await;
        let mut log = Vec::new();
        let steps = vec![
            step("a", false, false),
            step("provision", false, false),
            step("c", true, false),
        ];
        let ctx = with(&core, OnError::RunCleanupProvisioner, false);
        let err = run_steps(&steps, &mut log, &ctx).await.unwrap_err();
        assert_eq!(
            log,
            ["run a", "run provision", "run c", "cleanup provision"]
        );
        assert!(err.to_string().contains("a: remove-a"), "{err}");
        assert!(!err.to_string().contains("remove-provision"), "{err}");
    }

    #[tokio::test]
    async fn ask_retries_aborts_or_cleans_up_as_answered() {
        let core = CoreStub::start().await;
        core.answer("r");
        let mut log = Vec::new();
        let steps: Vec<Box<dyn Step<Vec<String>>>> =
            vec![step("a", false, false), Box::new(Flaky(true.into()))];
        run_steps(&steps, &mut log, &with(&core, OnError::Ask, false))
            .await
            .unwrap();
        assert_eq!(
            log,
            [
                "run a",
                "run flaky",
                "run flaky",
                "cleanup flaky",
                "cleanup a"
            ]
        );
        let lines = core.lines();
        assert!(
            lines.contains(&"error: flaky failed".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("ask: [c] Clean up")),
            "{lines:?}"
        );

        // "x" is not an answer: asked again; "A" aborts.
        core.answer("x");
        core.answer("A");
        let mut log = Vec::new();
        let steps = vec![step("a", false, false), step("b", true, false)];
        let err = run_steps(&steps, &mut log, &with(&core, OnError::Ask, false))
            .await
            .unwrap_err();
        assert_eq!(log, ["run a", "run b"]);
        assert!(err.to_string().contains("Aborted without cleanup"), "{err}");
        assert!(core
            .lines()
            .contains(&"say: Incorrect input: \"x\"".to_string()));

        // An empty answer (or none) cleans up.
        let mut log = Vec::new();
        let err = run_steps(&steps, &mut log, &with(&core, OnError::Ask, false))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "b failed");
        assert_eq!(log, ["run a", "run b", "cleanup b", "cleanup a"]);
    }

    #[tokio::test]
    async fn debug_pauses_after_each_run_and_before_each_cleanup() {
        let core = CoreStub::start().await;
        let mut log = Vec::new();
        let steps = vec![step("a", false, false), step("b", false, false)];
        run_steps(&steps, &mut log, &with(&core, OnError::Cleanup, true))
            .await
            .unwrap();
        let asks: Vec<String> = core
            .lines()
            .into_iter()
            .filter(|l| l.starts_with("ask: "))
            .collect();
        assert_eq!(
            asks,
            [
                "ask: Pausing after run of step 'a'. Press enter to continue.",
                "ask: Pausing after run of step 'b'. Press enter to continue.",
                "ask: Pausing before cleanup of step 'b'. Press enter to continue.",
                "ask: Pausing before cleanup of step 'a'. Press enter to continue.",
            ]
        );
    }
}
