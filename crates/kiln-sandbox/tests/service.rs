//! Long-running services under real bubblewrap: what they see and reach, and that a graceful
//! stop reaches the app inside while the guard cleans up the cgroup, all checked from outside.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_sandbox::{Config, Mode, Sandbox, ServiceSpec};

fn spec(dir: &Path, command: &str) -> ServiceSpec {
    ServiceSpec {
        command: command.into(),
        args: vec!["first argument".into()],
        dir: dir.to_path_buf(),
        env: vec![("APP_SETTING".into(), "on".into())],
        path: "/usr/local/bin:/usr/bin:/bin".into(),
        home: None,
    }
}

/// The per-service cgroup directories of `pid` (below a `kiln-sandbox` parent), from its
/// `/proc/<pid>/cgroup`, trying each suffix of the path since mounts may show a subtree.
fn service_cgroups(pid: u32) -> Vec<PathBuf> {
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut dirs = Vec::new();
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !path.contains("/kiln-sandbox/") {
            continue;
        }
        let bases: Vec<PathBuf> = if controllers.is_empty() {
            vec!["/sys/fs/cgroup/unified".into(), "/sys/fs/cgroup".into()]
        } else {
            controllers
                .split(',')
                .map(|c| Path::new("/sys/fs/cgroup").join(c))
                .collect()
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for base in &bases {
            if let Some(dir) = (0..segments.len())
                .map(|start| base.join(segments[start..].join("/")))
                .find(|d| d.is_dir())
            {
                dirs.push(dir);
            }
        }
    }
    dirs
}

async fn wait_for_file(path: &Path) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}

#[tokio::test]
async fn a_service_reaches_host_loopback_and_sees_only_its_directory() {
    let sandbox = Sandbox::new(&Config::default()).expect("bubblewrap works on this machine");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("release");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "top secret").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let command = format!(
        "echo \"$0\" > arg; env | cut -d= -f1 | sort | tr '\\n' ' ' > env; \
         if cat ../secret.txt; then echo visible; else echo hidden; fi > secret; \
         node -e \"require('net').connect({port}, '127.0.0.1', () => process.exit(0))\
         .on('error', () => process.exit(3))\""
    );
    let service = sandbox.service(&spec(&dir, &command)).expect("service");
    let (mut child, guard) = service.spawn().expect("spawn");
    let (_conn, _) = listener
        .accept()
        .expect("the service connected to host loopback");
    let status = child.wait().await.unwrap();
    guard.release().await;
    assert!(status.success(), "{status}");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read("arg"), "first argument\n");
    assert_eq!(read("secret"), "hidden\n");
    let mut names: Vec<String> = read("env").split_whitespace().map(String::from).collect();
    names.retain(|n| n != "PWD" && n != "SHLVL" && n != "_" && n != "OLDPWD");
    assert_eq!(names, ["APP_SETTING", "HOME", "LANG", "PATH"]);
}

#[tokio::test]
async fn sigterm_reaches_the_app_and_release_removes_the_cgroup() {
    let sandbox = Sandbox::new(&Config::default()).expect("bubblewrap works on this machine");
    let dir = tempfile::tempdir().unwrap();
    // The app is a grandchild behind a shell that dies of SIGTERM at once, and it takes its
    // time to shut down: the sandbox must stay up until it is done.
    std::fs::write(
        dir.path().join("app.sh"),
        "trap 'sleep 0.3; echo term > got; exit 0' TERM\necho up > ready\n\
         while :; do sleep 0.1; done\n",
    )
    .unwrap();
    let service = sandbox
        .service(&spec(dir.path(), "sh app.sh; echo unreachable"))
        .expect("service");
    let (mut child, guard) = service.spawn().expect("spawn");
    wait_for_file(&dir.path().join("ready")).await;
    let pid = child.id().expect("pid");
    let groups = service_cgroups(pid);
    if sandbox.enforcement().memory.starts_with("cgroup") {
        assert!(!groups.is_empty(), "the service runs in its own cgroup");
    }
    guard.signal(libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the service ends after SIGTERM")
        .unwrap();
    // The service's own shell died of SIGTERM (128 + 15), which bubblewrap reports.
    assert_eq!(status.code(), Some(143));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("got")).unwrap(),
        "term\n"
    );
    guard.release().await;
    for group in groups {
        assert!(!group.exists(), "{} left behind", group.display());
    }
}

#[tokio::test]
async fn mode_none_runs_the_plain_command_and_signals_its_group() {
    let sandbox = Sandbox::new(&Config {
        mode: Mode::None,
        ..Config::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let command = "trap 'echo term > got; exit 0' TERM; echo \"$APP_SETTING $0\" > ready; \
                   while :; do sleep 0.1; done";
    let service = sandbox
        .service(&spec(dir.path(), command))
        .expect("service");
    let (mut child, guard) = service.spawn().expect("spawn");
    wait_for_file(&dir.path().join("ready")).await;
    guard.signal(libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the service ends after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ready")).unwrap(),
        "on first argument\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("got")).unwrap(),
        "term\n"
    );
    guard.release().await;
}
