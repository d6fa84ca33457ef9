//! The outbox: messages as `.eml` files in a directory, the default when no SMTP relay is configured.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;

use crate::error::NotifyError;
use crate::message::{compose, parse_sender};
use crate::notice::{Notice, Recipient};
use crate::time::UtcTime;
use crate::{Delivery, Notifier};

/// Only the server's user may list the outbox: its files hold passcodes.
const DIR_MODE: u32 = 0o700;
/// Only the server's user may read a message file.
const FILE_MODE: u32 = 0o600;

/// Writes each message as an RFC 5322 `.eml` file (CRLF line ends) into one directory.
///
/// Files are named `20261123T073501.482913Z-<16 hex digits>.eml`: UTC time to the microsecond, so that names
/// sort by age, and a random part so that two servers or threads never collide. Each file is written under a
/// dot-name (`.<name>.tmp`, which `*.eml` globs skip), flushed to disk and renamed into place, so a reader sees
/// whole messages only. The directory is created `0700` if missing (an existing one keeps the permissions an
/// operator gave it); files are `0600`.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    from: Mailbox,
}

impl Outbox {
    /// The outbox directory inside vportal's data directory.
    pub const DIR_NAME: &'static str = "outbox";

    /// An outbox at `DATA/outbox`, sending as `from` (`vportal <voicemail@example.org>`).
    pub fn in_data_dir(data_dir: &Path, from: &str) -> Result<Outbox, NotifyError> {
        Outbox::new(data_dir.join(Outbox::DIR_NAME), from)
    }

    /// An outbox in `dir`, created now if missing, sending as `from`.
    pub fn new(dir: impl Into<PathBuf>, from: &str) -> Result<Outbox, NotifyError> {
        let outbox = Outbox {
            dir: dir.into(),
            from: parse_sender(from)?,
        };
        outbox.ensure_dir()?;
        Ok(outbox)
    }

    /// The directory messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ensure_dir(&self) -> Result<(), NotifyError> {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&self.dir)
            .map_err(|source| NotifyError::Outbox {
                action: "create the directory",
                path: self.dir.clone(),
                source,
            })
    }

    fn file_name(now: SystemTime) -> String {
        let micros = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_micros());
        format!(
            "{}.{micros:06}Z-{:016x}.eml",
            UtcTime::from_system(now).compact(),
            rand::random::<u64>()
        )
    }

    /// Writes `contents` under `name` so that the file appears whole or not at all.
    fn write_atomically(&self, name: &str, contents: &[u8]) -> Result<PathBuf, NotifyError> {
        let final_path = self.dir.join(name);
        let temp_path = self.dir.join(format!(".{name}.tmp"));
        let failed = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| NotifyError::Outbox {
                action,
                path,
                source,
            }
        };

        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&temp_path)
            .map_err(failed("create", &temp_path))?;
        let written = file
            .write_all(contents)
            .map_err(failed("write", &temp_path))
            .and_then(|()| file.sync_all().map_err(failed("flush", &temp_path)))
            .and_then(|()| {
                fs::rename(&temp_path, &final_path)
                    .map_err(failed("rename into place", &final_path))
            });
        drop(file);
        if let Err(error) = written {
            // Best effort: the write already failed, and a stray temp file is harmless beyond its bytes.
            let _ = fs::remove_file(&temp_path);
            return Err(error);
        }
        // The rename is durable only once the directory entry is on disk.
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(failed("flush the directory", &self.dir))?;
        Ok(final_path)
    }
}

impl Notifier for Outbox {
    fn send(&self, to: &Recipient, notice: &Notice) -> Result<Delivery, NotifyError> {
        let now = SystemTime::now();
        let composed = compose(&self.from, to, notice, now)?;
        // Someone may have removed the directory since start-up; recreate it rather than lose the notice.
        self.ensure_dir()?;
        let path = self.write_atomically(&Outbox::file_name(now), &composed.message.formatted())?;
        tracing::debug!(
            to = %to.address,
            subject = %composed.subject,
            kind = notice.kind(),
            path = %path.display(),
            "notice written to the outbox"
        );
        Ok(Delivery::Outbox {
            message_id: composed.message_id,
            path,
        })
    }
}
