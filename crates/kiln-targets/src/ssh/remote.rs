//! What the ssh target writes and runs on a host: its directory layout, the shell scripts sent
//! over ssh and the files they install (nginx snippet, systemd unit, PM2 ecosystem, launcher).
//! Everything here is a pure function of config and names, so the exact commands a host receives
//! are unit-tested without a host. Every interpolated value goes through [`q`], even names that
//! were validated, so a validation gap can never become a shell injection.

use std::borrow::Cow;

use super::{SshConfig, Supervisor};

/// Exit codes the scripts use to report outcomes the target maps to precise errors; chosen away
/// from 1 (generic failure), 127 (command not found) and 255 (ssh's own failures).
pub(crate) const EXIT_RELEASE_MISSING: i32 = 30;
pub(crate) const EXIT_NOT_READY: i32 = 31;
pub(crate) const EXIT_NGINX_REJECTED: i32 = 32;
pub(crate) const EXIT_NGINX_RELOAD: i32 = 33;
/// Separates structured lines from free text (logs, nginx output) in script output.
pub(crate) const SEPARATOR: &str = "---kiln---";

/// Quotes one word for a POSIX shell.
pub(crate) fn q(word: &str) -> String {
    match shlex::try_quote(word) {
        Ok(quoted) => quoted.into_owned(),
        // Only NUL bytes are refused; specs and config reject them, so this is defensive.
        Err(_) => shlex::try_quote(&word.replace('\0', ""))
            .map(Cow::into_owned)
            .unwrap_or_else(|_| "''".into()),
    }
}

/// The program an operator's command line runs, skipping `sudo`, `env` and their options and
/// assignments, so "is it installed" can be asked of the right word.
pub(crate) fn program_of(command: &str) -> String {
    let words = shlex::split(command).unwrap_or_else(|| {
        command
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let mut wrapper = false;
    for word in words {
        if word == "sudo" || word == "env" {
            wrapper = true;
            continue;
        }
        if word.contains('=') && !word.starts_with('/') || wrapper && word.starts_with('-') {
            continue;
        }
        return word;
    }
    command.trim().to_owned()
}

/// Checks whether a TCP port on the host's loopback accepts connections, with bash's /dev/tcp
/// or nc; returns 2 when neither exists so callers can tell "unknown" from "closed".
const PROBE: &str = r#"kiln_probe() {
  if command -v bash >/dev/null 2>&1; then
    bash -c ": </dev/tcp/127.0.0.1/$1" >/dev/null 2>&1
  elif command -v nc >/dev/null 2>&1; then
    nc -z 127.0.0.1 "$1" >/dev/null 2>&1
  else
    return 2
  fi
}
"#;

/// How a release is served, stored in the release as `.kiln/serve` so a rollback knows how to
/// start it without the original spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReleaseKind {
    /// Directory inside the release, `/`-separated, empty for the release root.
    Static {
        dir: String,
    },
    Process,
}

impl ReleaseKind {
    pub(crate) fn serve_file(&self) -> String {
        match self {
            ReleaseKind::Static { dir } => format!("static\n{dir}\n"),
            ReleaseKind::Process => "process\n".into(),
        }
    }

    pub(crate) fn parse(text: &str) -> Option<ReleaseKind> {
        let mut lines = text.lines();
        match lines.next()?.trim() {
            "process" => Some(ReleaseKind::Process),
            "static" => Some(ReleaseKind::Static {
                dir: lines.next().unwrap_or_default().trim().to_owned(),
            }),
            _ => None,
        }
    }
}

/// Remote paths and names of one app.
pub(crate) struct Layout<'a> {
    pub config: &'a SshConfig,
    pub app: &'a str,
}

