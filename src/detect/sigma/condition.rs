//! The `condition` expression: `and`, `or`, `not`, parentheses, and
//! `1 of`/`all of`/`N of` over selection names (with `*` patterns) or `them`.
//! Aggregations (`| count() ...`) and `near` are not supported.

/// A parsed condition, with selection names still unresolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ast {
    Name(String),
    /// `N of pattern` (`all of` is `None`); `them` is the pattern `*`.
    Of(Option<usize>, String),
    Not(Box<Ast>),
    And(Vec<Ast>),
    Or(Vec<Ast>),
}

/// Why a condition cannot be used: the construct and a message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CondError {
    pub construct: String,
    pub message: String,
}

fn err(construct: &str, message: impl Into<String>) -> CondError {
    CondError {
        construct: construct.to_string(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Of,
    Word(String),
}

fn lex(s: &str) -> Result<Vec<Token>, CondError> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '|' => {
                return Err(err(
                    "condition aggregation",
                    format!(
                        "`{}` (aggregations such as count() need a correlation engine)",
                        s[i..].trim()
                    ),
                ))
            }
            _ => {
                let mut end = i;
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '|') {
                        break;
                    }
                    end = j + c.len_utf8();
                    chars.next();
                }
                let word = &s[i..end];
                out.push(match word.to_ascii_lowercase().as_str() {
                    "and" => Token::And,
                    "or" => Token::Or,
                    "not" => Token::Not,
                    "of" => Token::Of,
                    "near" => return Err(err("condition near", "`near` is not supported")),
                    _ => Token::Word(word.to_string()),
                });
            }
        }
    }
    Ok(out)
}

/// Parses one condition string.
pub(crate) fn parse(s: &str) -> Result<Ast, CondError> {
    let toks = lex(s)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let ast = p.or()?;
    if p.pos != p.toks.len() {
        return Err(err(
            "condition syntax",
            format!("unexpected {:?} in `{s}`", p.toks[p.pos]),
        ));
    }
    Ok(ast)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    /// Nesting of parentheses and `not`, bounded so no rule can exhaust the stack.
    depth: usize,
}

const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Result<Ast, CondError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Ast::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Ast, CondError> {
        let mut parts = vec![self.not()?];
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Ast::And(parts)
        })
    }

    fn not(&mut self) -> Result<Ast, CondError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                "condition syntax",
                format!("nested deeper than {MAX_DEPTH}"),
            ));
        }
        let ast = if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            self.not().map(|a| Ast::Not(Box::new(a)))
        } else {
            self.atom()
        };
        self.depth -= 1;
        ast
    }

    fn atom(&mut self) -> Result<Ast, CondError> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        match tok {
            Some(Token::Open) => {
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(err("condition syntax", "missing `)`"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Token::Word(w)) => {
                if self.peek() != Some(&Token::Of) {
                    return Ok(Ast::Name(w));
                }
                self.pos += 1;
                let quant = match w.to_ascii_lowercase().as_str() {
                    "all" => None,
                    "any" => Some(1),
                    n => match n.parse::<usize>() {
                        Ok(n) if n > 0 => Some(n),
                        _ => {
                            return Err(err(
                                "condition syntax",
                                format!("`{w} of` needs a count, `any` or `all`"),
                            ))
                        }
                    },
                };
                match self.toks.get(self.pos).cloned() {
                    Some(Token::Word(pat)) => {
                        self.pos += 1;
                        let pat = if pat.eq_ignore_ascii_case("them") {
                            "*".to_string()
                        } else {
                            pat
                        };
                        Ok(Ast::Of(quant, pat))
                    }
                    _ => Err(err(
                        "condition syntax",
                        format!("`{w} of` needs a selection pattern or `them`"),
                    )),
                }
            }
            other => Err(err(
                "condition syntax",
                format!("expected a selection name, found {other:?}"),
            )),
        }
    }
}

/// Whether a selection name matches an `of` pattern (only `*` is special).
pub(crate) fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.len() >= head.len()
                && name.starts_with(head)
                && name_matches_rest(tail, &name[head.len()..])
        }
    }
}

fn name_matches_rest(pattern: &str, name: &str) -> bool {
    // `pattern` follows a star: try every split point.
    (0..=name.len())
        .filter(|&i| name.is_char_boundary(i))
        .any(|i| name_matches(pattern, &name[i..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Ast {
        Ast::Name(s.to_string())
    }

    #[test]
    fn conditions_parse_with_precedence() {
        assert_eq!(parse("selection").unwrap(), name("selection"));
        assert_eq!(
            parse("a or b and not c").unwrap(),
            Ast::Or(vec![
                name("a"),
                Ast::And(vec![name("b"), Ast::Not(Box::new(name("c")))])
            ])
        );
        assert_eq!(
            parse("selection_main and (selection_exploit_1 or all of selection_exploit_2_*)")
                .unwrap(),
            Ast::And(vec![
                name("selection_main"),
                Ast::Or(vec![
                    name("selection_exploit_1"),
                    Ast::Of(None, "selection_exploit_2_*".into())
                ])
            ])
        );
        assert_eq!(parse("1 of them").unwrap(), Ast::Of(Some(1), "*".into()));
        assert_eq!(
            parse("selection AND NOT 1 of filter_*").unwrap(),
            Ast::And(vec![
                name("selection"),
                Ast::Not(Box::new(Ast::Of(Some(1), "filter_*".into())))
            ])
        );
    }

    #[test]
    fn unsupported_conditions_name_the_construct() {
        assert_eq!(
            parse("selection | count() > 5").unwrap_err().construct,
            "condition aggregation"
        );
        assert_eq!(parse("a near b").unwrap_err().construct, "condition near");
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        let nots = format!("{}a", "not ".repeat(100_000));
        for bad in [
            "", "(a", "a and", "a b", "x of y", "1 of", ")", &deep, &nots,
        ] {
            assert_eq!(
                parse(bad).unwrap_err().construct,
                "condition syntax",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn of_patterns_match_names() {
        assert!(name_matches("selection*", "selection"));
        assert!(name_matches("selection_*", "selection_1"));
        assert!(!name_matches("selection_*", "selection"));
        assert!(name_matches("*", "x"));
        assert!(name_matches("a*b*c", "aXXbYc"));
        assert!(!name_matches("a*b*c", "aXXbY"));
    }
}
