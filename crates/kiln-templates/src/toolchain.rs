//! Finding executables on `PATH`, so a caller can refuse a template whose toolchain is absent
//! before it wastes a build on it.

use std::ffi::OsStr;
use std::path::Path;

/// Returns the names in `names` that are not an executable file in any directory of `path`
/// (a `PATH`-style list), in the given order.
pub(crate) fn missing_in<'a>(
    names: impl IntoIterator<Item = &'a String>,
    path: Option<&OsStr>,
) -> Vec<String> {
    let dirs: Vec<_> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    names
        .into_iter()
        .filter(|name| {
            !dirs
                .iter()
                .any(|dir| is_executable(&dir.join(name.as_str())))
        })
        .cloned()
        .collect()
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    // Follows symlinks on purpose: toolchains are commonly installed as links (nvm, asdf).
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    // Without an executable bit the best available signal is that the file exists.
    path.is_file()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn finds_only_executable_files_in_path_dirs() {
        let a = tempfile::tempdir().expect("create tempdir");
        let b = tempfile::tempdir().expect("create tempdir");
        let tool = b.path().join("kiln-fake-tool");
        fs::write(&tool, "#!/bin/sh\n").expect("write fake tool");
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");
        let plain = b.path().join("kiln-not-executable");
        fs::write(&plain, "data").expect("write plain file");
        fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).expect("chmod");
        fs::create_dir(b.path().join("kiln-a-directory")).expect("mkdir");

        let path = std::env::join_paths([a.path(), b.path()]).expect("join paths");
        let names: Vec<String> = [
            "kiln-fake-tool",
            "kiln-not-executable",
            "kiln-a-directory",
            "kiln-absent",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            missing_in(&names, Some(&path)),
            ["kiln-not-executable", "kiln-a-directory", "kiln-absent"]
        );
    }

    #[test]
    fn everything_is_missing_without_path() {
        let names = vec!["sh".to_owned()];
        assert_eq!(missing_in(&names, None), ["sh"]);
    }
}
