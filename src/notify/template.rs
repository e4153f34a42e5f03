//! `Templates`: the notice templates of every locale, compiled once, rendered
//! in handlebars strict mode against a [`View`].
//!
//! Layout: `templates/LOCALE/NAME.hbs` (`en`, `zh-CN`; `NAME.LOCALE.hbs` and
//! `NAME.hbs`, English, are read too); files whose name
//! starts with `_` are partials (`{{> _subjects}}`) that other templates
//! share. A rendered template's first line is the subject, the rest is the
//! body, written as plain text with `#`/`##` headings. Values are inserted
//! verbatim (the output is text, not markup); every HTML form is made from
//! the rendered text by [`to_html`], which escapes all of it, so nothing an
//! incident field holds can become markup or template syntax.

use std::collections::BTreeMap;
use std::path::Path;

use handlebars::Handlebars;

use super::notice::{Locale, Notice, View};

macro_rules! shipped {
    ($($name:literal),* $(,)?) => {
        &[$(
            ("en", $name, include_str!(concat!("../../templates/en/", $name, ".hbs"))),
            ("zh-CN", $name, include_str!(concat!("../../templates/zh-CN/", $name, ".hbs"))),
        )*]
    };
}

/// The templates in `templates/`, compiled into the binary: (locale, name, text).
pub const SHIPPED: &[(&str, &str, &str)] = shipped![
    "_authority",
    "_credit_agencies",
    "_sec",
    "_subjects",
    "oncall_alert",
    "oncall_alert_pagerduty",
    "oncall_alert_slack",
    "appi_supervisory_authority",
    "ca_data_subjects",
    "cn_incident_supervisory_authority",
    "dora_supervisory_authority",
    "dpdp_data_subjects",
    "dpdp_supervisory_authority",
    "eprivacy_supervisory_authority",
    "gdpr_data_subjects",
    "gdpr_supervisory_authority",
    "hipaa_data_subjects",
    "lgpd_data_subjects",
    "lgpd_supervisory_authority",
    "ndb_supervisory_authority",
    "nis2_supervisory_authority",
    "nydfs_supervisory_authority",
    "pdpa_supervisory_authority",
    "pipa_data_subjects",
    "pipa_supervisory_authority",
    "pipeda_supervisory_authority",
    "pipl_data_subjects",
    "pipl_supervisory_authority",
    "sec_public",
    "uk_gdpr_data_subjects",
    "uk_gdpr_supervisory_authority",
];

/// The on-call alert: plain text (mail, webhook, file), Slack mrkdwn and the
/// one-line PagerDuty summary.
pub const ALERT: &str = "oncall_alert";
pub const ALERT_SLACK: &str = "oncall_alert_slack";
pub const ALERT_PAGERDUTY: &str = "oncall_alert_pagerduty";

/// One template file: locale folder, name, path for messages, and its text
/// or why it could not be read.
pub type TemplateFile = (String, String, String, Result<String, String>);

/// A problem with a template file; `path` is where to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TemplateError {
    pub path: String,
    pub message: String,
}

/// Rendering failed: the template is missing or uses a field the notice lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("no template `{name}` for locale {locale}")]
    Missing { name: String, locale: &'static str },
    #[error("{path}: {message}")]
    Failed { path: String, message: String },
}

/// One template rendered: the first line, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

impl Rendered {
    fn split(text: &str) -> Rendered {
        let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
        Rendered {
            subject: first.trim().to_string(),
            body: rest.trim_start_matches(['\n', '\r']).trim_end().to_string() + "\n",
        }
    }
}

struct Set {
    locale: Locale,
    registry: Handlebars<'static>,
    /// Template name → the file it came from (for messages).
    paths: BTreeMap<String, String>,
}

/// Every locale's templates, compiled.
pub struct Templates {
    sets: Vec<Set>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_map();
        for s in &self.sets {
            d.entry(&s.locale.tag(), &s.paths.keys().collect::<Vec<_>>());
        }
        d.finish()
    }
}

impl Templates {
    /// The templates compiled into breachd.
    pub fn shipped() -> Result<Templates, Vec<TemplateError>> {
        Templates::compile(SHIPPED.iter().map(|(l, n, t)| {
            (
                (*l).to_string(),
                (*n).to_string(),
                format!("<shipped>/templates/{l}/{n}.hbs"),
                Ok((*t).to_string()),
            )
        }))
    }

