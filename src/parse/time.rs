//! Event time: parsing the timestamps logs carry, without allocating, and
//! resolving zoneless ones (syslog) against a configured time zone.

use std::fmt;

use serde::{Serialize, Serializer};

/// An instant with the UTC offset the log line carried, so output can show
/// the time as the line did while comparisons use UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EventTime {
    /// Microseconds since the Unix epoch, UTC.
    pub unix_micros: i64,
    /// The line's offset from UTC in seconds (east positive).
    pub offset_secs: i32,
}

impl PartialOrd for EventTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EventTime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.unix_micros.cmp(&other.unix_micros)
    }
}

impl EventTime {
    pub fn from_unix_secs(secs: i64, offset_secs: i32) -> EventTime {
        EventTime {
            unix_micros: secs * 1_000_000,
            offset_secs,
        }
    }

    /// Whole seconds since the epoch.
    pub fn unix_secs(self) -> i64 {
        self.unix_micros.div_euclid(1_000_000)
    }

    /// Builds an instant from civil fields read in a zone at `offset_secs`.
    pub fn from_civil(c: &Civil, offset_secs: i32) -> EventTime {
        let days = days_from_civil(c.year, c.month, c.day);
        let local = days * 86_400 + c.hour as i64 * 3600 + c.minute as i64 * 60 + c.second as i64;
        EventTime {
            unix_micros: (local - offset_secs as i64) * 1_000_000 + c.micros as i64,
            offset_secs,
        }
    }
}

impl fmt::Display for EventTime {
    /// RFC 3339 in the line's own offset; fractional seconds only when present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.unix_micros + self.offset_secs as i64 * 1_000_000;
        let secs = local.div_euclid(1_000_000);
        let micros = local.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y,
            m,
            d,
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )?;
        if micros != 0 {
            if micros % 1000 == 0 {
                write!(f, ".{:03}", micros / 1000)?;
            } else {
                write!(f, ".{:06}", micros)?;
            }
        }
        let off = self.offset_secs;
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        write!(f, "{}{:02}:{:02}", sign, a / 3600, (a / 60) % 60)
    }
}

impl Serialize for EventTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Civil (wall-clock) fields as a line wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Civil {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
}

