//! ilp-inspect (in progress).
fn main() {}
