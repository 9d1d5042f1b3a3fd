//! The English grammar of deadlines, over normalised (lowercase) tokens.
//!
//! Owns the English words and phrase shapes of every family — relative
//! ("within two months"), period end ("by the end of Q2 2026"), whole period
//! ("next month"), mid-month ("by mid-November"), dates ("by 30 November
//! 2025", "before 2025-12-01") and vague ("in the coming weeks") — and which
//! calendar question each one asks. Does not own calendar arithmetic
//! (`calendar`), number words (`numbers`) or choosing between readings
//! (`mod`).

use super::calendar::{self, DaySpec, Period, Pivot, Unit, YearRef};
use super::{Cursor, Filter, Found, WordSet, among, longer, numbers, numeric_date, same};

/// Units of relative deadlines, and whether the form is plural.
const UNITS: &[(&str, (Unit, bool))] = &[
    ("hour", (Unit::Hour, false)),
    ("hours", (Unit::Hour, true)),
    ("hrs", (Unit::Hour, true)),
    ("day", (Unit::Day, false)),
    ("days", (Unit::Day, true)),
    ("week", (Unit::Week, false)),
    ("weeks", (Unit::Week, true)),
    ("fortnight", (Unit::Fortnight, false)),
    ("fortnights", (Unit::Fortnight, true)),
    ("month", (Unit::Month, false)),
    ("months", (Unit::Month, true)),
    ("quarter", (Unit::Quarter, false)),
    ("quarters", (Unit::Quarter, true)),
    ("year", (Unit::Year, false)),
    ("years", (Unit::Year, true)),
];

