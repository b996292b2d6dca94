//! A stand-in for Packer core so builder code (steps, artifacts) can be unit-tested without
//! the `packer` binary: real [`Ui`] and [`Hook`] handles whose calls land in an in-memory
//! core over an in-memory yamux connection.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use rmpv::Value;
use tokio_util::sync::CancellationToken;

use crate::{
    codec::{map_get, value_as_string},
    mux_broker::MuxBroker,
    rpc::{self, Handler, HandlerResult},
    services::{hook::Hook, ui::Ui},
    steps::StepContext,
    transport,
};

/// What the stub core does when a builder runs a hook.
pub type HookBehaviour = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// A scripted Packer core that records Ui lines (`say: ...`, `message: ...`, `error: ...`,
/// `ask: ...`, `hook: NAME`), answers `Ui.Ask` with the lines given to [`CoreStub::answer`]
/// (then with empty lines) and `Hook.Run` with its hook behaviour.
pub struct CoreStub {
    lines: Arc<Mutex<Vec<String>>>,
    answers: Arc<Mutex<VecDeque<String>>>,
    ui: Ui,
    hook: Hook,
    cancel: CancellationToken,
}

impl std::fmt::Debug for CoreStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreStub")
            .field("lines", &self.lines())
            .finish()
    }
}

struct StubHandler {
    lines: Arc<Mutex<Vec<String>>>,
    answers: Arc<Mutex<VecDeque<String>>>,
    behaviour: HookBehaviour,
}

#[async_trait]
impl Handler for StubHandler {
    async fn call(&self, method: &str, body: Value) -> HandlerResult {
        let push = |l: String| self.lines.lock().unwrap_or_else(|p| p.into_inner()).push(l);
        match method {
            "Ui.Say" | "Ui.Message" | "Ui.Error" => {
                let kind = method.trim_start_matches("Ui.").to_lowercase();
                push(format!(
                    "{kind}: {}",
                    value_as_string(&body).unwrap_or_default()
                ));
                Ok(Value::Nil)
            }
            "Ui.Machine" => Ok(Value::Nil),
            "Ui.Ask" => {
                push(format!(
                    "ask: {}",
                    value_as_string(&body).unwrap_or_default()
                ));
                let answer = self
                    .answers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .pop_front()
                    .unwrap_or_default();
                Ok(Value::from(answer))
            }
            "Hook.Run" => {
                let name = map_get(&body, "Name")
                    .and_then(value_as_string)
                    .unwrap_or_default();
                push(format!("hook: {name}"));
                (self.behaviour)(&name).map(|()| Value::Nil)
            }
            "Hook.Cancel" => Ok(Value::Nil),
            other => Err(format!("rpc: can't find method {other}")),
        }
    }
}

impl CoreStub {
    /// A core whose hooks succeed.
    pub async fn start() -> Self {
        Self::with_hook(Arc::new(|_| Ok(()))).await
    }

    /// A core whose `Hook.Run` answers with `behaviour(name)` (an `Err` is the hook's error).
    pub async fn with_hook(behaviour: HookBehaviour) -> Self {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (ps, pi, _) = transport::spawn_server(a);
        let (cs, ci, _) = transport::spawn_client(b);
        let plugin = MuxBroker::new(ps, pi);
        let core = MuxBroker::new(cs, ci);
        let lines = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(VecDeque::new()));
        let handler = Arc::new(StubHandler {
            lines: lines.clone(),
            answers: answers.clone(),
            behaviour,
        });
        let id = core.next_id();
        tokio::spawn(async move {
            if let Ok(s) = core.accept(id).await {
                let _ = rpc::serve(s, handler).await;
            }
        });
        // An in-memory dial cannot fail unless the stub itself is broken.
        #[allow(clippy::expect_used)]
        let stream = plugin.dial(id).await.expect("in-memory core stub");
        let client = rpc::Client::new(stream);
        let ui = Ui::new(client.clone());
        let hook = Hook::new(client, plugin, ui.clone());
        CoreStub {
            lines,
            answers,
            ui,
            hook,
            cancel: CancellationToken::new(),
        }
    }

    /// Queues the line the person "types" at the next `Ui.Ask`.
    pub fn answer(&self, line: &str) {
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(line.to_owned());
    }

    /// Lines recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A Ui handle talking to this core.
    pub fn ui(&self) -> Ui {
        self.ui.clone()
    }

    /// A Hook handle talking to this core.
    pub fn hook(&self) -> Hook {
        self.hook.clone()
    }

    /// The cancel token handed out in [`CoreStub::context`].
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// A step context wired to this core.
    pub fn context(&self) -> StepContext {
        StepContext::new(self.ui(), self.hook(), self.cancel.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_ui_and_hook_results() {
        let core = CoreStub::with_hook(Arc::new(|name| {
            if name == "bad" {
                Err("provisioner exploded".into())
            } else {
                Ok(())
            }
        }))
        .await;
        core.ui().message("hello").await;
        core.ui().error("oops").await;
        let cancel = core.cancel_token();
        core.hook()
            .run("packer_provision", None, serde_json::json!({}), &cancel)
            .await
            .unwrap();
        let err = core
            .hook()
            .run("bad", None, serde_json::Value::Null, &cancel)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("provisioner exploded"), "{err}");
        assert_eq!(
            core.lines(),
            [
                "message: hello",
                "error: oops",
                "hook: packer_provision",
                "hook: bad"
            ]
        );
    }
}
