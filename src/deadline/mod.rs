//! The deadline language: turns a deadline as an announcement states it
//! ("within two months", "by 30 November 2025", "في غضون شهرين") into the
//! civil dates it means, counted from the announcement date (the anchor).
//!
//! This module is pure: no clock, no I/O. Callers pass the anchor in.
//! It does not decide when reminders fire; that is `plan`'s job.
//!
//! How it reads: the text is folded once (`normalize`: case, spaces, Arabic
//! diacritics and letter variants, bidi marks, Eastern digits) and cut into
//! whole-word tokens; then the English (`en`) and Arabic (`ar`) grammars try
//! every family at a token and the longest reading wins. `parse` demands that
//! the reading cover the whole expression; `find` slides over a sentence or
//! article and reports each reading with its byte span in the original text.
//!
//! The families, with the same meanings in both languages:
//!
//! | family | examples | earliest | latest |
//! |---|---|---|---|
//! | relative | "within two months", "in 72 hours", "خلال ١٥ يوما" | anchor | anchor + amount (hours round up to days; Jan 31 + 1 month = Feb 28) |
//! | period end | "by the end of the year", "end of Q2 2026", "قبل نهاية تشرين الثاني" | anchor | last day of the period (the next one not yet passed when no year is given) |
//! | whole period | "next month", "in November", "الشهر المقبل" | first day of the period (or the anchor if inside it) | last day of the period |
//! | mid-month | "by mid-November", "بحلول منتصف نوفمبر" | anchor | the 15th |
//! | date | "by 30 November 2025", "before 2025-12-01", "حتى 30/11/2025" | anchor | the date ("before" and "قبل": the day before) |
//! | vague | "soon", "in the coming weeks", "في المستقبل القريب" | anchor | anchor + [`Options::vague_horizon_days`], `vague: true` |
//!
//! Decisions a desk may want to know about:
//!
//! - Numeric dates are read day first: `30/11/2025` is 30 November.
//! - Weeks run Monday to Sunday (ISO 8601): "by the end of the week" is the
//!   Sunday, "next week" the next Monday to Sunday.
//! - A named month, quarter or day without a year ("by the end of the first
//!   quarter", "by mid-November", "by 30 November") is the next one whose
//!   day in question has not yet passed on the anchor.
//! - "before" a date or a mid-month is the day before it ("before
//!   mid-November" is the 14th); "before the end of" a period is its last day.
//! - "in N units" means the same as "within N units"; a range ("six to
//!   eight weeks", "ثلاثة أو أربعة أشهر") states its far end; an event after
//!   the amount ("within six months of the agreement") is taken to be the
//!   announced one, so the amount counts from the anchor.
//! - A plural unit without a number ("within weeks", "خلال أيام", "a few
//!   days") is vague, like "soon".
//! - When a date is already past, `earliest` is that date, so `earliest <=
//!   latest` always holds.
//! - Forms a desk would read two ways are errors, not guesses: "by
//!   November" (its start or its end?), "by next week", "by 2030", "early
//!   next year", "مطلع العام المقبل", weekdays ("by Friday"), fiscal years.

mod ar;
mod calendar;
mod en;
pub(crate) mod normalize;
mod numbers;

use std::ops::Range;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use calendar::{Calc, DaySpec, Problem, YearRef};
use normalize::{Folded, Kind, Token};

/// What the parser needs to know beyond the expression and its anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How far ahead a vague deadline ("soon", "في المستقبل القريب") is
    /// assumed to reach, in days. Comes from `reminders.vague_horizon`.
    /// Negative values count as zero.
    pub vague_horizon_days: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vague_horizon_days: 90,
        }
    }
}

/// A deadline as stated, and what it means in dates.
///
/// ```
/// use followup::deadline::Deadline;
/// use jiff::civil::date;
///
/// let d = Deadline::parse("within two months", date(2025, 10, 15)).unwrap();
/// assert_eq!(d.latest, date(2025, 12, 15));
/// let json = serde_json::to_string(&d).unwrap();
/// assert!(json.contains(r#""latest":"2025-12-15""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The expression exactly as the user or the article gave it.
    pub expression: String,
    /// First civil day of the window the commitment is meant for.
    pub earliest: Date,
    /// Last civil day on which the commitment is still on time.
    pub latest: Date,
    /// True for "soon", "in the near future" and the like: `latest` is then
    /// an assumed horizon, not a stated date.
    pub vague: bool,
    /// The date the expression was counted from (the announcement date).
    pub anchor: Date,
}

/// An expression the deadline language does not understand.
///
/// ```
/// use followup::deadline::Deadline;
/// use jiff::civil::date;
///
/// let err = Deadline::parse("when pigs fly", date(2025, 10, 15)).unwrap_err();
/// assert_eq!(err.input, "when pigs fly");
/// assert!(err.to_string().contains("within two months"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot read {} as a deadline{}; try a form such as \"2025-12-15\", \"by 30 November 2025\", \"within two months\", \"by the end of the year\" or \"خلال شهرين\"",
    crate::model::Quoted(.input),
    hint_suffix(.hint.as_deref())
)]
pub struct ParseError {
    /// The expression as given.
    pub input: String,
    /// What went wrong, when more can be said than "not understood"
    /// (a day that does not exist, words left over after a deadline).
    pub hint: Option<String>,
}

fn hint_suffix(hint: Option<&str>) -> String {
    hint.map(|h| format!(" ({h})")).unwrap_or_default()
}

/// A deadline expression found inside a sentence or article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// Byte span of the expression in the text given to [`find`].
    pub span: Range<usize>,
    /// The expression as it stands in that text: `&text[span]`.
    pub text: String,
    /// What it means, counted from the anchor given to [`find`].
    pub deadline: Deadline,
}

