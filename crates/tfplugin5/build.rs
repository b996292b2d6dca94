//! Generates the tfplugin5 stubs from `proto/tfplugin5.proto` with the
//! pure-Rust `protox` compiler (no `protoc` needed on the machine).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = "../../proto";
    let file = format!("{proto_dir}/tfplugin5.proto");
    println!("cargo:rerun-if-changed={file}");
    let fds = protox::compile([file.as_str()], [proto_dir])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
