//! The few raw system calls the sandbox needs: joining a cgroup and setting rlimits in the
//! child between fork and exec (so bubblewrap and everything it starts inherit them, with
//! no window in which a process runs outside its group), and killing by pid.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A resource and its soft and hard limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rlimit {
    pub(crate) resource: Resource,
    pub(crate) soft: u64,
    pub(crate) hard: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Resource {
    Cpu,
    FileSize,
    OpenFiles,
    AddressSpace,
    Processes,
}

impl Resource {
    fn raw(self) -> libc::__rlimit_resource_t {
        match self {
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::FileSize => libc::RLIMIT_FSIZE,
            Resource::OpenFiles => libc::RLIMIT_NOFILE,
            Resource::AddressSpace => libc::RLIMIT_AS,
            Resource::Processes => libc::RLIMIT_NPROC,
        }
    }
}

/// Arranges for the spawned child to join the cgroups whose `cgroup.procs` files are
/// given and to set `limits`, before it execs.
pub(crate) fn confine(
    cmd: &mut tokio::process::Command,
    procs_files: &[PathBuf],
    limits: &[Rlimit],
) -> io::Result<()> {
    let paths = procs_files
        .iter()
        .map(|p| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other))
        .collect::<io::Result<Vec<CString>>>()?;
    let limits = limits.to_vec();
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed: it uses open, write, close and setrlimit on
    // data prepared (allocated) before the fork, and allocates nothing itself.
    unsafe {
        cmd.pre_exec(move || {
            for path in &paths {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                // "0" means the writing process itself.
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = io::Error::last_os_error();
                libc::close(fd);
                if written != 1 {
                    return Err(err);
                }
            }
            for limit in &limits {
                let value = libc::rlimit {
                    rlim_cur: limit.soft,
                    rlim_max: limit.hard,
                };
                if libc::setrlimit(limit.resource.raw(), &value) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(())
}

/// Sends SIGKILL to `pid` (a negative pid means a process group).
pub(crate) fn kill(pid: i32) {
    signal(pid, libc::SIGKILL);
}

/// Sends `signal` to `pid` (a negative pid means a process group); failures (already gone)
/// are expected and ignored.
pub(crate) fn signal(pid: i32, signal: i32) {
    // 0 and -1 would mean our own group and every process we may signal.
    if pid == 0 || pid == -1 {
        return;
    }
    // SAFETY: kill(2) only signals; it touches no memory of ours.
    unsafe {
        libc::kill(pid, signal);
    }
}