impl Deadline {
    /// Parses `expression` counted from `anchor`, with default options.
    ///
    /// ```
    /// use followup::deadline::Deadline;
    /// use jiff::civil::date;
    ///
    /// let anchor = date(2025, 10, 15);
    /// let d = Deadline::parse("قبل نهاية تشرين الثاني", anchor).unwrap();
    /// assert_eq!((d.earliest, d.latest), (anchor, date(2025, 11, 30)));
    /// let d = Deadline::parse("next month", anchor).unwrap();
    /// assert_eq!((d.earliest, d.latest), (date(2025, 11, 1), date(2025, 11, 30)));
    /// let d = Deadline::parse("in the near future", anchor).unwrap();
    /// assert!(d.vague);
    /// assert_eq!(d.latest, date(2026, 1, 13));
    /// ```
    pub fn parse(expression: &str, anchor: Date) -> Result<Deadline, ParseError> {
        Deadline::parse_with(expression, anchor, &Options::default())
    }

    /// Parses `expression` counted from `anchor`.
    ///
    /// The whole expression must be understood; words left over are an
    /// error, not ignored.
    ///
    /// ```
    /// use followup::deadline::{Deadline, Options};
    /// use jiff::civil::date;
    ///
    /// let options = Options { vague_horizon_days: 30 };
    /// let d = Deadline::parse_with("soon", date(2025, 10, 15), &options).unwrap();
    /// assert_eq!(d.latest, date(2025, 11, 14));
    /// assert!(Deadline::parse("within two months or so", date(2025, 10, 15)).is_err());
    /// ```
    pub fn parse_with(
        expression: &str,
        anchor: Date,
        options: &Options,
    ) -> Result<Deadline, ParseError> {
        let deadline = match plain_date(expression, anchor) {
            Some(deadline) => deadline,
            None => Deadline::read(expression, anchor, options)?,
        };
        match outside_the_years(deadline.latest) {
            Some(hint) => Err(ParseError {
                input: expression.to_string(),
                hint: Some(hint),
            }),
            None => Ok(deadline),
        }
    }

    /// `parse_with` through the whole language.
    fn read(expression: &str, anchor: Date, options: &Options) -> Result<Deadline, ParseError> {
        let fail = |hint: Option<String>| ParseError {
            input: expression.to_string(),
            hint,
        };
        let folded = Folded::new(expression);
        let toks = &folded.tokens;
        // Quotes, a final full stop and the like do not change the meaning.
        let first = toks.iter().position(|t| t.kind != Kind::Punct);
        let last = toks.iter().rposition(|t| t.kind != Kind::Punct);
        let (Some(first), Some(last)) = (first, last) else {
            return Err(fail(Some("it has no words".to_string())));
        };
        let toks = &toks[first..=last];
        match read_at(&folded.text, toks, 0, anchor) {
            Some((found, _)) if found.end == toks.len() => {
                let (earliest, latest, vague) =
                    found.reading.dates(anchor, options).map_err(|p| {
                        let hint = match (p, month_first(expression)) {
                            (Problem::NoSuchDate, Some(day_first)) => format!(
                                "numeric dates are read day first; for that day write {day_first}"
                            ),
                            _ => p.hint().to_string(),
                        };
                        fail(Some(hint))
                    })?;
                Ok(Deadline {
                    expression: expression.to_string(),
                    earliest,
                    latest,
                    vague,
                    anchor,
                })
            }
            Some((found, strip)) => {
                // Quoted as typed, not as folded for reading.
                let start = if strip > 0 {
                    toks[0].original_second
                } else {
                    toks[0].original_start
                };
                let understood = &expression[start..toks[found.end - 1].original_end];
                Err(fail(Some(format!(
                    "only {} reads as a deadline, the words after it do not",
                    crate::model::Quoted(understood)
                ))))
            }
            None => Err(fail(ambiguous(expression, anchor, options))),
        }
    }

    /// Whether this deadline is sharper than `other`, for a caller that
    /// found several deadlines for one commitment and keeps one.
    ///
    /// The rule: a stated deadline beats a vague one; then the one whose
    /// `latest` comes first (it is the one the desk must watch); then the
    /// narrower window (later `earliest`). Equal deadlines are not sharper
    /// than each other.
    ///
    /// ```
    /// use followup::deadline::Deadline;
    /// use jiff::civil::date;
    ///
    /// let anchor = date(2025, 10, 15);
    /// let near = Deadline::parse("في المستقبل القريب", anchor).unwrap();
    /// let two = Deadline::parse("في غضون شهرين", anchor).unwrap();
    /// assert!(two.is_sharper_than(&near));
    /// assert!(!near.is_sharper_than(&two));
    /// ```
    pub fn is_sharper_than(&self, other: &Deadline) -> bool {
        let key = |d: &Deadline| (d.vague, d.latest, std::cmp::Reverse(d.earliest));
        key(self) < key(other)
    }
}

/// The sharpest of several mentions (see [`Deadline::is_sharper_than`]);
/// the first one among equals.
///
/// ```
/// use followup::deadline::{find, sharpest};
/// use jiff::civil::date;
///
/// let text = "سيعقد اجتماع في المستقبل القريب، من المتوقع أن يعقد في غضون شهرين.";
/// let mentions = find(text, date(2025, 10, 15));
/// assert_eq!(sharpest(&mentions).unwrap().text, "في غضون شهرين");
/// ```
pub fn sharpest(mentions: &[Mention]) -> Option<&Mention> {
    mentions
        .iter()
        .fold(None, |best: Option<&Mention>, m| match best {
            Some(b) if !m.deadline.is_sharper_than(&b.deadline) => Some(b),
            _ => Some(m),
        })
}

/// Every deadline expression in `text` (a sentence, a paragraph or a whole
/// article), in order, counted from `anchor`, with default options.
///
/// A bare date ("يوم 15 أكتوبر 2025", "on 30 November") reports when
/// something happens, not a deadline, so `find` only reports dates that a
/// deadline word introduces ("by", "before", "بحلول", "حتى", "قبل").
///
/// ```
/// use followup::deadline::find;
/// use jiff::civil::date;
///
/// let text = "The committee will meet soon, and in any case within two months.";
/// let found = find(text, date(2025, 10, 15));
/// assert_eq!(found.len(), 2);
/// assert_eq!(&text[found[1].span.clone()], "within two months");
/// assert!(found[0].deadline.vague);
/// assert_eq!(found[1].deadline.latest, date(2025, 12, 15));
/// ```
pub fn find(text: &str, anchor: Date) -> Vec<Mention> {
    find_with(text, anchor, &Options::default())
}

