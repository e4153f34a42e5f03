//! Classify: what data an event touched, from the data inventory.
//!
//! Owns the [`Inventory`] (the YAML data map: resource patterns → data
//! categories, sensitivity, the parameter that holds a data-subject id, and
//! special kinds such as login or bulk endpoints; data subjects → counts and
//! jurisdictions) and [`Class`], what one event is classified as.
//!
//! Patterns compile into a segment trie, so classifying costs one walk over
//! the path's segments — no regex, no loop over patterns, no allocation.
//!
//! Where a read names its data subject:
//! - `subject_param: id` — the `{id}` path parameter of the pattern (on a
//!   pattern without parameters, a query parameter of that name);
//! - `subject_query: [customer]` — query parameters that name the subject
//!   (`/api/orders?customer=42`); `subject_query: []` says none does;
//! - neither declared, on a resource that holds personal data: the first
//!   query parameter whose name is a common subject reference
//!   ([`DEFAULT_SUBJECT_QUERY`], or the inventory's own list in
//!   `subjects.query_params`; `[]` turns this off) and whose value has the
//!   shape of `subjects.id_format` (integer or uuid when it is not said).
//!   Inventories are written from the routes' path templates and rarely
//!   list query parameters, yet `?customer=42` reads that customer's data.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::parse::scan::{find1, find3, first3_in, word_at};
use crate::parse::Event;

/// The data-category vocabulary shared by inventory, detection, severity and
/// templates (DESIGN.md). Extend it here; never fork it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Identity,
    Contact,
    Credentials,
    Financial,
    PaymentCard,
    Location,
    Behavioural,
    Health,
    Biometric,
    Children,
    GovernmentId,
    SpecialCategory,
}

impl Category {
    pub const ALL: [Category; 12] = [
        Category::Identity,
        Category::Contact,
        Category::Credentials,
        Category::Financial,
        Category::PaymentCard,
        Category::Location,
        Category::Behavioural,
        Category::Health,
        Category::Biometric,
        Category::Children,
        Category::GovernmentId,
        Category::SpecialCategory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Identity => "identity",
            Category::Contact => "contact",
            Category::Credentials => "credentials",
            Category::Financial => "financial",
            Category::PaymentCard => "payment_card",
            Category::Location => "location",
            Category::Behavioural => "behavioural",
            Category::Health => "health",
            Category::Biometric => "biometric",
            Category::Children => "children",
            Category::GovernmentId => "government_id",
            Category::SpecialCategory => "special_category",
        }
    }

    pub fn from_name(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A set of categories as a bit set (cheap to copy and union on the hot path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Categories(u16);

impl Categories {
    pub fn insert(&mut self, c: Category) {
        self.0 |= 1 << c as u16;
    }
    pub fn contains(self, c: Category) -> bool {
        self.0 & (1 << c as u16) != 0
    }
    pub fn union(self, o: Categories) -> Categories {
        Categories(self.0 | o.0)
    }
    pub fn intersection(self, o: Categories) -> Categories {
        Categories(self.0 & o.0)
    }
    /// The set as bits (one per category), for packing into a key.
    pub fn bits(self) -> u16 {
        self.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Category> {
        Category::ALL.into_iter().filter(move |c| self.contains(*c))
    }
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Category::as_str).collect()
    }
}

impl FromIterator<Category> for Categories {
    fn from_iter<I: IntoIterator<Item = Category>>(it: I) -> Self {
        let mut s = Categories::default();
        for c in it {
            s.insert(c);
        }
        s
    }
}

/// How harmful exposure of a resource's data would be.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    #[default]
    None,
    Low,
    Medium,
    High,
    VeryHigh,
}

/// A resource's special role, where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Authentication endpoint: its failures are login failures.
    Login,
    /// Returns many subjects' records at once (lists, exports).
    Bulk,
    /// Administration.
    Admin,
    /// Health checks and monitoring: never personal data.
    Health,
}

/// The inventory file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    resources: Vec<ResourceFile>,
    #[serde(default)]
    subjects: Option<SubjectsFile>,
    #[serde(default)]
    roles: BTreeMap<String, RoleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceFile {
    pattern: String,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    sensitivity: Sensitivity,
    #[serde(default)]
    subject_param: Option<String>,
    /// `None`: the default names apply; `Some([])`: no query parameter does.
    #[serde(default)]
    subject_query: Option<Vec<String>>,
    #[serde(default)]
    kind: Option<Kind>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectsFile {
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    id_format: Option<String>,
    /// Replaces [`DEFAULT_SUBJECT_QUERY`]; `[]` turns the default off.
    #[serde(default)]
    query_params: Option<Vec<String>>,
    #[serde(default)]
    jurisdictions: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    #[serde(default)]
    #[allow(dead_code)] // documentation for people; kept so the key is accepted
    description: Option<String>,
}

/// One resource of the inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub pattern: String,
    /// Upper-case HTTP methods (or db verbs); empty = any.
    pub methods: Vec<String>,
    pub categories: Categories,
    pub sensitivity: Sensitivity,
    /// Which path segment (0-based, after the leading `/`) holds a subject id.
    pub subject_segment: Option<usize>,
    /// The parameter name, also looked up in the query string.
    pub subject_param: Option<String>,
    /// Query parameters that name the subject, declared or defaulted (names
    /// folded: lower case, without `_` and `-`).
    pub subject_query: SubjectQuery,
    pub kind: Option<Kind>,
}

