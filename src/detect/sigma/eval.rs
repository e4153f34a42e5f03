//! Evaluating a compiled detection against one event: the per-event views of
//! the request (raw and percent-decoded target, path, query, extension) and
//! the field tests over them.

use std::io::Write as _;
use std::net::IpAddr;

use memchr::memchr;

use super::compile::{in_cidr, Cond, Detection, Field, FieldTest, Matcher, UriPart};
use super::pattern::percent_decode;
use crate::parse::Event;

/// The parts of a request target: the target, the path before `?`, the
/// query after it, and the path's extension.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Uri<'a> {
    pub target: &'a [u8],
    pub path: &'a [u8],
    pub query: &'a [u8],
    pub ext: &'a [u8],
}

impl<'a> Uri<'a> {
    pub(crate) fn split(target: &'a [u8]) -> Uri<'a> {
        let (path, query) = match memchr(b'?', target) {
            Some(q) => (&target[..q], &target[q + 1..]),
            None => (target, &target[target.len()..]),
        };
        let last = path.rsplit(|&c| c == b'/').next().unwrap_or_default();
        let ext = match memchr::memrchr(b'.', last) {
            Some(d) => &last[d + 1..],
            None => &last[last.len()..],
        };
        Uri {
            target,
            path,
            query,
            ext,
        }
    }
}

/// How many times an encoded target is decoded at most: attackers double-
/// and triple-encode to get past filters that decode once.
const MAX_DECODES: usize = 3;

/// The view signatures match besides the raw text: percent-decoded until
/// stable (at most [`MAX_DECODES`] times), SQL inline comments turned into
/// spaces (`/**/`) or unwrapped (MySQL's `/*!50000SELECT*/`), and runs of
/// spaces collapsed, as a WAF's transformations would. Appends to `out`.
fn normalize(src: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let mut a = Vec::with_capacity(src.len());
    let mut b = Vec::with_capacity(src.len());
    percent_decode(src, &mut a);
    for _ in 1..MAX_DECODES {
        if !has_escape(&a) {
            break;
        }
        b.clear();
        percent_decode(&a, &mut b);
        std::mem::swap(&mut a, &mut b);
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] == b'/' && a.get(i + 1) == Some(&b'*') {
            i += 2;
            if a.get(i) == Some(&b'!') {
                // versioned comment: its content is executed, keep it
                i += 1;
                while a.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                continue;
            }
            match a[i..].windows(2).position(|w| w == b"*/") {
                Some(p) => i += p + 2,
                None => i = a.len(),
            }
            out.push(b' ');
            continue;
        }
        if a[i] == b'*' && a.get(i + 1) == Some(&b'/') {
            out.push(b' ');
            i += 2;
            continue;
        }
        out.push(a[i]);
        i += 1;
    }
    // collapse runs of spaces that comment removal leaves
    let mut w = start;
    for r in start..out.len() {
        let c = out[r];
        if c == b' ' && w > start && out[w - 1] == b' ' {
            continue;
        }
        out[w] = c;
        w += 1;
    }
    out.truncate(w);
}

fn has_escape(b: &[u8]) -> bool {
    b.windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// Decodes the target's path and query separately into `buf` (so an encoded
/// `%3F` does not move the split) and returns the decoded parts.
pub(crate) fn decode_into<'b>(uri: &Uri<'_>, buf: &'b mut Vec<u8>) -> Uri<'b> {
    buf.clear();
    normalize(uri.path, buf);
    let plen = buf.len();
    let has_query = uri.target.len() > uri.path.len();
    if has_query {
        buf.push(b'?');
        normalize(uri.query, buf);
    }
    let buf: &'b [u8] = buf;
    let path = &buf[..plen];
    let query = if has_query {
        &buf[plen + 1..]
    } else {
        &buf[plen..]
    };
    let last = path.rsplit(|&c| c == b'/').next().unwrap_or_default();
    let ext = match memchr::memrchr(b'.', last) {
        Some(d) => &last[d + 1..],
        None => &last[last.len()..],
    };
    Uri {
        target: buf,
        path,
        query,
        ext,
    }
}

/// One event as the field tests see it.
pub(crate) struct Ctx<'a> {
    pub ev: &'a Event<'a>,
    pub method: &'a [u8],
    pub raw: Uri<'a>,
    /// The percent-decoded target, when the raw one has a `%`.
    pub decoded: Option<Uri<'a>>,
    pub status: &'a [u8],
}

