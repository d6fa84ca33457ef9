//! Starts a real `vportal serve` for the end-to-end tests, reached only through its sockets.
//!
//! The server binary is not linked (it is not even a dependency): the first test to need it runs
//! `cargo build -p vportal` (the `cargo` that runs the tests, `env!("CARGO")`) into the same target directory
//! the tests were built in, then starts `target/debug/vportal serve` once per test with a fresh data directory
//! under `target/portal-harness-e2e/<test>/`, `--demo`, short timers from a config file, and free ports. The
//! server's standard error (at `VPORTAL_LOG=debug`) stays there as `server.log` for the evidence.
//! `VPORTAL_BIN=/path/to/vportal` skips the build and uses that binary.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use portal_harness::{DialOptions, HarnessError, Phone};

/// How long any one expectation may take (prompts run up to ten seconds or so).
pub const WAIT: Duration = Duration::from_secs(30);

/// The target directory the tests run from: `<target>/debug/deps/<test binary>` → `<target>`.
fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
}

/// The `vportal` binary, built once per test process.
fn vportal_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Ok(path) = std::env::var("VPORTAL_BIN") {
            return PathBuf::from(path);
        }
        let target = target_dir();
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "vportal", "--bin", "vportal"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .status()
            .expect("run cargo build -p vportal");
        assert!(status.success(), "cargo build -p vportal failed");
        let binary = target.join("debug").join("vportal");
        assert!(binary.is_file(), "{} was not built", binary.display());
        binary
    })
}

/// A port no one listens on (UDP; TCP on the same port is very likely free too).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A block of RTP ports per server, so parallel tests do not share ranges.
fn rtp_range() -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let block = NEXT.fetch_add(1, Ordering::Relaxed);
    let slot = (std::process::id() % 40) * 20 + u32::from(block % 20);
    let base = (20_000 + slot * 50) as u16;
    (base, base + 49)
}

/// A running `vportal serve`, killed when dropped.
pub struct Server {
    pub sip: SocketAddr,
    pub dir: PathBuf,
    child: Child,
}

impl Server {
    /// Starts a server with demo data named after the test.
    pub fn start(name: &str) -> Server {
        Server::start_with(name, "")
    }

    /// Starts a server with `extra` appended to the config file.
    pub fn start_with(name: &str, extra: &str) -> Server {
        Server::start_configured(name, "", extra)
    }

    /// Starts a server with `sip` added to the config's `[sip]` section and `extra` appended to the file.
    pub fn start_configured(name: &str, sip: &str, extra: &str) -> Server {
        let binary = vportal_binary();
        let dir = target_dir().join("portal-harness-e2e").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test directory");
        let config = dir.join("vportal.toml");
        std::fs::write(
            &config,
            format!(
                "[sip]\nt1_ms = 100\n{sip}\n\n[timers]\nfirst_digit_ms = 1500\ninter_digit_ms = 800\n{extra}"
            ),
        )
        .expect("write config");
        let (low, high) = rtp_range();
        let log = std::fs::File::create(dir.join("server.log")).expect("server log");
        for _attempt in 0..5 {
            let sip: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let mut child = Command::new(binary)
                .arg("serve")
                .arg("--data")
                .arg(dir.join("data"))
                .arg("--config")
                .arg(&config)
                .arg("--sip-listen")
                .arg(sip.to_string())
                .arg("--rtp-ports")
                .arg(format!("{low}-{high}"))
                .arg("--prompts")
                .arg(portal_harness::default_prompts_dir())
                .arg("--demo")
                .env("VPORTAL_LOG", "debug")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(log.try_clone().expect("log handle"))
                .spawn()
                .expect("start vportal serve");
            let stdout = child.stdout.take().expect("stdout");
            let mut lines = BufReader::new(stdout).lines();
            let mut banner = String::new();
            let ready = loop {
                match lines.next() {
                    Some(Ok(line)) => {
                        banner.push_str(&line);
                        banner.push('\n');
                        if line.starts_with("vportal: SIP on") {
                            break true;
                        }
                    }
                    _ => break false,
                }
            };
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            if ready {
                std::fs::write(dir.join("server.stdout"), banner).ok();
                return Server { sip, dir, child };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "vportal serve did not start; see {}",
            dir.join("server.log").display()
        );
    }

    /// Dial options for a call from `from` to the demo portal's number.
    pub fn call(&self, from: &str) -> DialOptions {
        let mut options = DialOptions::new(self.sip, from, "5558000");
        options.t1 = Duration::from_millis(100);
        options
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unwraps a harness result, or fails the test with the call's transcript and the server's log.
pub fn check<T>(server: &Server, phone: &Phone, result: Result<T, HarnessError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            panic!(
                "{error}\n--- transcript ---\n{}\n--- server log (tail; whole log in {}) ---\n{}",
                phone.transcript().join("\n"),
                server.dir.join("server.log").display(),
                server.log_tail(40)
            )
        }
    }
}

/// Dials, or fails the test with the server's log.
pub fn dial(server: &Server, options: DialOptions) -> Phone {
    match Phone::dial(options) {
        Ok(phone) => phone,
        Err(error) => panic!(
            "dial failed: {error}\n--- server log (tail) ---\n{}",
            server.log_tail(40)
        ),
    }
}
