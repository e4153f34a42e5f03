//! ENISA's severity of a personal-data breach (2013, "Recommendations for a
//! methodology of the assessment of severity of personal data breaches"):
//! `SE = DPC × EI + CB`, banded low / medium / high / very high.
//!
//! Pure functions from inputs to a score: [`dpc`], [`Ease`],
//! [`Circumstances::cb`] and [`assess`]. [`for_incident`] derives the inputs
//! breachd can see in the logs (categories, whether data left, intent) and
//! applies a person's overrides; every input carries why it has its value.
//! `breachd assess` reuses [`assess`].

use serde::{Deserialize, Serialize};

use crate::classify::{Categories, Category};

/// The severity band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Low,
    Medium,
    High,
    VeryHigh,
}

impl Band {
    /// SE < 2 low; 2 ≤ SE < 3 medium; 3 ≤ SE < 4 high; SE ≥ 4 very high.
    pub fn of(score: f64) -> Band {
        if score < 2.0 {
            Band::Low
        } else if score < 3.0 {
            Band::Medium
        } else if score < 4.0 {
            Band::High
        } else {
            Band::VeryHigh
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
            Band::VeryHigh => "very_high",
        }
    }
}

/// The ENISA data types, with their base DPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    /// Identity, contact, education, professional, family: base 1.
    Simple,
    /// Location, traffic, habits, preferences: base 2.
    Behavioural,
    /// Income, transactions, bank statements, card data: base 3.
    Financial,
    /// Health, political, religious, sexual life, biometric, criminal: base 4.
    Sensitive,
}

impl DataType {
    pub fn base(self) -> f64 {
        match self {
            DataType::Simple => 1.0,
            DataType::Behavioural => 2.0,
            DataType::Financial => 3.0,
            DataType::Sensitive => 4.0,
        }
    }

    /// The ENISA type of one breachd category.
    pub fn of(c: Category) -> DataType {
        match c {
            // Children's data is simple data whose context (minors) adds +3.
            Category::Identity | Category::Contact | Category::Children => DataType::Simple,
            Category::Location | Category::Behavioural => DataType::Behavioural,
            // Credentials and government ids open accounts and impersonation:
            // they harm like financial data.
            Category::Financial
            | Category::PaymentCard
            | Category::Credentials
            | Category::GovernmentId => DataType::Financial,
            Category::Health | Category::Biometric | Category::SpecialCategory => {
                DataType::Sensitive
            }
        }
    }
}

/// DPC: the base of the data type, moved by the context (e.g. +1 simple
/// data allowing profiling, +3 minors, −1 data already public), kept in 1–4.
pub fn dpc(t: DataType, context: f64) -> f64 {
    (t.base() + context).clamp(1.0, 4.0)
}

/// Ease of identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ease {
    Negligible,
    Limited,
    Significant,
    Maximum,
}

impl Ease {
    pub fn ei(self) -> f64 {
        match self {
            Ease::Negligible => 0.25,
            Ease::Limited => 0.5,
            Ease::Significant => 0.75,
            Ease::Maximum => 1.0,
        }
    }
}

/// Loss of confidentiality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidentiality {
    None,
    /// Exposed, no evidence of unlawful processing: +0.
    Exposed,
    /// Disclosed to a known number of recipients: +0.25.
    KnownRecipients,
    /// Disclosed to an unknown number of recipients: +0.5.
    UnknownRecipients,
}

/// Loss of integrity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Integrity {
    None,
    /// Altered, but recoverable: +0.
    Recoverable,
    /// Altered and possibly used before it was recovered: +0.25.
    UsedRecoverable,
    /// Altered and possibly used, not recoverable: +0.5.
    Unrecoverable,
}

/// Loss of availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    None,
    /// Recoverable without difficulty: +0.
    Recoverable,
    /// Temporarily unavailable: +0.25.
    Temporary,
    /// Lost for good: +0.5.
    Permanent,
}

/// The circumstances of the breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Circumstances {
    pub confidentiality: Confidentiality,
    pub integrity: Integrity,
    pub availability: Availability,
    pub malicious: bool,
}

