//! Escape attempts: real programs (sh, Python, C) that try to get out of the sandbox or
//! exhaust the host, each checked from outside (host files, a host listener, host
//! processes) and in the result the sandbox reports.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use kiln_sandbox::{CommandResult, CommandSpec, Config, Error, Limits, Mode, Sandbox};
use tempfile::TempDir;

const LIMITS: Limits = Limits {
    cpu_secs: 5,
    memory_mb: 256,
    processes: 64,
    file_size_mb: 10,
    open_files: 256,
};

fn sandbox() -> Sandbox {
    Sandbox::new(&Config {
        limits: LIMITS,
        ..Config::default()
    })
    .expect("bubblewrap works on this machine")
}

fn workspace() -> TempDir {
    tempfile::tempdir().unwrap()
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn spec(ws: &Path, command: &str) -> CommandSpec {
    CommandSpec {
        command: command.into(),
        dir: ws.to_path_buf(),
        path: std::env::var("PATH").unwrap(),
        timeout: Duration::from_secs(30),
        output_cap: 64 * 1024,
        ..CommandSpec::default()
    }
}

async fn run(ws: &Path, command: &str) -> CommandResult {
    sandbox().run(&spec(ws, command), None).await.unwrap()
}

/// A unique word for markers, file names and secrets.
fn token(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}{}x{nanos}", std::process::id())
}

/// Host processes whose command line mentions `needle`.
fn host_processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!(
                    "{}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    found
}

struct HostSleeper(Child);

impl HostSleeper {
    fn spawn(env: &[(&str, &str)]) -> HostSleeper {
        let child = Command::new("sleep")
            .arg("120")
            .envs(env.iter().copied())
            .spawn()
            .unwrap();
        HostSleeper(child)
    }

    fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for HostSleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// 1
#[tokio::test]
async fn a_busy_loop_is_stopped_by_the_cpu_limit() {
    let ws = workspace();
    write(
        ws.path(),
        "spin.py",
        "print('spinning', flush=True)\nwhile True:\n    pass\n",
    );
    let r = run(ws.path(), "python3 spin.py").await;
    assert!(r.output_tail.contains("spinning"), "{r:?}");
    assert!(!r.success());
    let limit = r.limit.unwrap_or_default();
    assert!(
        limit.contains("CPU time limit of 5s") || limit.contains("wall-clock"),
        "{limit}"
    );
}

// 2
#[tokio::test]
async fn sleeping_forever_is_stopped_by_the_wall_clock() {
    let ws = workspace();
    write(ws.path(), "nap.sh", "echo sleeping\nsleep 100000\n");
    let mut s = spec(ws.path(), "sh nap.sh");
    s.timeout = Duration::from_secs(3);
    let r = sandbox().run(&s, None).await.unwrap();
    assert!(r.output_tail.contains("sleeping"), "{r:?}");
    assert!(r.timed_out);
    assert_eq!(r.limit.as_deref(), Some("wall-clock limit of 3s"));
}

// 3
#[tokio::test]
async fn a_fork_bomb_hits_the_process_limit_and_leaves_nothing() {
    let ws = workspace();
    let name = format!("{}.sh", token("bomb"));
    write(
        ws.path(),
        &name,
        "echo detonating > detonated\nbomb() { bomb | bomb & }\nbomb\nsleep 1000\n",
    );
    let mut s = spec(ws.path(), &format!("sh {name}"));
    s.timeout = Duration::from_secs(15);
    let r = sandbox().run(&s, None).await.unwrap();
    // A marker file, not the output: the bomb's "Cannot fork" lines fill the kept tail.
    assert!(
        ws.path().join("detonated").exists(),
        "the bomb never started: {r:?}"
    );
    assert!(
        r.limit
            .as_deref()
            .unwrap_or_default()
            .contains("process limit of 64"),
        "{r:?}"
    );
    // The host still forks, and nothing of the bomb is left.
    assert!(Command::new("true").status().unwrap().success());
    assert_eq!(host_processes_mentioning(&name), Vec::<String>::new());
}

// 4
#[tokio::test]
async fn endless_allocation_hits_the_memory_limit() {
    let ws = workspace();
    write(
        ws.path(),
        "hog.py",
        "print('allocating', flush=True)\nheld = []\nwhile True:\n    held.append(bytearray(1 << 20))\n",
    );
    let r = run(ws.path(), "python3 hog.py").await;
    assert!(r.output_tail.contains("allocating"), "{r:?}");
    assert!(!r.success());
    assert_eq!(r.limit.as_deref(), Some("memory limit of 256 MiB"), "{r:?}");
}

// 5
#[tokio::test]
async fn a_huge_file_hits_the_file_size_limit() {
    let ws = workspace();
    write(
        ws.path(),
        "fill.sh",
        "echo writing\nhead -c 2000000000 /dev/zero > big\n",
    );
    let r = run(ws.path(), "sh fill.sh").await;
    assert!(r.output_tail.contains("writing"), "{r:?}");
    assert!(!r.success());
    assert_eq!(
        r.limit.as_deref(),
        Some("file size limit of 10 MiB"),
        "{r:?}"
    );
    let size = std::fs::metadata(ws.path().join("big")).unwrap().len();
    assert!(size <= 10 << 20, "{size}");
}

// 6
#[tokio::test]
async fn filling_tmp_is_contained_and_the_host_tmp_untouched() {
    let ws = workspace();
    let prefix = token("fill");
    write(
        ws.path(),
        "fill.py",
        &format!(
            "import os\nprint('filling', flush=True)\nfor i in range(1000):\n    \
             try:\n        open('/tmp/{prefix}-%d' % i, 'wb').write(b'x' * (8 << 20))\n    \
             except OSError as e:\n        print('stopped at', i, e, flush=True)\n        raise SystemExit(1)\n"
        ),
    );
    let r = run(ws.path(), "python3 fill.py").await;
    assert!(r.output_tail.contains("filling"), "{r:?}");
    assert!(!r.success(), "{r:?}");
    assert!(
        r.output_tail.contains("stopped at") || r.limit.is_some(),
        "neither an error nor a limit: {r:?}"
    );
    let leaked: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

fn connect_script(port: u16) -> String {
    format!(
        "import socket\nprint('connecting', flush=True)\n\
         try:\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=5)\n    \
         s.sendall(b'hello from the sandbox')\n    s.close()\n    print('connected')\n\
         except OSError as e:\n    print('failed:', e)\n    raise SystemExit(1)\n"
    )
}

// 7
#[tokio::test]
async fn the_host_loopback_is_out_of_reach() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ws = workspace();
    write(ws.path(), "connect.py", &connect_script(port));
    let r = run(ws.path(), "python3 connect.py").await;
    assert!(r.output_tail.contains("connecting"), "{r:?}");
    assert!(
        r.output_tail
            .contains("failed: [Errno 111] Connection refused"),
        "{r:?}"
    );
    assert_eq!(r.exit_code, Some(1));
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the host listener saw a connection: {accepted:?}"
    );
}

// 8
#[tokio::test]
async fn names_and_outside_addresses_do_not_resolve_or_connect() {
    let ws = workspace();
    write(
        ws.path(),
        "outside.py",
        "import socket\nprint('trying', flush=True)\nok = 0\n\
         try:\n    print(socket.getaddrinfo('registry.npmjs.org', 443)); ok += 1\n\
         except OSError as e:\n    print('dns failed:', e)\n\
         try:\n    socket.create_connection(('1.1.1.1', 443), timeout=5); ok += 1\n\
         except OSError as e:\n    print('connect failed:', e)\n\
         raise SystemExit(ok)\n",
    );
    let r = run(ws.path(), "python3 outside.py").await;
    assert!(r.output_tail.contains("trying"), "{r:?}");
    assert!(r.output_tail.contains("dns failed:"), "{r:?}");
    assert!(
        r.output_tail
            .contains("connect failed: [Errno 101] Network is unreachable"),
        "{r:?}"
    );
    assert_eq!(r.exit_code, Some(0), "{r:?}");
}

