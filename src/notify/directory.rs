//! The subject directory: who a data subject id is, as far as a notice
//! needs — an e-mail address, a language and a name — read from a CSV file
//! or looked up with an SQL query in a SQLite database the user names
//! (`[notify.subjects]`).
//!
//! Owns: the `[notify.subjects]` config ([`SubjectsConfig`] → [`SubjectsSpec`]),
//! reading the directory ([`Directory`]) and resolving ids ([`Resolution`]).
//! A row the directory cannot use is counted and named with its line (CSV),
//! never dropped silently; an id the directory does not know is listed as
//! unknown; a missing language falls back to the configured default.
//!
//! Never: send, or decide who is affected (the campaign is handed the ids).

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::notice::Locale;

/// `[notify.subjects]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectsConfig {
    /// `csv` or `sqlite`.
    pub kind: Spanned<String>,
    /// The CSV file or the SQLite database.
    pub path: Spanned<String>,
    /// SQLite: one query with one `?` (the subject id) returning a column
    /// named `email`, and optionally `locale` and `name`.
    pub query: Option<Spanned<String>>,
    /// The language of subjects the directory gives none for (default:
    /// `[notify] locale`).
    pub locale: Option<Spanned<String>>,
    /// The `[[notify.channel]]` notices go through (smtp or file).
    pub channel: Spanned<String>,
    /// Notices per second (default 10).
    pub rate: Option<Spanned<f64>>,
}

/// Where the directory is.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A CSV file with a header: `id,email,locale[,name]` (any order, more
    /// columns ignored).
    Csv { path: PathBuf },
    /// A SQLite database, opened read-only, and the lookup query.
    Sqlite { path: PathBuf, query: String },
}

/// `[notify.subjects]`, built.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectsSpec {
    pub source: Source,
    pub default_locale: Locale,
    pub channel: String,
    /// Notices per second.
    pub rate: f64,
}

/// The fastest rate accepted: a mail relay is not a benchmark target.
pub const MAX_RATE: f64 = 10_000.0;

/// Builds `[notify.subjects]`; problems are pushed as (span, message).
/// `channels` are the names and kinds of the configured channels.
pub fn build(
    c: &SubjectsConfig,
    notify_locale: Locale,
    channels: &[(&str, &str)],
    resolve: &dyn Fn(&str) -> PathBuf,
    errors: &mut Vec<(Range<usize>, String)>,
) -> Option<SubjectsSpec> {
    let before = errors.len();
    let path = resolve(c.path.get_ref());
    if c.path.get_ref().trim().is_empty() {
        errors.push((c.path.span(), "`path` is empty".into()));
    }
    let source = match c.kind.get_ref().as_str() {
        "csv" => {
            if let Some(q) = &c.query {
                errors.push((
                    q.span(),
                    "`query` applies to a sqlite directory; a csv directory is the file itself"
                        .into(),
                ));
            }
            Source::Csv { path }
        }
        "sqlite" => match &c.query {
            Some(q) if q.get_ref().matches('?').count() != 1 => {
                errors.push((
                    q.span(),
                    "the query needs exactly one `?`, the subject id: SELECT email, locale, name FROM customers WHERE id = ?".into(),
                ));
                Source::Sqlite {
                    path,
                    query: String::new(),
                }
            }
            Some(q) => Source::Sqlite {
                path,
                query: q.get_ref().clone(),
            },
            None => {
                errors.push((
                    c.kind.span(),
                    "a sqlite directory needs `query`, e.g. SELECT email, locale, name FROM customers WHERE id = ?".into(),
                ));
                Source::Sqlite {
                    path,
                    query: String::new(),
                }
            }
        },
        "postgres" | "postgresql" => {
            errors.push((
                c.kind.span(),
                "a PostgreSQL directory is not supported yet; export it to CSV or SQLite".into(),
            ));
            return None;
        }
        other => {
            errors.push((
                c.kind.span(),
                format!("unknown directory kind `{other}`; use csv or sqlite"),
            ));
            return None;
        }
    };
    let default_locale = match &c.locale {
        Some(l) => Locale::parse(l.get_ref()).unwrap_or_else(|| {
            errors.push((
                l.span(),
                format!("unknown locale `{}`; use en or zh-CN", l.get_ref()),
            ));
            notify_locale
        }),
        None => notify_locale,
    };
    let rate = match &c.rate {
        Some(r) if !(r.get_ref().is_finite() && *r.get_ref() > 0.0 && *r.get_ref() <= MAX_RATE) => {
            errors.push((
                r.span(),
                format!("`rate` is notices per second: a number above 0 and at most {MAX_RATE}"),
            ));
            1.0
        }
        Some(r) => *r.get_ref(),
        None => 10.0,
    };
    let name = c.channel.get_ref();
    match channels.iter().find(|(n, _)| n == name) {
        None => errors.push((
            c.channel.span(),
            format!("no [[notify.channel]] named `{name}`"),
        )),
        Some((_, kind)) if *kind != "smtp" && *kind != "file" => errors.push((
            c.channel.span(),
            format!(
                "channel `{name}` is a {kind} channel, which cannot address each subject; use an smtp (or file) channel"
            ),
        )),
        Some(_) => {}
    }
    (errors.len() == before).then(|| SubjectsSpec {
        source,
        default_locale,
        channel: name.clone(),
        rate,
    })
}