impl Circumstances {
    /// CB: the sum of each loss's weight, +0.5 for malicious intent.
    pub fn cb(&self) -> f64 {
        let c = match self.confidentiality {
            Confidentiality::None | Confidentiality::Exposed => 0.0,
            Confidentiality::KnownRecipients => 0.25,
            Confidentiality::UnknownRecipients => 0.5,
        };
        let i = match self.integrity {
            Integrity::None | Integrity::Recoverable => 0.0,
            Integrity::UsedRecoverable => 0.25,
            Integrity::Unrecoverable => 0.5,
        };
        let a = match self.availability {
            Availability::None | Availability::Recoverable => 0.0,
            Availability::Temporary => 0.25,
            Availability::Permanent => 0.5,
        };
        c + i + a + if self.malicious { 0.5 } else { 0.0 }
    }
}

/// The score and its band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    pub dpc: f64,
    pub ei: f64,
    pub cb: f64,
    pub score: f64,
    pub band: Band,
}

/// SE = DPC × EI + CB.
pub fn assess(dpc: f64, ei: f64, cb: f64) -> Score {
    // Round to a hundredth: the inputs are quarters, so this only removes
    // floating-point dust that could push a score across a band edge.
    let score = ((dpc * ei + cb) * 100.0).round() / 100.0;
    Score {
        dpc,
        ei,
        cb,
        score,
        band: Band::of(score),
    }
}

/// A person's overrides of the computed inputs (the legal role's call).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ei: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cb: Option<f64>,
}

impl Overrides {
    /// Takes every value `o` sets.
    pub fn apply(&mut self, o: &Overrides) {
        self.dpc = o.dpc.or(self.dpc);
        self.ei = o.ei.or(self.ei);
        self.cb = o.cb.or(self.cb);
    }

    /// Checks the values are in ENISA's ranges.
    pub fn check(&self) -> Result<(), String> {
        if let Some(d) = self.dpc.filter(|d| !(1.0..=4.0).contains(d)) {
            return Err(format!("DPC {d} is outside 1–4"));
        }
        if let Some(e) = self.ei.filter(|e| ![0.25, 0.5, 0.75, 1.0].contains(e)) {
            return Err(format!(
                "EI {e} is not one of 0.25 (negligible), 0.5 (limited), 0.75 (significant), 1 (maximum)"
            ));
        }
        if let Some(c) = self.cb.filter(|c| !(0.0..=2.0).contains(c)) {
            return Err(format!("CB {c} is outside 0–2"));
        }
        Ok(())
    }
}

/// One input of an assessment: its value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Input {
    pub value: f64,
    /// `computed` or `override`.
    pub source: &'static str,
    pub why: String,
}

/// An incident's assessment, every input shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub dpc: Input,
    pub ei: Input,
    pub cb: Input,
    pub score: f64,
    pub band: Band,
}

