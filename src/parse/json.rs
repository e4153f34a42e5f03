//! JSON lines with a configurable field mapping (application audit logs).
//!
//! A [`JsonMapping`] names, for each [`Event`] field, the JSON key that holds
//! it; a dotted name (`source.ip`) reaches into nested objects. The parser
//! walks each line's top-level object once, keeps only the mapped values —
//! borrowed from the line unless the JSON string holds escapes — and skips
//! the rest without building a `serde_json::Value`.
//!
//! Invariants: a line that is not one JSON object is `Malformed(Syntax)`; a
//! missing or unreadable time is `BadTimestamp`; a mapped value of the wrong
//! type is `BadField`; `null` is an empty field. Nothing is invented: an
//! unmapped field stays empty, and the outcome comes from the mapped
//! `outcome` or else from the HTTP status.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::time::{parse_iso, ZoneCache};
use super::{Event, EventTime, IgnoreReason, LocalTime, Malformed, Outcome, Parsed};

/// Which JSON key holds each event field: the [`FieldKeys`] of a config's
/// `json` table, boxed (the mapping rides in `Format`, whose other variants
/// are small).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(transparent)]
pub struct JsonMapping(Box<FieldKeys>);

impl JsonMapping {
    pub fn new(keys: FieldKeys) -> JsonMapping {
        JsonMapping(Box::new(keys))
    }

    /// The keys, field by field.
    pub fn keys(&self) -> &FieldKeys {
        &self.0
    }
}

impl From<FieldKeys> for JsonMapping {
    fn from(keys: FieldKeys) -> JsonMapping {
        JsonMapping::new(keys)
    }
}

/// The JSON key of each event field. Every key is optional; a dotted key
/// (`http.request.method`) reads a nested object.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldKeys {
    pub time: Option<String>,
    /// How `time` is written; RFC 3339 when not said.
    #[serde(default)]
    pub time_format: TimeFormat,
    pub ip: Option<String>,
    pub user: Option<String>,
    pub role: Option<String>,
    pub session: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub status: Option<String>,
    pub bytes_out: Option<String>,
    pub records: Option<String>,
    pub subjects: Option<String>,
    pub subjects_truncated: Option<String>,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    pub host: Option<String>,
    /// A string `success`, `failure`, `denied` or `error`; without it the
    /// outcome follows `status`.
    pub outcome: Option<String>,
}

/// How a JSON log writes its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// `2026-03-10T00:00:12.036+02:00`; without an offset, read in the local zone.
    #[default]
    Rfc3339,
    /// Seconds since the epoch, integer or fractional, as a number or a string.
    UnixSeconds,
    /// Milliseconds since the epoch.
    UnixMillis,
}

impl JsonMapping {
    /// The mapping of our scenario's `app.jsonl`.
    pub fn app() -> JsonMapping {
        let s = |k: &str| Some(k.to_string());
        JsonMapping::new(FieldKeys {
            time: s("ts"),
            time_format: TimeFormat::Rfc3339,
            ip: s("ip"),
            user: s("user"),
            role: s("role"),
            session: s("session"),
            action: s("method"),
            resource: s("path"),
            status: s("status"),
            bytes_out: s("bytes"),
            records: s("records"),
            subjects: s("subjects"),
            subjects_truncated: s("subjects_truncated"),
            ..FieldKeys::default()
        })
    }
}

impl FieldKeys {
    fn fields(&self) -> [(Field, Option<&str>); FIELDS] {
        use Field::*;
        [
            (Time, self.time.as_deref()),
            (Ip, self.ip.as_deref()),
            (User, self.user.as_deref()),
            (Role, self.role.as_deref()),
            (Session, self.session.as_deref()),
            (Action, self.action.as_deref()),
            (Resource, self.resource.as_deref()),
            (Status, self.status.as_deref()),
            (BytesOut, self.bytes_out.as_deref()),
            (Records, self.records.as_deref()),
            (Subjects, self.subjects.as_deref()),
            (SubjectsTruncated, self.subjects_truncated.as_deref()),
            (UserAgent, self.user_agent.as_deref()),
            (Referer, self.referer.as_deref()),
            (Host, self.host.as_deref()),
            (Outcome, self.outcome.as_deref()),
        ]
    }
}

