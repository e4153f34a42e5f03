//! Value patterns: Sigma strings with wildcards, matched ASCII case-insensitively
//! on bytes, plus the value transforms some modifiers need (base64, windash,
//! UTF-16) and the percent-decoding of request targets.

/// One piece of a Sigma string after its escapes are resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Lit(Vec<u8>),
    /// `*`: any run of bytes, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Splits a Sigma string into literals and wildcards. `\*`, `\?` and `\\`
/// are escapes; any other backslash is a literal backslash (Windows paths).
pub(crate) fn tokens(s: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut lit = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' if matches!(s.get(i + 1), Some(b'*' | b'?' | b'\\')) => {
                lit.push(s[i + 1]);
                i += 2;
                continue;
            }
            c @ (b'*' | b'?') => {
                if !lit.is_empty() {
                    out.push(Tok::Lit(std::mem::take(&mut lit)));
                }
                // consecutive stars are one star
                if !(c == b'*' && out.last() == Some(&Tok::Star)) {
                    out.push(if c == b'*' { Tok::Star } else { Tok::One });
                }
            }
            c => lit.push(c),
        }
        i += 1;
    }
    if !lit.is_empty() {
        out.push(Tok::Lit(lit));
    }
    out
}

/// How a text value is compared with a field.
#[derive(Debug, Clone)]
pub(crate) enum Text {
    Exact(Vec<u8>),
    Contains(Vec<u8>),
    Starts(Vec<u8>),
    Ends(Vec<u8>),
    /// Anything with a wildcard that is not a plain leading/trailing `*`.
    Glob(Vec<Tok>),
}

/// Where the value is anchored, before wildcards are taken into account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Anchor {
    Exact,
    Contains,
    Starts,
    Ends,
}

impl Text {
    /// Builds the matcher for tokens anchored as the modifiers say;
    /// `*` at the edges turns an exact value into a contains/startswith/endswith.
    pub(crate) fn new(mut toks: Vec<Tok>, anchor: Anchor) -> Text {
        let (lead, trail) = match anchor {
            Anchor::Exact => (false, false),
            Anchor::Contains => (true, true),
            Anchor::Starts => (false, true),
            Anchor::Ends => (true, false),
        };
        if lead && toks.first() != Some(&Tok::Star) {
            toks.insert(0, Tok::Star);
        }
        if trail && toks.last() != Some(&Tok::Star) {
            toks.push(Tok::Star);
        }
        let starts = toks.first() == Some(&Tok::Star);
        let ends = toks.len() > 1 && toks.last() == Some(&Tok::Star);
        let inner = &toks[usize::from(starts)..toks.len() - usize::from(ends)];
        match inner {
            [] if starts => Text::Contains(Vec::new()), // `*`: anything
            [] => Text::Exact(Vec::new()),
            [Tok::Lit(l)] => {
                let l = l.clone();
                match (starts, ends) {
                    (false, false) => Text::Exact(l),
                    (true, true) => Text::Contains(l),
                    (false, true) => Text::Starts(l),
                    (true, false) => Text::Ends(l),
                }
            }
            _ => Text::Glob(toks),
        }
    }

    /// The longest literal a match must contain, for the prefilter, and
    /// whether it must sit at the start and at the end of the field.
    pub(crate) fn needle(&self) -> (&[u8], bool, bool) {
        match self {
            Text::Exact(l) => (l, true, true),
            Text::Contains(l) => (l, false, false),
            Text::Starts(l) => (l, true, false),
            Text::Ends(l) => (l, false, true),
            Text::Glob(toks) => {
                let mut best: (&[u8], bool, bool) = (&[], false, false);
                for (i, t) in toks.iter().enumerate() {
                    if let Tok::Lit(l) = t {
                        if l.len() > best.0.len() {
                            best = (l, i == 0, i + 1 == toks.len());
                        }
                    }
                }
                best
            }
        }
    }

    pub(crate) fn is_match(&self, hay: &[u8], cased: bool) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if cased {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        match self {
            Text::Exact(l) => eq(hay, l),
            Text::Starts(l) => hay.len() >= l.len() && eq(&hay[..l.len()], l),
            Text::Ends(l) => hay.len() >= l.len() && eq(&hay[hay.len() - l.len()..], l),
            Text::Contains(l) => find(hay, l, cased).is_some(),
            Text::Glob(toks) => glob(toks, hay, cased),
        }
    }
}

