//! Empty: cargo considers a crate's build dependencies only when it has a build script, and
//! the build dependencies' features are part of what this crate unifies.
fn main() {}