impl Layout<'_> {
    pub(crate) fn root(&self) -> &str {
        self.config.remote_root.trim_end_matches('/')
    }

    pub(crate) fn app_dir(&self) -> String {
        format!("{}/{}", self.root(), self.app)
    }

    pub(crate) fn release(&self, commit: &str) -> String {
        format!("{}/releases/{commit}", self.app_dir())
    }

    fn port_file(&self) -> String {
        format!("{}/port", self.app_dir())
    }

    fn current(&self) -> String {
        format!("{}/current", self.app_dir())
    }

    fn snippet(&self) -> String {
        format!(
            "{}/{}.conf",
            self.config.nginx_apps_dir.trim_end_matches('/'),
            self.app
        )
    }

    pub(crate) fn unit_name(&self) -> String {
        format!("kiln-{}.service", self.app)
    }

    fn unit_file(&self) -> String {
        format!(
            "{}/{}",
            self.config.systemd_unit_dir.trim_end_matches('/'),
            self.unit_name()
        )
    }

    pub(crate) fn pm2_name(&self) -> String {
        format!("kiln-{}", self.app)
    }

    fn ecosystem(&self) -> String {
        format!("{}/pm2.ecosystem.json", self.app_dir())
    }

    pub(crate) fn url_prefix(&self) -> String {
        format!("/apps/{}", self.app)
    }

    /// The directory nginx serves for a static release, ending in `/` as `alias` needs.
    fn static_alias(&self, commit: &str, dir: &str) -> String {
        let dir = dir.trim_matches('/');
        if dir.is_empty() {
            format!("{}/", self.release(commit))
        } else {
            format!("{}/{dir}/", self.release(commit))
        }
    }
}

/// Read-only look at the host before anything changes: tools present, nginx config valid,
/// what is live. Prints `key value` lines, then [`SEPARATOR`] and nginx's test output.
pub(crate) fn preflight(layout: &Layout<'_>, commit: Option<&str>, process: bool) -> String {
    let config = layout.config;
    let nginx = q(&program_of(&config.nginx_test));
    let mut script = String::from("set -u\n");
    script.push_str(PROBE);
    script.push_str("command -v tar >/dev/null 2>&1 || echo 'missing tar'\n");
    script.push_str(&format!(
        "command -v {nginx} >/dev/null 2>&1 || echo 'missing nginx'\n"
    ));
    if process {
        let supervisor = q(&program_of(config.supervisor_command()));
        script.push_str(&format!(
            "command -v {supervisor} >/dev/null 2>&1 || echo 'missing supervisor'\n"
        ));
    }
    script.push_str(&format!(
        "printf 'current %s\\n' \"$(readlink {} 2>/dev/null || true)\"\n",
        q(&layout.current())
    ));
    script.push_str(&format!(
        "port=$(cat {} 2>/dev/null || true)\nprintf 'port %s\\n' \"$port\"\n",
        q(&layout.port_file())
    ));
    script.push_str("if [ -n \"$port\" ] && kiln_probe \"$port\"; then echo 'listening yes'; fi\n");
    if let Some(commit) = commit {
        script.push_str(&format!(
            "if [ -d {} ]; then echo 'release yes'; fi\n",
            q(&layout.release(commit))
        ));
    }
    script.push_str(&format!(
        "if [ -f {} ]; then echo 'snippet yes'; fi\n",
        q(&layout.snippet())
    ));
    script.push_str(&format!(
        "if command -v {nginx} >/dev/null 2>&1; then\n  out=$( {{ {test}\n}} 2>&1 ) && rc=0 || rc=$?\n  printf 'nginx-test %s\\n' \"$rc\"\n  echo {sep}\n  printf '%s\\n' \"$out\"\nfi\n",
        test = config.nginx_test,
        sep = q(SEPARATOR),
    ));
    script
}

/// What [`preflight`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Found {
    pub missing: Vec<String>,
    pub current: Option<String>,
    pub port: Option<u16>,
    pub listening: bool,
    pub release: bool,
    pub snippet: bool,
    pub nginx_status: Option<i32>,
    pub nginx_output: String,
}

pub(crate) fn parse_preflight(stdout: &str) -> Found {
    let (head, tail) = stdout.split_once(SEPARATOR).unwrap_or((stdout, ""));
    let mut found = Found {
        nginx_output: tail.trim().to_owned(),
        ..Found::default()
    };
    for line in head.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let value = value.trim();
        match key {
            "missing" => found.missing.push(value.to_owned()),
            "current" => found.current = commit_of_link(value),
            "port" => found.port = value.parse().ok(),
            "listening" => found.listening = true,
            "release" => found.release = true,
            "snippet" => found.snippet = true,
            "nginx-test" => found.nginx_status = value.parse().ok(),
            _ => {}
        }
    }
    found
}

/// `current` points at `releases/<commit>`; anything else is not ours.
pub(crate) fn commit_of_link(target: &str) -> Option<String> {
    let commit = target.trim().strip_prefix("releases/")?;
    crate::spec::valid_commit(commit).then(|| commit.to_owned())
}

