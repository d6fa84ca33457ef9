//! Shared helpers for vportal's end-to-end suites in `tests/`: they start the real binaries, like an operator
//! would, and talk to them only through their interfaces.

use std::path::PathBuf;

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
