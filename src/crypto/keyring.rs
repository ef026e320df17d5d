//! The master keys the server knows, and rotation of the file-based master key.
//!
//! Keys come from configuration when `tactical.master_key` is set (with earlier keys listed in
//! `tactical.previous_master_keys`); rotating them is an operator's edit followed by a re-wrap.
//! Otherwise they are files in the keys directory: `master.key`, generated on first use, and
//! during a rotation `master.key.next`, which is written before the database is re-wrapped
//! (and is then the current key) and renamed over `master.key` once nothing needs the old one.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::envelope::MasterKey;
use super::keys::{self, KeyError};

const MASTER: &str = "master.key";
const NEXT: &str = "master.key.next";
const CURRENT_SETTING: &str = "tactical.master_key";
const PREVIOUS_SETTING: &str = "tactical.previous_master_keys";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{what}")]
    Malformed { what: String },
    #[error("no master key with id {0} is known (was its key removed from the configuration or keys directory?)")]
    UnknownKey(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// The current master key, which wraps new data keys, and every key that may still have
/// wrapped existing ones.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: MasterKey,
    keys: BTreeMap<String, MasterKey>,
}

impl Keyring {
    /// The keys from configuration if `configured_current` is set, else from `keys_dir`
    /// (creating `master.key` if missing).
    pub fn load(
        configured_current: &str,
        configured_previous: &[String],
        keys_dir: &Path,
    ) -> Result<Keyring, KeyringError> {
        if !configured_current.is_empty() {
            let current = decode_configured(configured_current, CURRENT_SETTING)?;
            let previous = configured_previous
                .iter()
                .enumerate()
                .map(|(i, key)| decode_configured(key, &format!("{PREVIOUS_SETTING}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Keyring::new(current, previous));
        }
        // The next key is read first: should a rotation complete in between, master.key then
        // already holds it, and no key goes unseen.
        let next = read_key_file(&keys_dir.join(NEXT))?;
        let master = Zeroizing::new(keys::load_or_create("", keys_dir, MASTER)?);
        let master = master_key(&master, &keys_dir.join(MASTER))?;
        Ok(match next {
            Some(next) => Keyring::new(next, vec![master]),
            None => Keyring::new(master, Vec::new()),
        })
    }

    fn new(current: MasterKey, others: Vec<MasterKey>) -> Keyring {
        let keys = others
            .into_iter()
            .chain([current.clone()])
            .map(|key| (key.id().to_owned(), key))
            .collect();
        Keyring { current, keys }
    }

    /// The key that wraps new data keys.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        self.keys.get(id)
    }

    /// The ids of all known keys, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }
}

/// Starts a rotation and returns the key everything is to be re-wrapped under: the configured
/// key in configuration mode; otherwise `master.key.next`, created unless an interrupted
/// rotation left one.
pub fn begin_rotation(configured_current: &str, keys_dir: &Path) -> Result<MasterKey, KeyringError> {
    if !configured_current.is_empty() {
        return decode_configured(configured_current, CURRENT_SETTING);
    }
    let path = keys_dir.join(NEXT);
    // Written with mode 0600 and fsynced; concurrent starts agree on one key.
    let bytes = Zeroizing::new(keys::load_or_create("", keys_dir, NEXT)?);
    sync_dir(keys_dir)?;
    master_key(&bytes, &path)
}

/// Finishes a file-based rotation by renaming `master.key.next` over `master.key`; call it
/// once nothing is wrapped under the old key. Nothing to do in configuration mode or when no
/// rotation is in progress.
pub fn complete_rotation(configured_current: &str, keys_dir: &Path) -> Result<(), KeyringError> {
    if !configured_current.is_empty() {
        return Ok(());
    }
    let next = keys_dir.join(NEXT);
    // Never replace the old key with one that cannot be read back.
    if read_key_file(&next)?.is_none() {
        return Ok(());
    }
    fs::rename(&next, keys_dir.join(MASTER)).map_err(|source| KeyringError::Io { path: next, source })?;
    sync_dir(keys_dir)
}

/// A [`Keyring`] shared by the running server, which learns keys written by a concurrent
/// `optima keys rotate`.
#[derive(Debug)]
pub struct SharedKeyring {
    keyring: RwLock<Keyring>,
    configured_current: Zeroizing<String>,
    configured_previous: Zeroizing<Vec<String>>,
    keys_dir: PathBuf,
}

impl SharedKeyring {
    /// `keyring` as loaded with the other arguments, which are kept for reloading.
    pub fn new(
        keyring: Keyring,
        configured_current: String,
        configured_previous: Vec<String>,
        keys_dir: PathBuf,
    ) -> SharedKeyring {
        SharedKeyring {
            keyring: RwLock::new(keyring),
            configured_current: Zeroizing::new(configured_current),
            configured_previous: Zeroizing::new(configured_previous),
            keys_dir,
        }
    }

    /// The key with this id. An unknown id reloads the keys once; keys found are added to the
    /// known ones (none is forgotten) and the reloaded current key becomes current.
    pub fn key(&self, id: &str) -> Result<MasterKey, KeyringError> {
        if let Some(key) = self.read().get(id) {
            return Ok(key.clone());
        }
        let fresh = Keyring::load(&self.configured_current, &self.configured_previous, &self.keys_dir)?;
        let mut keyring = self.keyring.write().unwrap_or_else(PoisonError::into_inner);
        for (fresh_id, key) in fresh.keys {
            keyring.keys.entry(fresh_id).or_insert(key);
        }
        keyring.current = fresh.current;
        keyring.get(id).cloned().ok_or_else(|| KeyringError::UnknownKey(id.to_owned()))
    }

    /// The id of the key that wraps new data keys.
    pub fn current_id(&self) -> String {
        self.read().current().id().to_owned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keyring> {
        // A panic elsewhere cannot leave the keyring half-updated: entries are only added.
        self.keyring.read().unwrap_or_else(PoisonError::into_inner)
    }
}

fn decode_configured(value: &str, setting: &str) -> Result<MasterKey, KeyringError> {
    let malformed = || KeyringError::Malformed { what: format!("{setting} must be base64 of 32 bytes") };
    let bytes = Zeroizing::new(STANDARD.decode(value.trim()).map_err(|_| malformed())?);
    MasterKey::from_bytes(&bytes).map_err(|_| malformed())
}

fn master_key(bytes: &[u8], path: &Path) -> Result<MasterKey, KeyringError> {
    MasterKey::from_bytes(bytes).map_err(|_| malformed_file(path))
}

fn malformed_file(path: &Path) -> KeyringError {
    KeyringError::Malformed { what: format!("key file {} must hold base64 of 32 bytes", path.display()) }
}

/// The key in `path`, or `None` if there is no such file.
fn read_key_file(path: &Path) -> Result<Option<MasterKey>, KeyringError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => Zeroizing::new(text),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(KeyringError::Io { path: path.to_owned(), source }),
    };
    let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| malformed_file(path))?);
    master_key(&bytes, path).map(Some)
}

