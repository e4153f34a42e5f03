//! Whatever an incident's text holds — markup, handlebars syntax, quotes,
//! newlines, any script — every shipped template renders it literally, and
//! its HTML form never contains it unescaped.

use breachd::notify::template::{escape_html, to_html};
use breachd::notify::{Locale, Notice, Templates};
use proptest::prelude::*;

/// Text built from the pieces an attacker would try, plus arbitrary text.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "{{",
        "}}",
        "{{{",
        "}}}",
        "{{> _sec}}",
        "{{#each consequences}}",
        "{{/each}}",
        "{{dpo.email}}",
        "<script>",
        "</p>",
        "<img src=x onerror=1>",
        "&amp;",
        "\"",
        "'",
        "\\",
        "\n",
        "# ",
        "## ",
        "- ",
        "数据",
        "é",
        " ",
    ]);
    (prop::collection::vec(pieces, 0..12), "\\PC{0,12}")
        .prop_map(|(v, tail)| format!("{}{tail}", v.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn incident_text_is_rendered_literally_and_escaped_in_html(
        title in hostile(),
        description in hostile(),
        consequence in hostile(),
        zh in any::<bool>(),
    ) {
        let t = Templates::shipped().unwrap();
        let locale = if zh { Locale::ZhCn } else { Locale::En };
        let mut n = Notice::sample(locale);
        n.title = title.clone();
        n.description = description.clone();
        n.consequences = vec![consequence.clone()];
        for name in ["gdpr_supervisory_authority", "ca_data_subjects", "oncall_alert"] {
            let r = t.render(name, &n).unwrap();
            let text = format!("{}\n{}", r.subject, r.body);
            if name == "oncall_alert" {
                prop_assert!(text.contains(&title));
            } else {
                prop_assert!(text.contains(&consequence));
            }
            prop_assert!(text.contains(&description));
            // every line of the value reaches the HTML only escaped
            let html = to_html(&r.subject, &r.body);
            for line in description.lines().map(str::trim).filter(|l| l.contains('<')) {
                let bare = line.trim_start_matches(['#', '-', ' ']);
                prop_assert!(html.contains(&escape_html(bare)), "{line:?} in {html}");
            }
            prop_assert!(!html.contains("<script>") && !html.contains("<img"));
        }
    }
}
