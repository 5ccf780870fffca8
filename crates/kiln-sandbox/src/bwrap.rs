//! The bubblewrap command line: which parts of the host a command sees (read-only system
//! and toolchains, a curated `/etc`, its workspace and caches writable) and which
//! namespaces it gets; plus the probe that proves bubblewrap works here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Top-level system directories: bound read-only, or recreated as the same symlink
/// (merged-/usr systems make `/bin` a link to `usr/bin`).
const SYSTEM_DIRS: &[&str] = &["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"];

/// The parts of `/etc` programs need to run, resolve names and verify TLS; nothing with
/// credentials (`shadow`, `gshadow`, `ssh`, service configs).
const ETC: &[&str] = &[
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "gai.conf",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "networks",
    "npmrc",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "php",
    "pip.conf",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
    "terminfo",
    "timezone",
];

/// Host directories a sandbox never gets whole, even when a `PATH` entry sits in them.
fn too_broad(dir: &Path) -> bool {
    dir == Path::new("/")
        || dir == Path::new("/root")
        || dir == Path::new("/home")
        || dir.parent() == Some(Path::new("/home"))
        || dir == Path::new("/etc")
        || dir == Path::new("/var")
        || dir == Path::new("/run")
        || dir == Path::new("/tmp")
}

/// Already visible through the read-only system binds.
fn in_system(dir: &Path) -> bool {
    dir.starts_with("/usr") || SYSTEM_DIRS.iter().any(|s| dir.starts_with(s))
}

/// Toolchain directories to bind read-only, and variables the toolchains need to find
/// themselves once `HOME` is the workspace.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Toolchains {
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) env: Vec<(String, String)>,
}

/// Derives toolchains from `PATH`: an entry `<prefix>/bin` (or `sbin`, `shims`) brings
/// its whole prefix (a toolchain keeps libraries beside its binaries), `~/.cargo/bin`
/// brings rustup's `~/.rustup` (and `RUSTUP_HOME`, since the proxies look under `HOME`),
/// anything inside a `.pyenv` brings the pyenv root. `extra` is bound as given.
pub(crate) fn toolchains(path_var: &str, extra: &[PathBuf], workspace: &Path) -> Toolchains {
    let mut dirs = Vec::new();
    let mut env = Vec::new();
    for entry in path_var.split(':').map(Path::new) {
        if !entry.is_absolute() {
            continue;
        }
        let Ok(dir) = entry.canonicalize() else {
            continue;
        };
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let mut chosen = dir.clone();
        if matches!(name, "bin" | "sbin" | "shims")
            && let Some(parent) = dir.parent()
            && !too_broad(parent)
        {
            chosen = parent.to_path_buf();
        }
        if let Some(pyenv) = dir
            .ancestors()
            .find(|a| a.file_name() == Some(".pyenv".as_ref()))
        {
            chosen = pyenv.to_path_buf();
        }
        if dir.ends_with(".cargo/bin")
            && let Some(home) = dir.parent().and_then(Path::parent)
        {
            let rustup = home.join(".rustup");
            if rustup.is_dir() {
                env.push(("RUSTUP_HOME".to_owned(), rustup.display().to_string()));
                dirs.push(rustup);
            }
        }
        dirs.push(chosen);
    }
    dirs.extend(extra.iter().filter_map(|p| p.canonicalize().ok()));
    dirs.retain(|d| !in_system(d) && !too_broad(d) && !d.starts_with(workspace));
    dirs.sort();
    dirs.dedup();
    // A directory inside another bound one adds nothing.
    let mut kept: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        if !kept.iter().any(|k| dir.starts_with(k)) {
            kept.push(dir);
        }
    }
    env.dedup();
    Toolchains { dirs: kept, env }
}

/// What one command's sandbox looks like.
pub(crate) struct Layout<'a> {
    pub(crate) workspace: &'a Path,
    pub(crate) home: &'a Path,
    pub(crate) writable: &'a [PathBuf],
    pub(crate) toolchains: &'a [PathBuf],
    pub(crate) network: bool,
    pub(crate) tmp_bytes: u64,
    /// Host paths bound read-only at the given paths inside (a service's bridge program and
    /// the host sockets it forwards to).
    pub(crate) binds: &'a [(PathBuf, PathBuf)],
}

/// Namespaces and process flags, shared by the probe and every command.
fn namespace_args(args: &mut Vec<OsString>, network: bool) {
    args.extend(
        [
            "--unshare-all",
            // Explicit: --unshare-all only tries; a sandbox without it must fail the probe.
            "--unshare-user",
            // No nested user namespaces, so nothing inside can regain capabilities.
            "--disable-userns",
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            // Keeps the command off Kiln's terminal (no TIOCSTI injection).
            "--new-session",
            "--hostname",
            "kiln-sandbox",
        ]
        .map(OsString::from),
    );
    if network {
        args.push("--share-net".into());
    }
}

fn push(args: &mut Vec<OsString>, parts: &[&dyn AsRef<std::ffi::OsStr>]) {
    args.extend(parts.iter().map(|p| p.as_ref().to_os_string()));
}