/// The inputs breachd derives for an incident: DPC from the most severe data
/// type touched (+3 with children's data, ENISA's vulnerable individuals),
/// EI maximum when the data names people (identity, contact, government ids)
/// else significant, CB from exposure (subjects > 0: read by an attacker, an
/// unknown number of recipients) and malicious intent (every breachd
/// detector describes an attack); then `over` replaces any of them.
pub fn for_incident(categories: Categories, subjects: u64, over: &Overrides) -> Assessment {
    let worst = categories.iter().map(DataType::of).max();
    let children = categories.contains(Category::Children);
    let (dpc_v, dpc_why) = match worst {
        None => (
            1.0,
            "no data category known (no inventory match): simple data assumed".to_string(),
        ),
        Some(t) => {
            let ctx = if children { 3.0 } else { 0.0 };
            let v = dpc(t, ctx);
            let names: Vec<&str> = categories
                .iter()
                .filter(|c| DataType::of(*c) == t)
                .map(Category::as_str)
                .collect();
            let mut why = format!("{:?} data ({}), base {}", t, names.join(", "), t.base());
            if children {
                why.push_str(", +3 for minors' data");
            }
            (v, why.to_lowercase())
        }
    };
    let named = [
        Category::Identity,
        Category::Contact,
        Category::GovernmentId,
    ]
    .iter()
    .any(|c| categories.contains(*c));
    let (ei_v, ei_why) = if named {
        (
            Ease::Maximum.ei(),
            "maximum: the records name people (identity, contact or government ids)",
        )
    } else {
        (
            Ease::Significant.ei(),
            "significant: records keyed by customer, without names",
        )
    };
    let circ = Circumstances {
        confidentiality: if subjects > 0 {
            Confidentiality::UnknownRecipients
        } else {
            Confidentiality::None
        },
        integrity: Integrity::None,
        availability: Availability::None,
        malicious: true,
    };
    let cb_why = if subjects > 0 {
        "+0.5 read by an attacker (unknown recipients), +0.5 malicious intent"
    } else {
        "+0.5 malicious intent; no exposure seen"
    };
    let input = |computed: f64, why: String, o: Option<f64>| match o {
        Some(v) => Input {
            value: v,
            source: "override",
            why: format!("set by a person (computed {computed}: {why})"),
        },
        None => Input {
            value: computed,
            source: "computed",
            why,
        },
    };
    let dpc_i = input(dpc_v, dpc_why, over.dpc);
    let ei_i = input(ei_v, ei_why.to_string(), over.ei);
    let cb_i = input(circ.cb(), cb_why.to_string(), over.cb);
    let s = assess(dpc_i.value, ei_i.value, cb_i.value);
    Assessment {
        dpc: dpc_i,
        ei: ei_i,
        cb: cb_i,
        score: s.score,
        band: s.band,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    /// Annex 1 of the ENISA methodology: data sets, the type they start from,
    /// the context adjustment the document applies, and the DPC it arrives at.
    #[test]
    fn annex1_dpc_examples() {
        let cases: &[(&str, DataType, f64, f64)] = &[
            ("supermarket customer list", Simple, 0.0, 1.0),
            (
                "customer list of a luxury goods seller (financial status)",
                Simple,
                1.0,
                2.0,
            ),
            (
                "delivery addresses of an adult book store (sexual preferences)",
                Simple,
                2.0,
                3.0,
            ),
            (
                "list of undercover officers (critical safety)",
                Simple,
                3.0,
                4.0,
            ),
            ("ISP helpdesk incoming calls", Behavioural, -1.0, 1.0),
            ("one week of call history", Behavioural, 0.0, 2.0),
            (
                "one year of call history (detailed profile)",
                Behavioural,
                1.0,
                3.0,
            ),
            (
                "calls to a psychological support centre (health)",
                Behavioural,
                2.0,
                4.0,
            ),
            (
                "bank letter showing only client status",
                Financial,
                -2.0,
                1.0,
            ),
            (
                "one day of transactions without details",
                Financial,
                -1.0,
                2.0,
            ),
            ("one month of balances", Financial, 0.0, 3.0),
            ("a year of detailed bank statements", Financial, 1.0, 4.0),
            ("expired decade-old card data", Financial, -2.0, 1.0),
            (
                "full usable card data from an online shop",
                Financial,
                1.0,
                4.0,
            ),
            ("'performed general blood tests'", Sensitive, -3.0, 1.0),
            ("ER blood test fact", Sensitive, -2.0, 2.0),
            ("test for a specific disease", Sensitive, -1.0, 3.0),
            ("actual test results", Sensitive, 0.0, 4.0),
            ("already-public social network posts", Sensitive, -3.0, 1.0),
            (
                "private messages revealing health or sex life",
                Sensitive,
                0.0,
                4.0,
            ),
            ("a month of loyalty-card purchases", Behavioural, 0.0, 2.0),
            ("a year of transport-card locations", Behavioural, 1.0, 3.0),
            ("pharmacy purchases (health)", Behavioural, 2.0, 4.0),
            (
                "credentials of a low-impact store (music)",
                Simple,
                0.0,
                1.0,
            ),
            (
                "online-banking credentials (the financial data they open)",
                Financial,
                1.0,
                4.0,
            ),
            ("political opinions in a closed forum", Sensitive, 0.0, 4.0),
            (
                "sexual orientation declared on a dating site",
                Sensitive,
                0.0,
                4.0,
            ),
        ];
        for (what, t, ctx, want) in cases {
            assert_eq!(dpc(*t, *ctx), *want, "{what}");
        }
        // the context never leaves 1–4
        assert_eq!(dpc(Sensitive, 2.0), 4.0);
        assert_eq!(dpc(Simple, -1.0), 1.0);
    }

    /// Whole assessments: (DPC, EI, circumstances) → score and band.
    #[test]
    fn scores_and_bands() {
        let circ = |c, i, a, m| Circumstances {
            confidentiality: c,
            integrity: i,
            availability: a,
            malicious: m,
        };
        use Availability as A;
        use Confidentiality as C;
        use Integrity as I;
        let cases: &[(&str, f64, Ease, Circumstances, f64, Band)] = &[
            (
                "supermarket list mailed to a wrong, known recipient",
                1.0,
                Ease::Maximum,
                circ(C::KnownRecipients, I::None, A::None, false),
                1.25,
                Band::Low,
            ),
            (
                "a year of bank statements stolen by hackers",
                4.0,
                Ease::Maximum,
                circ(C::UnknownRecipients, I::None, A::None, true),
                5.0,
                Band::VeryHigh,
            ),
            (
                "one month of balances, pseudonymised, exposed",
                3.0,
                Ease::Limited,
                circ(C::Exposed, I::None, A::None, false),
                1.5,
                Band::Low,
            ),
            (
                "one year call history leaked to unknown parties",
                3.0,
                Ease::Significant,
                circ(C::UnknownRecipients, I::None, A::None, false),
                2.75,
                Band::Medium,
            ),
            (
                "test results altered for good by an intruder",
                4.0,
                Ease::Significant,
                circ(C::None, I::Unrecoverable, A::None, true),
                4.0,
                Band::VeryHigh,
            ),
            (
                "ransomware, customer list unavailable for days",
                1.0,
                Ease::Maximum,
                circ(C::None, I::None, A::Temporary, true),
                1.75,
                Band::Low,
            ),
            (
                "card data lost for good, no copy",
                4.0,
                Ease::Maximum,
                circ(C::None, I::None, A::Permanent, false),
                4.5,
                Band::VeryHigh,
            ),
            (
                "call history to a known partner, malicious insider",
                2.0,
                Ease::Maximum,
                circ(C::KnownRecipients, I::None, A::None, true),
                2.75,
                Band::Medium,
            ),
            (
                "a year of call history with names, hacked",
                3.0,
                Ease::Maximum,
                circ(C::UnknownRecipients, I::None, A::None, false),
                3.5,
                Band::High,
            ),
        ];
        for (what, d, e, c, score, band) in cases {
            let s = assess(*d, e.ei(), c.cb());
            assert_eq!(s.score, *score, "{what}");
            assert_eq!(s.band, *band, "{what}");
        }
    }

    #[test]
    fn band_edges() {
        for (s, b) in [
            (0.25, Band::Low),
            (1.99, Band::Low),
            (2.0, Band::Medium),
            (2.99, Band::Medium),
            (3.0, Band::High),
            (3.99, Band::High),
            (4.0, Band::VeryHigh),
            (6.0, Band::VeryHigh),
        ] {
            assert_eq!(Band::of(s), b, "{s}");
        }
    }

    #[test]
    fn an_incident_shows_its_inputs_and_takes_overrides() {
        let cats: Categories = [Category::Identity, Category::Health].into_iter().collect();
        let a = for_incident(cats, 120, &Overrides::default());
        assert_eq!((a.dpc.value, a.ei.value, a.cb.value), (4.0, 1.0, 1.0));
        assert_eq!((a.score, a.band), (5.0, Band::VeryHigh));
        assert!(a.dpc.why.contains("health"), "{}", a.dpc.why);
        let over = Overrides {
            dpc: Some(2.0),
            ei: None,
            cb: Some(0.5),
        };
        let a = for_incident(cats, 120, &over);
        assert_eq!((a.score, a.band), (2.5, Band::Medium));
        assert_eq!(a.dpc.source, "override");
        assert_eq!(a.ei.source, "computed");
        let kids: Categories = [Category::Identity, Category::Children]
            .into_iter()
            .collect();
        assert_eq!(for_incident(kids, 0, &Overrides::default()).dpc.value, 4.0);
        assert!(Overrides {
            ei: Some(0.3),
            ..Default::default()
        }
        .check()
        .is_err());
        assert!(Overrides {
            dpc: Some(5.0),
            ..Default::default()
        }
        .check()
        .is_err());
    }
}
