//! The required contents of each notice, per regime, as data; and the check
//! that renders every template against the sample incident and names each
//! required item the rendered notice lacks.
//!
//! An item is present when the rendered notice contains the sample's value
//! for it (the sample's fields are distinctive: the DPO's address, the
//! consequence sentence, ...), or, for headings, the heading's words in the
//! notice's language. Sources: `shared/regulations.md`, "Required contents".

use super::notice::{Locale, Notice, View};
use super::template::{Templates, ALERT, ALERT_PAGERDUTY, ALERT_SLACK};

/// How the check finds an item in a rendered notice.
#[derive(Clone, Copy)]
pub enum Marker {
    /// Every one of these sample values must appear.
    Values(fn(&View) -> Vec<String>),
    /// This phrase, in the notice's language (English, Chinese).
    Phrase(&'static str, &'static str),
}

/// One required item of a notice.
#[derive(Clone, Copy)]
pub struct Item {
    /// The legal source (`GDPR Art. 33(3)(b)`).
    pub basis: &'static str,
    /// What must be stated, as the law says it.
    pub what: &'static str,
    pub marker: Marker,
}

const fn values(basis: &'static str, what: &'static str, f: fn(&View) -> Vec<String>) -> Item {
    Item {
        basis,
        what,
        marker: Marker::Values(f),
    }
}

const fn phrase(
    basis: &'static str,
    what: &'static str,
    en: &'static str,
    zh: &'static str,
) -> Item {
    Item {
        basis,
        what,
        marker: Marker::Phrase(en, zh),
    }
}

fn nature(v: &View) -> Vec<String> {
    vec![v.description.clone()]
}
fn data_categories(v: &View) -> Vec<String> {
    v.categories.iter().map(|c| c.label.to_string()).collect()
}
fn subject_kinds(v: &View) -> Vec<String> {
    vec![v.subject_kinds_text.clone()]
}
fn subjects(v: &View) -> Vec<String> {
    vec![v.subjects.clone()]
}
fn records(v: &View) -> Vec<String> {
    vec![v.records.clone()]
}
fn dpo(v: &View) -> Vec<String> {
    vec![v.dpo.name.clone(), v.dpo.email.clone()]
}
fn consequences(v: &View) -> Vec<String> {
    v.consequences.clone()
}
fn measures(v: &View) -> Vec<String> {
    v.measures_taken
        .iter()
        .chain(&v.measures_proposed)
        .cloned()
        .collect()
}
fn measures_taken(v: &View) -> Vec<String> {
    v.measures_taken.clone()
}
fn missing_facts(v: &View) -> Vec<String> {
    v.missing_facts.clone()
}
fn delay(v: &View) -> Vec<String> {
    vec![v.delay_reason.clone()]
}
fn cause(v: &View) -> Vec<String> {
    vec![v.cause.clone()]
}
fn subject_actions(v: &View) -> Vec<String> {
    v.subject_actions.clone()
}
fn handler_contact(v: &View) -> Vec<String> {
    vec![v.organisation.name.clone(), v.organisation.email.clone()]
}
fn business_contact(v: &View) -> Vec<String> {
    vec![v.organisation.name.clone(), v.organisation.phone.clone()]
}
fn hipaa_contact(v: &View) -> Vec<String> {
    vec![
        v.organisation.phone.clone(),
        v.organisation.email.clone(),
        v.organisation.website.clone(),
    ]
}
fn breach_dates(v: &View) -> Vec<String> {
    vec![v.breach_period.clone()]
}
fn discovery_date(v: &View) -> Vec<String> {
    vec![v.detected_at.clone()]
}
fn notice_date(v: &View) -> Vec<String> {
    vec![v.notice_date.clone()]
}
fn safeguards(v: &View) -> Vec<String> {
    v.safeguards.clone()
}
fn identity_protection(v: &View) -> Vec<String> {
    vec![v.identity_protection.clone()]
}
fn incident_id(v: &View) -> Vec<String> {
    vec![v.incident_id.clone()]
}
fn title(v: &View) -> Vec<String> {
    vec![v.title.clone()]
}
fn band(v: &View) -> Vec<String> {
    vec![v.severity.label.to_string()]
}

