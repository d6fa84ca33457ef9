//! Records the git revision the binary is built from, for `vportal --version`.

use std::process::Command;

fn main() {
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown revision".to_owned());
    println!("cargo:rustc-env=VPORTAL_GIT_REVISION={revision}");
    // A new commit or checkout changes HEAD (or the branch it points to). Only paths that exist are named: a
    // missing one would make cargo rerun this script, and rebuild the crate, on every build.
    println!("cargo:rerun-if-changed=build.rs");
    for path in [
        "../../.git/HEAD",
        "../../.git/refs/heads",
        "../../.git/packed-refs",
    ] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
