//! Bad input of every kind: a one-line error naming the value and the fix,
//! a non-zero exit, and a database left exactly as it was.

use crate::support::Desk;

/// A desk with one commitment, so there is a database to protect.
fn desk_with_one() -> (Desk, String) {
    let desk = Desk::new();
    let id = desk.add(&[
        "Hold the committee meeting",
        "--due",
        "2025-12-15",
        "--announced",
        "2025-10-15",
    ]);
    (desk, id.to_string())
}

#[test]
fn malformed_dates_are_refused_naming_the_value() {
    let (desk, id) = desk_with_one();
    let err = desk.refuses(&[
        "add",
        "X",
        "--due",
        "2025-12-01",
        "--announced",
        "2025-13-01",
    ]);
    assert!(
        err.contains("\"2025-13-01\" is not a date; use YYYY-MM-DD"),
        "{err}"
    );
    let err = desk.refuses(&["add", "X", "--due", "2025-02-30"]);
    assert!(err.contains("\"2025-02-30\""), "{err}");
    let err = desk.refuses(&["add", "X", "--due", "someday maybe"]);
    assert!(
        err.contains("cannot read \"someday maybe\" as a deadline; try"),
        "{err}"
    );
    let err = desk.refuses(&["list", "--due-before", "15/10"]);
    assert!(err.contains("\"15/10\" is not a date"), "{err}");
    let err = desk.refuses(&["revise", &id, "--due", "yesterday-ish"]);
    assert!(err.contains("yesterday-ish"), "{err}");
    // A date with a time is not a date: the time would be dropped unsaid.
    for (flag, value) in [
        ("--announced", "2025-10-15T23:59:59"),
        ("--announced", "2025-10-15T23:59:59+14:00"),
        ("--announced", "2025-10-15 10:00"),
    ] {
        let err = desk.refuses(&["add", "X", "--due", "soon", flag, value]);
        assert!(
            err.contains(&format!("\"{value}\" is not a date")) && err.contains("without a time"),
            "{err}"
        );
    }
    let err = desk.refuses(&["list", "--due-before", "2030-01-01T05:00"]);
    assert!(err.contains("is not a date"), "{err}");
    let err = desk.refuses(&["revise", &id, "--due", "soon", "--from", "2025-10-16T00:00"]);
    assert!(err.contains("is not a date"), "{err}");
}

#[test]
fn unknown_ids_are_refused_naming_the_id() {
    let (desk, _) = desk_with_one();
    for args in [
        vec!["show", "42"],
        vec!["revise", "42", "--due", "2026-01-01"],
        vec!["close", "42", "--outcome", "missed"],
        vec!["reopen", "42"],
        vec!["note", "42", "hello"],
    ] {
        let err = desk.refuses(&args);
        assert!(err.contains("no commitment has id 42"), "{args:?}: {err}");
    }
    let err = desk.refuses(&["show", "abc"]);
    assert!(err.contains("\"abc\" is not a commitment id"), "{err}");
    let err = desk.refuses(&["show", "-5"]);
    assert!(
        err.contains("is not a commitment id") || err.contains("unexpected argument"),
        "{err}"
    );
}

#[test]
fn unknown_outcome_is_refused_listing_the_valid_ones() {
    let (desk, id) = desk_with_one();
    let err = desk.refuses(&["close", &id, "--outcome", "done"]);
    assert!(err.contains("\"done\" is not an outcome"), "{err}");
    assert!(
        err.contains("fulfilled, partial, missed or withdrawn"),
        "{err}"
    );
    let err = desk.refuses(&["list", "--status", "pending"]);
    assert!(err.contains("\"pending\" is not a status"), "{err}");
}

#[test]
fn an_empty_deadline_note_or_reason_says_what_belongs_there() {
    let (desk, id) = desk_with_one();
    let err = desk.refuses(&["revise", &id, "--due", " "]);
    assert!(
        err.contains("deadline is empty; give the deadline as announced"),
        "{err}"
    );
    let err = desk.refuses(&["note", &id, " \n"]);
    assert!(err.contains("note is empty; write what happened"), "{err}");
    let err = desk.refuses(&["revise", &id, "--due", "2027-01-01", "--reason", " "]);
    assert!(
        err.contains("reason is empty; say why the deadline moved"),
        "{err}"
    );
}

