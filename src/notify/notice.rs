//! `Notice`: the facts a notification may state about an incident, as one
//! plain struct, and `View`, the same facts formatted for one locale — the
//! context every template renders against.

use jiff::Timestamp;
use serde::Serialize;

use crate::classify::Category;
use crate::playbook::severity::{self, Band, Severity};

/// The language a notice is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locale {
    /// English.
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// The BCP 47 tag, also the name of the locale's folder in `templates/`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// Reads `en`, `zh-CN`, `zh`, `zh-Hans` (any case, `_` or `-`).
    pub fn parse(s: &str) -> Option<Locale> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "en" | "en-us" | "en-gb" => Some(Locale::En),
            "zh" | "zh-cn" | "zh-hans" | "zh-hans-cn" => Some(Locale::ZhCn),
            _ => None,
        }
    }
}

/// Where an incident is in its life (DESIGN.md); PagerDuty's event action
/// follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Acknowledged,
    Contained,
    Resolved,
    FalsePositive,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Contained => "contained",
            Status::Resolved => "resolved",
            Status::FalsePositive => "false_positive",
        }
    }

    pub fn from_name(s: &str) -> Option<Status> {
        [
            Status::Open,
            Status::Acknowledged,
            Status::Contained,
            Status::Resolved,
            Status::FalsePositive,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Who the notices come from, and how to reach them (from `[notify]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub phone: String,
    /// Postal address.
    pub address: String,
    pub website: String,
}

/// The facts of one incident that notices state. The incident stage fills it
/// from an incident; `breachd check` renders every template against
/// [`Notice::sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// `INC-0007`; also PagerDuty's `dedup_key`.
    pub incident_id: String,
    pub title: String,
    pub status: Status,
    /// ENISA severity with its inputs.
    pub severity: Severity,
    pub detected_at: Timestamp,
    pub aware_at: Timestamp,
    /// First and last event time of the breach, when known.
    pub breach_start: Option<Timestamp>,
    pub breach_end: Option<Timestamp>,
    /// The date the notice is sent (California asks for it).
    pub notice_date: Timestamp,
    /// What happened, in plain language: the nature of the breach.
    pub description: String,
    /// How it happened (PIPL Art. 57 asks for the cause).
    pub cause: String,
    /// Data categories touched (the shared vocabulary).
    pub categories: Vec<Category>,
    /// Categories of data subjects ("customers", "patients").
    pub subject_kinds: Vec<String>,
    /// Approximate number of data subjects affected.
    pub subjects: u64,
    /// Approximate number of records affected.
    pub records: u64,
    pub jurisdictions: Vec<String>,
    /// The organisation (controller, handler, covered entity).
    pub organisation: Contact,
    /// The data protection officer or other contact point.
    pub dpo: Contact,
    /// Likely consequences for the data subjects.
    pub consequences: Vec<String>,
    pub measures_taken: Vec<String>,
    pub measures_proposed: Vec<String>,
    /// Technical and security measures in place before the breach (LGPD).
    pub safeguards: Vec<String>,
    /// What the people affected can do to protect themselves.
    pub subject_actions: Vec<String>,
    /// Facts not yet known: a non-empty list makes the notice a phased one
    /// (GDPR Art. 33(4)) that names what will follow.
    pub missing_facts: Vec<String>,
    /// Why the notice is late, when it is (GDPR Art. 33(1), LGPD).
    pub delay_reason: Option<String>,
    /// Whether notice was delayed at law enforcement's request (California).
    pub law_enforcement_delay: bool,
    /// Identity-theft prevention offered at no cost (California, when
    /// government identifiers were exposed).
    pub identity_protection: Option<String>,
    pub locale: Locale,
}

impl Notice {
    /// The built-in sample incident every template is checked against: each
    /// field holds a distinctive value, so a missing item is a missing value.
    pub fn sample(locale: Locale) -> Notice {
        let t = |s: &str| s.parse::<Timestamp>().unwrap_or(Timestamp::UNIX_EPOCH);
        Notice {
            incident_id: "INC-0042".into(),
            title: "Customer records read through a stolen API key".into(),
            status: Status::Open,
            severity: severity::from_parts(3.0, 1.0, 0.5),
            detected_at: t("2026-03-02T10:01:12Z"),
            aware_at: t("2026-03-02T11:30:00Z"),
            breach_start: Some(t("2026-03-01T22:14:05Z")),
            breach_end: Some(t("2026-03-02T09:58:41Z")),
            notice_date: t("2026-03-04T09:00:00Z"),
            description: "An attacker used a leaked API key to download customer profiles from the account service.".into(),
            cause: "An API key committed to a public code repository by mistake.".into(),
            categories: vec![
                Category::Identity,
                Category::Contact,
                Category::Health,
                Category::GovernmentId,
            ],
            subject_kinds: vec!["customers".into(), "newsletter subscribers".into()],
            subjects: 1240,
            records: 3712,
            jurisdictions: vec!["EU".into(), "US-CA".into(), "CN".into()],
            organisation: Contact {
                name: "Example Health GmbH".into(),
                email: "privacy@example.org".into(),
                phone: "+1-800-555-0142".into(),
                address: "Hauptstrasse 1, 10115 Berlin, Germany".into(),
                website: "https://example.org/incident".into(),
            },
            dpo: Contact {
                name: "Dana Officer".into(),
                email: "dpo@example.org".into(),
                phone: "+49-30-5550199".into(),
                address: String::new(),
                website: String::new(),
            },
            consequences: vec!["Phishing e-mails that quote the leaked profile details".into()],
            measures_taken: vec!["The leaked API key was revoked on 2 March 2026".into()],
            measures_proposed: vec!["Secret scanning on every code push".into()],
            safeguards: vec!["Profiles were stored encrypted at rest".into()],
            subject_actions: vec!["Be wary of e-mails asking you to confirm your details".into()],
            missing_facts: vec!["the exact list of profiles downloaded".into()],
            delay_reason: Some("Forensic imaging of the account service took 80 hours".into()),
            law_enforcement_delay: true,
            identity_protection: Some("24 months of IdentityWatch credit monitoring at no cost".into()),
            locale,
        }
    }
}

impl Notice {
    /// What breachd knows of a live incident, as a notice: the facts the
    /// logs show (times, categories, estimated subjects, jurisdictions,
    /// ENISA severity), the organisation and DPO from `[notify]`, and every
    /// fact only people can supply listed as missing, so a draft says what a
    /// person must complete before approving it.
    pub fn of_incident(
        i: &crate::incident::Incident,
        organisation: &Contact,
        dpo: &Contact,
        locale: Locale,
        now: Timestamp,
    ) -> Notice {
        let t = |e: crate::parse::EventTime| {
            Timestamp::from_microsecond(e.unix_micros).unwrap_or(Timestamp::UNIX_EPOCH)
        };
        let a = i.assessment();
        let status = match i.status {
            crate::incident::Status::Open => Status::Open,
            crate::incident::Status::Acknowledged => Status::Acknowledged,
            crate::incident::Status::Contained => Status::Contained,
            crate::incident::Status::Resolved => Status::Resolved,
            crate::incident::Status::FalsePositive => Status::FalsePositive,
        };
        Notice {
            incident_id: i.id.to_string(),
            title: i.title.clone(),
            status,
            severity: severity::from_parts(a.dpc.value, a.ei.value, a.cb.value),
            detected_at: t(i.detected_at),
            aware_at: i.aware.as_ref().map_or(i.opened_at, |a| a.at),
            breach_start: Some(t(i.start)),
            breach_end: Some(t(i.end)),
            notice_date: now,
            description: format!(
                "breachd detected: {} ({} alert(s) in the access logs).",
                i.title, i.alerts
            ),
            cause: "under investigation".into(),
            categories: i.categories.iter().collect(),
            subject_kinds: Vec::new(),
            subjects: i.subjects,
            records: i.subjects.max(i.subjects_upper),
            jurisdictions: i
                .jurisdictions
                .iter()
                .map(|j| j.jurisdiction.clone())
                .collect(),
            organisation: organisation.clone(),
            dpo: dpo.clone(),
            consequences: Vec::new(),
            measures_taken: Vec::new(),
            measures_proposed: Vec::new(),
            safeguards: Vec::new(),
            subject_actions: Vec::new(),
            missing_facts: vec![
                "the cause of the breach".into(),
                "the likely consequences for the people affected".into(),
                "the measures taken and proposed".into(),
            ],
            delay_reason: None,
            law_enforcement_delay: false,
            identity_protection: None,
            locale,
        }
    }
}

/// A category with its label in the notice's language.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryView {
    pub code: &'static str,
    pub label: &'static str,
}

/// ENISA severity for templates: band code, label and inputs.
#[derive(Debug, Clone, Serialize)]
pub struct SeverityView {
    pub band: &'static str,
    pub label: &'static str,
    pub score: String,
    pub dpc: String,
    pub ei: String,
    pub cb: String,
}

/// The template context: a [`Notice`] with times, numbers and categories
/// formatted for its locale. Every field is always present (strict mode).
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub incident_id: String,
    pub title: String,
    pub status: &'static str,
    pub severity: SeverityView,
    pub detected_at: String,
    pub aware_at: String,
    /// "from X to Y", "since X", or "not yet known", in the locale.
    pub breach_period: String,
    pub breach_start: String,
    pub notice_date: String,
    pub description: String,
    pub cause: String,
    pub categories: Vec<CategoryView>,
    /// The labels joined for a sentence.
    pub categories_text: String,
    pub subject_kinds_text: String,
    pub subjects: String,
    pub records: String,
    pub jurisdictions_text: String,
    pub organisation: Contact,
    pub dpo: Contact,
    pub consequences: Vec<String>,
    pub measures_taken: Vec<String>,
    pub measures_proposed: Vec<String>,
    pub safeguards: Vec<String>,
    pub subject_actions: Vec<String>,
    pub missing_facts: Vec<String>,
    /// True when facts are missing: the notice is a first phase.
    pub phased: bool,
    /// Empty when the notice is not late.
    pub delay_reason: String,
    pub law_enforcement_delay: bool,
    /// Government identifiers (SSN, licence, passport) were exposed.
    pub government_id: bool,
    /// Empty when none is offered.
    pub identity_protection: String,
    pub locale: &'static str,
}

