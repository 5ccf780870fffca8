//! Release directories and deploy records on disk.
//!
//! A release is an immutable copy of a build at `root/<app>/<commit>/`, so a redeploy never
//! depends on the build directory still existing. Copies land in a temp sibling and are renamed
//! into place, so a crash mid-copy never leaves a half release that a later deploy would reuse.
//! Names starting with `.` cannot be commits, which keeps temp dirs and records apart from releases.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use crate::{DeploySpec, Error};

const RECORD_FILE: &str = ".current.json";

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// Returns the release directory for `app` at `commit`, copying `source` only when it does not
/// exist yet; the flag says whether an existing release was reused.
pub(crate) fn ensure_release(
    root: &Path,
    app: &str,
    commit: &str,
    source: &Path,
) -> Result<(PathBuf, bool), Error> {
    let app_dir = root.join(app);
    let release = app_dir.join(commit);
    if release.is_dir() {
        return Ok((release, true));
    }
    fs::create_dir_all(&app_dir).map_err(io_err("create app directory", &app_dir))?;
    let temp = app_dir.join(format!(".tmp-{commit}"));
    if temp.exists() {
        // Leftover of a copy interrupted by a crash.
        fs::remove_dir_all(&temp).map_err(io_err("remove stale temp release", &temp))?;
    }
    if let Err(err) = copy_tree(source, &temp) {
        let _ = fs::remove_dir_all(&temp);
        return Err(err);
    }
    if let Err(source_err) = fs::rename(&temp, &release) {
        let _ = fs::remove_dir_all(&temp);
        if release.is_dir() {
            return Ok((release, true));
        }
        return Err(Error::Io {
            action: "move release into place",
            path: release,
            source: source_err,
        });
    }
    Ok((release, false))
}

/// Recursively copies `src` to the new directory `dst`, skipping `.git` and special files and
/// keeping symlinks as symlinks (node_modules/.bin relies on them).
fn copy_tree(src: &Path, dst: &Path) -> Result<(), Error> {
    fs::create_dir(dst).map_err(io_err("create directory", dst))?;
    let entries = fs::read_dir(src).map_err(io_err("read directory", src))?;
    for entry in entries {
        let entry = entry.map_err(io_err("read directory", src))?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        let file_type = entry.file_type().map_err(io_err("inspect", &from))?;
        if file_type.is_dir() {
            copy_tree(&from, &to)?;
        } else if file_type.is_file() {
            fs::copy(&from, &to).map_err(io_err("copy file", &from))?;
        } else if file_type.is_symlink() {
            let target = fs::read_link(&from).map_err(io_err("read symlink", &from))?;
            std::os::unix::fs::symlink(&target, &to).map_err(io_err("create symlink", &to))?;
        } else {
            debug!(path = %from.display(), "skipping special file in build");
        }
    }
    // Applied last so a read-only source directory does not block copying into it.
    let permissions = fs::metadata(src)
        .map_err(io_err("inspect", src))?
        .permissions();
    fs::set_permissions(dst, permissions).map_err(io_err("set permissions on", dst))?;
    Ok(())
}

/// Writes `commit` to `relative` under `dir` unless the build already produced that file.
pub(crate) fn ensure_version_file(dir: &Path, relative: &Path, commit: &str) -> Result<(), Error> {
    let path = dir.join(relative);
    if path.is_file() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
    }
    write_atomic(&path, commit.as_bytes(), 0o644)
}

fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
    temp_name.push(".tmp");
    let temp = path.with_file_name(temp_name);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temp)
        .map_err(io_err("create", &temp))?;
    file.write_all(contents).map_err(io_err("write", &temp))?;
    file.sync_all().map_err(io_err("sync", &temp))?;
    fs::rename(&temp, path).map_err(io_err("move into place", path))
}

/// Remembers the live spec so a restarted deployer can bring the app back with
/// [`read_records`]. Owner-only because the env may hold secrets.
pub(crate) fn write_record(root: &Path, spec: &DeploySpec) -> Result<(), Error> {
    let path = root.join(&spec.app).join(RECORD_FILE);
    let json = serde_json::to_vec_pretty(spec).map_err(|source| Error::Record {
        path: path.clone(),
        source,
    })?;
    write_atomic(&path, &json, 0o600)
}

pub(crate) fn remove_record(root: &Path, app: &str) -> Result<(), Error> {
    let path = root.join(app).join(RECORD_FILE);
    match fs::remove_file(&path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            action: "remove deploy record",
            path,
            source: err,
        }),
        _ => Ok(()),
    }
}

/// Where the spec of one release is kept, so [`read_release_spec`] can start it again later
/// (a rollback) after its build directory is gone. The leading `.` keeps it apart from releases.
fn release_spec_path(root: &Path, app: &str, commit: &str) -> PathBuf {
    root.join(app).join(format!(".spec-{commit}.json"))
}

/// Remembers how `spec`'s release is started. Owner-only because the env may hold secrets.
pub(crate) fn write_release_spec(root: &Path, spec: &DeploySpec) -> Result<(), Error> {
    let path = release_spec_path(root, &spec.app, &spec.commit);
    let json = serde_json::to_vec_pretty(spec).map_err(|source| Error::Record {
        path: path.clone(),
        source,
    })?;
    write_atomic(&path, &json, 0o600)
}

