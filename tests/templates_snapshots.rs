//! The rendered notices, as a reviewer reads them: one snapshot per kind of
//! notice and language, rendered against the built-in sample incident. A
//! change to a template shows up here as a diff to read, not just a pass.

use breachd::notify::template::to_html;
use breachd::notify::{Locale, Notice, Templates};

fn render(name: &str, locale: Locale) -> String {
    let t = Templates::shipped().unwrap();
    let r = t.render(name, &Notice::sample(locale)).unwrap();
    format!("Subject: {}\n\n{}", r.subject, r.body)
}

macro_rules! snapshot {
    ($test:ident, $name:literal, $locale:expr) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(render($name, $locale));
        }
    };
}

snapshot!(oncall_alert_en, "oncall_alert", Locale::En);
snapshot!(oncall_alert_zh, "oncall_alert", Locale::ZhCn);
snapshot!(oncall_alert_slack_en, "oncall_alert_slack", Locale::En);
snapshot!(
    gdpr_supervisory_authority_en,
    "gdpr_supervisory_authority",
    Locale::En
);
snapshot!(
    gdpr_supervisory_authority_zh,
    "gdpr_supervisory_authority",
    Locale::ZhCn
);
snapshot!(ca_data_subjects_en, "ca_data_subjects", Locale::En);
snapshot!(hipaa_data_subjects_en, "hipaa_data_subjects", Locale::En);
snapshot!(pipl_data_subjects_zh, "pipl_data_subjects", Locale::ZhCn);
snapshot!(
    pipl_supervisory_authority_zh,
    "pipl_supervisory_authority",
    Locale::ZhCn
);
snapshot!(sec_public_en, "sec_public", Locale::En);

#[test]
fn ca_data_subjects_en_html() {
    let t = Templates::shipped().unwrap();
    let r = t
        .render("ca_data_subjects", &Notice::sample(Locale::En))
        .unwrap();
    insta::assert_snapshot!(to_html(&r.subject, &r.body));
}

#[test]
fn a_notice_with_every_fact_known_has_no_phased_or_delay_section() {
    let t = Templates::shipped().unwrap();
    let mut n = Notice::sample(Locale::En);
    n.missing_facts.clear();
    n.delay_reason = None;
    n.law_enforcement_delay = false;
    let sa = t.render("gdpr_supervisory_authority", &n).unwrap().body;
    assert!(
        !sa.contains("Phased notification") && !sa.contains("Reasons for the delay"),
        "{sa}"
    );
    let ds = t.render("gdpr_data_subjects", &n).unwrap().body;
    assert!(
        !ds.contains("still establishing") && !ds.contains("law enforcement"),
        "{ds}"
    );
    let full = t
        .render("gdpr_supervisory_authority", &Notice::sample(Locale::En))
        .unwrap()
        .body;
    assert!(full.contains("## Phased notification") && full.contains("## Reasons for the delay"));
}
