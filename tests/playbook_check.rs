//! `breachd check` validates playbooks: an unknown action, a bad cron
//! expression or a missing template is named with file, line and field.

mod common;

use common::*;

const BAD: &str = "\
regime: ACME
title: a playbook with three mistakes
jurisdictions: [EU]
obligations:
  - recipient: supervisory_authority
    basis: Art. 33(1)
    trigger: risk
    deadline: {from: aware_at, within: 72 hours}
steps:
  - id: page
    at: {from: detected_at, within: immediately}
    action: page
    channel: oncall
  - id: remind
    every: \"*/15 25 * * *\"
    until: approved
    action: escalate
    channel: legal
  - id: draft
    at: {from: aware_at, within: 4 hours}
    action: draft
    template: acme_authority_notice
    recipient: supervisory_authority
";

#[test]
fn a_bad_playbook_is_named_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("playbooks")).unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("templates/other.en.hbs"), "x").unwrap();
    std::fs::write(dir.path().join("playbooks/acme.yaml"), BAD).unwrap();
    std::fs::write(
        dir.path().join("breachd.toml"),
        "[playbooks]\ndir = \"playbooks\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["check", "--config", "breachd.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "playbooks/acme.yaml:12: steps[0].action: unknown action `page`",
        "playbooks/acme.yaml:15: steps[1].every: bad cron expression `*/15 25 * * *`",
        "playbooks/acme.yaml:22: steps[2].template: template `acme_authority_notice` does not exist",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    assert!(
        err.contains("breachd.toml:2:7: playbooks.dir: playbook problem"),
        "{err}"
    );
}

#[test]
fn a_good_playbook_directory_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("playbooks")).unwrap();
    let fixed = BAD
        .replace("action: page", "action: notify")
        .replace("*/15 25 * * *", "*/15 * * * *");
    std::fs::write(dir.path().join("playbooks/acme.yaml"), fixed).unwrap();
    std::fs::write(
        dir.path().join("breachd.toml"),
        "[playbooks]\ndir = \"playbooks\"\n",
    )
    .unwrap();
    // no templates directory yet: template names are not checked
    let out = run(dir.path(), &["check", "--config", "breachd.toml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 playbook)"));
}

#[test]
fn the_shipped_playbooks_pass_check() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("18 playbooks"));
}