    /// Loads `dir/LOCALE/*.hbs`. Every problem is listed, not just the first.
    pub fn load_dir(dir: &Path) -> Result<Templates, Vec<TemplateError>> {
        let err = |p: &Path, m: String| TemplateError {
            path: p.display().to_string(),
            message: m,
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| vec![err(dir, format!("cannot read the templates folder: {e}"))])?;
        let mut files = Vec::new();
        let mut errors = Vec::new();
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let Some(name) = p.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if !p.is_dir() {
                // `NAME.LOCALE.hbs` or `NAME.hbs` (English) beside the folders
                let Some(stem) = name.strip_suffix(".hbs") else {
                    continue;
                };
                let (locale, stem) = match stem.rsplit_once('.') {
                    Some((n, l)) if Locale::parse(l).is_some() => (l, n),
                    _ => ("en", stem),
                };
                let text = std::fs::read_to_string(&p).map_err(|e| format!("cannot read: {e}"));
                files.push((
                    locale.to_string(),
                    stem.to_string(),
                    p.display().to_string(),
                    text,
                ));
                continue;
            }
            let mut inner: Vec<_> = match std::fs::read_dir(&p) {
                Ok(r) => r.flatten().map(|e| e.path()).collect(),
                Err(e) => {
                    errors.push(err(&p, format!("cannot read: {e}")));
                    continue;
                }
            };
            inner.sort();
            for f in inner {
                let Some(stem) = f
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".hbs"))
                else {
                    continue;
                };
                let text = std::fs::read_to_string(&f).map_err(|e| format!("cannot read: {e}"));
                files.push((
                    name.to_string(),
                    stem.to_string(),
                    f.display().to_string(),
                    text,
                ));
            }
        }
        match Templates::compile(files.into_iter()) {
            Ok(t) if errors.is_empty() => Ok(t),
            Ok(_) => Err(errors),
            Err(mut more) => {
                errors.append(&mut more);
                Err(errors)
            }
        }
    }

    /// Compiles (locale folder, name, path for messages, text or read error).
    pub fn from_files(files: Vec<TemplateFile>) -> Result<Templates, Vec<TemplateError>> {
        Templates::compile(files.into_iter())
    }

    fn compile(files: impl Iterator<Item = TemplateFile>) -> Result<Templates, Vec<TemplateError>> {
        let mut sets: Vec<Set> = Vec::new();
        let mut errors = Vec::new();
        for (locale_tag, name, path, text) in files {
            let Some(locale) = Locale::parse(&locale_tag) else {
                errors.push(TemplateError {
                    path,
                    message: format!("unknown locale folder `{locale_tag}`; use en or zh-CN"),
                });
                continue;
            };
            let text = match text {
                Ok(t) => t,
                Err(message) => {
                    errors.push(TemplateError { path, message });
                    continue;
                }
            };
            let set = match sets.iter().position(|s| s.locale == locale) {
                Some(i) => &mut sets[i],
                None => {
                    let mut registry = Handlebars::new();
                    registry.set_strict_mode(true);
                    registry.register_escape_fn(handlebars::no_escape);
                    sets.push(Set {
                        locale,
                        registry,
                        paths: BTreeMap::new(),
                    });
                    sets.last_mut().expect("just pushed")
                }
            };
            if let Err(e) = set.registry.register_template_string(&name, text) {
                errors.push(TemplateError {
                    path,
                    message: format!("not a valid handlebars template: {e}"),
                });
                continue;
            }
            set.paths.insert(name, path);
        }
        sets.sort_by_key(|s| s.locale);
        if errors.is_empty() {
            Ok(Templates { sets })
        } else {
            Err(errors)
        }
    }

    /// The locales that have templates.
    pub fn locales(&self) -> impl Iterator<Item = Locale> + '_ {
        self.sets.iter().map(|s| s.locale)
    }

    /// The templates of a locale that can be sent (partials left out).
    pub fn names(&self, locale: Locale) -> Vec<&str> {
        self.set(locale)
            .map(|s| {
                s.paths
                    .keys()
                    .map(String::as_str)
                    .filter(|n| !n.starts_with('_'))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The file a template came from.
    pub fn path(&self, locale: Locale, name: &str) -> Option<&str> {
        self.set(locale)?.paths.get(name).map(String::as_str)
    }

    fn set(&self, locale: Locale) -> Option<&Set> {
        self.sets.iter().find(|s| s.locale == locale)
    }

    /// Renders `name` in the notice's locale.
    pub fn render(&self, name: &str, notice: &Notice) -> Result<Rendered, RenderError> {
        self.render_view(name, notice.locale, &View::of(notice))
    }

    /// Renders `name` against an already formatted view.
    pub fn render_view(
        &self,
        name: &str,
        locale: Locale,
        view: &View,
    ) -> Result<Rendered, RenderError> {
        let missing = || RenderError::Missing {
            name: name.to_string(),
            locale: locale.tag(),
        };
        let set = self.set(locale).ok_or_else(missing)?;
        let path = set.paths.get(name).ok_or_else(missing)?;
        let text = set
            .registry
            .render(name, view)
            .map_err(|e| RenderError::Failed {
                path: path.clone(),
                message: render_message(&e),
            })?;
        Ok(Rendered::split(&text))
    }
}

/// handlebars' error without its template dump, naming the field and line.
fn render_message(e: &handlebars::RenderError) -> String {
    let mut m = match e.reason() {
        handlebars::RenderErrorReason::MissingVariable(Some(v)) => format!(
            "`{v}` is not a field of the notice (strict mode); use one of the fields listed in templates/README.md"
        ),
        r => r.to_string(),
    };
    if let Some(t) = &e.template_name {
        m.push_str(&format!(" (in `{t}`"));
        if let Some(l) = e.line_no {
            m.push_str(&format!(", line {l}"));
        }
        m.push(')');
    }
    m
}

/// The HTML form of a rendered notice: every character of the text is
/// escaped, then `# ` and `## ` lines become headings, `- ` lines list items,
/// other lines paragraphs. Headings are set large and the text at 11pt
/// (California asks for conspicuous headings and no text below 10-point).
pub fn to_html(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() * 2 + 256);
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    out.push_str(&escape_html(title));
    out.push_str("</title></head>\n<body style=\"font-family: sans-serif; font-size: 11pt\">\n");
    let mut in_list = false;
    for line in body.lines() {
        let is_item = line.trim_start().starts_with("- ");
        if in_list && !is_item {
            out.push_str("</ul>\n");
            in_list = false;
        }
        if let Some(h) = line.strip_prefix("# ") {
            out.push_str(&format!(
                "<h1 style=\"font-size: 18pt\">{}</h1>\n",
                escape_html(h)
            ));
        } else if let Some(h) = line.strip_prefix("## ") {
            out.push_str(&format!(
                "<h2 style=\"font-size: 14pt\">{}</h2>\n",
                escape_html(h)
            ));
        } else if is_item {
            if !in_list {
                out.push_str("<ul>\n");
                in_list = true;
            }
            let item = line.trim_start().trim_start_matches("- ");
            out.push_str(&format!("<li>{}</li>\n", escape_html(item)));
        } else if !line.trim().is_empty() {
            out.push_str(&format!("<p>{}</p>\n", escape_html(line)));
        }
    }
    if in_list {
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// Escapes the five characters that matter in HTML text and attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_names_every_file_in_templates() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut on_disk = Vec::new();
        for l in std::fs::read_dir(&dir).unwrap().flatten() {
            if !l.path().is_dir() {
                continue;
            }
            for f in std::fs::read_dir(l.path()).unwrap().flatten() {
                on_disk.push(format!(
                    "{}/{}",
                    l.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                ));
            }
        }
        on_disk.sort();
        let mut listed: Vec<String> = SHIPPED
            .iter()
            .map(|(l, n, _)| format!("{l}/{n}.hbs"))
            .collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    #[test]
    fn every_shipped_template_renders_in_both_locales() {
        let t = Templates::shipped().unwrap();
        for l in Locale::ALL {
            let names = t.names(l);
            assert_eq!(names.len(), 27, "{l:?}");
            for n in names {
                let r = t.render(n, &Notice::sample(l)).unwrap();
                assert!(!r.subject.is_empty(), "{n}");
                assert!(!r.body.contains("{{"), "{n}: {}", r.body);
            }
        }
    }

    #[test]
    fn the_first_line_is_the_subject() {
        let r = Rendered::split("Subject line\n\n# Title\nText\n");
        assert_eq!(r.subject, "Subject line");
        assert_eq!(r.body, "# Title\nText\n");
    }

    #[test]
    fn html_is_escaped_and_structured() {
        let h = to_html("t<", "# A & B\n## <b>\n- x<y\n- 'z'\ntext \"q\"\n");
        assert!(h.contains("<title>t&lt;</title>"));
        assert!(h.contains("<h1 style=\"font-size: 18pt\">A &amp; B</h1>"));
        assert!(h.contains("<h2 style=\"font-size: 14pt\">&lt;b&gt;</h2>"));
        assert!(h.contains("<ul>\n<li>x&lt;y</li>\n<li>&#39;z&#39;</li>\n</ul>"));
        assert!(h.contains("<p>text &quot;q&quot;</p>"));
    }
}
