//! Deadlines: a clock time plus an offset, counted in a calendar.
//!
//! A pure function of its inputs: no wall clock. Hours are elapsed time (72
//! hours are 72 hours even across a DST change); days are calendar days in
//! the calendar's zone; business days skip the calendar's weekend and
//! holidays and keep the local time of day.

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// How far a deadline or step lies from its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    /// Elapsed hours (`72 hours`); `0 hours` is "immediately".
    Hours(i64),
    /// Calendar days in the calendar's zone (`30 days`).
    Days(i64),
    /// Working days after the clock's day, skipping weekends and holidays.
    BusinessDays(i64),
}

impl Offset {
    /// Parses `72 hours`, `72h`, `30 days`, `30d`, `4 business days`,
    /// `immediately`.
    pub fn parse(s: &str) -> Result<Offset, String> {
        let s = s.trim();
        if s == "immediately" {
            return Ok(Offset::Hours(0));
        }
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let bad = || {
            format!(
                "bad offset `{s}`; write `72 hours`, `30 days`, `4 business days` or `immediately`"
            )
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        if n > 100_000 {
            return Err(bad());
        }
        match unit.trim() {
            "h" | "hour" | "hours" => Ok(Offset::Hours(n)),
            "d" | "day" | "days" | "calendar days" => Ok(Offset::Days(n)),
            "bd" | "business day" | "business days" | "working days" => Ok(Offset::BusinessDays(n)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: i64| if n == 1 { "" } else { "s" };
        match *self {
            Offset::Hours(0) => f.write_str("immediately"),
            Offset::Hours(n) => write!(f, "{n} hour{}", plural(n)),
            Offset::Days(n) => write!(f, "{n} calendar day{}", plural(n)),
            Offset::BusinessDays(n) => write!(f, "{n} business day{}", plural(n)),
        }
    }
}

/// A zone, its weekend and its public holidays.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub zone: TimeZone,
    pub weekend: Vec<Weekday>,
    pub holidays: BTreeSet<Date>,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            zone: TimeZone::UTC,
            weekend: vec![Weekday::Saturday, Weekday::Sunday],
            holidays: BTreeSet::new(),
        }
    }
}

impl Calendar {
    /// Whether `d` is a working day.
    pub fn is_business_day(&self, d: Date) -> bool {
        !self.weekend.contains(&d.weekday()) && !self.holidays.contains(&d)
    }

    /// The deadline `offset` after `clock`, in this calendar's zone.
    pub fn deadline(&self, clock: Timestamp, offset: Offset) -> Result<Zoned, jiff::Error> {
        let start = clock.to_zoned(self.zone.clone());
        match offset {
            Offset::Hours(h) => start.checked_add(h.hours()),
            Offset::Days(d) => start.checked_add(d.days()),
            Offset::BusinessDays(n) => {
                let mut day = start.date();
                let mut left = n;
                while left > 0 {
                    day = day.tomorrow()?;
                    if self.is_business_day(day) {
                        left -= 1;
                    }
                }
                day.to_datetime(start.time()).to_zoned(self.zone.clone())
            }
        }
    }
}

