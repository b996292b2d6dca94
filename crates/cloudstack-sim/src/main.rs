//! `cloudstack-sim`: run the simulator.
fn main() {}