impl View {
    pub fn of(n: &Notice) -> View {
        let l = n.locale;
        let list_sep = match l {
            Locale::En => ", ",
            Locale::ZhCn => "、",
        };
        let categories: Vec<CategoryView> = n
            .categories
            .iter()
            .map(|c| CategoryView {
                code: c.as_str(),
                label: category_label(*c, l),
            })
            .collect();
        let categories_text = categories
            .iter()
            .map(|c| c.label)
            .collect::<Vec<_>>()
            .join(list_sep);
        let s = &n.severity;
        let breach_period = match (n.breach_start, n.breach_end, l) {
            (Some(a), Some(b), Locale::En) => format!("from {} to {}", time(a), time(b)),
            (Some(a), Some(b), Locale::ZhCn) => format!("自 {} 至 {}", time(a), time(b)),
            (Some(a), None, Locale::En) => format!("since {}", time(a)),
            (Some(a), None, Locale::ZhCn) => format!("自 {} 起", time(a)),
            (None, _, Locale::En) => "not yet known".into(),
            (None, _, Locale::ZhCn) => "尚未确定".into(),
        };
        View {
            incident_id: n.incident_id.clone(),
            title: n.title.clone(),
            status: n.status.as_str(),
            severity: SeverityView {
                band: s.band.as_str(),
                label: band_label(s.band, l),
                score: format!("{:.2}", s.score),
                dpc: format!("{:.2}", s.dpc),
                ei: format!("{:.2}", s.ei),
                cb: format!("{:.2}", s.cb),
            },
            detected_at: time(n.detected_at),
            aware_at: time(n.aware_at),
            breach_period,
            breach_start: n.breach_start.map(date).unwrap_or_default(),
            notice_date: date(n.notice_date),
            description: n.description.clone(),
            cause: n.cause.clone(),
            categories,
            categories_text,
            subject_kinds_text: n.subject_kinds.join(list_sep),
            subjects: n.subjects.to_string(),
            records: n.records.to_string(),
            jurisdictions_text: n.jurisdictions.join(list_sep),
            organisation: n.organisation.clone(),
            dpo: n.dpo.clone(),
            consequences: n.consequences.clone(),
            measures_taken: n.measures_taken.clone(),
            measures_proposed: n.measures_proposed.clone(),
            safeguards: n.safeguards.clone(),
            subject_actions: n.subject_actions.clone(),
            missing_facts: n.missing_facts.clone(),
            phased: !n.missing_facts.is_empty(),
            delay_reason: n.delay_reason.clone().unwrap_or_default(),
            law_enforcement_delay: n.law_enforcement_delay,
            government_id: n.categories.contains(&Category::GovernmentId),
            identity_protection: n.identity_protection.clone().unwrap_or_default(),
            locale: l.tag(),
        }
    }
}

