//! Article text folded once and cut into tokens, for every other part of
//! ingest to read.
//!
//! Owns: the same surface folding the deadline language applies (case,
//! Arabic diacritics and tatweel, alef forms → ا, ة → ه, ى → ي, bidi marks,
//! Eastern digits, Arabic punctuation → its ASCII twin), the byte span of
//! every token in the original text (so quotes and titles are cut from what
//! the caller passed), and where line breaks fell. The folding of each
//! character is the deadline language's own (`deadline::normalize::fold`),
//! so a word folds the same way in both. Does not own what a word means.

use crate::deadline::normalize::{Fold, fold};

/// What a token is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Number,
    Punct,
}

/// A word, number or punctuation mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    /// Byte range in the folded text.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Byte range in the original text.
    pub(crate) ostart: usize,
    pub(crate) oend: usize,
    /// A line break lies between this token and the one before it.
    pub(crate) line_before: bool,
    /// Whitespace (or a line break) lies between this token and the one
    /// before it.
    pub(crate) space_before: bool,
}

/// Folded text cut into tokens.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tokens {
    pub(crate) folded: String,
    pub(crate) toks: Vec<Token>,
}

/// Line breaks end sentences, so ingest tells them from other spaces;
/// everything else folds exactly as the deadline language folds it.
fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{0085}')
}

fn kind_of(c: char) -> Kind {
    if c.is_ascii_digit() {
        Kind::Number
    } else if c.is_alphabetic() {
        Kind::Word
    } else {
        Kind::Punct
    }
}

impl Tokens {
    /// Folds `text` and cuts it into tokens. Letters and digits never share
    /// a token, and every punctuation mark is a token of its own.
    pub(crate) fn new(text: &str) -> Tokens {
        let mut out = Tokens {
            folded: String::with_capacity(text.len()),
            toks: Vec::with_capacity(text.len() / 5 + 1),
        };
        let mut open: Option<Token> = None;
        let mut space = false;
        let mut line = false;
        for (at, c) in text.char_indices() {
            let end = at + c.len_utf8();
            let kept = match fold(c) {
                Fold::Keep(k) => Some(k),
                Fold::Lower(l) => {
                    // Lowercasing may yield several chars; all share `c`'s span.
                    for k in l.to_lowercase() {
                        out.push_char(&mut open, k, at, end, &mut space, &mut line);
                    }
                    None
                }
                Fold::Space => {
                    if let Some(t) = open.take() {
                        out.toks.push(t);
                    }
                    space = true;
                    line |= is_line_break(c);
                    None
                }
                Fold::Mark => {
                    if let Some(t) = &mut open {
                        t.oend = end;
                    }
                    None
                }
                Fold::Invisible => None,
            };
            if let Some(k) = kept {
                out.push_char(&mut open, k, at, end, &mut space, &mut line);
            }
        }
        if let Some(t) = open.take() {
            out.toks.push(t);
        }
        out
    }

    fn push_char(
        &mut self,
        open: &mut Option<Token>,
        k: char,
        at: usize,
        end: usize,
        space: &mut bool,
        line: &mut bool,
    ) {
        let kind = kind_of(k);
        let here = self.folded.len();
        self.folded.push(k);
        let there = self.folded.len();
        if let Some(t) = open
            && t.kind == kind
            && kind != Kind::Punct
        {
            t.end = there;
            t.oend = end;
            return;
        }
        if let Some(t) = open.take() {
            self.toks.push(t);
        }
        let token = Token {
            kind,
            start: here,
            end: there,
            ostart: at,
            oend: end,
            line_before: *line,
            space_before: *space,
        };
        *space = false;
        *line = false;
        if kind == Kind::Punct {
            self.toks.push(token);
        } else {
            *open = Some(token);
        }
    }

    /// The folded text of token `i`, or "" past the end.
    #[inline]
    pub(crate) fn word(&self, i: usize) -> &str {
        self.toks
            .get(i)
            .map_or("", |t| &self.folded[t.start..t.end])
    }

