//! The Packer RPC services, one file per Go endpoint: the Builder we serve, the Ui and Hook
//! we call, and the Communicator and Artifact we serve back over brokered streams.

pub mod artifact;
pub mod builder;
pub mod communicator;
pub mod hook;
pub mod ui;

use crate::transport::MuxStream;

/// The RPC client type used for every call back into Packer.
pub(crate) type RpcClient = crate::rpc::Client<MuxStream>;
