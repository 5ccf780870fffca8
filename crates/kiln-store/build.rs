//! Rebuilds the crate when a migration changes: `MIGRATOR` embeds `migrations/` at compile
//! time, and Cargo does not know that directory is an input otherwise.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