const FIELDS: usize = 16;

/// An event field a JSON key can feed (its index in [`Slots`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Time,
    Ip,
    User,
    Role,
    Session,
    Action,
    Resource,
    Status,
    BytesOut,
    Records,
    Subjects,
    SubjectsTruncated,
    UserAgent,
    Referer,
    Host,
    Outcome,
}

/// One key of the mapping tree: the fields its value feeds, or the keys to
/// look for inside it when it is an object.
#[derive(Debug, Clone)]
struct Node {
    key: Box<str>,
    fields: Vec<Field>,
    children: Vec<Node>,
}

fn insert(nodes: &mut Vec<Node>, path: &str, field: Field) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let i = match nodes.iter().position(|n| &*n.key == head) {
        Some(i) => i,
        None => {
            nodes.push(Node {
                key: head.into(),
                fields: Vec::new(),
                children: Vec::new(),
            });
            nodes.len() - 1
        }
    };
    match rest {
        Some(r) => insert(&mut nodes[i].children, r, field),
        None => nodes[i].fields.push(field),
    }
}

/// Parses JSON lines with one mapping.
#[derive(Debug)]
pub struct JsonParser {
    tree: Vec<Node>,
    time_format: TimeFormat,
    clock: ZoneCache,
}

impl JsonParser {
    pub fn new(mapping: JsonMapping, local: LocalTime) -> JsonParser {
        let mut tree = Vec::new();
        for (field, key) in mapping.keys().fields() {
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                insert(&mut tree, key, field);
            }
        }
        JsonParser {
            tree,
            time_format: mapping.keys().time_format,
            clock: ZoneCache::new(local),
        }
    }

    /// Parses one line (without its terminator).
    pub fn parse<'a>(&mut self, line: &'a str) -> Parsed<'a> {
        // A line from `{` to `}` has nothing to trim: skip the Unicode-aware
        // scan for the lines nearly every log is made of.
        let trimmed = match line.as_bytes() {
            [b'{', .., b'}'] => line,
            _ => line.trim(),
        };
        if trimmed.is_empty() {
            return Parsed::Ignored(IgnoreReason::Blank);
        }
        if !trimmed.starts_with('{') {
            return Parsed::Malformed(Malformed::Syntax);
        }
        let mut slots = Slots::default();
        let mut de = serde_json::Deserializer::from_str(trimmed);
        let read = ObjectSeed {
            nodes: &self.tree,
            slots: &mut slots,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        if let Err(e) = read {
            return Parsed::Malformed(match e.classify() {
                // Only the mapped values' visitors raise data errors: the
                // line is an object (checked above), so a value has the wrong type.
                serde_json::error::Category::Data => Malformed::BadField,
                _ => Malformed::Syntax,
            });
        }
        match self.event(slots) {
            Ok(e) => Parsed::Event(e),
            Err(m) => Parsed::Malformed(m),
        }
    }

    fn event<'a>(&mut self, mut s: Slots<'a>) -> Result<Event<'a>, Malformed> {
        let time = self.time(s.take(Field::Time))?;
        let status = match s.take(Field::Status) {
            None => None,
            Some(v) => Some(u16::try_from(v.number()?).map_err(|_| Malformed::BadField)?),
        };
        let outcome = match s.take(Field::Outcome) {
            Some(v) => outcome_from(&v.text()?)?,
            None => status.map_or(Outcome::Unknown, Outcome::from_http_status),
        };
        let ip = match s.take(Field::Ip) {
            Some(v) => address(&v.text()?)?,
            None => None,
        };
        let subjects = match s.take(Field::Subjects) {
            Some(Val::List(l)) => l,
            Some(_) => return Err(Malformed::BadField),
            None => Vec::new(),
        };
        Ok(Event {
            time,
            ip,
            user: s.string(Field::User)?,
            role: s.string(Field::Role)?,
            session: s.string(Field::Session)?,
            action: s.string(Field::Action)?,
            resource: s.string(Field::Resource)?,
            outcome,
            status,
            bytes_out: s.count(Field::BytesOut)?,
            records: s.count(Field::Records)?,
            subjects,
            subjects_truncated: s.count(Field::SubjectsTruncated)?.unwrap_or(0),
            user_agent: s.string(Field::UserAgent)?,
            referer: s.string(Field::Referer)?,
            host: s.string(Field::Host)?,
            ..Event::default()
        })
    }

    fn time(&mut self, v: Option<Val<'_>>) -> Result<EventTime, Malformed> {
        let v = v.ok_or(Malformed::BadTimestamp)?;
        let bad = |_| Malformed::BadTimestamp;
        match self.time_format {
            TimeFormat::Rfc3339 => {
                let Val::Str(s) = v else {
                    return Err(Malformed::BadTimestamp);
                };
                let (c, off, used) = parse_iso(s.as_bytes()).ok_or(Malformed::BadTimestamp)?;
                if used != s.len() {
                    return Err(Malformed::BadTimestamp);
                }
                match off {
                    Some(off) => Ok(EventTime::from_civil(&c, off)),
                    None => self.clock.resolve(&c).ok_or(Malformed::BadTimestamp),
                }
            }
            TimeFormat::UnixSeconds => epoch(&v, 1_000_000).map_err(bad),
            TimeFormat::UnixMillis => epoch(&v, 1_000).map_err(bad),
        }
    }
}