/// What a notice needs to reach one data subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectContact {
    pub id: String,
    pub email: String,
    pub locale: Locale,
    pub name: Option<String>,
}

/// A directory row that cannot be used, with where it is and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// 1-based line of the CSV file (the query's subject id for SQLite).
    pub line: u64,
    pub field: &'static str,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.reason)
    }
}

/// The directory cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{path}: cannot read the subject directory: {detail}; check [notify.subjects] path")]
    Unreadable { path: String, detail: String },
    #[error("{path}:1: the header has no `{column}` column; the first line must name the columns, e.g. id,email,locale,name")]
    MissingColumn { path: String, column: &'static str },
    #[error("{path}: [notify.subjects] query: {detail}")]
    Query { path: String, detail: String },
}

/// The ids of a campaign, resolved.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Resolution {
    /// In the order asked, each id once.
    pub found: Vec<SubjectContact>,
    /// Ids the directory does not know (or knows only by an unusable row).
    pub unknown: Vec<String>,
    /// Of `found`, how many took the default language.
    pub default_locale: u64,
}

/// An open subject directory.
pub enum Directory {
    Csv {
        path: String,
        rows: HashMap<String, (SubjectContact, bool)>,
        bad: Vec<BadRow>,
    },
    Sqlite {
        path: String,
        conn: rusqlite::Connection,
        query: String,
        default_locale: Locale,
        bad: Vec<BadRow>,
    },
}

impl Directory {
    /// Opens the directory: reads the whole CSV file, or opens the SQLite
    /// database read-only and checks the query.
    pub fn open(spec: &SubjectsSpec) -> Result<Directory, DirectoryError> {
        match &spec.source {
            Source::Csv { path } => {
                let shown = path.display().to_string();
                let text =
                    std::fs::read_to_string(path).map_err(|e| DirectoryError::Unreadable {
                        path: shown.clone(),
                        detail: e.to_string(),
                    })?;
                let (rows, bad) = read_csv(&shown, &text, spec.default_locale)?;
                Ok(Directory::Csv {
                    path: shown,
                    rows,
                    bad,
                })
            }
            Source::Sqlite { path, query } => open_sqlite(path, query, spec.default_locale),
        }
    }

    /// Rows the directory holds that cannot be used.
    pub fn bad_rows(&self) -> &[BadRow] {
        match self {
            Directory::Csv { bad, .. } | Directory::Sqlite { bad, .. } => bad,
        }
    }

    /// The file the directory is read from.
    pub fn path(&self) -> &str {
        match self {
            Directory::Csv { path, .. } | Directory::Sqlite { path, .. } => path,
        }
    }