/// Returns the app's port, choosing and recording the first free one in the range on first use.
/// A lock file serialises choices between deployers; a port is free when no other app recorded
/// it and nothing listens on it. Prints the port, or `none` when the range is used up.
pub(crate) fn ensure_port(layout: &Layout<'_>) -> String {
    let range = layout.config.ports;
    let port_file = q(&layout.port_file());
    format!(
        "set -eu\n{PROBE}mkdir -p {app_dir}\nexec 9>>{lock}\nif command -v flock >/dev/null 2>&1; then flock 9; fi\n\
if [ -s {port_file} ]; then cat {port_file}; exit 0; fi\n\
used=\" $(cat {root}/*/port 2>/dev/null | tr '\\n' ' ') \"\n\
p={start}\n\
while [ \"$p\" -le {end} ]; do\n\
  case \"$used\" in\n\
    *\" $p \"*) ;;\n\
    *) if ! kiln_probe \"$p\"; then printf '%s\\n' \"$p\" > {port_tmp}; mv {port_tmp} {port_file}; printf '%s\\n' \"$p\"; exit 0; fi ;;\n\
  esac\n\
  p=$((p + 1))\n\
done\n\
echo none\n",
        app_dir = q(&layout.app_dir()),
        lock = q(&format!("{}/.kiln-ports.lock", layout.root())),
        root = q(layout.root()),
        port_tmp = q(&format!("{}/port.tmp", layout.app_dir())),
        start = range.start,
        end = range.end,
    )
}

/// Unpacks the tar.gz on stdin into a temp dir and renames it into place, so an interrupted
/// upload never looks like a release. `version_file` (static apps) is written unless the build
/// already serves one.
pub(crate) fn upload(layout: &Layout<'_>, commit: &str, version_file: Option<&str>) -> String {
    let releases = format!("{}/releases", layout.app_dir());
    let mut script = format!(
        "set -eu\numask 022\nreleases={}\nrelease={}\ntmp=\"$releases/.tmp-\"{}\"-$$\"\n\
mkdir -p \"$releases\"\ntrap 'rm -rf \"$tmp\"' EXIT\nmkdir \"$tmp\"\n\
tar -xzf - --no-same-owner -C \"$tmp\"\n",
        q(&releases),
        q(&layout.release(commit)),
        q(commit),
    );
    if let Some(file) = version_file {
        let file = q(file);
        script.push_str(&format!(
            "if [ ! -f \"$tmp\"/{file} ]; then mkdir -p \"$(dirname \"$tmp\"/{file})\"; printf '%s' {commit} > \"$tmp\"/{file}; fi\n",
            commit = q(commit),
        ));
    }
    script.push_str("if [ ! -e \"$release\" ]; then mv \"$tmp\" \"$release\"; fi\n");
    script
}