pub(crate) fn opt<'a>(s: &'a Option<std::borrow::Cow<'a, str>>) -> &'a [u8] {
    s.as_deref().unwrap_or_default().as_bytes()
}

/// The decimal text of `n`, written at the end of `buf`.
pub(crate) fn itoa(n: u16, buf: &mut [u8; 5]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

impl<'a> Ctx<'a> {
    /// The views of `ev`: the target split into parts and, when it holds a
    /// `%`, decoded into `decoded`; the status as text in `status`.
    pub(crate) fn new(
        ev: &'a Event<'a>,
        decoded: &'a mut Vec<u8>,
        status: &'a mut [u8; 5],
    ) -> Ctx<'a> {
        let raw = Uri::split(opt(&ev.resource));
        Ctx {
            ev,
            method: opt(&ev.action),
            raw,
            decoded: memchr(b'%', raw.target).map(|_| decode_into(&raw, decoded)),
            status: ev.status.map_or(&[][..], |s| itoa(s, status)),
        }
    }
}

impl Ctx<'_> {
    /// Whether the field is absent or empty (Sigma `null`; `''` too, since
    /// parsers log `-` and an empty field alike as absent).
    fn is_null(&self, field: Field) -> bool {
        match field {
            Field::Method => self.method.is_empty(),
            Field::Uri(UriPart::Whole) => self.raw.target.is_empty(),
            Field::Uri(UriPart::Stem) => self.raw.path.is_empty(),
            Field::Uri(UriPart::Query) => self.raw.query.is_empty(),
            Field::Extension => self.raw.ext.is_empty(),
            Field::UserAgent => opt(&self.ev.user_agent).is_empty(),
            Field::Referer => opt(&self.ev.referer).is_empty(),
            Field::Host => opt(&self.ev.host).is_empty(),
            Field::User => opt(&self.ev.user).is_empty(),
            Field::Status => self.ev.status.is_none(),
            Field::BytesOut => self.ev.bytes_out.is_none(),
            Field::Ip => self.ev.ip.is_none(),
            Field::Keywords => false,
        }
    }

    /// Calls `f` on each text view of the field until one returns true.
    fn any_view(&self, field: Field, f: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let mut views: [&[u8]; 6] = [&[]; 6];
        let mut n = 0;
        macro_rules! add {
            ($v:expr) => {{
                let v: &[u8] = $v;
                if n < views.len() && !v.is_empty() {
                    views[n] = v;
                    n += 1;
                }
            }};
        }
        let d = self.decoded;
        let mut num = [0u8; 48];
        match field {
            Field::Method => add!(self.method),
            Field::Uri(part) => {
                let uris = [Some(self.raw), d];
                for u in uris.iter().flatten() {
                    match part {
                        UriPart::Whole => {}
                        UriPart::Stem => add!(u.path),
                        UriPart::Query => add!(u.query),
                    }
                    add!(u.target);
                }
            }
            Field::Extension => {
                add!(self.raw.ext);
                if let Some(u) = d {
                    add!(u.ext);
                }
            }
            Field::UserAgent => add!(opt(&self.ev.user_agent)),
            Field::Referer => add!(opt(&self.ev.referer)),
            Field::Host => add!(opt(&self.ev.host)),
            Field::User => add!(opt(&self.ev.user)),
            Field::Status => add!(self.status),
            Field::BytesOut | Field::Ip => {
                let mut cur = &mut num[..];
                let ok = match (field, self.ev.bytes_out, self.ev.ip) {
                    (Field::BytesOut, Some(b), _) => write!(cur, "{b}").is_ok(),
                    (Field::Ip, _, Some(ip)) => write!(cur, "{ip}").is_ok(),
                    _ => false,
                };
                let left = cur.len();
                if ok {
                    return f(&num[..48 - left]);
                }
                return false;
            }
            Field::Keywords => {
                add!(self.method);
                add!(self.raw.target);
                if let Some(u) = d {
                    add!(u.target);
                }
                add!(self.status);
                add!(opt(&self.ev.user_agent));
            }
        }
        views[..n].iter().any(|v| f(v))
    }

    fn number(&self, field: Field) -> Option<f64> {
        match field {
            Field::Status => self.ev.status.map(f64::from),
            Field::BytesOut => self.ev.bytes_out.map(|b| b as f64),
            _ => {
                let mut out = None;
                self.any_view(field, &mut |v| {
                    out = std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.trim().parse().ok());
                    true
                });
                out
            }
        }
    }

    fn ip(&self, field: Field) -> Option<IpAddr> {
        match field {
            Field::Ip => self.ev.ip,
            _ => {
                let mut out = None;
                self.any_view(field, &mut |v| {
                    out = std::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.trim().parse().ok());
                    out.is_some()
                });
                out
            }
        }
    }

    fn matcher(&self, field: Field, m: &Matcher) -> bool {
        match m {
            Matcher::Null => self.is_null(field),
            Matcher::Exists(b) => self.is_null(field) != *b,
            Matcher::Text { text, cased } => {
                self.any_view(field, &mut |v| text.is_match(v, *cased))
            }
            Matcher::Regex { re, .. } => self.any_view(field, &mut |v| re.is_match(v)),
            Matcher::Cidr(net, bits) => self.ip(field).is_some_and(|ip| in_cidr(ip, *net, *bits)),
            Matcher::Cmp(op, bound) => self.number(field).is_some_and(|x| op.holds(x, *bound)),
        }
    }

    fn test(&self, t: &FieldTest) -> bool {
        let value = |variants: &Vec<Matcher>| variants.iter().any(|m| self.matcher(t.field, m));
        if t.all {
            t.values.iter().all(value)
        } else {
            t.values.iter().any(value)
        }
    }

    fn cond(&self, det: &Detection, c: &Cond) -> bool {
        match c {
            Cond::Sel(i) => det.selections.get(*i as usize).is_some_and(|s| {
                s.alternatives
                    .iter()
                    .any(|alt| alt.iter().all(|t| self.test(t)))
            }),
            Cond::Not(x) => !self.cond(det, x),
            Cond::And(v) => v.iter().all(|x| self.cond(det, x)),
            Cond::Or(v) => v.iter().any(|x| self.cond(det, x)),
            Cond::Const(b) => *b,
        }
    }

    /// Whether the detection fires on this event.
    pub(crate) fn fires(&self, det: &Detection) -> bool {
        self.cond(det, &det.cond)
    }
}