/// Which query parameters of a resource name its data subject.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SubjectQuery {
    /// None does (no personal data, a path subject, or turned off).
    #[default]
    None,
    /// The inventory names them: any value is taken.
    Declared(Vec<String>),
    /// The built-in (or the inventory's `subjects.query_params`) names: only
    /// a value with the shape of the inventory's subject ids is taken.
    Default(Vec<String>),
}

/// Query parameter names that common web APIs use for a reference to a
/// person (`?customer=`, `?user_id=`, `?patientId=`), compared without case,
/// `_` or `-`. Left out on purpose: `id` (any object's id), `client_id`
/// (OAuth's application id), `q`/`query`/`search` (free text).
pub const DEFAULT_SUBJECT_QUERY: &[&str] = &[
    "customer",
    "customerid",
    "user",
    "userid",
    "account",
    "accountid",
    "member",
    "memberid",
    "patient",
    "patientid",
    "person",
    "personid",
    "subject",
    "subjectid",
    "owner",
    "ownerid",
    "employee",
    "employeeid",
    "student",
    "studentid",
    "uid",
];

/// The shape of a data-subject id (`subjects.id_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdFormat {
    /// Not declared: an integer or a uuid.
    #[default]
    Unknown,
    /// Decimal digits.
    Integer,
    /// `8-4-4-4-12` hex digits.
    Uuid,
    /// Hex digits (hashes, Mongo object ids).
    Hex,
    /// `local@domain`.
    Email,
    /// Letters, digits, `-`, `_` and `.` (prefixed ids such as `cus_8f3a`).
    Token,
}

impl IdFormat {
    /// The names `subjects.id_format` accepts.
    pub const NAMES: [&'static str; 5] = ["integer", "uuid", "hex", "email", "token"];

    fn from_name(s: &str) -> Option<IdFormat> {
        Some(match s {
            "integer" => IdFormat::Integer,
            "uuid" => IdFormat::Uuid,
            "hex" => IdFormat::Hex,
            "email" => IdFormat::Email,
            "token" => IdFormat::Token,
            _ => return None,
        })
    }

    /// Whether `v` (as it stands in a URL) has this shape.
    pub fn matches(self, v: &str) -> bool {
        let b = v.as_bytes();
        let hex = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_hexdigit);
        let integer = !b.is_empty() && b.len() <= 20 && b.iter().all(u8::is_ascii_digit);
        let uuid = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            });
        match self {
            IdFormat::Unknown => integer || uuid,
            IdFormat::Integer => integer,
            IdFormat::Uuid => uuid,
            IdFormat::Hex => b.len() <= 64 && hex(b),
            IdFormat::Email => {
                v.len() <= 254
                    && v.split_once('@')
                        .or_else(|| v.split_once("%40"))
                        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'))
            }
            IdFormat::Token => {
                !b.is_empty()
                    && b.len() <= 64
                    && b.iter()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            }
        }
    }
}

/// The built inventory.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub resources: Vec<Resource>,
    trie: Vec<Node>,
    /// How many data subjects the organisation holds, when known.
    pub subjects_total: Option<u64>,
    pub id_format: Option<String>,
    /// `id_format`, parsed.
    pub id_shape: IdFormat,
    /// Share of subjects per jurisdiction code (`EU`, `US-CA`...).
    pub jurisdictions: Vec<(String, f64)>,
    pub roles: Vec<String>,
    /// The organisation's zone (`UTC+02:00` or an IANA name), for time-of-day norms.
    pub timezone: Option<jiff::tz::TimeZone>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    literal: Vec<Literal>,
    param: Option<usize>,
    /// Resource index ending here.
    end: Option<usize>,
}

/// A literal segment of a pattern and the trie node it leads to.
#[derive(Debug, Clone)]
struct Literal {
    text: String,
    /// `head(text)`: a path's segment can only be this one when its head
    /// is this, so most segments are told apart by one compare of words
    /// (comparing the bytes called `bcmp`, a call per candidate).
    head: u64,
    node: usize,
}

