//! Dates written out in full ("يوم 15 أكتوبر 2025", "on 15 October 2025",
//! "Oct. 15, 2025", "2025-10-15"): the article's own date, and the bare
//! date of a scheduled event ("the summit is set for 3 December").
//!
//! Owns only where such a date stands; what it means is the deadline
//! language's (`Deadline::parse`), so month names and numeric forms are
//! read in one place. `deadline::find` leaves bare dates alone on purpose
//! (a date reports when something happened); ingest takes one as a
//! deadline only right after a cue.

use std::ops::Range;

use jiff::civil::Date;

use super::text::{Kind, Tokens};
use crate::deadline::{Deadline, Options};

/// A date found in the text: its tokens and its reading.
#[derive(Debug, Clone)]
pub(crate) struct BareDate {
    pub(crate) toks: Range<usize>,
    pub(crate) span: Range<usize>,
    pub(crate) deadline: Deadline,
    pub(crate) has_year: bool,
}

/// Words before a date that make it a deadline, not the article's date.
const DEADLINE_WORDS: &[&str] = &[
    "by",
    "before",
    "until",
    "till",
    "through",
    "بحلول",
    "حتي",
    "قبل",
    "لغايه",
    "موعد",
];

/// Words before a number that are not a month.
const NOT_MONTHS: &[&str] = &[
    "in", "within", "on", "at", "the", "خلال", "في", "يوم", "غضون",
];

/// Every full date in tokens `range`, longest reading first at each place.
pub(crate) fn bare_dates(
    text: &str,
    t: &Tokens,
    range: Range<usize>,
    anchor: Date,
    options: &Options,
) -> Vec<BareDate> {
    let mut out = Vec::new();
    let mut i = range.start;
    while i < range.end {
        let tok = t.toks[i];
        let starts = match tok.kind {
            Kind::Number => tok.end - tok.start <= 2 || tok.end - tok.start == 4,
            Kind::Word
                if DEADLINE_WORDS.contains(&t.word(i)) || NOT_MONTHS.contains(&t.word(i)) =>
            {
                false
            }
            Kind::Word => {
                let next = if t.word(i + 1) == "." { i + 2 } else { i + 1 };
                t.toks.get(next).is_some_and(|n| n.kind == Kind::Number)
            }
            Kind::Punct => false,
        };
        if !starts {
            i += 1;
            continue;
        }
        let mut found = None;
        for len in (2..=6).rev() {
            let end = i + len;
            if end > range.end {
                continue;
            }
            let last = t.toks[end - 1];
            if last.kind == Kind::Punct {
                continue;
            }
            let span = tok.ostart..last.oend;
            if span.end - span.start > 40 {
                continue;
            }
            if let Ok(d) = Deadline::parse_with(&text[span.clone()], anchor, options)
                && !d.vague
            {
                let has_year = (i..end).any(|k| {
                    t.toks[k].kind == Kind::Number && t.toks[k].end - t.toks[k].start == 4
                });
                found = Some(BareDate {
                    toks: i..end,
                    span,
                    deadline: d,
                    has_year,
                });
                break;
            }
        }
        match found {
            Some(d) => {
                i = d.toks.end;
                out.push(d);
            }
            None => i += 1,
        }
    }
    out
}

/// The article's own date: the first full date with a year that no
/// deadline word introduces.
pub(crate) fn article_date(text: &str, t: &Tokens, today: Date) -> Option<Date> {
    let options = Options::default();
    // An article's date stands near its top; a 5,000-word article need not
    // be read to the end for it.
    let limit = t.toks.len().min(400);
    bare_dates(text, t, 0..limit, today, &options)
        .into_iter()
        .find(|d| {
            let before = d.toks.start.checked_sub(1).map_or("", |k| t.word(k));
            d.has_year && !DEADLINE_WORDS.contains(&before)
        })
        .map(|d| d.deadline.latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn dated(text: &str) -> Option<Date> {
        article_date(text, &Tokens::new(text), date(2026, 1, 1))
    }

    #[test]
    fn article_dates_in_both_languages() {
        assert_eq!(
            dated("التقى الرئيسان في موسكو يوم 15 أكتوبر 2025، في زيارة"),
            Some(date(2025, 10, 15))
        );
        assert_eq!(
            dated("MOSCOW, Oct. 15, 2025 (Reuters) -"),
            Some(date(2025, 10, 15))
        );
        assert_eq!(
            dated("Published on 3 November 2025."),
            Some(date(2025, 11, 3))
        );
        assert_eq!(dated("Updated 2025-09-30 10:00"), Some(date(2025, 9, 30)));
    }

    #[test]
    fn deadlines_and_yearless_dates_are_not_the_article_date() {
        assert_eq!(dated("They will reply by 30 November 2025."), None);
        assert_eq!(dated("On 15 October the sides met. 12 people came."), None);
    }
}
