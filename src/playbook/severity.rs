//! ENISA severity of a breach described by a facts file.
//!
//! The method itself (`SE = DPC × EI + CB`, the bands, the data types) lives
//! in [`crate::incident::severity`], the one implementation live incidents use
//! too; this file maps a facts file's circumstances onto it ([`Inputs`] →
//! [`severity`]) and keeps the ENISA Annex examples as table tests.

use crate::classify::{Categories, Category};
use crate::incident::severity::{
    self as enisa, Availability, Circumstances, Confidentiality, DataType, Integrity,
};

pub use crate::incident::severity::{Band, Ease, Score as Severity};

/// Names of the bands, in order, as playbooks write them.
pub const BAND_NAMES: [&str; 4] = ["low", "medium", "high", "very_high"];

/// The band a playbook names (`min_severity: high`).
pub fn band_from_name(s: &str) -> Option<Band> {
    Some(match s {
        "low" => Band::Low,
        "medium" => Band::Medium,
        "high" => Band::High,
        "very_high" => Band::VeryHigh,
        _ => return None,
    })
}

/// Who could read the data (loss of confidentiality).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Exposed, with no evidence it was read or processed unlawfully.
    NoEvidence,
    /// Reached a known number of recipients.
    Known,
    /// Reached an unknown number of recipients.
    Unknown,
}

/// How a loss of integrity or availability ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Restored without difficulty.
    Recoverable,
    /// Back after a while, or altered and possibly used before repair.
    Temporary,
    /// Gone, or altered beyond repair.
    Permanent,
}

/// What the method scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    /// Data categories involved; the most severe sets the base DPC.
    pub categories: Categories,
    /// Contextual adjustment of the DPC (−3..=+3): volume, who the controller
    /// or the subjects are, invalid or public data. The result stays in 1..=4.
    pub context: i8,
    pub ease: Ease,
    pub confidentiality: Option<Exposure>,
    pub integrity: Option<Loss>,
    pub availability: Option<Loss>,
    pub malicious: bool,
}

/// The DPC: the most severe category's base (children's data counts as
/// simple data of minors, +3), adjusted by context, kept in 1..=4.
pub fn dpc(categories: Categories, context: i8) -> f64 {
    let base = categories
        .iter()
        .map(DataType::of)
        .max()
        .unwrap_or(DataType::Simple);
    let minors = if categories.contains(Category::Children) {
        3
    } else {
        0
    };
    enisa::dpc(base, f64::from(context + minors))
}

/// The circumstances of the breach, added up.
pub fn cb(i: &Inputs) -> f64 {
    Circumstances {
        confidentiality: match i.confidentiality {
            None => Confidentiality::None,
            Some(Exposure::NoEvidence) => Confidentiality::Exposed,
            Some(Exposure::Known) => Confidentiality::KnownRecipients,
            Some(Exposure::Unknown) => Confidentiality::UnknownRecipients,
        },
        integrity: match i.integrity {
            None => Integrity::None,
            Some(Loss::Recoverable) => Integrity::Recoverable,
            Some(Loss::Temporary) => Integrity::UsedRecoverable,
            Some(Loss::Permanent) => Integrity::Unrecoverable,
        },
        availability: match i.availability {
            None => Availability::None,
            Some(Loss::Recoverable) => Availability::Recoverable,
            Some(Loss::Temporary) => Availability::Temporary,
            Some(Loss::Permanent) => Availability::Permanent,
        },
        malicious: i.malicious,
    }
    .cb()
}

/// `SE = DPC × EI + CB` and its band.
pub fn severity(i: &Inputs) -> Severity {
    from_parts(dpc(i.categories, i.context), i.ease.ei(), cb(i))
}