/// Every deadline expression in `text`, counted from `anchor`; see [`find`].
pub fn find_with(text: &str, anchor: Date, options: &Options) -> Vec<Mention> {
    let folded = Folded::new(text);
    let toks = &folded.tokens;
    let mut mentions = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if !could_start(&folded.text, &toks[i]) {
            i += 1;
            continue;
        }
        let Some((found, strip)) = read_at(&folded.text, toks, i, anchor) else {
            i += 1;
            continue;
        };
        let dates = found.reading.dates(anchor, options);
        let (false, Ok((earliest, latest, vague))) = (found.needs_cue, dates) else {
            i += 1;
            continue;
        };
        if outside_the_years(latest).is_some() {
            i += 1;
            continue;
        }
        let last = toks[found.end - 1];
        let first = &toks[i];
        let start = if strip > 0 {
            first.original_second
        } else {
            first.original_start
        };
        let span = start..last.original_end;
        let said = text[span.clone()].to_string();
        mentions.push(Mention {
            span,
            text: said.clone(),
            deadline: Deadline {
                expression: said,
                earliest,
                latest,
                vague,
                anchor,
            },
        });
        i = found.end;
    }
    mentions
}

/// What an expression means, before the options are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    Dates {
        earliest: Date,
        latest: Date,
    },
    Vague,
    /// The shape is understood but no dates follow ("31 November").
    Unreadable(Problem),
}

impl Reading {
    fn dates(self, anchor: Date, options: &Options) -> Calc<(Date, Date, bool)> {
        match self {
            Reading::Dates { earliest, latest } => Ok((earliest, latest, false)),
            Reading::Vague => {
                let days = i64::from(options.vague_horizon_days.max(0));
                Ok((anchor, calendar::add_days(anchor, days)?, true))
            }
            Reading::Unreadable(problem) => Err(problem),
        }
    }
}

/// One reading of the tokens from a start position up to `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    /// Index of the first token after the expression.
    pub(crate) end: usize,
    pub(crate) reading: Reading,
    /// A date with no deadline word before it: `parse` takes it, `find`
    /// leaves it alone.
    pub(crate) needs_cue: bool,
}

impl Found {
    pub(crate) fn vague(end: usize) -> Found {
        Found {
            end,
            reading: Reading::Vague,
            needs_cue: false,
        }
    }

    pub(crate) fn span(end: usize, dates: Calc<(Date, Date)>) -> Found {
        let reading = match dates {
            Ok((earliest, latest)) => Reading::Dates { earliest, latest },
            Err(p) => Reading::Unreadable(p),
        };
        Found {
            end,
            reading,
            needs_cue: false,
        }
    }

    /// A deadline that runs from the anchor to `latest` (or is a single
    /// past day when `latest` has already passed).
    pub(crate) fn until(end: usize, anchor: Date, latest: Calc<Date>) -> Found {
        Found::span(end, latest.map(|l| (anchor.min(l), l)))
    }

    /// A whole period: from its first day, or the anchor if that falls
    /// inside it, to its last day.
    pub(crate) fn period(end: usize, anchor: Date, bounds: Calc<(Date, Date)>) -> Found {
        Found::span(end, bounds.map(|(s, e)| (anchor.clamp(s, e), e)))
    }

    pub(crate) fn without_cue(mut self) -> Found {
        self.needs_cue = true;
        self
    }
}

/// The longer of two readings; the first among equals.
pub(crate) fn longer(a: Option<Found>, b: Option<Found>) -> Option<Found> {
    match (a, b) {
        (Some(x), Some(y)) if y.end > x.end => Some(y),
        (None, y) => y,
        (x, _) => x,
    }
}

/// Tokens seen from one start position, with the anchor the grammars count
/// from. The word at `strip_at` may have its Arabic conjunction ("و", "ف")
/// stripped: "وخلال شهرين" reads as "خلال شهرين".
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    text: &'a str,
    toks: &'a [Token],
    strip_at: usize,
    strip: usize,
    pub(crate) anchor: Date,
}

impl<'a> Cursor<'a> {
    /// The same tokens, a day dated without its year looked for from the
    /// day after the anchor: "before 16 October" said on 16 October means
    /// next year's, as "by 15 October" does, for the day before it to be
    /// still ahead.
    pub(crate) fn for_the_day_before(&self) -> Cursor<'a> {
        Cursor {
            anchor: calendar::add_days(self.anchor, 1).unwrap_or(self.anchor),
            ..*self
        }
    }
}

/// String equality without a call into `memcmp`: words are short, and the
/// grammars compare them by the hundred.
#[inline(always)]
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A bit filter over words: `maybe` is false for every word never added,
/// and costs one hash. Built at compile time from the lexicon tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Filter([u64; 8]);

impl Filter {
    pub(crate) const EMPTY: Filter = Filter([0; 8]);

    #[inline]
    const fn slot(w: &[u8]) -> usize {
        if w.is_empty() {
            return 0;
        }
        (w.len() * 31 + w[w.len() - 1] as usize * 7 + w[w.len() / 2] as usize) % 512
    }

    pub(crate) const fn with(mut self, word: &str) -> Filter {
        let slot = Filter::slot(word.as_bytes());
        self.0[slot / 64] |= 1 << (slot % 64);
        self
    }

    pub(crate) const fn with_all(mut self, words: &[&str]) -> Filter {
        let mut i = 0;
        while i < words.len() {
            self = self.with(words[i]);
            i += 1;
        }
        self
    }

