//! Properties of the deadline language that must hold for every input, not
//! just the table: no panic on any text, windows that never run backwards,
//! and readings that do not change with spacing, case, Arabic diacritics or
//! bidi marks.
//!
//! Written as a plain module: it runs as its own test binary here and as a
//! module of `tests/tests.rs` in the main crate.

use std::sync::LazyLock;

use followup::deadline::{Deadline, Options, find, find_with};
use jiff::civil::{Date, date};
use proptest::prelude::*;

/// Expressions of the table, to perturb.
static TABLE: LazyLock<Vec<(Date, String)>> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/deadlines.tsv");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            (
                cols.next().unwrap().parse().unwrap(),
                cols.next().unwrap().to_string(),
            )
        })
        .collect()
});

/// Words the grammars know, and some they do not, to build long texts that
/// keep the parser busy rather than bailing out on the first word.
const VOCABULARY: &[&str] = &[
    "within",
    "in",
    "the",
    "next",
    "by",
    "end",
    "of",
    "before",
    "until",
    "no",
    "later",
    "than",
    "two",
    "a",
    "month",
    "months",
    "weeks",
    "year",
    "Q2",
    "first",
    "quarter",
    "mid",
    "-",
    "November",
    "30",
    "2025",
    "/",
    "11",
    "soon",
    "coming",
    "days",
    "near",
    "future",
    ",",
    ".",
    "خلال",
    "في",
    "غضون",
    "شهرين",
    "قبل",
    "نهاية",
    "العام",
    "المقبل",
    "تشرين",
    "الثاني",
    "بحلول",
    "منتصف",
    "حتى",
    "١٥",
    "يوما",
    "أسابيع",
    "المقبلة",
    "المستقبل",
    "القريب",
    "ثلاثة",
    "عشر",
    "وعشرين",
    "و",
    "الربع",
    "الأول",
    "من",
    "عام",
    "2026",
    "99999999999999999999",
    "\u{200F}",
    "ً",
    "ـ",
    "،",
    "قريباً",
    "وأحدث",
    "موسكو",
];

fn anchor() -> impl Strategy<Value = Date> {
    (1900i16..2100, 0i64..366).prop_map(|(y, d)| {
        let start = date(y, 1, 1);
        start
            .checked_add(jiff::Span::new().days(d))
            .unwrap_or(start)
            .min(date(y, 12, 31))
    })
}

/// Anchors near the ends of the calendar jiff supports.
fn edge_anchor() -> impl Strategy<Value = Date> {
    prop_oneof![
        Just(date(9999, 12, 31)),
        Just(date(9999, 1, 1)),
        Just(date(-9999, 1, 1)),
        Just(date(1, 1, 1)),
        anchor(),
    ]
}

fn check_mentions(text: &str, anchor: Date) -> Result<(), TestCaseError> {
    for m in find(text, anchor) {
        prop_assert_eq!(&text[m.span.clone()], m.text.as_str());
        prop_assert!(m.deadline.earliest <= m.deadline.latest);
    }
    Ok(())
}

/// Expressions that never point into the past: relative amounts, period
/// ends and whole periods counted from the anchor, and vague ones.
fn forward_expression() -> impl Strategy<Value = String> {
    let amount = prop_oneof![
        (0u64..5000).prop_map(|n| n.to_string()),
        Just("a".to_string()),
        Just("two".to_string()),
        Just("twenty-one".to_string()),
    ];
    let unit = prop::sample::select(vec![
        "hours",
        "days",
        "weeks",
        "fortnights",
        "months",
        "quarters",
        "years",
    ]);
    let head = prop::sample::select(vec!["within", "in", "in the next", "over the next"]);
    let relative = (head, amount, unit).prop_map(|(h, n, u)| format!("{h} {n} {u}"));
    let ar_amount = (0u64..5000).prop_map(|n| n.to_string());
    let ar_unit = prop::sample::select(vec!["ساعة", "يوما", "أسابيع", "أشهر", "سنوات"]);
    let ar_relative = (ar_amount, ar_unit).prop_map(|(n, u)| format!("خلال {n} {u}"));
    let fixed = prop::sample::select(vec![
        "by the end of the year",
        "by the end of the month",
        "by the end of the week",
        "by the end of this quarter",
        "by the end of next quarter",
        "by the end of the first quarter",
        "by the end of November",
        "by mid-March",
        "next month",
        "next year",
        "next week",
        "soon",
        "in the coming weeks",
        "قبل نهاية العام",
        "قبل نهاية تشرين الثاني",
        "بحلول منتصف شباط",
        "الشهر المقبل",
        "العام المقبل",
        "قبل نهاية الربع الثالث",
        "في المستقبل القريب",
        "خلال الأسابيع المقبلة",
        "خلال شهرين",
    ])
    .prop_map(str::to_string);
    prop_oneof![relative, ar_relative, fixed]
}

