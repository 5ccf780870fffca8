//! Per-command control groups: the only way to cap the memory and process count of a
//! whole process tree (rlimits count per process, or per uid, and not at all for root),
//! and the record of whether those caps were hit.
//!
//! Groups are created beneath the cgroup this process already lives in (never at the
//! hierarchy root), so whatever limits the host put on Kiln still bound its commands.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Name of the directory under our own cgroup that holds one group per command.
const PARENT: &str = "kiln-sandbox";

/// Which cgroup hierarchy can hold per-command groups on this host.
#[derive(Debug, Clone)]
pub(crate) enum Hierarchy {
    /// A unified hierarchy with `memory` and `pids` delegated: one directory holds both.
    V2 { parent: PathBuf },
    /// Legacy hierarchies: `memory` and `pids` are separate trees.
    V1 { memory: PathBuf, pids: PathBuf },
}

impl Hierarchy {
    /// Finds a hierarchy in which this process may create groups, trying one out (create,
    /// set a limit, remove) so a read-only or undelegated tree is never chosen.
    pub(crate) fn detect() -> Result<Hierarchy, String> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let membership = fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let mounts = parse_mounts(&mountinfo);
        let mut why = Vec::new();
        let found = match v2(&mounts, &membership) {
            Ok(h) => Ok(h),
            Err(e) => {
                why.push(format!("cgroup v2: {e}"));
                v1(&mounts, &membership).map_err(|e| {
                    why.push(format!("cgroup v1: {e}"));
                    why.join("; ")
                })
            }
        };
        if let Ok(hierarchy) = &found {
            hierarchy.remove_stale();
        }
        found
    }

    /// Removes the groups of processes that are gone: a Kiln killed outright (SIGKILL, OOM)
    /// cannot remove its own, and the services it supervised leave theirs empty behind.
    /// Groups still holding processes cannot be removed and are left alone.
    fn remove_stale(&self) {
        let parents = match self {
            Hierarchy::V2 { parent } => vec![parent],
            Hierarchy::V1 { memory, pids } => vec![memory, pids],
        };
        for parent in parents {
            let Ok(entries) = fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let owner = name
                    .to_str()
                    .and_then(|n| n.split('-').next())
                    .and_then(|pid| pid.parse::<u32>().ok());
                if let Some(owner) = owner
                    && owner != std::process::id()
                    && !Path::new(&format!("/proc/{owner}")).exists()
                    && entry.path().is_dir()
                {
                    let _ = fs::remove_dir(entry.path());
                }
            }
        }
    }

    pub(crate) fn describe_memory(&self) -> &'static str {
        match self {
            Hierarchy::V2 { .. } => "cgroup v2 memory.max",
            Hierarchy::V1 { .. } => "cgroup v1 memory.limit_in_bytes",
        }
    }

    pub(crate) fn describe_processes(&self) -> &'static str {
        match self {
            Hierarchy::V2 { .. } => "cgroup v2 pids.max",
            Hierarchy::V1 { .. } => "cgroup v1 pids.max",
        }
    }

    /// Creates a fresh group for one command with the given caps.
    pub(crate) fn create(&self, memory_bytes: u64, processes: u64) -> io::Result<Group> {
        let name = unique_name();
        let group = match self {
            Hierarchy::V2 { parent } => Group {
                dirs: vec![parent.join(&name)],
                v2: true,
            },
            Hierarchy::V1 { memory, pids } => Group {
                dirs: vec![memory.join(&name), pids.join(&name)],
                v2: false,
            },
        };
        for dir in &group.dirs {
            fs::create_dir(dir)?;
        }
        // From here on, dropping `group` removes whatever was created.
        if group.v2 {
            let dir = &group.dirs[0];
            fs::write(dir.join("memory.max"), memory_bytes.to_string())?;
            // Without this, a group at its limit pushes pages to swap instead of failing.
            let _ = fs::write(dir.join("memory.swap.max"), "0");
            fs::write(dir.join("pids.max"), processes.to_string())?;
        } else {
            let (mem, pids) = (&group.dirs[0], &group.dirs[1]);
            fs::write(mem.join("memory.limit_in_bytes"), memory_bytes.to_string())?;
            // Absent when swap accounting is off; memory+swap must be set after memory.
            let memsw = mem.join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                let _ = fs::write(memsw, memory_bytes.to_string());
            }
            fs::write(pids.join("pids.max"), processes.to_string())?;
        }
        Ok(group)
    }
}

/// One command's group. Dropping it kills whatever is still inside and removes it.
#[derive(Debug)]
pub(crate) struct Group {
    dirs: Vec<PathBuf>,
    v2: bool,
}

/// Which caps a command ran into.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Hits {
    pub(crate) oom_kills: u64,
    pub(crate) process_limit: u64,
}

impl Group {
    /// Files a process writes `0` into to join this group (before it execs the sandbox).
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Reads the kernel's counters of limit events.
    pub(crate) fn hits(&self) -> Hits {
        if self.v2 {
            let dir = &self.dirs[0];
            Hits {
                oom_kills: counter(&dir.join("memory.events"), "oom_kill"),
                process_limit: counter(&dir.join("pids.events"), "max"),
            }
        } else {
            Hits {
                oom_kills: counter(&self.dirs[0].join("memory.oom_control"), "oom_kill"),
                process_limit: counter(&self.dirs[1].join("pids.events"), "max"),
            }
        }
    }

