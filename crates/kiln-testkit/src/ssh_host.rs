//! A real deploy host on loopback for ssh-target tests: an `sshd` that accepts one generated key
//! and an `nginx` whose server block includes a per-test apps directory, both with every file
//! (keys, configs, pids, logs, the "remote" root) in one temp dir, and both killed on drop.
//!
//! Needs root (sshd's privilege separation, and the test logs in as root), `/usr/sbin/sshd`,
//! `/usr/sbin/nginx` and `ssh-keygen`. PM2, for process apps (systemd does not run in test
//! containers), is installed with npm once per machine into `temp_dir()/kiln-test-pm2`; each
//! host gets its own `PM2_HOME`, so its daemon and apps are its own and die with it.

use std::fs::{self, File};
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
const NGINX: &str = "/usr/sbin/nginx";
const STARTUP: Duration = Duration::from_secs(15);
/// PM2 major line the tests are written against.
const PM2_PACKAGE: &str = "pm2@5";

/// A running sshd + nginx pair. Fields are what an ssh target's config needs.
pub struct SshHost {
    dir: tempfile::TempDir,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Client key sshd accepts.
    pub identity_file: PathBuf,
    /// known_hosts naming this sshd's host key for `[127.0.0.1]:port`.
    pub known_hosts_file: PathBuf,
    /// Where releases go "on the host" (same filesystem as the test).
    pub remote_root: PathBuf,
    /// Directory nginx includes `*.conf` from.
    pub nginx_apps_dir: PathBuf,
    pub nginx_test: String,
    pub nginx_reload: String,
    /// `http://127.0.0.1:<nginx port>`.
    pub public_url: String,
    sshd: Option<Child>,
    nginx: Option<Child>,
    nginx_base: String,
    pm2_home: PathBuf,
    pm2_used: bool,
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free loopback port")
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn keygen(path: &Path) {
    run(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "kiln-test", "-f"])
            .arg(path),
        "ssh-keygen",
    );
}