fn sync_dir(dir: &Path) -> Result<(), KeyringError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| KeyringError::Io { path: dir.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn b64(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn file_key_is_generated_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let first = Keyring::load("", &[], &keys).unwrap();
        assert_eq!(mode(&keys.join(MASTER)), 0o600);
        assert_eq!(mode(&keys), 0o700);
        let second = Keyring::load("", &[], &keys).unwrap();
        assert_eq!(first.current().id(), second.current().id());
        assert_eq!(second.ids(), vec![first.current().id().to_owned()]);
    }

    #[test]
    fn rotation_in_progress_makes_next_current_and_keeps_old() {
        let dir = tempfile::tempdir().unwrap();
        let old = Keyring::load("", &[], dir.path()).unwrap().current().clone();
        let next = begin_rotation("", dir.path()).unwrap();
        assert_ne!(next.id(), old.id());
        assert_eq!(mode(&dir.path().join(NEXT)), 0o600);
        let keyring = Keyring::load("", &[], dir.path()).unwrap();
        assert_eq!(keyring.current().id(), next.id());
        assert!(keyring.get(old.id()).is_some());
        assert_eq!(keyring.ids().len(), 2);
        // An interrupted rotation resumes with the same key.
        assert_eq!(begin_rotation("", dir.path()).unwrap().id(), next.id());
    }

    #[test]
    fn complete_rotation_leaves_only_the_new_key() {
        let dir = tempfile::tempdir().unwrap();
        Keyring::load("", &[], dir.path()).unwrap();
        let next = begin_rotation("", dir.path()).unwrap();
        complete_rotation("", dir.path()).unwrap();
        assert!(!dir.path().join(NEXT).exists());
        let keyring = Keyring::load("", &[], dir.path()).unwrap();
        assert_eq!(keyring.current().id(), next.id());
        assert_eq!(keyring.ids(), vec![next.id().to_owned()]);
        // Nothing left to complete.
        complete_rotation("", dir.path()).unwrap();
    }

    #[test]
    fn malformed_next_key_does_not_replace_master() {
        let dir = tempfile::tempdir().unwrap();
        let old = Keyring::load("", &[], dir.path()).unwrap().current().clone();
        fs::write(dir.path().join(NEXT), "short").unwrap();
        assert!(matches!(complete_rotation("", dir.path()), Err(KeyringError::Malformed { .. })));
        fs::remove_file(dir.path().join(NEXT)).unwrap();
        assert_eq!(Keyring::load("", &[], dir.path()).unwrap().current().id(), old.id());
    }

    #[test]
    fn configured_keys_are_all_known() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::load(&b64(1), &[b64(2)], dir.path()).unwrap();
        let current = MasterKey::from_bytes(&[1; 32]).unwrap();
        let previous = MasterKey::from_bytes(&[2; 32]).unwrap();
        assert_eq!(keyring.current().id(), current.id());
        assert!(keyring.get(current.id()).is_some());
        assert!(keyring.get(previous.id()).is_some());
        assert!(!dir.path().join(MASTER).exists());
        assert_eq!(begin_rotation(&b64(1), dir.path()).unwrap().id(), current.id());
        complete_rotation(&b64(1), dir.path()).unwrap();
        assert!(!dir.path().join(NEXT).exists());
    }

    #[test]
    fn malformed_configured_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (short, good) = (STANDARD.encode([1; 31]), b64(1));
        for (current, previous) in [("not base64!", vec![]), (&short, vec![]), (&good, vec![short.clone()])] {
            let err = Keyring::load(current, &previous, dir.path()).unwrap_err();
            let KeyringError::Malformed { what } = &err else { panic!("{err}") };
            assert!(what.starts_with("tactical.") && what.ends_with("must be base64 of 32 bytes"), "{what}");
        }
        assert!(matches!(begin_rotation("nope", dir.path()), Err(KeyringError::Malformed { .. })));
    }

    #[test]
    fn shared_keyring_learns_keys_written_later() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::load("", &[], dir.path()).unwrap();
        let old = keyring.current().id().to_owned();
        let shared = SharedKeyring::new(keyring, String::new(), Vec::new(), dir.path().to_owned());
        assert_eq!(shared.key(&old).unwrap().id(), old);

        let next = begin_rotation("", dir.path()).unwrap();
        assert_eq!(shared.key(next.id()).unwrap().id(), next.id());
        assert_eq!(shared.current_id(), next.id());

        // After completion the old key is gone from disk but not from memory.
        complete_rotation("", dir.path()).unwrap();
        let unknown = "0000000000000000";
        assert!(matches!(shared.key(unknown), Err(KeyringError::UnknownKey(id)) if id == unknown));
        assert_eq!(shared.key(&old).unwrap().id(), old);
        assert_eq!(shared.current_id(), next.id());
    }
}
