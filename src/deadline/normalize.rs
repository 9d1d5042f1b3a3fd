//! Folding news text into one canonical form, and cutting it into tokens.
//!
//! Owns: the surface variation that must not change a deadline's meaning —
//! letter case, runs of whitespace, Arabic diacritics and tatweel, the alef
//! forms (أ إ آ ٱ → ا), taa marbuta (ة → ه), alef maqsura (ى → ي), bidi and
//! zero-width control marks, Eastern Arabic and Persian digits (١٥ → 15) —
//! and, for every token, the byte span it came from in the original text, so
//! that `find` reports spans in what the caller passed. Folding and cutting
//! happen in one pass over the text. Does not own what any word means: that
//! is `en`, `ar` and `numbers`.

use super::numbers::western_digit;

/// Text after folding, cut into tokens.
#[derive(Debug, Clone, Default)]
pub(crate) struct Folded {
    pub(crate) text: String,
    pub(crate) tokens: Vec<Token>,
}

/// A word, number or punctuation mark: where it lies in the folded text and
/// in the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    /// Byte range in the folded text.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Byte range in the original text, stretched over the diacritics and
    /// tatweel after the last letter, so a span that ends on a vowelled
    /// letter ("شهرينِ") keeps its vowel.
    pub(crate) original_start: usize,
    pub(crate) original_end: usize,
    /// Where the token minus its first character starts in the original, so
    /// that a glued conjunction ("وخلال") can be left out of a span.
    pub(crate) original_second: usize,
}

/// `Token::original_second` of a token that has one character so far.
const NO_SECOND: usize = usize::MAX;

/// What a token is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A run of letters ("within", "شهرين").
    Word,
    /// A run of ASCII digits (Eastern digits are already folded).
    Number,
    /// One character that is neither letter, digit nor space.
    Punct,
}

/// What folding does with one character. Shared with `ingest`, so that a
/// word folds the same way wherever followup reads it.
pub(crate) enum Fold {
    /// Keep this (possibly replaced) character.
    Keep(char),
    /// Keep the lowercase form of this character (may be several chars).
    Lower(char),
    /// A word separator.
    Space,
    /// Dropped, but belongs to the letter before it (diacritics, tatweel).
    Mark,
    /// Dropped and belongs to nothing (bidi and zero-width controls).
    Invisible,
}

#[inline]
pub(crate) fn fold(c: char) -> Fold {
    match c {
        'A'..='Z' => Fold::Keep(c.to_ascii_lowercase()),
        _ if c.is_ascii() => {
            if c.is_ascii_whitespace() {
                Fold::Space
            } else {
                Fold::Keep(c)
            }
        }
        // Arabic harakat, tanween, shadda, sukun, superscript alef, Quranic
        // annotation marks, tatweel; and Latin combining accents.
        '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06DC}'
        | '\u{06DF}'..='\u{06E8}'
        | '\u{06EA}'..='\u{06ED}'
        | '\u{0640}'
        | '\u{0300}'..='\u{036F}' => Fold::Mark,
        // Arabic letter mark, zero-width space/joiners, LRM/RLM, bidi
        // embeddings, overrides and isolates, word joiner, BOM.
        '\u{061C}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}' => Fold::Invisible,
        'أ' | 'إ' | 'آ' | 'ٱ' | 'ٲ' | 'ٳ' => Fold::Keep('ا'),
        'ة' => Fold::Keep('ه'),
        'ى' | 'ی' => Fold::Keep('ي'),
        'ک' => Fold::Keep('ك'),
        '٠'..='٩' | '۰'..='۹' => Fold::Keep(western_digit(c).unwrap_or(c)),
        '،' => Fold::Keep(','),
        '؛' => Fold::Keep(';'),
        '؟' => Fold::Keep('?'),
        '\u{2018}' | '\u{2019}' | '\u{02BC}' => Fold::Keep('\''),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Fold::Keep('-'),
        // The rest of the Arabic letters have no case: skip the slow
        // Unicode lowercase lookup for the bulk of an Arabic article.
        '\u{0621}'..='\u{064A}' => Fold::Keep(c),
        _ if c.is_whitespace() => Fold::Space,
        _ => Fold::Lower(c),
    }
}

/// Whether `c` belongs in a word; Arabic letters and ASCII answered
/// without the general Unicode tables.
fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        ('\u{0621}'..='\u{064A}').contains(&c) || c.is_alphabetic()
    }
}

