//! Secrets come from configuration when set there; otherwise from a key file under
//! `data_dir/keys/`, generated on first use with mode 0600.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("key file {path} is not a base64 key of at least {KEY_BYTES} bytes")]
    Malformed { path: String },
    #[error("cannot gather randomness: {0}")]
    Random(String),
}

/// The configured secret if there is one, else the contents of `keys_dir/name`, created if
/// missing. Concurrent first uses (say `optima token` while the server starts) agree on one key.
pub fn load_or_create(configured: &str, keys_dir: &Path, name: &str) -> Result<Vec<u8>, KeyError> {
    if !configured.is_empty() {
        return Ok(configured.as_bytes().to_vec());
    }
    let path = keys_dir.join(name);
    let io = |source| KeyError::Io { path: path.display().to_string(), source };
    if !path.exists() {
        fs::create_dir_all(keys_dir).map_err(io)?;
        fs::set_permissions(keys_dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        let key = random_bytes(KEY_BYTES)?;
        let tmp = keys_dir.join(format!(".{name}.{}", uuid::Uuid::new_v4()));
        let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io)?;
        file.write_all(STANDARD.encode(&key).as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        // A hard link fails if the name exists, so exactly one writer's key wins.
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
    }
    let text = fs::read_to_string(&path).map_err(io)?;
    match STANDARD.decode(text.trim()) {
        Ok(key) if key.len() >= KEY_BYTES => Ok(key),
        _ => Err(KeyError::Malformed { path: path.display().to_string() }),
    }
}

pub fn random_bytes(n: usize) -> Result<Vec<u8>, KeyError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let first = load_or_create("", &keys, "k.key").unwrap();
        let second = load_or_create("", &keys, "k.key").unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), KEY_BYTES);
        let mode = fs::metadata(keys.join("k.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn configured_secret_wins() {
        let dir = tempfile::tempdir().unwrap();
        let key = load_or_create("a-configured-secret-of-enough-length!", dir.path(), "k").unwrap();
        assert_eq!(key, b"a-configured-secret-of-enough-length!");
        assert!(!dir.path().join("k").exists());
    }

    #[test]
    fn malformed_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("k"), "short").unwrap();
        assert!(matches!(load_or_create("", dir.path(), "k"), Err(KeyError::Malformed { .. })));
    }
}