    /// The first words of `phrases`.
    pub(crate) const fn firsts(phrases: &[&[&str]]) -> Filter {
        let mut f = Filter::EMPTY;
        let mut i = 0;
        while i < phrases.len() {
            f = f.with(phrases[i][0]);
            i += 1;
        }
        f
    }

    /// The first words of the phrases of `table`.
    pub(crate) const fn firsts_of<T>(table: &[(&[&str], T)]) -> Filter {
        let mut f = Filter::EMPTY;
        let mut i = 0;
        while i < table.len() {
            f = f.with(table[i].0[0]);
            i += 1;
        }
        f
    }

    /// The words of `table`.
    pub(crate) const fn words_of<T>(table: &[(&str, T)]) -> Filter {
        let mut f = Filter::EMPTY;
        let mut i = 0;
        while i < table.len() {
            f = f.with(table[i].0);
            i += 1;
        }
        f
    }

    #[inline]
    pub(crate) fn maybe(&self, word: &str) -> bool {
        let slot = Filter::slot(word.as_bytes());
        self.0[slot / 64] & (1 << (slot % 64)) != 0
    }
}

/// A set of words with a [`Filter`] in front, so that asking about a word
/// that is not in it (most words of an article) costs one hash, not a scan.
pub(crate) struct WordSet {
    pub(crate) words: &'static [&'static str],
    filter: Filter,
}

impl WordSet {
    pub(crate) const fn new(words: &'static [&'static str]) -> WordSet {
        WordSet {
            words,
            filter: Filter::EMPTY.with_all(words),
        }
    }

    #[inline]
    pub(crate) fn contains(&self, word: &str) -> bool {
        self.filter.maybe(word) && among(self.words, word)
    }
}

/// Whether `word` is one of `list`.
#[inline]
pub(crate) fn among(list: &[&str], word: &str) -> bool {
    list.iter().any(|w| same(w, word))
}

impl<'a> Cursor<'a> {
    /// The word at `i`, or "" past the end.
    #[inline(always)]
    pub(crate) fn word(&self, i: usize) -> &'a str {
        match self.toks.get(i) {
            Some(t) if i == self.strip_at => &self.text[t.start + self.strip..t.end],
            Some(t) => &self.text[t.start..t.end],
            None => "",
        }
    }

    #[inline(always)]
    pub(crate) fn is(&self, i: usize, word: &str) -> bool {
        same(self.word(i), word)
    }

    /// Whether `found` reads every token to the end.
    pub(crate) fn covers(&self, found: Option<Found>) -> bool {
        found.is_some_and(|f| f.end >= self.toks.len())
    }

    /// The index after `words` if they stand at `i`.
    pub(crate) fn seq(&self, i: usize, words: &[&str]) -> Option<usize> {
        self.seq_after(i, self.word(i), words)
    }

    /// `seq` for a caller that already holds `first`, the word at `i`:
    /// tables of phrases fetch it once, not once per phrase.
    #[inline(always)]
    fn seq_after(&self, i: usize, first: &str, words: &[&str]) -> Option<usize> {
        let (head, rest) = words.split_first()?;
        if !same(head, first) {
            return None;
        }
        let all = rest.iter().enumerate().all(|(k, w)| self.is(i + 1 + k, w));
        all.then_some(i + words.len())
    }

    /// The longest phrase of `table` at `i`, with its value.
    pub(crate) fn longest<T: Copy>(&self, i: usize, table: &[(&[&str], T)]) -> Option<(usize, T)> {
        let first = self.word(i);
        let mut best: Option<(usize, T)> = None;
        for &(words, value) in table {
            if let Some(end) = self.seq_after(i, first, words)
                && best.is_none_or(|(e, _)| end > e)
            {
                best = Some((end, value));
            }
        }
        best
    }

    /// Each phrase of `phrases` that stands at `i`, with the index after it.
    pub(crate) fn each<'p>(
        &'p self,
        i: usize,
        phrases: &'p [&'p [&'p str]],
    ) -> impl Iterator<Item = (&'p [&'p str], usize)> + 'p {
        let first = self.word(i);
        phrases
            .iter()
            .filter_map(move |p| self.seq_after(i, first, p).map(|end| (*p, end)))
    }

    /// The index after the longest of `phrases` at `i`.
    pub(crate) fn any(&self, i: usize, phrases: &[&[&str]]) -> Option<usize> {
        let first = self.word(i);
        phrases
            .iter()
            .filter_map(|p| self.seq_after(i, first, p))
            .max()
    }

    /// The value of the one-word entry of `table` at `i`.
    pub(crate) fn lookup<T: Copy>(&self, i: usize, table: &[(&str, T)]) -> Option<T> {
        let w = self.word(i);
        table.iter().find(|(k, _)| same(k, w)).map(|&(_, v)| v)
    }

    /// The value of the number at `i` (saturated when absurdly long).
    pub(crate) fn digits(&self, i: usize) -> Option<u64> {
        match self.toks.get(i) {
            Some(t) if t.kind == Kind::Number => {
                Some(numbers::value_of_digits(&self.text[t.start..t.end]))
            }
            _ => None,
        }
    }

    /// A number of at most two digits: a day or a month.
    pub(crate) fn small(&self, i: usize) -> Option<u64> {
        match self.toks.get(i) {
            Some(t) if t.kind == Kind::Number && t.end - t.start <= 2 => self.digits(i),
            _ => None,
        }
    }

    /// A four-digit number: a year.
    pub(crate) fn year(&self, i: usize) -> Option<i64> {
        match self.toks.get(i) {
            Some(t) if t.kind == Kind::Number && t.end - t.start == 4 => {
                self.digits(i).and_then(|v| i64::try_from(v).ok())
            }
            _ => None,
        }
    }
}

