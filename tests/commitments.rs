//! The analyst's everyday commands, end to end.

use serde_json::Value;

use crate::support::{Desk, days_from_today};

const MEETING: &str = "عقد اجتماع للجنة حكومية دولية مشتركة";
const QUOTE: &str = "كما تم الاتفاق على عقد اجتماع للجنة حكومية دولية مشتركة في المستقبل القريب، \"لمتابعة\" التنفيذ.\nمن المتوقع أن يعقد في غضون شهرين.";

fn add_meeting(desk: &Desk) -> i64 {
    desk.add(&[
        MEETING,
        "--due",
        "within 2 months",
        "--announced",
        "2025-10-15",
        "--actor",
        "Syria",
        "--actor",
        "Russia",
        "--tag",
        "Syria",
        "--tag",
        "diplomacy",
        "--source",
        "https://example.org/syria-russia",
        "--quote",
        QUOTE,
        "--note",
        "seed article",
    ])
}

#[test]
fn add_stores_every_field_and_json_has_the_contract_fields() {
    let desk = Desk::new();
    let id = add_meeting(&desk);
    let c = desk.run(&["show", &id.to_string(), "--json"]).json();
    assert_eq!(c["id"], id);
    assert_eq!(c["title"], MEETING);
    assert_eq!(c["status"], "open");
    assert_eq!(c["announced"], "2025-10-15");
    assert_eq!(c["actors"], serde_json::json!(["Syria", "Russia"]));
    assert_eq!(c["tags"], serde_json::json!(["diplomacy", "syria"]));
    assert_eq!(c["source"], "https://example.org/syria-russia");
    assert_eq!(c["quote"], QUOTE);
    let d = &c["deadline"];
    assert_eq!(d["expression"], "within 2 months");
    assert_eq!(d["earliest"], "2025-10-15");
    assert_eq!(d["latest"], "2025-12-15");
    assert_eq!(d["vague"], false);
    assert_eq!(d["version"], 1);
    let kinds: Vec<&str> = c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["created", "note"]);
    assert_eq!(c["history"][1]["text"], "seed article");
    assert_eq!(c["history"][0]["author"], "tester");
}

#[test]
fn announced_defaults_to_today_and_anchors_relative_deadlines() {
    let desk = Desk::new();
    let id = desk.add(&["Ceasefire talks resume", "--due", "within 14 days"]);
    let c = desk.run(&["show", &id.to_string(), "--json"]).json();
    assert_eq!(c["announced"], days_from_today(0));
    assert_eq!(c["deadline"]["latest"], days_from_today(14));
}

#[test]
fn list_shows_an_aligned_table_with_arabic_titles_last() {
    let desk = Desk::new();
    add_meeting(&desk);
    desk.add(&[
        "Open the gas interconnector",
        "--due",
        &days_from_today(30),
        "--tag",
        "energy",
    ]);
    let table = desk.run(&["list"]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("ID"));
    let title_at = lines[0].find("TITLE").unwrap();
    assert!(lines[1].ends_with(MEETING), "{table}");
    assert_eq!(
        &lines[2][title_at..],
        "Open the gas interconnector",
        "{table}"
    );
    assert!(
        lines[1].contains("late"),
        "the 2025 meeting is overdue: {table}"
    );
    assert!(lines[2].contains("in 30d"), "{table}");
}

