//! What a sandboxed app may reach: the proxy reaches it through a Unix socket, and it reaches
//! its own database through a gate; nothing else (see [`kiln_sandbox::ServiceNetwork`]).
//!
//! Each release's instance gets a fresh directory under `<root>/.run/` (no app name starts with a dot) holding its two host
//! sockets: `http.sock` (the sandbox listens, the proxy connects) and `db.sock` (the gate
//! listens, the sandbox's bridge connects). The app sees neither path: inside, `http.sock` is
//! an inherited descriptor and `db.sock` a read-only bind, and its `DATABASE_URL` names
//! `127.0.0.1` and the port [`inside_port`] on its own loopback. That is never the server's
//! usual port, so the well-known `127.0.0.1:5432` (Kiln's own Postgres) or `:3306` is refused
//! outright inside, as every other port is.

use std::path::{Path, PathBuf};

use tracing::warn;

use super::dbgate::{Database, Gate, Kind};
use crate::Error;

/// Unix socket paths are limited to 108 bytes, the terminating NUL included.
const MAX_SOCKET_PATH: usize = 107;

/// The host side of one instance's network; dropping it stops the gate and removes the
/// directory with its sockets.
#[derive(Debug)]
pub(crate) struct AppNetwork {
    _dir: tempfile::TempDir,
    inbound: PathBuf,
    database: Option<(u16, Gate)>,
}

impl AppNetwork {
    /// Creates the sockets' directory under `run_dir` and starts the gate for `database`.
    pub(crate) fn create(
        run_dir: &Path,
        app: &str,
        database: Option<Database>,
    ) -> Result<AppNetwork, Error> {
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(run_dir).map_err(io("create", run_dir))?;
        // Short names: the whole socket path must fit a sockaddr_un.
        let dir = tempfile::Builder::new()
            .prefix("n")
            .tempdir_in(run_dir)
            .map_err(io("create a socket directory in", run_dir))?;
        let inbound = dir.path().join("http.sock");
        if inbound.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::InvalidSpec {
                app: app.to_owned(),
                reason: format!(
                    "the data directory is too deep for Unix sockets ({} is longer than {MAX_SOCKET_PATH} bytes)",
                    inbound.display()
                ),
            });
        }
        let database = match database {
            Some(database) => {
                let port = inside_port(database.kind);
                let socket = dir.path().join("db.sock");
                let gate = Gate::start(app, &socket, database).map_err(io("listen on", &socket))?;
                Some((port, gate))
            }
            None => None,
        };
        Ok(AppNetwork {
            _dir: dir,
            inbound,
            database,
        })
    }

    /// Where the proxy connects to reach the app.
    pub(crate) fn inbound(&self) -> &Path {
        &self.inbound
    }

    /// The app's port on its own loopback that leads to its database, if it has one.
    pub(crate) fn database_port(&self) -> Option<u16> {
        self.database.as_ref().map(|(port, _)| *port)
    }

    /// The sandbox's view: `port` is where the app listens inside.
    pub(crate) fn service_network(&self, port: u16) -> kiln_sandbox::ServiceNetwork {
        kiln_sandbox::ServiceNetwork {
            inbound: Some(kiln_sandbox::Inbound {
                socket: self.inbound.clone(),
                port,
            }),
            outbound: self
                .database
                .iter()
                .map(|(port, gate)| kiln_sandbox::Outbound {
                    port: *port,
                    socket: gate.socket().to_path_buf(),
                })
                .collect(),
        }
    }
}

/// The port on an app's own loopback that leads to its database server (through the gate).
/// Deliberately not the server's usual port: inside, 5432 and 3306 lead nowhere.
pub(crate) fn inside_port(kind: Kind) -> u16 {
    match kind {
        Kind::Postgres => 15432,
        Kind::Mysql => 13306,
    }
}

/// Reads an app's `DATABASE_URL` (`postgres://`, `postgresql://`, `mysql://` or
/// `mariadb://`) into the database it may reach, and the URL the app gets instead: the same
/// with host `127.0.0.1` and the port [`inside_port`]. `None` for anything else, which then
/// leads nowhere.
pub(crate) fn database(app: &str, url: &str) -> Option<(Database, String)> {
    let mut parsed = url::Url::parse(url).ok()?;
    let (kind, default_port) = match parsed.scheme() {
        "postgres" | "postgresql" => (Kind::Postgres, 5432),
        "mysql" | "mariadb" => (Kind::Mysql, 3306),
        other => {
            warn!(
                app,
                scheme = other,
                "DATABASE_URL has no gate for its scheme; it leads nowhere"
            );
            return None;
        }
    };
    let host = match parsed.host()? {
        url::Host::Domain(name) => name.to_owned(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    let port = parsed.port().unwrap_or(default_port);
    let user = decode(parsed.username())?;
    let name = decode(parsed.path().trim_start_matches('/'))?;
    let database = match kind {
        // The server reads a missing database as the user's name.
        Kind::Postgres if name.is_empty() => Some(user.clone()),
        _ if name.is_empty() => None,
        _ => Some(name),
    };
    parsed.set_host(Some("127.0.0.1")).ok()?;
    parsed.set_port(Some(inside_port(kind))).ok()?;
    Some((
        Database {
            kind,
            user,
            database,
            host,
            port,
        },
        parsed.to_string(),
    ))
}

fn decode(raw: &str) -> Option<String> {
    super::proxy::percent_decode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_points_at_the_apps_own_loopback() {
        let (db, url) = database("a", "postgres://kiln_a_1:pw@db.internal:6543/kiln_a_1").unwrap();
        assert_eq!(
            db,
            Database {
                kind: Kind::Postgres,
                user: "kiln_a_1".into(),
                database: Some("kiln_a_1".into()),
                host: "db.internal".into(),
                port: 6543,
            }
        );
        assert_eq!(url, "postgres://kiln_a_1:pw@127.0.0.1:15432/kiln_a_1");

        let (db, url) = database("a", "mysql://u%5Fx:pw@localhost/app%5Fdb").unwrap();
        assert_eq!((db.kind, db.port), (Kind::Mysql, 3306));
        assert_eq!(db.user, "u_x");
        assert_eq!(db.database.as_deref(), Some("app_db"));
        assert_eq!(url, "mysql://u%5Fx:pw@127.0.0.1:13306/app%5Fdb");

        let (db, _) = database("a", "postgresql://me@[::1]").unwrap();
        assert_eq!(db.host, "::1");
        assert_eq!(db.database.as_deref(), Some("me"));
        let (db, _) = database("a", "mariadb://me:pw@127.0.0.1:3307").unwrap();
        assert_eq!((db.port, db.database), (3307, None));

        assert_eq!(database("a", "redis://127.0.0.1:6379"), None);
        assert_eq!(database("a", "not a url"), None);
    }
}