impl Literal {
    #[inline]
    fn is(&self, seg: &[u8], head: u64) -> bool {
        self.head == head
            && self.text.len() == seg.len()
            && (seg.len() <= 8 || self.text.as_bytes()[8..] == seg[8..])
    }
}

/// A segment's first eight bytes (fewer, zero-padded, for a shorter one) as
/// a little-endian word.
fn head(seg: &[u8]) -> u64 {
    seg.iter()
        .take(8)
        .enumerate()
        .fold(0, |w, (k, &c)| w | (c as u64) << (8 * k))
}

/// A problem in an inventory file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.field, self.message
        )
    }
}

/// Every problem found in one inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryErrors(pub Vec<InventoryError>);

impl fmt::Display for InventoryErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for InventoryErrors {}

/// What one event touched.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Class<'e> {
    /// Index into [`Inventory::resources`].
    pub resource: Option<usize>,
    pub categories: Categories,
    pub sensitivity: Sensitivity,
    pub kind: Option<Kind>,
    /// The subject id the path (or query) names, if the resource declares one.
    pub subject: Option<&'e str>,
}

impl Inventory {
    /// Loads and builds an inventory file, reporting every problem found.
    pub fn load(path: &Path) -> Result<Inventory, InventoryErrors> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            InventoryErrors(vec![InventoryError {
                file: name.clone(),
                line: 0,
                field: String::new(),
                message: format!("cannot read the inventory: {e}"),
            }])
        })?;
        Inventory::from_str(&text, &name)
    }

    /// Parses and builds inventory YAML.
    pub fn from_str(text: &str, file: &str) -> Result<Inventory, InventoryErrors> {
        let raw: InventoryFile = serde_yaml_ng::from_str(text).map_err(|e| {
            let line = e.location().map_or(0, |l| l.line());
            InventoryErrors(vec![InventoryError {
                file: file.to_string(),
                line,
                field: String::new(),
                message: e.to_string(),
            }])
        })?;
        let mut errors = Vec::new();
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.contains(needle))
                .map_or(0, |i| i + 1)
        };
        let mut inv = Inventory::default();
        let defaults: Vec<String> =
            match raw.subjects.as_ref().and_then(|s| s.query_params.as_ref()) {
                Some(names) => names.iter().map(|n| fold_name(n)).collect(),
                None => DEFAULT_SUBJECT_QUERY
                    .iter()
                    .map(|n| n.to_string())
                    .collect(),
            };
        if let Some(f) = raw.subjects.as_ref().and_then(|s| s.id_format.as_deref()) {
            match IdFormat::from_name(f) {
                Some(shape) => inv.id_shape = shape,
                None => errors.push(InventoryError {
                    file: file.to_string(),
                    line: line_of("id_format"),
                    field: "subjects.id_format".into(),
                    message: format!(
                        "unknown id format `{f}`; use one of: {}",
                        IdFormat::NAMES.join(", ")
                    ),
                }),
            }
        }
        if let Some(names) = raw.subjects.as_ref().and_then(|s| s.query_params.as_ref()) {
            if names.iter().any(|n| fold_name(n).is_empty()) {
                errors.push(InventoryError {
                    file: file.to_string(),
                    line: line_of("query_params"),
                    field: "subjects.query_params".into(),
                    message: "a name is empty; list query parameter names, or `[]` for none".into(),
                });
            }
        }
        for (i, r) in raw.resources.iter().enumerate() {
            let at = line_of(&format!("\"{}\"", r.pattern)).max(line_of(&r.pattern));
            let mut err = |field: &str, message: String| {
                errors.push(InventoryError {
                    file: file.to_string(),
                    line: at,
                    field: format!("resources[{i}].{field}"),
                    message,
                })
            };
            if !r.pattern.starts_with('/') {
                err("pattern", format!("`{}` must start with `/`", r.pattern));
            }
            let mut categories = Categories::default();
            for c in &r.categories {
                match Category::from_name(c) {
                    Some(c) => categories.insert(c),
                    None => err(
                        "categories",
                        format!(
                            "unknown category `{c}`; use one of: {}",
                            Category::ALL.map(Category::as_str).join(", ")
                        ),
                    ),
                }
            }
            let segments = split_path(&r.pattern);
            let subject_segment = r.subject_param.as_ref().and_then(|p| {
                let want = format!("{{{p}}}");
                segments.iter().position(|s| *s == want)
            });
            if r.subject_param.is_some() && subject_segment.is_none() && r.pattern.contains('{') {
                err(
                    "subject_param",
                    format!(
                        "`{}` is not a `{{param}}` of the pattern; name one of its parameters, or a query parameter on a pattern without any",
                        r.subject_param.as_deref().unwrap_or_default()
                    ),
                );
            }
            if r.subject_query
                .iter()
                .flatten()
                .any(|n| fold_name(n).is_empty())
            {
                err(
                    "subject_query",
                    "a name is empty; list query parameter names, or `[]` for none".into(),
                );
            }
            let subject_query = match &r.subject_query {
                Some(names) if !names.is_empty() => {
                    SubjectQuery::Declared(names.iter().map(|n| fold_name(n)).collect())
                }
                Some(_) => SubjectQuery::None,
                // a path subject is the subject; a resource without personal
                // data names nobody, whatever its parameters are called
                None if subject_segment.is_some()
                    || r.subject_param.is_some()
                    || categories.is_empty()
                    || defaults.is_empty() =>
                {
                    SubjectQuery::None
                }
                None => SubjectQuery::Default(defaults.clone()),
            };
            inv.resources.push(Resource {
                pattern: r.pattern.clone(),
                methods: r.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
                categories,
                sensitivity: r.sensitivity,
                subject_segment,
                subject_param: r.subject_param.clone(),
                subject_query,
                kind: r.kind,
            });
        }
        if let Some(s) = &raw.subjects {
            inv.subjects_total = s.total;
            inv.id_format = s.id_format.clone();
            inv.jurisdictions = s
                .jurisdictions
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            let sum: f64 = s.jurisdictions.values().sum();
            if !s.jurisdictions.is_empty() && (sum - 1.0).abs() > 0.01 {
                errors.push(InventoryError {
                    file: file.to_string(),
                    line: line_of("jurisdictions"),
                    field: "subjects.jurisdictions".into(),
                    message: format!("shares add up to {sum:.2}; they must add up to 1"),
                });
            }
        }
        if let Some(tz) = &raw.timezone {
            match parse_zone(tz) {
                Some(z) => inv.timezone = Some(z),
                None => errors.push(InventoryError {
                    file: file.to_string(),
                    line: line_of("timezone"),
                    field: "timezone".into(),
                    message: format!("unknown zone `{tz}`; use an IANA name or `UTC+02:00`"),
                }),
            }
        }
        inv.roles = raw.roles.keys().cloned().collect();
        inv.build_trie();
        if errors.is_empty() {
            Ok(inv)
        } else {
            Err(InventoryErrors(errors))
        }
    }

    fn build_trie(&mut self) {
        self.trie = vec![Node::default()];
        for (ri, r) in self.resources.iter().enumerate() {
            let mut n = 0;
            for seg in split_path(&r.pattern) {
                let next = if seg.starts_with('{') && seg.ends_with('}') {
                    match self.trie[n].param {
                        Some(p) => p,
                        None => {
                            self.trie.push(Node::default());
                            let id = self.trie.len() - 1;
                            self.trie[n].param = Some(id);
                            id
                        }
                    }
                } else {
                    match self.trie[n].literal.iter().find(|l| l.text == seg) {
                        Some(l) => l.node,
                        None => {
                            self.trie.push(Node::default());
                            let id = self.trie.len() - 1;
                            self.trie[n].literal.push(Literal {
                                text: seg.to_string(),
                                head: head(seg.as_bytes()),
                                node: id,
                            });
                            id
                        }
                    }
                };
                n = next;
            }
            // the first pattern written wins when two are the same
            self.trie[n].end.get_or_insert(ri);
        }
    }

    /// Finds the resource an event's path falls under (literal segments
    /// before parameters).
    pub fn lookup(&self, path: &str) -> Option<usize> {
        self.walk(path.as_bytes()).0
    }

    /// The trie walk of [`Inventory::lookup`]: the resource, and the index
    /// of the `?` or `#` (or the end) where the path stopped, so `classify`
    /// finds the query without a second scan. Each step looks for the next
    /// `/`, `?` or `#` eight bytes at a time.
    #[inline]
    fn walk(&self, target: &[u8]) -> (Option<usize>, usize) {
        if self.trie.is_empty() {
            return (None, 0);
        }
        let mut n = 0;
        let mut start = 0;
        loop {
            // The segment's first word: the eight bytes from `start`, or the
            // rest of the target zero-padded (a path's last segment is
            // usually that short; a zero is no delimiter). A delimiter in
            // it ends the segment, and the bytes before it are its head.
            let (w, full) = match word_at(target, start) {
                Some(w) => (w, true),
                None => (head(&target[start..]), false),
            };
            let (i, h) = match first3_in(w, b'/', b'?', b'#') {
                Some(k) => (start + k, w & ((1u64 << (8 * k)) - 1)),
                None if full => {
                    let end = find3(target, start + 8, b'/', b'?', b'#');
                    (end.unwrap_or(target.len()), w)
                }
                None => (target.len(), w),
            };
            if i > start {
                let seg = &target[start..i];
                let node = &self.trie[n];
                n = match node.literal.iter().find(|l| l.is(seg, h)) {
                    Some(l) => l.node,
                    None => match node.param {
                        Some(p) => p,
                        None => return (None, i),
                    },
                };
            }
            if target.get(i) != Some(&b'/') {
                return (self.trie[n].end, i);
            }
            start = i + 1;
        }
    }

    /// Classifies one event.
    pub fn classify<'e>(&self, ev: &'e Event<'_>) -> Class<'e> {
        let Some(target) = ev.resource.as_deref() else {
            return Class::default();
        };
        let b = target.as_bytes();
        let (found, stop) = self.walk(b);
        let Some(ri) = found else {
            return Class::default();
        };
        // The query starts after the first `?`: where the walk stopped, or
        // past a `#` it stopped at.
        let query_at = match b.get(stop) {
            None => None,
            Some(b'?') => Some(stop),
            Some(_) => b[stop..].iter().position(|&c| c == b'?').map(|q| stop + q),
        };
        let r = &self.resources[ri];
        // Access logs write the method as the inventory does: an exact
        // compare (one `bcmp`) settles most events before the byte loop.
        let method_ok = r.methods.is_empty()
            || ev.action.as_deref().is_some_and(|m| {
                r.methods.iter().any(|x| x == m)
                    || r.methods.iter().any(|x| x.eq_ignore_ascii_case(m))
            });
        let (path, query) = match query_at {
            Some(q) => (&target[..q], Some(&target[q + 1..])),
            None => (target, None),
        };
        let subject = match (r.subject_segment, &r.subject_param) {
            (Some(i), _) => nth_segment(path, i),
            (None, Some(name)) => query.and_then(|q| query_param(q, name)),
            (None, None) => query.and_then(|q| self.query_subject(&r.subject_query, q)),
        };
        Class {
            resource: Some(ri),
            categories: r.categories,
            sensitivity: r.sensitivity,
            // a GET of the login page is not a login attempt
            kind: if method_ok { r.kind } else { None },
            subject,
        }
    }
}

