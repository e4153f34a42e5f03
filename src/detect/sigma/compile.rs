//! From a rule's YAML `detection` to the compiled form [`Detection`]:
//! field names mapped onto [`Event`](crate::parse::Event) fields, values and
//! modifiers turned into matchers, the condition resolved against the
//! selections. Anything it cannot honour faithfully is an [`Unsupported`].

use std::net::IpAddr;

use serde_yaml_ng::{Mapping, Value};

use super::condition::{self, Ast};
use super::pattern::{self, Anchor, Text, Tok};

/// Which part of the request target a URI field means. Every URI field is
/// also tried against the whole target: SigmaHQ's web rules routinely put
/// paths in `cs-uri-query` and query strings in `cs-uri-stem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UriPart {
    /// `cs-uri`, `c-uri`: the target as logged.
    Whole,
    /// `cs-uri-stem`: the path before `?` (or the whole target).
    Stem,
    /// `cs-uri-query`, `c-uri-query`: the text after `?` (or the whole target).
    Query,
}

/// An event field a Sigma field name maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Method,
    Uri(UriPart),
    /// `c-uri-extension`: the path's extension without the dot.
    Extension,
    UserAgent,
    Referer,
    Host,
    User,
    Status,
    BytesOut,
    Ip,
    /// A keyword list: no field, searched in the request text.
    Keywords,
}

impl Field {
    /// Maps a Sigma (W3C/IIS, proxy taxonomy) field name; `None` for a field
    /// access-log events do not carry.
    pub(crate) fn from_sigma(name: &str) -> Option<Field> {
        use Field::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "cs-method" | "c-method" | "method" | "http_method" => Method,
            "cs-uri" | "c-uri" | "uri" | "url" | "request" => Uri(UriPart::Whole),
            "cs-uri-stem" | "c-uri-stem" | "uri_path" => Uri(UriPart::Stem),
            "cs-uri-query" | "c-uri-query" | "uri_query" => Uri(UriPart::Query),
            "c-uri-extension" | "cs-uri-extension" => Extension,
            "cs-user-agent" | "c-useragent" | "cs(user-agent)" | "useragent" | "user_agent" => {
                UserAgent
            }
            "cs-referer" | "cs-referrer" | "cs(referer)" | "referer" | "referrer" => Referer,
            "cs-host" | "r-dns" | "cs(host)" => Host,
            "cs-username" | "c-user" | "username" => User,
            "sc-status" | "status" => Status,
            "sc-bytes" => BytesOut,
            "c-ip" | "src_ip" | "clientip" => Ip,
            _ => return None,
        })
    }

    /// Whether the field's text is in the buffer the prefilter scans, so a
    /// literal needle of one of its values is a sound prefilter.
    pub(crate) fn scanned(self) -> bool {
        !matches!(self, Field::BytesOut | Field::Ip)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    pub(crate) fn holds(self, x: f64, bound: f64) -> bool {
        match self {
            Cmp::Gt => x > bound,
            Cmp::Gte => x >= bound,
            Cmp::Lt => x < bound,
            Cmp::Lte => x <= bound,
        }
    }
}

/// One way a value can match a field.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// `null` (and `''`): the field is absent or empty.
    Null,
    Exists(bool),
    Text {
        text: Text,
        cased: bool,
    },
    Regex {
        re: regex::bytes::Regex,
        /// Literals one of which every match contains (see
        /// [`pattern::regex_needles`]), for the prefilter.
        needles: Option<Vec<Vec<u8>>>,
    },
    Cidr(IpAddr, u8),
    Cmp(Cmp, f64),
}

impl Matcher {
    /// Literals one of which must occur in the prefilter's scan buffer when
    /// this matcher holds on `field`: a text value's [`Matcher::needle`], or
    /// those every match of a regex contains (found in any view of the
    /// field, so they need no anchor).
    pub(crate) fn needles(&self, field: Field) -> Option<Vec<Vec<u8>>> {
        match self {
            Matcher::Regex {
                needles: Some(n), ..
            } if !n.is_empty() && n.iter().all(|l| !l.is_empty() && !l.contains(&0)) => {
                Some(n.clone())
            }
            _ => self.needle(field).map(|n| vec![n]),
        }
    }