/// Makes `commit` live: (re)starts the process under its supervisor and waits for its port,
/// installs the nginx snippet (restoring the old one if nginx rejects it), reloads nginx and
/// points `current` at the release last, so `current` never names something not serving.
pub(crate) fn switch(
    layout: &Layout<'_>,
    commit: &str,
    kind: &ReleaseKind,
    port: Option<u16>,
) -> String {
    let config = layout.config;
    let release = layout.release(commit);
    let mut script = format!(
        "set -eu\n{PROBE}if [ ! -d {release} ]; then echo 'release missing'; exit {EXIT_RELEASE_MISSING}; fi\n",
        release = q(&release),
    );
    match (kind, port) {
        (ReleaseKind::Process, Some(port)) => {
            script.push_str(&start_process(layout, commit));
            let tries = config.readiness_timeout_secs.max(1) * 5;
            script.push_str(&format!(
                "i=0\nuntil kiln_probe {port}; do\n  i=$((i + 1))\n  if [ \"$i\" -ge {tries} ]; then\n    echo 'not ready'\n    echo {sep}\n    {logs}\n    exit {EXIT_NOT_READY}\n  fi\n  sleep 0.2\ndone\n",
                sep = q(SEPARATOR),
                logs = process_logs(layout),
            ));
        }
        _ => script.push_str(&stop_process(layout)),
    }
    let snippet = match (kind, port) {
        (ReleaseKind::Process, Some(port)) => proxy_snippet(layout, commit, port),
        (ReleaseKind::Static { dir }, _) => static_snippet(layout, commit, dir),
        (ReleaseKind::Process, None) => String::new(),
    };
    let path = layout.snippet();
    script.push_str(&format!(
        "mkdir -p {dir}\nprintf '%s' {content} > {new}\n\
if [ -f {path} ]; then cp {path} {old}; else rm -f {old}; fi\n\
mv {new} {path}\n\
if ! out=$( {{ {test}\n}} 2>&1 ); then\n\
  if [ -f {old} ]; then mv {old} {path}; else rm -f {path}; fi\n\
  echo 'nginx rejected'\n  echo {sep}\n  printf '%s\\n' \"$out\"\n  exit {EXIT_NGINX_REJECTED}\nfi\n\
rm -f {old}\n\
if ! out=$( {{ {reload}\n}} 2>&1 ); then echo 'nginx reload failed'; echo {sep}; printf '%s\\n' \"$out\"; exit {EXIT_NGINX_RELOAD}; fi\n",
        dir = q(config.nginx_apps_dir.trim_end_matches('/')),
        content = q(&snippet),
        new = q(&format!("{path}.kiln-new")),
        old = q(&format!("{path}.kiln-old")),
        path = q(&path),
        test = config.nginx_test,
        reload = config.nginx_reload,
        sep = q(SEPARATOR),
    ));
    script.push_str(&format!(
        "ln -sfn {target} {tmp}\nmv -T {tmp} {current}\n",
        target = q(&format!("releases/{commit}")),
        tmp = q(&format!("{}.kiln-new", layout.current())),
        current = q(&layout.current()),
    ));
    script
}

/// Hands the release to the supervisor, replacing the previous release on the same port.
fn start_process(layout: &Layout<'_>, commit: &str) -> String {
    let config = layout.config;
    match config.supervisor {
        Supervisor::Systemd => {
            let systemctl = &config.systemctl;
            let unit = q(&layout.unit_name());
            format!(
                "mkdir -p {dir}\nprintf '%s' {content} > {tmp}\nmv {tmp} {file}\n\
{systemctl} daemon-reload\n{systemctl} enable --quiet {unit}\n{systemctl} restart {unit}\n",
                dir = q(config.systemd_unit_dir.trim_end_matches('/')),
                content = q(&systemd_unit(layout, commit)),
                tmp = q(&format!("{}.kiln-new", layout.unit_file())),
                file = q(&layout.unit_file()),
            )
        }
        Supervisor::Pm2 => {
            let pm2 = &config.pm2;
            format!(
                "printf '%s' {content} > {tmp}\nmv {tmp} {file}\n\
{pm2} delete {name} >/dev/null 2>&1 || true\n{pm2} start {file} >/dev/null\n",
                content = q(&pm2_ecosystem(layout, commit)),
                tmp = q(&format!("{}.kiln-new", layout.ecosystem())),
                file = q(&layout.ecosystem()),
                name = q(&layout.pm2_name()),
            )
        }
    }
}

/// Stops the app's process under either supervisor, whichever has it; nothing to stop is fine.
fn stop_process(layout: &Layout<'_>) -> String {
    let config = layout.config;
    format!(
        "if [ -f {eco} ]; then {pm2} delete {name} >/dev/null 2>&1 || true; rm -f {eco}; fi\n\
if [ -f {unit_file} ]; then {systemctl} stop {unit} || true; {systemctl} disable --quiet {unit} || true; rm -f {unit_file}; {systemctl} daemon-reload || true; fi\n",
        eco = q(&layout.ecosystem()),
        pm2 = config.pm2,
        name = q(&layout.pm2_name()),
        unit_file = q(&layout.unit_file()),
        systemctl = config.systemctl,
        unit = q(&layout.unit_name()),
    )
}

/// The last lines the supervisor captured, for a startup failure report.
fn process_logs(layout: &Layout<'_>) -> String {
    let config = layout.config;
    match config.supervisor {
        Supervisor::Systemd => format!(
            "journalctl -u {} -n 30 --no-pager 2>&1 || true",
            q(&layout.unit_name())
        ),
        Supervisor::Pm2 => format!(
            "{} logs {} --lines 30 --nostream --raw 2>&1 | tail -n 40 || true",
            config.pm2,
            q(&layout.pm2_name())
        ),
    }
}

