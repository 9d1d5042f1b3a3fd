//! Who is named: the gazetteer of countries, organisations and office
//! holders, and the words that stand for "both sides".
//!
//! Owns: the TSV format of the gazetteer (the shipped `actors.tsv` and a
//! desk's own file), matching its variants as whole words in folded text
//! (Arabic proclitics و ف ب ل ك and the article handled), and spotting
//! "both sides" / "الجانبان". Does not own which actors a commitment gets:
//! that is `mod`, which resolves "both sides" to the article's principals.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::ActorEntry;
use super::text::{Kind, Tokens, arabic_readings, fold_words, is_arabic};

/// The shipped gazetteer.
const SHIPPED: &str = include_str!("actors.tsv");

/// Reads a gazetteer file: one actor a line, its canonical name, a tab,
/// then one or more tab-separated variants. `#` starts a comment line;
/// blank lines are skipped. A name may appear on several lines; its
/// variants add up.
pub fn parse_actors_file(text: &str) -> Result<Vec<ActorEntry>, String> {
    let mut out: Vec<ActorEntry> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut cells = line.split('\t');
        let name = cells.next().unwrap_or("").trim();
        if name.is_empty() {
            return Err(format!(
                "line {line_no}: the first column (the canonical name) is empty"
            ));
        }
        let variants: Vec<&str> = cells.map(str::trim).collect();
        if variants.is_empty() {
            return Err(format!(
                "line {line_no}: {name:?} has no variants; write the name, a tab, then each variant separated by tabs"
            ));
        }
        if let Some(k) = variants.iter().position(|v| v.is_empty()) {
            return Err(format!(
                "line {line_no}: column {} of {name:?} is empty (two tabs in a row?)",
                k + 2
            ));
        }
        for v in std::iter::once(&name).chain(&variants) {
            if !v.chars().any(char::is_alphanumeric) {
                return Err(format!(
                    "line {line_no}: {v:?} has no letters or digits to match"
                ));
            }
        }
        let variants = variants.into_iter().map(str::to_string);
        match out.iter_mut().find(|e| e.name == name) {
            Some(e) => e.variants.extend(variants),
            None => out.push(ActorEntry {
                name: name.to_string(),
                variants: variants.collect(),
            }),
        }
    }
    Ok(out)
}

/// One way of writing an actor, folded.
#[derive(Debug, Clone)]
struct Variant {
    words: Vec<String>,
    /// Words written in capitals ("UN", "WHO") must stand in capitals.
    exact: Vec<Option<String>>,
    /// The Arabic variant begins with the article, so the text must too.
    article: bool,
    actor: usize,
}

/// The gazetteer, indexed by the first folded word of each variant (an
/// Arabic first word without its article).
#[derive(Debug, Clone, Default)]
pub(crate) struct Gazetteer {
    pub(crate) names: Vec<String>,
    by_first: HashMap<String, Vec<Variant>>,
}

