//! `breachd check` names every problem with file, line and field, and exits 1.

mod common;

use common::*;

#[test]
fn the_embedded_default_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn the_shipped_example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("breachd.default.toml");
    let out = run(
        dir.path(),
        &["check", "--config", example.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_readme_inventory_example_is_valid() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let section = readme
        .split("### The data inventory")
        .nth(1)
        .expect("README has a data inventory section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the section has a yaml example");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("breachd.toml"),
        "data_dir = \"data\"\n[detect]\ninventory = \"inventory.yaml\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["check", "--config", "breachd.toml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_problem_is_reported_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        r#"data_dir = "data"

[[source]]
paths = ["logs/*.log"]
format = "nginxx"
read_from = "middle"

[[source]]
paths = ["auth.log"]
timezone = "Europe/Atlantis"

[pipeline]
checkpoint_interval = "often"
max_line_bytes = 10
"#,
    )
    .unwrap();
    let out = run(dir.path(), &["check", "--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    for want in [
        "bad.toml:6:13: source[0].read_from: unknown variant `middle`",
        "bad.toml:10:12: source[1].timezone: unknown time zone `Europe/Atlantis`",
        "bad.toml:13:23: pipeline.checkpoint_interval: bad duration `often`",
        "bad.toml:14:18: pipeline.max_line_bytes: must be between 256",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "missing `{want}` in:\n{err}"
        );
    }
    assert!(err.contains("problems found"), "{err}");
}

#[test]
fn a_missing_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["check", "--config", "absent.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.toml"));
}

#[test]
fn inventory_and_rules_named_in_the_config_are_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inv.yaml"),
        "resources:\n  - pattern: /a\n    categories: [helth]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        "[detect]\ninventory = \"inv.yaml\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["check", "--config", "b.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("b.toml:2:13: detect.inventory") && err.contains("unknown category `helth`"),
        "{err}"
    );
}