/// The spec a release was deployed with, or `None` when the release or its spec is gone.
pub(crate) fn read_release_spec(
    root: &Path,
    app: &str,
    commit: &str,
) -> Result<Option<DeploySpec>, Error> {
    if !root.join(app).join(commit).is_dir() {
        return Ok(None);
    }
    let path = release_spec_path(root, app, commit);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(io_err("read release spec", &path)(err)),
    };
    let spec: DeploySpec = serde_json::from_slice(&bytes).map_err(|source| Error::Record {
        path: path.clone(),
        source,
    })?;
    Ok((spec.app == app && spec.commit == commit).then_some(spec))
}

/// Deletes every release and record of `app`; a missing app directory is already removed.
pub(crate) fn remove_app(root: &Path, app: &str) -> Result<(), Error> {
    let dir = root.join(app);
    match fs::remove_dir_all(&dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            action: "remove app directory",
            path: dir,
            source: err,
        }),
        _ => Ok(()),
    }
}

/// Specs of every app that was live when the deployer last ran, sorted by app name.
pub(crate) fn read_records(root: &Path) -> Vec<Result<DeploySpec, Error>> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => {
            return vec![Err(Error::Io {
                action: "read data directory",
                path: root.to_path_buf(),
                source: err,
            })];
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join(RECORD_FILE))
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).map_err(io_err("read deploy record", &path))?;
            let spec: DeploySpec =
                serde_json::from_slice(&bytes).map_err(|source| Error::Record {
                    path: path.clone(),
                    source,
                })?;
            if path.parent().and_then(Path::file_name) != Some(spec.app.as_ref()) {
                warn!(path = %path.display(), app = %spec.app, "deploy record names another app");
            }
            Ok(spec)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_tree_without_git_and_reuses_release() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("src");
        fs::create_dir_all(src.join(".git/objects")).expect("mkdir");
        fs::create_dir_all(src.join("dist/assets")).expect("mkdir");
        fs::write(src.join(".git/HEAD"), "ref").expect("write");
        fs::write(src.join("dist/index.html"), "hi").expect("write");
        fs::write(src.join("dist/assets/app.js"), "js").expect("write");
        std::os::unix::fs::symlink("dist/index.html", src.join("link")).expect("symlink");

        let root = tmp.path().join("root");
        let (release, reused) = ensure_release(&root, "app", "c1", &src).expect("release");
        assert!(!reused);
        assert_eq!(release, root.join("app/c1"));
        assert!(!release.join(".git").exists());
        assert_eq!(
            fs::read_to_string(release.join("dist/assets/app.js")).expect("read"),
            "js"
        );
        assert_eq!(
            fs::read_link(release.join("link")).expect("readlink"),
            PathBuf::from("dist/index.html")
        );
        assert!(!root.join("app/.tmp-c1").exists());

        fs::write(src.join("dist/index.html"), "changed").expect("write");
        let (again, reused) = ensure_release(&root, "app", "c1", &src).expect("release");
        assert!(reused);
        assert_eq!(
            fs::read_to_string(again.join("dist/index.html")).expect("read"),
            "hi"
        );
    }

    #[test]
    fn release_specs_round_trip_and_vanish_with_the_app() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let spec = DeploySpec {
            app: "app".into(),
            commit: "c1".into(),
            source_dir: tmp.path().join("gone"),
            kind: crate::ServeKind::Process {
                run: "node server.js".into(),
                env: vec![("TOKEN".into(), "s3cret".into())],
            },
            health_path: "/".into(),
            version_path: "/v".into(),
            expect_text: vec![],
        };
        fs::create_dir_all(root.join("app/c1")).expect("mkdir");
        write_release_spec(&root, &spec).expect("write spec");
        let mode = fs::metadata(root.join("app/.spec-c1.json"))
            .expect("stat")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        assert_eq!(
            read_release_spec(&root, "app", "c1").expect("read"),
            Some(spec)
        );
        assert_eq!(read_release_spec(&root, "app", "c2").expect("read"), None);
        remove_app(&root, "app").expect("remove");
        remove_app(&root, "app").expect("remove twice");
        assert!(!root.join("app").exists());
        assert_eq!(read_release_spec(&root, "app", "c1").expect("read"), None);
    }

    #[test]
    fn stale_temp_copy_is_replaced() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("src");
        fs::create_dir_all(&src).expect("mkdir");
        fs::write(src.join("a"), "new").expect("write");
        let root = tmp.path().join("root");
        fs::create_dir_all(root.join("app/.tmp-c1")).expect("mkdir");
        fs::write(root.join("app/.tmp-c1/half"), "x").expect("write");
        let (release, _) = ensure_release(&root, "app", "c1", &src).expect("release");
        assert!(!release.join("half").exists());
        assert!(release.join("a").exists());
    }

    #[test]
    fn missing_source_is_an_error_and_leaves_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let err = ensure_release(&root, "app", "c1", &tmp.path().join("nope"))
            .expect_err("missing source");
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(!root.join("app/c1").exists());
        assert!(!root.join("app/.tmp-c1").exists());
    }
}