/// Waits until `port` accepts connections and, for sshd, sends its banner.
fn wait_listening(port: u16, banner: Option<&str>, child: &mut Child, what: &str) {
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut stderr);
            }
            panic!("{what} exited during startup ({status}): {stderr}");
        }
        if let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
            let Some(banner) = banner else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 64];
            if let Ok(n) = stream.read(&mut buf)
                && String::from_utf8_lossy(&buf[..n]).starts_with(banner)
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within {STARTUP:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl SshHost {
    /// Starts sshd and nginx; panics with the reason if either cannot start.
    pub fn start() -> SshHost {
        let dir = tempfile::Builder::new()
            .prefix("kiln-ssh-host")
            .tempdir()
            .expect("tempdir");
        let base = dir.path().to_path_buf();
        let remote_root = base.join("remote");
        let apps = base.join("apps");
        let ngx = base.join("nginx");
        for path in [&remote_root, &apps, &ngx.join("tmp")] {
            fs::create_dir_all(path).expect("create host dirs");
        }
        // sshd refuses to start without its privilege separation directory.
        fs::create_dir_all("/run/sshd").expect("create /run/sshd");

        let host_key = base.join("ssh_host_ed25519_key");
        let identity_file = base.join("id_client");
        keygen(&host_key);
        keygen(&identity_file);
        let authorized = base.join("authorized_keys");
        fs::copy(identity_file.with_extension("pub"), &authorized).expect("authorized_keys");

        let port = free_port();
        let host_pub = fs::read_to_string(host_key.with_extension("pub")).expect("host key");
        let mut parts = host_pub.split_whitespace();
        let (kind, key) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let known_hosts_file = base.join("known_hosts");
        fs::write(
            &known_hosts_file,
            format!("[127.0.0.1]:{port} {kind} {key}\n"),
        )
        .expect("known_hosts");

        let sshd_config = base.join("sshd_config");
        fs::write(
            &sshd_config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {pid}\n\
AuthorizedKeysFile {authorized}\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\n\
PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
AllowTcpForwarding no\nX11Forwarding no\nPrintMotd no\nMaxStartups 100:30:200\nLogLevel ERROR\n",
                host_key = host_key.display(),
                pid = base.join("sshd.pid").display(),
                authorized = authorized.display(),
            ),
        )
        .expect("sshd_config");
        let mut sshd = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&sshd_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SSHD}: {e}"));
        wait_listening(port, Some("SSH-"), &mut sshd, "sshd");
        // Its stderr is only read on a failed start; a full pipe must not block it later.
        drop(sshd.stderr.take());

        let nginx_port = free_port();
        let mime = if Path::new("/etc/nginx/mime.types").is_file() {
            "include /etc/nginx/mime.types;".to_owned()
        } else {
            "types { text/html html; text/plain txt; application/javascript js; text/css css; }"
                .to_owned()
        };
        let conf = ngx.join("nginx.conf");
        let t = ngx.join("tmp");
        fs::write(
            &conf,
            format!(
                "# Workers run as root so they can read releases inside the 0700 temp dir.\n\
user root;\nworker_processes 1;\npid {pid};\nerror_log {err};\nevents {{ worker_connections 256; }}\n\
http {{\n  {mime}\n  default_type application/octet-stream;\n  access_log {access};\n\
  client_body_temp_path {t}/body;\n  proxy_temp_path {t}/proxy;\n  fastcgi_temp_path {t}/fastcgi;\n\
  uwsgi_temp_path {t}/uwsgi;\n  scgi_temp_path {t}/scgi;\n\
  server {{\n    listen 127.0.0.1:{nginx_port};\n    server_name _;\n    include {apps}/*.conf;\n  }}\n}}\n",
                pid = ngx.join("nginx.pid").display(),
                err = ngx.join("error.log").display(),
                access = ngx.join("access.log").display(),
                t = t.display(),
                apps = apps.display(),
            ),
        )
        .expect("nginx.conf");
        let nginx_base = format!(
            "{NGINX} -p {prefix}/ -c {conf} -e {err}",
            prefix = ngx.display(),
            conf = conf.display(),
            err = ngx.join("error.log").display(),
        );
        let mut nginx = Command::new(NGINX)
            .arg("-p")
            .arg(format!("{}/", ngx.display()))
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(ngx.join("error.log"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {NGINX}: {e}"));
        wait_listening(nginx_port, None, &mut nginx, "nginx");
        drop(nginx.stderr.take());

        SshHost {
            host: "127.0.0.1".into(),
            port,
            user: "root".into(),
            identity_file,
            known_hosts_file,
            remote_root,
            nginx_apps_dir: apps,
            nginx_test: format!("{nginx_base} -t -q"),
            nginx_reload: format!("{nginx_base} -s reload"),
            public_url: format!("http://127.0.0.1:{nginx_port}"),
            sshd: Some(sshd),
            nginx: Some(nginx),
            nginx_base,
            pm2_home: base.join("pm2-home"),
            pm2_used: false,
            dir,
        }
    }

    /// The temp dir holding everything of this host.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Simulates a host that is down: sshd stops listening (connections are refused).
    pub fn stop_sshd(&mut self) {
        if let Some(mut sshd) = self.sshd.take() {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
    }

    /// A freshly generated key sshd does not accept.
    pub fn wrong_identity(&self) -> PathBuf {
        let path = self.dir.path().join("id_wrong");
        if !path.exists() {
            keygen(&path);
        }
        path
    }

    /// nginx test and reload commands naming a binary that does not exist, as on a host
    /// without nginx.
    pub fn missing_nginx_commands(&self) -> (String, String) {
        let missing = self
            .nginx_base
            .replacen(NGINX, "/nonexistent/kiln-test/nginx", 1);
        (format!("{missing} -t -q"), format!("{missing} -s reload"))
    }

    /// A range of `count` ports free right now, so parallel tests on one machine do not pick
    /// the same app ports.
    pub fn free_port_block(&self, count: u16) -> (u16, u16) {
        for _ in 0..200 {
            let start = free_port();
            let Some(end) = start.checked_add(count.saturating_sub(1)) else {
                continue;
            };
            if (start..=end).all(|port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()) {
                return (start, end);
            }
        }
        panic!("no block of {count} free ports");
    }

    /// The `pm2` command line for this host (its own `PM2_HOME`), installing PM2 first if needed.
    pub fn pm2_command(&mut self) -> String {
        let bin = install_pm2();
        self.pm2_used = true;
        format!("env PM2_HOME={} {}", self.pm2_home.display(), bin.display())
    }

    /// Runs this host's pm2 with `args` locally and returns stdout (e.g. `jlist`).
    pub fn pm2(&self, args: &[&str]) -> String {
        let output = Command::new(install_pm2())
            .args(args)
            .env("PM2_HOME", &self.pm2_home)
            .output()
            .expect("run pm2");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// Installs PM2 with npm once per machine; a lock file serialises parallel test processes and
/// a marker file makes an interrupted install start over.
fn install_pm2() -> PathBuf {
    let root = std::env::temp_dir().join("kiln-test-pm2");
    let bin = root.join("node_modules/.bin/pm2");
    let marker = root.join(".installed");
    if marker.is_file() {
        return bin;
    }
    let lock_path = std::env::temp_dir().join("kiln-test-pm2.lock");
    let lock = File::create(&lock_path).expect("pm2 lock file");
    lock.lock().expect("lock pm2 install");
    if !marker.is_file() {
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("pm2 dir");
        run(
            Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&root)
                .arg(PM2_PACKAGE),
            "npm install pm2",
        );
        assert!(
            bin.exists(),
            "npm installed pm2 but {} is missing",
            bin.display()
        );
        fs::write(&marker, PM2_PACKAGE).expect("pm2 marker");
    }
    drop(lock);
    bin
}

impl Drop for SshHost {
    fn drop(&mut self) {
        if self.pm2_used {
            let _ = Command::new(install_pm2())
                .arg("kill")
                .env("PM2_HOME", &self.pm2_home)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(mut nginx) = self.nginx.take() {
            // The master stops its workers on a graceful stop; SIGKILL would orphan them.
            let _ = Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("{} -s stop", self.nginx_base))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = nginx.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = nginx.kill();
            let _ = nginx.wait();
        }
        self.stop_sshd();
    }
}
