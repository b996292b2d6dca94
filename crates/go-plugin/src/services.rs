//! go-plugin's own gRPC services that every plugin serves beside its
//! application services: controller (graceful shutdown), stdio and broker.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::{
    grpc_broker_server::GrpcBroker, grpc_controller_server::GrpcController,
    grpc_stdio_server::GrpcStdio, ConnInfo, Empty, StdioData,
};

/// A response stream that sends nothing and ends when the plugin shuts down.
type Idle<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn idle_until<T: Send + 'static>(shutdown: CancellationToken) -> Idle<T> {
    Box::pin(
        futures::stream::once(async move { shutdown.cancelled_owned().await })
            .filter_map(|()| async { None }),
    )
}

/// `plugin.GRPCController`: `Shutdown` asks the whole plugin to exit.
#[derive(Debug, Clone)]
pub(crate) struct Controller {
    pub(crate) shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _req: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("host asked the plugin to shut down");
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: we log straight to stderr, which the host already
/// reads, so the stream stays empty; serving it keeps the host from warning.
#[derive(Debug, Clone)]
pub(crate) struct Stdio {
    pub(crate) shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = Idle<StdioData>;

    async fn stream_stdio(
        &self,
        _req: Request<Empty>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(idle_until(self.shutdown.clone())))
    }
}

/// `plugin.GRPCBroker`: Terraform providers never open extra connections,
/// so we drain what the host sends and offer nothing.
#[derive(Debug, Clone)]
pub(crate) struct Broker {
    pub(crate) shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcBroker for Broker {
    type StartStreamStream = Idle<ConnInfo>;

    async fn start_stream(
        &self,
        req: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut incoming = req.into_inner();
        tokio::spawn(async move {
            while let Some(Ok(info)) = incoming.next().await {
                tracing::debug!(service_id = info.service_id, "ignoring broker request");
            }
        });
        Ok(Response::new(idle_until(self.shutdown.clone())))
    }
}