/// A number of epoch units (seconds or milliseconds) as an instant in UTC.
fn epoch(v: &Val<'_>, micros_per_unit: i64) -> Result<EventTime, ()> {
    let f = match v {
        Val::U64(n) => {
            return i64::try_from(*n)
                .map_err(|_| ())
                .and_then(|n| whole(n, micros_per_unit))
        }
        Val::I64(n) => return whole(*n, micros_per_unit),
        Val::F64(f) => *f,
        Val::Str(s) => s.trim().parse::<f64>().map_err(|_| ())?,
        _ => return Err(()),
    };
    let micros = f * micros_per_unit as f64;
    // Beyond ±2^53 µs (year ~2255) a float no longer holds microseconds.
    if !micros.is_finite() || micros.abs() > 9.0e15 {
        return Err(());
    }
    Ok(EventTime {
        unix_micros: micros.round() as i64,
        offset_secs: 0,
    })
}

fn whole(n: i64, micros_per_unit: i64) -> Result<EventTime, ()> {
    Ok(EventTime {
        unix_micros: n.checked_mul(micros_per_unit).ok_or(())?,
        offset_secs: 0,
    })
}

fn outcome_from(s: &str) -> Result<Outcome, Malformed> {
    const NAMES: [(&str, Outcome); 5] = [
        ("success", Outcome::Success),
        ("failure", Outcome::Failure),
        ("denied", Outcome::Denied),
        ("error", Outcome::Error),
        ("unknown", Outcome::Unknown),
    ];
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|&(_, o)| o)
        .ok_or(Malformed::BadField)
}

/// A client address: `1.2.3.4`, `2001:db8::1`, `1.2.3.4:5678`, `[::1]:80`,
/// or an `X-Forwarded-For` list (the first entry is the client). Empty and
/// `-` are no address; anything else that is not one is a bad field.
fn address(s: &str) -> Result<Option<IpAddr>, Malformed> {
    if let Some(ip) = plain_ipv4(s.as_bytes()) {
        return Ok(Some(IpAddr::V4(ip)));
    }
    let s = s.split(',').next().unwrap_or(s).trim();
    if s.is_empty() || s == "-" {
        return Ok(None);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Some(ip.to_canonical()));
    }
    let host = match s.strip_prefix('[') {
        Some(r) => r.split_once(']').map(|(h, _)| h),
        None => s.rsplit_once(':').map(|(h, _)| h),
    };
    host.and_then(|h| h.parse::<IpAddr>().ok())
        .map(|ip| Some(ip.to_canonical()))
        .ok_or(Malformed::BadField)
}

