//! Cutting an article into sentences, in English and Arabic alike.
//!
//! Owns where a sentence ends: at `.`, `?`, `؟`, `!` and `…` (with any
//! closing quotes or brackets after them), and at every line break, since a
//! headline or a paragraph is never continued on the next line. `،` and `؛`
//! stay inside. A full stop is not an end after a title or month
//! abbreviation ("Mr.", "Oct."), after a single letter ("U.S.", "J. Smith",
//! "د."), between letters or digits with no space ("أ.ف.ب", "3.5"), or
//! when the next word begins in lower case. Does not own what a sentence
//! says.

use std::ops::Range;

use super::text::{Kind, Tokens};

/// A sentence: its token range and its byte span in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sentence {
    pub(crate) toks: Range<usize>,
    pub(crate) span: Range<usize>,
}

/// Abbreviations after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "gen", "sen", "rep", "gov", "st", "jr", "sr", "lt", "col",
    "maj", "capt", "adm", "sgt", "cmdr", "rev", "hon", "pres", "amb", "messrs", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no", "nos", "vs",
    "approx", "est", "inc", "ltd", "co", "corp", "dept", "univ", "fig", "al", "cf", "ca", "vol",
    "art", "para",
];

/// Words that begin a new sentence even after "U.S." and the like.
const STARTERS: &[&str] = &[
    "The",
    "It",
    "He",
    "She",
    "They",
    "We",
    "This",
    "That",
    "These",
    "Those",
    "But",
    "In",
    "A",
    "An",
    "On",
    "At",
    "Meanwhile",
    "However",
    "I",
    "His",
    "Her",
    "Their",
    "There",
];

const CLOSERS: &[&str] = &["\"", "'", "»", "”", ")", "]", "’"];

/// Every sentence of `text`, in order; empty ones are left out.
pub(crate) fn split(text: &str, t: &Tokens) -> Vec<Sentence> {
    let toks = &t.toks;
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let close = |from: usize, to: usize, out: &mut Vec<Sentence>| {
        if from < to {
            out.push(Sentence {
                toks: from..to,
                span: toks[from].ostart..toks[to - 1].oend,
            });
        }
    };
    while i < toks.len() {
        if toks[i].line_before && i > start {
            close(start, i, &mut out);
            start = i;
        }
        if toks[i].kind == Kind::Punct && ends_here(text, t, i) {
            let mut end = i + 1;
            // "?!", "...", and the quote or bracket that closes the sentence.
            while end < toks.len()
                && !toks[end].line_before
                && toks[end].kind == Kind::Punct
                && (matches!(t.word(end), "." | "?" | "!" | "…")
                    || (CLOSERS.contains(&t.word(end)) && !toks[end].space_before))
            {
                end += 1;
            }
            close(start, end, &mut out);
            start = end;
            i = end;
            continue;
        }
        i += 1;
    }
    close(start, toks.len(), &mut out);
    out
}

/// Whether the punctuation token `i` ends a sentence.
fn ends_here(text: &str, t: &Tokens, i: usize) -> bool {
    match t.word(i) {
        "?" | "!" | "…" => true,
        "." => full_stop_ends(text, t, i),
        _ => false,
    }
}

fn full_stop_ends(text: &str, t: &Tokens, i: usize) -> bool {
    let toks = &t.toks;
    let next = toks.get(i + 1);
    let Some(next) = next else { return true };
    if next.line_before {
        return true;
    }
    // "3.5", "U.S", "أ.ف.ب", "example.org": no space, letters or digits on.
    if !next.space_before && next.kind != Kind::Punct {
        return false;
    }
    // More dots ("...") are handled by the caller.
    let prev_adjacent = i > 0 && !toks[i].space_before && toks[i - 1].kind == Kind::Word;
    let next_word = t.original(text, i + 1);
    if prev_adjacent {
        let prev = t.word(i - 1);
        let single = prev.chars().nth(1).is_none();
        if single {
            return STARTERS.contains(&next_word) && i >= 2 && t.word(i - 2) == ".";
        }
        if ABBREVIATIONS.contains(&prev) && prev.is_ascii() {
            return false;
        }
    }
    // "approx. five": a lower-case word goes on with the sentence.
    !(next.kind == Kind::Word && next_word.starts_with(|c: char| c.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<&str> {
        let t = Tokens::new(text);
        split(text, &t).into_iter().map(|s| &text[s.span]).collect()
    }

    #[test]
    fn english_full_stops_questions_and_exclamations_end_sentences() {
        assert_eq!(
            sentences("Talks ended. Will they resume? Yes! Fine."),
            ["Talks ended.", "Will they resume?", "Yes!", "Fine."]
        );
    }

    #[test]
    fn arabic_question_mark_ends_but_comma_and_semicolon_stay_inside() {
        assert_eq!(
            sentences("اتفق الجانبان، بحسب نوفاك؛ على اللقاء. هل سيعقد؟ نعم."),
            [
                "اتفق الجانبان، بحسب نوفاك؛ على اللقاء.",
                "هل سيعقد؟",
                "نعم."
            ]
        );
    }

    #[test]
    fn abbreviations_do_not_end_sentences() {
        assert_eq!(
            sentences("Mr. Putin met Dr. Grossi on Oct. 15, 2025 in the U.S. capital. Then left."),
            [
                "Mr. Putin met Dr. Grossi on Oct. 15, 2025 in the U.S. capital.",
                "Then left."
            ]
        );
    }

    #[test]
    fn initials_before_a_sentence_starter_do_end() {
        assert_eq!(
            sentences("Aid came from the U.S. The U.N. said so."),
            ["Aid came from the U.S.", "The U.N. said so."]
        );
    }

    #[test]
    fn arabic_agency_initials_and_decimals_stay_inside() {
        assert_eq!(
            sentences("(أ.ف.ب) ارتفع النمو 3.5 بالمئة. وقال د. أحمد إنه سيعود."),
            ["(أ.ف.ب) ارتفع النمو 3.5 بالمئة.", "وقال د. أحمد إنه سيعود."]
        );
    }

    #[test]
    fn line_breaks_are_boundaries_and_closing_quotes_stay() {
        assert_eq!(
            sentences("Headline without stop\n\"We will meet.\" He left.\n\nAnother"),
            [
                "Headline without stop",
                "\"We will meet.\"",
                "He left.",
                "Another"
            ]
        );
    }

    #[test]
    fn ellipsis_and_lowercase_continuation() {
        assert_eq!(
            sentences("Wait... approx. five left. Done"),
            ["Wait...", "approx. five left.", "Done"]
        );
    }

    #[test]
    fn empty_and_punctuation_only_text() {
        assert!(sentences("").is_empty());
        assert_eq!(sentences(" . "), ["."]);
    }
}
