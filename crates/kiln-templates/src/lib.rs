//! Stack templates as data, so adding a stack means adding a folder, not writing code.
//!
//! A template is `templates/<name>/template.toml` (the [`Manifest`]) plus
//! `templates/<name>/files/**` (the tree to instantiate). Templates are compiled into the
//! binary and can be overridden or extended at runtime from a directory the caller passes
//! to [`Catalog::load`]; this crate never reads configuration from the environment.
//!
//! Rendering treats the brief and stories as untrusted: `.j2` files are rendered with strict
//! undefined variables and with escaping chosen by the output file type (HTML for
//! `.html`/`.htm`/`.ejs`, JSON for `.json`/`.js`, Markdown for `.md`).

mod catalog;
mod error;
mod manifest;
mod render;
mod template;
mod toolchain;

pub use catalog::Catalog;
pub use error::Error;
pub use manifest::{
    CacheKind, Commands, DEPLOY_KINDS, Database, DatabaseKind, MANIFEST_FILE, Manifest, Serve,
    ServeKind,
};
pub use render::{
    RenderContext, RenderedFile, Story, TEMPLATE_SUFFIX, validate_project_name, write_files,
};
pub use template::{FILES_DIR, Origin, Template};
