//! Records the git revision the binary is built from, for `vportal --version`.

use std::process::Command;

/// What `git ARGS` prints, trimmed, when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

fn main() {
    let revision =
        git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown revision".to_owned());
    println!("cargo:rustc-env=VPORTAL_GIT_REVISION={revision}");
    // A new commit or checkout changes HEAD (or the branch it points to). Git names the files, so a worktree
    // (whose .git is a file) is followed too. Only paths that exist are named: a missing one would make cargo
    // rerun this script, and rebuild the crate, on every build.
    println!("cargo:rerun-if-changed=build.rs");
    let mut watched = Vec::new();
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        watched.push(head);
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        watched.push(format!("{common}/refs/heads"));
        watched.push(format!("{common}/packed-refs"));
    }
    for path in watched {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