// 9
#[tokio::test]
async fn with_network_the_same_connection_works() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = String::new();
        conn.read_to_string(&mut got).unwrap();
        got
    });
    let ws = workspace();
    write(ws.path(), "connect.py", &connect_script(port));
    let mut s = spec(ws.path(), "python3 connect.py");
    s.network = true;
    let r = sandbox().run(&s, None).await.unwrap();
    assert!(r.success(), "{r:?}");
    assert!(r.output_tail.contains("connected"), "{r:?}");
    assert_eq!(accept.join().unwrap(), "hello from the sandbox");
}

fn secret_dir() -> (TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let secret = token("secret");
    let file = write(dir.path(), "secret.txt", &secret);
    (dir, file, secret)
}

// 10
#[tokio::test]
async fn files_outside_the_workspace_are_not_there() {
    let (_dir, file, secret) = secret_dir();
    let ws = workspace();
    let r = run(ws.path(), &format!("echo reading; cat {}", file.display())).await;
    assert!(r.output_tail.contains("reading"), "{r:?}");
    assert!(r.output_tail.contains("No such file or directory"), "{r:?}");
    assert!(!r.output_tail.contains(&secret));
    assert!(!r.success());
}

// 11
#[tokio::test]
async fn other_processes_environments_are_invisible() {
    let secret = token("envsecret");
    let mut host = HostSleeper::spawn(&[("KILN_TEST_SECRET", &secret)]);
    // Non-vacuous: the host process really carries the secret (once it has exec'd).
    let environ = format!("/proc/{}/environ", host.0.id());
    let mut carries = false;
    for _ in 0..100 {
        let text = std::fs::read(&environ).unwrap_or_default();
        carries = String::from_utf8_lossy(&text).contains(&secret);
        if carries {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(carries, "the host process never showed its secret");
    let ws = workspace();
    write(
        ws.path(),
        "scan.sh",
        &format!(
            "n=0\nfor f in /proc/[0-9]*/environ; do n=$((n+1)); \
             if grep -q {secret} \"$f\" 2>/dev/null; then echo FOUND in $f; fi; done\n\
             echo scanned $n\ncat /proc/{pid}/environ || echo no host pid {pid}\n",
            pid = host.0.id()
        ),
    );
    let r = run(ws.path(), "sh scan.sh").await;
    assert!(r.output_tail.contains("scanned"), "{r:?}");
    assert!(!r.output_tail.contains("FOUND"), "{r:?}");
    assert!(!r.output_tail.contains(&secret), "{r:?}");
    assert!(r.output_tail.contains("no host pid"), "{r:?}");
    assert!(host.alive());
}

// 12
#[tokio::test]
async fn the_environment_holds_only_allowed_names() {
    let ws = workspace();
    let mut s = spec(ws.path(), "env");
    s.env = vec![("APP_MODE".into(), "test".into())];
    let r = sandbox().run(&s, None).await.unwrap();
    assert!(r.success(), "{r:?}");
    let allowed = [
        "APP_MODE",
        "CI",
        "HOME",
        "LANG",
        "NO_COLOR",
        "PATH",
        "PWD",
        "RUSTUP_HOME",
        "SHLVL",
        "_",
        "OLDPWD",
    ];
    let names: Vec<&str> = r
        .output_tail
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert!(names.contains(&"APP_MODE"), "{names:?}");
    for name in &names {
        assert!(allowed.contains(name), "unexpected variable {name}");
    }
    // A variable this test process really has stays out.
    let own = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    assert!(!r.output_tail.contains(&own), "{}", r.output_tail);
}

// 13
#[tokio::test]
async fn a_committed_symlink_to_a_host_secret_leads_nowhere() {
    let (_dir, file, secret) = secret_dir();
    let ws = workspace();
    std::os::unix::fs::symlink(&file, ws.path().join("config.txt")).unwrap();
    // From the host, the link does reach the secret.
    assert_eq!(
        std::fs::read_to_string(ws.path().join("config.txt")).unwrap(),
        secret
    );
    let r = run(ws.path(), "echo following; cat config.txt").await;
    assert!(r.output_tail.contains("following"), "{r:?}");
    assert!(r.output_tail.contains("No such file or directory"), "{r:?}");
    assert!(!r.output_tail.contains(&secret));
}

// 14
#[tokio::test]
async fn a_symlink_to_the_root_shows_only_the_sandbox() {
    let ws = workspace();
    let r = run(
        ws.path(),
        "ln -s / up && ln -s /root home && echo linked && ls -a up/ && echo ROOT: && ls -a home/ \
         && cat up/etc/shadow",
    )
    .await;
    assert!(r.output_tail.contains("linked"), "{r:?}");
    assert!(
        r.output_tail.contains("up/etc/shadow: No such file"),
        "{r:?}"
    );
    let listing = r.output_tail.split("ROOT:").nth(1).unwrap_or_default();
    // Only the toolchains found on PATH are visible in /root, never the rest of it.
    for entry in std::fs::read_dir("/root").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if [".cargo", ".rustup", ".pyenv"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            !listing.lines().any(|l| l == name),
            "/root/{name} is visible: {listing}"
        );
    }
    assert!(!r.output_tail.contains("var\nvmlinuz"), "{r:?}");
}

// 15
#[tokio::test]
async fn writes_outside_the_workspace_fail() {
    let (dir, _file, _secret) = secret_dir();
    let ws = workspace();
    let name = token("planted");
    let targets = [
        PathBuf::from("/usr").join(&name),
        PathBuf::from("/etc").join(&name),
        PathBuf::from("/root").join(&name),
        PathBuf::from("/root/.cargo").join(&name),
        dir.path().join(&name),
        PathBuf::from("/").join(&name),
    ];
    let script: String = targets
        .iter()
        .map(|t| {
            format!(
                "echo trying {t}; echo x > {t} && echo WROTE {t}\n",
                t = t.display()
            )
        })
        .collect();
    write(ws.path(), "plant.sh", &script);
    let r = run(ws.path(), "sh plant.sh").await;
    for t in &targets {
        assert!(
            r.output_tail.contains(&format!("trying {}", t.display())),
            "{r:?}"
        );
        assert!(!t.exists(), "{} was created on the host", t.display());
    }
    assert!(!r.output_tail.contains("WROTE"), "{r:?}");
    assert!(r.output_tail.contains("Read-only file system"), "{r:?}");
}

// 16
#[tokio::test]
async fn host_processes_cannot_be_signalled() {
    let mut host = HostSleeper::spawn(&[]);
    let ws = workspace();
    let r = run(
        ws.path(),
        &format!("echo killing {pid}; kill -9 {pid}", pid = host.0.id()),
    )
    .await;
    assert!(r.output_tail.contains("killing"), "{r:?}");
    assert!(!r.success(), "{r:?}");
    assert!(r.output_tail.contains("No such process"), "{r:?}");
    assert!(host.alive(), "the host process was killed");
}

// 17
#[tokio::test]
async fn a_daemon_dies_with_its_command() {
    let ws = workspace();
    let marker = ws.path().join("daemon-was-here");
    let name = format!("{}.py", token("daemon"));
    write(
        ws.path(),
        &name,
        &format!(
            "import os, time, sys\n\
             if os.fork() > 0:\n    print('daemon started', flush=True)\n    sys.exit(0)\n\
             os.setsid()\n\
             if os.fork() > 0:\n    os._exit(0)\n\
             os.close(1); os.close(2)\n\
             time.sleep(3)\nopen({marker:?}, 'w').write('survived')\n",
            marker = marker.display().to_string()
        ),
    );
    let r = run(ws.path(), &format!("nohup python3 {name}")).await;
    assert!(r.output_tail.contains("daemon started"), "{r:?}");
    assert!(r.success(), "{r:?}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!marker.exists(), "the daemon survived its command");
    assert_eq!(host_processes_mentioning(&name), Vec::<String>::new());
}

// 18
#[tokio::test]
async fn mount_unshare_and_chroot_are_denied() {
    let ws = workspace();
    let r = run(
        ws.path(),
        "grep CapEff /proc/self/status\n\
         for attempt in 'mount -t tmpfs none /mnt' 'mount -o remount,rw /usr' 'unshare -U true' \
         'unshare -m true' 'unshare -n true' 'chroot / true'; do\n\
         echo \"trying $attempt\"; if $attempt; then echo \"ALLOWED $attempt\"; fi; done",
    )
    .await;
    assert!(r.output_tail.contains("CapEff:\t0000000000000000"), "{r:?}");
    assert_eq!(r.output_tail.matches("trying").count(), 6, "{r:?}");
    assert!(!r.output_tail.contains("ALLOWED"), "{r:?}");
}

// 19
#[tokio::test]
async fn the_hostname_stays_the_hosts() {
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let ws = workspace();
    let r = run(
        ws.path(),
        "hostname; echo renaming; hostname evil || echo refused; \
         echo evil > /proc/sys/kernel/hostname || echo refused again; hostname",
    )
    .await;
    assert!(r.output_tail.starts_with("kiln-sandbox\nrenaming"), "{r:?}");
    assert!(r.output_tail.contains("refused\n"), "{r:?}");
    assert!(
        r.output_tail
            .contains("Read-only file system\nrefused again"),
        "{r:?}"
    );
    assert!(r.output_tail.ends_with("kiln-sandbox\n"), "{r:?}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        before
    );
}

// 19b: the sandbox's uid 0 is the host's, so sysctls must not be writable. The program
// writes back the values the host already has, so even a failure changes nothing.
#[tokio::test]
async fn host_kernel_settings_cannot_be_written() {
    let files = [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/overcommit_memory",
        "/proc/sys/kernel/pid_max",
    ];
    let before: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let script: String = files
        .iter()
        .zip(&before)
        .map(|(f, v)| {
            format!(
                "echo trying {f}; printf '%s' '{v}' > {f} && echo WROTE {f}\n",
                v = v.trim_end()
            )
        })
        .collect();
    let ws = workspace();
    write(ws.path(), "sysctl.sh", &script);
    let r = run(ws.path(), "sh sysctl.sh").await;
    assert_eq!(
        r.output_tail.matches("trying").count(),
        files.len(),
        "{r:?}"
    );
    assert_eq!(
        r.output_tail.matches("Read-only file system").count(),
        files.len(),
        "{r:?}"
    );
    assert!(!r.output_tail.contains("WROTE"), "{r:?}");
    for (f, v) in files.iter().zip(&before) {
        assert_eq!(&std::fs::read_to_string(f).unwrap(), v);
    }
}

// 20
#[tokio::test]
async fn etc_shadow_is_absent() {
    assert!(Path::new("/etc/shadow").exists());
    let ws = workspace();
    let r = run(
        ws.path(),
        "echo reading; cat /etc/shadow /etc/gshadow; ls /etc",
    )
    .await;
    assert!(r.output_tail.contains("reading"), "{r:?}");
    assert!(r.output_tail.contains("/etc/shadow: No such file"), "{r:?}");
    assert!(
        r.output_tail.contains("/etc/gshadow: No such file"),
        "{r:?}"
    );
    assert!(r.output_tail.contains("passwd"), "{r:?}");
    assert!(!r.output_tail.contains("ssh"), "{r:?}");
}

// 21
#[tokio::test]
async fn database_and_docker_sockets_are_absent() {
    let pg = Path::new("/var/run/postgresql/.s.PGSQL.5432");
    assert!(
        pg.exists(),
        "test premise: Postgres listens on a unix socket"
    );
    let ws = workspace();
    write(
        ws.path(),
        "sockets.py",
        "import socket\nfor path in ['/var/run/postgresql/.s.PGSQL.5432', \
         '/run/postgresql/.s.PGSQL.5432', '/var/run/docker.sock', '/run/docker.sock']:\n    \
         s = socket.socket(socket.AF_UNIX)\n    print('trying', path, flush=True)\n    \
         try:\n        s.connect(path)\n        print('CONNECTED', path)\n    \
         except OSError as e:\n        print('failed:', e)\n",
    );
    let r = run(ws.path(), "python3 sockets.py").await;
    assert_eq!(r.output_tail.matches("trying").count(), 4, "{r:?}");
    assert_eq!(
        r.output_tail
            .matches("failed: [Errno 2] No such file or directory")
            .count(),
        4,
        "{r:?}"
    );
    assert!(!r.output_tail.contains("CONNECTED"), "{r:?}");
}

// 22
#[tokio::test]
async fn flooding_output_keeps_a_capped_tail() {
    let ws = workspace();
    let mut s = spec(ws.path(), "yes flood | head -n 3000000; echo the end");
    s.output_cap = 4096;
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let r = sandbox().run(&s, Some(tx)).await.unwrap();
    assert!(r.success(), "{r:?}");
    assert!(r.truncated);
    assert!(r.output_tail.len() <= 4096);
    assert!(r.output_tail.ends_with("flood\nthe end\n"), "{r:?}");
    // The slow listener got the first lines and lost the rest rather than stalling it.
    assert_eq!(rx.recv().await.as_deref(), Some("flood"));
}

// 23
#[tokio::test]
async fn hooks_planted_in_the_repository_never_run_on_the_host() {
    let root = tempfile::tempdir().unwrap();
    let git = kiln_git::Git::new();
    let bare = root.path().join("app.git");
    git.ensure_bare(&bare).await.unwrap();
    let ws = root.path().join("ws");
    let work = git.checkout_branch(&bare, "main", &ws).await.unwrap();
    work.write_file("README.md", b"hello\n", false)
        .await
        .unwrap();
    work.commit_all("first").await.unwrap();
    work.push("main").await.unwrap();

    let marker = root.path().join("hook-ran");
    let hook = format!("#!/bin/sh\necho ran >> {}\n", marker.display());
    let plant = format!(
        "echo planting\nmkdir -p .git/hooks evil-hooks\n\
         for h in pre-commit prepare-commit-msg commit-msg post-commit pre-push \
         post-checkout reference-transaction post-merge; do\n\
         printf '%s' '{hook}' > .git/hooks/$h; chmod +x .git/hooks/$h\n\
         cp .git/hooks/$h evil-hooks/$h; done\n\
         git config core.hooksPath evil-hooks && echo planted\n"
    );
    let r = run(&ws, &plant).await;
    assert!(r.output_tail.contains("planted"), "{r:?}");
    assert!(ws.join(".git/hooks/pre-commit").exists());
    // The sandbox's own view: its git would run the hook (it may write the marker into
    // its own, separate world only; the host path is not even mounted).
    assert!(!marker.exists());

    work.write_file("src/main.txt", b"more\n", false)
        .await
        .unwrap();
    work.commit_all("second").await.unwrap().expect("a commit");
    work.push("main").await.unwrap();
    git.checkout_branch(&bare, "main", &root.path().join("reader"))
        .await
        .unwrap();
    assert!(!marker.exists(), "a planted hook ran on the host");
}

// 24
#[tokio::test]
async fn host_memory_and_ptrace_are_out_of_reach() {
    let mut host = HostSleeper::spawn(&[]);
    let pid = host.0.id();
    let host_init = std::fs::read("/proc/1/cmdline").unwrap();
    let ws = workspace();
    write(
        ws.path(),
        "peek.c",
        &format!(
            r#"#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
int main(void) {{
    printf("attaching\n");
    if (ptrace(PTRACE_ATTACH, {pid}, 0, 0) == 0) printf("ATTACHED\n");
    else printf("attach failed: %s\n", strerror(errno));
    int fd = open("/proc/{pid}/mem", O_RDONLY);
    if (fd >= 0) printf("OPENED host mem\n");
    else printf("open failed: %s\n", strerror(errno));
    FILE *f = fopen("/proc/1/cmdline", "r");
    char buf[256] = {{0}};
    if (f) {{ fread(buf, 1, sizeof buf - 1, f); printf("pid 1 is %s\n", buf); }}
    return 0;
}}
"#
        ),
    );
    let r = run(ws.path(), "cc -o peek peek.c && ./peek").await;
    assert!(r.success(), "{r:?}");
    assert!(
        r.output_tail.contains("attach failed: No such process"),
        "{r:?}"
    );
    assert!(
        r.output_tail
            .contains("open failed: No such file or directory"),
        "{r:?}"
    );
    assert!(!r.output_tail.contains("ATTACHED") && !r.output_tail.contains("OPENED"));
    let host_init = String::from_utf8_lossy(&host_init);
    let host_init = host_init.split('\0').next().unwrap();
    assert!(
        !r.output_tail.contains(&format!("pid 1 is {host_init}\n")),
        "{r:?}"
    );
    assert!(host.alive());
}

#[tokio::test]
async fn toolchains_outside_usr_work_inside() {
    let ws = workspace();
    let r = run(
        ws.path(),
        "cargo --version && python3 -c 1 && node -e 1 && npm --version && php -v \
         && git --version && echo all-ok",
    )
    .await;
    assert!(r.success(), "{r:?}");
    assert!(r.output_tail.contains("all-ok"), "{r:?}");
}

#[tokio::test]
async fn writable_caches_are_shared_with_the_host() {
    let cache = tempfile::tempdir().unwrap();
    let npm = cache.path().join("npm");
    let ws = workspace();
    let mut s = spec(ws.path(), &format!("echo cached > {}/entry", npm.display()));
    s.writable = vec![npm.clone()];
    let r = sandbox().run(&s, None).await.unwrap();
    assert!(r.success(), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(npm.join("entry")).unwrap(),
        "cached\n"
    );
}

#[tokio::test]
async fn mode_none_runs_and_says_so() {
    let sandbox = Sandbox::new(&Config {
        mode: Mode::None,
        bwrap: "/nonexistent/bwrap".into(),
        ..Config::default()
    })
    .unwrap();
    assert_eq!(sandbox.isolation(), "none");
    assert_eq!(sandbox.enforcement().memory, "none");
    let ws = workspace();
    let r = sandbox
        .run(&spec(ws.path(), "echo plain"), None)
        .await
        .unwrap();
    assert!(r.success());
    assert_eq!(r.output_tail, "plain\n");
}

#[test]
fn a_missing_bwrap_is_a_precise_error() {
    let err = Sandbox::new(&Config {
        bwrap: "/nonexistent/bwrap".into(),
        ..Config::default()
    })
    .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }));
    let text = err.to_string();
    assert!(text.contains("cannot run `/nonexistent/bwrap`"), "{text}");
    assert!(text.contains("apt-get install bubblewrap"), "{text}");
    assert!(text.contains("[sandbox] mode = \"none\""), "{text}");
}

#[test]
fn this_host_caps_memory_and_processes_with_cgroups() {
    let sandbox = sandbox();
    assert_eq!(sandbox.isolation(), "bubblewrap");
    let e = sandbox.enforcement();
    eprintln!("{e:?}");
    assert!(e.memory.starts_with("cgroup"), "{e:?}");
    assert!(e.processes.starts_with("cgroup"), "{e:?}");
}
