//! placeholder
mod error;
pub mod json;
pub mod msgpack;
mod types;
mod value;

pub use error::Error;
pub use types::Type;
pub use value::{Number, Value};

pub mod proto {
    #![allow(
        missing_docs,
        missing_debug_implementations,
        unreachable_pub,
        clippy::all
    )]
    tonic::include_proto!("tfplugin5");
}
