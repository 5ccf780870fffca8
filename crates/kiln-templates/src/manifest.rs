//! The `template.toml` schema and its load-time rules, so a bad template is refused when the
//! catalog loads instead of failing halfway through building somebody's app.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

/// Name of the manifest file inside each template folder.
pub const MANIFEST_FILE: &str = "template.toml";

/// A template's manifest: what the stack needs and how to install, build, test and serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Template name; must equal the template's folder name.
    pub name: String,
    /// Short word that picks this template in chat (`/expo <Name> <brief>`), e.g. `expo`:
    /// 1 to 32 of `[a-z0-9_]` starting with a letter, the charset chat command names allow.
    /// Unique across the catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Human-readable name, e.g. `Node.js + Express`.
    pub title: String,
    /// One sentence on what the template produces.
    pub description: String,
    /// Stack family, e.g. `node` or `static`.
    pub stack: String,
    /// Executables that must be on `PATH` to build, test and run the app.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Deploy kinds the template supports: `local`, `ssh`, `docker`.
    #[serde(default)]
    pub deploy: Vec<String>,
    /// Package registries the install phase downloads from (base URLs). The tester checks
    /// that each answers before installing, so an unreachable one blocks the task by name
    /// instead of failing deep inside a package manager.
    #[serde(default)]
    pub registries: Vec<String>,
    /// Dependency caches the commands use, shared across tasks and fix rounds.
    #[serde(default)]
    pub caches: Vec<CacheKind>,
    /// The database the app needs, provisioned per app when it is deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<Database>,
    /// Shell command lines, run with `sh -c` in the workspace root.
    pub commands: Commands,
    /// How the built app is served.
    pub serve: Serve,
}

/// Deploy kinds a manifest may name.
pub const DEPLOY_KINDS: &[&str] = &["local", "ssh", "docker"];

/// A dependency cache shared by every task of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheKind {
    /// npm's content-addressed cache (`npm_config_cache`).
    Npm,
    /// pip's wheel and HTTP cache (`PIP_CACHE_DIR`).
    Pip,
    /// Cargo's registry and git checkouts (`CARGO_HOME`) plus a build directory per template
    /// (`CARGO_TARGET_DIR`), so compiled dependencies are reused too.
    Cargo,
}

impl CacheKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheKind::Npm => "npm",
            CacheKind::Pip => "pip",
            CacheKind::Cargo => "cargo",
        }
    }
}

/// A database provisioned for each app of the template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub kind: DatabaseKind,
    /// SQL file, relative to the workspace root, applied to the app's database on deploy.
    /// It must be idempotent (`CREATE TABLE IF NOT EXISTS ...`): it runs on every deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<PathBuf>,
}

/// Which database server an app gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl DatabaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseKind::Postgres => "postgres",
            DatabaseKind::Mysql => "mysql",
        }
    }
}

/// Command lines per phase, each run in order with `sh -c` in the workspace root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    #[serde(default)]
    pub install: Vec<String>,
    #[serde(default)]
    pub build: Vec<String>,
    #[serde(default)]
    pub test: Vec<String>,
}

/// How a built app is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    pub kind: ServeKind,
    /// For [`ServeKind::Process`]: the command line that starts the server. It gets the
    /// environment variables `PORT`, `BASE_PATH` and `KILN_BUILD_SHA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// For [`ServeKind::Static`]: directory, relative to the workspace root and present after
    /// the build, whose contents are served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_dir: Option<PathBuf>,
    /// URL path that answers 2xx when the app is up.
    pub health_path: String,
    /// URL path that serves the build stamp (the deployed commit sha) as plain text.
    pub version_path: String,
}

/// Whether the deployer serves files or runs a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServeKind {
    /// Files under `static_dir` are served as they are.
    Static,
    /// `run` is started and proxied to.
    Process,
}