impl Gazetteer {
    /// The shipped gazetteer, built once.
    pub(crate) fn shipped() -> &'static Gazetteer {
        static SHIPPED_GAZETTEER: OnceLock<Gazetteer> = OnceLock::new();
        SHIPPED_GAZETTEER.get_or_init(|| {
            let entries = parse_actors_file(SHIPPED).unwrap_or_default();
            Gazetteer::from_entries(&entries)
        })
    }

    /// The shipped gazetteer with a desk's own rows added.
    pub(crate) fn with_extra(extra: &[ActorEntry]) -> Gazetteer {
        let mut entries = parse_actors_file(SHIPPED).unwrap_or_default();
        for e in extra {
            match entries.iter_mut().find(|x| x.name == e.name) {
                Some(x) => x.variants.extend(e.variants.iter().cloned()),
                None => entries.push(e.clone()),
            }
        }
        Gazetteer::from_entries(&entries)
    }

    fn from_entries(entries: &[ActorEntry]) -> Gazetteer {
        let mut g = Gazetteer::default();
        for (actor, e) in entries.iter().enumerate() {
            g.names.push(e.name.clone());
            for v in std::iter::once(&e.name).chain(&e.variants) {
                g.add(v, actor);
            }
        }
        g
    }

    fn add(&mut self, variant: &str, actor: usize) {
        let mut words = fold_words(variant);
        let Some(first) = words.first().cloned() else {
            return;
        };
        let t = Tokens::new(variant);
        let exact = (0..t.toks.len())
            .map(|i| {
                let w = t.original(variant, i);
                let capitals = w.len() >= 2 && w.bytes().all(|b| b.is_ascii_uppercase());
                capitals.then(|| w.to_string())
            })
            .collect();
        let mut key = first.clone();
        let mut article = false;
        if is_arabic(&first)
            && let Some(rest) = first.strip_prefix("ال")
            && rest.chars().nth(1).is_some()
        {
            key = rest.to_string();
            article = true;
        }
        words[0] = key.clone();
        self.by_first.entry(key).or_default().push(Variant {
            words,
            exact,
            article,
            actor,
        });
    }

    /// The actor named at token `i`, and the token after the name: the
    /// longest variant wins.
    pub(crate) fn at(&self, text: &str, t: &Tokens, i: usize) -> Option<(usize, usize)> {
        let tok = t.toks.get(i)?;
        if tok.kind == Kind::Punct {
            return None;
        }
        let word = t.word(i);
        let mut best: Option<(usize, usize)> = None;
        let mut try_key = |key: &str, had_article: bool| {
            let Some(variants) = self.by_first.get(key) else {
                return;
            };
            for v in variants {
                if v.article && !had_article {
                    continue;
                }
                if let Some(Some(caps)) = v.exact.first()
                    && t.original(text, i) != caps
                {
                    continue;
                }
                let rest_matches = v.words.iter().enumerate().skip(1).all(|(k, w)| {
                    t.word(i + k) == w
                        && match &v.exact[k] {
                            Some(caps) => t.original(text, i + k) == caps,
                            None => true,
                        }
                });
                let end = i + v.words.len();
                if rest_matches && best.is_none_or(|(_, e)| end > e) {
                    best = Some((v.actor, end));
                }
            }
        };
        if is_arabic(word) {
            for (key, had_article) in arabic_readings(word) {
                try_key(key, had_article);
            }
        } else {
            try_key(word, false);
        }
        best
    }

    /// Every actor named in tokens `range`, in order of first mention.
    pub(crate) fn named_in(
        &self,
        text: &str,
        t: &Tokens,
        range: std::ops::Range<usize>,
    ) -> Vec<usize> {
        let mut found = Vec::new();
        let mut i = range.start;
        while i < range.end {
            match self.at(text, t, i) {
                Some((actor, end)) => {
                    if !found.contains(&actor) {
                        found.push(actor);
                    }
                    i = end.max(i + 1);
                }
                None => i += 1,
            }
        }
        found
    }
}

const BOTH_EN: &[&[&str]] = &[
    &["both", "sides"],
    &["the", "two", "sides"],
    &["both", "parties"],
    &["the", "two", "parties"],
    &["both", "countries"],
    &["the", "two", "countries"],
    &["both", "leaders"],
    &["the", "two", "leaders"],
    &["both", "governments"],
    &["the", "two", "governments"],
    &["the", "two", "presidents"],
    &["the", "two", "nations"],
    &["the", "two", "ministers"],
];

/// Arabic duals for "the two sides", without the article they must carry.
const BOTH_AR: &[&str] = &[
    "جانبان",
    "جانبين",
    "طرفان",
    "طرفين",
    "بلدان",
    "بلدين",
    "رئيسان",
    "رئيسين",
    "زعيمان",
    "زعيمين",
    "حكومتان",
    "حكومتين",
    "وزيران",
    "وزيرين",
];

