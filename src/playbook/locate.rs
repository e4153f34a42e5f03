//! Finds the line of a field in block-style YAML, so an error found after
//! parsing (an unknown action, a bad cron) can still name its line.

/// One step of a field path: a mapping key or a sequence index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `steps[2].action` for a path.
pub fn field_name(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Splits a serde_yaml_ng error message into the field it names and the
/// message proper (without the trailing position): the path it prefixes,
/// extended by the name of an unknown field, else the key written on `line`.
pub fn serde_error(message: &str, text: &str, line: usize) -> (String, String) {
    let (mut field, rest) = match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') && path != "." => {
            (path.to_string(), rest.to_string())
        }
        _ => (String::new(), message.to_string()),
    };
    let rest = match rest.rfind(" at line ") {
        Some(at) => rest[..at].to_string(),
        None => rest,
    };
    if let Some(name) = rest
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        field = if field.is_empty() {
            name.to_string()
        } else {
            format!("{field}.{name}")
        };
    } else if field.is_empty() {
        field = text
            .lines()
            .nth(line.saturating_sub(1))
            .and_then(|l| l.trim().trim_start_matches("- ").split_once(':'))
            .map(|(k, _)| k.trim().trim_matches('"').to_string())
            .filter(|k| !k.contains(['{', ' ']))
            .unwrap_or_default();
    }
    (field, rest)
}

struct Line<'t> {
    number: usize,
    /// Column of the first character after any `- ` markers.
    indent: usize,
    /// Column of the leading `- `, if the line opens a sequence item.
    dash: Option<usize>,
    /// The text after indentation and `- ` markers.
    text: &'t str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let lead = raw.len() - trimmed.len();
        let mut indent = lead;
        let mut rest = trimmed;
        let mut dash = None;
        while let Some(r) = rest
            .strip_prefix("- ")
            .or_else(|| (rest == "-").then_some(""))
        {
            dash.get_or_insert(indent);
            let r2 = r.trim_start();
            indent += rest.len() - r2.len();
            rest = r2;
        }
        out.push(Line {
            number: i + 1,
            indent,
            dash,
            text: rest,
        });
    }
    out
}

fn key_of(text: &str) -> Option<&str> {
    let (k, rest) = text.split_once(':')?;
    (rest.is_empty() || rest.starts_with(' '))
        .then(|| k.trim().trim_matches('"').trim_matches('\''))
}

/// The 1-based line where `path` is written, or the line of its deepest
/// ancestor found (0 when not even the first key is).
pub fn locate(text: &str, path: &[Seg]) -> usize {
    let all = lines(text);
    let (mut lo, mut hi) = (0, all.len());
    let mut found = 0;
    for seg in path {
        if lo >= hi {
            break;
        }
        match *seg {
            Seg::Key(k) => {
                let Some(min) = all[lo..hi].iter().map(|l| l.indent).min() else {
                    break;
                };
                let Some(at) =
                    (lo..hi).find(|&i| all[i].indent == min && key_of(all[i].text) == Some(k))
                else {
                    break;
                };
                found = all[at].number;
                let own = all[at].indent;
                // children are indented deeper, or are `- ` items at the key's column
                let end = (at + 1..hi)
                    .find(|&i| all[i].indent <= own && all[i].dash != Some(own))
                    .unwrap_or(hi);
                lo = at + 1;
                hi = end;
            }
            Seg::Index(n) => {
                let Some(col) = all[lo..hi].iter().filter_map(|l| l.dash).min() else {
                    // a flow sequence (`[a, b]`) sits on its key's line
                    break;
                };
                let items: Vec<usize> = (lo..hi).filter(|&i| all[i].dash == Some(col)).collect();
                let Some(&at) = items.get(n) else { break };
                found = all[at].number;
                let end = items.get(n + 1).copied().unwrap_or(hi);
                lo = at;
                hi = end;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
regime: GDPR
# a comment
calendar:
  zone: Europe/Brussels
steps:
  - id: page
    action: notify
    channel: oncall
  - id: remind
    every: \"0 0 * * * *\"
    action: escalat
obligations:
- recipient: supervisory_authority
  deadline:
    from: aware_at
    within: 72 hours
- recipient: data_subjects
  exempt: [encryption]
";

    #[test]
    fn finds_nested_keys_and_items() {
        use Seg::*;
        let table: &[(&[Seg], usize)] = &[
            (&[Key("regime")], 1),
            (&[Key("calendar"), Key("zone")], 4),
            (&[Key("steps"), Index(0)], 6),
            (&[Key("steps"), Index(0), Key("id")], 6),
            (&[Key("steps"), Index(1), Key("action")], 11),
            (&[Key("steps"), Index(1), Key("every")], 10),
            (
                &[Key("obligations"), Index(0), Key("deadline"), Key("within")],
                16,
            ),
            (&[Key("obligations"), Index(1), Key("exempt"), Index(0)], 18),
            // not there: the deepest ancestor
            (&[Key("steps"), Index(1), Key("template")], 9),
            (&[Key("nothing")], 0),
        ];
        for (path, line) in table {
            assert_eq!(locate(DOC, path), *line, "{}", field_name(path));
        }
    }

    #[test]
    fn serde_errors_name_their_field() {
        let cases = [
            (
                "enisa: unknown field `foo`, expected one of `dpc` at line 5 column 17",
                "enisa.foo",
                "unknown field `foo`, expected one of `dpc`",
            ),
            (
                "unknown field `malicous`, expected one of `breach` at line 2 column 33",
                "malicous",
                "unknown field `malicous`, expected one of `breach`",
            ),
            (
                "steps[1].at: missing field `from` at line 9 column 9",
                "steps[1].at",
                "missing field `from`",
            ),
        ];
        for (message, field, rest) in cases {
            assert_eq!(
                serde_error(message, "", 0),
                (field.to_string(), rest.to_string())
            );
        }
        assert_eq!(
            serde_error(
                "invalid type: string \"x\" at line 2 column 11",
                "a: 1\nsubjects: x\n",
                2
            )
            .0,
            "subjects"
        );
    }

    #[test]
    fn names_fields() {
        use Seg::*;
        assert_eq!(
            field_name(&[Key("steps"), Index(2), Key("action")]),
            "steps[2].action"
        );
    }
}