/// GDPR Art. 33(3) and (4), and 33(1)'s reasons for a late notice.
const GDPR_AUTHORITY: &[Item] = &[
    values("GDPR Art. 33(3)(a)", "the nature of the breach", nature),
    values(
        "GDPR Art. 33(3)(a)",
        "the categories of personal data records concerned",
        data_categories,
    ),
    values(
        "GDPR Art. 33(3)(a)",
        "the categories of data subjects concerned",
        subject_kinds,
    ),
    values(
        "GDPR Art. 33(3)(a)",
        "the approximate number of data subjects concerned",
        subjects,
    ),
    values(
        "GDPR Art. 33(3)(a)",
        "the approximate number of personal data records concerned",
        records,
    ),
    values(
        "GDPR Art. 33(3)(b)",
        "the name and contact details of the DPO or other contact point",
        dpo,
    ),
    values(
        "GDPR Art. 33(3)(c)",
        "the likely consequences of the breach",
        consequences,
    ),
    values(
        "GDPR Art. 33(3)(d)",
        "the measures taken or proposed, including mitigation",
        measures,
    ),
    values(
        "GDPR Art. 33(4)",
        "a phased notification naming the facts still being established",
        missing_facts,
    ),
    values(
        "GDPR Art. 33(1)",
        "the reasons for a delay beyond 72 hours",
        delay,
    ),
];

/// GDPR Art. 34(2): the nature, and Art. 33(3)(b)-(d).
const GDPR_SUBJECTS: &[Item] = &[
    values("GDPR Art. 34(2)", "the nature of the breach", nature),
    values(
        "GDPR Art. 34(2), 33(3)(b)",
        "the name and contact details of the DPO or other contact point",
        dpo,
    ),
    values(
        "GDPR Art. 34(2), 33(3)(c)",
        "the likely consequences of the breach",
        consequences,
    ),
    values(
        "GDPR Art. 34(2), 33(3)(d)",
        "the measures taken or proposed, including mitigation",
        measures,
    ),
];

const UK_AUTHORITY: &[Item] = &[
    values("UK GDPR Art. 33(3)(a)", "the nature of the breach", nature),
    values(
        "UK GDPR Art. 33(3)(a)",
        "the categories of personal data records concerned",
        data_categories,
    ),
    values(
        "UK GDPR Art. 33(3)(a)",
        "the categories of data subjects concerned",
        subject_kinds,
    ),
    values(
        "UK GDPR Art. 33(3)(a)",
        "the approximate number of data subjects concerned",
        subjects,
    ),
    values(
        "UK GDPR Art. 33(3)(a)",
        "the approximate number of personal data records concerned",
        records,
    ),
    values(
        "UK GDPR Art. 33(3)(b)",
        "the name and contact details of the DPO or other contact point",
        dpo,
    ),
    values(
        "UK GDPR Art. 33(3)(c)",
        "the likely consequences of the breach",
        consequences,
    ),
    values(
        "UK GDPR Art. 33(3)(d)",
        "the measures taken or proposed, including mitigation",
        measures,
    ),
    values(
        "UK GDPR Art. 33(4)",
        "a phased notification naming the facts still being established",
        missing_facts,
    ),
    values(
        "UK GDPR Art. 33(1)",
        "the reasons for a delay beyond 72 hours",
        delay,
    ),
];

const UK_SUBJECTS: &[Item] = &[
    values("UK GDPR Art. 34(2)", "the nature of the breach", nature),
    values(
        "UK GDPR Art. 34(2)",
        "the name and contact details of the DPO or other contact point",
        dpo,
    ),
    values(
        "UK GDPR Art. 34(2)",
        "the likely consequences of the breach",
        consequences,
    ),
    values(
        "UK GDPR Art. 34(2)",
        "the measures taken or proposed, including mitigation",
        measures,
    ),
];

/// PIPL Art. 57, to the authorities and to individuals alike.
const PIPL: &[Item] = &[
    values(
        "PIPL Art. 57(1)",
        "the categories of personal information involved",
        data_categories,
    ),
    values("PIPL Art. 57(1)", "the cause of the incident", cause),
    values("PIPL Art. 57(1)", "the possible harm", consequences),
    values(
        "PIPL Art. 57(2)",
        "the remedial measures taken",
        measures_taken,
    ),
    values(
        "PIPL Art. 57(2)",
        "the measures individuals can take to reduce harm",
        subject_actions,
    ),
    values(
        "PIPL Art. 57(3)",
        "the handler's contact method",
        handler_contact,
    ),
];

