//! Running the `vportal` binary the way an operator would, and reading what it leaves behind.
#![allow(dead_code)] // each test file uses part of this

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Places one console call with `keys` typed (one line each) and returns what the process printed.
pub fn console_call(data: &Path, args: &[&str], keys: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vportal"))
        .arg("console")
        .arg("--data")
        .arg(data)
        .args(args)
        .env("VPORTAL_LOG", "trace")
        .env_remove("VPORTAL_SEALING_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vportal starts");
    let mut stdin = child.stdin.take().unwrap();
    for line in keys {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "vportal failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The prompt ids the caller heard, in order.
pub fn heard(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("portal> ["))
        .filter_map(|rest| rest.split(']').next())
        .map(str::to_owned)
        .collect()
}

/// Runs `vportal admin --data DATA ARGS...` with `stdin` as its standard input.
pub fn admin(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vportal"))
        .arg("admin")
        .arg("--data")
        .arg(data)
        .args(args)
        .env("VPORTAL_LOG", "trace")
        .env_remove("VPORTAL_SEALING_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vportal starts");
    // A command refused before it reads its input closes the pipe; that is not the test's failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Runs an admin command that must succeed; returns its standard output.
pub fn admin_ok(data: &Path, args: &[&str], stdin: &str) -> String {
    let output = admin(data, args, stdin);
    assert!(
        output.status.success(),
        "vportal admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs an admin command that must fail as a bad request (status 2); returns its standard error.
pub fn admin_refused(data: &Path, args: &[&str], stdin: &str) -> String {
    let output = admin(data, args, stdin);
    assert_eq!(
        output.status.code(),
        Some(2),
        "vportal admin {args:?}: stdout {} stderr {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stderr).unwrap()
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

/// The emails in the outbox, oldest first.
pub fn outbox(data: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data.join("outbox")) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect()
}

/// The value of a `Label:  value` line of an email's body.
pub fn field(email: &str, label: &str) -> Option<String> {
    email.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix(label)?.strip_prefix(':')?;
        Some(rest.trim().to_owned())
    })
}

/// Every file under `dir`, except the outbox (the emails that hand users their passcodes).
pub fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // The outbox holds the emails that hand users their passcodes; it is the one place they may be.
            if path.file_name().is_some_and(|name| name == "outbox") {
                continue;
            }
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