/// A date written in digits: `2025-11-30`, `2025/11/30`, or day first
/// `30/11/2025`, `30-11-2025`, `30.11.2025`.
pub(crate) fn numeric_date(cur: &Cursor, i: usize) -> Option<(usize, Calc<Date>)> {
    let sep = cur.word(i + 1);
    if !matches!(sep, "-" | "/" | ".") || !cur.is(i + 3, sep) {
        return None;
    }
    let (year, month, day) = if let Some(y) = cur.year(i) {
        (y, cur.small(i + 2)?, cur.small(i + 4)?)
    } else {
        (cur.year(i + 4)?, cur.small(i + 2)?, cur.small(i)?)
    };
    let spec = i8::try_from(month).ok().map(|month| DaySpec {
        day,
        month,
        year: YearRef::Given(year),
    });
    let date = spec
        .ok_or(Problem::NoSuchDate)
        .and_then(|s| s.resolve(cur.anchor));
    Some((i + 5, date))
}

/// Whether a token can begin any expression: lets `find` skip most of an
/// article's words with a single check.
fn could_start(text: &str, tok: &Token) -> bool {
    let word = &text[tok.start..tok.end];
    match tok.kind {
        Kind::Number => true,
        Kind::Punct => false,
        // The first byte tells the script; a word mixing scripts matches no
        // lexicon entry of either language anyway.
        Kind::Word if word.as_bytes()[0].is_ascii() => en::could_start(word),
        Kind::Word => ar::could_start(word),
    }
}

/// A day written `YYYY-MM-DD` and nothing else, read from its digits.
/// jiff's own reading also takes a date-time and drops the time (and any
/// UTC offset) without a word, which would hide an analyst's mistake; and
/// its general parser was a sixth of listing thousands of lines, which
/// read each line's day this way.
pub fn iso_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if !has_iso_date_shape(bytes) {
        return None;
    }
    let number = |digits: &[u8]| {
        digits
            .iter()
            .fold(0i16, |n, digit| n * 10 + i16::from(digit - b'0'))
    };
    let month = i8::try_from(number(&bytes[5..7])).ok()?;
    let day = i8::try_from(number(&bytes[8..])).ok()?;
    Date::new(number(&bytes[..4]), month, day).ok()
}

/// `YYYY-MM-DD`: the shape of a date as ISO 8601 (and `Date`'s
/// `Display`) writes it, whether or not the calendar has that day.
///
/// Checked eight bytes at a time: an export checks four dates a record,
/// and a byte at a time that was 1% of its instructions.
pub fn has_iso_date_shape(text: &[u8]) -> bool {
    // `YYYY-MM-`: digits but for the dashes at 4 and 7.
    const DIGITS: u64 = 0x00ff_ff00_ffff_ffff;
    const DASHES: u64 = 0x2d00_002d_0000_0000;
    match text {
        [head @ .., d1, d2] if head.len() == 8 => {
            let word = u64::from_le_bytes(head.try_into().unwrap_or_default());
            digits_and_marks(word, DIGITS, DASHES) && d1.is_ascii_digit() && d2.is_ascii_digit()
        }
        _ => false,
    }
}

/// Whether the eight bytes of `word` (first byte lowest) are ASCII
/// digits wherever `digits` has a byte 0xff, and are the bytes of `marks`
/// everywhere else (`marks` is 0 where `digits` is not).
#[inline]
pub(crate) fn digits_and_marks(word: u64, digits: u64, marks: u64) -> bool {
    const HIGH_HALVES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    const SIXES: u64 = 0x0606_0606_0606_0606;
    let high = HIGH_HALVES & digits;
    let threes = THREES & digits;
    // A digit is a byte 0x30 to 0x39: its high half is 3, and stays 3
    // when 6 is added ('9' + 6 is '?', ':' + 6 is '@'). A byte whose high
    // half is 3 cannot carry into the next when 6 is added, and the sum
    // is only looked at once every high half has been found to be 3.
    word & !digits == marks
        && word & high == threes
        && word.wrapping_add(SIXES & digits) & high == threes
}

/// An expression that is nothing but a date as ISO 8601 writes it
/// ("2025-12-15"), read as the whole language reads it (from the anchor,
/// or from the date itself if it is earlier, to that date) without
/// folding and tokenising it. Exports, and most files written by hand or
/// by other tools, give every deadline this way: an import of 100,000
/// spent a sixth of its reading here. Anything else, a day the calendar
/// lacks included, is left to the language and its messages.
/// Why a month or a year named alone ("by November", "بحلول 2030",
/// "December 2025") is refused, with the form that would be read: alone it
/// could mean its first day or its last, and a desk must not guess which.
fn ambiguous(expression: &str, anchor: Date, options: &Options) -> Option<String> {
    let words: Vec<&str> = expression.split_whitespace().collect();
    if words.is_empty() || words.len() > 3 {
        return None;
    }
    let cue = ["by", "until", "till", "بحلول", "حتى", "لغاية"];
    let named = match words.first() {
        Some(first) if cue.iter().any(|c| first.eq_ignore_ascii_case(c)) => &words[1..],
        _ => &words[..],
    };
    if named.is_empty() {
        return None;
    }
    let named = named.join(" ");
    // In the language the analyst wrote: "بحلول 2030" names no Arabic
    // month, but its cue is Arabic.
    let arabic = expression
        .chars()
        .any(|c| ('\u{0600}'..='\u{06ff}').contains(&c));
    let suggestion = if arabic {
        format!("بحلول نهاية {named}")
    } else {
        format!("by the end of {named}")
    };
    Deadline::read(&suggestion, anchor, options).ok()?;
    Some(format!(
        "a month or a year alone could mean its first day or its last: say {}, or give the day",
        crate::model::Quoted(&suggestion)
    ))
}

/// A numeric date written month first, as "11/30/2025", turned day first
/// ("30/11/2025"): read day first it names no day, and the analyst most
/// likely meant this one.
fn month_first(expression: &str) -> Option<String> {
    expression
        .split(|c: char| !(c.is_ascii_digit() || c == '/'))
        .find_map(|word| {
            let parts: Vec<&str> = word.split('/').collect();
            let [month, day, year] = parts[..] else {
                return None;
            };
            let (m, d): (u8, u8) = (month.parse().ok()?, day.parse().ok()?);
            ((1..=12).contains(&m) && (13..=31).contains(&d))
                .then(|| format!("{day}/{month}/{year}"))
        })
}