/// Position of `needle` in `hay`, ASCII case-insensitively unless `cased`.
pub(crate) fn find(hay: &[u8], needle: &[u8], cased: bool) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if cased {
        return memchr::memmem::find(hay, needle);
    }
    if hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let last_start = hay.len() - needle.len();
    let mut from = 0;
    while from <= last_start {
        let i = from + memchr::memchr2(lo, up, &hay[from..=last_start])?;
        if hay[i..i + needle.len()].eq_ignore_ascii_case(needle) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// Wildcard match with backtracking to the last star (linear for one star,
/// quadratic at worst; values and fields are short).
fn glob(toks: &[Tok], hay: &[u8], cased: bool) -> bool {
    let (mut t, mut h) = (0usize, 0usize);
    let mut back: Option<(usize, usize)> = None; // (token after star, hay position)
    loop {
        if t == toks.len() && h == hay.len() {
            return true;
        }
        let step = match toks.get(t) {
            Some(Tok::Star) => {
                back = Some((t + 1, h));
                t += 1;
                continue;
            }
            Some(Tok::One) if h < hay.len() => Some(char_len(hay[h]).min(hay.len() - h)),
            Some(Tok::Lit(l)) if hay.len() - h >= l.len() => {
                let part = &hay[h..h + l.len()];
                let ok = if cased {
                    part == l.as_slice()
                } else {
                    part.eq_ignore_ascii_case(l)
                };
                ok.then_some(l.len())
            }
            _ => None,
        };
        match step {
            Some(n) => {
                t += 1;
                h += n;
            }
            None => match back {
                Some((bt, bh)) if bh < hay.len() => {
                    back = Some((bt, bh + 1));
                    t = bt;
                    h = bh + 1;
                }
                _ => return false,
            },
        }
    }
}

/// Bytes in the UTF-8 character starting with `b` (1 for stray bytes).
fn char_len(b: u8) -> usize {
    match b {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Literals one of which every match of the regex `pattern` contains, for the
/// prefilter; `None` when the pattern guarantees none this reading can see.
/// The literals are lower-case: the prefilter scans ASCII case-insensitively.
///
/// The reading is deliberately small and conservative, for SigmaHQ's simple
/// web regexes: a concatenation's longest run of plain characters that no
/// quantifier makes optional, and for an alternation (top level or an
/// unquantified group) one such run per branch. Anything it does not
/// understand (non-ASCII, `\x`/`\p` escapes, inline flags other than a
/// leading `(?i)`, `(?m)`, `(?s)`, `(?U)`) gives `None`, so the rule keeps
/// being evaluated without a literal. Under case folding `k` and `s` end a
/// run: Unicode folds them with the Kelvin sign and the long s.
pub(crate) fn regex_needles(pattern: &str, ignore_case: bool) -> Option<Vec<Vec<u8>>> {
    let mut r = ReLits {
        s: pattern.as_bytes(),
        i: 0,
        fold: ignore_case,
    };
    if let Some(rest) = pattern.strip_prefix("(?") {
        let flags = rest.split(')').next().unwrap_or_default();
        if flags.is_empty()
            || !flags
                .bytes()
                .all(|f| matches!(f, b'i' | b'm' | b's' | b'U'))
        {
            return None;
        }
        r.fold |= flags.contains('i');
        r.i = 2 + flags.len() + 1;
    }
    let lits = r.alternation().ok()??;
    (r.i == r.s.len()).then_some(lits.set)
}

/// A set of literals one of which must occur; `score` is the shortest one's
/// length (longer literals occur less often).
struct Lits {
    set: Vec<Vec<u8>>,
    score: usize,
}

/// Cursor over a regex's source; `Err` means syntax outside the subset.
struct ReLits<'a> {
    s: &'a [u8],
    i: usize,
    fold: bool,
}

impl ReLits<'_> {
    /// Branches separated by `|`, up to the end or a `)`: each branch must
    /// give literals, and their union is what the whole requires.
    fn alternation(&mut self) -> Result<Option<Lits>, ()> {
        let mut all: Option<Lits> = Some(Lits {
            set: Vec::new(),
            score: usize::MAX,
        });
        loop {
            let branch = self.concat()?;
            all = match (all, branch) {
                (Some(mut a), Some(b)) => {
                    a.set.extend(b.set);
                    a.score = a.score.min(b.score);
                    Some(a)
                }
                _ => None,
            };
            if self.s.get(self.i) == Some(&b'|') {
                self.i += 1;
                continue;
            }
            return Ok(all);
        }
    }

    /// Items up to `|`, `)` or the end; the best literal set among its runs
    /// and unquantified groups.
    fn concat(&mut self) -> Result<Option<Lits>, ()> {
        let mut best: Option<Lits> = None;
        let mut run: Vec<u8> = Vec::new();
        let offer = |best: &mut Option<Lits>, l: Lits| {
            if best.as_ref().is_none_or(|b| l.score > b.score) {
                *best = Some(l);
            }
        };
        let flush = |run: &mut Vec<u8>| {
            (!run.is_empty()).then(|| {
                let r = std::mem::take(run);
                Lits {
                    score: r.len(),
                    set: vec![r],
                }
            })
        };
        while let Some(&c) = self.s.get(self.i) {
            let lit = match c {
                b'|' | b')' => break,
                b'(' => {
                    if let Some(l) = flush(&mut run) {
                        offer(&mut best, l);
                    }
                    if self.s.get(self.i + 1) == Some(&b'?') {
                        return Err(());
                    }
                    self.i += 1;
                    let group = self.alternation()?;
                    if self.s.get(self.i) != Some(&b')') {
                        return Err(());
                    }
                    self.i += 1;
                    if let (false, Some(g)) = (self.quantifier()?, group) {
                        offer(&mut best, g);
                    }
                    continue;
                }
                b'[' => {
                    self.class()?;
                    None
                }
                b'.' | b'^' | b'$' => {
                    self.i += 1;
                    None
                }
                b'*' | b'+' | b'?' | b'{' | b'}' | b']' => return Err(()),
                b'\\' => {
                    let e = *self.s.get(self.i + 1).ok_or(())?;
                    self.i += 2;
                    match e {
                        // word-boundary assertions, not characters
                        b'<' | b'>' => None,
                        b'b' | b'B' if self.s.get(self.i) == Some(&b'{') => return Err(()),
                        e if e.is_ascii_punctuation() => Some(e),
                        b'd' | b'D' | b's' | b'S' | b'w' | b'W' | b'b' | b'B' | b'A' | b'z'
                        | b'n' | b't' | b'r' | b'f' | b'v' | b'a' => None,
                        _ => return Err(()),
                    }
                }
                c if c.is_ascii_graphic() || c == b' ' => {
                    self.i += 1;
                    Some(c)
                }
                _ => return Err(()),
            };
            // a quantified item may be absent or repeated: it ends the run
            let quantified = self.quantifier()?;
            let folds_wide = |c: u8| self.fold && matches!(c, b'k' | b'K' | b's' | b'S');
            match lit {
                Some(c) if !quantified && !folds_wide(c) => run.push(c.to_ascii_lowercase()),
                _ => {
                    if let Some(l) = flush(&mut run) {
                        offer(&mut best, l);
                    }
                }
            }
        }
        if let Some(l) = flush(&mut run) {
            offer(&mut best, l);
        }
        Ok(best)
    }

    /// Skips a quantifier (`*`, `+`, `?`, `{n,m}`, each maybe lazy) if one
    /// follows; says whether there was one.
    fn quantifier(&mut self) -> Result<bool, ()> {
        match self.s.get(self.i) {
            Some(b'*' | b'+' | b'?') => self.i += 1,
            Some(b'{') => {
                let close = memchr::memchr(b'}', &self.s[self.i..]).ok_or(())?;
                self.i += close + 1;
            }
            _ => return Ok(false),
        }
        if self.s.get(self.i) == Some(&b'?') {
            self.i += 1;
        }
        Ok(true)
    }

    /// Skips a bracketed class, nested classes and escapes included (a `]`
    /// right after `[` or `[^` is a literal).
    fn class(&mut self) -> Result<(), ()> {
        let mut depth = 0usize;
        loop {
            match *self.s.get(self.i).ok_or(())? {
                b'[' => {
                    depth += 1;
                    self.i += 1;
                    if self.s.get(self.i) == Some(&b'^') {
                        self.i += 1;
                    }
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                    }
                }
                b']' => {
                    depth -= 1;
                    self.i += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// The three encodings of `value` as it may appear inside a longer base64
/// text, whatever its offset (Sigma's `base64offset`, as pySigma computes it).
pub(crate) fn base64_offsets(value: &[u8]) -> Vec<Vec<u8>> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(value);
            let enc = base64(&padded);
            let end = enc.len().saturating_sub(END_TRIM[(value.len() + i) % 3]);
            enc.get(START[i]..end).unwrap_or_default().to_vec()
        })
        .collect()
}

/// `windash`: every `-` or `/` that starts a word, replaced in turn by each
/// dash a Windows command line accepts.
pub(crate) fn windash(value: &[u8]) -> Vec<Vec<u8>> {
    const DASHES: [&str; 5] = ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"];
    DASHES
        .iter()
        .map(|d| {
            let mut out = Vec::with_capacity(value.len() + 4);
            for (i, &c) in value.iter().enumerate() {
                let word_start = i == 0 || value[i - 1].is_ascii_whitespace();
                if word_start && (c == b'-' || c == b'/') {
                    out.extend_from_slice(d.as_bytes());
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect()
}

/// UTF-16 encoding of a UTF-8 value (`wide`/`utf16le`, `utf16be`; `utf16` adds the LE byte-order mark).
pub(crate) fn utf16(value: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 2 + 2);
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for u in value.encode_utf16() {
        if big_endian {
            out.extend_from_slice(&u.to_be_bytes());
        } else {
            out.extend_from_slice(&u.to_le_bytes());
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `src` once, appending to `out`; a `%` not followed
/// by two hex digits is kept as written. `+` is left alone: it means a space
/// only in form bodies, and rules that care list both spellings.
pub(crate) fn percent_decode(src: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < src.len() {
        let Some(p) = memchr::memchr(b'%', &src[i..]) else {
            out.extend_from_slice(&src[i..]);
            break;
        };
        out.extend_from_slice(&src[i..i + p]);
        i += p;
        match (
            src.get(i + 1).and_then(|&b| hex(b)),
            src.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            _ => {
                out.push(b'%');
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &str, anchor: Anchor) -> Text {
        Text::new(tokens(v.as_bytes()), anchor)
    }

    #[test]
    fn values_match_as_sigma_says() {
        use Anchor::*;
        let cases: &[(&str, Anchor, &str, bool)] = &[
            ("GET", Exact, "get", true),
            ("GET", Exact, "GETX", false),
            ("/admin", Starts, "/ADMIN/x", true),
            (".php", Ends, "/a.PHP", true),
            ("union", Contains, "?q=1 UNION select", true),
            (
                "*/config/keystore/*.js*",
                Exact,
                "/x/config/keystore/a.json",
                true,
            ),
            (
                "*/config/keystore/*.js*",
                Exact,
                "/x/config/keystore/a.css",
                false,
            ),
            (
                "*?/dana/html5acc/guacamole/*",
                Exact,
                "/x?/dana/html5acc/guacamole/a",
                true,
            ),
            ("momyshark\\?key=", Contains, "/momyshark?key=1", true),
            ("momyshark\\?key=", Contains, "/momysharkXkey=1", false),
            ("a?c", Exact, "a\u{e9}c", true),
            ("a?c", Exact, "ac", false),
            (
                "C:\\Users\\Public\\",
                Contains,
                "x=C:\\Users\\Public\\a",
                true,
            ),
            ("*", Exact, "", true),
            ("*a*b*", Exact, "xxaxxbxx", true),
            ("*a*b", Exact, "xxaxxbx", false),
            ("", Exact, "", true),
        ];
        for &(v, anchor, hay, want) in cases {
            assert_eq!(
                text(v, anchor).is_match(hay.as_bytes(), false),
                want,
                "{v:?} {anchor:?} {hay:?}"
            );
        }
    }

    #[test]
    fn base64_matches_known_encodings() {
        assert_eq!(base64(b"hello"), b"aGVsbG8=");
        assert_eq!(base64(b"ab"), b"YWI=");
        assert_eq!(base64(b"abc"), b"YWJj");
        // pySigma's documented offsets of "/bin/bash"
        let offs = base64_offsets(b"/bin/bash");
        assert_eq!(
            offs,
            vec![
                b"L2Jpbi9iYXNo".to_vec(),
                b"9iaW4vYmFza".to_vec(),
                b"vYmluL2Jhc2".to_vec()
            ]
        );
        for (i, o) in offs.iter().enumerate() {
            let mut p = vec![b'x'; i];
            p.extend_from_slice(b"/bin/bash and more");
            assert!(find(&base64(&p), o, true).is_some(), "offset {i}");
        }
    }

    #[test]
    fn percent_decoding_keeps_broken_escapes() {
        let mut out = Vec::new();
        percent_decode(b"/a%2e%2E/%zz%4", &mut out);
        assert_eq!(out, b"/a../%zz%4");
    }

    #[test]
    fn regex_literals_are_read_conservatively() {
        let lits = |v: &[&str]| Some(v.iter().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>());
        type Case = (&'static str, bool, Option<Vec<Vec<u8>>>);
        let cases: &[Case] = &[
            // SigmaHQ's IPFS rule: `s` folds with the long s, so runs stop there
            (
                r"(?i)(ipfs\.io/|ipfs\.io\s).+\..+@.+\.[a-z]+",
                false,
                lits(&[".io/", "ipf"]),
            ),
            (r"ipfs\.io/.+@", false, lits(&["ipfs.io/"])),
            (r"ipfs\.io/.+@", true, lits(&[".io/"])),
            ("/Admin/[a-z]+/Login", false, lits(&["/admin/"])),
            ("abc|de", false, lits(&["abc", "de"])),
            ("(abc|de)x?yz", false, lits(&["abc", "de"])),
            ("ab*cd", false, lits(&["cd"])),
            ("abc(de)?", false, lits(&["abc"])),
            ("x{2}yz", false, lits(&["yz"])),
            (r"\bwget\b", false, lits(&["wget"])),
            (r"[\]ab]cd", false, lits(&["cd"])),
            ("[[:alpha:]]xy", false, lits(&["xy"])),
            ("(?m)^get$", false, lits(&["get"])),
            // nothing every match must contain, or syntax outside the subset
            (".{150}", false, None),
            ("abc|", false, None),
            ("(a|)", false, None),
            (r"a\x40b", false, None),
            ("(?x)a b", false, None),
            ("(?:ab)", false, None),
            ("(?i:ab)c", false, None),
            ("caf\u{e9}", false, None),
            (r"\d+", false, None),
        ];
        for (re, i, want) in cases {
            assert_eq!(&regex_needles(re, *i), want, "{re} (i: {i})");
        }
    }

    /// Regex pieces to build patterns from: literals (with the letters that
    /// fold outside ASCII), escapes, classes, groups, alternations, quantifiers.
    const RE_PIECES: &[&str] = &[
        "a", "b", "k", "s", "K", "S", "ab", "ks", ".", r"\.", "/", "@", " ", "-", r"\s", r"\d",
        r"\w", r"\b", "[a-k]", "[^s]", "[]a]", "(", ")", "|", "(a|b)", "(ab|sk)", "*", "+", "?",
        "{2}", "{0,1}", "*?", "^", "$", "(?i)", "(?-i)", r"\x61", "é",
    ];

    /// Texts that regexes of [`RE_PIECES`] often match.
    const HAY_PIECES: &[&str] = &[
        "a", "b", "k", "s", "K", "S", "ab", "AB", "sk", "\u{17f}", "\u{212a}", ".", "/", "@", " ",
        "-", "1", "é", "]",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn a_regex_matches_only_where_one_of_its_literals_occurs(
            re in proptest::collection::vec(proptest::sample::select(RE_PIECES), 1..8),
            i in proptest::prelude::any::<bool>(),
            hays in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(HAY_PIECES), 0..10),
                8,
            ),
        ) {
            let re = re.concat();
            let Ok(compiled) = regex::bytes::RegexBuilder::new(&re).case_insensitive(i).build() else {
                return Ok(());
            };
            let Some(lits) = regex_needles(&re, i) else {
                return Ok(());
            };
            proptest::prop_assert!(!lits.is_empty() && lits.iter().all(|l| !l.is_empty()));
            for hay in hays {
                let hay = hay.concat();
                if compiled.is_match(hay.as_bytes()) {
                    proptest::prop_assert!(
                        lits.iter().any(|l| find(hay.as_bytes(), l, false).is_some()),
                        "{re:?} (i: {i}) matches {hay:?} without any of {lits:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn windash_variants() {
        let v = windash(b"cmd -c /x a-b");
        assert_eq!(v.len(), 5);
        assert_eq!(v[1], b"cmd /c /x a-b");
        assert_eq!(v[2], "cmd \u{2013}c \u{2013}x a-b".as_bytes());
    }
}