/// A bare `a.b.c.d`, read as `Ipv4Addr`'s parser reads it (1 to 3 digits an
/// octet, no leading zero, at most 255) but in one pass: the address of
/// nearly every line, where the general parser and the list and port
/// handling around it were a few percent of reading an app log.
fn plain_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut oct = [0u8; 4];
    let mut i = 0;
    for (k, o) in oct.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut n = 0u32;
        while i - start < 3 {
            let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9) else {
                break;
            };
            n = n * 10 + d as u32;
            i += 1;
        }
        if i == start || n > 255 || (i - start > 1 && b[start] == b'0') {
            return None;
        }
        *o = n as u8;
    }
    (i == b.len()).then(|| Ipv4Addr::from(oct))
}

/// A mapped value as the line wrote it.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    I64(i64),
    F64(f64),
    List(Vec<Cow<'a, str>>),
}

impl<'a> Val<'a> {
    /// A string field; numbers are accepted and written out (user ids).
    fn text(self) -> Result<Cow<'a, str>, Malformed> {
        match self {
            Val::Str(s) => Ok(s),
            Val::U64(n) => Ok(Cow::Owned(n.to_string())),
            Val::I64(n) => Ok(Cow::Owned(n.to_string())),
            Val::F64(_) | Val::List(_) => Err(Malformed::BadField),
        }
    }

    /// A count: a non-negative integer, or a string of digits.
    fn number(self) -> Result<u64, Malformed> {
        match self {
            Val::U64(n) => Ok(n),
            Val::Str(s) => s.trim().parse().map_err(|_| Malformed::BadField),
            _ => Err(Malformed::BadField),
        }
    }
}

/// The values of one line, by [`Field`].
#[derive(Debug, Default)]
struct Slots<'a> {
    vals: [Option<Val<'a>>; FIELDS],
}

impl<'a> Slots<'a> {
    fn take(&mut self, f: Field) -> Option<Val<'a>> {
        self.vals[f as usize].take()
    }

    fn string(&mut self, f: Field) -> Result<Option<Cow<'a, str>>, Malformed> {
        match self.take(f) {
            None => Ok(None),
            Some(v) => v.text().map(|s| (!s.is_empty()).then_some(s)),
        }
    }

    fn count(&mut self, f: Field) -> Result<Option<u64>, Malformed> {
        match self.take(f) {
            None => Ok(None),
            Some(Val::Str(s)) if s.is_empty() || s == "-" => Ok(None),
            Some(v) => v.number().map(Some),
        }
    }
}

/// Reads an object, keeping the values of `nodes`' keys and skipping the rest.
struct ObjectSeed<'p, 's, 'a> {
    nodes: &'p [Node],
    slots: &'s mut Slots<'a>,
}

impl<'a> DeserializeSeed<'a> for ObjectSeed<'_, '_, 'a> {
    type Value = ();
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for ObjectSeed<'_, '_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    /// A nested mapped object may be `null`: its fields are then empty.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<M: MapAccess<'a>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(found) = map.next_key_seed(KeySeed(self.nodes))? {
            let Some(node) = found.map(|i| &self.nodes[i]) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if !node.children.is_empty() {
                map.next_value_seed(ObjectSeed {
                    nodes: &node.children,
                    slots: &mut *self.slots,
                })?;
                continue;
            }
            if let Some(v) = map.next_value_seed(ValSeed)? {
                // Usually one field per key; a key mapped twice feeds both.
                if let Some((&last, rest)) = node.fields.split_last() {
                    for &f in rest {
                        self.slots.vals[f as usize] = Some(v.clone());
                    }
                    self.slots.vals[last as usize] = Some(v);
                }
            }
        }
        Ok(())
    }
}

/// Reads a key and returns the index of the node it names, without
/// allocating (keys with escapes are compared after unescaping by serde_json).
struct KeySeed<'p>(&'p [Node]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, k: &str) -> Result<Option<usize>, E> {
        // Mapped keys of one length mostly differ in their first byte
        // (`user`, `role`, `path`): checking it first leaves one `memcmp`
        // call per key, where comparing whole keys made one per candidate.
        let first = k.as_bytes().first();
        Ok(self.0.iter().position(|n| {
            n.key.len() == k.len() && n.key.as_bytes().first() == first && &*n.key == k
        }))
    }
}