impl Manifest {
    /// Parses `template.toml` text for the template in folder `folder`, then validates it.
    ///
    /// `location` only labels errors (a path, or `embedded:<name>/template.toml`).
    pub fn parse(folder: &str, location: &str, text: &str) -> Result<Self, Error> {
        let manifest: Manifest = toml::from_str(text).map_err(|source| Error::ParseManifest {
            template: folder.to_owned(),
            location: location.to_owned(),
            source: Box::new(source),
        })?;
        manifest.validate(folder)?;
        Ok(manifest)
    }

    /// Checks the rules the schema alone cannot express.
    pub fn validate(&self, folder: &str) -> Result<(), Error> {
        let invalid = |field: &'static str, reason: String| Error::InvalidManifest {
            template: folder.to_owned(),
            field,
            reason,
        };

        if self.name != folder {
            return Err(invalid(
                "name",
                format!("{:?} does not match folder name {folder:?}", self.name),
            ));
        }
        if let Some(alias) = &self.alias
            && let Err(reason) = check_alias(alias)
        {
            return Err(invalid("alias", format!("{alias:?} {reason}")));
        }
        for (field, value) in [
            ("title", &self.title),
            ("description", &self.description),
            ("stack", &self.stack),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(field, "must not be empty".to_owned()));
            }
        }
        for exe in &self.requires {
            // A bare name is looked up on PATH; anything else would make the check meaningless.
            if exe.is_empty() || exe.contains(['/', '\\']) || exe.contains(char::is_whitespace) {
                return Err(invalid(
                    "requires",
                    format!("{exe:?} is not a bare executable name"),
                ));
            }
        }
        if let Some(kind) = self
            .deploy
            .iter()
            .find(|kind| !DEPLOY_KINDS.contains(&kind.as_str()))
        {
            return Err(invalid(
                "deploy",
                format!("{kind:?} is not one of {}", DEPLOY_KINDS.join(", ")),
            ));
        }
        for registry in &self.registries {
            let scheme_ok = registry.starts_with("https://") || registry.starts_with("http://");
            if !scheme_ok || registry.contains(char::is_whitespace) {
                return Err(invalid(
                    "registries",
                    format!("{registry:?} is not an http(s) URL"),
                ));
            }
        }
        if let Some(schema) = self.database.as_ref().and_then(|d| d.schema.as_ref())
            && let Err(reason) = check_relative(schema)
        {
            return Err(invalid("database.schema", reason.to_owned()));
        }
        for (field, lines) in [
            ("commands.install", &self.commands.install),
            ("commands.build", &self.commands.build),
            ("commands.test", &self.commands.test),
        ] {
            if lines.iter().any(|line| line.trim().is_empty()) {
                return Err(invalid(field, "contains an empty command line".to_owned()));
            }
        }

        let serve = &self.serve;
        match serve.kind {
            ServeKind::Static => {
                let Some(dir) = &serve.static_dir else {
                    return Err(invalid(
                        "serve.static_dir",
                        "is required when serve.kind is \"static\"".to_owned(),
                    ));
                };
                if let Err(reason) = check_relative(dir) {
                    return Err(invalid("serve.static_dir", reason.to_owned()));
                }
                if serve.run.is_some() {
                    return Err(invalid(
                        "serve.run",
                        "is not allowed when serve.kind is \"static\"".to_owned(),
                    ));
                }
            }
            ServeKind::Process => {
                match &serve.run {
                    None => {
                        return Err(invalid(
                            "serve.run",
                            "is required when serve.kind is \"process\"".to_owned(),
                        ));
                    }
                    Some(run) if run.trim().is_empty() => {
                        return Err(invalid("serve.run", "must not be empty".to_owned()));
                    }
                    Some(_) => {}
                }
                if serve.static_dir.is_some() {
                    return Err(invalid(
                        "serve.static_dir",
                        "is not allowed when serve.kind is \"process\"".to_owned(),
                    ));
                }
            }
        }
        for (field, path) in [
            ("serve.health_path", &serve.health_path),
            ("serve.version_path", &serve.version_path),
        ] {
            if !path.starts_with('/') {
                return Err(invalid(field, format!("{path:?} must start with '/'")));
            }
            if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(
                    field,
                    format!("{path:?} must not contain whitespace"),
                ));
            }
        }
        Ok(())
    }
}

