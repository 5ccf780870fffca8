//! Makes cargo rebuild the crate when files under `templates/` are added or removed:
//! `include_dir!` only tracks the files it saw, so a new template file would otherwise be
//! silently missing from the binary until an unrelated change forced a rebuild.

fn main() {
    println!("cargo::rerun-if-changed=templates");
}
