//! Shared helpers for vportal's end-to-end suites in `tests/`: they start the real `vportal` binary on
//! loopback with a fresh data directory, like an operator would, and reach it only through its sockets and
//! its command line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `vportal` binary the suites run: `VPORTAL_BIN` when set (scripts/test points it at the release build,
/// as operators run it), otherwise the one of this test build's profile.
pub fn vportal_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("VPORTAL_BIN") {
        let binary = PathBuf::from(path);
        assert!(
            binary.is_file(),
            "VPORTAL_BIN={} is not a file",
            binary.display()
        );
        return binary;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    // The test executable lives in target/<profile>/deps; the binary in target/<profile>.
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| target.join("debug"));
    let binary = profile_dir.join("vportal");
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build -p vportal` (scripts/test does)",
        binary.display()
    );
    binary
}

/// Whether this run is CI's: tests that need a third-party peer fail there when it is missing.
pub fn on_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// A third-party program a test needs: its path, or `None` (after a loud note) outside CI. Under `CI=true`
/// a missing program fails the test.
pub fn peer(program: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            !on_ci(),
            "{program} is missing: install the Debian package {package} (scripts/test does, as root)"
        );
        eprintln!("NOTE: {program} is missing (Debian package {package}); this test did not run");
    }
    found
}

/// RTP port ranges handed to servers of one test run, so parallel tests never share ports.
static NEXT_RTP_RANGE: AtomicU16 = AtomicU16::new(0);

/// A `vportal serve` running on loopback, stopped (SIGTERM, then killed) when dropped.
pub struct Server {
    /// Where SIP listens.
    pub sip: SocketAddr,
    /// The data directory.
    pub data: PathBuf,
    /// The server's log (its standard error, at trace level).
    pub log: PathBuf,
    /// The configuration file it was started with.
    pub config: PathBuf,
    /// Where its metrics and health endpoints listen, when its configuration has `[metrics] listen`.
    pub metrics: Option<SocketAddr>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server with demo data and short timers (recordings end after 4 s); `sip_settings` are more lines of its `[sip]` section
    /// (without a `listen` line it listens on 127.0.0.1, on a free port).
    pub fn start_demo(sip_settings: &str) -> Server {
        Server::start_demo_with_env(sip_settings, &[])
    }

    /// [`Server::start_demo`] with more environment variables for the server (e.g. `VPORTAL_LOG_FORMAT`).
    pub fn start_demo_with_env(sip_settings: &str, env: &[(&str, &str)]) -> Server {
        Server::start_demo_with(sip_settings, env, "")
    }

    /// [`Server::start_demo_with_env`] with more sections appended to its configuration file (e.g.
    /// `[metrics]`).
    pub fn start_demo_with(sip_settings: &str, env: &[(&str, &str)], more_config: &str) -> Server {
        let listen = if sip_settings.contains("listen") {
            ""
        } else {
            "listen = \"127.0.0.1:0\"\n"
        };
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let range = NEXT_RTP_RANGE.fetch_add(1, Ordering::SeqCst);
        let low =
            30_000 + (u32::from(range) * 200 + std::process::id() % 50 * 1000) as u16 % 30_000;
        let config = dir.path().join("vportal.toml");
        std::fs::write(
            &config,
            format!(
                "[sip]\n{listen}t1_ms = 100\n{sip_settings}\n[rtp]\nport_min = {low}\nport_max = {}\n\n\
                 [timers]\nfirst_digit_ms = 1500\ninter_digit_ms = 800\nmax_recording_ms = 4000\n\n[media]\nprompts = \"{}\"\n\n{more_config}\n",
                low + 198,
                workspace_root().join("prompts").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("server.log");
        let mut child = Command::new(vportal_binary())
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .arg("--demo")
            .env("VPORTAL_LOG", "trace")
            .envs(env.iter().copied())
            .env_remove("VPORTAL_SEALING_KEY")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("vportal starts");
        let stdout = child.stdout.take().unwrap();
        let (found, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            let mut metrics = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The metrics line, when there is one, comes before the SIP line.
                if let Some(rest) = line.strip_prefix("vportal: metrics on http://") {
                    metrics = rest.split('/').next().map(str::to_owned);
                }
                if !sent && let Some(rest) = line.strip_prefix("vportal: SIP on udp and tcp ") {
                    let addr = rest.split(';').next().unwrap_or_default().to_owned();
                    let _ = found.send((addr, metrics.take()));
                    sent = true;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let (sip, metrics) = loop {
            if let Ok((addr, metrics)) = address.recv_timeout(Duration::from_millis(100)) {
                let metrics = metrics.map(|addr: String| addr.parse().expect("a metrics address"));
                break (
                    addr.parse().expect("the server prints its SIP address"),
                    metrics,
                );
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("vportal serve exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "vportal serve did not start");
        };
        Server {
            sip,
            data,
            log,
            config,
            metrics,
            child,
            _dir: dir,
        }
    }

    /// Sends SIGTERM and waits for the server to exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where in `heard` (8 kHz samples a phone decoded) the English prompt `prompt` starts, if it is there: its
/// audio after the first 0.1 s, through a G.711 round trip, must match almost sample for sample (the portal
/// sends prompts sample-exact).
pub fn find_prompt(heard: &[i16], prompt: portal_core::PromptId) -> Option<usize> {
    use portal_media::g711::Codec;
    let path = portal_media::prompts::prompt_path(&workspace_root().join("prompts"), "en", prompt);
    let original = portal_media::prompts::read_wav(&path).expect("the prompt's WAV reads");
    let codec = Codec::Pcmu;
    let reference: Vec<i16> = original
        .iter()
        .map(|&sample| codec.decode_sample(codec.encode_sample(sample)))
        .collect();
    let skip = 800.min(reference.len() / 2);
    let probe = &reference[skip..(skip + 2000).min(reference.len())];
    // A cheap test on every 97th sample first, then the whole probe.
    let close = |offset: usize, step: usize| {
        let error: i64 = (0..probe.len())
            .step_by(step)
            .map(|i| (i64::from(heard[offset + i]) - i64::from(probe[i])).abs())
            .sum();
        error * step as i64 / probe.len() as i64
    };
    (0..heard.len().saturating_sub(probe.len()))
        .find(|&offset| close(offset, 97) < 40 && close(offset, 1) < 40)
        .map(|offset| offset.saturating_sub(skip))
}

/// Writes a pcap file (Ethernet, IPv4, UDP) of the RFC 4733 packets a phone sends for `keys` at payload type
/// `payload_type`: each key held 100 ms, 300 ms apart (a `,` in `keys` waits a second), the whole run starting
/// `lead_ms` after the first packet
/// (a silence packet of PCMU keeps the stream alive until then). SIPp replays it with `play_pcap_audio`, to
/// the address and port the portal's SDP answer names.
pub fn write_dtmf_pcap(path: &Path, keys: &str, payload_type: u8, lead_ms: u32) {
    use portal_media::dtmf::{TelephoneEventPacing, telephone_event_packets};
    use portal_media::rtp::RtpSender;

    let mut sender = RtpSender::from_seed(4733);
    let mut packets: Vec<(u32, Vec<u8>)> = Vec::new(); // (ms since start, RTP bytes)
    let mut buffer = [0u8; 1500];
    // PCMU silence every 20 ms until the keys begin.
    for frame in 0..lead_ms / 20 {
        let len = sender.build_audio(0, &[0xff; 160], &mut buffer).unwrap();
        packets.push((frame * 20, buffer[..len].to_vec()));
    }
    let mut at_ms = lead_ms;
    for key in keys.chars() {
        if key == ',' {
            sender.skip(1000 * 8);
            at_ms += 1000;
            continue;
        }
        let digit = portal_core::Digit::from_char(key).expect("a keypad key");
        let start = sender.timestamp();
        for packet in telephone_event_packets(digit, start, 800, TelephoneEventPacing::default()) {
            let len = sender
                .build_with_timestamp(
                    payload_type,
                    packet.marker,
                    packet.timestamp,
                    &packet.event.to_bytes(),
                    &mut buffer,
                )
                .unwrap();
            packets.push((at_ms + packet.send_at / 8, buffer[..len].to_vec()));
        }
        sender.skip(300 * 8);
        at_ms += 300;
    }
    write_rtp_pcap(path, &packets);
}

/// Writes a pcap file of the PCMU RTP stream a phone sends to speak `samples` (8 kHz linear): a 20 ms frame
/// (160 samples, payload type 0) every 20 ms from the first packet on, the last frame padded with silence,
/// the first carrying the marker bit. SIPp replays it with `play_pcap_audio`, like [`write_dtmf_pcap`]'s.
/// Returns how long the audio lasts (the frames' total length).
pub fn write_pcmu_pcap(path: &Path, samples: &[i16]) -> Duration {
    use portal_media::g711::Codec;
    use portal_media::rtp::RtpSender;

    let mut sender = RtpSender::from_seed(711);
    let mut buffer = [0u8; 1500];
    let mut packets: Vec<(u32, Vec<u8>)> = Vec::new();
    for (index, chunk) in samples.chunks(160).enumerate() {
        let mut frame = [Codec::Pcmu.encode_sample(0); 160];
        for (code, &sample) in frame.iter_mut().zip(chunk) {
            *code = Codec::Pcmu.encode_sample(sample);
        }
        // The sender marks its first packet (the start of a talkspurt).
        let len = sender.build_audio(0, &frame, &mut buffer).unwrap();
        packets.push((index as u32 * 20, buffer[..len].to_vec()));
    }
    write_rtp_pcap(path, &packets);
    Duration::from_millis(packets.len() as u64 * 20)
}

/// Writes `packets` (milliseconds since the first, RTP bytes) as a pcap file of Ethernet, IPv4 and UDP
/// frames from 127.0.0.1:6000 to 127.0.0.1:6002 (SIPp rewrites the addresses when it replays them).
fn write_rtp_pcap(path: &Path, packets: &[(u32, Vec<u8>)]) {
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    pcap.extend_from_slice(&0i32.to_le_bytes());
    pcap.extend_from_slice(&0u32.to_le_bytes());
    pcap.extend_from_slice(&65_535u32.to_le_bytes());
    pcap.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for &(ms, ref rtp) in packets {
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let frame_len = 14 + ip_len;
        pcap.extend_from_slice(&(ms / 1000).to_le_bytes());
        pcap.extend_from_slice(&((ms % 1000) * 1000).to_le_bytes());
        pcap.extend_from_slice(&(frame_len as u32).to_le_bytes());
        pcap.extend_from_slice(&(frame_len as u32).to_le_bytes());
        pcap.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let mut ip = vec![
            0x45,
            0,
            (ip_len >> 8) as u8,
            ip_len as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ];
        ip.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        let checksum = ip_checksum(&ip);
        ip[10..12].copy_from_slice(&checksum.to_be_bytes());
        pcap.extend_from_slice(&ip);
        pcap.extend_from_slice(&6000u16.to_be_bytes());
        pcap.extend_from_slice(&6002u16.to_be_bytes());
        pcap.extend_from_slice(&(udp_len as u16).to_be_bytes());
        pcap.extend_from_slice(&0u16.to_be_bytes());
        pcap.extend_from_slice(rtp);
    }
    std::fs::write(path, pcap).unwrap();
}

fn ip_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes 8 kHz mono 16-bit PCM samples as a WAV file.
pub fn write_wav(path: &Path, samples: &[i16]) {
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::with_capacity(44 + samples.len() * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16_000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    std::fs::write(path, wav).unwrap();
}

/// `seconds` of a voice stand-in: a buzz whose pitch and loudness wander like speech, never a DTMF pair.
pub fn speech_like(seconds: u32) -> Vec<i16> {
    (0..seconds * 8000)
        .map(|i| {
            let t = f64::from(i) / 8000.0;
            let pitch = 140.0 + 30.0 * (t * 1.7).sin();
            let loudness = 0.55 + 0.45 * (t * 3.1).sin().abs();
            let voice = (t * pitch * std::f64::consts::TAU).sin()
                + 0.4 * (t * pitch * 3.0 * std::f64::consts::TAU).sin();
            (voice * loudness * 7000.0) as i16
        })
        .collect()
}

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `vportal admin --data <data> ARGS...` with `stdin` as its standard input; returns its standard
    /// output, or fails the test with its standard error.
    pub fn admin(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        let mut child = Command::new(vportal_binary())
            .arg("admin")
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .env_remove("VPORTAL_SEALING_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vportal admin starts");
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        let output = child.wait_with_output().expect("vportal admin runs");
        assert!(
            output.status.success(),
            "vportal admin {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The audit trail of `mailbox`, one JSON object per line, newest first.
    pub fn audit(&self, mailbox: &str) -> Vec<String> {
        self.admin(&["audit", "--mailbox", mailbox, "--limit", "1000"], "")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// How many audit lines (JSON objects) have `"kind":"KIND"`.
pub fn count_kind(audit: &[String], kind: &str) -> usize {
    let needle = format!("\"kind\":\"{kind}\"");
    audit.iter().filter(|line| line.contains(&needle)).count()
}

/// The passcodes in the outbox emails sent to `address` (the `... passcode:  NNNN` lines), oldest first.
pub fn emailed_passcodes(data: &Path, address: &str) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("outbox"))
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort(); // the names start with the time they were written
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if !text.lines().any(|l| l == format!("To: {address}")) {
            continue;
        }
        for line in text.lines() {
            let line = line.trim();
            if let Some((label, value)) = line.split_once(':')
                && label.to_ascii_lowercase().ends_with("passcode")
                && !value.trim().is_empty()
                && value.trim().chars().all(|c| c.is_ascii_digit())
            {
                found.push(value.trim().to_owned());
            }
        }
    }
    found
}

/// How long one expectation of an end-to-end call may take (the longest prompts run about ten seconds).
pub const CALL_WAIT: Duration = Duration::from_secs(30);

/// Dial options for a harness call from `from` to the demo portal (5558000) of `server`.
pub fn call_options(server: &Server, from: &str) -> portal_harness::DialOptions {
    let mut options = portal_harness::DialOptions::new(server.sip, from, "5558000");
    options.t1 = Duration::from_millis(100);
    options.prompts_dir = workspace_root().join("prompts");
    options
}

/// Dials the demo portal from `from`, or fails the test with the server's log.
pub fn dial_from(server: &Server, from: &str) -> portal_harness::Phone {
    match portal_harness::Phone::dial(call_options(server, from)) {
        Ok(phone) => phone,
        Err(error) => panic!(
            "dial from {from} failed: {error}\n--- server log (tail) ---\n{}",
            server.log_tail(40)
        ),
    }
}

/// Unwraps a harness result, or fails the test with the call's transcript and the server's log.
pub fn must<T>(
    server: &Server,
    phone: &portal_harness::Phone,
    result: Result<T, portal_harness::HarnessError>,
) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!(
            "{error}\n--- transcript ---\n{}\n--- server log (tail) ---\n{}",
            phone.transcript().join("\n"),
            server.log_tail(40)
        ),
    }
}

/// What a SIPp run labelled `label` printed, and its error log in `dir`, for a failure message.
pub fn sipp_report(label: &str, dir: &Path, output: &std::process::Output) -> String {
    let errors: String = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains("errors"))
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
        .collect();
    format!(
        "sipp {label} exit {:?}\n{}\n{}\n{errors}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
