//! The door of a sandboxed app's only way out: its database connections arrive on a Unix
//! socket (through the sandbox's bridge) and go on to the real server only when they log in as
//! the app's own role or user to the app's own database.
//!
//! The database servers trust loopback more than apps deserve (Kiln's Postgres may allow the
//! superuser without a password, MariaDB's root may have none), so the check happens before
//! the server sees anything:
//!
//! - Postgres: SSLRequest and GSSENCRequest are answered `N` (the hop is a local socket, and
//!   the gate must read the startup packet); the StartupMessage (protocol 3.x) must name the
//!   app's `user` and `database` (absent means the user's name, as the server reads it) and
//!   no replication. Anything else is answered with an ErrorResponse (SQLSTATE 28000) and
//!   closed. CancelRequests are dropped: a cancel key names no user.
//! - MySQL/MariaDB: the server's greeting reaches the app without the TLS and compression
//!   capabilities, so the app's HandshakeResponse41 comes in the clear; its user must be the
//!   app's and its database, when given, the app's, or it gets an ERR packet (1045, 28000).
//!   Afterwards every command is framed and a COM_CHANGE_USER to anyone else ends the
//!   connection.
//!
//! The server still authenticates: the gate only narrows who may try.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

/// How long a client may take to say who it is.
const HANDSHAKE: Duration = Duration::from_secs(30);
/// The server's own limit for a startup packet.
const PG_MAX_STARTUP: usize = 10_000;
const MYSQL_MAX_HANDSHAKE: usize = 64 * 1024;

const PG_SSL_REQUEST: u32 = 80_877_103;
const PG_GSSENC_REQUEST: u32 = 80_877_104;
const PG_CANCEL_REQUEST: u32 = 80_877_102;

const CLIENT_CONNECT_WITH_DB: u32 = 0x0000_0008;
const CLIENT_COMPRESS: u32 = 0x0000_0020;
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
const CLIENT_SSL: u32 = 0x0000_0800;
const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x0020_0000;
const CLIENT_ZSTD_COMPRESSION: u32 = 0x0400_0000;
const COM_CHANGE_USER: u8 = 0x11;

/// Which wire protocol the app's database speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Postgres,
    Mysql,
}

/// The one database an app may reach, and where the real server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Database {
    pub kind: Kind,
    pub user: String,
    /// `None` (MySQL only): the URL names no database, so only "no database" passes.
    pub database: Option<String>,
    pub host: String,
    pub port: u16,
}

/// A running gate; dropping it stops accepting and ends its connections.
#[derive(Debug)]
pub(crate) struct Gate {
    socket: PathBuf,
    task: JoinHandle<()>,
}

