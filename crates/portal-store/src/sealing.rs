//! The key that seals the organization's default passcode, and the sealing itself (ChaCha20-Poly1305).
//!
//! The default passcode must be recoverable, because it is emailed to each new user, so it cannot be a one-way
//! hash. It is encrypted under a 32-byte key that never enters the database: it comes from a key file or from an
//! environment variable. A stolen database alone therefore reveals no passcode.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use portal_core::Passcode;
use rand::TryRng;
use rand::rngs::SysRng;

use crate::error::{Result, StoreError};

/// Length of a sealing key in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// First byte of a sealed value, so a later format can be told apart.
const FORMAT_V1: u8 = 1;
/// Binds a sealed value to its purpose: a ciphertext moved to another column will not open.
const ASSOCIATED_DATA: &[u8] = b"vportal: sealed default voicemail passcode, v1";

/// A 32-byte ChaCha20-Poly1305 key. `Debug` does not print it.
#[derive(Clone)]
pub struct SealingKey([u8; KEY_LEN]);

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(***)")
    }
}

/// Where the sealing key comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A file holding the key as 64 hex digits; created (mode 0600) with a random key if missing. A file that
    /// group or others may read is refused.
    File(std::path::PathBuf),
    /// An environment variable holding the key as 64 hex digits.
    Env(String),
}

impl SealingKey {
    /// A fresh random key from the OS generator.
    pub fn generate() -> Result<SealingKey> {
        let mut key = [0u8; KEY_LEN];
        fill_random(&mut key)?;
        Ok(SealingKey(key))
    }

    /// The key from raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SealingKey {
        SealingKey(bytes)
    }

    /// Parses 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<SealingKey> {
        let text = text.trim();
        if text.len() != KEY_LEN * 2 {
            return Err(StoreError::Key(format!(
                "expected {} hex digits, found {} characters",
                KEY_LEN * 2,
                text.len()
            )));
        }
        let mut key = [0u8; KEY_LEN];
        for (byte, pair) in key.iter_mut().zip(text.as_bytes().chunks(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Ok(SealingKey(key))
    }

    /// The key as 64 lowercase hex digits, for writing a key file or an environment variable.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads the key from an environment variable (hex).
    pub fn from_env(variable: &str) -> Result<SealingKey> {
        let text = std::env::var(variable)
            .map_err(|_| StoreError::Key(format!("environment variable {variable} is not set")))?;
        SealingKey::from_hex(&text)
    }

    /// Reads the key file, creating it with a random key and mode 0600 if it does not exist. Refuses a file that
    /// group or others can access, since anyone who reads the key can open the default passcode.
    pub fn from_file(path: &Path) -> Result<SealingKey> {
        match fs::metadata(path) {
            Ok(meta) => {
                let mode = meta.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(StoreError::Key(format!(
                        "{} has mode {:o}; it must not be accessible by group or others (chmod 600)",
                        path.display(),
                        mode & 0o777
                    )));
                }
                let text = fs::read_to_string(path).map_err(StoreError::io(path))?;
                SealingKey::from_hex(&text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SealingKey::generate()?;
                write_new_key_file(path, &key)?;
                // Another process may have created it first; whichever file won is the key.
                SealingKey::from_file_existing(path)
            }
            Err(e) => Err(StoreError::io(path)(e)),
        }
    }

    fn from_file_existing(path: &Path) -> Result<SealingKey> {
        if !path.exists() {
            return Err(StoreError::Key(format!("{} vanished", path.display())));
        }
        SealingKey::from_file(path)
    }

    /// Loads the key from its source.
    pub fn load(source: &KeySource) -> Result<SealingKey> {
        match source {
            KeySource::File(path) => SealingKey::from_file(path),
            KeySource::Env(variable) => SealingKey::from_env(variable),
        }
    }

    /// Encrypts a passcode: format byte, random nonce, ciphertext with its tag.
    pub(crate) fn seal(&self, passcode: &Passcode) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        let payload = Payload {
            msg: passcode.expose().as_bytes(),
            aad: ASSOCIATED_DATA,
        };
        let ciphertext = cipher
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| StoreError::Key("encryption failed".into()))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Decrypts what [`SealingKey::seal`] produced. Fails with [`StoreError::Unseal`] under another key or when
    /// a byte was changed.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Passcode> {
        let (format, rest) = sealed.split_first().ok_or(StoreError::Unseal)?;
        if *format != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(StoreError::Unseal);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| StoreError::Unseal)?;
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: ASSOCIATED_DATA,
                },
            )
            .map_err(|_| StoreError::Unseal)?;
        let text = String::from_utf8(plain).map_err(|_| StoreError::Unseal)?;
        Passcode::parse(&text).map_err(|_| StoreError::Unseal)
    }
}

/// Writes the key to a private temporary file, then links it into place, so no reader ever sees a partial key
/// and an existing key file is never overwritten.
fn write_new_key_file(path: &Path, key: &SealingKey) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
    let mut suffix = [0u8; 8];
    fill_random(&mut suffix)?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let temp = dir.join(format!(".sealing-key-{suffix}.tmp"));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(StoreError::io(&temp))?;
        file.write_all(format!("{}\n", key.to_hex()).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(StoreError::io(&temp))?;
        match fs::hard_link(&temp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(StoreError::io(path)(e)),
        }
    })();
    let _ = fs::remove_file(&temp);
    result
}

pub(crate) fn fill_random(buffer: &mut [u8]) -> Result<()> {
    SysRng
        .try_fill_bytes(buffer)
        .map_err(|e| StoreError::Random(e.to_string()))
}

fn hex_value(digit: u8) -> Result<u8> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(StoreError::Key("the key must be hex digits".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_wrong_key() {
        let key = SealingKey::generate().unwrap();
        let passcode = Passcode::parse("3141592").unwrap();
        let sealed = key.seal(&passcode).unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"3141592"));
        assert_eq!(key.open(&sealed).unwrap(), passcode);
        assert_ne!(
            sealed,
            key.seal(&passcode).unwrap(),
            "fresh nonce each time"
        );

        let other = SealingKey::generate().unwrap();
        assert!(matches!(other.open(&sealed), Err(StoreError::Unseal)));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(key.open(&tampered), Err(StoreError::Unseal)));
        assert!(matches!(key.open(&[]), Err(StoreError::Unseal)));
    }

    #[test]
    fn hex_round_trip_and_rejects_bad_text() {
        let key = SealingKey::generate().unwrap();
        let again = SealingKey::from_hex(&format!("  {}\n", key.to_hex().to_uppercase())).unwrap();
        assert_eq!(key.0, again.0);
        assert!(SealingKey::from_hex("abcd").is_err());
        assert!(SealingKey::from_hex(&"g".repeat(64)).is_err());
        assert_eq!(format!("{key:?}"), "SealingKey(***)");
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("sealing.key");
        let created = SealingKey::from_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let reread = SealingKey::from_file(&path).unwrap();
        assert_eq!(created.0, reread.0);
        assert_eq!(
            fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sealing.key");
        SealingKey::from_file(&path).unwrap();
        for mode in [0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = SealingKey::from_file(&path).unwrap_err();
            assert!(matches!(err, StoreError::Key(_)), "{mode:o}: {err}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        SealingKey::from_file(&path).unwrap();
    }
}