/// The years a deadline (or any date an analyst types) may fall in.
pub const YEARS: std::ops::RangeInclusive<i16> = 1900..=2199;

/// A date as an analyst or a file gives it (`2025-10-15`), held to the
/// years followup works with; the error names the value and the form.
pub fn read_date(text: &str) -> Result<Date, String> {
    let date = iso_date(text.trim()).ok_or_else(|| {
        format!(
            "{} is not a date; use YYYY-MM-DD, e.g. 2025-10-15 (a day alone, without a time)",
            crate::model::preview(text)
        )
    })?;
    within_the_years(date)
}

/// `date`, if it lies in [`YEARS`], as every date followup stores must.
pub fn within_the_years(date: Date) -> Result<Date, String> {
    if YEARS.contains(&date.year()) {
        return Ok(date);
    }
    Err(format!(
        "{date} is not a date followup works with; give a Gregorian date from {} to {}",
        YEARS.start(),
        YEARS.end()
    ))
}

/// Why a deadline ending on `latest` is no promise anyone made, if it is
/// not: a year outside [`YEARS`] is a slip, most often a Hijri year
/// (1447 AH is 2025–26) read as Gregorian, or a digit too few.
fn outside_the_years(latest: Date) -> Option<String> {
    if YEARS.contains(&latest.year()) {
        return None;
    }
    Some(format!(
        "it would end in the year {}; years are read as Gregorian, from {} to {} \
         (1447 AH is 2025–26): give the Gregorian year",
        latest.year(),
        YEARS.start(),
        YEARS.end()
    ))
}

fn plain_date(expression: &str, anchor: Date) -> Option<Deadline> {
    if !has_iso_date_shape(expression.as_bytes()) {
        return None;
    }
    let date: Date = expression.parse().ok()?;
    Some(Deadline {
        expression: expression.to_string(),
        earliest: anchor.min(date),
        latest: date,
        vague: false,
        anchor,
    })
}

fn read_at(text: &str, toks: &[Token], i: usize, anchor: Date) -> Option<(Found, usize)> {
    let tok = toks.get(i)?;
    let word = &text[tok.start..tok.end];
    let read = |strip: usize| {
        let cur = Cursor {
            text,
            toks,
            strip_at: i,
            strip,
            anchor,
        };
        match tok.kind {
            Kind::Word if word.is_ascii() => en::read(&cur, i),
            Kind::Word => ar::read(&cur, i),
            _ => longer(en::read(&cur, i), ar::read(&cur, i)),
        }
    };
    let plain = read(0);
    if plain.is_some_and(|p| p.end >= toks.len()) {
        return plain.map(|p| (p, 0));
    }
    // A conjunction glued to the first word: "وخلال", "فقبل". Only when at
    // least two letters remain, so that the stripped word is still a word.
    const GLUE: usize = 'و'.len_utf8();
    let glued = tok.kind == Kind::Word
        && (word.starts_with('و') || word.starts_with('ف'))
        && word.chars().nth(2).is_some();
    let stripped = if glued { read(GLUE) } else { None };
    match (plain, stripped) {
        (Some(p), Some(s)) if s.end > p.end => Some((s, GLUE)),
        (Some(p), _) => Some((p, 0)),
        (None, Some(s)) => Some((s, GLUE)),
        (None, None) => None,
    }
}

/// Runs `f` on a cursor over `text` at its first token, anchored on
/// 2025-10-15 (a Wednesday).
#[cfg(test)]
pub(crate) fn with_cursor<T>(text: &str, f: impl FnOnce(&Cursor) -> T) -> T {
    let folded = Folded::new(text);
    let cur = Cursor {
        text: &folded.text,
        toks: &folded.tokens,
        strip_at: usize::MAX,
        strip: 0,
        anchor: jiff::civil::date(2025, 10, 15),
    };
    f(&cur)
}

/// Helpers the language's test modules share: parse against the seed
/// article's date and look at the window.
#[cfg(test)]
pub(crate) mod testing {
    use super::Deadline;
    use jiff::civil::{Date, date};

    /// 15 October 2025, the seed article's date (a Wednesday).
    pub(crate) const ANCHOR: Date = date(2025, 10, 15);

    /// Earliest and latest of a dated (not vague) expression.
    pub(crate) fn window(expr: &str) -> (Date, Date) {
        let d = Deadline::parse(expr, ANCHOR).unwrap_or_else(|e| panic!("{e}"));
        assert!(!d.vague, "{expr} should not be vague");
        (d.earliest, d.latest)
    }

    pub(crate) fn latest(expr: &str) -> Date {
        window(expr).1
    }

