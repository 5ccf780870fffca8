//! The crate's single error type, so callers match on one enum and every message names the
//! template and file or field it is about.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while loading, validating or rendering templates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A directory of templates (or of one template's files) could not be listed.
    #[error("cannot read template directory {}", path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A template file or manifest could not be read.
    #[error("cannot read template file {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A template folder has no `template.toml`.
    #[error("template {template}: no template.toml in {location}")]
    MissingManifest { template: String, location: String },

    /// `template.toml` is not valid TOML or does not match the manifest schema
    /// (unknown fields, wrong types, missing fields).
    #[error("template {template}: invalid template.toml at {location}")]
    ParseManifest {
        template: String,
        location: String,
        #[source]
        source: Box<toml::de::Error>,
    },

    /// `template.toml` parsed but one field breaks a rule.
    #[error("template {template}: manifest field {field}: {reason}")]
    InvalidManifest {
        template: String,
        field: &'static str,
        reason: String,
    },

    /// Two templates claim the same chat alias, or an alias names another template, so a
    /// chat command would be ambiguous.
    #[error("templates {first} and {second} both answer to alias {alias:?}")]
    DuplicateAlias {
        alias: String,
        first: String,
        second: String,
    },

    /// A template folder name cannot be a template name.
    #[error("invalid template name {name:?} at {location}: {reason}")]
    InvalidTemplateName {
        name: String,
        location: String,
        reason: &'static str,
    },

    /// Template files must be regular files or directories; symlinks could point outside
    /// the template and would make what gets instantiated depend on the host.
    #[error("template {template}: {} is a symlink or special file", path.display())]
    UnsupportedFileType { template: String, path: PathBuf },

    /// A `.j2` file is not UTF-8 and therefore cannot be a template.
    #[error("template {template}: {} is not valid UTF-8", path.display())]
    NotUtf8 { template: String, path: PathBuf },

    /// A `.j2` file does not parse as a minijinja template.
    #[error("template {template}: syntax error in {}", path.display())]
    Syntax {
        template: String,
        path: PathBuf,
        #[source]
        source: Box<minijinja::Error>,
    },

    /// Rendering a `.j2` file failed, typically an undefined variable (strict mode).
    #[error("template {template}: cannot render {}", path.display())]
    Render {
        template: String,
        path: PathBuf,
        #[source]
        source: Box<minijinja::Error>,
    },

    /// A file would be written outside the workspace or into git's metadata.
    #[error("template {template}: output path {} is not allowed: {reason}", path.display())]
    UnsafePath {
        template: String,
        path: PathBuf,
        reason: &'static str,
    },

    /// Two source files map to the same output path (e.g. `a.txt` and `a.txt.j2`).
    #[error("template {template}: more than one file renders to {}", path.display())]
    DuplicateOutput { template: String, path: PathBuf },

    /// The render context's project name cannot be used as an app name.
    #[error("invalid project name {project:?}: {reason}")]
    InvalidProject {
        project: String,
        reason: &'static str,
    },

    /// A rendered file handed to `write_files` would land outside the root or inside `.git`.
    #[error("refusing to write {}: path {reason}", path.display())]
    UnsafeWrite { path: PathBuf, reason: &'static str },

    /// Writing rendered files to disk failed.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}
