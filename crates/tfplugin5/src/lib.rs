//! placeholder
pub mod proto {
    #![allow(
        missing_docs,
        missing_debug_implementations,
        unreachable_pub,
        clippy::all
    )]
    tonic::include_proto!("tfplugin5");
}