/// Takes the app offline: process stopped, snippet removed and nginx reloaded, `current` gone.
/// With `delete`, also every release, the port record and the supervisor files.
pub(crate) fn stop(layout: &Layout<'_>, delete: bool) -> String {
    let config = layout.config;
    let path = q(&layout.snippet());
    let mut script = format!("set -u\n{}", stop_process(layout));
    script.push_str(&format!(
        "if [ -f {path} ]; then\n  rm -f {path}\n  if ! out=$( {{ {reload}\n}} 2>&1 ); then echo 'nginx reload failed'; echo {sep}; printf '%s\\n' \"$out\"; exit {EXIT_NGINX_RELOAD}; fi\nfi\nrm -f {current}\n",
        reload = config.nginx_reload,
        sep = q(SEPARATOR),
        current = q(&layout.current()),
    ));
    if delete {
        script.push_str(&format!("rm -rf {}\n", q(&layout.app_dir())));
    }
    script
}

/// Prints the live commit's link, the port and the release kind.
pub(crate) fn current(layout: &Layout<'_>) -> String {
    format!(
        "t=$(readlink {current} 2>/dev/null) || exit 0\nprintf 'current %s\\n' \"$t\"\n\
printf 'port %s\\n' \"$(cat {port} 2>/dev/null || true)\"\necho {sep}\ncat {app_dir}/\"$t\"/.kiln/serve 2>/dev/null || true\n",
        current = q(&layout.current()),
        port = q(&layout.port_file()),
        sep = q(SEPARATOR),
        app_dir = q(&layout.app_dir()),
    )
}

/// Prints how a release is served, or exits with [`EXIT_RELEASE_MISSING`].
pub(crate) fn release_kind(layout: &Layout<'_>, commit: &str) -> String {
    format!(
        "release={}\nif [ ! -d \"$release\" ] || [ ! -f \"$release/.kiln/serve\" ]; then exit {EXIT_RELEASE_MISSING}; fi\ncat \"$release/.kiln/serve\"\n",
        q(&layout.release(commit))
    )
}

/// nginx forwards `/apps/<app>/...` to the app's port with the prefix stripped, like the local
/// target's proxy. `X-Kiln-Release` lets the deployer see when a reload took effect.
pub(crate) fn proxy_snippet(layout: &Layout<'_>, commit: &str, port: u16) -> String {
    let prefix = layout.url_prefix();
    format!(
        "# Generated by kiln for app {app} at {commit}; rewritten on every deploy.\n\
location = {prefix} {{\n    absolute_redirect off;\n    return 301 {prefix}/$is_args$args;\n}}\n\
location {prefix}/ {{\n\
    proxy_pass http://127.0.0.1:{port}/;\n\
    proxy_http_version 1.1;\n\
    proxy_set_header Host $http_host;\n\
    proxy_set_header X-Real-IP $remote_addr;\n\
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
    proxy_set_header X-Forwarded-Proto $scheme;\n\
    proxy_set_header X-Forwarded-Prefix {prefix};\n\
    proxy_set_header Upgrade $http_upgrade;\n\
    proxy_set_header Connection $http_connection;\n\
    proxy_read_timeout 300s;\n\
    client_max_body_size 25m;\n\
    add_header X-Kiln-Release {commit} always;\n\
}}\n",
        app = layout.app,
    )
}

/// nginx serves the release directory itself; kiln's metadata in it is never served.
pub(crate) fn static_snippet(layout: &Layout<'_>, commit: &str, dir: &str) -> String {
    let prefix = layout.url_prefix();
    format!(
        "# Generated by kiln for app {app} at {commit}; rewritten on every deploy.\n\
location = {prefix} {{\n    absolute_redirect off;\n    return 301 {prefix}/$is_args$args;\n}}\n\
location {prefix}/ {{\n\
    alias {alias};\n\
    index index.html;\n\
    add_header X-Kiln-Release {commit} always;\n\
    location ~ /\\.kiln(/|$) {{\n        return 404;\n    }}\n\
}}\n",
        app = layout.app,
        alias = layout.static_alias(commit, dir),
    )
}

