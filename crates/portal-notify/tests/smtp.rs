//! `Smtp` against a real SMTP server on loopback: Python's aiosmtpd, from Debian's `python3-aiosmtpd`.
//!
//! The server stores what it receives in a Maildir, adding `X-MailFrom` and `X-RcptTo` headers with the
//! envelope, so the tests read back exactly what arrived. The TLS tests also need the `openssl` command to
//! make a throwaway CA and server certificate.
//!
//! When a peer is missing these tests fail under `CI=true`, and otherwise print a note and pass without
//! running; install with `apt-get install -y python3-aiosmtpd openssl`.

mod common;

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use portal_notify::{Notifier, NotifyError, Smtp, SmtpConfig, SmtpSecurity};
use tempfile::TempDir;

/// Says why a peer is unavailable: a failure under CI, a loud note elsewhere. Returns to let the caller skip.
fn peer_missing(what: &str) {
    let message = format!(
        "{what} is not available; install it with `apt-get install -y python3-aiosmtpd openssl` \
         (or set VPORTAL_TEST_PYTHON to a python3 that has aiosmtpd)"
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}");
    }
    eprintln!("\n!!!!!!!!\n!!! NOTE: SMTP test NOT RUN: {message}\n!!!!!!!!\n");
}

/// A python3 that can import aiosmtpd. Debian's module lives under /usr/bin/python3, which a pyenv or venv
/// python3 earlier on PATH would not see, so that one is tried explicitly.
fn python_with_aiosmtpd() -> Option<PathBuf> {
    let candidates = std::env::var_os("VPORTAL_TEST_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/usr/bin/python3"), PathBuf::from("python3")]);
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

