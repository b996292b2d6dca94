//! Entry point; see the crate docs. Both binary names run the same plugin.

fn main() -> std::process::ExitCode {
    packer_plugin_cloudstack::main()
}