    /// Resolves `ids` (duplicates asked once), keeping their order.
    pub fn resolve(&mut self, ids: &[String]) -> Result<Resolution, DirectoryError> {
        let mut out = Resolution::default();
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let found = match self {
                Directory::Csv { rows, .. } => rows.get(id).cloned(),
                Directory::Sqlite {
                    path,
                    conn,
                    query,
                    default_locale,
                    bad,
                } => lookup(path, conn, query, *default_locale, id, bad)?,
            };
            match found {
                Some((c, defaulted)) => {
                    out.default_locale += defaulted as u64;
                    out.found.push(c);
                }
                None => out.unknown.push(id.clone()),
            }
        }
        Ok(out)
    }
}

/// The three things a row must give right.
fn contact(
    id: &str,
    email: &str,
    locale: Option<&str>,
    name: Option<&str>,
    default_locale: Locale,
) -> Result<(SubjectContact, bool), (&'static str, String)> {
    if id.trim().is_empty() {
        return Err(("id", "empty".into()));
    }
    let email = email.trim();
    if email.is_empty() {
        return Err(("email", "empty".into()));
    }
    if email.parse::<lettre::Address>().is_err() {
        // the value stays out of the message: it goes to breachd's own log
        return Err(("email", "not an e-mail address".into()));
    }
    let (locale, defaulted) = match locale.map(str::trim).filter(|l| !l.is_empty()) {
        None => (default_locale, true),
        Some(l) => match Locale::parse(l) {
            Some(l) => (l, false),
            None => {
                return Err((
                    "locale",
                    format!(
                        "unknown locale `{l}`; use en or zh-CN, or leave it empty for the default"
                    ),
                ))
            }
        },
    };
    Ok((
        SubjectContact {
            id: id.to_string(),
            email: email.to_string(),
            locale,
            name: name
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        },
        defaulted,
    ))
}

type Rows = HashMap<String, (SubjectContact, bool)>;

fn read_csv(
    path: &str,
    text: &str,
    default_locale: Locale,
) -> Result<(Rows, Vec<BadRow>), DirectoryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Records::new(text);
    let header = match records.next() {
        Some((_, Ok(h))) => h,
        Some((_, Err(reason))) => {
            return Err(DirectoryError::Unreadable {
                path: path.into(),
                detail: format!("line 1: {reason}"),
            })
        }
        None => {
            return Err(DirectoryError::MissingColumn {
                path: path.into(),
                column: "id",
            })
        }
    };
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let id_col = col("id").ok_or(DirectoryError::MissingColumn {
        path: path.into(),
        column: "id",
    })?;
    let email_col = col("email").ok_or(DirectoryError::MissingColumn {
        path: path.into(),
        column: "email",
    })?;
    let (locale_col, name_col) = (col("locale"), col("name"));
    let mut rows = HashMap::new();
    let mut bad = Vec::new();
    for (line, record) in records {
        let fields = match record {
            Ok(f) => f,
            Err(reason) => {
                bad.push(BadRow {
                    line,
                    field: "row",
                    reason,
                });
                continue;
            }
        };
        if fields.len() == 1 && fields[0].trim().is_empty() {
            continue;
        }
        if fields.len() != header.len() {
            bad.push(BadRow {
                line,
                field: "row",
                reason: format!(
                    "{} fields where the header names {}",
                    fields.len(),
                    header.len()
                ),
            });
            continue;
        }
        let get = |c: Option<usize>| c.map(|c| fields[c].as_str());
        match contact(
            &fields[id_col],
            &fields[email_col],
            get(locale_col),
            get(name_col),
            default_locale,
        ) {
            Ok((c, defaulted)) => {
                if rows.contains_key(&c.id) {
                    bad.push(BadRow {
                        line,
                        field: "id",
                        reason: format!(
                            "`{}` is listed above already; the first row is used",
                            c.id
                        ),
                    });
                } else {
                    rows.insert(c.id.clone(), (c, defaulted));
                }
            }
            Err((field, reason)) => bad.push(BadRow {
                line,
                field,
                reason,
            }),
        }
    }
    Ok((rows, bad))
}

/// RFC 4180 records (quoted fields may hold commas, quotes as `""` and line
/// breaks), each with the line it starts on.
struct Records<'a> {
    rest: &'a str,
    line: u64,
}