#[test]
fn empty_huge_and_multiline_titles_are_refused() {
    let (desk, _) = desk_with_one();
    let err = desk.refuses(&["add", "   ", "--due", "2026-01-01"]);
    assert!(err.contains("title is empty"), "{err}");
    // Linux limits one argument to 128 KiB; 100 KB is as big as argv gets.
    let big = "x".repeat(100_000);
    let err = desk.refuses(&["add", &big, "--due", "2026-01-01"]);
    assert!(
        err.contains("100000 characters long; keep it to at most 500"),
        "{err}"
    );
    let err = desk.refuses(&[
        "add",
        "Meeting\r\nBcc: victim@example.org",
        "--due",
        "2026-01-01",
    ]);
    assert!(err.contains("control character '\\r'"), "{err}");
    let err = desk.refuses(&["add", "Tab\there", "--due", "2026-01-01"]);
    assert!(err.contains("control character"), "{err}");
}

#[test]
fn a_one_megabyte_title_or_a_nul_byte_in_an_import_is_refused() {
    let (desk, _) = desk_with_one();
    let huge = format!(
        "[{{\"title\": \"{}\", \"due\": \"2026-01-01\"}}]",
        "y".repeat(1 << 20)
    );
    let file = desk.write("huge.json", huge.as_bytes());
    let err = desk.refuses(&["import", file.to_str().unwrap()]);
    assert!(
        err.contains("line 1: title is 1048576 characters long"),
        "{err}"
    );
    let nul = "[\n{\"title\": \"Meet\\u0000ing\", \"due\": \"2026-01-01\"}\n]";
    let file = desk.write("nul.json", nul.as_bytes());
    let err = desk.refuses(&["import", file.to_str().unwrap()]);
    assert!(err.contains("line 2: title"), "{err}");
    assert!(err.contains("control character '\\0'"), "{err}");
}

#[test]
fn hostile_urls_tags_and_actors_are_refused() {
    let (desk, _) = desk_with_one();
    let err = desk.refuses(&[
        "add",
        "X",
        "--due",
        "2026-01-01",
        "--source",
        "javascript:alert(1)",
    ]);
    assert!(
        err.contains("\"javascript:alert(1)\" is not a web link"),
        "{err}"
    );
    let err = desk.refuses(&["add", "X", "--due", "2026-01-01", "--tag", "two words"]);
    assert!(err.contains("\"two words\" is not a tag"), "{err}");
    let err = desk.refuses(&[
        "add",
        "X",
        "--due",
        "2026-01-01",
        "--actor",
        "Syria\nX-Evil: 1",
    ]);
    assert!(err.contains("actor"), "{err}");
}