#[cfg(test)]
mod normalize_tests {
    use super::normalize;

    #[test]
    fn double_encoding_and_sql_comments_are_undone() {
        let cases: &[(&str, &str)] = &[
            ("1%252F%252A%252A%252FAND%252F%252A%252A%252F%2528%252F%252A%252150000SELECT%252A%252F", "1 AND (SELECT "),
            ("1%2527%252F%252A%252A%252FOR%252F%252A%252A%252F9239", "1' OR 9239"),
            ("id=1/**/UNION/**/ALL/**/SELECT", "id=1 UNION ALL SELECT"),
            ("plain", "plain"),
            ("a%zz%4", "a%zz%4"),
        ];
        for (input, want) in cases {
            let mut out = Vec::new();
            normalize(input.as_bytes(), &mut out);
            assert_eq!(String::from_utf8_lossy(&out), *want, "{input}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_parts() {
        let u = Uri::split(b"/a/b.php?x=1.2");
        assert_eq!(
            (u.path, u.query, u.ext),
            (&b"/a/b.php"[..], &b"x=1.2"[..], &b"php"[..])
        );
        let u = Uri::split(b"/a.d/b");
        assert_eq!(u.ext, b"");
        let u = Uri::split(b"/x?");
        assert_eq!((u.path, u.query), (&b"/x"[..], &b""[..]));
        let mut buf = Vec::new();
        let d = decode_into(&Uri::split(b"/a%2Fb%3F.ph%70?q=%3F%20"), &mut buf);
        assert_eq!(
            (d.target, d.path, d.query, d.ext),
            (
                &b"/a/b?.php?q=? "[..],
                &b"/a/b?.php"[..],
                &b"q=? "[..],
                &b"php"[..]
            )
        );
    }
}