const MONTHS: &[(&str, i8)] = &[
    ("january", 1),
    ("jan", 1),
    ("february", 2),
    ("feb", 2),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("june", 6),
    ("jun", 6),
    ("july", 7),
    ("jul", 7),
    ("august", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("october", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
    ("dec", 12),
];

const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Words that introduce a date or a period end, and what they make of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// Inclusive: "by", "until", "no later than".
    By,
    /// Exclusive: "before", "prior to" — the day before a date.
    Before,
    /// "on": the day itself, an event date rather than a deadline.
    On,
}

const CUES: &[(&[&str], Cue)] = &[
    (&["by"], Cue::By),
    (&["until"], Cue::By),
    (&["till"], Cue::By),
    (&["no", "later", "than"], Cue::By),
    (&["not", "later", "than"], Cue::By),
    (&["on", "or", "before"], Cue::By),
    (&["at", "the", "latest", "by"], Cue::By),
    (&["before"], Cue::Before),
    (&["prior", "to"], Cue::Before),
    (&["ahead", "of"], Cue::Before),
    (&["on"], Cue::On),
];

/// Vague deadlines that are fixed phrases.
const VAGUE: &[&[&str]] = &[
    &["soon"],
    &["very", "soon"],
    &["shortly"],
    &["imminently"],
    &["before", "long"],
    &["in", "the", "near", "future"],
    &["in", "the", "very", "near", "future"],
    &["in", "the", "foreseeable", "future"],
    &["in", "the", "not", "too", "distant", "future"],
    &["in", "the", "near", "term"],
    &["in", "the", "short", "term"],
    &["at", "a", "later", "date"],
    &["at", "a", "later", "stage"],
    &["at", "a", "later", "time"],
    &["at", "a", "later", "point"],
    &["at", "an", "unspecified", "date"],
    &["at", "an", "unspecified", "later", "date"],
    &["at", "a", "date", "to", "be", "determined"],
    &["at", "a", "date", "yet", "to", "be", "set"],
    &["in", "due", "course"],
    &["as", "soon", "as", "possible"],
    &["asap"],
    &["at", "the", "earliest", "opportunity"],
];

/// Openings of "in the coming weeks"-style vague deadlines: followed by a
/// plural unit (or "period") without a number.
const VAGUE_HEADS: &[&[&str]] = &[
    &["within"],
    &["in", "the", "coming"],
    &["over", "the", "coming"],
    &["during", "the", "coming"],
    &["within", "the", "coming"],
    &["in", "the", "next", "few"],
    &["over", "the", "next", "few"],
    &["during", "the", "next", "few"],
    &["within", "the", "next", "few"],
    &["in", "the", "next"],
    &["over", "the", "next"],
    &["within", "the", "next"],
    &["in", "the", "following"],
    &["in", "a", "few"],
    &["within", "a", "few"],
    &["in", "several"],
    &["within", "several"],
    &["in", "a", "matter", "of"],
    &["within", "a", "matter", "of"],
    // Needs "ahead" or "to come" after the unit: "in the weeks ahead".
    &["in", "the"],
    &["over", "the"],
];

/// Openings of relative deadlines: "within", "in", "over the next", ...
const RELATIVE_HEADS: &[&[&str]] = &[
    &["within"],
    &["in"],
    &["inside"],
    &["inside", "of"],
    &["after"],
    &["no", "later", "than"],
    &["not", "later", "than"],
    &["no", "more", "than"],
    &["not", "more", "than"],
    &["in", "no", "more", "than"],
    &["within", "no", "more", "than"],
    &["in", "less", "than"],
    &["within", "less", "than"],
    &["in", "under"],
    &["within", "the", "space", "of"],
    &["within", "a", "period", "of"],
    &["within", "a", "maximum", "of"],
    &["in", "a", "period", "of"],
    &["within", "another"],
    &["in", "another"],
    &["within", "a", "further"],
    &["in", "a", "further"],
];

/// After a relative head: "the next month" (one unit) or "the next two
/// months". "over"/"during" need one of these.
const NEXT_FILLERS: &[&[&str]] = &[&["the", "next"], &["the", "coming"], &["the", "following"]];

/// After an amount: "two weeks from now", "in two weeks' time".
const RELATIVE_TAILS: &[&[&str]] = &[
    &["from", "now"],
    &["from", "today"],
    &["hence"],
    &["time"],
    &["'", "time"],
    &["'", "s", "time"],
    &["from", "the", "announcement"],
    &["of", "the", "announcement"],
    &["after", "the", "announcement"],
    &["from", "the", "date", "of", "the", "announcement"],
];

/// "year-end" and friends: the end of the current period, said in one word.
const PERIOD_END_WORDS: &[(&[&str], Period)] = &[
    (&["year", "-", "end"], Period::Year(YearRef::This)),
    (&["year", "end"], Period::Year(YearRef::This)),
    (&["yearend"], Period::Year(YearRef::This)),
    (&["year", "'", "s", "end"], Period::Year(YearRef::This)),
    (
        &["the", "year", "'", "s", "end"],
        Period::Year(YearRef::This),
    ),
    (&["end", "-", "year"], Period::Year(YearRef::This)),
    (&["month", "-", "end"], Period::Month(0)),
    (&["month", "end"], Period::Month(0)),
    (&["end", "-", "month"], Period::Month(0)),
    (&["quarter", "-", "end"], Period::Quarter(0)),
    (&["quarter", "end"], Period::Quarter(0)),
    (&["week", "'", "s", "end"], Period::Week(0)),
    (&["the", "week", "'", "s", "end"], Period::Week(0)),
];

/// Ordinals naming a quarter or a half ("the *second* quarter").
const ORDINALS: &[(&str, i8)] = &[("first", 1), ("second", 2), ("third", 3), ("fourth", 4)];

const ORDINAL_SUFFIXES: &[&str] = &["st", "nd", "rd", "th"];

/// Shifts before a period noun: "this month", "next year".
const SHIFTS: &[(&[&str], i64)] = &[
    (&["this"], 0),
    (&["the"], 0),
    (&["current"], 0),
    (&["the", "current"], 0),
    (&["next"], 1),
    (&["the", "next"], 1),
    (&["the", "coming"], 1),
    (&["the", "following"], 1),
    (&["following"], 1),
];

/// Words a relative, whole-period or period-end expression may start with,
/// besides cues, month names and numbers.
const STARTERS: WordSet = WordSet::new(&[
    "within",
    "in",
    "inside",
    "after",
    "over",
    "during",
    "no",
    "not",
    "the",
    "end",
    "year",
    "yearend",
    "month",
    "quarter",
    "week",
    "next",
    "this",
    "later",
    "soon",
    "very",
    "shortly",
    "imminently",
    "at",
    "as",
    "asap",
    "mid",
    "middle",
    "q",
    "h",
    "sometime",
    "some",
    "today",
    "tomorrow",
    "a",
    "an",
    "couple",
]);

/// Whether an English word can begin an expression (see `mod::could_start`).
pub(crate) fn could_start(word: &str) -> bool {
    STARTERS.contains(word)
        || CUES.iter().any(|(p, _)| same(p[0], word))
        || MONTHS.iter().any(|(m, _)| same(m, word))
        || among(WEEKDAYS, word)
        || numbers_word(word)
}

fn numbers_word(word: &str) -> bool {
    matches!(
        word,
        "one"
            | "two"
            | "three"
            | "four"
            | "five"
            | "six"
            | "seven"
            | "eight"
            | "nine"
            | "ten"
            | "eleven"
            | "twelve"
            | "fifteen"
            | "twenty"
            | "thirty"
            | "forty"
            | "fifty"
            | "sixty"
            | "ninety"
    )
}

/// The families, in the order that breaks ties between equally long
/// readings.
const FAMILIES: [fn(&Cursor, usize) -> Option<Found>; 6] =
    [vague, relative, period_end, whole_period, mid_month, dated];

/// The longest English reading at `i`.
pub(crate) fn read(cur: &Cursor, i: usize) -> Option<Found> {
    let mut best = None;
    for family in FAMILIES {
        best = longer(best, family(cur, i));
        // Nothing can be longer than a reading of every token left.
        if cur.covers(best) {
            break;
        }
    }
    best
}

fn cue_at(cur: &Cursor, i: usize) -> (Option<Cue>, usize) {
    const FIRSTS: Filter = Filter::firsts_of(CUES);
    if !FIRSTS.maybe(cur.word(i)) {
        return (None, i);
    }
    match cur.longest(i, CUES) {
        Some((end, cue)) => (Some(cue), end),
        None => (None, i),
    }
}

fn skip(cur: &Cursor, i: usize, word: &str) -> usize {
    if cur.is(i, word) { i + 1 } else { i }
}

/// "soon", "in the near future", "in the coming weeks", "within days".
fn vague(cur: &Cursor, i: usize) -> Option<Found> {
    const FIRSTS: Filter = Filter::firsts(VAGUE).with_all(&["within", "in", "over", "during"]);
    if !FIRSTS.maybe(cur.word(i)) {
        return None;
    }
    let mut best = cur.any(i, VAGUE).map(Found::vague);
    for (head, j) in cur.each(i, VAGUE_HEADS) {
        let plural_unit =
            |k: usize| cur.is(k, "period") || matches!(cur.lookup(k, UNITS), Some((_, true)));
        if !plural_unit(j) {
            continue;
        }
        let mut k = j + 1;
        // "in the coming weeks and months"
        if (cur.is(k, "and") || cur.is(k, "or")) && plural_unit(k + 1) {
            k += 2;
        }
        let after = cur
            .seq(k, &["ahead"])
            .or_else(|| cur.seq(k, &["to", "come"]));
        let end = match (*head == ["in", "the"] || *head == ["over", "the"], after) {
            (true, None) => continue,
            (_, Some(e)) => e,
            (false, None) => k,
        };
        best = longer(best, Some(Found::vague(end)));
    }
    best
}

/// "within two months", "in 72 hours", "over the next year", "two weeks
/// from now".
fn relative(cur: &Cursor, i: usize) -> Option<Found> {
    const FIRSTS: Filter = Filter::firsts(RELATIVE_HEADS).with_all(&["over", "during"]);
    if !FIRSTS.maybe(cur.word(i)) {
        // Only "two weeks from now" starts without a head.
        return amount(cur, i, false, true);
    }
    let mut best = None;
    let plain = cur.each(i, RELATIVE_HEADS).map(|(_, j)| j);
    // "over/during the next ..." only with a "next"-filler after them.
    let next_only = [["over"], ["during"]]
        .into_iter()
        .filter_map(|h| cur.seq(i, &h))
        .filter(|&j| cur.any(j, NEXT_FILLERS).is_some());
    for j in plain.chain(next_only) {
        let (after_next, j) = match cur.any(j, NEXT_FILLERS) {
            Some(k) => (true, k),
            None => (false, j),
        };
        best = longer(best, amount(cur, j, after_next, false));
    }
    // "two weeks from now": no head, but a tail is required.
    longer(best, amount(cur, i, false, true))
}

/// An amount and unit at `j` of a relative deadline starting at `i`.
fn amount(cur: &Cursor, j: usize, after_next: bool, needs_tail: bool) -> Option<Found> {
    // "a few weeks", "several months": a number of units nobody stated.
    if let Some(k) = cur.any(
        j,
        &[
            &["a", "few"],
            &["few"],
            &["several"],
            &["some"],
            &["a", "number", "of"],
        ],
    ) && let Some((_, true)) = cur.lookup(k, UNITS)
    {
        return Some(Found::vague(k + 1)).filter(|_| !needs_tail);
    }
    let (n, k) = match numbers::english(cur, j) {
        Some((n, k)) => {
            // A range states its far end: "six to eight weeks".
            match cur.word(k) {
                "to" | "-" | "or" => match numbers::english(cur, k + 1) {
                    Some((m, k2)) if cur.lookup(k2, UNITS).is_some() => (n.max(m), k2),
                    _ => (n, k),
                },
                _ => (n, k),
            }
        }
        // "within the next month": one unit.
        None if after_next => (1, j),
        None => return None,
    };
    let k = skip(cur, k, "calendar");
    let (unit, plural) = cur.lookup(k, UNITS)?;
    if after_next && k == j && plural {
        return None;
    }
    let mut end = k + 1;
    let tail = cur
        .any(end, RELATIVE_TAILS)
        .or_else(|| event_tail(cur, end));
    match (tail, needs_tail) {
        (Some(t), _) => end = t,
        (None, true) => return None,
        (None, false) => {}
    }
    Some(Found::until(
        end,
        cur.anchor,
        calendar::add(cur.anchor, n, unit),
    ))
}

/// "of the agreement", "after the signing", "from the meeting": the event
/// the amount counts from, which is what the announcement reports and so
/// the anchor.
fn event_tail(cur: &Cursor, i: usize) -> Option<usize> {
    let j = match cur.word(i) {
        "of" | "after" | "from" | "following" => i + 1,
        _ => return None,
    };
    let j = cur.seq(j, &["the"]).or_else(|| cur.seq(j, &["its"]))?;
    let event = cur.word(j);
    let is_word = !event.is_empty() && event.bytes().all(|b| b.is_ascii_lowercase());
    is_word.then_some(j + 1)
}

/// A period that an end-of or whole-period expression points at: "the
/// year", "next month", "Q2 2026", "the first quarter", "November".
fn period_target(cur: &Cursor, i: usize) -> Option<(Period, usize)> {
    let mut best: Option<(Period, usize)> = None;
    let mut offer = |p: Option<(Period, usize)>| {
        if let Some((period, end)) = p
            && best.is_none_or(|(_, e)| end > e)
        {
            best = Some((period, end));
        }
    };
    // "the year", "this month", "the next quarter", "the week"
    let shifted = cur.longest(i, SHIFTS).unwrap_or((i, 0));
    for (j, shift) in [shifted, (i, 0)] {
        let p = match cur.word(j) {
            "day" if shift == 0 => Some(Period::Day),
            "week" => Some(Period::Week(shift)),
            "month" => Some(Period::Month(shift)),
            "quarter" => Some(Period::Quarter(shift)),
            "year" => Some(Period::Year(if shift == 0 {
                YearRef::This
            } else {
                YearRef::Next
            })),
            _ => None,
        };
        // A bare noun ("end of month") or one after a shift word.
        offer(p.map(|p| (p, j + 1)));
        // "the year 2026"
        if cur.is(j, "year") && j > i {
            offer(
                cur.year(j + 1)
                    .map(|y| (Period::Year(YearRef::Given(y)), j + 2)),
            );
        }
    }
    let j = skip(cur, i, "the");
    // "2026"
    offer(
        cur.year(j)
            .map(|y| (Period::Year(YearRef::Given(y)), j + 1)),
    );
    // "Q2 2026", "H1"
    for (letter, max) in [("q", 4), ("h", 2)] {
        if cur.is(j, letter)
            && let Some(n) = cur.small(j + 1).filter(|n| (1..=max).contains(n))
        {
            let n = n as i8;
            let (year, end) = year_after(cur, j + 2);
            let p = if letter == "q" {
                Period::NamedQuarter(n, year)
            } else {
                Period::Half(n, year)
            };
            offer(Some((p, end)));
        }
    }
    // "the first quarter (of next year)", "the second half of 2026"
    if let Some((n, k)) = ordinal(cur, j) {
        let kind = cur.word(k);
        if (kind == "quarter" && n <= 4) || (kind == "half" && n <= 2) {
            let (year, end) = year_after(cur, k + 1);
            let p = if kind == "quarter" {
                Period::NamedQuarter(n, year)
            } else {
                Period::Half(n, year)
            };
            offer(Some((p, end)));
        }
    }
    if let Some((kind, k)) = cur
        .seq(j, &["last"])
        .or_else(|| cur.seq(j, &["final"]))
        .map(|k| (cur.word(k), k))
    {
        let n = match kind {
            "quarter" => Some(4),
            "half" => Some(2),
            _ => None,
        };
        if let Some(n) = n {
            let (year, end) = year_after(cur, k + 1);
            let p = if kind == "quarter" {
                Period::NamedQuarter(n, year)
            } else {
                Period::Half(n, year)
            };
            offer(Some((p, end)));
        }
    }
    // "November", "November 2025", "next November"
    offer(named_month(cur, j).map(|(m, y, end)| (Period::NamedMonth(m, y), end)));
    best
}

/// The month named at `i`.
fn month(cur: &Cursor, i: usize) -> Option<i8> {
    const WORDS: Filter = Filter::words_of(MONTHS);
    if WORDS.maybe(cur.word(i)) {
        cur.lookup(i, MONTHS)
    } else {
        None
    }
}

fn ordinal(cur: &Cursor, i: usize) -> Option<(i8, usize)> {
    if let Some(n) = cur.lookup(i, ORDINALS) {
        return Some((n, i + 1));
    }
    let n = cur.small(i)?;
    if among(ORDINAL_SUFFIXES, cur.word(i + 1)) && (1..=4).contains(&n) {
        return Some((n as i8, i + 2));
    }
    None
}

/// The year a quarter, half or month belongs to, if stated after it:
/// "2026", "of 2026", "of next year", "of this year". Unstated: the next
/// one not yet passed.
fn year_after(cur: &Cursor, i: usize) -> (YearRef, usize) {
    if let Some(y) = cur.year(i) {
        return (YearRef::Given(y), i + 1);
    }
    if (cur.is(i, "of") || cur.is(i, ","))
        && let Some(y) = cur.year(i + 1)
    {
        return (YearRef::Given(y), i + 2);
    }
    const OF_YEAR: &[(&[&str], YearRef)] = &[
        (&["of", "this", "year"], YearRef::This),
        (&["of", "the", "year"], YearRef::This),
        (&["of", "the", "current", "year"], YearRef::This),
        (&["this", "year"], YearRef::This),
        (&["of", "next", "year"], YearRef::Next),
        (&["of", "the", "next", "year"], YearRef::Next),
        (&["of", "the", "following", "year"], YearRef::Next),
        (&["of", "the", "coming", "year"], YearRef::Next),
        (&["next", "year"], YearRef::Next),
    ];
    match cur.longest(i, OF_YEAR) {
        Some((end, y)) => (y, end),
        None => (YearRef::Upcoming, i),
    }
}

/// "November", "Nov. 2025", "next November", "this November".
fn named_month(cur: &Cursor, i: usize) -> Option<(i8, YearRef, usize)> {
    let (which, j) = match cur.word(i) {
        "next" => (Some(YearRef::AfterCurrent), i + 1),
        "this" => (Some(YearRef::This), i + 1),
        _ => (None, i),
    };
    let m = month(cur, j)?;
    let k = skip(cur, j + 1, ".");
    match which {
        Some(w) => Some((m, w, k)),
        None => {
            let (year, end) = year_after(cur, k);
            Some((m, year, end))
        }
    }
}

/// "by the end of the year", "before the end of the month", "end of Q2
/// 2026", "by year-end".
fn period_end(cur: &Cursor, i: usize) -> Option<Found> {
    let (cue, j) = cue_at(cur, i);
    if cue == Some(Cue::On) {
        return None;
    }
    let j = match cur.seq(j, &["at"]) {
        Some(k) if cue.is_none() => k,
        _ => j,
    };
    let mut best: Option<(Period, usize)> = cur.longest(j, PERIOD_END_WORDS).map(|(e, p)| (p, e));
    let k = skip(cur, j, "the");
    let of = cur
        .seq(k, &["end", "of"])
        .or_else(|| cur.seq(k, &["close", "of"]))
        .or_else(|| cur.seq(k, &["end", "-", "of"]))
        // "end-Q1 2026", "end-November"
        .or_else(|| cur.seq(k, &["end", "-"]));
    if let Some(of) = of
        && let Some((p, e)) = period_target(cur, of)
        && best.is_none_or(|(_, b)| e > b)
    {
        best = Some((p, e));
    }
    // "by end-2025", "by end 2025"
    if cur.is(k, "end") {
        let y = skip(cur, k + 1, "-");
        if let Some(year) = cur.year(y)
            && best.is_none_or(|(_, b)| y + 1 > b)
        {
            best = Some((Period::Year(YearRef::Given(year)), y + 1));
        }
    }
    let (period, end) = best?;
    let latest = period.bounds(cur.anchor, Pivot::End).map(|(_, e)| e);
    Some(Found::until(end, cur.anchor, latest))
}

/// "next month", "this year", "later this month", "in November", "during
/// Q1 2026", "in 2026".
fn whole_period(cur: &Cursor, i: usize) -> Option<Found> {
    const OPEN: &[&[&str]] = &[
        &["during"],
        &["sometime"],
        &["some", "time"],
        &["sometime", "during"],
        &["later"],
        &["later", "in"],
        &["in"],
        &["sometime", "in"],
        &["some", "time", "in"],
    ];
    let mut best = None;
    let starts = std::iter::once(i).chain(cur.each(i, OPEN).map(|(_, j)| j));
    for j in starts {
        let headed = j > i;
        // "next month", "this year": need no opening word.
        let relative = match (cur.word(j), cur.word(j + 1)) {
            ("next", "week") => Some(Period::Week(1)),
            ("next", "month") => Some(Period::Month(1)),
            ("next", "quarter") => Some(Period::Quarter(1)),
            ("next", "year") => Some(Period::Year(YearRef::Next)),
            ("this", "week") => Some(Period::Week(0)),
            ("this", "month") => Some(Period::Month(0)),
            ("this", "quarter") => Some(Period::Quarter(0)),
            ("this", "year") => Some(Period::Year(YearRef::This)),
            ("the", "year") if cur.is(i, "later") => Some(Period::Year(YearRef::This)),
            ("the", "month") if cur.is(i, "later") => Some(Period::Month(0)),
            _ => None,
        };
        if let Some(p) = relative {
            best = longer(
                best,
                Some(Found::period(
                    j + 2,
                    cur.anchor,
                    p.bounds(cur.anchor, Pivot::End),
                )),
            );
        }
        // "in November", "in 2026", "in Q1 2026", "in the first half of 2026"
        if headed
            && !cur.is(i, "later")
            && let Some((p, end)) = period_target(cur, j)
        {
            let named = matches!(
                p,
                Period::NamedMonth(..)
                    | Period::NamedQuarter(..)
                    | Period::Half(..)
                    | Period::Year(YearRef::Given(_))
            );
            if named {
                best = longer(
                    best,
                    Some(Found::period(
                        end,
                        cur.anchor,
                        p.bounds(cur.anchor, Pivot::End),
                    )),
                );
            }
        }
    }
    best
}

/// "by mid-November", "by the middle of next month", "mid-December 2025".
fn mid_month(cur: &Cursor, i: usize) -> Option<Found> {
    let (cue, j) = cue_at(cur, i);
    if cue == Some(Cue::On) {
        return None;
    }
    let k = cur
        .seq(j, &["mid", "-"])
        .or_else(|| cur.seq(j, &["mid"]))
        .or_else(|| cur.seq(j, &["the", "middle", "of"]))
        .or_else(|| cur.seq(j, &["middle", "of"]))?;
    let (period, end) = match (cur.word(k), cur.word(k + 1)) {
        ("next", "month") => (Period::Month(1), k + 2),
        ("this" | "the", "month") => (Period::Month(0), k + 2),
        ("month", _) => (mid_of_current_or_next(cur), k + 1),
        _ => {
            let (m, y, e) = named_month(cur, k)?;
            (Period::NamedMonth(m, y), e)
        }
    };
    let mid = period
        .bounds(cur.anchor, Pivot::Mid)
        .and_then(|(start, _)| calendar::add_days(start, 14));
    let latest = match cue {
        Some(Cue::Before) => mid.and_then(|d| calendar::add_days(d, -1)),
        _ => mid,
    };
    Some(Found::until(end, cur.anchor, latest))
}

/// "mid-month": this month's 15th, or next month's once it has passed.
pub(crate) fn mid_of_current_or_next(cur: &Cursor) -> Period {
    if cur.anchor.day() <= 15 {
        Period::Month(0)
    } else {
        Period::Month(1)
    }
}

/// "by 30 November 2025", "before 2025-12-01", "until November 30",
/// "before November", "before 2026", "on 1 December", "30/11/2025".
fn dated(cur: &Cursor, i: usize) -> Option<Found> {
    let (cue, j) = cue_at(cur, i);
    let mut best = None;
    let seen_from = match cue {
        Some(Cue::Before) => cur.for_the_day_before(),
        _ => *cur,
    };
    if let Some((end, date)) = date_at(&seen_from, j) {
        best = Some(match cue {
            Some(Cue::By) => Found::until(end, cur.anchor, date),
            Some(Cue::Before) => Found::until(
                end,
                cur.anchor,
                date.and_then(|d| calendar::add_days(d, -1)),
            ),
            Some(Cue::On) => Found::span(end, date.map(|d| (d, d))).without_cue(),
            None => Found::until(end, cur.anchor, date).without_cue(),
        });
    }
    if cue == Some(Cue::Before) {
        // "before November": the last day of October.
        let start = if let Some((m, y, end)) = named_month(cur, j) {
            Some((Period::NamedMonth(m, y), end))
        } else {
            cur.year(j)
                .map(|y| (Period::Year(YearRef::Given(y)), j + 1))
        };
        if let Some((p, end)) = start {
            let latest = p
                .bounds(seen_from.anchor, Pivot::Start)
                .and_then(|(s, _)| calendar::add_days(s, -1));
            best = longer(best, Some(Found::until(end, cur.anchor, latest)));
        }
    }
    best
}

/// A calendar day: numeric, "30 November 2025", "the 30th of November",
/// "November 30, 2025", "Sunday, 30 November", "today", "tomorrow".
fn date_at(cur: &Cursor, i: usize) -> Option<(usize, calendar::Calc<jiff::civil::Date>)> {
    let i = if among(WEEKDAYS, cur.word(i)) {
        skip(cur, i + 1, ",")
    } else {
        i
    };
    match cur.word(i) {
        "today" => return Some((i + 1, Ok(cur.anchor))),
        "tomorrow" => return Some((i + 1, calendar::add_days(cur.anchor, 1))),
        _ => {}
    }
    if let Some(found) = numeric_date(cur, i) {
        return Some(found);
    }
    let day_at = |k: usize| -> Option<(u64, usize)> {
        let d = cur.small(k)?;
        let k = if among(ORDINAL_SUFFIXES, cur.word(k + 1)) {
            k + 2
        } else {
            k + 1
        };
        Some((d, k))
    };
    let spec = |day: u64, month: i8, k: usize| {
        let (year, end) = match cur.year(skip(cur, k, ",")) {
            Some(y) => (YearRef::Given(y), skip(cur, k, ",") + 1),
            None => (YearRef::Upcoming, k),
        };
        (end, DaySpec { day, month, year }.resolve(cur.anchor))
    };
    // "30 November 2025", "the 30th of November"
    let j = skip(cur, i, "the");
    if let Some((day, k)) = day_at(j) {
        let k = skip(cur, k, "of");
        if let Some(m) = month(cur, k) {
            return Some(spec(day, m, skip(cur, k + 1, ".")));
        }
    }
    // "November 30, 2025"
    let m = month(cur, i)?;
    let (day, k) = day_at(skip(cur, i + 1, "."))?;
    Some(spec(day, m, k))
}

#[cfg(test)]
mod tests {
    use super::super::Deadline;
    use jiff::civil::date;

    use super::super::testing::{ANCHOR, is_vague, latest, window};

    #[test]
    fn relative_units() {
        assert_eq!(latest("within 72 hours"), date(2025, 10, 18));
        assert_eq!(latest("within 10 days"), date(2025, 10, 25));
        assert_eq!(latest("within a fortnight"), date(2025, 10, 29));
        assert_eq!(latest("within two quarters"), date(2026, 4, 15));
        assert_eq!(latest("within a year"), date(2026, 10, 15));
    }

    #[test]
    fn relative_openings_and_tails() {
        for e in [
            "in two weeks",
            "in the next two weeks",
            "over the next two weeks",
            "no later than two weeks from now",
            "two weeks from now",
            "in two weeks' time",
            "within a period of two weeks",
            "within the next fortnight",
            "within two weeks of the agreement",
            "in two weeks after the signing",
        ] {
            assert_eq!(latest(e), date(2025, 10, 29), "{e}");
        }
    }

    #[test]
    fn within_the_next_month_is_one_month() {
        assert_eq!(latest("within the next month"), date(2025, 11, 15));
    }

    #[test]
    fn range_takes_its_far_end() {
        assert_eq!(latest("within six to eight weeks"), date(2025, 12, 10));
        assert_eq!(latest("in 6-8 weeks"), date(2025, 12, 10));
    }

    #[test]
    fn relative_window_starts_at_anchor() {
        assert_eq!(window("within two months").0, ANCHOR);
    }

    #[test]
    fn period_ends() {
        assert_eq!(latest("by the end of the week"), date(2025, 10, 19));
        assert_eq!(latest("by the end of next week"), date(2025, 10, 26));
        assert_eq!(latest("by the end of this quarter"), date(2025, 12, 31));
        assert_eq!(latest("by the end of next quarter"), date(2026, 3, 31));
        assert_eq!(latest("by year-end"), date(2025, 12, 31));
        assert_eq!(latest("by end-2026"), date(2026, 12, 31));
        assert_eq!(latest("by the end of 2026"), date(2026, 12, 31));
        assert_eq!(latest("by the end of the first quarter"), date(2026, 3, 31));
        assert_eq!(
            latest("by the end of the fourth quarter"),
            date(2025, 12, 31)
        );
        assert_eq!(
            latest("by the end of the first quarter of 2027"),
            date(2027, 3, 31)
        );
        assert_eq!(
            latest("by the end of the first half of next year"),
            date(2026, 6, 30)
        );
        assert_eq!(latest("end of Q2 2026"), date(2026, 6, 30));
        assert_eq!(latest("by end-Q1 2026"), date(2026, 3, 31));
        assert_eq!(latest("by the end of the day"), ANCHOR);
        assert_eq!(latest("by the end of November"), date(2025, 11, 30));
        assert_eq!(latest("by the end of September"), date(2026, 9, 30));
    }

    #[test]
    fn whole_periods() {
        assert_eq!(
            window("next week"),
            (date(2025, 10, 20), date(2025, 10, 26))
        );
        assert_eq!(window("next year"), (date(2026, 1, 1), date(2026, 12, 31)));
        assert_eq!(
            window("next quarter"),
            (date(2026, 1, 1), date(2026, 3, 31))
        );
        assert_eq!(window("this month"), (ANCHOR, date(2025, 10, 31)));
        assert_eq!(window("later this year"), (ANCHOR, date(2025, 12, 31)));
        assert_eq!(
            window("in December"),
            (date(2025, 12, 1), date(2025, 12, 31))
        );
        assert_eq!(window("in October"), (ANCHOR, date(2025, 10, 31)));
        assert_eq!(
            window("during Q1 2026"),
            (date(2026, 1, 1), date(2026, 3, 31))
        );
        assert_eq!(window("in 2026"), (date(2026, 1, 1), date(2026, 12, 31)));
    }

    #[test]
    fn mid_month() {
        assert_eq!(latest("by mid-November"), date(2025, 11, 15));
        assert_eq!(latest("by mid October"), date(2025, 10, 15));
        assert_eq!(latest("by mid-September"), date(2026, 9, 15));
        assert_eq!(latest("by the middle of next month"), date(2025, 11, 15));
        assert_eq!(latest("before mid-November"), date(2025, 11, 14));
    }

    #[test]
    fn dates() {
        for e in [
            "by 30 November 2025",
            "by November 30, 2025",
            "by Nov. 30, 2025",
            "until 30/11/2025",
            "no later than 2025-11-30",
            "by the 30th of November",
            "before 1 December 2025",
            "before December 2025",
            "by Sunday, 30 November 2025",
        ] {
            assert_eq!(window(e), (ANCHOR, date(2025, 11, 30)), "{e}");
        }
        assert_eq!(latest("before 2026"), date(2025, 12, 31));
        assert_eq!(
            window("on 1 December 2025"),
            (date(2025, 12, 1), date(2025, 12, 1))
        );
    }

    #[test]
    fn past_dates_keep_earliest_before_latest() {
        assert_eq!(
            window("by 1 March 2025"),
            (date(2025, 3, 1), date(2025, 3, 1))
        );
    }

    #[test]
    fn vague_forms() {
        for e in [
            "soon",
            "shortly",
            "in the near future",
            "in the coming days",
            "in the coming weeks and months",
            "over the coming months",
            "in the weeks ahead",
            "in the months to come",
            "at a later date",
            "within weeks",
            "within a few days",
            "in the next few weeks",
        ] {
            assert!(is_vague(e), "{e}");
        }
    }

    #[test]
    fn not_understood() {
        for e in [
            "by next month",
            "by November",
            "within",
            "within two",
            "within two working days",
            "in the next weeks ahead of time",
            "sometime",
            "by 31/11/2025",
            "within 99999999999999999999 years",
        ] {
            assert!(Deadline::parse(e, ANCHOR).is_err(), "{e}");
        }
    }
}