    /// A literal that must occur in the prefilter's scan buffer when this
    /// matcher holds on `field`. The buffer brackets each field with NUL, so
    /// a value anchored at a field's start or end carries the NUL along,
    /// which makes short anchored values (`_`, `=` at the end) selective.
    pub(crate) fn needle(&self, field: Field) -> Option<Vec<u8>> {
        let Matcher::Text { text, .. } = self else {
            return None;
        };
        let (lit, start, end) = text.needle();
        if lit.is_empty() || lit.contains(&0) {
            return None;
        }
        if field == Field::Extension {
            // the extension follows a dot in the (raw or decoded) target
            return (start && end).then(|| [b".", lit].concat());
        }
        let mut n = Vec::with_capacity(lit.len() + 2);
        if start && field.starts_segment() {
            n.push(0);
        }
        n.extend_from_slice(lit);
        if end && field.ends_segment() {
            n.push(0);
        }
        Some(n)
    }
}

impl Field {
    /// Whether every view of the field starts where a scanned segment starts.
    fn starts_segment(self) -> bool {
        matches!(
            self,
            Field::Method
                | Field::Status
                | Field::UserAgent
                | Field::Referer
                | Field::Host
                | Field::User
                | Field::Uri(UriPart::Whole | UriPart::Stem)
        )
    }

    /// Whether every view of the field ends where a scanned segment ends.
    fn ends_segment(self) -> bool {
        matches!(
            self,
            Field::Method
                | Field::Status
                | Field::UserAgent
                | Field::Referer
                | Field::Host
                | Field::User
                | Field::Uri(UriPart::Whole | UriPart::Query)
        )
    }
}

/// `field|modifiers: values`: any value matches (all of them with `|all`);
/// a value matches when any of its variants does (base64offset, windash).
#[derive(Debug, Clone)]
pub(crate) struct FieldTest {
    pub field: Field,
    pub all: bool,
    pub values: Vec<Vec<Matcher>>,
}

/// A named selection: any alternative (a list of maps) whose tests all hold.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub name: String,
    pub alternatives: Vec<Vec<FieldTest>>,
    /// Fields events lack that disabled some alternatives.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Sel(u32),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Const(bool),
}

/// A compiled `detection`.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    pub selections: Vec<Selection>,
    pub cond: Cond,
}

/// A construct the engine does not support (the rule is skipped), or, in
/// [`Compiled::degraded`], one it worked around.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unsupported {
    pub construct: String,
    pub message: String,
}

pub(crate) fn unsupported(construct: impl Into<String>, message: impl Into<String>) -> Unsupported {
    Unsupported {
        construct: construct.into(),
        message: message.into(),
    }
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub detection: Detection,
    /// Selections disabled because events lack a field they test; the rule
    /// still loads because they only ever made it fire more.
    pub degraded: Vec<Unsupported>,
}