/// The same expression as a careless or right-to-left editor might type
/// it: more spaces, other letter case, Arabic vowel marks and tatweel, and
/// bidi marks anywhere.
fn perturb(expr: &str, seed: &[u8]) -> String {
    const MARKS: &[char] = &[
        '\u{064B}', '\u{064E}', '\u{064F}', '\u{0650}', '\u{0651}', '\u{0652}', '\u{0640}',
    ];
    const BIDI: &[char] = &[
        '\u{200E}', '\u{200F}', '\u{061C}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        '\u{202B}', '\u{202C}',
    ];
    let mut bytes = seed.iter().copied().cycle();
    let mut next = move || bytes.next().unwrap_or(0);
    let mut out = String::new();
    if next() % 3 == 0 {
        out.push_str("  ");
    }
    for c in expr.chars() {
        if next() % 5 == 0 {
            out.push(BIDI[usize::from(next()) % BIDI.len()]);
        }
        match c {
            ' ' => {
                for _ in 0..1 + next() % 3 {
                    out.push(if next() % 4 == 0 { '\t' } else { ' ' });
                }
            }
            'a'..='z' | 'A'..='Z' if next() % 2 == 0 => {
                out.push(if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                });
            }
            '\u{0621}'..='\u{064A}' => {
                out.push(c);
                if next() % 3 == 0 {
                    out.push(MARKS[usize::from(next()) % MARKS.len()]);
                }
            }
            _ => out.push(c),
        }
    }
    if next() % 3 == 0 {
        out.push('\u{200F}');
    }
    out
}

fn meaning(expr: &str, anchor: Date) -> Result<(Date, Date, bool), String> {
    Deadline::parse(expr, anchor)
        .map(|d| (d.earliest, d.latest, d.vague))
        .map_err(|e| e.to_string())
}

proptest! {
    #[test]
    fn no_panic_on_any_string(text in any::<String>(), anchor in edge_anchor()) {
        if let Ok(d) = Deadline::parse(&text, anchor) {
            prop_assert!(d.earliest <= d.latest);
        }
        check_mentions(&text, anchor)?;
    }

    #[test]
    fn no_panic_on_lexicon_soup(words in prop::collection::vec(prop::sample::select(VOCABULARY), 0..60), anchor in edge_anchor()) {
        let text = words.join(" ");
        if let Ok(d) = Deadline::parse(&text, anchor) {
            prop_assert!(d.earliest <= d.latest);
        }
        let glued = words.concat();
        let _ = Deadline::parse(&glued, anchor);
        check_mentions(&text, anchor)?;
        check_mentions(&glued, anchor)?;
    }

    #[test]
    fn huge_amounts_are_errors_or_ordered(n in any::<u64>(), unit in prop::sample::select(vec!["hours", "days", "weeks", "months", "quarters", "years", "يوما", "شهرا"]), anchor in edge_anchor()) {
        let expr = if unit.is_ascii() { format!("within {n} {unit}") } else { format!("خلال {n} {unit}") };
        if let Ok(d) = Deadline::parse(&expr, anchor) {
            prop_assert!(d.earliest <= d.latest);
            prop_assert!(anchor <= d.latest);
        }
    }

    #[test]
    fn vague_horizon_of_any_size_never_panics(days in any::<i32>(), anchor in edge_anchor()) {
        let options = Options { vague_horizon_days: days };
        if let Ok(d) = Deadline::parse_with("soon", anchor, &options) {
            prop_assert!(d.earliest <= d.latest);
        }
        let _ = find_with("في المستقبل القريب", anchor, &options);
    }

    #[test]
    fn forward_expressions_end_on_or_after_the_anchor(expr in forward_expression(), anchor in anchor()) {
        match Deadline::parse(&expr, anchor) {
            Ok(d) => {
                prop_assert!(d.earliest <= d.latest, "{expr}: {} > {}", d.earliest, d.latest);
                prop_assert!(anchor <= d.latest, "{expr}: latest {} before anchor {anchor}", d.latest);
            }
            // A count large enough to leave the years followup works with
            // is refused, and the refusal says so.
            Err(e) => prop_assert!(
                e.to_string().contains("it would end in the year") && e.to_string().contains("from 1900 to 2199"),
                "{expr}: {e}"
            ),
        }
    }

    #[test]
    fn table_rows_keep_earliest_before_latest(row in prop::sample::select(TABLE.clone()), anchor in anchor()) {
        // Any row counted from any anchor, including ones after its dates.
        if let Ok(d) = Deadline::parse(&row.1, anchor) {
            prop_assert!(d.earliest <= d.latest, "{}: {} > {}", row.1, d.earliest, d.latest);
        }
    }

    #[test]
    fn spacing_case_diacritics_and_bidi_marks_do_not_matter(
        row in prop::sample::select(TABLE.clone()),
        seed in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let (anchor, expr) = row;
        let noisy = perturb(&expr, &seed);
        prop_assert_eq!(meaning(&noisy, anchor), meaning(&expr, anchor), "{:?} vs {:?}", noisy, expr);
    }
}

#[test]
fn very_long_input_does_not_panic_and_is_found_in_order() {
    let sentence = "وأكد أن الاجتماع سيعقد في غضون شهرين، وقبل نهاية العام. ";
    let text = sentence.repeat(20_000);
    let found = find(&text, date(2025, 10, 15));
    assert_eq!(found.len(), 40_000);
    assert!(found.windows(2).all(|w| w[0].span.end <= w[1].span.start));
    assert!(Deadline::parse(&text, date(2025, 10, 15)).is_err());
    let words = "within ".repeat(100_000);
    assert!(Deadline::parse(&words, date(2025, 10, 15)).is_err());
    assert!(find(&words, date(2025, 10, 15)).is_empty());
}