#[test]
fn titles_with_html_and_sql_are_stored_as_data() {
    let desk = Desk::new();
    let title = "<script>alert(1)</script>'); DROP TABLE commitments;--";
    let id = desk.add(&[title, "--due", "2026-01-01"]);
    let c = desk.run(&["show", &id.to_string(), "--json"]).json();
    assert_eq!(c["title"], title);
    assert_eq!(
        desk.run(&["list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
    let desk = Desk::with_config("[store]\npath = \"notes.txt\"\n");
    let original = b"These are my meeting notes, not a database.\n".repeat(200);
    let path = desk.write("notes.txt", &original);
    let err = desk.run(&["list"]).fails();
    assert!(err.contains("is not a followup database"), "{err}");
    assert!(err.contains("notes.txt"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert!(!desk.path().join("notes.txt-wal").exists());
}

#[test]
fn another_programs_sqlite_file_is_refused_and_left_alone() {
    let desk = Desk::with_config("[store]\npath = \"app.db\"\n");
    let path = desk.path().join("app.db");
    let theirs = rusqlite::Connection::open(&path).unwrap();
    theirs
        .execute_batch("CREATE TABLE invoices (n); INSERT INTO invoices VALUES (1);")
        .unwrap();
    drop(theirs);
    let original = std::fs::read(&path).unwrap();
    for args in [
        vec!["add", "X", "--due", "2026-01-01"],
        vec!["list"],
        vec!["status"],
    ] {
        let err = desk.run(&args).fails();
        assert!(
            err.contains("another program's SQLite database (its tables: \"invoices\")"),
            "{args:?}: {err}"
        );
        assert!(err.contains("check store.path"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), original, "{args:?}");
        assert!(!desk.path().join("app.db-wal").exists(), "{args:?}");
    }
}

#[test]
fn commands_that_only_read_create_no_database() {
    let desk = Desk::new();
    let run = desk.run(&["list"]);
    assert_eq!(run.ok(), "No commitments yet.\n");
    assert!(
        run.stderr().contains("there is no database at"),
        "{}",
        run.stderr()
    );
    assert_eq!(desk.run(&["list", "--json"]).json(), serde_json::json!([]));
    assert_eq!(desk.run(&["export"]).json(), serde_json::json!([]));
    let err = desk.run(&["show", "1"]).fails();
    assert!(
        err.contains("no commitment has id 1: there is no database at"),
        "{err}"
    );
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["database_exists"], false);
    assert_eq!(status["commitments"]["total"], 0);
    let err = desk.run(&["backup", "copy.db"]).fails();
    assert!(err.contains("no database at"), "{err}");
    assert!(!desk.database().exists());
    assert!(!desk.database().parent().unwrap().exists());
    // The first command that records something creates it.
    desk.add(&["Hold the meeting", "--due", "2026-01-01"]);
    assert!(desk.database().exists());
    assert_eq!(
        desk.run(&["status", "--json"]).json()["database_exists"],
        true
    );
}

#[test]
fn a_title_of_nothing_visible_or_with_a_line_separator_is_refused() {
    let (desk, _) = desk_with_one();
    for blank in [
        "\u{200b}\u{200b}",
        "\u{feff}",
        "\u{200f} \u{200e}",
        "\u{2800}",
        "\u{301}",
        " \u{650}\u{64e} ",
    ] {
        let err = desk.refuses(&["add", blank, "--due", "2026-01-01"]);
        assert!(err.contains("title is empty"), "{blank:?}: {err}");
    }
    let err = desk.refuses(&["add", "one\u{2028}two", "--due", "2026-01-01"]);
    assert!(err.contains("one line"), "{err}");
    // Marks on letters are part of a title, not a blank one.
    desk.add(&["اجتماعٌ مُهمّ في İstanbul", "--due", "2026-01-01"]);
}

#[test]
fn a_deadline_before_its_announcement_is_refused_and_one_already_past_noted() {
    let (desk, id) = desk_with_one();
    let err = desk.refuses(&[
        "add",
        "Withdraw the troops",
        "--due",
        "by 30 November 2025",
        "--announced",
        "2026-06-01",
    ]);
    assert!(
        err.contains("ends 2025-11-30, before the announcement on 2026-06-01"),
        "{err}"
    );
    let err = desk.refuses(&["revise", &id, "--due", "2025-10-01"]);
    assert!(
        err.contains("before the announcement on 2025-10-15"),
        "{err}"
    );
    // Without --announced, a lapsed promise is recorded, with a word.
    let run = desk.run(&["add", "Reopen the border", "--due", "2025-12-15"]);
    run.ok();
    assert!(
        run.stderr().contains("ended on 2025-12-15, before today"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_revision_to_the_same_deadline_records_nothing() {
    let (desk, id) = desk_with_one();
    let err = desk.refuses(&["revise", &id, "--due", "2025-12-15", "--from", "2025-10-15"]);
    assert!(
        err.contains("deadline already ends 2025-12-15 (\"2025-12-15\")"),
        "{err}"
    );
    assert!(err.contains("followup note"), "{err}");
    // The same day put another way, or counted from another day, moves
    // nothing either: as a new version it would send the desk's reminders
    // again.
    for (due, from) in [
        ("by 15 December 2025", "2025-10-15"),
        ("by 15 December 2025", "2025-11-02"),
    ] {
        let err = desk.refuses(&["revise", &id, "--due", due, "--from", from]);
        assert!(err.contains("already ends 2025-12-15"), "{err}");
    }
}

/// Two names for one database give two WALs and two locks: writers that
/// cannot see each other, and a corrupt file.
#[test]
fn a_database_with_a_second_name_is_refused() {
    let (desk, _) = desk_with_one();
    let other = desk.path().join("other-name.db");
    std::fs::hard_link(desk.database(), &other).unwrap();
    for args in [
        &["list"][..],
        &["add", "Two", "--due", "2026-01-31"],
        &["daemon", "--once"],
    ] {
        let run = desk.run(args);
        assert!(!run.success(), "{args:?}");
        let err = run.stderr();
        assert!(
            err.contains("has 2 names (hard links)") && err.contains("-samefile"),
            "{args:?}: {err}"
        );
    }
    let doctor = desk.run(&["doctor"]);
    assert!(
        doctor.stdout().contains("FAIL") && doctor.stdout().contains("has 2 names"),
        "{}",
        doctor.stdout()
    );
    // Once the other name is gone, the database is as it was.
    std::fs::remove_file(&other).unwrap();
    let listed = desk.run(&["list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[test]
fn a_revision_is_held_to_the_date_it_was_stated() {
    let (desk, id) = desk_with_one();
    // Ending before the day it was stated, as `add --announced` refuses.
    let err = desk.refuses(&[
        "revise",
        &id,
        "--due",
        "by 20 November 2025",
        "--from",
        "2025-11-30",
    ]);
    assert!(
        err.contains("ends 2025-11-20, before it was stated on 2025-11-30")
            && err.contains("--from")
            && !err.contains("--announced"),
        "{err}"
    );
    // Stated before the commitment was announced.
    let err = desk.refuses(&["revise", &id, "--due", "2026-01-31", "--from", "2025-10-01"]);
    assert!(
        err.contains("--from 2025-10-01 is before commitment 1's announcement on 2025-10-15"),
        "{err}"
    );
    // Ending before the announcement: the hint names no option revise lacks.
    let err = desk.refuses(&["revise", &id, "--due", "by 1 January 2020"]);
    assert!(
        err.contains("before the announcement on 2025-10-15; check its year")
            && !err.contains("--announced"),
        "{err}"
    );
    // Stated in the future.
    let err = desk.refuses(&["revise", &id, "--due", "2026-01-31", "--from", "2199-01-01"]);
    assert!(err.contains("--from 2199-01-01 is after today"), "{err}");
    // Without --from, a new deadline already past is recorded, with a word.
    let run = desk.run(&["revise", &id, "--due", "2025-11-20"]);
    run.ok();
    assert!(
        run.stderr().contains("ended on 2025-11-20, before today")
            && run.stderr().contains("--from"),
        "{}",
        run.stderr()
    );
}

#[test]
fn dates_outside_the_years_followup_works_with_are_refused() {
    let desk = Desk::new();
    for (due, year) in [
        // A Hijri year (1447 AH is 2025-26) is not read as Gregorian.
        ("قبل نهاية عام 1447", "1447"),
        ("in 0001", "1"),
        ("1447-12-31", "1447"),
        ("within 3000 years", "50"),
    ] {
        let err = desk.refuses(&["add", "Hijri", "--due", due]);
        assert!(
            err.contains(&format!("it would end in the year {year}"))
                && err.contains("from 1900 to 2199"),
            "{due}: {err}"
        );
        let err = desk.run(&["parse", due]).fails();
        assert!(err.contains("years are read as Gregorian"), "{due}: {err}");
    }
    for date in ["0000-01-01", "1447-01-01", "2200-01-01"] {
        let err = desk.refuses(&["add", "Old", "--due", "soon", "--announced", date]);
        assert!(
            err.contains(&format!("{date} is not a date followup works with")),
            "{err}"
        );
    }
    let err = desk.refuses(&["add", "Ahead", "--due", "soon", "--announced", "2199-01-01"]);
    assert!(
        err.contains("--announced 2199-01-01 is after today")
            && err.contains("the date the commitment was announced"),
        "{err}"
    );
}

#[test]
fn an_imported_history_is_held_to_the_rules_of_note_and_revise() {
    let (desk, id) = desk_with_one();
    desk.run(&["revise", &id, "--due", "2026-01-31", "--reason", "slipped"]);
    desk.run(&["note", &id, "Talks resumed"]);
    let exported = desk.run(&["export"]).json();
    let record = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut record = exported[0].clone();
        record["id"] = 7.into();
        change(&mut record);
        serde_json::to_vec(&serde_json::json!([record])).unwrap()
    };
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "escape.json",
            record(&|r| r["history"][2]["text"] = "a\u{1b}[31mRED".into()),
            "history[2]: note \"a\\u{1b}[31mRED\" contains the control character",
        ),
        (
            "long.json",
            record(&|r| r["history"][2]["text"] = "n".repeat(20_001).into()),
            "history[2]: note is 20001 characters long",
        ),
        (
            "extra.json",
            record(&|r| r["history"][1]["extra"] = serde_json::json!({"a": 1})),
            "history[1]: a revised event has no field \"extra\"",
        ),
        (
            "reason.json",
            record(&|r| r["history"][1]["reason"] = "r\u{0}".into()),
            "history[1]: reason \"r\\0\" contains the control character",
        ),
        (
            "revision.json",
            record(&|r| r["revisions"][1]["reason"] = "r\u{7}".into()),
            "revisions[1]: reason",
        ),
    ];
    for (name, bytes, expected) in cases {
        let file = desk.write(name, &bytes);
        let err = desk.refuses(&["import", file.to_str().unwrap()]);
        assert!(
            err.contains(&format!("{name}: line 1: {expected}")),
            "{err}"
        );
        assert!(err.contains("nothing was imported"), "{err}");
    }
}

#[test]
fn an_imported_event_without_a_field_its_kind_always_has_is_refused() {
    let (desk, id) = desk_with_one();
    desk.run(&["revise", &id, "--due", "2026-01-31"]).ok();
    desk.run(&["note", &id, "Talks resumed"]).ok();
    desk.run(&["close", &id, "--outcome", "missed"]).ok();
    desk.run(&["reopen", &id]).ok();
    // created, revised, note, closed, reopened.
    let exported = desk.run(&["export"]).json();
    let record = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut record = exported[0].clone();
        record["id"] = 7.into();
        change(&mut record);
        serde_json::to_vec(&serde_json::json!([record])).unwrap()
    };
    let drop = |place: usize, field: &'static str| {
        move |r: &mut serde_json::Value| {
            r["history"][place].as_object_mut().unwrap().remove(field);
        }
    };
    let cases: [(&str, Vec<u8>, &str); 8] =
        [
            (
                "created.json",
                record(&drop(0, "deadline")),
                "history[0]: a created event has no \"deadline\"",
            ),
            (
                "revised.json",
                record(&drop(1, "to")),
                "history[1]: a revised event has no \"to\"",
            ),
            (
                "note.json",
                record(&drop(2, "text")),
                "history[2]: a note event has no \"text\"; give it, as every note event has text",
            ),
            (
                "null.json",
                record(&|r| r["history"][2]["text"] = serde_json::Value::Null),
                "history[2]: a note event has no \"text\" (it is null)",
            ),
            (
                "closed.json",
                record(&drop(3, "outcome")),
                "history[3]: a closed event has no \"outcome\"",
            ),
            (
                "reopened.json",
                record(&drop(4, "previous_outcome")),
                "history[4]: a reopened event has no \"previous_outcome\"",
            ),
            (
                "sent.json",
                record(&|r| {
                    r["history"].as_array_mut().unwrap().push(serde_json::json!({
                    "at": "2025-12-01T09:00:00Z", "author": "followup", "kind": "reminder_sent"
                }))
                }),
                "history[5]: a reminder_sent event has no \"reminder\"",
            ),
            (
                "failed.json",
                record(&|r| {
                    r["history"].as_array_mut().unwrap().push(serde_json::json!({
                    "at": "2025-12-01T09:00:00Z", "author": "followup", "kind": "delivery_failed",
                    "reminder": "due", "desk": "default", "recipient": "a@b.org",
                    "message_id": "<x@y>", "attempts": 5
                }))
                }),
                "history[5]: a delivery_failed event has no \"error\"",
            ),
        ];
    for (name, bytes, expected) in cases {
        let file = desk.write(name, &bytes);
        let err = desk.refuses(&["import", file.to_str().unwrap()]);
        assert!(
            err.contains(&format!("{name}: line 1: {expected}")),
            "{err}"
        );
        assert!(err.contains("nothing was imported"), "{err}");
    }
    // What `revise` and `close` leave empty may be left out.
    let file = desk.write(
        "optional.json",
        &record(&|r| {
            r["history"][1].as_object_mut().unwrap().remove("reason");
            r["history"][3].as_object_mut().unwrap().remove("evidence");
        }),
    );
    desk.run(&["import", file.to_str().unwrap()]).ok();
}

#[test]
fn an_imported_status_its_history_contradicts_is_refused() {
    let (desk, id) = desk_with_one();
    desk.run(&["close", &id, "--outcome", "missed"]).ok();
    let exported = desk.run(&["export"]).json();
    let record = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut record = exported[0].clone();
        record["id"] = 7.into();
        change(&mut record);
        serde_json::to_vec(&serde_json::json!([record])).unwrap()
    };
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "open.json",
            record(&|r| {
                r["status"] = "open".into();
                r["closed_at"] = serde_json::Value::Null;
                r["evidence"] = serde_json::Value::Null;
            }),
            "status is open, but history[1] closed it as missed and no later event reopened it",
        ),
        (
            "other.json",
            record(&|r| r["status"] = "fulfilled".into()),
            "status is fulfilled, but history[1] closed it as missed; give status \"missed\"",
        ),
        (
            "unclosed.json",
            record(&|r| {
                r["history"].as_array_mut().unwrap().pop();
            }),
            "status is missed, but history[0] (created) left it open",
        ),
    ];
    for (name, bytes, expected) in cases {
        let file = desk.write(name, &bytes);
        let err = desk.refuses(&["import", file.to_str().unwrap()]);
        assert!(
            err.contains(&format!("{name}: line 1: {expected}")),
            "{err}"
        );
    }
    // A hand-written row imported as closed has only its `imported`
    // event; exported, it imports again.
    let row = desk.write(
        "row.json",
        b"[{\"id\": 9, \"title\": \"Done elsewhere\", \"due\": \"2025-12-01\", \"status\": \"fulfilled\"}]",
    );
    desk.run(&["import", row.to_str().unwrap()]).ok();
    let again = Desk::new();
    let exported = desk.run(&["export"]).ok();
    let file = again.write("again.json", exported.as_bytes());
    again.run(&["import", file.to_str().unwrap()]).ok();
    assert_eq!(again.run(&["export"]).ok(), exported);
}

#[test]
fn a_commitment_carries_at_most_a_hundred_tags_and_a_hundred_actors() {
    let (desk, _) = desk_with_one();
    let many = |flag: &str, count: usize| -> Vec<String> {
        (0..count)
            .flat_map(|i| [flag.to_string(), format!("name{i}")])
            .collect()
    };
    let add = |extra: Vec<String>| -> Vec<String> {
        let mut args: Vec<String> = ["add", "Crowded", "--due", "2026-01-31"]
            .map(String::from)
            .to_vec();
        args.extend(extra);
        args
    };
    let args = add(many("--tag", 101));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = desk.refuses(&args);
    assert!(
        err.contains("101 tags; a commitment has at most 100"),
        "{err}"
    );
    let args = add(many("--actor", 101));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = desk.refuses(&args);
    assert!(
        err.contains("101 actors; a commitment has at most 100"),
        "{err}"
    );
    // A hundred of each, and a repeat more, which is dropped.
    let mut extra = many("--tag", 100);
    extra.extend(many("--actor", 100));
    extra.extend(["--tag", "NAME0", "--actor", "name0"].map(String::from));
    let args = add(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stored = desk.run(&args).ok();
    assert!(stored.contains("Added commitment 2"), "{stored}");

    // An import, of a hundred thousand tags too: refused at once, where
    // dropping repeats was once quadratic in them.
    let names = |count: usize| -> Vec<String> { (0..count).map(|i| format!("t{i}")).collect() };
    let cases = [
        (
            serde_json::json!({ "title": "a", "due": "2026-01-31", "tags": names(101) }),
            "101 tags; a commitment has at most 100",
        ),
        (
            serde_json::json!({ "title": "a", "due": "2026-01-31", "tags": names(100_000) }),
            "100000 tags; a commitment has at most 100",
        ),
        (
            serde_json::json!({ "title": "a", "due": "2026-01-31", "actors": names(101) }),
            "101 actors; a commitment has at most 100",
        ),
    ];
    for (record, expected) in cases {
        let text = format!("[\n{{\"title\": \"fine\", \"due\": \"2026-01-31\"}},\n{record}\n]");
        let file = desk.write("crowded.json", text.as_bytes());
        let started = std::time::Instant::now();
        let err = desk.refuses(&["import", file.to_str().unwrap()]);
        assert!(
            err.contains(&format!("crowded.json: line 3: {expected}")),
            "{err}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }
    // And `ingest --accept`, whose tags come from --tag.
    let article = desk.write(
        "article.txt",
        b"On 15 October 2025 the two sides agreed to reopen the Nasib border crossing within 30 days.",
    );
    let mut args: Vec<String> = ["ingest", article.to_str().unwrap(), "--accept", "1"]
        .map(String::from)
        .to_vec();
    args.extend(many("--tag", 101));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = desk.refuses(&args);
    assert!(
        err.contains("candidate 1: 101 tags; a commitment has at most 100"),
        "{err}"
    );
}

#[test]
fn a_database_in_a_missing_folder_is_refused_with_the_fix() {
    let desk = Desk::with_config("[store]\npath = \"no/such/folder/followup.db\"\n");
    let err = desk.run(&["add", "X", "--due", "2026-01-01"]).fails();
    assert!(err.contains("no/such/folder"), "{err}");
    assert!(
        err.contains("does not exist; create it or set store.path"),
        "{err}"
    );
    assert!(!desk.path().join("no").exists());
}

#[test]
fn a_database_in_a_read_only_folder_is_refused() {
    // Root ignores permission bits, so use a folder no one can write:
    // /proc refuses new files even to root.
    let desk = Desk::with_config("[store]\npath = \"/proc/followup-test.db\"\n");
    let err = desk.run(&["add", "X", "--due", "2026-01-01"]).fails();
    assert!(err.contains("/proc/followup-test.db"), "{err}");
    assert!(err.contains("writable"), "{err}");
}

#[test]
fn a_database_from_a_newer_followup_is_refused() {
    let (desk, _) = desk_with_one();
    let conn = rusqlite::Connection::open(desk.database()).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = desk.refuses(&["list"]);
    assert!(
        err.contains("schema version 99, newer than this followup understands"),
        "{err}"
    );
}

#[test]
fn a_corrupt_database_is_refused_and_not_written() {
    let (desk, _) = desk_with_one();
    let bytes = desk.corrupt_database();
    let path = desk.database();
    let err = desk.refuses(&["add", "New", "--due", "2026-01-01"]);
    assert!(
        err.contains("corrupt") || err.contains("not a followup database"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

/// Mistakes in the arguments are said on one line, as every other error
/// is, naming the value and what is allowed.
#[test]
fn argument_mistakes_are_one_line_naming_the_value() {
    let (desk, id) = desk_with_one();
    for (args, says) in [
        (
            vec!["close", id.as_str(), "--outcome", "done"],
            "\"done\" is not an outcome (use fulfilled, partial, missed or withdrawn)",
        ),
        (
            vec!["add", "X"],
            "required arguments were not provided: --due <EXPR>",
        ),
        (
            vec!["lsit"],
            "unrecognized subcommand 'lsit'; tip: a similar subcommand exists: 'list'",
        ),
        (vec!["show", "abc"], "\"abc\" is not a commitment id"),
    ] {
        let before = desk.snapshot();
        let run = desk.run(&args);
        assert_eq!(run.output.status.code(), Some(2), "{args:?}");
        let err = run.stderr();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(says),
            "{args:?}: {err}"
        );
        assert!(before == desk.snapshot(), "{args:?} changed the database");
    }
    // Help is laid out as ever, on stdout.
    let help = desk.run(&["add", "--help"]).ok();
    assert!(help.lines().count() > 5, "{help}");
}

/// A command about a commitment cannot find it in a database not yet
/// made, and makes none: a mistyped store.path gets a word, not a new file.
#[test]
fn a_command_about_a_commitment_creates_no_database() {
    let desk = Desk::new();
    for args in [
        vec!["revise", "1", "--due", "2027-01-01"],
        vec!["close", "1", "--outcome", "fulfilled"],
        vec!["reopen", "1"],
        vec!["note", "1", "met again"],
    ] {
        let err = desk.run(&args).fails();
        assert!(
            err.contains("no commitment has id 1") && err.contains("no database at"),
            "{args:?}: {err}"
        );
        assert!(!desk.database().exists(), "{args:?} created a database");
        assert!(!desk.database().parent().unwrap().exists(), "{args:?}");
    }
}

/// A path from outside reaches an error as text, not as terminal codes:
/// an escape sequence or a line break in it is shown as a symbol.
#[test]
fn an_error_naming_a_hostile_path_is_one_line_without_escape_codes() {
    let desk = Desk::new();
    let err = desk
        .run(&["import", "/tmp/no\u{1b}[31mfile\n.json"])
        .fails();
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("no␛[31mfile␊.json"), "{err:?}");
}