/// Reads a mapped value: a string, a number, an array of strings or numbers,
/// or `null` (no value).
struct ValSeed;

impl<'a> DeserializeSeed<'a> for ValSeed {
    type Value = Option<Val<'a>>;
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for ValSeed {
    type Value = Option<Val<'a>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, a number or an array of them")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'a str) -> Result<Self::Value, E> {
        Ok(Some(Val::Str(Cow::Borrowed(s))))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(Val::Str(Cow::Owned(s.to_owned()))))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Some(Val::U64(n)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Some(Val::I64(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Some(Val::F64(n)))
    }

    fn visit_seq<S: SeqAccess<'a>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(ItemSeed)? {
            list.push(item);
        }
        Ok(Some(Val::List(list)))
    }
}

/// One element of a list of ids: a string (borrowed when it can be) or a number.
struct ItemSeed;

impl<'a> DeserializeSeed<'a> for ItemSeed {
    type Value = Cow<'a, str>;
    fn deserialize<D: Deserializer<'a>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for ItemSeed {
    type Value = Cow<'a, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an integer")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'a str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(n.to_string()))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(n.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalTime {
        LocalTime::new(
            jiff::tz::TimeZone::fixed(jiff::tz::offset(1)),
            "2026-03-10T00:00:00Z".parse().unwrap(),
        )
    }

    fn app(line: &str) -> Parsed<'_> {
        JsonParser::new(JsonMapping::app(), local()).parse(line)
    }

    #[test]
    fn app_lines_map_every_field() {
        let line = r#"{"ts":"2026-03-10T01:08:00.000+02:00","user":"svc-crm-sync","role":"service","ip":"10.20.0.5","method":"GET","path":"/api/customers?page=1&limit=500","status":200,"bytes":310000,"records":500,"subjects":["100001","100002"],"session":"s3f44e0a5","subjects_truncated":450}"#;
        let Parsed::Event(e) = app(line) else {
            panic!("{:?}", app(line))
        };
        assert_eq!(e.time.to_string(), "2026-03-10T01:08:00+02:00");
        assert_eq!(e.user.as_deref(), Some("svc-crm-sync"));
        assert_eq!(e.role.as_deref(), Some("service"));
        assert_eq!(e.ip, Some("10.20.0.5".parse().unwrap()));
        assert_eq!(e.action.as_deref(), Some("GET"));
        assert_eq!(
            e.resource.as_deref(),
            Some("/api/customers?page=1&limit=500")
        );
        assert_eq!(e.status, Some(200));
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.bytes_out, Some(310000));
        assert_eq!(e.records, Some(500));
        assert_eq!(e.subjects, vec!["100001", "100002"]);
        assert_eq!(e.subjects_truncated, 450);
        assert_eq!(e.session.as_deref(), Some("s3f44e0a5"));
        // Borrowed, not copied.
        assert!(matches!(e.user, Some(Cow::Borrowed(_))));
        assert!(e.subjects.iter().all(|s| matches!(s, Cow::Borrowed(_))));
    }

    /// (line, status, outcome, user, resource, subjects)
    type FieldCase = (
        &'static str,
        Option<u16>,
        Outcome,
        Option<&'static str>,
        Option<&'static str>,
        &'static [&'static str],
    );

    #[test]
    fn field_cases() {
        let cases: &[FieldCase] = &[
            (
                r#"{"ts":"2026-03-10T00:00:00Z","status":401,"user":null}"#,
                Some(401),
                Outcome::Denied,
                None,
                None,
                &[],
            ),
            (
                r#"{"ts":"2026-03-10T00:00:00Z","status":"503"}"#,
                Some(503),
                Outcome::Error,
                None,
                None,
                &[],
            ),
            (
                r#"{"ts":"2026-03-10T00:00:00Z"}"#,
                None,
                Outcome::Unknown,
                None,
                None,
                &[],
            ),
            (
                r#"{"ts":"2026-03-10T00:00:00Z","user":"a\"b\u00e9","path":"/x"}"#,
                None,
                Outcome::Unknown,
                Some("a\"bé"),
                Some("/x"),
                &[],
            ),
            (
                r#"{"ts":"2026-03-10T00:00:00Z","user":42,"subjects":[7,"x\n"]}"#,
                None,
                Outcome::Unknown,
                Some("42"),
                None,
                &["7", "x\n"],
            ),
            (
                r#"{"extra":{"deep":[1,{"a":null}]},"ts":"2026-03-10T00:00:00Z","user":""}"#,
                None,
                Outcome::Unknown,
                None,
                None,
                &[],
            ),
            (
                r#" {"ts":"2026-03-10T00:00:00Z","ts":"2026-03-10T00:00:01Z"} "#,
                None,
                Outcome::Unknown,
                None,
                None,
                &[],
            ),
        ];
        for &(line, status, outcome, user, resource, subjects) in cases {
            let Parsed::Event(e) = app(line) else {
                panic!("{line}: {:?}", app(line))
            };
            assert_eq!(e.status, status, "{line}");
            assert_eq!(e.outcome, outcome, "{line}");
            assert_eq!(e.user.as_deref(), user, "{line}");
            assert_eq!(e.resource.as_deref(), resource, "{line}");
            assert_eq!(e.subjects, subjects, "{line}");
        }
    }

    #[test]
    fn malformed_lines_say_why() {
        let cases = [
            ("[1,2]", Malformed::Syntax),
            ("\"text\"", Malformed::Syntax),
            ("{\"ts\":", Malformed::Syntax),
            (
                "{\"ts\":\"2026-03-10T00:00:00Z\"} trailing",
                Malformed::Syntax,
            ),
            ("{\"ts\":\"2026-03-10T00:00:00Z\",}", Malformed::Syntax),
            ("{}", Malformed::BadTimestamp),
            ("{\"ts\":null}", Malformed::BadTimestamp),
            ("{\"ts\":\"yesterday\"}", Malformed::BadTimestamp),
            ("{\"ts\":\"2026-02-30T00:00:00Z\"}", Malformed::BadTimestamp),
            (
                "{\"ts\":\"2026-03-10T00:00:00Zjunk\"}",
                Malformed::BadTimestamp,
            ),
            ("{\"ts\":17}", Malformed::BadTimestamp),
            (
                "{\"ts\":\"2026-03-10T00:00:00Z\",\"status\":\"abc\"}",
                Malformed::BadField,
            ),
            (
                "{\"ts\":\"2026-03-10T00:00:00Z\",\"status\":70000}",
                Malformed::BadField,
            ),
            (
                "{\"ts\":\"2026-03-10T00:00:00Z\",\"status\":true}",
                Malformed::BadField,
            ),
            (
                "{\"ts\":\"2026-03-10T00:00:00Z\",\"user\":{\"a\":1}}",
                Malformed::BadField,
            ),
            (
                "{\"ts\":\"2026-03-10T00:00:00Z\",\"subjects\":\"1,2\"}",
                Malformed::BadField,
            ),
            (
                "{\"ts\":\"2026-03-10T00:00:00Z\",\"subjects\":[[1]]}",
                Malformed::BadField,
            ),
            (
                "{\"ts\":\"2026-03-10T00:00:00Z\",\"ip\":\"not-an-ip\"}",
                Malformed::BadField,
            ),
            (
                "{\"ts\":\"2026-03-10T00:00:00Z\",\"bytes\":-5}",
                Malformed::BadField,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(app(line), Parsed::Malformed(want), "{line}");
        }
        assert_eq!(app("   "), Parsed::Ignored(IgnoreReason::Blank));
    }

    #[test]
    fn zoneless_times_use_the_local_zone() {
        let Parsed::Event(e) = app(r#"{"ts":"2026-03-10T12:00:00"}"#) else {
            panic!()
        };
        assert_eq!(e.time.to_string(), "2026-03-10T12:00:00+01:00");
    }

    proptest::proptest! {
        /// The one-pass address is the standard parser's, and takes no text
        /// the standard parser refuses.
        #[test]
        fn plain_ipv4_agrees_with_the_standard_parser(s in "[0-9.]{0,17}|[0-9. ,:x-]{0,17}") {
            if let Some(ip) = plain_ipv4(s.as_bytes()) {
                proptest::prop_assert_eq!(s.parse::<Ipv4Addr>().ok(), Some(ip));
            } else {
                proptest::prop_assert!(s.parse::<Ipv4Addr>().is_err() || s.contains(|c: char| !(c.is_ascii_digit() || c == '.')));
            }
        }
    }

    #[test]
    fn addresses_in_their_usual_spellings() {
        for (ip, want) in [
            ("203.0.113.7", Some("203.0.113.7")),
            ("203.0.113.7:5555", Some("203.0.113.7")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("::ffff:10.0.0.1", Some("10.0.0.1")),
            ("198.51.100.1, 10.0.0.1", Some("198.51.100.1")),
            ("-", None),
            ("", None),
        ] {
            let line = format!(r#"{{"ts":"2026-03-10T00:00:00Z","ip":"{ip}"}}"#);
            let Parsed::Event(e) = app(&line) else {
                panic!("{line}")
            };
            assert_eq!(e.ip.map(|i| i.to_string()).as_deref(), want, "{ip}");
        }
    }

    #[test]
    fn nested_keys_epoch_times_and_explicit_outcomes() {
        let mapping: JsonMapping = serde_json::from_str(
            r#"{"time":"@timestamp","time_format":"unix_millis","ip":"source.ip","user":"user.name",
                "action":"http.request.method","outcome":"event.outcome","status":"http.response.status_code",
                "user_agent":"user_agent.original"}"#,
        )
        .unwrap();
        let mut p = JsonParser::new(mapping, local());
        let line = r#"{"@timestamp":1773100812036,"source":{"ip":"203.0.113.9","port":1},"user":{"name":"bob"},
            "http":{"request":{"method":"POST"},"response":{"status_code":200}},"event":{"outcome":"failure"},
            "user_agent":null}"#
            .replace('\n', "");
        let Parsed::Event(e) = p.parse(&line) else {
            panic!("{:?}", p.parse(&line))
        };
        assert_eq!(e.time.to_string(), "2026-03-10T00:00:12.036+00:00");
        assert_eq!(e.ip, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(e.user.as_deref(), Some("bob"));
        assert_eq!(e.action.as_deref(), Some("POST"));
        assert_eq!(e.status, Some(200));
        // The line's own outcome wins over the status.
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.user_agent, None);
        // A nested object that is null is empty; one that is a string is wrong.
        let null_source = r#"{"@timestamp":1,"source":null}"#;
        assert!(matches!(p.parse(null_source), Parsed::Event(e) if e.ip.is_none()));
        assert_eq!(
            p.parse(r#"{"@timestamp":1,"source":"x"}"#),
            Parsed::Malformed(Malformed::BadField)
        );
        assert_eq!(
            p.parse(r#"{"@timestamp":1,"event":{"outcome":"meh"}}"#),
            Parsed::Malformed(Malformed::BadField)
        );
        let secs: JsonMapping =
            serde_json::from_str(r#"{"time":"t","time_format":"unix_seconds"}"#).unwrap();
        let mut p = JsonParser::new(secs, local());
        let Parsed::Event(e) = p.parse(r#"{"t":1773100812.5}"#) else {
            panic!()
        };
        assert_eq!(e.time.to_string(), "2026-03-10T00:00:12.500+00:00");
        let Parsed::Event(e) = p.parse(r#"{"t":"1773100812"}"#) else {
            panic!()
        };
        assert_eq!(e.time.unix_secs(), 1773100812);
        assert_eq!(
            p.parse(r#"{"t":1e300}"#),
            Parsed::Malformed(Malformed::BadTimestamp)
        );
    }

    #[test]
    fn mappings_reject_unknown_keys() {
        assert!(serde_json::from_str::<JsonMapping>(r#"{"tme":"ts"}"#).is_err());
        assert!(serde_json::from_str::<JsonMapping>(r#"{"time_format":"iso"}"#).is_err());
    }
}
