//! The secret key app passwords are derived from, so a password is the same on every deploy
//! and after every restart without being stored anywhere but this one file.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Error;

/// Length of the key in bytes.
const KEY_LEN: usize = 32;

/// 32 secret bytes. `Debug` never shows them.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads the key from `path` (64 hex characters), or creates it with fresh random bytes,
    /// readable by the owner only, when the file does not exist yet.
    ///
    /// Creating is safe against concurrent callers (several services starting at once): the
    /// key is written to a private temporary file and hard-linked into place, which fails when
    /// another process won the race, and then that process's key is read. A reader therefore
    /// never sees a half-written key.
    ///
    /// A key file readable by group or others is refused rather than used: every app
    /// password derives from it.
    pub fn load_or_create(path: &Path) -> Result<Self, Error> {
        match Self::load(path) {
            Err(Error::Key {
                source: Some(e), ..
            }) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| key_error(path, "create the directory of", e))?;

        let bytes: [u8; KEY_LEN] = rand::random();
        let tmp = temp_path(path);
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut file| {
                file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())?;
                file.sync_all()
            });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(key_error(path, "write", e));
        }
        let linked = fs::hard_link(&tmp, path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created app database secret key");
                Ok(Self(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(key_error(path, "create", e)),
        }
    }

    fn load(path: &Path) -> Result<Self, Error> {
        let meta = fs::metadata(path).map_err(|e| key_error(path, "read", e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::Key {
                path: path.to_owned(),
                problem: format!(
                    "is readable by others (mode {:o}); run `chmod 600` on it",
                    meta.permissions().mode() & 0o777
                ),
                source: None,
            });
        }
        let text = fs::read_to_string(path).map_err(|e| key_error(path, "read", e))?;
        let mut bytes = [0u8; KEY_LEN];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| Error::Key {
            path: path.to_owned(),
            problem: format!("does not hold {} hex characters", KEY_LEN * 2),
            source: None,
        })?;
        Ok(Self(bytes))
    }

    /// HMAC-SHA256 of `message` under this key.
    pub(crate) fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    path.with_file_name(name)
}

fn key_error(path: &Path, action: &str, source: std::io::Error) -> Error {
    Error::Key {
        path: path.to_owned(),
        problem: format!("could not {action} it"),
        source: Some(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets").join("appdb.key");
        let first = SecretKey::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key file mode");
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700, "secrets directory mode");

        let second = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(first.0, second.0, "the existing key is reused");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files are left behind");
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("appdb.key");
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| SecretKey::load_or_create(&path).unwrap().0))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            keys.windows(2).all(|w| w[0] == w[1]),
            "every caller got the same key"
        );
    }

    #[test]
    fn key_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("appdb.key");
        SecretKey::load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = SecretKey::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn malformed_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("appdb.key");
        fs::write(&path, "not hex").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = SecretKey::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("64 hex characters"), "{err}");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "not hex",
            "left untouched"
        );
    }

    #[test]
    fn debug_hides_the_bytes() {
        let key = SecretKey::from_bytes([7; 32]);
        assert_eq!(format!("{key:?}"), "SecretKey([redacted])");
    }
}