impl Gate {
    /// Listens on `socket` (a path of the target's own, never visible to the app).
    pub(crate) fn start(app: &str, socket: &Path, database: Database) -> std::io::Result<Gate> {
        let listener = UnixListener::bind(socket)?;
        let task = tokio::spawn(serve(listener, Arc::new((app.to_owned(), database))));
        Ok(Gate {
            socket: socket.to_path_buf(),
            task,
        })
    }

    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: UnixListener, allowed: Arc<(String, Database)>) {
    // Owned here, so aborting the gate ends every connection it carries.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    let allowed = allowed.clone();
                    connections.spawn(async move {
                        let (app, database) = &*allowed;
                        let outcome = match database.kind {
                            Kind::Postgres => postgres(client, database).await,
                            Kind::Mysql => mysql(client, database).await,
                        };
                        match outcome {
                            Ok(()) => {}
                            Err(Refused(why)) => warn!(app = %app, why, "database connection refused"),
                            Err(Failed(why)) => debug!(app = %app, why, "database connection ended"),
                        }
                    });
                }
                Err(err) => {
                    warn!(error = %err, "database gate cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Why a connection ended early: refused by the gate, or broken on the way.
#[derive(Debug)]
enum Outcome {
    Refused(String),
    Failed(String),
}
use Outcome::{Failed, Refused};

fn failed(what: &'static str) -> impl Fn(std::io::Error) -> Outcome {
    move |e| Failed(format!("{what}: {e}"))
}

async fn upstream(database: &Database) -> Result<TcpStream, Outcome> {
    TcpStream::connect((database.host.as_str(), database.port))
        .await
        .map_err(failed("connecting to the database server"))
}

async fn postgres(mut client: UnixStream, database: &Database) -> Result<(), Outcome> {
    let startup = tokio::time::timeout(HANDSHAKE, pg_startup(&mut client))
        .await
        .map_err(|_| Failed("no startup message in time".into()))??;
    let Some(startup) = startup else {
        return Ok(());
    };
    if let Err(why) = pg_check(&startup[4..], database) {
        let _ = client.write_all(&pg_error(&why)).await;
        let _ = client.shutdown().await;
        return Err(Refused(why));
    }
    let mut server = upstream(database).await?;
    server
        .write_all(&startup)
        .await
        .map_err(failed("writing the startup message"))?;
    tokio::io::copy_bidirectional(&mut client, &mut server)
        .await
        .map_err(failed("relaying"))?;
    Ok(())
}

/// Reads up to the StartupMessage, answering encryption requests with `N`; `None` for a
/// cancel request. Returns the whole message, length included.
async fn pg_startup(client: &mut UnixStream) -> Result<Option<Vec<u8>>, Outcome> {
    // A client asks for TLS, then GSS at most once each before it starts up.
    for _ in 0..3 {
        let len = client
            .read_u32()
            .await
            .map_err(failed("reading the startup length"))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if !(8..=PG_MAX_STARTUP).contains(&len) {
            return Err(Refused(format!("startup packet of {len} bytes")));
        }
        let mut message = vec![0; len];
        message[..4].copy_from_slice(&u32::try_from(len).unwrap_or(0).to_be_bytes());
        client
            .read_exact(&mut message[4..])
            .await
            .map_err(failed("reading the startup packet"))?;
        let code = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
        match code {
            PG_SSL_REQUEST | PG_GSSENC_REQUEST => client
                .write_all(b"N")
                .await
                .map_err(failed("declining encryption"))?,
            PG_CANCEL_REQUEST => return Ok(None),
            _ => return Ok(Some(message)),
        }
    }
    Err(Refused("too many encryption requests".into()))
}

/// Checks a StartupMessage body (after the length): protocol 3.x, the app's user and
/// database, no replication.
fn pg_check(body: &[u8], database: &Database) -> Result<(), String> {
    let version = body
        .get(..4)
        .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
        .unwrap_or(0);
    if version >> 16 != 3 {
        return Err(format!("unsupported protocol version {version:#x}"));
    }
    let mut fields = body[4..].split(|&b| b == 0);
    let mut user = None;
    let mut db = None;
    loop {
        let key = fields.next().ok_or("unterminated startup parameters")?;
        if key.is_empty() {
            break;
        }
        let value = fields.next().ok_or("unterminated startup parameters")?;
        let value = String::from_utf8_lossy(value).into_owned();
        match key {
            b"user" => user = Some(value),
            b"database" => db = Some(value),
            b"replication" if !matches!(value.as_str(), "false" | "off" | "no" | "0") => {
                return Err("replication connections are not allowed".into());
            }
            _ => {}
        }
    }
    let user = user.ok_or("no user in the startup message")?;
    let db = db.filter(|d| !d.is_empty()).unwrap_or_else(|| user.clone());
    if user != database.user || Some(&db) != database.database.as_ref() {
        return Err(format!(
            "user {user:?} to database {db:?}: this app may connect only as its own role to its own database"
        ));
    }
    Ok(())
}

/// A FATAL ErrorResponse with SQLSTATE 28000 (invalid authorization specification).
fn pg_error(message: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (code, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "28000"),
        (b'M', message),
    ] {
        fields.push(code);
        fields.extend_from_slice(value.replace('\0', " ").as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut out = vec![b'E'];
    out.extend_from_slice(&u32::try_from(fields.len() + 4).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&fields);
    out
}

async fn mysql(mut client: UnixStream, database: &Database) -> Result<(), Outcome> {
    let mut server = upstream(database).await?;
    let handshake = async {
        let (seq, mut greeting) = read_packet(&mut server, MYSQL_MAX_HANDSHAKE).await?;
        let is_error = greeting.first() == Some(&0xFF);
        if !is_error {
            mysql_strip_greeting(&mut greeting).map_err(Refused)?;
        }
        write_packet(&mut client, seq, &greeting)
            .await
            .map_err(failed("sending the greeting"))?;
        if is_error {
            return Ok(None);
        }
        let (seq, response) = read_packet(&mut client, MYSQL_MAX_HANDSHAKE).await?;
        Ok::<_, Outcome>(Some((seq, response)))
    };
    let Some((seq, response)) = tokio::time::timeout(HANDSHAKE, handshake)
        .await
        .map_err(|_| Failed("no handshake in time".into()))??
    else {
        return Ok(());
    };
    if let Err(why) = mysql_check(&response, database) {
        let _ = write_packet(&mut client, seq.wrapping_add(1), &mysql_error(&why)).await;
        let _ = client.shutdown().await;
        return Err(Refused(why));
    }
    write_packet(&mut server, seq, &response)
        .await
        .map_err(failed("forwarding the handshake"))?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let to_client = async {
        tokio::io::copy(&mut server_read, &mut client_write)
            .await
            .map_err(failed("relaying"))?;
        let _ = client_write.shutdown().await;
        Ok::<(), Outcome>(())
    };
    let to_server = mysql_commands(&mut client_read, &mut server_write, database);
    // Either side ending (or a refused command) ends the connection.
    tokio::select! {
        done = to_client => done,
        done = to_server => done,
    }
}

/// Relays client packets, refusing a COM_CHANGE_USER to anyone but the app's user. A
/// command is a packet with sequence id 0; the server rejects commands numbered otherwise.
async fn mysql_commands(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    database: &Database,
) -> Result<(), Outcome> {
    loop {
        let mut header = [0u8; 4];
        match from.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                let _ = to.shutdown().await;
                return Ok(());
            }
            Err(e) => return Err(Failed(format!("reading a command: {e}"))),
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        if header[3] == 0 && len > 0 {
            let mut first = [0u8; 1];
            from.read_exact(&mut first)
                .await
                .map_err(failed("reading a command"))?;
            if first[0] == COM_CHANGE_USER {
                if len > MYSQL_MAX_HANDSHAKE {
                    return Err(Refused("oversized COM_CHANGE_USER".into()));
                }
                let mut rest = vec![0; len - 1];
                from.read_exact(&mut rest)
                    .await
                    .map_err(failed("reading COM_CHANGE_USER"))?;
                let user = rest.split(|&b| b == 0).next().unwrap_or_default();
                if user != database.user.as_bytes() {
                    return Err(Refused(format!(
                        "COM_CHANGE_USER to {:?}: this app may connect only as its own user",
                        String::from_utf8_lossy(user)
                    )));
                }
                to.write_all(&header).await.map_err(failed("relaying"))?;
                to.write_all(&first).await.map_err(failed("relaying"))?;
                to.write_all(&rest).await.map_err(failed("relaying"))?;
                continue;
            }
            to.write_all(&header).await.map_err(failed("relaying"))?;
            to.write_all(&first).await.map_err(failed("relaying"))?;
            copy_exact(from, to, len - 1).await?;
        } else {
            to.write_all(&header).await.map_err(failed("relaying"))?;
            copy_exact(from, to, len).await?;
        }
    }
}

async fn copy_exact(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    len: usize,
) -> Result<(), Outcome> {
    let want = len as u64;
    let copied = tokio::io::copy(&mut from.take(want), to)
        .await
        .map_err(failed("relaying"))?;
    if copied == want {
        Ok(())
    } else {
        Err(Failed("the client ended inside a packet".into()))
    }
}

async fn read_packet(
    from: &mut (impl AsyncRead + Unpin),
    max: usize,
) -> Result<(u8, Vec<u8>), Outcome> {
    let mut header = [0u8; 4];
    from.read_exact(&mut header)
        .await
        .map_err(failed("reading a packet"))?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    if len > max {
        return Err(Refused(format!("handshake packet of {len} bytes")));
    }
    let mut payload = vec![0; len];
    from.read_exact(&mut payload)
        .await
        .map_err(failed("reading a packet"))?;
    Ok((header[3], payload))
}

async fn write_packet(
    to: &mut (impl AsyncWrite + Unpin),
    seq: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    to.write_all(&[len[0], len[1], len[2], seq]).await?;
    to.write_all(payload).await
}

/// Takes TLS and compression out of a HandshakeV10's capabilities, so the client's answer
/// can be read and its commands framed.
fn mysql_strip_greeting(greeting: &mut [u8]) -> Result<(), String> {
    if greeting.first() != Some(&10) {
        return Err("not a protocol 10 greeting".into());
    }
    let version_end = greeting
        .iter()
        .skip(1)
        .position(|&b| b == 0)
        .ok_or("greeting without a server version")?
        + 1;
    // version NUL, connection id (4), auth data part 1 (8), filler (1).
    let lower = version_end + 1 + 4 + 8 + 1;
    // capabilities lower (2), character set (1), status (2).
    let upper = lower + 2 + 1 + 2;
    if greeting.len() < upper + 2 {
        return Err("short greeting".into());
    }
    let caps = u32::from(u16::from_le_bytes([greeting[lower], greeting[lower + 1]]))
        | u32::from(u16::from_le_bytes([greeting[upper], greeting[upper + 1]])) << 16;
    let caps = caps & !(CLIENT_SSL | CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION);
    let bytes = caps.to_le_bytes();
    greeting[lower..lower + 2].copy_from_slice(&bytes[..2]);
    greeting[upper..upper + 2].copy_from_slice(&bytes[2..]);
    Ok(())
}

/// Checks a HandshakeResponse41: no TLS or compression, the app's user and (when named) its
/// database.
fn mysql_check(response: &[u8], database: &Database) -> Result<(), String> {
    let caps = response
        .get(..4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .ok_or("short handshake response")?;
    if caps & CLIENT_SSL != 0 {
        return Err("TLS was not offered".into());
    }
    if caps & CLIENT_PROTOCOL_41 == 0 {
        return Err("pre-4.1 handshake".into());
    }
    if caps & (CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION) != 0 {
        return Err("compression was not offered".into());
    }
    // capabilities (4), max packet (4), character set (1), filler (23).
    let rest = response.get(32..).ok_or("short handshake response")?;
    let (user, rest) = cstr(rest).ok_or("handshake response without a user")?;
    let rest = if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        let (len, rest) = lenenc(rest).ok_or("bad auth data")?;
        rest.get(len..).ok_or("bad auth data")?
    } else if caps & CLIENT_SECURE_CONNECTION != 0 {
        let (&len, rest) = rest.split_first().ok_or("bad auth data")?;
        rest.get(usize::from(len)..).ok_or("bad auth data")?
    } else {
        cstr(rest).ok_or("bad auth data")?.1
    };
    let db = if caps & CLIENT_CONNECT_WITH_DB != 0 {
        cstr(rest).map(|(db, _)| db).filter(|db| !db.is_empty())
    } else {
        None
    };
    let user = String::from_utf8_lossy(user);
    let db = db.map(String::from_utf8_lossy);
    let db_allowed = match &db {
        None => true,
        Some(db) => Some(db.as_ref()) == database.database.as_deref(),
    };
    if user != database.user || !db_allowed {
        return Err(format!(
            "user {user:?} to database {:?}: this app may connect only as its own user to its own database",
            db.as_deref().unwrap_or("")
        ));
    }
    Ok(())
}

/// An ERR packet: 1045 (access denied), SQLSTATE 28000.
fn mysql_error(message: &str) -> Vec<u8> {
    let mut out = vec![0xFF];
    out.extend_from_slice(&1045u16.to_le_bytes());
    out.extend_from_slice(b"#28000");
    out.extend_from_slice(message.as_bytes());
    out
}

fn cstr(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == 0)?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

fn lenenc(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = bytes.split_first()?;
    let width = match first {
        0..=0xFA => return Some((usize::from(first), rest)),
        0xFC => 2,
        0xFD => 3,
        0xFE => 8,
        _ => return None,
    };
    let raw = rest.get(..width)?;
    let mut value = [0u8; 8];
    value[..width].copy_from_slice(raw);
    Some((
        usize::try_from(u64::from_le_bytes(value)).ok()?,
        &rest[width..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(kind: Kind) -> Database {
        Database {
            kind,
            user: "kiln_app_1234".into(),
            database: Some("kiln_app_1234".into()),
            host: "127.0.0.1".into(),
            port: 5432,
        }
    }

    fn startup(params: &[(&str, &str)]) -> Vec<u8> {
        let mut body = 196_608u32.to_be_bytes().to_vec();
        for (k, v) in params {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        body
    }

    #[test]
    fn postgres_lets_only_the_apps_role_into_the_apps_database() {
        let d = db(Kind::Postgres);
        let own = "kiln_app_1234";
        assert_eq!(
            pg_check(&startup(&[("user", own), ("database", own)]), &d),
            Ok(())
        );
        // No database means the user's name.
        assert_eq!(pg_check(&startup(&[("user", own)]), &d), Ok(()));
        assert_eq!(
            pg_check(
                &startup(&[
                    ("user", own),
                    ("replication", "false"),
                    ("application_name", "x")
                ]),
                &d
            ),
            Ok(())
        );
        for bad in [
            startup(&[("user", "postgres"), ("database", own)]),
            startup(&[("user", own), ("database", "postgres")]),
            startup(&[("user", own), ("database", "kiln")]),
            startup(&[("database", own)]),
            startup(&[("user", own), ("replication", "database")]),
            startup(&[("user", "postgres")]),
        ] {
            assert!(pg_check(&bad, &d).is_err(), "{bad:?} passed");
        }
        // Protocol 2 and truncated parameters.
        let mut v2 = startup(&[("user", own)]);
        v2[..4].copy_from_slice(&131_072u32.to_be_bytes());
        assert!(pg_check(&v2, &d).is_err());
        let mut cut = startup(&[("user", own)]);
        cut.truncate(cut.len() - 2);
        assert!(pg_check(&cut, &d).is_err());
    }

    #[test]
    fn postgres_refusal_is_a_well_formed_error_response() {
        let e = pg_error("no");
        assert_eq!(e[0], b'E');
        let len = u32::from_be_bytes([e[1], e[2], e[3], e[4]]) as usize;
        assert_eq!(len + 1, e.len());
        assert!(e.ends_with(b"Mno\0\0"));
        assert!(e.windows(6).any(|w| w == b"C28000"));
    }

    /// A HandshakeResponse41 as MariaDB's client writes it.
    fn response(caps: u32, user: &str, db: Option<&str>) -> Vec<u8> {
        let mut caps = caps | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION;
        if db.is_some() {
            caps |= CLIENT_CONNECT_WITH_DB;
        }
        let mut out = caps.to_le_bytes().to_vec();
        out.extend_from_slice(&(1u32 << 24).to_le_bytes());
        out.push(45);
        out.extend_from_slice(&[0; 23]);
        out.extend_from_slice(user.as_bytes());
        out.push(0);
        out.push(20);
        out.extend_from_slice(&[7; 20]);
        if let Some(db) = db {
            out.extend_from_slice(db.as_bytes());
            out.push(0);
        }
        out.extend_from_slice(b"mysql_native_password\0");
        out
    }

    #[test]
    fn mysql_lets_only_the_apps_user_into_the_apps_database() {
        let d = db(Kind::Mysql);
        let own = "kiln_app_1234";
        assert_eq!(mysql_check(&response(0, own, Some(own)), &d), Ok(()));
        assert_eq!(mysql_check(&response(0, own, None), &d), Ok(()));
        for bad in [
            response(0, "root", Some(own)),
            response(0, "root", None),
            response(0, own, Some("mysql")),
            response(CLIENT_SSL, own, Some(own)),
            response(CLIENT_COMPRESS, own, Some(own)),
        ] {
            assert!(mysql_check(&bad, &d).is_err(), "{bad:?} passed");
        }
        // The 32-byte SSLRequest that precedes a TLS handshake.
        let ssl = response(CLIENT_SSL, "", None)[..32].to_vec();
        assert!(mysql_check(&ssl, &d).is_err());
        // Length-encoded auth data.
        let mut lenenc_auth =
            (CLIENT_PROTOCOL_41 | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_WITH_DB)
                .to_le_bytes()
                .to_vec();
        lenenc_auth.extend_from_slice(&[0; 28]);
        lenenc_auth.extend_from_slice(b"root\0");
        lenenc_auth.extend_from_slice(&[0xFC, 3, 0, 1, 2, 3]);
        lenenc_auth.extend_from_slice(format!("{own}\0").as_bytes());
        assert!(mysql_check(&lenenc_auth, &d).is_err());
    }

    #[test]
    fn the_greeting_loses_tls_and_compression_only() {
        let mut greeting = vec![10];
        greeting.extend_from_slice(b"10.11.6-MariaDB\0");
        greeting.extend_from_slice(&7u32.to_le_bytes());
        greeting.extend_from_slice(&[1; 8]);
        greeting.push(0);
        let caps: u32 = 0xF7FF_FFFF;
        greeting.extend_from_slice(&caps.to_le_bytes()[..2]);
        greeting.push(45);
        greeting.extend_from_slice(&[2, 0]);
        greeting.extend_from_slice(&caps.to_le_bytes()[2..]);
        greeting.extend_from_slice(&[21; 11]);
        mysql_strip_greeting(&mut greeting).unwrap();
        let at = 1 + 16 + 4 + 8 + 1;
        let lower = u16::from_le_bytes([greeting[at], greeting[at + 1]]);
        let upper = u16::from_le_bytes([greeting[at + 5], greeting[at + 6]]);
        let stripped = u32::from(lower) | u32::from(upper) << 16;
        assert_eq!(
            stripped,
            caps & !(CLIENT_SSL | CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION)
        );
        assert!(mysql_strip_greeting(&mut [9, 0]).is_err());
    }

    #[tokio::test]
    async fn mysql_commands_refuse_a_change_to_another_user() {
        let d = db(Kind::Mysql);
        let packet = |seq: u8, payload: &[u8]| {
            let mut p = u32::try_from(payload.len()).unwrap().to_le_bytes()[..3].to_vec();
            p.push(seq);
            p.extend_from_slice(payload);
            p
        };
        let mut allowed = packet(0, b"\x03SELECT 1");
        allowed.extend(packet(0, b"\x11kiln_app_1234\0\x00"));
        // A data packet (sequence id 1) is not a command, whatever its first byte.
        allowed.extend(packet(1, b"\x11root\0"));
        let mut out = Vec::new();
        let done = mysql_commands(&mut allowed.as_slice(), &mut out, &d).await;
        assert!(done.is_ok(), "{done:?}");
        assert_eq!(out, allowed);

        let mut change = packet(0, b"\x03SELECT 1");
        change.extend(packet(0, b"\x11root\0\x00"));
        let mut out = Vec::new();
        let done = mysql_commands(&mut change.as_slice(), &mut out, &d).await;
        assert!(matches!(done, Err(Refused(_))), "{done:?}");
        assert_eq!(out, packet(0, b"\x03SELECT 1"));
    }
}
