//! The deadline table (`tests/data/deadlines.tsv`): every row is an anchor,
//! an expression, the `latest` day it allows (or `-` when vague) and whether
//! it is vague. Each test reports every failing row at once, so one run shows
//! the whole damage of a change.
//!
//! Written as a plain module: it runs as its own test binary here and as a
//! module of `tests/tests.rs` in the main crate.

use followup::deadline::{Deadline, find};
use jiff::civil::Date;

struct Row {
    line: usize,
    anchor: Date,
    expression: String,
    latest: Option<Date>,
    vague: bool,
}

fn rows() -> Vec<Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/deadlines.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            cols.len(),
            4,
            "{path}:{}: expected 4 columns: {line:?}",
            n + 1
        );
        rows.push(Row {
            line: n + 1,
            anchor: cols[0]
                .parse()
                .unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1)),
            expression: cols[1].to_string(),
            latest: match cols[2] {
                "-" => None,
                d => Some(
                    d.parse()
                        .unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1)),
                ),
            },
            vague: cols[3]
                .parse()
                .unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1)),
        });
    }
    rows
}

fn report(what: &str, checked: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {checked} rows fail {what}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn table_is_large_and_covers_both_languages() {
    let rows = rows();
    assert!(rows.len() >= 300, "only {} rows", rows.len());
    let arabic = rows
        .iter()
        .filter(|r| {
            r.expression
                .chars()
                .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
        })
        .count();
    assert!(arabic >= 100, "only {arabic} Arabic rows");
    assert!(rows.iter().filter(|r| r.vague).count() >= 30);
}

#[test]
fn every_row_parses_to_its_latest_day() {
    let rows = rows();
    let mut failures = Vec::new();
    for row in &rows {
        let got = Deadline::parse(&row.expression, row.anchor);
        let ok = match &got {
            Ok(d) => d.vague == row.vague && (row.vague || Some(d.latest) == row.latest),
            Err(_) => false,
        };
        if !ok {
            let got = match got {
                Ok(d) => format!("latest {} vague {}", d.latest, d.vague),
                Err(e) => format!("error: {e}"),
            };
            let want = row.latest.map_or("-".to_string(), |d| d.to_string());
            failures.push(format!(
                "  line {}: {} {:?}: want {want} vague {}, got {got}",
                row.line, row.anchor, row.expression, row.vague
            ));
        }
    }
    report("to parse as stated", rows.len(), &failures);
}

#[test]
fn every_row_keeps_earliest_within_its_window() {
    let rows = rows();
    let mut failures = Vec::new();
    for row in &rows {
        let Ok(d) = Deadline::parse(&row.expression, row.anchor) else {
            continue;
        };
        // Earliest never passes latest, and only a whole period that starts
        // after the anchor ("next month", "next week") starts its window later.
        let period_start =
            d.earliest.day() == 1 || d.earliest.weekday() == jiff::civil::Weekday::Monday;
        let fine = d.earliest <= d.latest
            && (d.earliest <= row.anchor || period_start)
            && d.anchor == row.anchor
            && d.expression == row.expression;
        if !fine {
            failures.push(format!(
                "  line {}: {:?}: earliest {} latest {}",
                row.line, row.expression, d.earliest, d.latest
            ));
        }
    }
    report("the window invariants", rows.len(), &failures);
}

#[test]
fn every_row_is_found_whole_inside_a_sentence() {
    let rows = rows();
    let mut failures = Vec::new();
    for row in &rows {
        // Bare and "on" dates are event dates, which `find` leaves alone.
        let Ok(parsed) = Deadline::parse(&row.expression, row.anchor) else {
            continue;
        };
        let arabic = row
            .expression
            .chars()
            .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c));
        let (before, after) = if arabic {
            ("وقال المتحدث إن الاجتماع سيعقد ", " كما أعلن.")
        } else {
            (
                "The spokesman said the meeting will take place ",
                ", he added.",
            )
        };
        let text = format!("{before}{}{after}", row.expression);
        let found = find(&text, row.anchor);
        let (start, end) = (before.len(), before.len() + row.expression.len());
        // The mention leaves out surrounding spaces, punctuation and bidi
        // marks, and a conjunction glued to the first word ("وخلال").
        let core = row.expression.trim_matches(|c: char| {
            c.is_whitespace() || c.is_ascii_punctuation() || matches!(c, '\u{200E}' | '\u{200F}')
        });
        let whole = found.iter().find(|m| {
            m.span.start >= start
                && m.span.end <= end
                && (m.text == core || core.strip_prefix('و') == Some(m.text.as_str()))
        });
        let event_date = found.is_empty() && starts_like_an_event_date(&row.expression);
        match whole {
            Some(m) if m.deadline.latest == parsed.latest && m.deadline.vague == parsed.vague => {}
            None if event_date => {}
            _ => failures.push(format!(
                "  line {}: {:?}: found {:?}",
                row.line,
                row.expression,
                found.iter().map(|m| m.text.as_str()).collect::<Vec<_>>()
            )),
        }
    }
    report("to be found in a sentence", rows.len(), &failures);
}

/// Expressions that name a day without a deadline word ("2025-11-30", "on 1
/// December", "في 30 نوفمبر"), which `find` treats as event dates.
fn starts_like_an_event_date(expression: &str) -> bool {
    let digit = |w: &str| {
        w.starts_with(|c: char| c.is_ascii_digit() || ('\u{0660}'..='\u{0669}').contains(&c))
    };
    let mut words = expression.split_whitespace();
    let first = words.next().unwrap_or("");
    let second = words.next().unwrap_or("");
    digit(first) || (matches!(first, "on" | "On" | "في" | "يوم") && digit(second))
}

#[test]
fn seed_article_names_the_committee_meeting_twice_and_the_outlook_once() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/article-syria-russia-2025-10-15.ar.txt"
    );
    let article = std::fs::read_to_string(path).unwrap();
    let anchor = jiff::civil::date(2025, 10, 15);
    let found = find(&article, anchor);
    let texts: Vec<&str> = found.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["في المستقبل القريب", "في غضون شهرين", "في المستقبل القريب"]
    );
    for m in &found {
        assert_eq!(&article[m.span.clone()], m.text);
    }
    // The meeting sentence: the sharper of its two deadlines is the stated one.
    let meeting = &found[..2];
    let sharper = followup::deadline::sharpest(meeting).unwrap();
    assert_eq!(sharper.text, "في غضون شهرين");
    assert_eq!(sharper.deadline.latest, jiff::civil::date(2025, 12, 15));
}