/// RFC 3339 with the zone's offset (`2026-03-09T16:00:00+01:00`).
pub fn rfc3339(z: &Zoned) -> String {
    z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(zone: &str, holidays: &[&str]) -> Calendar {
        Calendar {
            zone: TimeZone::get(zone).unwrap(),
            holidays: holidays.iter().map(|d| d.parse().unwrap()).collect(),
            ..Calendar::default()
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn offsets_parse_and_print() {
        let cases = [
            ("72 hours", Offset::Hours(72)),
            ("72h", Offset::Hours(72)),
            ("immediately", Offset::Hours(0)),
            ("30 days", Offset::Days(30)),
            ("4 business days", Offset::BusinessDays(4)),
            ("3bd", Offset::BusinessDays(3)),
        ];
        for (text, want) in cases {
            assert_eq!(Offset::parse(text), Ok(want), "{text}");
        }
        assert!(Offset::parse("soon").is_err());
        assert!(Offset::parse("3 fortnights").is_err());
        assert_eq!(Offset::BusinessDays(4).to_string(), "4 business days");
    }

    #[test]
    fn gdpr_aware_friday_afternoon_is_due_monday_afternoon() {
        // Friday 2026-03-06 16:00 in Brussels; no DST change that weekend.
        let c = cal("Europe/Brussels", &[]);
        let d = c
            .deadline(at("2026-03-06T15:00:00Z"), Offset::Hours(72))
            .unwrap();
        assert_eq!(rfc3339(&d), "2026-03-09T16:00:00+01:00");
        assert_eq!(d.weekday(), Weekday::Monday);
    }

    #[test]
    fn hours_are_elapsed_time_across_a_dst_change() {
        // Brussels springs forward on Sunday 2026-03-29: 72 elapsed hours from
        // Friday 16:00 CET end on Monday 17:00 CEST.
        let c = cal("Europe/Brussels", &[]);
        let d = c
            .deadline(at("2026-03-27T15:00:00Z"), Offset::Hours(72))
            .unwrap();
        assert_eq!(rfc3339(&d), "2026-03-30T17:00:00+02:00");
    }

    #[test]
    fn sec_four_business_days_skip_the_weekend_and_a_holiday() {
        // Materiality determined Thursday 2026-02-12 10:00 New York time; Monday
        // 2026-02-16 is Washington's Birthday, a configured holiday.
        let c = cal("America/New_York", &["2026-02-16"]);
        let d = c
            .deadline(at("2026-02-12T15:00:00Z"), Offset::BusinessDays(4))
            .unwrap();
        // Fri 13 (1), Tue 17 (2), Wed 18 (3), Thu 19 (4)
        assert_eq!(rfc3339(&d), "2026-02-19T10:00:00-05:00");
        // without the holiday it is the Wednesday
        let plain = cal("America/New_York", &[]);
        let d = plain
            .deadline(at("2026-02-12T15:00:00Z"), Offset::BusinessDays(4))
            .unwrap();
        assert_eq!(rfc3339(&d), "2026-02-18T10:00:00-05:00");
    }

    #[test]
    fn lgpd_three_business_days_in_sao_paulo() {
        // Knowledge on Wednesday 2026-04-01 18:00 in São Paulo; Friday
        // 2026-04-03 is Good Friday (a national holiday).
        let c = cal("America/Sao_Paulo", &["2026-04-03"]);
        let d = c
            .deadline(at("2026-04-01T21:00:00Z"), Offset::BusinessDays(3))
            .unwrap();
        // Thu 2 (1), Mon 6 (2), Tue 7 (3)
        assert_eq!(rfc3339(&d), "2026-04-07T18:00:00-03:00");
    }

    #[test]
    fn the_zone_decides_which_day_a_clock_falls_on() {
        // 23:30 UTC on a Friday is already Saturday in Tokyo: the count starts
        // from Saturday there, from Friday in London.
        let clock = at("2026-03-06T23:30:00Z");
        let tokyo = cal("Asia/Tokyo", &[]);
        let london = cal("Europe/London", &[]);
        assert_eq!(
            rfc3339(&tokyo.deadline(clock, Offset::BusinessDays(1)).unwrap()),
            "2026-03-09T08:30:00+09:00"
        );
        assert_eq!(
            rfc3339(&london.deadline(clock, Offset::BusinessDays(1)).unwrap()),
            "2026-03-09T23:30:00+00:00"
        );
    }

    #[test]
    fn calendar_days_keep_the_local_time() {
        let c = cal("America/Los_Angeles", &[]);
        // 30 days from 2026-02-20 09:00 PST crosses the March DST change.
        let d = c
            .deadline(at("2026-02-20T17:00:00Z"), Offset::Days(30))
            .unwrap();
        assert_eq!(rfc3339(&d), "2026-03-22T09:00:00-07:00");
    }
}