/// `2026-03-02 10:01 UTC`: notices state times in UTC so every reader
/// agrees on them.
fn time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn date(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

/// A category's name in plain language.
pub fn category_label(c: Category, l: Locale) -> &'static str {
    use Category::*;
    match (l, c) {
        (Locale::En, Identity) => "names and identifiers",
        (Locale::En, Contact) => "contact details",
        (Locale::En, Credentials) => "passwords and login credentials",
        (Locale::En, Financial) => "financial information",
        (Locale::En, PaymentCard) => "payment card data",
        (Locale::En, Location) => "location data",
        (Locale::En, Behavioural) => "usage and behavioural data",
        (Locale::En, Health) => "health information",
        (Locale::En, Biometric) => "biometric data",
        (Locale::En, Children) => "children's data",
        (Locale::En, GovernmentId) => "government identification numbers",
        (Locale::En, SpecialCategory) => "special categories of personal data",
        (Locale::ZhCn, Identity) => "姓名和身份标识",
        (Locale::ZhCn, Contact) => "联系方式",
        (Locale::ZhCn, Credentials) => "密码和登录凭证",
        (Locale::ZhCn, Financial) => "财务信息",
        (Locale::ZhCn, PaymentCard) => "银行卡数据",
        (Locale::ZhCn, Location) => "位置信息",
        (Locale::ZhCn, Behavioural) => "使用和行为数据",
        (Locale::ZhCn, Health) => "健康信息",
        (Locale::ZhCn, Biometric) => "生物识别信息",
        (Locale::ZhCn, Children) => "儿童个人信息",
        (Locale::ZhCn, GovernmentId) => "身份证件号码",
        (Locale::ZhCn, SpecialCategory) => "敏感个人信息",
    }
}