    pub(crate) fn is_vague(expr: &str) -> bool {
        Deadline::parse(expr, ANCHOR)
            .unwrap_or_else(|e| panic!("{e}"))
            .vague
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;
    use proptest::prelude::*;

    /// The shape a byte at a time, as the eight-byte check must read it.
    fn date_shape_bytewise(text: &[u8]) -> bool {
        text.len() == 10
            && text.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            })
    }

    /// Bytes near the ones a date is made of: digits, their neighbours,
    /// the separators, and the same with the high bit set.
    fn near_date_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            4 => b'0'..=b'9',
            1 => prop::sample::select(vec![b'-', b'/', b':', b'?', b'@', 0x2f, 0x3a, 0x40, 0x20]),
            1 => any::<u8>(),
            1 => (b'0'..=b'9').prop_map(|b| b | 0x80),
        ]
    }

    #[test]
    fn every_byte_in_every_place_of_a_date_is_judged_as_one_at_a_time() {
        let good = *b"2025-10-15";
        assert!(has_iso_date_shape(&good));
        for place in 0..good.len() {
            for byte in 0..=u8::MAX {
                let mut text = good;
                text[place] = byte;
                assert_eq!(
                    has_iso_date_shape(&text),
                    date_shape_bytewise(&text),
                    "{place} {byte:#x}"
                );
            }
        }
        for text in [&b""[..], b"2025-10-1", b"2025-10-155", b"2025-10-15\0"] {
            assert!(!has_iso_date_shape(text), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn the_date_shape_is_judged_as_one_at_a_time(
            text in prop::collection::vec(near_date_byte(), 9..=11)
        ) {
            prop_assert_eq!(has_iso_date_shape(&text), date_shape_bytewise(&text));
        }
    }
}

#[cfg(test)]
mod plain_date_tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn day(n: i32) -> Date {
        // Days from 0000-01-01 to 9999-12-31.
        date(0, 1, 1)
            .checked_add(jiff::Span::new().days(n))
            .unwrap()
    }

    proptest! {
        /// The shortcut reads every ISO date, against every anchor, as the
        /// whole language does.
        #[test]
        fn a_plain_date_reads_as_the_language_reads_it(
            // From 0001-01-01: the language reads years 1 to 9999 (the
            // year 0 it refuses, and so does every command, by the year
            // range); day 0 is 0000-01-01.
            due in 366i32..3_652_424,
            anchor in 366i32..3_652_424,
        ) {
            let (due, anchor) = (day(due), day(anchor));
            let expression = format!("{due}");
            prop_assert_eq!(expression.len(), 10);
            let quick = plain_date(&expression, anchor);
            let full = Deadline::read(&expression, anchor, &Options::default()).ok();
            prop_assert!(quick.is_some());
            prop_assert_eq!(quick, full);
        }

        /// Anything else the shortcut leaves to the language: days the
        /// calendar lacks, other lengths, other separators.
        #[test]
        fn only_real_dates_in_the_plain_form_are_taken(text in "[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,3} ?") {
            let anchor = date(2025, 10, 15);
            if let Some(quick) = plain_date(&text, anchor) {
                prop_assert_eq!(Some(quick), Deadline::read(&text, anchor, &Options::default()).ok());
            } else {
                let real = text.len() == 10
                    && !text.contains('/')
                    && text.parse::<Date>().is_ok();
                prop_assert!(!real, "{} was left to the language", text);
            }
        }
    }

    #[test]
    fn days_the_calendar_lacks_keep_the_languages_message() {
        let anchor = date(2025, 10, 15);
        for text in ["2025-02-29", "2025-13-01", "2025-04-31", "2025-00-10"] {
            assert_eq!(plain_date(text, anchor), None, "{text}");
            let err = Deadline::parse_with(text, anchor, &Options::default()).unwrap_err();
            assert_eq!(err.input, text);
        }
        assert!(plain_date("2024-02-29", anchor).is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const ANCHOR: Date = date(2025, 10, 15);

    fn latest(expr: &str) -> Date {
        Deadline::parse(expr, ANCHOR).unwrap().latest
    }

    #[test]
    fn whole_expression_must_be_understood() {
        let err = Deadline::parse("within two months, hopefully", ANCHOR).unwrap_err();
        assert!(err.hint.unwrap().contains("within two months"));
    }

    #[test]
    fn error_quotes_input_and_shows_forms() {
        let err = Deadline::parse("eventually-ish", ANCHOR).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("\"eventually-ish\""), "{shown}");
        assert!(shown.contains("by 30 November 2025"), "{shown}");
    }

    #[test]
    fn the_words_understood_are_quoted_as_typed() {
        // The Arabic is folded for reading (ة as ه); the hint quotes it as
        // the analyst wrote it.
        let err = Deadline::parse("قبل نهاية عام 2026 هـ", ANCHOR).unwrap_err();
        assert!(
            err.hint
                .as_deref()
                .unwrap()
                .contains("\"قبل نهاية عام 2026\""),
            "{err}"
        );
    }

    #[test]
    fn before_a_day_without_a_year_is_never_already_past() {
        let on = |expr: &str, anchor: Date| Deadline::parse(expr, anchor).unwrap().latest;
        // Said on the day itself: next year's, as "by" the day before is.
        let day = date(2025, 10, 16);
        assert_eq!(on("before 16 October", day), date(2026, 10, 15));
        assert_eq!(on("قبل 16 أكتوبر", day), date(2026, 10, 15));
        assert_eq!(on("by 15 October", day), date(2026, 10, 15));
        assert_eq!(on("before 17 October", day), day);
        assert_eq!(on("before November", date(2025, 11, 1)), date(2026, 10, 31));
        assert_eq!(on("قبل نوفمبر", date(2025, 11, 1)), date(2026, 10, 31));
        assert_eq!(
            on("before November", date(2025, 10, 31)),
            date(2025, 10, 31)
        );
        // With its year, a day is the day said, even if already past.
        assert_eq!(on("before 16 October 2025", day), date(2025, 10, 15));
    }

    #[test]
    fn a_leap_day_without_a_year_is_refused_unless_the_coming_february_has_one() {
        let err = Deadline::parse("by 29 February", date(2025, 12, 31)).unwrap_err();
        assert!(
            err.to_string().contains("has no 29th; give the year"),
            "{err}"
        );
        assert!(Deadline::parse("بحلول 29 فبراير", date(2025, 12, 31)).is_err());
        let leap = Deadline::parse("by 29 February", date(2027, 3, 1)).unwrap();
        assert_eq!(leap.latest, date(2028, 2, 29));
    }

    #[test]
    fn years_outside_the_gregorian_years_in_use_are_refused_and_not_found() {
        // 1447 AH is 2025-26: read as a Gregorian year it is no deadline.
        for expr in [
            "قبل نهاية عام 1447",
            "in 0001",
            "1447-12-31",
            "by 1 January 2200",
        ] {
            let err = Deadline::parse(expr, ANCHOR).unwrap_err();
            assert!(
                err.to_string().contains("years are read as Gregorian"),
                "{expr}: {err}"
            );
        }
        assert_eq!(latest("by 31 December 2199"), date(2199, 12, 31));
        let text = "وأعلن الجانبان قبل نهاية عام 1447 عن اتفاق يُنفَّذ خلال شهرين";
        let found = find(text, ANCHOR);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].deadline.latest, date(2025, 12, 15));
    }

    #[test]
    fn a_month_or_year_alone_is_refused_with_a_form_that_reads() {
        for (expr, said) in [
            ("by November", "by the end of November"),
            ("by 2030", "by the end of 2030"),
            ("December 2025", "by the end of December 2025"),
            ("بحلول نوفمبر", "بحلول نهاية نوفمبر"),
            ("بحلول 2030", "بحلول نهاية 2030"),
        ] {
            let err = Deadline::parse(expr, ANCHOR).unwrap_err().to_string();
            assert!(
                err.contains("could mean its first day or its last")
                    && err.contains(&format!("{said:?}")),
                "{expr}: {err}"
            );
            assert!(Deadline::parse(said, ANCHOR).is_ok(), "{said}");
        }
        // Nothing to suggest for what is not a period at all.
        let err = Deadline::parse("by someday", ANCHOR).unwrap_err();
        assert_eq!(err.hint, None);
    }

    #[test]
    fn a_month_first_date_is_refused_with_the_day_first_form() {
        let err = Deadline::parse("by 11/30/2025", ANCHOR).unwrap_err();
        assert!(
            err.to_string()
                .contains("numeric dates are read day first; for that day write 30/11/2025"),
            "{err}"
        );
        // A day that exists neither way gets the plain hint.
        let err = Deadline::parse("by 31/11/2025", ANCHOR).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn impossible_date_is_an_error_with_a_hint() {
        let err = Deadline::parse("by 31 November 2025", ANCHOR).unwrap_err();
        assert_eq!(err.hint.as_deref(), Some(Problem::NoSuchDate.hint()));
    }

    #[test]
    fn empty_and_punctuation_only_are_errors() {
        assert!(Deadline::parse("", ANCHOR).is_err());
        assert!(Deadline::parse(" .,; ", ANCHOR).is_err());
    }

    #[test]
    fn surrounding_punctuation_is_ignored() {
        assert_eq!(latest("\"within two months.\""), date(2025, 12, 15));
        assert_eq!(latest("«في غضون شهرين»."), date(2025, 12, 15));
    }

    #[test]
    fn glued_conjunction_is_stripped_from_the_first_word() {
        assert_eq!(latest("وخلال شهرين"), date(2025, 12, 15));
        assert_eq!(latest("وبحلول نهاية العام"), date(2025, 12, 31));
    }

    #[test]
    fn vague_horizon_comes_from_options() {
        let o = Options {
            vague_horizon_days: 10,
        };
        let d = Deadline::parse_with("قريباً", ANCHOR, &o).unwrap();
        assert_eq!(
            (d.earliest, d.latest, d.vague),
            (ANCHOR, date(2025, 10, 25), true)
        );
        let o = Options {
            vague_horizon_days: -5,
        };
        let d = Deadline::parse_with("soon", ANCHOR, &o).unwrap();
        assert_eq!(d.latest, ANCHOR);
    }

    #[test]
    fn deadline_round_trips_through_json_with_plain_dates() {
        let d = Deadline::parse("by 30 November 2025", ANCHOR).unwrap();
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["latest"], "2025-11-30");
        assert_eq!(json["earliest"], "2025-10-15");
        assert_eq!(json["vague"], false);
        let back: Deadline = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn stated_beats_vague_then_earlier_latest_then_narrower() {
        let p = |e: &str| Deadline::parse(e, ANCHOR).unwrap();
        assert!(p("within six months").is_sharper_than(&p("soon")));
        assert!(p("by the end of November").is_sharper_than(&p("within two months")));
        assert!(p("next month").is_sharper_than(&p("by the end of November")));
        assert!(!p("next month").is_sharper_than(&p("next month")));
    }

    #[test]
    fn sharpest_of_none_is_none() {
        assert!(sharpest(&[]).is_none());
    }

    const SEED: &str = "كما تم الاتفاق على عقد اجتماع للجنة حكومية دولية مشتركة في المستقبل القريب لمتابعة تنفيذ الاتفاقات التي تم التوصل إليها. لم يتم تحديد موعد محدد للاجتماع حتى الآن، لكن من المتوقع أن يعقد في غضون شهرين.";

    #[test]
    fn seed_sentence_yields_both_mentions_with_original_spans() {
        let found = find(SEED, ANCHOR);
        let texts: Vec<&str> = found.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["في المستقبل القريب", "في غضون شهرين"]);
        for m in &found {
            assert_eq!(&SEED[m.span.clone()], m.text);
            assert_eq!(m.deadline.expression, m.text);
        }
        assert!(found[0].deadline.vague);
        assert_eq!(found[1].deadline.latest, date(2025, 12, 15));
        assert_eq!(sharpest(&found).unwrap().text, "في غضون شهرين");
    }

    #[test]
    fn spans_cover_diacritics_and_skip_glued_conjunctions() {
        let text = "\u{200F}وخلالَ شهرينِ\u{200F} سيُعقد";
        let found = find(text, ANCHOR);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].text, "خلالَ شهرينِ");
    }

    #[test]
    fn find_skips_dates_without_a_deadline_word() {
        let text = "التقى الرئيسان في موسكو يوم 15 أكتوبر 2025، ووعدا بالرد بحلول 30 نوفمبر 2025.";
        let found = find(text, ANCHOR);
        let texts: Vec<&str> = found.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["بحلول 30 نوفمبر 2025"]);
    }

    #[test]
    fn find_matches_whole_words_only() {
        // "وأحدث" holds "احد" (one) and "شهر" stands in "مشهرة"; neither
        // is a deadline.
        let found = find("وأحدث تقرير عن الشركة المشهرة خلال الحرب", ANCHOR);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn find_on_text_without_deadlines_is_empty() {
        assert!(find("", ANCHOR).is_empty());
        assert!(find("The talks focused on energy.", ANCHOR).is_empty());
    }
}