/// California Civ. Code 1798.82(d): title, headings and contents.
const CALIFORNIA: &[Item] = &[
    phrase("Cal. Civ. Code 1798.82(d)(1)", "the title \"Notice of Data Breach\"", "# Notice of Data Breach", "# 数据泄露通知"),
    phrase("Cal. Civ. Code 1798.82(d)(1)", "the heading \"What Happened\"", "## What Happened", "## 发生了什么"),
    phrase("Cal. Civ. Code 1798.82(d)(1)", "the heading \"What Information Was Involved\"", "## What Information Was Involved", "## 涉及哪些信息"),
    phrase("Cal. Civ. Code 1798.82(d)(1)", "the heading \"What We Are Doing\"", "## What We Are Doing", "## 我们正在采取的措施"),
    phrase("Cal. Civ. Code 1798.82(d)(1)", "the heading \"What You Can Do\"", "## What You Can Do", "## 您可以采取的措施"),
    phrase("Cal. Civ. Code 1798.82(d)(1)", "the heading \"For More Information\"", "## For More Information", "## 更多信息"),
    values("Cal. Civ. Code 1798.82(d)(2)(A)", "the name and contact information of the business", business_contact),
    values("Cal. Civ. Code 1798.82(d)(2)(B)", "the types of personal information involved", data_categories),
    values("Cal. Civ. Code 1798.82(d)(2)(C)", "the date, estimated date or date range of the breach", breach_dates),
    values("Cal. Civ. Code 1798.82(d)(2)(C)", "the date of the notice", notice_date),
    phrase("Cal. Civ. Code 1798.82(d)(2)(D)", "whether notice was delayed for a law enforcement investigation", "law enforcement", "执法机关"),
    values("Cal. Civ. Code 1798.82(d)(2)(E)", "a general description of the breach", nature),
    phrase("Cal. Civ. Code 1798.82(d)(2)(F)", "the toll-free numbers and addresses of the major credit reporting agencies (government identifiers exposed)", "Equifax: 1-800", "Equifax: 1-800"),
    values("Cal. Civ. Code 1798.82(d)(2)(G)", "identity theft prevention services offered at no cost (government identifiers exposed)", identity_protection),
];

/// HIPAA 45 CFR 164.404(c)(1).
const HIPAA: &[Item] = &[
    values(
        "45 CFR 164.404(c)(1)(A)",
        "a brief description of what happened",
        nature,
    ),
    values(
        "45 CFR 164.404(c)(1)(A)",
        "the date of the breach",
        breach_dates,
    ),
    values(
        "45 CFR 164.404(c)(1)(A)",
        "the date of discovery of the breach",
        discovery_date,
    ),
    values(
        "45 CFR 164.404(c)(1)(B)",
        "the types of unsecured protected health information involved",
        data_categories,
    ),
    values(
        "45 CFR 164.404(c)(1)(C)",
        "the steps individuals should take to protect themselves",
        subject_actions,
    ),
    values(
        "45 CFR 164.404(c)(1)(D)",
        "what the entity is doing to investigate, mitigate and protect against further breaches",
        measures,
    ),
    values(
        "45 CFR 164.404(c)(1)(E)",
        "contact procedures: a toll-free number, an e-mail address and a website or postal address",
        hipaa_contact,
    ),
];

/// LGPD Art. 48 §1 and Resolution CD/ANPD 15/2024.
const LGPD: &[Item] = &[
    values(
        "LGPD Art. 48 §1(I)",
        "the nature and categories of the affected data",
        data_categories,
    ),
    values("LGPD Art. 48 §1(I)", "the nature of the incident", nature),
    values(
        "LGPD Art. 48 §1(II)",
        "the number of data subjects affected",
        subjects,
    ),
    values(
        "LGPD Art. 48 §1(II)",
        "the categories of data subjects affected",
        subject_kinds,
    ),
    values(
        "LGPD Art. 48 §1(III)",
        "the technical and security measures used to protect the data",
        safeguards,
    ),
    values(
        "LGPD Art. 48 §1(IV)",
        "the risks and likely impacts",
        consequences,
    ),
    values("LGPD Art. 48 §1(V)", "the reasons for any delay", delay),
    values(
        "LGPD Art. 48 §1(VI)",
        "the measures taken or to be taken",
        measures,
    ),
];