/// The end of the run of letters at `at` that folding leaves as they are:
/// lowercase ASCII, and Arabic letters (U+0621..U+064A, two bytes each)
/// other than the alef forms, taa marbuta, alef maqsura and tatweel.
/// Works on bytes, as the bulk of an article goes through here.
#[inline]
fn plain_run(bytes: &[u8], mut at: usize) -> usize {
    loop {
        match (bytes.get(at), bytes.get(at + 1)) {
            (Some(b), _) if b.is_ascii_lowercase() => at += 1,
            // U+0621..U+063F but آ أ إ ة
            (Some(0xD8), Some(0xA1..=0xBF))
                if !matches!(bytes[at + 1], 0xA2 | 0xA3 | 0xA5 | 0xA9) =>
            {
                at += 2
            }
            // U+0641..U+064A but ى
            (Some(0xD9), Some(0x81..=0x8A)) if bytes[at + 1] != 0x89 => at += 2,
            _ => return at,
        }
    }
}

#[inline]
fn kind_of(c: char) -> Kind {
    if c.is_ascii_digit() {
        Kind::Number
    } else if is_letter(c) {
        Kind::Word
    } else {
        Kind::Punct
    }
}

impl Folded {
    /// Folds `text` and cuts it into tokens.
    ///
    /// Letters and digits never share a token ("30th" is "30" + "th", "Q2"
    /// is "q" + "2"), which is what makes every match a whole-word match: a
    /// word can only equal a lexicon entry in full, never by containing it.
    pub(crate) fn new(text: &str) -> Folded {
        let mut b = Builder {
            text: String::with_capacity(text.len()),
            tokens: Vec::with_capacity(text.len() / 5 + 1),
            open: None,
        };
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            // Most of an article is plain Arabic or ASCII letters that fold
            // to themselves: copy each run of them in one go.
            let run_end = plain_run(bytes, at);
            if run_end > at {
                let second = at + if bytes[at].is_ascii() { 1 } else { 2 };
                b.keep_run(&text[at..run_end], at, second, run_end);
                at = run_end;
                continue;
            }
            let Some(c) = text[at..].chars().next() else {
                break;
            };
            let start = at;
            let end = at + c.len_utf8();
            at = end;
            match fold(c) {
                Fold::Keep(k) => b.keep(kind_of(k), k, start, end),
                Fold::Lower(c) => {
                    for k in c.to_lowercase() {
                        b.keep(kind_of(k), k, start, end);
                    }
                }
                Fold::Space => {
                    b.close();
                    // One space per run keeps the folded text readable in
                    // error hints; tokens never include it.
                    if !b.text.is_empty() && !b.text.ends_with(' ') {
                        b.text.push(' ');
                    }
                }
                Fold::Mark => {
                    if let Some(span) = &mut b.open {
                        span.original_end = end;
                    }
                }
                Fold::Invisible => {}
            }
        }
        b.close();
        Folded {
            text: b.text,
            tokens: b.tokens,
        }
    }

    /// The folded text of `token`.
    #[cfg(test)]
    pub(crate) fn text_of(&self, token: &Token) -> &str {
        &self.text[token.start..token.end]
    }
}

/// Folded text under construction, with the word or number being built
/// kept out of the vector until it is complete.
struct Builder {
    text: String,
    tokens: Vec<Token>,
    open: Option<Token>,
}

impl Builder {
    /// Appends `run`, letters that fold to themselves and start at `at` in
    /// the original; `second` is where its second character starts.
    fn keep_run(&mut self, run: &str, at: usize, second: usize, end: usize) {
        let here = self.text.len();
        self.text.push_str(run);
        let there = self.text.len();
        if let Some(open) = &mut self.open
            && open.kind == Kind::Word
        {
            if open.original_second == NO_SECOND {
                open.original_second = at;
            }
            open.end = there;
            open.original_end = end;
            return;
        }
        self.close();
        self.open = Some(Token {
            kind: Kind::Word,
            start: here,
            end: there,
            original_start: at,
            original_end: end,
            original_second: if second < end { second } else { NO_SECOND },
        });
    }

