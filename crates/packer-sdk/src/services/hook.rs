//! Client for Packer's `Hook` endpoint: running the provisioners against our communicator.
//!
//! `Hook.Run({"Name", "Data", "StreamId"})`: before calling, we pick a fresh broker id,
//! accept Packer's dial of it and serve a Communicator (plus a Ui proxy) on that stream;
//! `StreamId` tells Packer which id to dial. Packer's provisioners then call
//! `Communicator.*` and `Ui.*` on it. `Data` is the build's generated data (a string-keyed
//! map, e.g. `Host`, `Port`, `User`, `ID`) that provisioners read via `{{ build ... }}`.
//! If our build is cancelled while the hook runs we call `Hook.Cancel`, which cancels the
//! provisioners' context on Packer's side; `Hook.Run` then returns their error.

use std::sync::Arc;

use rmpv::Value;
use tokio_util::sync::CancellationToken;

use super::{
    communicator::{Communicator, HookStreamHandler},
    ui::Ui,
    RpcClient,
};
use crate::{
    error::{Error, Result},
    mux_broker::MuxBroker,
    rpc,
};

/// The hook name builders call to run the template's provisioners.
pub const HOOK_PROVISION: &str = "packer_provision";
/// The hook that runs the template's `error-cleanup-provisioner` after a failed build.
pub const HOOK_CLEANUP_PROVISION: &str = "packer_cleanup_provision";

/// Runs Packer hooks (the provisioners). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hook {
    client: RpcClient,
    broker: MuxBroker,
    ui: Ui,
}

impl Hook {
    pub(crate) fn new(client: RpcClient, broker: MuxBroker, ui: Ui) -> Self {
        Self { client, broker, ui }
    }

    /// Runs the template's provisioners (`packer_provision`) through `comm`.
    ///
    /// `data` is the generated data provisioners can read (`Host`, `Port`, `User`, `ID`,
    /// ...). When `cancel` fires, Packer is asked to cancel the provisioners and the
    /// resulting error is returned.
    pub async fn run_provision(
        &self,
        comm: Arc<dyn Communicator>,
        data: serde_json::Value,
        cancel: &CancellationToken,
    ) -> Result<()> {
        self.run(HOOK_PROVISION, Some(comm), data, cancel).await
    }

    /// Runs any named hook, optionally with a communicator.
    pub async fn run(
        &self,
        name: &str,
        comm: Option<Arc<dyn Communicator>>,
        data: serde_json::Value,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let id = self.broker.next_id();
        let handler = Arc::new(HookStreamHandler {
            comm,
            broker: self.broker.clone(),
            ui: self.ui.clone(),
        });
        let broker = self.broker.clone();
        let server = tokio::spawn(async move {
            match broker.accept(id).await {
                Ok(stream) => {
                    if let Err(e) = rpc::serve(stream, handler).await {
                        tracing::debug!("hook stream {id} ended: {e}");
                    }
                }
                Err(e) => tracing::warn!("Packer never connected to hook stream {id}: {e}"),
            }
        });
        let args = Value::Map(vec![
            ("Name".into(), name.into()),
            ("Data".into(), crate::value::from_json(&data)),
            ("StreamId".into(), Value::from(id)),
        ]);
        let call = self.client.call("Hook.Run", args);
        tokio::pin!(call);
        let result = tokio::select! {
            r = &mut call => r,
            () = cancel.cancelled() => {
                tracing::info!("build cancelled: cancelling hook {name}");
                if let Err(e) = self.client.call("Hook.Cancel", Value::Nil).await {
                    tracing::warn!("Hook.Cancel failed: {e}");
                }
                call.await
            }
        };
        server.abort();
        match result {
            Ok(_) => Ok(()),
            Err(Error::Remote { message, .. }) => Err(Error::Remote {
                method: format!("hook {name}"),
                message,
            }),
            Err(e) => Err(e),
        }
    }
}