fn free_loopback_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the test server protects its connections.
enum ServerTls<'a> {
    Plain,
    /// Offers and requires STARTTLS with this certificate.
    Starttls(&'a Certificates),
    /// Speaks TLS from the first byte.
    Implicit(&'a Certificates),
}

/// A running aiosmtpd, killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl SmtpServer {
    /// Starts the server and waits until it accepts connections; `None` when aiosmtpd is missing outside CI.
    fn start(tls: ServerTls<'_>) -> Option<SmtpServer> {
        let Some(python) = python_with_aiosmtpd() else {
            peer_missing("the aiosmtpd SMTP server (Debian package python3-aiosmtpd)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_loopback_port();
        let mut command = Command::new(python);
        command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        match tls {
            ServerTls::Plain => {}
            ServerTls::Starttls(certificates) => {
                command.arg("--tlscert").arg(&certificates.server_cert);
                command.arg("--tlskey").arg(&certificates.server_key);
            }
            ServerTls::Implicit(certificates) => {
                command.arg("--smtpscert").arg(&certificates.server_cert);
                command.arg("--smtpskey").arg(&certificates.server_key);
            }
        }
        command
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"));
        let log = fs::File::create(dir.path().join("server.log")).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start aiosmtpd");
        let mut server = SmtpServer { child, port, dir };
        server.wait_until_listening();
        Some(server)
    }

    fn wait_until_listening(&mut self) {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "aiosmtpd exited with {status} before listening:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on port {} within 30 s:\n{}",
                self.port,
                self.log()
            );
            sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A client config for this server.
    fn config(&self, security: SmtpSecurity) -> SmtpConfig {
        let mut config = SmtpConfig::new("127.0.0.1", security);
        config.port = Some(self.port);
        config.timeout_seconds = 10;
        config
    }

    /// Messages received so far, oldest first, with line ends made `\n`.
    fn received(&self) -> Vec<String> {
        let new = self.dir.path().join("maildir/new");
        let Ok(entries) = fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        paths
            .iter()
            .map(|path| fs::read_to_string(path).unwrap().replace("\r\n", "\n"))
            .collect()
    }

    /// Waits for the `count`-th message; the server stores it before answering, so this rarely waits.
    fn wait_for_messages(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway CA and a server certificate it signed for 127.0.0.1.
struct Certificates {
    _dir: TempDir,
    ca_cert: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl Certificates {
    fn make() -> Option<Certificates> {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
        };
        let ec_key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let steps: [Vec<&str>; 3] = [
            [
                &["req", "-x509"][..],
                &ec_key,
                &["-keyout", "ca.key", "-out", "ca.pem"],
            ]
            .concat()
            .into_iter()
            .chain(["-days", "2", "-subj", "/CN=vportal test CA"])
            .collect(),
            [
                &["req"][..],
                &ec_key,
                &["-keyout", "server.key", "-out", "server.csr"],
            ]
            .concat()
            .into_iter()
            .chain(["-subj", "/CN=127.0.0.1"])
            .collect(),
            vec![
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                "server.pem",
                "-extfile",
                "server.ext",
            ],
        ];
        fs::write(
            path("server.ext"),
            "basicConstraints = CA:FALSE\nsubjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
        )
        .unwrap();
        for step in steps {
            match openssl(&step) {
                Ok(output) if output.status.success() => {}
                Ok(output) => panic!(
                    "openssl {step:?} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                ),
                Err(_) => {
                    peer_missing("the openssl command (Debian package openssl)");
                    return None;
                }
            }
        }
        Some(Certificates {
            ca_cert: path("ca.pem"),
            server_cert: path("server.pem"),
            server_key: path("server.key"),
            _dir: dir,
        })
    }
}

/// Checks that `raw` is the temporary-reset notice for Ada, sent from the configured sender.
fn assert_is_the_reset_notice_for_ada(raw: &str, message_id: &str) {
    let message = ParsedMessage::parse(raw, "\n");
    assert_eq!(message.header("X-RcptTo"), "ada@example.org");
    assert_eq!(message.header("X-MailFrom"), "voicemail@example.org");
    assert_eq!(message.header("To"), "\"Ada Lovelace\" <ada@example.org>");
    assert_eq!(message.header("From"), "vportal <voicemail@example.org>");
    assert_eq!(
        message.header("Subject"),
        "Your voicemail passcode was reset (mailbox 4711)"
    );
    assert_eq!(message.header("Message-ID"), message_id);
    assert_eq!(message.header("Content-Type"), "text/plain; charset=utf-8");
    assert!(!message.header("Date").is_empty());
    assert!(
        message.body.starts_with("Hello Ada Lovelace,\n"),
        "{}",
        message.body
    );
    assert!(
        message
            .body
            .contains(&format!("Temporary passcode:  {TEMPORARY_PASSCODE}\n")),
        "{}",
        message.body
    );
    assert!(
        message
            .body
            .contains("Valid until:         2026-11-26 07:00 UTC\n")
    );
}

fn assert_no_passcode_in(error: &NotifyError) {
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(TEMPORARY_PASSCODE), "{shown}");
}

#[test]
fn plain_smtp_delivers_the_notice_to_a_real_server() {
    let Some(server) = SmtpServer::start(ServerTls::Plain) else {
        return;
    };
    let smtp = Smtp::new(&server.config(SmtpSecurity::None), FROM).unwrap();
    smtp.check_connection().unwrap();
    let delivery = smtp.send(&ada(), &temporary_reset()).unwrap();
    assert!(delivery.outbox_path().is_none());

    let received = server.wait_for_messages(1);
    assert_eq!(received.len(), 1, "server log:\n{}", server.log());
    assert_is_the_reset_notice_for_ada(&received[0], delivery.message_id());
}

#[test]
fn requiring_starttls_from_a_server_without_it_fails_cleanly_and_sends_nothing() {
    let Some(server) = SmtpServer::start(ServerTls::Plain) else {
        return;
    };
    let smtp = Smtp::new(&server.config(SmtpSecurity::Starttls), FROM).unwrap();
    let error = smtp.send(&ada(), &temporary_reset()).unwrap_err();
    let NotifyError::Smtp { server: relay, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(relay, &format!("127.0.0.1:{}", server.port));
    assert!(error.to_string().contains("STARTTLS"), "{error}");
    assert_no_passcode_in(&error);
    assert!(smtp.check_connection().is_err());
    sleep(Duration::from_millis(200));
    assert!(server.received().is_empty());
}

#[test]
fn starttls_with_a_private_ca_delivers() {
    let Some(certificates) = Certificates::make() else {
        return;
    };
    let Some(server) = SmtpServer::start(ServerTls::Starttls(&certificates)) else {
        return;
    };
    let mut config = server.config(SmtpSecurity::Starttls);
    config.ca_file = Some(certificates.ca_cert.clone());
    let smtp = Smtp::new(&config, FROM).unwrap();
    let delivery = smtp.send(&ada(), &temporary_reset()).unwrap();
    let received = server.wait_for_messages(1);
    assert_eq!(received.len(), 1, "server log:\n{}", server.log());
    assert_is_the_reset_notice_for_ada(&received[0], delivery.message_id());
}

#[test]
fn implicit_tls_with_a_private_ca_delivers() {
    let Some(certificates) = Certificates::make() else {
        return;
    };
    let Some(server) = SmtpServer::start(ServerTls::Implicit(&certificates)) else {
        return;
    };
    let mut config = server.config(SmtpSecurity::Tls);
    config.ca_file = Some(certificates.ca_cert.clone());
    let smtp = Smtp::new(&config, FROM).unwrap();
    smtp.check_connection().unwrap();
    let delivery = smtp.send(&ada(), &temporary_reset()).unwrap();
    let received = server.wait_for_messages(1);
    assert_eq!(received.len(), 1, "server log:\n{}", server.log());
    assert_is_the_reset_notice_for_ada(&received[0], delivery.message_id());
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_refused() {
    let Some(certificates) = Certificates::make() else {
        return;
    };
    let Some(server) = SmtpServer::start(ServerTls::Implicit(&certificates)) else {
        return;
    };
    // No ca_file: only the system's CAs are trusted, and none of them signed the test certificate.
    let smtp = Smtp::new(&server.config(SmtpSecurity::Tls), FROM).unwrap();
    let error = smtp.send(&ada(), &temporary_reset()).unwrap_err();
    // lettre reports the rustls verdict as a network error: "invalid peer certificate: UnknownIssuer".
    assert!(matches!(error, NotifyError::Smtp { .. }), "{error:?}");
    assert!(error.to_string().contains("certificate"), "{error}");
    assert_no_passcode_in(&error);
    sleep(Duration::from_millis(200));
    assert!(server.received().is_empty());
}

#[test]
fn an_unreachable_relay_is_an_error_not_a_hang() {
    // Nothing listens on a port just released.
    let mut config = SmtpConfig::new("127.0.0.1", SmtpSecurity::None);
    config.port = Some(free_loopback_port());
    config.timeout_seconds = 5;
    let smtp = Smtp::new(&config, FROM).unwrap();
    let error = smtp.send(&ada(), &temporary_reset()).unwrap_err();
    assert!(matches!(error, NotifyError::Smtp { .. }), "{error:?}");
    assert_no_passcode_in(&error);
}