#[test]
fn list_filters_by_status_tag_overdue_and_due_date() {
    let desk = Desk::new();
    let late = desk.add(&["Late", "--due", &days_from_today(-3), "--tag", "energy"]);
    let soon = desk.add(&[
        "Soon",
        "--due",
        &days_from_today(5),
        "--tag",
        "energy",
        "--tag",
        "gas",
    ]);
    let later = desk.add(&["Later", "--due", &days_from_today(60), "--tag", "aid"]);
    let done = desk.add(&["Done", "--due", &days_from_today(-10)]);
    desk.run(&["close", &done.to_string(), "--outcome", "fulfilled"])
        .ok();

    let ids = |args: &[&str]| -> Vec<i64> {
        let mut all = vec!["list", "--json"];
        all.extend_from_slice(args);
        desk.run(&all)
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(
        ids(&[]),
        vec![done, late, soon, later],
        "soonest deadline first"
    );
    assert_eq!(ids(&["--status", "open"]), vec![late, soon, later]);
    assert_eq!(ids(&["--status", "closed"]), vec![done]);
    assert_eq!(ids(&["--status", "fulfilled"]), vec![done]);
    assert_eq!(ids(&["--tag", "energy"]), vec![late, soon]);
    assert_eq!(ids(&["--tag", "ENERGY", "--tag", "gas"]), vec![soon]);
    assert_eq!(
        ids(&["--overdue"]),
        vec![late],
        "closed ones are never overdue"
    );
    assert_eq!(
        ids(&["--due-before", &days_from_today(6)]),
        vec![done, late, soon]
    );
    assert_eq!(ids(&["--overdue", "--tag", "aid"]), Vec::<i64>::new());
    assert_eq!(
        desk.run(&["list", "--tag", "none"]).ok().trim(),
        "No commitments match."
    );
}

#[test]
fn revise_keeps_the_old_deadline_in_history() {
    let desk = Desk::new();
    let id = add_meeting(&desk).to_string();
    desk.run(&[
        "revise",
        &id,
        "--due",
        "by 31 January 2026",
        "--reason",
        "postponed by Moscow",
        "--from",
        "2025-12-10",
    ])
    .ok();
    let c = desk.run(&["show", &id, "--json"]).json();
    assert_eq!(c["deadline"]["latest"], "2026-01-31");
    assert_eq!(c["deadline"]["version"], 2);
    let revisions = c["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["latest"], "2025-12-15");
    assert_eq!(revisions[1]["reason"], "postponed by Moscow");
    // The current deadline, in full, is the newest version, in `show` and in
    // `list` alike.
    for field in ["expression", "earliest", "latest", "vague", "anchor"] {
        assert_eq!(c["deadline"][field], revisions[1][field], "{field}");
    }
    assert_eq!(c["deadline"]["expression"], "by 31 January 2026");
    assert_eq!(c["deadline"]["anchor"], "2025-12-10");
    let listed = desk.run(&["list", "--json"]).json();
    assert_eq!(listed[0]["deadline"], c["deadline"]);
    let revised = &c["history"][2];
    assert_eq!(revised["kind"], "revised");
    assert_eq!(revised["from"]["latest"], "2025-12-15");
    assert_eq!(revised["to"]["latest"], "2026-01-31");
    let text = desk.run(&["show", &id]).ok();
    assert!(text.contains("postponed by Moscow"), "{text}");
    assert!(text.contains("deadline moved once"), "{text}");
}

#[test]
fn close_and_reopen_record_outcomes_in_history() {
    let desk = Desk::new();
    let id = add_meeting(&desk).to_string();
    let closed = desk
        .run(&[
            "close",
            &id,
            "--outcome",
            "partial",
            "--evidence",
            "https://example.org/minutes",
            "--json",
        ])
        .json();
    assert_eq!(closed["status"], "partial");
    assert_eq!(closed["evidence"], "https://example.org/minutes");
    assert!(closed["closed_at"].is_string());

    let stderr = desk.refuses(&["close", &id, "--outcome", "missed"]);
    assert!(stderr.contains("already closed as partial"), "{stderr}");
    let stderr = desk.refuses(&["revise", &id, "--due", "2026-03-01"]);
    assert!(stderr.contains("reopen"), "{stderr}");

    let reopened = desk.run(&["reopen", &id, "--json"]).json();
    assert_eq!(reopened["status"], "open");
    assert_eq!(reopened["closed_at"], Value::Null);
    let kinds: Vec<String> = reopened["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, vec!["created", "note", "closed", "reopened"]);
    assert_eq!(reopened["history"][3]["previous_outcome"], "partial");
    let stderr = desk.refuses(&["reopen", &id]);
    assert!(stderr.contains("already open"), "{stderr}");
}

#[test]
fn notes_are_appended_to_history() {
    let desk = Desk::new();
    let id = add_meeting(&desk).to_string();
    desk.run(&["note", &id, "Ministry says the date is not fixed yet"])
        .ok();
    let c = desk.run(&["show", &id, "--json"]).json();
    let last = c["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "note");
    assert_eq!(last["text"], "Ministry says the date is not fixed yet");
    let text = desk.run(&["show", &id]).ok();
    assert!(
        text.contains("Ministry says the date is not fixed yet"),
        "{text}"
    );
    assert!(text.contains(MEETING), "{text}");
}

#[test]
fn parse_prints_the_deadline_object() {
    let desk = Desk::new();
    let d = desk
        .run(&["parse", "within 2 months", "--from", "2025-01-31", "--json"])
        .json();
    assert_eq!(d["expression"], "within 2 months");
    assert_eq!(d["earliest"], "2025-01-31");
    assert_eq!(d["latest"], "2025-03-31");
    assert_eq!(d["vague"], false);
    let d = desk
        .run(&["parse", "within 1 month", "--from", "2025-01-31", "--json"])
        .json();
    assert_eq!(
        d["latest"], "2025-02-28",
        "calendar-correct month arithmetic"
    );
    let text = desk
        .run(&["parse", "2025-12-15", "--from", "2025-10-15"])
        .ok();
    assert!(text.contains("2025-12-15"), "{text}");

    // The same object `add` stores: the expression trimmed as add trims it.
    let spaced = "  within   two   months  ";
    let d = desk
        .run(&["parse", spaced, "--from", "2025-10-15", "--json"])
        .json();
    let added = desk
        .run(&[
            "add",
            "T",
            "--due",
            spaced,
            "--announced",
            "2025-10-15",
            "--json",
        ])
        .json();
    let mut stored = added["deadline"].clone();
    stored.as_object_mut().unwrap().remove("version");
    assert_eq!(d, stored);
    assert_eq!(d["expression"], "within   two   months");

    // A deadline before the day it is counted from is read, with a word
    // that `add` would refuse it.
    let run = desk.run(&["parse", "by 30 November 2024", "--from", "2025-10-15"]);
    assert!(run.ok().contains("2024-11-30"));
    assert!(
        run.stderr()
            .contains("ends on 2024-11-30, before 2025-10-15")
            && run
                .stderr()
                .contains("`add --announced 2025-10-15` refuses it"),
        "{}",
        run.stderr()
    );
}

#[test]
fn status_reports_paths_and_counts() {
    let desk = Desk::new();
    add_meeting(&desk);
    let id = desk.add(&["Other", "--due", &days_from_today(3)]);
    desk.run(&["close", &id.to_string(), "--outcome", "withdrawn"])
        .ok();
    let s = desk.run(&["status", "--json"]).json();
    assert_eq!(s["config"], Value::Null);
    assert_eq!(s["database"], desk.database().display().to_string());
    assert_eq!(s["commitments"]["total"], 2);
    assert_eq!(s["commitments"]["open"], 1);
    assert_eq!(s["commitments"]["overdue"], 1);
    assert_eq!(s["commitments"]["withdrawn"], 1);
    assert_eq!(s["schema_version"], 11);
    let text = desk.run(&["status"]).ok();
    assert!(text.contains("(embedded defaults)"), "{text}");
    assert!(text.contains("1 open (1 overdue)"), "{text}");
}

#[test]
fn output_cut_short_by_a_closed_pipe_is_not_an_error() {
    let desk = Desk::new();
    let mut csv = String::from("title,due\n");
    for i in 0..3000 {
        csv.push_str(&format!("Commitment number {i},2030-01-01\n"));
    }
    let file = desk.write("many.csv", csv.as_bytes());
    desk.run(&["import", file.to_str().unwrap()]).ok();
    let mut child = desk
        .command(&["list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end at once: the binary then writes into a broken pipe.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// `followup list --json | head`: a reader that stops early ends the
/// command quietly, with success, whatever the output's form.
#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    let desk = Desk::new();
    // Enough that every form of the output overflows the pipe (64 KiB)
    // before the reader goes: the table alone is over 100 KiB.
    let rows: Vec<Value> = (0..1000)
        .map(|i| {
            let title =
                format!("Commitment {i}: hold the joint committee meeting on reconstruction");
            serde_json::json!({ "title": title, "due": "2030-06-30", "quote": QUOTE })
        })
        .collect();
    desk.run_with_stdin(&["import", "-"], &serde_json::to_vec(&rows).unwrap())
        .ok();
    assert!(desk.run(&["list"]).ok().len() > 100 << 10);
    for args in [
        &["list", "--json"][..],
        &["list"][..],
        &["export"][..],
        &["export", "--format", "csv"][..],
    ] {
        let mut child = desk
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 100];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The pipe's reading end is closed here, with most still unwritten.
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// `add` records a deadline already past without `--announced`, dating the
/// announcement the day it was recorded. That date does not hold back the
/// slips that follow, which are as past as the deadline they move.
#[test]
fn a_past_deadline_recorded_without_its_announcement_can_slip_to_another_past_day() {
    let desk = Desk::new();
    let id = desk.add(&["Hold the committee meeting", "--due", "by 1 January 2026"]);
    let id = id.to_string();
    let run = desk.run(&["revise", &id, "--due", "by 2 January 2026"]);
    run.ok();
    assert!(
        run.stderr().contains("recorded as overdue"),
        "{}",
        run.stderr()
    );
    desk.run(&[
        "revise",
        &id,
        "--due",
        "by 9 January 2026",
        "--from",
        "2025-12-01",
    ])
    .ok();
    let shown = desk.run(&["show", &id, "--json"]).json();
    assert_eq!(shown["deadline"]["latest"], "2026-01-09");
    assert_eq!(shown["deadline"]["version"], 3);
    // A deadline still ending before the day it was stated is refused.
    let err = desk.refuses(&[
        "revise",
        &id,
        "--due",
        "by 1 November 2025",
        "--from",
        "2025-12-01",
    ]);
    assert!(err.contains("before it was stated on 2025-12-01"), "{err}");
}

/// An Arabic deadline with its diacritics is shown as it was written, in
/// `show` and `parse`, not as escapes.
#[test]
fn a_deadline_with_arabic_diacritics_is_shown_as_written() {
    let desk = Desk::new();
    let id = desk.add(&[
        "اجتماعٌ مُهمّ",
        "--due",
        "خِلالَ شَهرين",
        "--announced",
        "2025-10-15",
    ]);
    let shown = desk.run(&["show", &id.to_string()]).ok();
    assert!(shown.contains("\"خِلالَ شَهرين\": by 2025-12-15"), "{shown}");
    assert!(!shown.contains("\\u{"), "{shown}");
    let parsed = desk
        .run(&["parse", "خِلالَ شَهرين", "--from", "2025-10-15"])
        .ok();
    assert!(
        parsed.starts_with("\"خِلالَ شَهرين\": by 2025-12-15"),
        "{parsed}"
    );
}