/// Whether tokens `range` speak of "both sides" / "الجانبان".
pub(crate) fn names_both_sides(t: &Tokens, range: std::ops::Range<usize>) -> bool {
    range.clone().any(|i| {
        let w = t.word(i);
        if is_arabic(w) {
            arabic_readings(w).any(|(r, art)| art && BOTH_AR.contains(&r))
        } else {
            BOTH_EN.iter().any(|p| {
                i + p.len() <= range.end && p.iter().enumerate().all(|(k, x)| t.word(i + k) == *x)
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        let g = Gazetteer::shipped();
        let t = Tokens::new(text);
        g.named_in(text, &t, 0..t.toks.len())
            .into_iter()
            .map(|a| g.names[a].clone())
            .collect()
    }

    #[test]
    fn shipped_gazetteer_parses_with_hundreds_of_rows() {
        let entries = parse_actors_file(SHIPPED).unwrap();
        let variants: usize = entries.iter().map(|e| e.variants.len()).sum();
        assert!(entries.len() >= 150, "{}", entries.len());
        assert!(variants >= 900, "{variants}");
    }

    #[test]
    fn arabic_spelling_variants_and_prefixes_resolve_to_one_name() {
        assert_eq!(names("سوريا وسورية والسورية ودمشق"), ["Syria"]);
        assert_eq!(names("بالاتحاد الروسي ولموسكو والكرملين"), ["Russia"]);
        assert_eq!(names("للأمم المتحدة"), ["United Nations"]);
        assert_eq!(names("الرئيس السوري أحمد الشرع"), ["Syria"]);
    }

    #[test]
    fn english_variants_capitals_and_possessives() {
        assert_eq!(names("Moscow and the Kremlin; Putin's aides"), ["Russia"]);
        assert_eq!(
            names("the UN and the EU"),
            ["United Nations", "European Union"]
        );
        assert_eq!(names("the U.S. and Washington"), ["United States"]);
        // "us", "who" and "un-" in lower case are words, not actors.
        assert!(names("who told us it was un-American").len() <= 1);
        assert!(names("who told us").is_empty());
    }

    #[test]
    fn longest_variant_wins() {
        assert_eq!(names("South Sudan"), ["South Sudan"]);
        assert_eq!(names("روسيا البيضاء"), ["Belarus"]);
        assert_eq!(names("الاتحاد الأوروبي"), ["European Union"]);
    }

    #[test]
    fn whole_words_only() {
        // "سياسة" holds no actor; "Omaniac" is not Oman; "شرعية" is not الشرع.
        assert!(names("السياسة Omaniac شرعية").is_empty());
    }

    #[test]
    fn article_variant_needs_the_article() {
        // "الشرع" is al-Sharaa, "شرع" (began) is not.
        assert!(names("شرع في العمل").is_empty());
        assert_eq!(names("والشرع"), ["Syria"]);
    }

    #[test]
    fn actors_file_parser_accepts_good_rows_and_merges_names() {
        let file = "# desk rows\nAtlantis\tAtlantean\tأتلانتس\n\nAtlantis\tPoseidonia\n";
        let entries = parse_actors_file(file).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].variants, ["Atlantean", "أتلانتس", "Poseidonia"]);
    }

    #[test]
    fn actors_file_parser_names_the_bad_line() {
        let err = parse_actors_file("Ok\tFine\nNoTabsHere\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        let err = parse_actors_file("# c\nA\t\tB\n").unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("column 2"),
            "{err}"
        );
        let err = parse_actors_file("\tB\n").unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
        let err = parse_actors_file("A\t--\n").unwrap_err();
        assert!(err.contains("\"--\""), "{err}");
    }

    #[test]
    fn both_sides_in_both_languages() {
        let t = Tokens::new("ناقش الجانبان");
        assert!(names_both_sides(&t, 0..t.toks.len()));
        let t = Tokens::new("The two sides agreed");
        assert!(names_both_sides(&t, 0..t.toks.len()));
        let t = Tokens::new("جانبان");
        assert!(!names_both_sides(&t, 0..t.toks.len()));
    }
}