/// The score and band of given parts (used when an assessor overrides one).
pub fn from_parts(dpc: f64, ei: f64, cb: f64) -> Severity {
    enisa::assess(dpc, ei, cb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats(list: &[Category]) -> Categories {
        list.iter().copied().collect()
    }

    /// ENISA 2013 Annex 1 (DPC examples): the base of the category and the
    /// contextual adjustment the annex gives for each example.
    #[test]
    fn dpc_follows_the_annex_examples() {
        use Category::*;
        let table: &[(&str, &[Category], i8, f64)] = &[
            ("supermarket customer list", &[Identity, Contact], 0, 1.0),
            (
                "luxury goods seller's customers: wealth implied",
                &[Identity, Contact],
                1,
                2.0,
            ),
            (
                "adult book store delivery addresses: sexual life implied",
                &[Identity, Contact],
                2,
                3.0,
            ),
            (
                "list of undercover officers: safety at stake",
                &[Identity],
                3,
                4.0,
            ),
            (
                "ISP helpdesk list of incoming calls",
                &[Behavioural],
                -1,
                1.0,
            ),
            ("one week of call history", &[Behavioural], 0, 2.0),
            (
                "one year of call history: a detailed profile",
                &[Behavioural],
                1,
                3.0,
            ),
            (
                "calls to a psychological support line: health implied",
                &[Behavioural],
                2,
                4.0,
            ),
            (
                "letter stating only that someone is a bank's client",
                &[Financial],
                -2,
                1.0,
            ),
            ("one month of account balances", &[Financial], 0, 3.0),
            ("a year of detailed bank statements", &[Financial], 1, 4.0),
            (
                "card data that expired a decade ago",
                &[PaymentCard],
                -2,
                1.0,
            ),
            (
                "full usable card data from an online shop",
                &[PaymentCard],
                1,
                4.0,
            ),
            ("'has had general blood tests'", &[Health], -3, 1.0),
            ("actual test results", &[Health], 0, 4.0),
            ("already-public posts", &[Behavioural], -1, 1.0),
            (
                "private messages revealing health or sex life",
                &[SpecialCategory],
                0,
                4.0,
            ),
        ];
        for (case, c, context, want) in table {
            assert_eq!(dpc(cats(c), *context), *want, "{case}");
        }
    }

    #[test]
    fn the_most_severe_category_sets_the_base() {
        use Category::*;
        assert_eq!(dpc(cats(&[Identity, Contact, Health]), 0), 4.0);
        assert_eq!(dpc(cats(&[Identity, Location]), 0), 2.0);
        assert_eq!(dpc(Categories::default(), 0), 1.0);
        // context never leaves 1..=4
        assert_eq!(dpc(cats(&[Health]), 3), 4.0);
        assert_eq!(dpc(cats(&[Identity]), -3), 1.0);
    }

    /// ENISA 2013 Annex 3 (circumstances): each element adds its value.
    #[test]
    fn circumstances_add_up() {
        let base = Inputs {
            categories: cats(&[Category::Identity]),
            context: 0,
            ease: Ease::Maximum,
            confidentiality: None,
            integrity: None,
            availability: None,
            malicious: false,
        };
        let table: &[(&str, Inputs, f64)] = &[
            ("nothing happened to the data", base, 0.0),
            (
                "lost file, no evidence anyone read it",
                Inputs {
                    confidentiality: Some(Exposure::NoEvidence),
                    ..base
                },
                0.0,
            ),
            (
                "mis-sent to a known number of recipients",
                Inputs {
                    confidentiality: Some(Exposure::Known),
                    ..base
                },
                0.25,
            ),
            (
                "published on the internet",
                Inputs {
                    confidentiality: Some(Exposure::Unknown),
                    ..base
                },
                0.5,
            ),
            (
                "altered, restored from backup",
                Inputs {
                    integrity: Some(Loss::Recoverable),
                    ..base
                },
                0.0,
            ),
            (
                "unavailable for days",
                Inputs {
                    availability: Some(Loss::Temporary),
                    ..base
                },
                0.25,
            ),
            (
                "destroyed without a copy",
                Inputs {
                    availability: Some(Loss::Permanent),
                    ..base
                },
                0.5,
            ),
            (
                "stolen by an attacker and sold",
                Inputs {
                    confidentiality: Some(Exposure::Unknown),
                    malicious: true,
                    ..base
                },
                1.0,
            ),
        ];
        for (case, i, want) in table {
            assert_eq!(cb(i), *want, "{case}");
        }
    }

    #[test]
    fn score_and_band() {
        // Full card data stolen from an online shop and offered for sale:
        // DPC 4 (annex) × EI 1 + CB (unknown recipients 0.5 + malicious 0.5).
        let card = Inputs {
            categories: cats(&[Category::PaymentCard]),
            context: 1,
            ease: Ease::Maximum,
            confidentiality: Some(Exposure::Unknown),
            integrity: None,
            availability: None,
            malicious: true,
        };
        let s = severity(&card);
        assert_eq!((s.dpc, s.ei, s.cb, s.score), (4.0, 1.0, 1.0, 5.0));
        assert_eq!(s.band, Band::VeryHigh);
        // A supermarket customer list mailed to one wrong, known recipient.
        let list = Inputs {
            categories: cats(&[Category::Identity, Category::Contact]),
            context: 0,
            ease: Ease::Maximum,
            confidentiality: Some(Exposure::Known),
            integrity: None,
            availability: None,
            malicious: false,
        };
        assert_eq!(severity(&list).score, 1.25);
        assert_eq!(severity(&list).band, Band::Low);
        let bands = [
            (1.99, Band::Low),
            (2.0, Band::Medium),
            (2.99, Band::Medium),
            (3.0, Band::High),
            (4.0, Band::VeryHigh),
        ];
        for (score, band) in bands {
            assert_eq!(Band::of(score), band, "{score}");
        }
    }
}