/// Telegram accepts only these characters in a bot command, and Discord's are a superset.
fn check_alias(alias: &str) -> Result<(), &'static str> {
    if alias.is_empty() || alias.len() > 32 {
        return Err("must be 1 to 32 characters");
    }
    if !alias
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("must use only lowercase ASCII letters, digits and '_'");
    }
    if !alias.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a letter");
    }
    Ok(())
}

/// Accepts only paths that stay inside the directory they are joined to.
pub(crate) fn check_relative(path: &Path) -> Result<(), &'static str> {
    if path.as_os_str().is_empty() {
        return Err("must not be empty");
    }
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err("must not contain '..'"),
            Component::RootDir | Component::Prefix(_) => return Err("must be relative"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
name = "demo"
title = "Demo"
description = "A demo"
stack = "node"
requires = ["node", "npm"]
deploy = ["local"]
[commands]
install = ["npm install"]
build = []
test = ["npm test"]
[serve]
kind = "process"
run = "node server.js"
health_path = "/healthz"
version_path = "/__kiln/version"
"#;

    /// Full error text including sources, because the interesting detail often lives in
    /// the source (e.g. toml's "unknown field").
    fn chain(err: &dyn std::error::Error) -> String {
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }

    fn parse_err(text: &str) -> String {
        match Manifest::parse("demo", "test:demo/template.toml", text) {
            Ok(m) => panic!("manifest should have been rejected, got {m:?}"),
            Err(e) => chain(&e),
        }
    }

    #[test]
    fn valid_manifest_parses_with_all_fields() {
        let m = Manifest::parse("demo", "test", VALID)
            .unwrap_or_else(|e| panic!("valid manifest rejected: {}", chain(&e)));
        assert_eq!(m.requires, ["node", "npm"]);
        assert_eq!(m.deploy, ["local"]);
        assert_eq!(m.commands.install, ["npm install"]);
        assert!(m.commands.build.is_empty());
        assert_eq!(m.serve.kind, ServeKind::Process);
        assert_eq!(m.serve.run.as_deref(), Some("node server.js"));
        assert_eq!(m.serve.static_dir, None);
    }

    #[test]
    fn alias_is_optional_and_checked() {
        let m = Manifest::parse("demo", "test", VALID).expect("no alias is fine");
        assert_eq!(m.alias, None);
        let with = |alias: &str| VALID.replace("title = ", &format!("alias = {alias:?}\ntitle = "));
        let m = Manifest::parse("demo", "test", &with("demo_2")).expect("good alias");
        assert_eq!(m.alias.as_deref(), Some("demo_2"));
        for (bad, needle) in [
            ("", "1 to 32"),
            ("Demo", "lowercase"),
            ("de-mo", "lowercase"),
            ("2demo", "start with a letter"),
            (&"a".repeat(33), "1 to 32"),
        ] {
            let text = parse_err(&with(bad));
            assert!(
                text.contains("field alias") && text.contains(needle),
                "{bad:?}: {text}"
            );
        }
    }

    #[test]
    fn name_must_match_folder() {
        let err = match Manifest::parse("other", "test", VALID) {
            Ok(_) => panic!("name mismatch accepted"),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(
            text.contains("template other") && text.contains("field name"),
            "error should name template and field: {text}"
        );
        assert!(matches!(err, Error::InvalidManifest { field: "name", .. }));
    }

    #[test]
    fn unknown_field_is_rejected_naming_template_and_field() {
        let text = parse_err(&VALID.replace("stack = \"node\"", "stack = \"node\"\nstak = 1"));
        assert!(text.contains("template demo"), "{text}");
        assert!(
            text.contains("stak"),
            "error should name the unknown field: {text}"
        );

        let text = parse_err(&VALID.replace("[serve]", "[serve]\nport = 3000"));
        assert!(
            text.contains("port"),
            "nested unknown field not named: {text}"
        );
    }

    #[test]
    fn static_requires_static_dir_and_no_run() {
        let static_no_dir = VALID.replace(
            "kind = \"process\"\nrun = \"node server.js\"",
            "kind = \"static\"",
        );
        assert_ne!(static_no_dir, VALID, "fixture replacement did not apply");
        let text = parse_err(&static_no_dir);
        assert!(
            text.contains("serve.static_dir") && text.contains("required"),
            "{text}"
        );

        let static_with_run = VALID.replace(
            "kind = \"process\"",
            "kind = \"static\"\nstatic_dir = \"dist\"",
        );
        let text = parse_err(&static_with_run);
        assert!(
            text.contains("serve.run") && text.contains("not allowed"),
            "{text}"
        );
    }

    #[test]
    fn process_requires_run() {
        let text = parse_err(&VALID.replace("run = \"node server.js\"\n", ""));
        assert!(
            text.contains("serve.run") && text.contains("required"),
            "{text}"
        );
    }

    #[test]
    fn static_dir_must_stay_inside_workspace() {
        let make = |dir: &str| {
            VALID.replace(
                "kind = \"process\"\nrun = \"node server.js\"",
                &format!("kind = \"static\"\nstatic_dir = \"{dir}\""),
            )
        };
        let text = parse_err(&make("../dist"));
        assert!(
            text.contains("serve.static_dir") && text.contains(".."),
            "{text}"
        );
        let text = parse_err(&make("/srv/dist"));
        assert!(
            text.contains("serve.static_dir") && text.contains("relative"),
            "{text}"
        );
        Manifest::parse("demo", "test", &make("build/dist"))
            .unwrap_or_else(|e| panic!("nested relative static_dir rejected: {}", chain(&e)));
    }

    #[test]
    fn url_paths_must_be_absolute() {
        let text = parse_err(&VALID.replace("\"/healthz\"", "\"healthz\""));
        assert!(text.contains("serve.health_path"), "{text}");
        let text = parse_err(&VALID.replace("\"/__kiln/version\"", "\"__kiln/version\""));
        assert!(text.contains("serve.version_path"), "{text}");
    }

    #[test]
    fn unknown_serve_kind_is_rejected() {
        let text = parse_err(&VALID.replace("kind = \"process\"", "kind = \"lambda\""));
        assert!(text.contains("lambda"), "{text}");
    }

    #[test]
    fn registries_caches_and_database_parse_and_are_checked() {
        let full = VALID.replace(
            "deploy = [\"local\"]",
            "deploy = [\"local\", \"ssh\"]\nregistries = [\"https://registry.npmjs.org/\"]\ncaches = [\"npm\"]\n[database]\nkind = \"postgres\"\nschema = \"db/schema.sql\"",
        );
        let m = Manifest::parse("demo", "test", &full)
            .unwrap_or_else(|e| panic!("full manifest rejected: {}", chain(&e)));
        assert_eq!(m.registries, ["https://registry.npmjs.org/"]);
        assert_eq!(m.caches, [CacheKind::Npm]);
        let db = m.database.expect("database parsed");
        assert_eq!(db.kind, DatabaseKind::Postgres);
        assert_eq!(db.schema.as_deref(), Some(Path::new("db/schema.sql")));

        let text = parse_err(&full.replace("db/schema.sql", "../schema.sql"));
        assert!(text.contains("database.schema"), "{text}");
        let text = parse_err(&full.replace("https://registry.npmjs.org/", "registry.npmjs.org"));
        assert!(text.contains("registries"), "{text}");
        let text = parse_err(&full.replace("\"ssh\"", "\"heroku\""));
        assert!(text.contains("deploy") && text.contains("heroku"), "{text}");
        let text = parse_err(&full.replace("caches = [\"npm\"]", "caches = [\"maven\"]"));
        assert!(text.contains("maven"), "{text}");
    }

    #[test]
    fn requires_must_be_bare_names() {
        let text = parse_err(&VALID.replace("[\"node\", \"npm\"]", "[\"/usr/bin/node\"]"));
        assert!(text.contains("requires"), "{text}");
    }
}