impl Inventory {
    /// The subject a query string names under a resource's subject query
    /// parameters: the first such parameter with a value (of the subjects'
    /// id shape, for the default names).
    fn query_subject<'q>(&self, names: &SubjectQuery, query: &'q str) -> Option<&'q str> {
        let (names, shape) = match names {
            SubjectQuery::None => return None,
            SubjectQuery::Declared(n) => (n, None),
            SubjectQuery::Default(n) => (n, Some(self.id_shape)),
        };
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let named = !v.is_empty() && names.iter().any(|n| folded_eq(k, n));
            (named && shape.is_none_or(|s| s.matches(v))).then_some(v)
        })
    }
}

/// A parameter name compared without case, `_` or `-` (`customerId`,
/// `customer_id` and `customer-id` are one name).
fn fold_name(n: &str) -> String {
    n.chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `fold_name(key) == folded`, without allocating.
fn folded_eq(key: &str, folded: &str) -> bool {
    let mut k = key
        .bytes()
        .filter(|b| !matches!(b, b'_' | b'-'))
        .map(|b| b.to_ascii_lowercase());
    let mut f = folded.bytes();
    loop {
        match (k.next(), f.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The `n`th non-empty `/`-separated segment of `path`, as
/// `path.split('/').filter(|s| !s.is_empty()).nth(n)` finds it.
/// Each step looks for the next `/` eight bytes at a time.
fn nth_segment(path: &str, n: usize) -> Option<&str> {
    let b = path.as_bytes();
    let mut seen = 0;
    let mut start = 0;
    while start <= b.len() {
        let i = find1(b, start, b'/').unwrap_or(b.len());
        if i > start {
            if seen == n {
                return path.get(start..i);
            }
            seen += 1;
        }
        start = i + 1;
    }
    None
}

fn split_path(p: &str) -> Vec<&str> {
    p.split('/').filter(|s| !s.is_empty()).collect()
}

fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name && !v.is_empty()).then_some(v)
    })
}