/// Compiles a `detection` mapping.
pub(crate) fn compile(det: &Mapping) -> Result<Compiled, Unsupported> {
    let mut selections = Vec::new();
    let mut conditions = Vec::new();
    for (k, v) in det {
        let Some(name) = k.as_str() else {
            return Err(unsupported(
                "detection key",
                format!("non-string key {k:?}"),
            ));
        };
        match name {
            "condition" => match v {
                Value::String(s) => conditions.push(s.clone()),
                Value::Sequence(seq) => {
                    for c in seq {
                        match c.as_str() {
                            Some(s) => conditions.push(s.to_string()),
                            None => {
                                return Err(unsupported(
                                    "condition",
                                    "a condition list holds a non-string",
                                ))
                            }
                        }
                    }
                }
                _ => {
                    return Err(unsupported(
                        "condition",
                        "condition must be a string or a list of strings",
                    ))
                }
            },
            "timeframe" => {
                return Err(unsupported(
                    "timeframe",
                    "timeframes need a correlation engine",
                ))
            }
            _ => selections.push(selection(name, v)?),
        }
    }
    if conditions.is_empty() {
        return Err(unsupported("condition", "detection has no condition"));
    }
    // Several conditions are alternatives (Sigma 1.x).
    let mut asts = Vec::new();
    for c in &conditions {
        asts.push(condition::parse(c).map_err(|e| unsupported(e.construct, e.message))?);
    }
    let ast = if asts.len() == 1 {
        asts.remove(0)
    } else {
        Ast::Or(asts)
    };
    let cond = simplify(resolve(&ast, &selections, false)?);
    let mut missing: Vec<String> = Vec::new();
    for s in &selections {
        for f in &s.missing {
            if !missing.contains(f) {
                missing.push(f.clone());
            }
        }
    }
    if cond == Cond::Const(false) {
        let fields = missing.join(", ");
        return Err(unsupported(
            format!("field {fields}"),
            format!("access-log events have no {fields}, and the rule cannot match without it"),
        ));
    }
    let degraded = selections
        .iter()
        .filter(|s| !s.missing.is_empty())
        .map(|s| {
            let fields = s.missing.join(", ");
            unsupported(
                format!("field {fields}"),
                format!(
                    "selection `{}` ({}) disabled: access-log events have no {fields}",
                    s.name,
                    if s.alternatives.is_empty() {
                        "all of it"
                    } else {
                        "part of it"
                    }
                ),
            )
        })
        .collect();
    Ok(Compiled {
        detection: Detection { selections, cond },
        degraded,
    })
}

fn selection(name: &str, v: &Value) -> Result<Selection, Unsupported> {
    let mut sel = Selection {
        name: name.to_string(),
        alternatives: Vec::new(),
        missing: Vec::new(),
    };
    match v {
        Value::Mapping(m) => alternative(m, &mut sel)?,
        Value::Sequence(seq)
            if seq.iter().all(|x| matches!(x, Value::Mapping(_))) && !seq.is_empty() =>
        {
            for x in seq {
                if let Value::Mapping(m) = x {
                    alternative(m, &mut sel)?;
                }
            }
        }
        Value::Sequence(seq) => {
            let values = seq
                .iter()
                .map(|x| value(x, &Mods::keywords(), name))
                .collect::<Result<Vec<_>, _>>()?;
            sel.alternatives.push(vec![FieldTest {
                field: Field::Keywords,
                all: false,
                values,
            }]);
        }
        Value::String(_) | Value::Number(_) => {
            sel.alternatives.push(vec![FieldTest {
                field: Field::Keywords,
                all: false,
                values: vec![value(v, &Mods::keywords(), name)?],
            }]);
        }
        _ => {
            return Err(unsupported(
                "selection shape",
                format!("selection `{name}` is neither a map nor a list"),
            ))
        }
    }
    Ok(sel)
}

/// One map of `field|mods: values`, all of which must hold. A field events
/// lack disables the whole map (recorded in `sel.missing`).
fn alternative(m: &Mapping, sel: &mut Selection) -> Result<(), Unsupported> {
    let mut tests = Vec::new();
    let mut dead = false;
    for (k, v) in m {
        let Some(key) = k.as_str() else {
            return Err(unsupported(
                "selection key",
                format!("non-string key {k:?} in `{}`", sel.name),
            ));
        };
        let mut parts = key.split('|');
        let fname = parts.next().unwrap_or_default();
        let mut mods = Mods::parse(parts)?;
        let field = if fname.is_empty() {
            // keywords are substrings of the event
            if mods.kind == Kind::Text && mods.anchor.is_none() {
                mods.anchor = Some(Anchor::Contains);
            }
            Field::Keywords
        } else if let Some(f) = Field::from_sigma(fname) {
            f
        } else {
            if !sel.missing.iter().any(|x| x == fname) {
                sel.missing.push(fname.to_string());
            }
            dead = true;
            continue;
        };
        let values = match v {
            Value::Sequence(seq) => seq
                .iter()
                .map(|x| value(x, &mods, key))
                .collect::<Result<Vec<_>, _>>()?,
            _ => vec![value(v, &mods, key)?],
        };
        tests.push(FieldTest {
            field,
            all: mods.all,
            values,
        });
    }
    if !dead {
        sel.alternatives.push(tests);
    }
    Ok(())
}