/// SEC Form 8-K Item 1.05(a).
const SEC: &[Item] = &[
    values(
        "Form 8-K Item 1.05(a)",
        "the material aspects of the nature of the incident",
        nature,
    ),
    values(
        "Form 8-K Item 1.05(a)",
        "the scope of the incident",
        subjects,
    ),
    values(
        "Form 8-K Item 1.05(a)",
        "the timing of the incident",
        breach_dates,
    ),
    values(
        "Form 8-K Item 1.05(a)",
        "the material impact or reasonably likely material impact",
        consequences,
    ),
    values(
        "Form 8-K Item 1.05 Instruction 2",
        "the information not yet determined, to follow in an amendment",
        missing_facts,
    ),
];

/// Regimes whose contents `regulations.md` does not list: the core of
/// GDPR Art. 33(3), which every authority notice we know of asks for.
const AUTHORITY_BASELINE: &[Item] = &[
    values(
        "breachd baseline (GDPR Art. 33(3) model)",
        "the nature of the breach",
        nature,
    ),
    values(
        "breachd baseline (GDPR Art. 33(3) model)",
        "the categories of personal data concerned",
        data_categories,
    ),
    values(
        "breachd baseline (GDPR Art. 33(3) model)",
        "the approximate number of people concerned",
        subjects,
    ),
    values(
        "breachd baseline (GDPR Art. 33(3) model)",
        "a contact point",
        dpo,
    ),
    values(
        "breachd baseline (GDPR Art. 33(3) model)",
        "the likely consequences",
        consequences,
    ),
    values(
        "breachd baseline (GDPR Art. 33(3) model)",
        "the measures taken or proposed",
        measures,
    ),
    values(
        "breachd baseline (GDPR Art. 33(4) model)",
        "the facts still being established",
        missing_facts,
    ),
];

/// Notices to people where `regulations.md` lists no contents: GDPR Art.
/// 34(2) and what people can do.
const SUBJECTS_BASELINE: &[Item] = &[
    values(
        "breachd baseline (GDPR Art. 34(2) model)",
        "the nature of the breach",
        nature,
    ),
    values(
        "breachd baseline (GDPR Art. 34(2) model)",
        "the categories of personal data concerned",
        data_categories,
    ),
    values(
        "breachd baseline (GDPR Art. 34(2) model)",
        "a contact point",
        dpo,
    ),
    values(
        "breachd baseline (GDPR Art. 34(2) model)",
        "the likely consequences",
        consequences,
    ),
    values(
        "breachd baseline (GDPR Art. 34(2) model)",
        "the measures taken or proposed",
        measures,
    ),
    values(
        "breachd baseline (GDPR Art. 34(2) model)",
        "what people can do to protect themselves",
        subject_actions,
    ),
];

/// What an on-call engineer must see to act.
const ALERT_ITEMS: &[Item] = &[
    values("breachd on-call alert", "the incident id", incident_id),
    values("breachd on-call alert", "the incident title", title),
    values("breachd on-call alert", "the severity band", band),
];

/// The required items of a template, by its name; `None` for templates
/// with no checklist (partials, user additions).
pub fn required(name: &str) -> Option<&'static [Item]> {
    Some(match name {
        "gdpr_supervisory_authority" => GDPR_AUTHORITY,
        "gdpr_data_subjects" => GDPR_SUBJECTS,
        "uk_gdpr_supervisory_authority" => UK_AUTHORITY,
        "uk_gdpr_data_subjects" => UK_SUBJECTS,
        "pipl_supervisory_authority" | "pipl_data_subjects" => PIPL,
        "ca_data_subjects" => CALIFORNIA,
        "hipaa_data_subjects" => HIPAA,
        "lgpd_supervisory_authority" | "lgpd_data_subjects" => LGPD,
        "sec_public" => SEC,
        ALERT | ALERT_SLACK | ALERT_PAGERDUTY => ALERT_ITEMS,
        n if n.ends_with("_supervisory_authority") => AUTHORITY_BASELINE,
        n if n.ends_with("_data_subjects") => SUBJECTS_BASELINE,
        _ => return None,
    })
}