/// `UTC+02:00`, `UTC-5`, `UTC`, or an IANA name.
fn parse_zone(s: &str) -> Option<jiff::tz::TimeZone> {
    if let Some(rest) = s.strip_prefix("UTC").or_else(|| s.strip_prefix("GMT")) {
        if rest.is_empty() {
            return Some(jiff::tz::TimeZone::UTC);
        }
        let sign = match rest.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = match rest[1..].split_once(':') {
            Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
            None => (rest[1..].parse::<i32>().ok()?, 0),
        };
        if h > 14 || m > 59 {
            return None;
        }
        let off = jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()?;
        return Some(jiff::tz::TimeZone::fixed(off));
    }
    jiff::tz::TimeZone::get(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    const PORTAL: &str = r#"
timezone: "UTC+02:00"
resources:
  - pattern: "/login"
    methods: [POST]
    categories: []
    sensitivity: none
    kind: login
  - pattern: "/api/customers/{id}"
    methods: [GET, PUT]
    categories: [identity, contact]
    sensitivity: high
    subject_param: id
  - pattern: "/api/customers/{id}/payment-methods"
    methods: [GET]
    categories: [payment_card]
    sensitivity: very_high
    subject_param: id
  - pattern: "/api/customers"
    methods: [GET]
    categories: [identity, contact]
    sensitivity: high
    kind: bulk
  - pattern: "/api/customers/export"
    categories: [identity, contact, location]
    sensitivity: high
    kind: bulk
  - pattern: "/api/orders"
    categories: [financial]
    sensitivity: medium
    subject_param: customer
subjects:
  total: 20000
  jurisdictions: {EU: 0.6, US-CA: 0.3, CN: 0.1}
roles:
  customer: {description: "end customer"}
"#;

    fn ev<'a>(method: &'a str, target: &'a str) -> Event<'a> {
        Event {
            action: Some(Cow::Borrowed(method)),
            resource: Some(Cow::Borrowed(target)),
            ..Event::default()
        }
    }

    #[test]
    fn classifies_by_pattern_method_and_subject() {
        let inv = Inventory::from_str(PORTAL, "inv.yaml").unwrap();
        // (method, target, pattern, kind, subject, sensitivity)
        type Row<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<Kind>,
            Option<&'a str>,
            Sensitivity,
        );
        let rows: &[Row] = &[
            (
                "POST",
                "/login",
                Some("/login"),
                Some(Kind::Login),
                None,
                Sensitivity::None,
            ),
            (
                "GET",
                "/login",
                Some("/login"),
                None,
                None,
                Sensitivity::None,
            ),
            (
                "GET",
                "/api/customers/42",
                Some("/api/customers/{id}"),
                None,
                Some("42"),
                Sensitivity::High,
            ),
            (
                "GET",
                "/api/customers/42/",
                Some("/api/customers/{id}"),
                None,
                Some("42"),
                Sensitivity::High,
            ),
            (
                "GET",
                "/api/customers/42/payment-methods?x=1",
                Some("/api/customers/{id}/payment-methods"),
                None,
                Some("42"),
                Sensitivity::VeryHigh,
            ),
            (
                "GET",
                "/api/customers?page=3",
                Some("/api/customers"),
                Some(Kind::Bulk),
                None,
                Sensitivity::High,
            ),
            (
                "GET",
                "/api/customers/export",
                Some("/api/customers/export"),
                Some(Kind::Bulk),
                None,
                Sensitivity::High,
            ),
            (
                "GET",
                "/api/orders?customer=77&page=2",
                Some("/api/orders"),
                None,
                Some("77"),
                Sensitivity::Medium,
            ),
            ("GET", "/api/other", None, None, None, Sensitivity::None),
            ("GET", "/", None, None, None, Sensitivity::None),
        ];
        for &(m, t, pattern, kind, subject, sens) in rows {
            let e = ev(m, t);
            let c = inv.classify(&e);
            assert_eq!(
                c.resource.map(|i| inv.resources[i].pattern.as_str()),
                pattern,
                "{m} {t}"
            );
            assert_eq!(c.kind, kind, "{m} {t}");
            assert_eq!(c.subject, subject, "{m} {t}");
            assert_eq!(c.sensitivity, sens, "{m} {t}");
        }
        let e = ev("GET", "/api/customers/42");
        let c = inv.classify(&e);
        assert_eq!(c.categories.names(), vec!["identity", "contact"]);
        assert_eq!(inv.subjects_total, Some(20000));
        assert_eq!(inv.jurisdictions.len(), 3);
    }

    #[test]
    fn problems_name_file_line_and_field() {
        let bad = "resources:\n  - pattern: \"/a/{id}\"\n    categories: [helth]\n    subject_param: uid\n";
        let e = Inventory::from_str(bad, "inv.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("inv.yaml:2: resources[0].categories: unknown category `helth`"),
            "{e}"
        );
        assert!(
            e.contains("inv.yaml:2: resources[0].subject_param: `uid` is not a `{param}`"),
            "{e}"
        );
        let e = Inventory::from_str(
            "resources:\n  - pattern: /a\n    sensitiv: high\n",
            "inv.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("inv.yaml:3:"), "{e}");
        assert!(e.contains("unknown field `sensitiv`"), "{e}");
    }

    /// An inventory written from path templates only, as most are.
    const SHOP: &str = r#"
resources:
  - pattern: "/api/customers/{id}"
    categories: [identity]
    sensitivity: high
    subject_param: id
  - pattern: "/api/orders"
    categories: [financial]
    sensitivity: medium
  - pattern: "/api/orders/{id}"
    categories: [financial]
    sensitivity: medium
  - pattern: "/api/invoices"
    categories: [financial]
    subject_query: [buyer]
  - pattern: "/api/tickets"
    categories: [contact]
    subject_query: []
  - pattern: "/api/products"
    categories: []
subjects:
  id_format: ID_FORMAT
"#;

    fn shop(id_format: &str) -> Inventory {
        Inventory::from_str(&SHOP.replace("ID_FORMAT", id_format), "inv.yaml").unwrap()
    }

    fn subject_of<'e>(inv: &Inventory, e: &'e Event<'_>) -> Option<&'e str> {
        inv.classify(e).subject
    }

    #[test]
    fn a_declared_query_parameter_names_the_subject() {
        let inv = shop("integer");
        // (target, subject)
        let rows: &[(&str, Option<&str>)] = &[
            ("/api/invoices?buyer=42", Some("42")),
            ("/api/invoices?page=2&buyer=42", Some("42")),
            ("/api/invoices?Buyer=42", Some("42")),
            // declared: taken whatever its shape
            ("/api/invoices?buyer=ACME-7", Some("ACME-7")),
            ("/api/invoices?buyer=", None),
            // declared names replace the default ones
            ("/api/invoices?customer=42", None),
            // `[]` turns the default off
            ("/api/tickets?customer=42", None),
        ];
        for &(t, want) in rows {
            assert_eq!(subject_of(&inv, &ev("GET", t)), want, "{t}");
        }
    }

    #[test]
    fn a_common_subject_query_parameter_is_the_subject_by_default() {
        let inv = shop("integer");
        let rows: &[(&str, Option<&str>)] = &[
            ("/api/orders?customer=77", Some("77")),
            ("/api/orders?customer_id=77&page=2", Some("77")),
            ("/api/orders?page=2&customerId=77", Some("77")),
            ("/api/orders?USER-ID=77", Some("77")),
            ("/api/orders?patient_id=77", Some("77")),
            // not a name for a person
            ("/api/orders?id=77", None),
            ("/api/orders?client_id=77", None),
            ("/api/orders?customers=77", None),
            ("/api/orders", None),
            // a path subject is the resource's subject; none declared here
            ("/api/orders/12345?customer=77", Some("77")),
        ];
        for &(t, want) in rows {
            assert_eq!(subject_of(&inv, &ev("GET", t)), want, "{t}");
        }
        // the path parameter wins on a resource that declares one
        let e = ev("GET", "/api/customers/5?customer=77");
        assert_eq!(subject_of(&inv, &e), Some("5"));
    }

    #[test]
    fn a_default_subject_parameter_must_have_the_id_format() {
        let uuid = "3f2b9c1e-0a4d-4e5f-8a6b-7c8d9e0f1a2b";
        // (id_format, value, taken)
        let rows: &[(&str, &str, bool)] = &[
            ("integer", "77", true),
            ("integer", uuid, false),
            ("integer", "me", false),
            ("integer", "77%27%20OR%201=1", false),
            ("uuid", uuid, true),
            ("uuid", "77", false),
            ("uuid", "3f2b9c1e-0a4d-4e5f-8a6b-7c8d9e0f1a2", false),
            ("hex", "5f1d7a3b9c", true),
            ("hex", "xyz", false),
            ("email", "ann%40example.org", true),
            ("email", "ann", false),
            ("token", "cus_8F3a", true),
            ("token", "a%20b", false),
        ];
        for &(f, v, taken) in rows {
            let inv = shop(f);
            let t = format!("/api/orders?customer={v}");
            let e = ev("GET", &t);
            assert_eq!(subject_of(&inv, &e), taken.then_some(v), "{f} {v}");
        }
        // without an id format: an integer or a uuid
        let inv = Inventory::from_str(&SHOP.replace("  id_format: ID_FORMAT\n", ""), "i").unwrap();
        for (v, taken) in [("77", true), (uuid, true), ("smith", false)] {
            let t = format!("/api/orders?user={v}");
            let e = ev("GET", &t);
            assert_eq!(subject_of(&inv, &e), taken.then_some(v), "{v}");
        }
    }

    #[test]
    fn a_resource_without_personal_data_names_no_subject() {
        let inv = shop("integer");
        let e = ev("GET", "/api/products?customer=77");
        let c = inv.classify(&e);
        assert!(c.resource.is_some());
        assert_eq!(c.subject, None);
    }

    #[test]
    fn the_inventory_replaces_or_turns_off_the_default_names() {
        let own = SHOP.replace("ID_FORMAT", "integer\n  query_params: [shopper]");
        let inv = Inventory::from_str(&own, "inv.yaml").unwrap();
        assert_eq!(
            subject_of(&inv, &ev("GET", "/api/orders?shopper=9")),
            Some("9")
        );
        assert_eq!(subject_of(&inv, &ev("GET", "/api/orders?customer=9")), None);
        let off = SHOP.replace("ID_FORMAT", "integer\n  query_params: []");
        let inv = Inventory::from_str(&off, "inv.yaml").unwrap();
        assert_eq!(subject_of(&inv, &ev("GET", "/api/orders?customer=9")), None);
        assert_eq!(
            subject_of(&inv, &ev("GET", "/api/invoices?buyer=9")),
            Some("9")
        );
    }

    #[test]
    fn bad_subject_query_settings_are_named() {
        let e = Inventory::from_str(&SHOP.replace("ID_FORMAT", "guid"), "inv.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("inv.yaml:22: subjects.id_format: unknown id format `guid`; use one of: integer, uuid"),
            "{e}"
        );
        let bad =
            "resources:\n  - pattern: /a\n    categories: [identity]\n    subject_query: [\"\"]\n";
        let e = Inventory::from_str(bad, "inv.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("inv.yaml:2: resources[0].subject_query: a name is empty"),
            "{e}"
        );
    }

    #[test]
    fn segments_and_the_matched_path_end_where_split_ends_them() {
        for path in ["", "/", "//a//b/", "a/b", "/api/customers/42", "/é/ü//x"] {
            let want: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            for n in 0..=want.len() {
                assert_eq!(nth_segment(path, n), want.get(n).copied(), "{path} {n}");
            }
        }
        let inv = Inventory::from_str(PORTAL, "inv.yaml").unwrap();
        for target in [
            "/api/customers/42?x=1",
            "/api/customers/42#f?x=1",
            "/api/customers/42?x=1#f",
            "/api/customers#x/42",
            "/api/customers/4#2/payment-methods",
        ] {
            let e = ev("GET", target);
            assert_eq!(inv.classify(&e).resource, inv.lookup(target), "{target}");
        }
    }

    /// The walk as `split` finds the segments: the reference for the walk's
    /// one scan, its word compares and its kept segment bounds.
    fn lookup_by_split(inv: &Inventory, target: &str) -> Option<usize> {
        let end = target.find(['?', '#']).unwrap_or(target.len());
        let mut n = 0;
        for seg in target[..end].split('/').filter(|s| !s.is_empty()) {
            let node = &inv.trie[n];
            n = match node.literal.iter().find(|l| l.text == seg) {
                Some(l) => l.node,
                None => node.param?,
            };
        }
        inv.trie[n].end
    }

    proptest::proptest! {
        /// The walk finds the resource a walk over `split`'s segments finds,
        /// and the subject segment is the one `split` finds in the path.
        #[test]
        fn walk_agrees_with_a_split_walk(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "/", "//", "api", "customers", "customerz", "42", "payment-methods",
                    "payment-methodz", "export", "login", "logi", "orders", "?", "#",
                    "?customer=7", "é", "a/b/c/d/e/f/g/h/i/j",
                ]),
                0..12,
            ),
        ) {
            let target: String = parts.concat();
            let inv = Inventory::from_str(PORTAL, "inv.yaml").unwrap();
            let want = lookup_by_split(&inv, &target);
            proptest::prop_assert_eq!(inv.lookup(&target), want, "{}", &target);
            let e = ev("GET", &target);
            let c = inv.classify(&e);
            proptest::prop_assert_eq!(c.resource, want, "{}", &target);
            if let Some(i) = want.and_then(|r| inv.resources[r].subject_segment) {
                let path = target.split('?').next().unwrap_or_default();
                let segment = path.split('/').filter(|s| !s.is_empty()).nth(i);
                proptest::prop_assert_eq!(c.subject, segment, "{}", &target);
            }
        }
    }

    proptest::proptest! {
        /// Any request target: no panic, and a defaulted subject is a value
        /// of the query with the subjects' id shape.
        #[test]
        fn any_target_classifies_and_a_default_subject_has_the_id_shape(
            target in "(/api/orders|/api/products|/x)?(\\?((customer|user_id|q)=[0-9a-z%_-]{0,12}&?){0,3})?|\\PC{0,40}",
        ) {
            for f in ["integer", "uuid", "token"] {
                let inv = shop(f);
                let e = ev("GET", &target);
                let c = inv.classify(&e);
                if let Some(s) = c.subject {
                    proptest::prop_assert!(inv.id_shape.matches(s), "{f} {target} {s}");
                    proptest::prop_assert!(target.split_once('?').is_some_and(|(_, q)| q.contains(s)));
                }
            }
        }
    }

    #[test]
    fn fixed_offset_and_iana_zones() {
        assert!(parse_zone("UTC+05:30").is_some());
        assert!(parse_zone("UTC-5").is_some());
        assert!(parse_zone("Europe/Berlin").is_some());
        assert!(parse_zone("UTC+99").is_none());
    }
}