/// The modifiers of one key, in the order they transform or compare.
#[derive(Debug, Default, Clone)]
struct Mods {
    anchor: Option<Anchor>,
    all: bool,
    cased: bool,
    transforms: Vec<Transform>,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Transform {
    Base64,
    Base64Offset,
    Windash,
    Utf16 { be: bool, bom: bool },
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Kind {
    #[default]
    Text,
    Re {
        i: bool,
        m: bool,
        s: bool,
    },
    Cidr,
    Exists,
    Cmp(Cmp),
}

impl Mods {
    fn keywords() -> Mods {
        Mods {
            anchor: Some(Anchor::Contains),
            ..Mods::default()
        }
    }

    fn parse<'a>(names: impl Iterator<Item = &'a str>) -> Result<Mods, Unsupported> {
        let mut m = Mods::default();
        for name in names {
            let set_kind = |m: &mut Mods, k: Kind| {
                if m.kind != Kind::Text {
                    return Err(unsupported(
                        format!("modifier {name}"),
                        "combined with another matching modifier",
                    ));
                }
                m.kind = k;
                Ok(())
            };
            let set_anchor = |m: &mut Mods, a: Anchor| {
                if m.anchor.is_some() {
                    return Err(unsupported(
                        format!("modifier {name}"),
                        "combined with another of contains/startswith/endswith",
                    ));
                }
                m.anchor = Some(a);
                Ok(())
            };
            match name {
                "contains" => set_anchor(&mut m, Anchor::Contains)?,
                "startswith" => set_anchor(&mut m, Anchor::Starts)?,
                "endswith" => set_anchor(&mut m, Anchor::Ends)?,
                "all" => m.all = true,
                "cased" => m.cased = true,
                "base64" => m.transforms.push(Transform::Base64),
                "base64offset" => m.transforms.push(Transform::Base64Offset),
                "windash" => m.transforms.push(Transform::Windash),
                "wide" | "utf16le" => m.transforms.push(Transform::Utf16 {
                    be: false,
                    bom: false,
                }),
                "utf16be" => m.transforms.push(Transform::Utf16 {
                    be: true,
                    bom: false,
                }),
                "utf16" => m.transforms.push(Transform::Utf16 {
                    be: false,
                    bom: true,
                }),
                "re" => set_kind(
                    &mut m,
                    Kind::Re {
                        i: false,
                        m: false,
                        s: false,
                    },
                )?,
                "i" | "m" | "s" => match &mut m.kind {
                    Kind::Re { i, m: ml, s } => match name {
                        "i" => *i = true,
                        "m" => *ml = true,
                        _ => *s = true,
                    },
                    _ => {
                        return Err(unsupported(
                            format!("modifier {name}"),
                            "only valid after `re`",
                        ))
                    }
                },
                "cidr" => set_kind(&mut m, Kind::Cidr)?,
                "exists" => set_kind(&mut m, Kind::Exists)?,
                "gt" => set_kind(&mut m, Kind::Cmp(Cmp::Gt))?,
                "gte" => set_kind(&mut m, Kind::Cmp(Cmp::Gte))?,
                "lt" => set_kind(&mut m, Kind::Cmp(Cmp::Lt))?,
                "lte" => set_kind(&mut m, Kind::Cmp(Cmp::Lte))?,
                other => {
                    return Err(unsupported(
                        format!("modifier {other}"),
                        match other {
                            "expand" => "placeholders need a placeholder configuration",
                            "fieldref" => "field references are not supported",
                            _ => "unknown or unsupported modifier",
                        },
                    ))
                }
            }
        }
        if m.kind != Kind::Text && (m.anchor.is_some() || !m.transforms.is_empty()) {
            return Err(unsupported(
                "modifier combination",
                "re/cidr/exists/gt/lt take no contains/startswith/endswith or encoding modifiers",
            ));
        }
        Ok(m)
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One value with its modifiers: the matchers any of which must hold.
fn value(v: &Value, mods: &Mods, key: &str) -> Result<Vec<Matcher>, Unsupported> {
    if matches!(v, Value::Null) {
        return Ok(vec![if mods.kind == Kind::Exists {
            Matcher::Exists(false)
        } else {
            Matcher::Null
        }]);
    }
    if let Kind::Exists = mods.kind {
        return match v {
            Value::Bool(b) => Ok(vec![Matcher::Exists(*b)]),
            _ => Err(unsupported(
                "modifier exists",
                format!("`{key}` needs true or false"),
            )),
        };
    }
    let Some(s) = scalar_text(v) else {
        return Err(unsupported(
            "value type",
            format!("`{key}` has a nested list or map as a value"),
        ));
    };
    match mods.kind {
        Kind::Exists => Err(unsupported(
            "modifier exists",
            format!("`{key}` needs true or false"),
        )),
        Kind::Cmp(op) => match s.trim().parse::<f64>() {
            Ok(n) => Ok(vec![Matcher::Cmp(op, n)]),
            Err(_) => Err(unsupported(
                "modifier gt/lt",
                format!("`{key}`: {s:?} is not a number"),
            )),
        },
        Kind::Cidr => cidr(&s)
            .map(|(ip, bits)| vec![Matcher::Cidr(ip, bits)])
            .ok_or_else(|| {
                unsupported("modifier cidr", format!("`{key}`: {s:?} is not a network"))
            }),
        Kind::Re { i, m, s: dot } => regex::bytes::RegexBuilder::new(&s)
            .case_insensitive(i)
            .multi_line(m)
            .dot_matches_new_line(dot)
            .size_limit(1 << 20)
            .build()
            .map(|re| {
                vec![Matcher::Regex {
                    needles: pattern::regex_needles(&s, i),
                    re,
                }]
            })
            .map_err(|e| unsupported("modifier re", format!("`{key}`: {e}"))),
        Kind::Text => {
            // (bytes, literal): encodings turn wildcards into plain bytes
            let mut variants: Vec<(Vec<u8>, bool)> = vec![(s.into_bytes(), false)];
            for t in &mods.transforms {
                variants = variants
                    .into_iter()
                    .flat_map(|(b, lit)| -> Vec<(Vec<u8>, bool)> {
                        match *t {
                            Transform::Base64 => vec![(pattern::base64(&b), true)],
                            Transform::Base64Offset => pattern::base64_offsets(&b)
                                .into_iter()
                                .map(|x| (x, true))
                                .collect(),
                            Transform::Windash => {
                                pattern::windash(&b).into_iter().map(|x| (x, lit)).collect()
                            }
                            Transform::Utf16 { be, bom } => {
                                vec![(pattern::utf16(&String::from_utf8_lossy(&b), be, bom), true)]
                            }
                        }
                    })
                    .collect();
                variants.dedup();
            }
            let anchor = mods.anchor.unwrap_or(Anchor::Exact);
            Ok(variants
                .into_iter()
                .map(|(b, lit)| {
                    let toks = if lit {
                        vec![Tok::Lit(b)]
                    } else {
                        pattern::tokens(&b)
                    };
                    match Text::new(toks, anchor) {
                        Text::Exact(e) if e.is_empty() && !mods.cased => Matcher::Null,
                        text => Matcher::Text {
                            text,
                            cased: mods.cased,
                        },
                    }
                })
                .collect())
        }
    }
}

fn cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = s.trim().split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

/// Whether `ip` lies in `net/bits` (IPv4-mapped IPv6 addresses count as IPv4).
pub(crate) fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Resolves names and `of` patterns; a selection that lost alternatives to a
/// missing field must not sit under `not`, where losing it would make the
/// rule fire more.
fn resolve(ast: &Ast, sels: &[Selection], negated: bool) -> Result<Cond, Unsupported> {
    let sel_cond = |i: usize| -> Result<Cond, Unsupported> {
        let s = &sels[i];
        if !s.missing.is_empty() && negated {
            let fields = s.missing.join(", ");
            return Err(unsupported(
                format!("field {fields}"),
                format!(
                    "access-log events have no {fields}, and the negated selection `{}` needs it",
                    s.name
                ),
            ));
        }
        Ok(if s.alternatives.is_empty() {
            Cond::Const(false)
        } else {
            Cond::Sel(i as u32)
        })
    };
    Ok(match ast {
        Ast::Name(n) => match sels.iter().position(|s| &s.name == n) {
            Some(i) => sel_cond(i)?,
            None => {
                return Err(unsupported(
                    "condition name",
                    format!("the condition names `{n}`, which is not a selection"),
                ))
            }
        },
        Ast::Of(quant, pat) => {
            let them = pat == "*";
            let idx: Vec<usize> = sels
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    condition::name_matches(pat, &s.name) && !(them && s.name.starts_with('_'))
                })
                .map(|(i, _)| i)
                .collect();
            if idx.is_empty() {
                return Err(unsupported(
                    "condition name",
                    format!("no selection matches `{pat}`"),
                ));
            }
            let parts = idx
                .into_iter()
                .map(sel_cond)
                .collect::<Result<Vec<_>, _>>()?;
            match quant {
                None => Cond::And(parts),
                Some(1) => Cond::Or(parts),
                Some(n) => {
                    return Err(unsupported(
                        "condition N of",
                        format!("`{n} of {pat}`: only `1 of` and `all of` are supported"),
                    ))
                }
            }
        }
        Ast::Not(a) => Cond::Not(Box::new(resolve(a, sels, !negated)?)),
        Ast::And(v) => Cond::And(
            v.iter()
                .map(|a| resolve(a, sels, negated))
                .collect::<Result<_, _>>()?,
        ),
        Ast::Or(v) => Cond::Or(
            v.iter()
                .map(|a| resolve(a, sels, negated))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Folds constants and flattens single-child nodes.
pub(crate) fn simplify(c: Cond) -> Cond {
    match c {
        Cond::Not(inner) => match simplify(*inner) {
            Cond::Const(b) => Cond::Const(!b),
            Cond::Not(x) => *x,
            x => Cond::Not(Box::new(x)),
        },
        Cond::And(v) => {
            let mut out = Vec::new();
            for x in v.into_iter().map(simplify) {
                match x {
                    Cond::Const(true) => {}
                    Cond::Const(false) => return Cond::Const(false),
                    Cond::And(inner) => out.extend(inner),
                    x => out.push(x),
                }
            }
            match out.len() {
                0 => Cond::Const(true),
                1 => out.remove(0),
                _ => Cond::And(out),
            }
        }
        Cond::Or(v) => {
            let mut out = Vec::new();
            for x in v.into_iter().map(simplify) {
                match x {
                    Cond::Const(false) => {}
                    Cond::Const(true) => return Cond::Const(true),
                    Cond::Or(inner) => out.extend(inner),
                    x => out.push(x),
                }
            }
            match out.len() {
                0 => Cond::Const(false),
                1 => out.remove(0),
                _ => Cond::Or(out),
            }
        }
        x => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_contains() {
        let (n, b) = cidr("10.0.0.0/8").unwrap();
        assert!(in_cidr("10.2.3.4".parse().unwrap(), n, b));
        assert!(!in_cidr("11.2.3.4".parse().unwrap(), n, b));
        assert!(in_cidr("::ffff:10.1.1.1".parse().unwrap(), n, b));
        let (n, b) = cidr("fe80::/10").unwrap();
        assert!(in_cidr("fe80::1".parse().unwrap(), n, b));
        let (n, b) = cidr("0.0.0.0/0").unwrap();
        assert!(in_cidr("1.2.3.4".parse().unwrap(), n, b));
        assert!(cidr("10.0.0.0/33").is_none());
    }

    #[test]
    fn modifiers_parse_or_name_the_construct() {
        assert!(Mods::parse("contains|all".split('|')).is_ok());
        assert!(Mods::parse("re|i".split('|')).is_ok());
        assert_eq!(
            Mods::parse("expand".split('|')).unwrap_err().construct,
            "modifier expand"
        );
        assert_eq!(
            Mods::parse("contains|re".split('|')).unwrap_err().construct,
            "modifier combination"
        );
        assert_eq!(
            Mods::parse("i".split('|')).unwrap_err().construct,
            "modifier i"
        );
        assert_eq!(
            Mods::parse("contains|endswith".split('|'))
                .unwrap_err()
                .construct,
            "modifier endswith"
        );
    }
}
