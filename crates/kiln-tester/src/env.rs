//! What a template's commands see: the build stamp, the path prefix the app is served under,
//! and the dependency caches its manifest asks for. The same environment is used by the
//! tester and by the deployer's release build, so a test run and a release build agree.

use std::path::{Path, PathBuf};

use kiln_templates::{CacheKind, Template};

/// Environment variables and the cache directories commands may write to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandEnv {
    pub vars: Vec<(String, String)>,
    /// Shared cache directories; the sandbox binds exactly these read-write.
    pub writable: Vec<PathBuf>,
}

/// The environment of `template`'s commands at `commit`, with caches under `cache_root`.
/// `base_path` is the URL prefix the build will be served under: empty for the tester (tests
/// serve the app at `/`), `/apps/<app>` for a release build, since every target serves an app
/// there and frameworks that need absolute asset URLs (Next.js, Expo) build them from it.
/// Cache directories are created so the sandbox can bind them.
pub fn command_env(
    cache_root: &Path,
    template: &Template,
    base_path: &str,
    commit: &str,
) -> std::io::Result<CommandEnv> {
    let mut env = CommandEnv {
        vars: vec![
            ("KILN_BUILD_SHA".into(), commit.into()),
            ("BASE_PATH".into(), base_path.into()),
        ],
        writable: vec![],
    };
    for kind in &template.manifest.caches {
        let dir = cache_root.join(kind.as_str());
        match kind {
            CacheKind::Npm => {
                env.vars.extend(
                    [
                        ("npm_config_cache", dir.display().to_string()),
                        ("npm_config_update_notifier", "false".into()),
                        ("npm_config_fund", "false".into()),
                        ("npm_config_audit", "false".into()),
                        // Cached package metadata is used without asking the registry
                        // whether it is stale; what is missing is still fetched. Without it
                        // a warm cache saves little: npm revalidates every packument.
                        ("npm_config_prefer_offline", "true".into()),
                    ]
                    .map(|(k, v)| (k.to_owned(), v)),
                );
                env.writable.push(dir);
            }
            CacheKind::Pip => {
                env.vars.extend(
                    [
                        ("PIP_CACHE_DIR", dir.display().to_string()),
                        ("PIP_DISABLE_PIP_VERSION_CHECK", "1".into()),
                        ("PIP_NO_INPUT", "1".into()),
                    ]
                    .map(|(k, v)| (k.to_owned(), v)),
                );
                env.writable.push(dir);
            }
            CacheKind::Cargo => {
                let home = dir.join("home");
                // One build directory per template: compiled dependencies are reused across
                // tasks of the same stack, and stacks never fight over feature sets.
                let target = dir.join("target").join(template.name());
                env.vars
                    .push(("CARGO_HOME".into(), home.display().to_string()));
                env.vars
                    .push(("CARGO_TARGET_DIR".into(), target.display().to_string()));
                env.vars.push(("CARGO_TERM_COLOR".into(), "never".into()));
                env.writable.push(home);
                env.writable.push(target);
            }
        }
    }
    for dir in &env.writable {
        std::fs::create_dir_all(dir)?;
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_templates::Catalog;

    #[test]
    fn caches_follow_the_manifest_and_exist_afterwards() {
        let catalog = Catalog::embedded().unwrap();
        let root = tempfile::tempdir().unwrap();
        let node = catalog.get("node-express").unwrap();
        let env = command_env(root.path(), node, "/apps/shop", "abc123").unwrap();
        let get = |k: &str| {
            env.vars
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("KILN_BUILD_SHA"), Some("abc123"));
        assert_eq!(get("BASE_PATH"), Some("/apps/shop"));
        let npm = root.path().join("npm");
        assert_eq!(get("npm_config_cache"), Some(npm.to_str().unwrap()));
        assert_eq!(env.writable, std::slice::from_ref(&npm));
        assert!(npm.is_dir());
        assert_eq!(get("CARGO_HOME"), None);

        let site = catalog.get("static-site").unwrap();
        let env = command_env(root.path(), site, "", "abc123").unwrap();
        assert!(env.writable.is_empty());
        assert_eq!(env.vars.len(), 2);
    }
}