fn band_label(b: Band, l: Locale) -> &'static str {
    match (l, b) {
        (Locale::En, Band::Low) => "low",
        (Locale::En, Band::Medium) => "medium",
        (Locale::En, Band::High) => "high",
        (Locale::En, Band::VeryHigh) => "very high",
        (Locale::ZhCn, Band::Low) => "低",
        (Locale::ZhCn, Band::Medium) => "中",
        (Locale::ZhCn, Band::High) => "高",
        (Locale::ZhCn, Band::VeryHigh) => "极高",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_parse_from_common_tags() {
        for (s, l) in [
            ("en", Some(Locale::En)),
            ("EN-gb", Some(Locale::En)),
            ("zh_CN", Some(Locale::ZhCn)),
            ("zh-Hans", Some(Locale::ZhCn)),
            ("fr", None),
        ] {
            assert_eq!(Locale::parse(s), l, "{s}");
        }
    }

    #[test]
    fn the_view_formats_for_the_locale() {
        let v = View::of(&Notice::sample(Locale::ZhCn));
        assert_eq!(
            v.categories_text,
            "姓名和身份标识、联系方式、健康信息、身份证件号码"
        );
        assert_eq!(
            v.breach_period,
            "自 2026-03-01 22:14 UTC 至 2026-03-02 09:58 UTC"
        );
        assert!(v.phased && v.government_id);
        assert_eq!(v.severity.band, "high");
        let mut n = Notice::sample(Locale::En);
        n.breach_start = None;
        n.missing_facts.clear();
        let v = View::of(&n);
        assert_eq!(v.breach_period, "not yet known");
        assert!(!v.phased);
    }
}