    /// Kills everything in the group until it is empty, then removes it. Waits (a few
    /// seconds at most) because a killed process leaves its group only once it is reaped.
    pub(crate) async fn destroy(mut self) {
        for _ in 0..100 {
            if self.sweep() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::warn!(groups = ?self.dirs, "sandbox cgroup still busy; left in place");
        self.dirs.clear();
    }

    /// One pass of kill + remove; true when every directory is gone.
    fn sweep(&mut self) -> bool {
        for dir in &self.dirs {
            if self.v2 && fs::write(dir.join("cgroup.kill"), "1").is_ok() {
                continue;
            }
            if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    crate::rlimit::kill(pid);
                }
            }
        }
        self.dirs.retain(|dir| match fs::remove_dir(dir) {
            Ok(()) => false,
            Err(e) => e.kind() != io::ErrorKind::NotFound,
        });
        self.dirs.is_empty()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // Reached when the run was cancelled; one best-effort pass is all a destructor can do.
        if !self.dirs.is_empty() {
            self.sweep();
        }
    }
}

struct Mount {
    root: String,
    point: PathBuf,
    fstype: String,
    super_options: String,
}

fn parse_mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            Some(Mount {
                root: unescape(pre.get(3)?),
                point: PathBuf::from(unescape(pre.get(4)?)),
                fstype: (*post.first()?).to_owned(),
                super_options: (*post.get(2).unwrap_or(&"")).to_owned(),
            })
        })
        .collect()
}

/// mountinfo escapes spaces and a few other bytes as `\ooo`.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Our own group's directory in a hierarchy mounted at `mount`.
fn own_dir(mount: &Mount, own_path: &str) -> PathBuf {
    let rel = own_path
        .strip_prefix(mount.root.as_str())
        .unwrap_or(own_path)
        .trim_start_matches('/');
    if rel.is_empty() {
        mount.point.clone()
    } else {
        mount.point.join(rel)
    }
}

fn v2(mounts: &[Mount], membership: &str) -> Result<Hierarchy, String> {
    let mount = mounts
        .iter()
        .find(|m| m.fstype == "cgroup2")
        .ok_or("no cgroup2 mount")?;
    let own = membership
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("this process is in no cgroup2 group")?;
    let base = own_dir(mount, own);
    let controllers = fs::read_to_string(base.join("cgroup.controllers"))
        .map_err(|e| format!("{}: {e}", base.display()))?;
    let available: Vec<&str> = controllers.split_whitespace().collect();
    for needed in ["memory", "pids"] {
        if !available.contains(&needed) {
            return Err(format!(
                "controller {needed} not delegated to {} (have: {})",
                base.display(),
                controllers.trim()
            ));
        }
    }
    let parent = base.join(PARENT);
    create_parent(&parent)?;
    // Controllers must be enabled on every level above the groups; this fails (EBUSY) when
    // our own group holds processes and is not the root, which is cgroup v2's rule.
    for dir in [&base, &parent] {
        fs::write(dir.join("cgroup.subtree_control"), "+memory +pids")
            .map_err(|e| format!("cannot enable memory and pids in {}: {e}", dir.display()))?;
    }
    let hierarchy = Hierarchy::V2 { parent };
    try_out(&hierarchy)?;
    Ok(hierarchy)
}

fn v1(mounts: &[Mount], membership: &str) -> Result<Hierarchy, String> {
    let dir_for = |controller: &str| -> Result<PathBuf, String> {
        let mount = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == controller))
            .ok_or_else(|| format!("no {controller} hierarchy mounted"))?;
        let own = membership
            .lines()
            .find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then_some(path)
            })
            .ok_or_else(|| format!("this process is in no {controller} group"))?;
        let parent = own_dir(mount, own).join(PARENT);
        create_parent(&parent)?;
        Ok(parent)
    };
    let hierarchy = Hierarchy::V1 {
        memory: dir_for("memory")?,
        pids: dir_for("pids")?,
    };
    try_out(&hierarchy)?;
    Ok(hierarchy)
}

fn create_parent(parent: &Path) -> Result<(), String> {
    match fs::create_dir(parent) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot create {}: {e}", parent.display())),
    }
}

fn try_out(hierarchy: &Hierarchy) -> Result<(), String> {
    let group = hierarchy
        .create(64 << 20, 8)
        .map_err(|e| format!("cannot create a group with limits: {e}"))?;
    drop(group);
    Ok(())
}

fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Value of `key` in a flat-keyed cgroup file (`key value` per line); 0 when absent.
fn counter(file: &Path, key: &str) -> u64 {
    fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let (k, v) = line.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok()).flatten()
            })
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flat_keyed_counters() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("memory.oom_control");
        fs::write(&file, "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n").unwrap();
        assert_eq!(counter(&file, "oom_kill"), 3);
        assert_eq!(counter(&file, "max"), 0);
    }

    #[test]
    fn finds_our_group_below_the_mount_root() {
        let info = "35 25 0:30 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n\
                    40 25 0:35 /kiln /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let mounts = parse_mounts(info);
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[0].super_options, "rw,memory");
        assert_eq!(
            own_dir(&mounts[0], "/process_api/abc"),
            Path::new("/sys/fs/cgroup/memory/process_api/abc")
        );
        assert_eq!(
            own_dir(&mounts[1], "/kiln/svc"),
            Path::new("/sys/fs/cgroup/unified/svc")
        );
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