    fn keep(&mut self, kind: Kind, c: char, at: usize, end: usize) {
        let here = self.text.len();
        self.text.push(c);
        let there = self.text.len();
        if let Some(open) = &mut self.open
            && open.kind == kind
        {
            if open.original_second == NO_SECOND {
                open.original_second = at;
            }
            open.end = there;
            open.original_end = end;
            return;
        }
        self.close();
        let token = Token {
            kind,
            start: here,
            end: there,
            original_start: at,
            original_end: end,
            original_second: NO_SECOND,
        };
        if kind == Kind::Punct {
            self.push(token);
        } else {
            self.open = Some(token);
        }
    }

    fn close(&mut self) {
        if let Some(token) = self.open.take() {
            self.push(token);
        }
    }

    fn push(&mut self, mut token: Token) {
        if token.original_second == NO_SECOND {
            token.original_second = token.original_end;
        }
        self.tokens.push(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Folded::new(s).text
    }

    fn words(s: &str) -> Vec<String> {
        let f = Folded::new(s);
        f.tokens.iter().map(|t| f.text_of(t).to_string()).collect()
    }

    #[test]
    fn plain_runs_stop_at_letters_that_fold() {
        let run = |s: &str| plain_run(s.as_bytes(), 0);
        assert_eq!(run("abc Def"), 3);
        assert_eq!(run("شهرين"), "شهرين".len());
        for stop in [
            "أ", "إ", "آ", "ة", "ى", "\u{0640}", "\u{064E}", "A", "1", " ",
        ] {
            assert_eq!(run(&format!("شه{stop}")), "شه".len(), "{stop:?}");
        }
    }

    #[test]
    fn case_is_folded() {
        assert_eq!(norm("Within TWO Months"), "within two months");
        assert_eq!(norm("ÉTÉ"), "été");
    }

    #[test]
    fn arabic_diacritics_and_tatweel_are_dropped() {
        assert_eq!(norm("شَهْرَيْنِ"), "شهرين");
        assert_eq!(norm("قريباً"), "قريبا");
        assert_eq!(norm("شـــهرين"), "شهرين");
    }

    #[test]
    fn alef_forms_taa_marbuta_and_alef_maqsura_are_unified() {
        assert_eq!(norm("أسابيع إلى آذار"), "اسابيع الي اذار");
        assert_eq!(norm("المقبلة"), "المقبله");
        assert_eq!(norm("حتى"), "حتي");
    }

    #[test]
    fn bidi_marks_are_invisible() {
        assert_eq!(
            norm("\u{200F}خلال\u{200E} 15\u{2066} يوما\u{2069}"),
            "خلال 15 يوما"
        );
        assert_eq!(words("20\u{200E}25"), ["2025"]);
    }

    #[test]
    fn eastern_digits_become_ascii() {
        assert_eq!(norm("١٥  و ۲۰"), "15 و 20");
    }

    #[test]
    fn letters_and_digits_never_share_a_token() {
        assert_eq!(
            words("Q2 30th 2025-11-30"),
            ["q", "2", "30", "th", "2025", "-", "11", "-", "30"]
        );
    }

    #[test]
    fn whitespace_of_any_kind_separates_words() {
        assert_eq!(
            words(" within\t\u{00A0}two\n  months "),
            ["within", "two", "months"]
        );
    }

    #[test]
    fn spans_map_back_to_original_bytes() {
        let text = "في غُضونِ\u{200F} شهرينِ.";
        let f = Folded::new(text);
        let toks = &f.tokens;
        let last = toks[2];
        // The span keeps the final kasra of the original word.
        assert_eq!(&text[last.original_start..last.original_end], "شهرينِ");
        assert_eq!(
            &text[toks[0].original_start..toks[1].original_end],
            "في غُضونِ"
        );
        assert_eq!(f.text_of(&toks[3]), ".");
    }

    #[test]
    fn second_character_start_skips_a_vowelled_conjunction() {
        let text = "وَخلال";
        let f = Folded::new(text);
        let t = f.tokens[0];
        assert_eq!(f.text_of(&t), "وخلال");
        assert_eq!(&text[t.original_second..t.original_end], "خلال");
    }

    #[test]
    fn spans_survive_case_folding_that_changes_length() {
        // 'İ' lowercases to two characters; "by" still maps back.
        let text = "İx by";
        let f = Folded::new(text);
        let by = *f.tokens.last().unwrap();
        assert_eq!(&text[by.original_start..by.original_end], "by");
    }
}
