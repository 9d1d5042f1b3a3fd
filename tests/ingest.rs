//! Ingest against whole articles: the seed article, the table of short
//! English and Arabic articles in `tests/data/ingest/`, and properties that
//! hold for any input.

use std::path::Path;

use followup::ingest::{ActorEntry, AnnouncedFrom, Candidate, Options, extract};
use jiff::civil::{Date, date};
use proptest::prelude::*;

const TODAY: Date = date(2025, 10, 15);

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The seed article, as published (a verbatim copy of the shared fixture).
fn seed() -> String {
    read("tests/data/ingest/seed-syria-russia.ar")
}

#[test]
fn seed_article_yields_only_the_committee_meeting() {
    let found = extract(&seed(), None, date(2026, 1, 1), &Options::default());
    assert_eq!(found.announced, date(2025, 10, 15));
    assert_eq!(found.announced_from, AnnouncedFrom::Article);
    assert_eq!(found.candidates.len(), 1, "{:#?}", found.candidates);
    let c = &found.candidates[0];
    assert_eq!(c.title, "عقد اجتماع للجنة حكومية دولية مشتركة");
    assert_eq!(c.actors, ["Syria", "Russia"]);
    assert_eq!(c.cue, "تم الاتفاق على");
    assert_eq!(
        c.quote,
        "كما تم الاتفاق على عقد اجتماع للجنة حكومية دولية مشتركة في المستقبل القريب لمتابعة تنفيذ الاتفاقات التي تم التوصل إليها."
    );
    let d = c.deadline.as_ref().unwrap();
    assert_eq!((d.latest, d.vague), (date(2025, 12, 15), false));
    assert_eq!(d.expression, "في غضون شهرين");
    let texts: Vec<&str> = c.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["في المستقبل القريب", "في غضون شهرين"]);
    assert!(c.mentions[0].deadline.vague);
    assert!(c.confidence > 0.8 && c.confidence <= 1.0);
}

#[test]
fn seed_article_json_has_the_contract_fields() {
    let found = extract(&seed(), None, TODAY, &Options::default());
    let json = serde_json::to_value(&found.candidates).unwrap();
    let c = &json[0];
    for key in [
        "title",
        "quote",
        "actors",
        "deadline",
        "mentions",
        "cue",
        "confidence",
    ] {
        assert!(c.get(key).is_some(), "{key} missing from {c}");
    }
    assert_eq!(c["deadline"]["latest"], "2025-12-15");
    assert_eq!(c["mentions"][1]["text"], "في غضون شهرين");
}

#[test]
fn announced_flag_wins_over_the_article_date() {
    let found = extract(
        &seed(),
        Some(date(2025, 10, 20)),
        TODAY,
        &Options::default(),
    );
    assert_eq!(found.announced_from, AnnouncedFrom::Flag);
    let d = found.candidates[0].deadline.as_ref().unwrap();
    assert_eq!(d.latest, date(2025, 12, 20));
}

#[test]
fn without_flag_or_article_date_today_anchors() {
    let found = extract(
        "Syria will reopen the airport within a week.",
        None,
        TODAY,
        &Options::default(),
    );
    assert_eq!(
        (found.announced, found.announced_from),
        (TODAY, AnnouncedFrom::Today)
    );
    assert_eq!(
        found.candidates[0].deadline.as_ref().unwrap().latest,
        date(2025, 10, 22)
    );
}

/// One row of `expected.tsv`.
fn describe(file: &str, c: &Candidate) -> String {
    let (latest, vague) = match &c.deadline {
        Some(d) => (d.latest.to_string(), d.vague.to_string()),
        None => ("-".to_string(), "-".to_string()),
    };
    let mentions: Vec<&str> = c.mentions.iter().map(|m| m.text.as_str()).collect();
    let mentions = if mentions.is_empty() {
        "-".to_string()
    } else {
        mentions.join("|")
    };
    [
        file,
        &c.title,
        &c.actors.join(","),
        &latest,
        &vague,
        &mentions,
        &c.cue,
    ]
    .join("\t")
}

#[test]
fn short_articles_match_their_expected_candidates() {
    let table = read("tests/data/ingest/expected.tsv");
    let mut files: Vec<&str> = Vec::new();
    let mut expected: Vec<String> = Vec::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let file = line.split('\t').next().unwrap();
        if !files.contains(&file) {
            files.push(file);
        }
        if line.split('\t').nth(1) != Some("-") {
            expected.push(line.to_string());
        }
    }
    assert!(files.len() >= 12, "only {} articles", files.len());
    let mut got = Vec::new();
    for file in &files {
        let text = read(&format!("tests/data/ingest/{file}"));
        for c in extract(&text, None, TODAY, &Options::default()).candidates {
            assert!(text.contains(&c.quote));
            got.push(describe(file, &c));
        }
    }
    assert_eq!(got.join("\n"), expected.join("\n"));
}

#[test]
fn desk_actors_extend_the_gazetteer() {
    let text = "The Atlantean navy will withdraw from the strait within 10 days.";
    let plain = extract(text, None, TODAY, &Options::default());
    assert!(plain.candidates[0].actors.is_empty());
    let options = Options {
        extra_actors: vec![ActorEntry {
            name: "Atlantis".to_string(),
            variants: vec!["Atlantean".to_string()],
        }],
        ..Options::default()
    };
    let found = extract(text, None, TODAY, &options);
    assert_eq!(found.candidates[0].actors, ["Atlantis"]);
}

#[test]
fn vague_horizon_comes_from_options() {
    let options = Options {
        vague_horizon_days: 30,
        ..Options::default()
    };
    let found = extract(
        "Qatar pledged to reopen its embassy soon.",
        None,
        TODAY,
        &options,
    );
    let d = found.candidates[0].deadline.as_ref().unwrap();
    assert_eq!((d.vague, d.latest), (true, date(2025, 11, 14)));
}

#[test]
fn empty_binary_and_huge_inputs_do_not_panic() {
    let options = Options::default();
    assert!(extract("", None, TODAY, &options).candidates.is_empty());
    let binary: String = (0u8..=255).map(char::from).cycle().take(5000).collect();
    extract(&binary, None, TODAY, &options);
    let huge = "وسيعقد الجانبان اجتماعا خلال شهرين. ".repeat(20_000);
    let found = extract(&huge, None, TODAY, &options);
    assert!(!found.candidates.is_empty());
}

proptest! {
    #[test]
    fn any_text_extracts_without_panic_and_quotes_come_from_it(text in "\\PC{0,300}") {
        let found = extract(&text, None, TODAY, &Options::default());
        for c in &found.candidates {
            prop_assert!(text.contains(&c.quote));
            prop_assert!((0.0..=1.0).contains(&c.confidence));
        }
    }

    #[test]
    fn commitment_words_in_any_order_never_panic(
        words in proptest::collection::vec(
            proptest::sample::select(vec![
                "will", "agreed", "to", "and", "within", "two", "months", "by", "1", "December",
                "2025", "سـ", "سيعقد", "اتفق", "الجانبان", "على", "وعلى", "خلال", "شهرين", "من",
                "المتوقع", "أن", "يعقد", ".", "،", "؟", "Syria", "روسيا", "the", "meeting", "is",
                "expected", "said", "would", "\n", "U.S.", "Oct.", "15", "تم", "الاتفاق", "تعهدت", "ب",
            ]),
            0..40,
        )
    ) {
        let text = words.join(" ");
        let found = extract(&text, None, TODAY, &Options::default());
        for c in &found.candidates {
            prop_assert!(text.contains(&c.quote));
        }
    }
}
