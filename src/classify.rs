//! Classify: what data an event touched, from the data inventory.
//!
//! Owns the [`Inventory`] (the YAML data map: resource patterns → data
//! categories, sensitivity, the parameter that holds a data-subject id, and
//! special kinds such as login or bulk endpoints; data subjects → counts and
//! jurisdictions) and [`Class`], what one event is classified as.
//!
//! Patterns compile into a segment trie, so classifying costs one walk over
//! the path's segments — no regex, no loop over patterns, no allocation.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

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
    pub kind: Option<Kind>,
}

/// The built inventory.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub resources: Vec<Resource>,
    trie: Vec<Node>,
    /// How many data subjects the organisation holds, when known.
    pub subjects_total: Option<u64>,
    pub id_format: Option<String>,
    /// Share of subjects per jurisdiction code (`EU`, `US-CA`...).
    pub jurisdictions: Vec<(String, f64)>,
    pub roles: Vec<String>,
    /// The organisation's zone (`UTC+02:00` or an IANA name), for time-of-day norms.
    pub timezone: Option<jiff::tz::TimeZone>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    literal: Vec<(String, usize)>,
    param: Option<usize>,
    /// Resource index ending here.
    end: Option<usize>,
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
            inv.resources.push(Resource {
                pattern: r.pattern.clone(),
                methods: r.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
                categories,
                sensitivity: r.sensitivity,
                subject_segment,
                subject_param: r.subject_param.clone(),
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
                    match self.trie[n].literal.iter().find(|(s, _)| s == seg) {
                        Some((_, id)) => *id,
                        None => {
                            self.trie.push(Node::default());
                            let id = self.trie.len() - 1;
                            self.trie[n].literal.push((seg.to_string(), id));
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
        if self.trie.is_empty() {
            return None;
        }
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let mut n = 0;
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            let node = &self.trie[n];
            n = match node.literal.iter().find(|(s, _)| s == seg) {
                Some((_, id)) => *id,
                None => node.param?,
            };
        }
        self.trie[n].end
    }

    /// Classifies one event.
    pub fn classify<'e>(&self, ev: &'e Event<'_>) -> Class<'e> {
        let Some(target) = ev.resource.as_deref() else {
            return Class::default();
        };
        let Some(ri) = self.lookup(target) else {
            return Class::default();
        };
        let r = &self.resources[ri];
        let method_ok = r.methods.is_empty()
            || ev
                .action
                .as_deref()
                .is_some_and(|m| r.methods.iter().any(|x| x.eq_ignore_ascii_case(m)));
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let subject = match (r.subject_segment, &r.subject_param) {
            (Some(i), _) => path.split('/').filter(|s| !s.is_empty()).nth(i),
            (None, Some(name)) => query.and_then(|q| query_param(q, name)),
            _ => None,
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

    #[test]
    fn fixed_offset_and_iana_zones() {
        assert!(parse_zone("UTC+05:30").is_some());
        assert!(parse_zone("UTC-5").is_some());
        assert!(parse_zone("Europe/Berlin").is_some());
        assert!(parse_zone("UTC+99").is_none());
    }
}