/// A unit per app; it runs the release's launcher, so the environment (secrets included) stays
/// in the release's 0600 env file instead of the world-readable unit.
pub(crate) fn systemd_unit(layout: &Layout<'_>, commit: &str) -> String {
    let release = layout.release(commit);
    format!(
        "# Generated by kiln; rewritten on every deploy.\n\
[Unit]\n\
Description=Kiln app {app} at {commit}\n\
After=network.target\n\
\n\
[Service]\n\
Type=simple\n\
WorkingDirectory={release}\n\
ExecStart=/bin/sh {release}/.kiln/start.sh\n\
Restart=always\n\
RestartSec=1\n\
\n\
[Install]\n\
WantedBy=multi-user.target\n",
        app = layout.app,
    )
}

/// A PM2 ecosystem file with one app that runs the release's launcher (no env in it, as for
/// systemd).
pub(crate) fn pm2_ecosystem(layout: &Layout<'_>, commit: &str) -> String {
    let release = layout.release(commit);
    let value = serde_json::json!({
        "apps": [{
            "name": layout.pm2_name(),
            "script": format!("{release}/.kiln/start.sh"),
            "interpreter": "/bin/sh",
            "cwd": release,
            "autorestart": true,
            "restart_delay": 1000,
            "max_restarts": 10,
            "min_uptime": 5000,
        }]
    });
    format!("{value:#}\n")
}

/// Starts the run command in the release with nothing but the app's own environment; the
/// supervisor's variables (and whatever PM2 carries) never reach the app.
pub(crate) fn launcher(layout: &Layout<'_>, commit: &str) -> String {
    format!(
        "#!/bin/sh\n# Generated by kiln: runs {app} at {commit} with only its own environment.\n\
cd {release} || exit 1\n\
exec env -i /bin/sh -c 'set -a; . ./.kiln/env; set +a; exec /bin/sh ./.kiln/run'\n",
        app = layout.app,
        release = q(&layout.release(commit)),
    )
}