    /// The original text of token `i` in `text`, or "" past the end.
    #[inline]
    pub(crate) fn original<'t>(&self, text: &'t str, i: usize) -> &'t str {
        self.toks.get(i).map_or("", |t| &text[t.ostart..t.oend])
    }
}

/// Folds a short string (a gazetteer variant, a cue word) to words.
pub(crate) fn fold_words(s: &str) -> Vec<String> {
    let t = Tokens::new(s);
    (0..t.toks.len()).map(|i| t.word(i).to_string()).collect()
}

/// Whether `w` is written in Arabic letters (by its first byte).
#[inline]
pub(crate) fn is_arabic(w: &str) -> bool {
    matches!(w.as_bytes().first(), Some(0xD8..=0xDB))
}

/// Strips a glued conjunction (و, ف) from an Arabic word when at least two
/// letters remain.
pub(crate) fn strip_conjunction(w: &str) -> &str {
    for p in ["و", "ف"] {
        if let Some(rest) = w.strip_prefix(p)
            && rest.chars().nth(1).is_some()
        {
            return rest;
        }
    }
    w
}

/// The readings of an Arabic word with its proclitics taken off: the word
/// itself, then without a conjunction (و ف), a preposition (ب ل ك) and the
/// article (ال, or the ل of لل), each paired with whether an article was
/// there. Every reading keeps at least two letters.
pub(crate) fn arabic_readings(w: &str) -> impl Iterator<Item = (&str, bool)> {
    let mut out = Readings {
        items: [("", false); 8],
        n: 0,
    };
    let conj = strip_conjunction(w);
    let bases: &[&str] = if conj.len() == w.len() {
        &[w]
    } else {
        &[w, conj]
    };
    for base in bases {
        out.push(base, false);
        let mut bodies = [*base, ""];
        for p in ["ب", "ل", "ك"] {
            if let Some(rest) = base.strip_prefix(p) {
                if let Some(r) = rest.strip_prefix('ل') {
                    // لل = ل + ال with the alef dropped.
                    out.push(r, true);
                }
                out.push(rest, false);
                bodies[1] = rest;
            }
        }
        for b in bodies {
            if let Some(r) = b.strip_prefix("ال") {
                out.push(r, true);
            }
        }
    }
    let Readings { items, n } = out;
    items.into_iter().take(n)
}

/// At most eight readings of a word, without allocating.
struct Readings<'a> {
    items: [(&'a str, bool); 8],
    n: usize,
}

impl<'a> Readings<'a> {
    fn push(&mut self, s: &'a str, article: bool) {
        let two_letters = s.chars().nth(1).is_some();
        if two_letters && self.n < 8 && !self.items[..self.n].contains(&(s, article)) {
            self.items[self.n] = (s, article);
            self.n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_map_back_and_diacritics_fold() {
        let text = "قال الرئيسُ: «سنعقدُ» U.S.\nNext";
        let t = Tokens::new(text);
        let words: Vec<&str> = (0..t.toks.len()).map(|i| t.word(i)).collect();
        assert_eq!(
            words,
            [
                "قال",
                "الرئيس",
                ":",
                "«",
                "سنعقد",
                "»",
                "u",
                ".",
                "s",
                ".",
                "next"
            ]
        );
        assert_eq!(t.original(text, 1), "الرئيسُ");
        assert!(t.toks[10].line_before);
        assert!(!t.toks[7].space_before);
    }

    #[test]
    fn readings_strip_proclitics() {
        fn r(w: &str) -> Vec<(&str, bool)> {
            arabic_readings(w).collect()
        }
        assert!(r("وبسوريا").contains(&("سوريا", false)));
        assert!(r("للامم").contains(&("امم", true)));
        assert!(r("والاردن").contains(&("اردن", true)));
        assert!(r("بالروسي").contains(&("روسي", true)));
    }
}
