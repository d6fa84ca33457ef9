//! The data directory and the key that seals the organization's default passcode.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use portal_store::{KeySource, SealingKey, SqliteStore, StoreConfig, StoreError};

/// The environment variable that may hold the sealing key (64 hex digits); it wins over the key file.
pub const SEALING_KEY_ENV: &str = "VPORTAL_SEALING_KEY";

/// The default key file: beside the data directory, not in it (`DATA.key` for `DATA`), so a copy of the data
/// directory alone does not open the sealed default passcode.
pub fn default_key_file(data: &Path) -> PathBuf {
    let mut name: OsString = data
        .file_name()
        .map(OsString::from)
        .unwrap_or_else(|| OsString::from("vportal-data"));
    name.push(".key");
    data.with_file_name(name)
}

/// Where the sealing key comes from: the environment variable if set, else `key_file` (or the default key file).
pub fn key_source(data: &Path, key_file: Option<&Path>) -> KeySource {
    if std::env::var_os(SEALING_KEY_ENV).is_some() {
        KeySource::Env(SEALING_KEY_ENV.to_owned())
    } else {
        KeySource::File(key_file.map_or_else(|| default_key_file(data), Path::to_path_buf))
    }
}

/// Opens (creating if needed) the store in `data`.
pub fn open_store(data: &Path, key_file: Option<&Path>) -> Result<SqliteStore, StoreError> {
    let key = SealingKey::load(&key_source(data, key_file))?;
    SqliteStore::open(StoreConfig::new(data, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_sits_beside_the_data_directory() {
        assert_eq!(
            default_key_file(Path::new("/srv/vportal/data")),
            Path::new("/srv/vportal/data.key")
        );
        assert_eq!(
            default_key_file(Path::new("demo-data")),
            Path::new("demo-data.key")
        );
    }
}