/// The env file the launcher sources: one `NAME='value'` line per variable.
pub(crate) fn env_file(env: &[(String, String)]) -> String {
    env.iter()
        .map(|(key, value)| format!("{key}={}\n", q(value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::SshConfig;

    fn config(supervisor: Supervisor) -> SshConfig {
        let mut config = SshConfig::new(
            "web1.example",
            "deploy",
            "/keys/id".into(),
            "/keys/known_hosts".into(),
            "/srv/kiln",
            "http://web1.example",
            "/etc/nginx/kiln-apps",
        );
        config.supervisor = supervisor;
        config
    }

    #[test]
    fn quoting_survives_hostile_words() {
        assert_eq!(q("plain"), "plain");
        assert_eq!(q("it's; rm -rf /"), r#""it's; rm -rf /""#);
        assert_eq!(q("$(x) `y`"), "'$(x) `y`'");
    }

    #[test]
    fn program_skips_wrappers() {
        assert_eq!(program_of("nginx -t"), "nginx");
        assert_eq!(program_of("sudo -n /usr/sbin/nginx -t"), "/usr/sbin/nginx");
        assert_eq!(program_of("env PM2_HOME=/x /opt/pm2 start"), "/opt/pm2");
        assert_eq!(program_of("'/opt/my nginx' -t"), "/opt/my nginx");
    }

    #[test]
    fn proxy_snippet_strips_the_prefix_and_stamps_the_release() {
        let config = config(Supervisor::Systemd);
        let layout = Layout {
            config: &config,
            app: "todo",
        };
        let snippet = proxy_snippet(&layout, "abc123", 20007);
        assert!(snippet.contains("location /apps/todo/ {"), "{snippet}");
        assert!(snippet.contains("proxy_pass http://127.0.0.1:20007/;"));
        assert!(snippet.contains("add_header X-Kiln-Release abc123 always;"));
        assert!(snippet.contains("return 301 /apps/todo/$is_args$args;"));
    }

    #[test]
    fn static_snippet_aliases_the_release_dir() {
        let config = config(Supervisor::Systemd);
        let layout = Layout {
            config: &config,
            app: "site",
        };
        let snippet = static_snippet(&layout, "c1", "dist");
        assert!(
            snippet.contains("alias /srv/kiln/site/releases/c1/dist/;"),
            "{snippet}"
        );
        let root = static_snippet(&layout, "c1", "");
        assert!(
            root.contains("alias /srv/kiln/site/releases/c1/;"),
            "{root}"
        );
        assert!(root.contains(r"location ~ /\.kiln(/|$)"));
    }

    #[test]
    fn systemd_unit_runs_the_launcher_without_secrets() {
        let config = config(Supervisor::Systemd);
        let layout = Layout {
            config: &config,
            app: "api",
        };
        let unit = systemd_unit(&layout, "c9");
        assert!(unit.contains("ExecStart=/bin/sh /srv/kiln/api/releases/c9/.kiln/start.sh\n"));
        assert!(unit.contains("WorkingDirectory=/srv/kiln/api/releases/c9\n"));
        assert!(unit.contains("Restart=always\n"));
        assert!(unit.contains("WantedBy=multi-user.target\n"));
        assert!(!unit.contains("Environment"), "{unit}");
    }

    #[test]
    fn systemd_switch_reloads_enables_and_restarts_in_order() {
        let config = config(Supervisor::Systemd);
        let layout = Layout {
            config: &config,
            app: "api",
        };
        let script = switch(&layout, "c9", &ReleaseKind::Process, Some(20001));
        let order = [
            "/etc/systemd/system/kiln-api.service.kiln-new /etc/systemd/system/kiln-api.service",
            "systemctl daemon-reload\n",
            "systemctl enable --quiet kiln-api.service\n",
            "systemctl restart kiln-api.service\n",
            "until kiln_probe 20001",
            "nginx -t",
            "nginx -s reload",
            "mv -T /srv/kiln/api/current.kiln-new /srv/kiln/api/current",
        ];
        let mut at = 0;
        for step in order {
            let found = script[at..]
                .find(step)
                .unwrap_or_else(|| panic!("{step:?} missing or out of order in:\n{script}"));
            at += found + step.len();
        }
        assert!(!script.contains("pm2"), "{script}");
    }

    #[test]
    fn pm2_switch_replaces_the_app_from_its_ecosystem_file() {
        let mut config = config(Supervisor::Pm2);
        config.pm2 = "env PM2_HOME=/x pm2".into();
        let layout = Layout {
            config: &config,
            app: "api",
        };
        let script = switch(&layout, "c9", &ReleaseKind::Process, Some(20001));
        assert!(script.contains("env PM2_HOME=/x pm2 delete kiln-api >/dev/null 2>&1 || true\n"));
        assert!(script.contains("env PM2_HOME=/x pm2 start /srv/kiln/api/pm2.ecosystem.json"));
        let eco: serde_json::Value =
            serde_json::from_str(&pm2_ecosystem(&layout, "c9")).expect("json");
        assert_eq!(eco["apps"][0]["name"], "kiln-api");
        assert_eq!(
            eco["apps"][0]["script"],
            "/srv/kiln/api/releases/c9/.kiln/start.sh"
        );
    }

    #[test]
    fn env_file_is_sourceable_and_launcher_clears_the_environment() {
        let env = vec![
            ("A".to_owned(), "it's $HOME".to_owned()),
            ("B".to_owned(), "two\nlines".to_owned()),
        ];
        let text = env_file(&env);
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "set -a; {text}\nset +a; printf '%s|%s' \"$A\" \"$B\""
            ))
            .output()
            .expect("sh");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "it's $HOME|two\nlines"
        );
        let config = config(Supervisor::Pm2);
        let layout = Layout {
            config: &config,
            app: "api",
        };
        assert!(launcher(&layout, "c1").contains("exec env -i /bin/sh -c"));
    }

    #[test]
    fn preflight_output_parses() {
        let found = parse_preflight(
            "missing nginx\ncurrent releases/c1\nport 20001\nlistening yes\nsnippet yes\nnginx-test 1\n---kiln---\nsyntax error\n",
        );
        assert_eq!(found.missing, ["nginx"]);
        assert_eq!(found.current.as_deref(), Some("c1"));
        assert_eq!(found.port, Some(20001));
        assert!(found.listening && found.snippet && !found.release);
        assert_eq!(found.nginx_status, Some(1));
        assert_eq!(found.nginx_output, "syntax error");
        assert_eq!(commit_of_link("/etc/passwd"), None);
        assert_eq!(commit_of_link("releases/../x"), None);
    }

    #[test]
    fn release_kind_round_trips() {
        for kind in [
            ReleaseKind::Process,
            ReleaseKind::Static { dir: "dist".into() },
            ReleaseKind::Static { dir: String::new() },
        ] {
            assert_eq!(ReleaseKind::parse(&kind.serve_file()), Some(kind));
        }
    }
}