/// Templates code sends by name: every locale folder must have them.
pub const ALWAYS_REQUIRED: [&str; 3] = [ALERT, ALERT_SLACK, ALERT_PAGERDUTY];

/// Renders every template of every locale against the sample (with missing
/// facts and a delay, and again with everything known), and lists each
/// problem as `FILE: BASIS: WHAT is missing ...`.
pub fn check(templates: &Templates) -> Vec<String> {
    let mut problems = Vec::new();
    for locale in templates.locales() {
        for name in ALWAYS_REQUIRED {
            if templates.path(locale, name).is_none() {
                problems.push(format!(
                    "templates/{}: the on-call template `{name}` is missing; add {}/{name}.hbs",
                    locale.tag(),
                    locale.tag()
                ));
            }
        }
        let sample = View::of(&Notice::sample(locale));
        let mut complete = Notice::sample(locale);
        complete.missing_facts.clear();
        complete.delay_reason = None;
        complete.law_enforcement_delay = false;
        complete.identity_protection = None;
        complete.breach_start = None;
        complete.breach_end = None;
        let complete = View::of(&complete);
        for name in templates.names(locale) {
            let path = templates.path(locale, name).unwrap_or(name).to_string();
            let rendered = match templates.render_view(name, locale, &sample) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            if let Err(e) = templates.render_view(name, locale, &complete) {
                problems.push(format!("{e} (when every fact is known)"));
            }
            let text = format!("{}\n{}", rendered.subject, rendered.body);
            for item in required(name).unwrap_or(&[]) {
                if let Some(why) = lacks(item, &text, &sample, locale) {
                    problems.push(format!(
                        "{path}: {}: {} is missing ({why})",
                        item.basis, item.what
                    ));
                }
            }
        }
    }
    problems
}

/// Why `text` lacks `item`, or `None` when it has it.
fn lacks(item: &Item, text: &str, sample: &View, locale: Locale) -> Option<String> {
    match item.marker {
        Marker::Values(f) => f(sample)
            .into_iter()
            .find(|v| !text.contains(v.as_str()))
            .map(|v| format!("the sample incident's `{v}` does not appear")),
        Marker::Phrase(en, zh) => {
            let p = if locale == Locale::En { en } else { zh };
            (!text.contains(p)).then(|| format!("`{p}` does not appear"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_templates_have_every_required_item() {
        let t = Templates::shipped().unwrap();
        assert_eq!(check(&t), Vec::<String>::new());
    }

    #[test]
    fn every_template_the_playbooks_name_has_a_checklist() {
        for (_, text) in crate::playbook::SHIPPED {
            for line in text.lines() {
                if let Some(name) = line.trim().strip_prefix("template:") {
                    assert!(required(name.trim()).is_some(), "{name}");
                }
            }
        }
    }

    #[test]
    fn a_missing_item_is_named_with_file_and_basis() {
        let mut files: Vec<(String, String, String, Result<String, String>)> = Vec::new();
        files.push((
            "en".into(),
            "gdpr_supervisory_authority".into(),
            "t/en/gdpr_supervisory_authority.hbs".into(),
            Ok("Subject {{incident_id}}\n\n{{description}} {{categories_text}} {{subject_kinds_text}} {{subjects}} {{records}}\n{{#each consequences}}{{this}}{{/each}} {{#each measures_taken}}{{this}}{{/each}}{{#each measures_proposed}}{{this}}{{/each}}\n{{#each missing_facts}}{{this}}{{/each}} {{delay_reason}}\n".into()),
        ));
        for n in ALWAYS_REQUIRED {
            files.push((
                "en".into(),
                n.into(),
                format!("t/en/{n}.hbs"),
                Ok("{{incident_id}} {{title}} {{severity.label}}\n".into()),
            ));
        }
        let t = Templates::from_files(files).unwrap();
        let p = check(&t);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].starts_with("t/en/gdpr_supervisory_authority.hbs: GDPR Art. 33(3)(b): the name and contact details of the DPO or other contact point is missing (the sample incident's `Dana Officer` does not appear)"),
            "{}",
            p[0]
        );
    }
}
