//! The notice templates as a user meets them: `breachd check` names a
//! template that lacks a required item, and passes the shipped ones; an
//! incident's text can never become markup or template syntax.

mod common;

use std::path::Path;

use breachd::notify::template::to_html;
use breachd::notify::{Locale, Notice, Notification, Templates};
use common::*;

/// Copies the shipped `templates/` into `to`.
fn copy_templates(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for locale in std::fs::read_dir(&from).unwrap().flatten() {
        if !locale.path().is_dir() {
            continue;
        }
        let dest = to.join(locale.file_name());
        std::fs::create_dir_all(&dest).unwrap();
        for f in std::fs::read_dir(locale.path()).unwrap().flatten() {
            std::fs::copy(f.path(), dest.join(f.file_name())).unwrap();
        }
    }
}

fn check(dir: &Path) -> (Option<i32>, String) {
    std::fs::write(
        dir.join("breachd.toml"),
        "[playbooks]\ntemplates = \"notices\"\n",
    )
    .unwrap();
    let out = run(dir, &["check", "--config", "breachd.toml"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_passes_a_copy_of_the_shipped_templates() {
    let dir = tempfile::tempdir().unwrap();
    copy_templates(&dir.path().join("notices"));
    let (code, stderr) = check(dir.path());
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn check_names_the_template_and_the_missing_required_item() {
    let dir = tempfile::tempdir().unwrap();
    let notices = dir.path().join("notices");
    copy_templates(&notices);
    // a GDPR authority notice written without the partial, and without the DPO
    std::fs::write(
        notices.join("en/gdpr_supervisory_authority.hbs"),
        "Breach notification {{incident_id}}\n\n\
         {{description}}\n\
         Data: {{categories_text}}; people: {{subject_kinds_text}}, about {{subjects}}; records: {{records}}.\n\
         {{#each consequences}}- {{this}}\n{{/each}}\
         {{#each measures_taken}}- {{this}}\n{{/each}}{{#each measures_proposed}}- {{this}}\n{{/each}}\
         {{#if phased}}To follow: {{#each missing_facts}}{{this}}{{/each}}{{/if}}\n\
         {{#if delay_reason}}Late because: {{delay_reason}}{{/if}}\n",
    )
    .unwrap();
    // a California notice that lost a heading, in Chinese
    let ca = std::fs::read_to_string(notices.join("zh-CN/_subjects.hbs"))
        .unwrap()
        .replace("## 您可以采取的措施", "## 建议");
    std::fs::write(notices.join("zh-CN/_subjects.hbs"), ca).unwrap();
    // and a template using a field the notice does not have (strict mode)
    std::fs::write(
        notices.join("en/nis2_supervisory_authority.hbs"),
        "NIS2 {{incident_id}}\n\n{{sector}}\n",
    )
    .unwrap();

    let (code, stderr) = check(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    for want in [
        "breachd.toml:2:13: playbooks.templates: template problem: ",
        "notices/en/gdpr_supervisory_authority.hbs: GDPR Art. 33(3)(b): the name and contact details of the DPO or other contact point is missing (the sample incident's `Dana Officer` does not appear)",
        "notices/zh-CN/ca_data_subjects.hbs: Cal. Civ. Code 1798.82(d)(1): the heading \"What You Can Do\" is missing (`## 您可以采取的措施` does not appear)",
        "notices/en/nis2_supervisory_authority.hbs: `sector` is not a field of the notice (strict mode); use one of the fields listed in templates/README.md (in `nis2_supervisory_authority`, line 3)",
    ] {
        assert!(stderr.contains(want), "missing `{want}` in:\n{stderr}");
    }
    // every other template still passes: only these problems are listed
    let problems = stderr
        .lines()
        .filter(|l| l.contains("template problem"))
        .count();
    assert_eq!(problems, 3, "{stderr}");
    assert!(!stderr.contains("gdpr_data_subjects"), "{stderr}");
}

#[test]
fn a_missing_on_call_template_fails_check() {
    let dir = tempfile::tempdir().unwrap();
    let notices = dir.path().join("notices");
    copy_templates(&notices);
    std::fs::remove_file(notices.join("en/oncall_alert_slack.hbs")).unwrap();
    let (code, stderr) = check(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the on-call template `oncall_alert_slack` is missing; add en/oncall_alert_slack.hbs"
        ),
        "{stderr}"
    );
}

#[test]
fn incident_text_holding_html_or_handlebars_is_rendered_inert() {
    let t = Templates::shipped().unwrap();
    for locale in Locale::ALL {
        let mut n = Notice::sample(locale);
        n.title = "<script>alert(1)</script> {{dpo.email}}".into();
        n.description = "{{#each consequences}}LEAK{{/each}} <img src=x onerror=alert(2)> & {{> _credit_agencies}}".into();
        n.consequences = vec!["{{{organisation.phone}}}".into()];
        n.dpo.name = "</p><h1>Fake</h1>".into();
        for name in ["gdpr_data_subjects", "gdpr_supervisory_authority"] {
            let m = Notification::notice(&t, name, &n, "k").unwrap();
            // handlebars syntax in a value is text, never evaluated
            assert!(
                m.body.contains("{{#each consequences}}LEAK{{/each}}"),
                "{}",
                m.body
            );
            assert!(m.body.contains("{{> _credit_agencies}}"), "{}", m.body);
            assert!(m.body.contains("{{{organisation.phone}}}"), "{}", m.body);
            assert!(!m.body.contains("LEAKLEAK"));
            // and HTML in a value is escaped in the HTML form
            let html = to_html(&m.subject, &m.body);
            assert!(
                html.contains("&lt;img src=x onerror=alert(2)&gt; &amp;"),
                "{html}"
            );
            assert!(
                html.contains("&lt;/p&gt;&lt;h1&gt;Fake&lt;/h1&gt;"),
                "{html}"
            );
            assert!(
                !html.contains("<img") && !html.contains("<script") && !html.contains("<h1>Fake")
            );
        }
        let alert = Notification::alert(&t, &n, "k").unwrap();
        assert!(alert
            .subject
            .contains("<script>alert(1)</script> {{dpo.email}}"));
        assert!(to_html(&alert.subject, &alert.body)
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; {{dpo.email}}"));
        // Slack: mrkdwn and the fallback text are escaped; the header block
        // is plain_text, which Slack never reads as markup
        let slack = breachd::notify::http::slack_body(&alert);
        assert_eq!(slack["blocks"][0]["text"]["type"], "plain_text");
        for text in [&slack["blocks"][1]["text"]["text"], &slack["text"]] {
            assert!(text.as_str().unwrap().contains("&lt;script&gt;"), "{slack}");
        }
    }
}

#[test]
fn the_shipped_playbooks_name_only_templates_that_ship_in_both_languages() {
    let t = Templates::shipped().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks");
    let mut names = Vec::new();
    for f in std::fs::read_dir(root).unwrap().flatten() {
        if f.path().extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(f.path()).unwrap();
        for line in text.lines() {
            if let Some(n) = line.trim().strip_prefix("template:") {
                names.push(n.trim().to_string());
            }
        }
    }
    assert_eq!(names.len(), 24);
    for locale in Locale::ALL {
        for n in &names {
            assert!(t.path(locale, n).is_some(), "{n} in {locale:?}");
        }
    }
}