/// The read-only system: `/usr`, the top-level links or directories, the curated `/etc`.
fn system_args(args: &mut Vec<OsString>) {
    push(args, &[&"--ro-bind", &"/usr", &"/usr"]);
    for dir in SYSTEM_DIRS {
        let path = Path::new(dir);
        if let Ok(target) = std::fs::read_link(path) {
            push(args, &[&"--symlink", &target, &path]);
        } else if path.is_dir() {
            push(args, &[&"--ro-bind", &path, &path]);
        }
    }
    let mut etc: Vec<PathBuf> = ETC.iter().map(|n| Path::new("/etc").join(n)).collect();
    // Debian's python reads its site customisation from /etc/python3.X.
    if let Ok(entries) = std::fs::read_dir("/etc") {
        etc.extend(
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
                .map(|e| e.path()),
        );
    }
    for path in etc.iter().filter(|p| p.exists()) {
        push(args, &[&"--ro-bind", path, path]);
    }
}

/// Kernel settings under `/proc` a command may read but must never write.
///
/// Kiln runs as root, so the sandbox's uid 0 is the host's uid 0 (kuid 0) and the kernel
/// lets it write root-owned sysctls such as `kernel.core_pattern`, which would run a
/// program as host root. bubblewrap does not cover `/proc/sys` itself (it expects to run
/// unprivileged), so these are bound read-only over the fresh `/proc`. Sysctls resolve
/// against the reader's namespaces, so reading them shows the sandbox's own values.
const PROC_READ_ONLY: &[&str] = &[
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/fs",
    "/proc/pressure",
];

fn proc_cover_args(args: &mut Vec<OsString>) {
    for path in PROC_READ_ONLY {
        push(args, &[&"--ro-bind-try", path, path]);
    }
}

/// Arguments for `bwrap` up to and including `--`; the command follows.
pub(crate) fn args(layout: &Layout<'_>) -> Vec<OsString> {
    let mut args = Vec::new();
    namespace_args(&mut args, layout.network);
    system_args(&mut args);
    push(&mut args, &[&"--proc", &"/proc", &"--dev", &"/dev"]);
    proc_cover_args(&mut args);
    let size = layout.tmp_bytes.to_string();
    push(&mut args, &[&"--size", &size, &"--tmpfs", &"/tmp"]);
    push(&mut args, &[&"--symlink", &"../tmp", &"/var/tmp"]);
    for dir in layout.toolchains {
        push(&mut args, &[&"--ro-bind", dir, dir]);
    }
    for dir in layout.writable {
        push(&mut args, &[&"--bind", dir, dir]);
    }
    push(
        &mut args,
        &[&"--bind", &layout.workspace, &layout.workspace],
    );
    let home_visible = layout.home.starts_with(layout.workspace)
        || layout.writable.iter().any(|w| layout.home.starts_with(w))
        || layout.toolchains.iter().any(|t| layout.home.starts_with(t));
    if !home_visible {
        push(&mut args, &[&"--dir", &layout.home]);
    }
    for (host, inside) in layout.binds {
        push(&mut args, &[&"--ro-bind", host, inside]);
    }
    // Whatever bubblewrap created on its root tmpfs (mount points, HOME) stays as it is.
    push(
        &mut args,
        &[&"--remount-ro", &"/", &"--chdir", &layout.workspace, &"--"],
    );
    args
}

/// Runs `true` in a minimal sandbox with every namespace a command gets, so a host that
/// cannot create them is found once, at construction, with bubblewrap's own words.
pub(crate) fn probe(bwrap: &Path) -> Result<(), String> {
    let mut args = Vec::new();
    namespace_args(&mut args, false);
    system_args(&mut args);
    push(&mut args, &[&"--proc", &"/proc", &"--dev", &"/dev"]);
    proc_cover_args(&mut args);
    args.push("--".into());
    args.push("true".into());
    let out = Command::new(bwrap)
        .args(&args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", bwrap.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    Err(format!(
        "`{}` cannot create the sandbox's namespaces ({}): {}",
        bwrap.display(),
        out.status,
        if said.is_empty() { "no message" } else { &said }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolchain_prefixes_come_from_path_without_home_or_system_dirs() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let cargo_bin = root.join(".cargo/bin");
        let rustup = root.join(".rustup");
        let pyenv_shims = root.join(".pyenv/plugins/venv/shims");
        let opt_bin = root.join("opt/node/bin");
        let workspace = root.join("ws");
        for d in [&cargo_bin, &rustup, &pyenv_shims, &opt_bin, &workspace] {
            std::fs::create_dir_all(d).unwrap();
        }
        let path = format!(
            "{}:{}:{}:/usr/local/bin:/usr/bin:relative:{}/node_modules/.bin:{}",
            cargo_bin.display(),
            pyenv_shims.display(),
            opt_bin.display(),
            workspace.display(),
            workspace.display()
        );
        let t = toolchains(&path, &[root.join("missing")], &workspace);
        assert_eq!(
            t.dirs,
            [
                root.join(".cargo"),
                root.join(".pyenv"),
                rustup.clone(),
                root.join("opt/node")
            ]
        );
        assert_eq!(
            t.env,
            [("RUSTUP_HOME".to_owned(), rustup.display().to_string())]
        );
    }

    #[test]
    fn a_bin_directory_in_a_home_is_bound_alone() {
        assert!(too_broad(Path::new("/root")));
        assert!(too_broad(Path::new("/home/dev")));
        assert!(!too_broad(Path::new("/home/dev/.cargo")));
        let t = toolchains("/root/bin", &[], Path::new("/nonexistent"));
        assert!(t.dirs.iter().all(|d| d != Path::new("/root")), "{t:?}");
    }
}
