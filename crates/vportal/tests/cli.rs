//! The `vportal` command line as an operator meets it: help, version, completions and the manual page.

use std::process::Command;

fn vportal(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vportal"))
        .args(args)
        .output()
        .expect("vportal runs")
}

#[test]
fn help_says_what_the_portal_is_for_and_exits_0() {
    let output = vportal(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.starts_with("vportal: the voice portal callers dial to reach their voicemail"),
        "{help}"
    );
    for command in ["serve", "console", "admin", "completions", "manpage"] {
        assert!(help.contains(command), "{command} in {help}");
    }
    let serve = String::from_utf8(vportal(&["serve", "--help"]).stdout).unwrap();
    assert!(serve.starts_with("Run the voice portal"), "{serve}");
}

#[test]
fn the_version_names_the_revision_it_was_built_from() {
    let output = vportal(&["--version"]);
    assert!(output.status.success());
    let version = String::from_utf8(output.stdout).unwrap();
    let revision = version
        .trim()
        .strip_prefix(concat!("vportal ", env!("CARGO_PKG_VERSION"), " ("))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{version}"));
    assert!(
        revision == "unknown revision"
            || (revision.len() == 12 && revision.chars().all(|c| c.is_ascii_hexdigit())),
        "{revision}"
    );
}

#[test]
fn completions_and_the_manual_page_are_generated_from_the_command_line() {
    let bash = vportal(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = String::from_utf8(bash.stdout).unwrap();
    assert!(
        script.contains("vportal") && script.contains("serve") && script.contains("--sip-listen")
    );
    let man = vportal(&["manpage"]);
    assert!(man.status.success());
    let page = String::from_utf8(man.stdout).unwrap();
    assert!(
        page.contains(".TH vportal"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains("serve"));
    let unknown = vportal(&["completions", "cmd.exe"]);
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "a bad argument is a usage error"
    );
}