impl Civil {
    fn valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 61
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = y as i64 - if m <= 2 { 1 } else { 0 };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// `Jan`..`Dec` (case-sensitive, as logs write them) to 1..=12.
pub fn month_from_abbr(b: &[u8]) -> Option<u8> {
    if b.len() != 3 {
        return None;
    }
    Some(match b {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

/// Reads exactly `n` ASCII digits.
#[inline]
pub fn digits(b: &[u8], n: usize) -> Option<u32> {
    if b.len() < n {
        return None;
    }
    let mut v = 0u32;
    for &c in &b[..n] {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u32;
    }
    Some(v)
}

/// Parses `+0200`, `-07:00`, `Z`/`z` (returns offset seconds and bytes consumed).
pub fn parse_offset(b: &[u8]) -> Option<(i32, usize)> {
    match b.first()? {
        b'Z' | b'z' => Some((0, 1)),
        c @ (b'+' | b'-') => {
            let sign = if *c == b'-' { -1 } else { 1 };
            let hh = digits(&b[1..], 2)?;
            let (mm, used) = if b.get(3) == Some(&b':') {
                (digits(&b[4..], 2)?, 6)
            } else {
                (digits(&b[3..], 2)?, 5)
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            Some((sign * (hh as i32 * 3600 + mm as i32 * 60), used))
        }
        _ => None,
    }
}

/// The common log format's `10/Oct/2000:13:55:36 -0700` (without brackets).
pub fn parse_clf(b: &[u8]) -> Option<EventTime> {
    if b.len() < 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let c = Civil {
        day: digits(b, 2)? as u8,
        month: month_from_abbr(&b[3..6])?,
        year: digits(&b[7..], 4)? as i32,
        hour: digits(&b[12..], 2)? as u8,
        minute: (b[14] == b':').then(|| digits(&b[15..], 2))?? as u8,
        second: (b[17] == b':').then(|| digits(&b[18..], 2))?? as u8,
        micros: 0,
    };
    if !c.valid() {
        return None;
    }
    let (off, used) = parse_offset(&b[21..])?;
    if 21 + used != b.len() {
        return None;
    }
    Some(EventTime::from_civil(&c, off))
}

/// The time of day of a 26-byte CLF stamp (`10/Oct/2000:13:55:36 -0700`) in
/// seconds, checked as [`parse_clf`] checks it; the date and offset around it
/// are not looked at. Lets a caller that has parsed a stamp of the same date
/// and offset reuse that parse.
///
/// The eight bytes `hh:mm:ss` are checked as one `u64` (SWAR): every line
/// whose second is new but whose day is not comes here.
#[inline]
pub fn clf_seconds_of_day(b: &[u8; 26]) -> Option<u32> {
    const HI: u64 = u64::from_le_bytes([0x80; 8]);
    // byte by byte, the lowest and the highest byte allowed
    const LOW: u64 = u64::from_le_bytes(*b"00:00:00");
    const HIGH: u64 = u64::from_le_bytes(*b"99:99:99");
    // 0x7f - HIGH byte by byte: adding it sets a byte's top bit iff the
    // byte is over HIGH's (no byte carries while all are below 0x80)
    const OVER: u64 = u64::from_le_bytes([0x7f; 8]) - HIGH;
    let w = u64::from_le_bytes(b[12..20].try_into().ok()?);
    // Below 0x80, at least LOW's, at most HIGH's: a byte under LOW's
    // borrows into its own top bit (and those above, rejected anyway).
    if (w | w.wrapping_sub(LOW) | w.wrapping_add(OVER)) & HI != 0 {
        return None;
    }
    // digit values, and zero at the colons
    let d = w - LOW;
    let at = |k: u32| ((d >> (8 * k)) & 0xff) as u32;
    let (h, m, s) = (at(0) * 10 + at(1), at(3) * 10 + at(4), at(6) * 10 + at(7));
    // the ranges `Civil::valid` allows (a leap second is second 60)
    if h >= 24 || m >= 60 || s >= 61 {
        return None;
    }
    Some(h * 3600 + m * 60 + s)
}

/// [`clf_seconds_of_day`] a byte at a time, as `parse_clf` reads the fields.
#[cfg(test)]
fn clf_seconds_of_day_bytewise(b: &[u8; 26]) -> Option<u32> {
    if b[14] != b':' || b[17] != b':' {
        return None;
    }
    let (h, m, s) = (
        digits(&b[12..], 2)?,
        digits(&b[15..], 2)?,
        digits(&b[18..], 2)?,
    );
    if h >= 24 || m >= 60 || s >= 61 {
        return None;
    }
    Some(h * 3600 + m * 60 + s)
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac]` followed by an optional offset. Returns the
/// civil fields, the offset if written, and the bytes consumed.
pub fn parse_iso(b: &[u8]) -> Option<(Civil, Option<i32>, usize)> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let mut c = Civil {
        year: digits(b, 4)? as i32,
        month: digits(&b[5..], 2)? as u8,
        day: digits(&b[8..], 2)? as u8,
        hour: digits(&b[11..], 2)? as u8,
        minute: digits(&b[14..], 2)? as u8,
        second: digits(&b[17..], 2)? as u8,
        micros: 0,
    };
    if !c.valid() {
        return None;
    }
    let mut i = 19;
    if matches!(b.get(i), Some(b'.') | Some(b',')) {
        i += 1;
        let start = i;
        let mut micros = 0u32;
        while let Some(&d) = b.get(i) {
            if !d.is_ascii_digit() {
                break;
            }
            if i - start < 6 {
                micros = micros * 10 + (d - b'0') as u32;
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..6 {
            micros *= 10;
        }
        c.micros = micros;
    }
    match parse_offset(&b[i..]) {
        Some((off, used)) => Some((c, Some(off), i + used)),
        None => Some((c, None, i)),
    }
}

/// An RFC 3339 timestamp that must carry its offset, and nothing after it.
pub fn parse_rfc3339(s: &str) -> Option<EventTime> {
    let (c, off, used) = parse_iso(s.as_bytes())?;
    if used != s.len() {
        return None;
    }
    Some(EventTime::from_civil(&c, off?))
}

/// How zoneless timestamps (syslog, some app logs) are placed in time.
#[derive(Debug, Clone)]
pub struct LocalTime {
    tz: jiff::tz::TimeZone,
    /// The instant the source was last written (file mtime) or read; a
    /// year-less date later than this belongs to the year before.
    reference: jiff::Timestamp,
}

impl LocalTime {
    pub fn new(tz: jiff::tz::TimeZone, reference: jiff::Timestamp) -> LocalTime {
        LocalTime { tz, reference }
    }

    /// The system zone, with now as the reference.
    pub fn system() -> LocalTime {
        LocalTime::new(jiff::tz::TimeZone::system(), jiff::Timestamp::now())
    }

    /// Resolves civil fields in this zone; for an ambiguous wall time (DST
    /// fall-back) takes the earlier instant.
    pub fn resolve(&self, c: &Civil) -> Option<EventTime> {
        let dt = jiff::civil::DateTime::new(
            c.year as i16,
            c.month as i8,
            c.day as i8,
            c.hour as i8,
            c.minute as i8,
            c.second.min(59) as i8,
            c.micros as i32 * 1000,
        )
        .ok()?;
        let ts = self.tz.to_ambiguous_timestamp(dt).compatible().ok()?;
        let off = self.tz.to_offset(ts).seconds();
        Some(EventTime {
            unix_micros: ts.as_microsecond(),
            offset_secs: off,
        })
    }

    /// The year a year-less `month`/`day` was most likely logged in: the
    /// reference's year, or the year before when the date would lie more than
    /// a day after the reference (logs are read after they are written).
    pub fn infer_year(&self, month: u8, day: u8) -> i32 {
        let r = self.reference.to_zoned(self.tz.clone());
        let year = r.year() as i32;
        let (rm, rd) = (r.month() as u8, r.day() as u8);
        let ahead = (month, day) > (rm, rd) && {
            let d = days_from_civil(year, month, day.min(days_in_month(year, month)))
                - days_from_civil(year, rm, rd);
            d > 1
        };
        if ahead {
            year - 1
        } else {
            year
        }
    }
}

/// A [`LocalTime`] with memory: zoneless timestamps arrive in order, so the
/// zone lookup (a tz-database search) runs once per wall-clock minute and the
/// year inference once per day, not once per line.
#[derive(Debug, Clone)]
pub struct ZoneCache {
    local: LocalTime,
    /// `(year, month, day, hour, minute)` packed, and the instant of its second 0.
    minute: Option<(u64, EventTime)>,
    /// `(month, day)` and the year inferred for it.
    year: Option<((u8, u8), i32)>,
}

impl ZoneCache {
    pub fn new(local: LocalTime) -> ZoneCache {
        ZoneCache {
            local,
            minute: None,
            year: None,
        }
    }

    /// The zone and reference behind the cache.
    pub fn local(&self) -> &LocalTime {
        &self.local
    }

    /// [`LocalTime::resolve`], cached per minute. Offsets change only on
    /// minute boundaries, so every second of a minute shares its offset.
    pub fn resolve(&mut self, c: &Civil) -> Option<EventTime> {
        if !c.valid() {
            return None;
        }
        let key = ((c.year as u32 as u64) << 32)
            | (c.month as u64) << 24
            | (c.day as u64) << 16
            | (c.hour as u64) << 8
            | c.minute as u64;
        let base = match self.minute {
            Some((k, t)) if k == key => t,
            _ => {
                let t = self.local.resolve(&Civil {
                    second: 0,
                    micros: 0,
                    ..*c
                })?;
                self.minute = Some((key, t));
                t
            }
        };
        Some(EventTime {
            unix_micros: base.unix_micros + c.second as i64 * 1_000_000 + c.micros as i64,
            offset_secs: base.offset_secs,
        })
    }

    /// [`LocalTime::infer_year`], cached per day.
    pub fn infer_year(&mut self, month: u8, day: u8) -> i32 {
        match self.year {
            Some((k, y)) if k == (month, day) => y,
            _ => {
                let y = self.local.infer_year(month, day);
                self.year = Some(((month, day), y));
                y
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_times_honour_their_offset() {
        let t = parse_clf(b"10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t.unix_secs(), 971_211_336);
        assert_eq!(t.to_string(), "2000-10-10T13:55:36-07:00");
        let t = parse_clf(b"10/Mar/2026:00:00:00 +0200").unwrap();
        assert_eq!(t.to_string(), "2026-03-10T00:00:00+02:00");
        assert_eq!(t.unix_secs(), 1_773_093_600);
    }

    proptest::proptest! {
        /// The word-at-a-time time of day reads as the byte-at-a-time one,
        /// for bytes near and far from digits and colons.
        #[test]
        fn clf_seconds_of_day_agrees_bytewise(
            hms in proptest::collection::vec(
                proptest::sample::select(vec![b'0', b'1', b'2', b'3', b'5', b'6', b'9', b':', b'/', b';', b' ', 0x7f, 0x80, 0xb9, 0xff]),
                8,
            ),
        ) {
            let mut b = *b"10/Oct/2000:13:55:36 -0700";
            b[12..20].copy_from_slice(&hms);
            proptest::prop_assert_eq!(clf_seconds_of_day(&b), clf_seconds_of_day_bytewise(&b));
        }
    }

    #[test]
    fn clf_seconds_of_day_table() {
        let rows: &[(&[u8; 8], Option<u32>)] = &[
            (b"00:00:00", Some(0)),
            (b"13:55:36", Some(50_136)),
            (b"23:59:60", Some(86_400)),
            (b"23:59:61", None),
            (b"24:00:00", None),
            (b"23:60:00", None),
            (b"2a:00:00", None),
            (b"23-00:00", None),
            (b"23:00:0/", None),
        ];
        for (hms, want) in rows {
            let mut b = *b"10/Oct/2000:13:55:36 -0700";
            b[12..20].copy_from_slice(*hms);
            assert_eq!(
                clf_seconds_of_day(&b),
                *want,
                "{}",
                String::from_utf8_lossy(*hms)
            );
            assert_eq!(clf_seconds_of_day_bytewise(&b), *want);
        }
    }

    #[test]
    fn clf_rejects_impossible_dates() {
        for bad in [
            &b"31/Feb/2000:13:55:36 -0700"[..],
            b"10/Foo/2000:13:55:36 -0700",
            b"10/Oct/2000:25:55:36 -0700",
            b"10/Oct/2000:13:55:36",
            b"10/Oct/2000:13:55:36 -0700x",
        ] {
            assert_eq!(parse_clf(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn rfc3339_with_fraction_and_offsets() {
        let cases = [
            (
                "2026-03-10T00:00:12.036+02:00",
                "2026-03-10T00:00:12.036+02:00",
                1_773_093_612,
            ),
            (
                "2026-03-10T00:00:12Z",
                "2026-03-10T00:00:12+00:00",
                1_773_100_812,
            ),
            (
                "2026-03-09 22:00:12.5-0130",
                "2026-03-09T22:00:12.500-01:30",
                1_773_099_012,
            ),
        ];
        for (input, shown, secs) in cases {
            let t = parse_rfc3339(input).unwrap();
            assert_eq!(t.to_string(), shown);
            assert_eq!(t.unix_secs(), secs);
        }
        assert_eq!(parse_rfc3339("2026-03-10T00:00:12"), None);
    }

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-800_000i64..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y as i32, m, d), days);
        }
    }

    #[test]
    fn year_inference_wraps_at_new_year() {
        let tz = jiff::tz::TimeZone::UTC;
        let jan = LocalTime::new(tz.clone(), "2026-01-02T00:00:00Z".parse().unwrap());
        assert_eq!(jan.infer_year(12, 31), 2025);
        assert_eq!(jan.infer_year(1, 1), 2026);
        let nov = LocalTime::new(tz, "2026-11-25T00:00:00Z".parse().unwrap());
        assert_eq!(nov.infer_year(3, 10), 2026);
    }

    #[test]
    fn local_time_resolves_in_the_zone() {
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let lt = LocalTime::new(tz, jiff::Timestamp::now());
        let c = Civil {
            year: 2026,
            month: 7,
            day: 1,
            hour: 12,
            ..Civil::default()
        };
        assert_eq!(
            lt.resolve(&c).unwrap().to_string(),
            "2026-07-01T12:00:00+02:00"
        );
    }
}