impl<'a> Records<'a> {
    fn new(text: &'a str) -> Records<'a> {
        Records {
            rest: text,
            line: 1,
        }
    }
}

impl Iterator for Records<'_> {
    type Item = (u64, Result<Vec<String>, String>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let start = self.line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = self.rest.char_indices().peekable();
        let mut quoted = false;
        let mut at_field_start = true;
        let mut error = None;
        let mut end = self.rest.len();
        while let Some((i, ch)) = chars.next() {
            match ch {
                '"' if at_field_start => {
                    quoted = true;
                    at_field_start = false;
                }
                '"' if quoted => {
                    if chars.peek().map(|(_, c)| *c) == Some('"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                }
                '\n' if !quoted => {
                    end = i + 1;
                    self.line += 1;
                    break;
                }
                '\r' if !quoted && chars.peek().map(|(_, c)| *c) == Some('\n') => {}
                ',' if !quoted => {
                    fields.push(std::mem::take(&mut field));
                    at_field_start = true;
                }
                _ => {
                    if ch == '\n' {
                        self.line += 1;
                    }
                    if ch == '"' && error.is_none() {
                        error = Some("a quote inside an unquoted field; quote the field and double the quote (\"\")".to_string());
                    }
                    at_field_start = false;
                    field.push(ch);
                }
            }
        }
        if quoted {
            error = Some("a quoted field is not closed before the end of the file".into());
        }
        fields.push(field);
        self.rest = &self.rest[end..];
        Some((start, error.map_or(Ok(fields), Err)))
    }
}

fn open_sqlite(
    path: &Path,
    query: &str,
    default_locale: Locale,
) -> Result<Directory, DirectoryError> {
    let shown = path.display().to_string();
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| DirectoryError::Unreadable {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    let qerr = |detail: String| DirectoryError::Query {
        path: shown.clone(),
        detail,
    };
    {
        let stmt = conn
            .prepare(query)
            .map_err(|e| qerr(format!("{e}; the query is `{query}`")))?;
        if stmt.parameter_count() != 1 {
            return Err(qerr(format!(
                "takes {} parameters; it needs exactly one `?`, the subject id",
                stmt.parameter_count()
            )));
        }
        if !stmt
            .column_names()
            .iter()
            .any(|c| c.eq_ignore_ascii_case("email"))
        {
            return Err(qerr(format!(
                "returns no column named `email` (it returns: {}); name it with AS email",
                stmt.column_names().join(", ")
            )));
        }
    }
    Ok(Directory::Sqlite {
        path: shown,
        conn,
        query: query.to_string(),
        default_locale,
        bad: Vec::new(),
    })
}

fn lookup(
    path: &str,
    conn: &rusqlite::Connection,
    query: &str,
    default_locale: Locale,
    id: &str,
    bad: &mut Vec<BadRow>,
) -> Result<Option<(SubjectContact, bool)>, DirectoryError> {
    let qerr = |e: rusqlite::Error| DirectoryError::Query {
        path: path.to_string(),
        detail: e.to_string(),
    };
    let mut stmt = conn.prepare_cached(query).map_err(qerr)?;
    let names: Vec<String> = stmt
        .column_names()
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let col = |n: &str| names.iter().position(|c| c == n);
    let (email, locale, name) = (col("email"), col("locale"), col("name"));
    let mut rows = stmt.query([id]).map_err(qerr)?;
    let Some(row) = rows.next().map_err(qerr)? else {
        return Ok(None);
    };
    let text = |c: Option<usize>| -> Option<String> {
        c.and_then(|c| row.get::<_, Option<String>>(c).ok().flatten())
    };
    let email = text(email).unwrap_or_default();
    match contact(
        id,
        &email,
        text(locale).as_deref(),
        text(name).as_deref(),
        default_locale,
    ) {
        Ok(c) => Ok(Some(c)),
        Err((field, reason)) => {
            bad.push(BadRow {
                line: 0,
                field,
                reason: format!("subject `{id}`: {reason}"),
            });
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(source: Source) -> SubjectsSpec {
        SubjectsSpec {
            source,
            default_locale: Locale::En,
            channel: "mail".into(),
            rate: 10.0,
        }
    }

    fn csv(text: &str) -> (Rows, Vec<BadRow>) {
        read_csv("subjects.csv", text, Locale::En).unwrap()
    }

    #[test]
    fn csv_records_follow_rfc_4180() {
        let table: &[(&str, &[&str])] = &[
            ("a,b,c\n", &["a", "b", "c"]),
            ("a,\"b,c\",d\r\n", &["a", "b,c", "d"]),
            ("\"say \"\"hi\"\"\",x\n", &["say \"hi\"", "x"]),
            ("\"two\nlines\",x", &["two\nlines", "x"]),
            (",,\n", &["", "", ""]),
        ];
        for (text, want) in table {
            let (line, got) = Records::new(text).next().unwrap();
            assert_eq!(line, 1);
            assert_eq!(got.unwrap(), *want, "{text:?}");
        }
        let lines: Vec<u64> = Records::new("h\n\"a\nb\"\nc\n").map(|(l, _)| l).collect();
        assert_eq!(
            lines,
            [1, 2, 4],
            "a record starts on the line after a multi-line field"
        );
    }

    #[test]
    fn bad_rows_are_counted_and_named_by_line_and_field() {
        let (rows, bad) = csv(concat!(
            "id,email,locale,name\n",
            "c1,ann@example.org,en,Ann\n",
            "c2,not-an-address,en,Bob\n",
            ",x@example.org,en,\n",
            "c3,li@example.cn,zh-CN,李\n",
            "c4,d@example.org,fr,Dee\n",
            "c5,e@example.org\n",
            "c1,again@example.org,en,\n",
            "c6,,en,\n",
            "c7,g\"h@example.org,en,\n",
            "c8,h@example.org,,\n",
            "\n",
        ));
        let got: Vec<(u64, &str)> = bad.iter().map(|b| (b.line, b.field)).collect();
        assert_eq!(
            got,
            [
                (3, "email"),
                (4, "id"),
                (6, "locale"),
                (7, "row"),
                (8, "id"),
                (9, "email"),
                (10, "row")
            ]
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(rows["c1"].0.email, "ann@example.org");
        assert_eq!(rows["c3"].0.locale, Locale::ZhCn);
        assert_eq!(rows["c3"].0.name.as_deref(), Some("李"));
        assert_eq!(
            rows["c8"],
            (
                SubjectContact {
                    id: "c8".into(),
                    email: "h@example.org".into(),
                    locale: Locale::En,
                    name: None
                },
                true
            )
        );
        assert_eq!(bad[0].to_string(), "line 3: email: not an e-mail address");
    }

    #[test]
    fn a_header_without_id_or_email_is_refused_naming_the_column() {
        for (text, column) in [("email,locale\n", "id"), ("id,mail\n", "email"), ("", "id")] {
            match read_csv("s.csv", text, Locale::En) {
                Err(DirectoryError::MissingColumn { column: c, .. }) => assert_eq!(c, column),
                other => panic!("{text:?}: {other:?}", other = other.map(|_| ())),
            }
        }
        let (rows, bad) = csv("Email,ID\nx@example.org,7\n");
        assert!(bad.is_empty());
        assert_eq!(
            rows["7"].0.email, "x@example.org",
            "columns by name, any order and case"
        );
    }

    #[test]
    fn resolving_lists_unknown_ids_and_asks_each_id_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(
            &path,
            "id,email,locale\na,a@example.org,\nb,b@example.org,zh-CN\n",
        )
        .unwrap();
        let mut d = Directory::open(&spec(Source::Csv { path })).unwrap();
        let ids: Vec<String> = ["b", "x", "a", "b"].iter().map(|s| s.to_string()).collect();
        let r = d.resolve(&ids).unwrap();
        let found: Vec<(&str, Locale)> =
            r.found.iter().map(|c| (c.id.as_str(), c.locale)).collect();
        assert_eq!(found, [("b", Locale::ZhCn), ("a", Locale::En)]);
        assert_eq!(r.unknown, ["x"]);
        assert_eq!(r.default_locale, 1);
    }

    #[test]
    fn sqlite_looks_each_id_up_with_the_query() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crm.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE customers (id TEXT, mail TEXT, lang TEXT, full_name TEXT);
             INSERT INTO customers VALUES ('1', 'one@example.org', 'zh-CN', '王'), ('2', 'two@example.org', NULL, NULL), ('3', 'broken', 'en', NULL);",
        )
        .unwrap();
        drop(conn);
        let q =
            "SELECT mail AS email, lang AS locale, full_name AS name FROM customers WHERE id = ?";
        let mut d = Directory::open(&spec(Source::Sqlite {
            path: path.clone(),
            query: q.into(),
        }))
        .unwrap();
        let ids: Vec<String> = ["1", "2", "3", "4"].iter().map(|s| s.to_string()).collect();
        let r = d.resolve(&ids).unwrap();
        assert_eq!(
            r.found,
            [
                SubjectContact {
                    id: "1".into(),
                    email: "one@example.org".into(),
                    locale: Locale::ZhCn,
                    name: Some("王".into())
                },
                SubjectContact {
                    id: "2".into(),
                    email: "two@example.org".into(),
                    locale: Locale::En,
                    name: None
                },
            ]
        );
        assert_eq!(r.unknown, ["3", "4"]);
        assert_eq!(d.bad_rows().len(), 1, "the unusable row is counted");
        assert!(d.bad_rows()[0].reason.contains("subject `3`"));

        for (query, says) in [
            (
                "SELECT mail AS email FROM customers",
                "needs exactly one `?`",
            ),
            (
                "SELECT mail FROM customers WHERE id = ?",
                "no column named `email`",
            ),
            ("SELECT email FROM nowhere WHERE id = ?", "no such table"),
        ] {
            let e = Directory::open(&spec(Source::Sqlite {
                path: path.clone(),
                query: query.into(),
            }))
            .err()
            .unwrap()
            .to_string();
            assert!(e.contains(says), "{query}: {e}");
        }
    }

    #[test]
    fn the_config_is_checked_field_by_field() {
        let build_one = |toml_text: &str| {
            let c: SubjectsConfig = toml::from_str(toml_text).unwrap();
            let mut errors = Vec::new();
            let spec = build(
                &c,
                Locale::ZhCn,
                &[("mail", "smtp"), ("hook", "webhook")],
                &|p| PathBuf::from("/etc/breachd").join(p),
                &mut errors,
            );
            (spec, errors.into_iter().map(|(_, m)| m).collect::<Vec<_>>())
        };
        let (spec, errors) = build_one("kind = \"csv\"\npath = \"s.csv\"\nchannel = \"mail\"\n");
        assert!(errors.is_empty(), "{errors:?}");
        let spec = spec.unwrap();
        assert_eq!(
            spec.source,
            Source::Csv {
                path: "/etc/breachd/s.csv".into()
            }
        );
        assert_eq!((spec.default_locale, spec.rate), (Locale::ZhCn, 10.0));

        let table = [
            (
                "kind = \"ldap\"\npath = \"x\"\nchannel = \"mail\"\n",
                "unknown directory kind `ldap`",
            ),
            (
                "kind = \"postgres\"\npath = \"x\"\nchannel = \"mail\"\n",
                "not supported yet",
            ),
            (
                "kind = \"sqlite\"\npath = \"x\"\nchannel = \"mail\"\n",
                "needs `query`",
            ),
            (
                "kind = \"sqlite\"\npath = \"x\"\nchannel = \"mail\"\nquery = \"SELECT 1\"\n",
                "exactly one `?`",
            ),
            (
                "kind = \"csv\"\npath = \"x\"\nchannel = \"hook\"\n",
                "cannot address each subject",
            ),
            (
                "kind = \"csv\"\npath = \"x\"\nchannel = \"nope\"\n",
                "no [[notify.channel]] named `nope`",
            ),
            (
                "kind = \"csv\"\npath = \"x\"\nchannel = \"mail\"\nrate = 0.0\n",
                "`rate` is notices per second",
            ),
            (
                "kind = \"csv\"\npath = \"x\"\nchannel = \"mail\"\nlocale = \"fr\"\n",
                "unknown locale `fr`",
            ),
        ];
        for (text, says) in table {
            let (spec, errors) = build_one(text);
            assert!(spec.is_none(), "{text}");
            assert!(
                errors.iter().any(|e| e.contains(says)),
                "{text}: {errors:?}"
            );
        }
    }
}
