//! Export and import: lossless round trips, all-or-nothing imports.

use serde_json::{Value, json};

use crate::support::{Desk, days_from_today};

/// A desk holding commitments with every awkward kind of text, revised,
/// closed, reopened and annotated.
fn busy_desk() -> Desk {
    let desk = Desk::new();
    let a = desk.add(&[
        "عقد اجتماع للجنة حكومية دولية مشتركة",
        "--due",
        "within 2 months",
        "--announced",
        "2025-10-15",
        "--actor",
        "Syria",
        "--actor",
        "Russia, Federation of",
        "--tag",
        "syria",
        "--quote",
        "قال \"نوفاك\"، إن الاجتماع سيعقد,\nفي غضون شهرين.\r\nسطر ثالث",
        "--source",
        "https://example.org/a?x=1,2&y=\"3\"",
        "--note",
        "first, note; with \"quotes\"",
    ]);
    let b = desk.add(&[
        "Reopen the border crossing",
        "--due",
        "2026-03-31",
        "--tag",
        "aid",
        "--tag",
        "jordan",
    ]);
    let c = desk.add(&[
        "Ratify the gas deal",
        "--due",
        "by 30 November 2025",
        "--announced",
        "2025-10-01",
    ]);
    // Hostile text is data: markup, SQL, bidi overrides and isolates.
    desk.add(&[
        "<b>Talks</b> \u{202e}exe.gnp\u{2066}'); DROP TABLE commitments;--",
        "--due",
        "2026-01-15",
        "--quote",
        "<script>alert(\"x\")</script>\r\n\u{202b}قال\u{202c} ' OR 1=1 --",
    ]);
    desk.run(&[
        "revise",
        &a.to_string(),
        "--due",
        "2026-02-28",
        "--reason",
        "slipped, per TASS",
    ])
    .ok();
    desk.run(&["close", &b.to_string(), "--outcome", "missed"])
        .ok();
    desk.run(&["reopen", &b.to_string()]).ok();
    desk.run(&[
        "close",
        &c.to_string(),
        "--outcome",
        "fulfilled",
        "--evidence",
        "https://example.org/c",
    ])
    .ok();
    desk.run(&["note", &a.to_string(), "line one\nline two"])
        .ok();
    desk
}

fn show_all(desk: &Desk) -> Vec<Value> {
    let list = desk.run(&["list", "--json"]).json();
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| desk.run(&["show", &c["id"].to_string(), "--json"]).json())
        .collect()
}

fn round_trip(format: &str) {
    let source = busy_desk();
    let exported = source.run(&["export", "--format", format]).ok();
    let target = Desk::new();
    let file = target.write(&format!("export.{format}"), exported.as_bytes());
    let out = target.run(&["import", file.to_str().unwrap()]).ok();
    assert!(out.contains("Imported 4 commitments"), "{out}");
    assert_eq!(show_all(&source), show_all(&target));
    assert_eq!(target.run(&["export", "--format", format]).ok(), exported);
}

#[test]
fn json_export_then_import_into_a_new_database_is_identical() {
    round_trip("json");
}

#[test]
fn csv_export_then_import_into_a_new_database_is_identical() {
    round_trip("csv");
}

#[test]
fn import_reads_standard_input() {
    let source = busy_desk();
    let exported = source.run(&["export"]).ok();
    let target = Desk::new();
    let ids = target
        .run_with_stdin(&["import", "-", "--json"], exported.as_bytes())
        .json();
    assert_eq!(ids["imported"].as_array().unwrap().len(), 4);
}

#[test]
fn import_is_all_or_nothing_and_names_the_bad_line() {
    let desk = busy_desk();
    let text =
        "title,due,announced\nGood one,2026-01-01,2025-10-15\nBad date,2026-01-01,2025-02-30\n";
    let file = desk.write("rows.csv", text.as_bytes());
    let err = desk.refuses(&["import", file.to_str().unwrap()]);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("2025-02-30"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
}

#[test]
fn a_long_import_into_a_file_that_is_not_a_database_stops_and_leaves_it_alone() {
    // The file's records are read while the database opens: more of them
    // than the reader may hold, so a reader left waiting would hang here.
    let desk = Desk::with_config("[store]\npath = \"notes.txt\"\n");
    let original = b"These are my meeting notes, not a database.\n".repeat(200);
    let path = desk.write("notes.txt", &original);
    let records: Vec<Value> = (0..20_000)
        .map(|i| json!({ "title": format!("Good {i}"), "due": "2026-01-01" }))
        .collect();
    let file = desk.write("many.json", &serde_json::to_vec(&records).unwrap());
    let err = desk.run(&["import", file.to_str().unwrap()]).fails();
    assert!(err.contains("is not a followup database"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert!(!desk.path().join("notes.txt-wal").exists());
}

#[test]
fn a_bad_record_after_thousands_of_good_ones_imports_nothing() {
    // Records are written while later ones are still being read; the bad
    // one at the end must still undo everything before it.
    let desk = busy_desk();
    let mut records: Vec<Value> = (0..5000)
        .map(|i| json!({ "title": format!("Good {i}"), "due": "2026-01-01" }))
        .collect();
    records.push(json!({ "title": "Bad", "due": "2026-02-30" }));
    let file = desk.write("many.json", &serde_json::to_vec_pretty(&records).unwrap());
    let err = desk.refuses(&["import", file.to_str().unwrap()]);
    assert!(err.contains("2026-02-30"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    let line = 5000 * 4 + 2;
    assert!(err.contains(&format!("line {line}")), "{err}");
}

#[test]
fn a_long_file_cut_short_imports_nothing_into_a_new_desk() {
    // Records are read as the file is parsed: thousands are written before
    // the cut is reached, and the cut must still undo them all.
    let desk = Desk::new();
    let records: Vec<Value> = (0..5000)
        .map(|i| json!({ "title": format!("Good {i}"), "due": "2026-01-01" }))
        .collect();
    let text = serde_json::to_string_pretty(&records).unwrap();
    let cut = &text[..text.len() - 30];
    let file = desk.write("cut.json", cut.as_bytes());
    let err = desk.run(&["import", file.to_str().unwrap()]).fails();
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    // Not a commitment and not an event: the transaction was rolled back.
    // (The file's bytes may differ: an import into an empty database
    // switches its journal for the import and back, whatever the outcome.)
    assert_eq!(desk.run(&["export"]).json(), json!([]));
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["commitments"]["events"], json!(0), "{status}");
    assert_eq!(status["commitments"]["total"], json!(0), "{status}");
}

#[test]
fn truncated_files_are_refused() {
    let desk = busy_desk();
    let exported = desk.run(&["export"]).ok();
    let cut = &exported[..exported.len() * 2 / 3];
    let file = desk.write("cut.json", cut.as_bytes());
    let err = desk.refuses(&["import", file.to_str().unwrap()]);
    assert!(err.contains("truncated"), "{err}");

    let csv = desk.run(&["export", "--format", "csv"]).ok();
    // Cut inside the quoted history cell of the last row.
    let cut = &csv[..csv.len() - 40];
    let file = desk.write("cut.csv", cut.as_bytes());
    desk.refuses(&["import", file.to_str().unwrap()]);
}

#[test]
fn mistyped_files_are_refused_naming_the_problem() {
    let desk = busy_desk();
    let cases: [(&str, &str, &str); 8] = [
        (
            "when.json",
            "[{\"title\": \"a\", \"due\": \"2026-01-01\", \"created_at\": \"yesterday\"}]",
            "when.json: line 1: created_at: \"yesterday\" is not an instant; write it as 2025-10-15T09:00:00Z",
        ),
        (
            "wrong.json",
            "{\"title\": \"not in an array\"}",
            "expected a JSON array",
        ),
        (
            "types.json",
            "[{\"title\": 42, \"due\": \"2026-01-01\"}]",
            "types.json: line 1: title: invalid type: integer `42`, expected a string; nothing",
        ),
        // The field at fault is named with its place, on the file's line.
        (
            "deep.json",
            "[\n{\"title\": \"a\", \"due\": \"2026-01-01\"},\n{\"title\": \"b\",\n \"due\": \"2026-01-01\",\n \"tags\": [\"x\", 7]}\n]",
            "deep.json: line 5: tags[1]: invalid type: integer `7`",
        ),
        (
            "colour.json",
            "[{\"title\": \"a\", \"due\": \"2026-01-01\", \"colour\": \"red\"}]",
            "line 1: colour: unknown field `colour`",
        ),
        (
            "nodue.json",
            "[{\"title\": \"No deadline\"}]",
            "no deadline",
        ),
        ("empty.json", "   \n", "is empty"),
        ("binary.json", "\u{0}\u{1}\u{2}garbage", "not a text file"),
    ];
    for (name, text, expected) in cases {
        let file = desk.write(name, text.as_bytes());
        let err = desk.refuses(&["import", file.to_str().unwrap()]);
        assert!(err.contains(expected), "{name}: {err}");
    }
    let file = desk.write("latin1.csv", b"title,due\nCaf\xe9,2026-01-01\n");
    let err = desk.refuses(&["import", file.to_str().unwrap()]);
    assert!(err.contains("not UTF-8"), "{err}");
    // "title,due\nCaf" is 13 bytes.
    assert!(err.contains("bad byte at offset 13"), "{err}");
}

#[test]
fn csv_with_a_column_twice_an_empty_title_or_json_inside_is_refused() {
    let desk = busy_desk();
    let cases: [(&str, &str, &str); 3] = [
        (
            "twice.csv",
            "title,title,due\na,b,within 2 months\n",
            "twice.csv: line 1: the column \"title\" is given twice; keep one",
        ),
        (
            "blank.csv",
            "title,due\nfine,2026-01-01\n,2026-01-01\n",
            "blank.csv: line 3: title is empty; say in a few words what was promised",
        ),
        (
            "export.csv",
            "[{\"title\": \"a\", \"due\": \"2026-01-01\"}]",
            "export.csv: line 1: this is read as CSV but looks like JSON; pass --format json",
        ),
    ];
    for (name, text, expected) in cases {
        let file = desk.write(name, text.as_bytes());
        let err = desk.refuses(&["import", file.to_str().unwrap()]);
        assert!(err.contains(expected), "{name}: {err}");
    }
}

#[test]
fn a_byte_order_mark_at_the_start_of_a_file_is_not_data() {
    let desk = Desk::new();
    let json = desk.write(
        "bom.json",
        "\u{feff}[{\"title\": \"From a spreadsheet\", \"due\": \"2026-01-01\"}]".as_bytes(),
    );
    let csv = desk.write(
        "bom.csv",
        "\u{feff}title,due\nAlso from a spreadsheet,2026-01-01\n".as_bytes(),
    );
    desk.run(&["import", json.to_str().unwrap()]).ok();
    desk.run(&["import", csv.to_str().unwrap()]).ok();
    let stdin = desk.run_with_stdin(
        &["import", "-"],
        "\u{feff}[{\"title\": \"Piped\", \"due\": \"2026-01-01\"}]".as_bytes(),
    );
    stdin.ok();
    let titles: Vec<Value> = desk
        .run(&["list", "--json"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].clone())
        .collect();
    assert_eq!(
        titles,
        vec![
            json!("From a spreadsheet"),
            json!("Also from a spreadsheet"),
            json!("Piped")
        ]
    );
}

#[test]
fn a_refused_import_into_a_new_desk_leaves_no_database() {
    let desk = Desk::new();
    let folder = desk.database().parent().unwrap().to_path_buf();
    let files = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .map(|dir| {
                dir.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let cut = desk.write(
        "cut.json",
        b"[{\"title\": \"a\", \"due\": \"2026-01-01\"},\n{\"title\": \"b\", \"due\":",
    );
    desk.run(&["import", cut.to_str().unwrap()]).fails();
    assert!(!folder.exists(), "nothing left behind: {:?}", files());
    // A good import into the same new desk takes the database's name,
    // whole, and leaves nothing else but the record of it as checked.
    let good = desk.write(
        "good.json",
        b"[{\"title\": \"a\", \"due\": \"2026-01-01\"},\n{\"title\": \"b\", \"due\": \"2026-02-01\"}]",
    );
    let out = desk
        .run(&["import", good.to_str().unwrap(), "--json"])
        .json();
    assert_eq!(out["imported"], json!([1, 2]));
    assert_eq!(files(), ["followup.db", "followup.db-verified"]);
    assert_eq!(
        desk.run(&["list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    desk.add(&["c", "--due", "2026-03-01"]);
    let mode: String = rusqlite::Connection::open(desk.database())
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn an_id_given_twice_in_one_file_is_named_as_such() {
    let desk = Desk::new();
    let file = desk.write(
        "twice.json",
        b"[\n{\"id\": 1, \"title\": \"a\", \"due\": \"2026-01-01\"},\n{\"id\": 1, \"title\": \"b\", \"due\": \"2026-01-01\"}\n]",
    );
    let err = desk.run(&["import", file.to_str().unwrap()]).fails();
    assert!(
        err.contains("twice.json: line 3: id 1 is given to an earlier record of this file too"),
        "{err}"
    );
    assert!(!err.contains("already used in this database"), "{err}");
    assert_eq!(desk.run(&["list", "--json"]).json(), json!([]));
}

#[test]
fn a_file_that_cannot_be_read_says_what_to_check() {
    let desk = busy_desk();
    let err = desk.refuses(&["import", "/nonexistent/commitments.json"]);
    assert!(
        err.contains("cannot read /nonexistent/commitments.json: No such file or directory"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("; check the path"), "{err}");
    let err = desk.refuses(&["import", "/tmp"]);
    assert!(err.contains("give a file, not a folder"), "{err}");
    let err = desk.refuses(&["restore", "/nonexistent/backup.db"]);
    assert!(err.contains("; check the path"), "{err}");
}

#[test]
fn importing_ids_that_exist_is_refused_unless_renumbered() {
    let desk = busy_desk();
    let exported = desk.run(&["export"]).ok();
    let file = desk.write("again.json", exported.as_bytes());
    let err = desk.refuses(&["import", file.to_str().unwrap()]);
    assert!(
        err.contains("again.json: line 2: id 1 is already used"),
        "{err}"
    );
    assert!(err.contains("--renumber"), "{err}");
    let out = desk
        .run(&["import", file.to_str().unwrap(), "--renumber", "--json"])
        .json();
    assert_eq!(out["imported"], serde_json::json!([5, 6, 7, 8]));
    let copy = desk.run(&["show", "5", "--json"]).json();
    assert_eq!(copy["title"], "عقد اجتماع للجنة حكومية دولية مشتركة");
    assert_eq!(copy["history"].as_array().unwrap().len(), 4);
}

#[test]
fn a_large_import_leaves_no_large_wal_behind() {
    let desk = Desk::new();
    let records: Vec<Value> = (0..5000)
        .map(|i| json!({ "title": format!("Commitment {i} of a long archive"), "due": "2026-01-01" }))
        .collect();
    let file = desk.write("many.json", &serde_json::to_vec(&records).unwrap());
    desk.run(&["import", file.to_str().unwrap()]).ok();
    let wal = format!("{}-wal", desk.database().display());
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(size <= 1 << 20, "the import left a {size}-byte WAL");
    let listed = desk.run(&["list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 5000);
}

/// Three thousand commitments, a note, every record marked stale (as
/// after a write from outside followup, so that the export reads the
/// tables), everything folded into the main file, then one page of the
/// commitments table overwritten in the middle as a failing disk might:
/// SQLite does not notice this damage when it seeks by id, and the rows on
/// such a page were left out of a JSON export that still exited 0.
#[test]
fn a_damaged_page_stops_the_export_instead_of_leaving_its_rows_out() {
    let (desk, path, bytes) = three_thousand_in_the_main_file(Records::Stale);
    damage_a_middle_leaf(&path, bytes, "commitments");
    let run = desk.run(&["export"]);
    let written: Result<Vec<Value>, _> = serde_json::from_str(&run.stdout());
    if let Ok(written) = &written {
        // Only a whole export may look like one.
        assert_eq!(written.len(), 3000, "{}", run.stderr());
    }
    assert!(
        !run.success(),
        "exported {:?} records",
        written.map(|w| w.len())
    );
    let err = run.stderr();
    assert!(err.contains("is corrupt"), "{err}");
    assert!(err.contains("of its 3000 commitments"), "{err}");
}

/// The same damage to a leaf of the kept pages of records: they are only
/// copies, and what SQLite or the page's checksum finds damaged is read
/// from the tables. The export is whole and the same as before the damage.
#[test]
fn a_damaged_page_of_kept_records_is_read_from_the_tables() {
    let (desk, path, bytes) = three_thousand_in_the_main_file(Records::Kept);
    let before = desk.run(&["export"]).ok();
    damage_a_middle_leaf(&path, bytes, "record_pages");
    assert_eq!(desk.run(&["export"]).ok(), before);
}

/// The same damage to a page of the commitments table, with every record
/// kept: the export is whole, the same as before the damage, or it stops;
/// never short.
#[test]
fn a_damaged_commitments_page_leaves_the_export_whole_or_stops_it() {
    let (desk, path, bytes) = three_thousand_in_the_main_file(Records::Kept);
    let before = desk.run(&["export"]).ok();
    damage_a_middle_leaf(&path, bytes, "commitments");
    let run = desk.run(&["export"]);
    if run.success() {
        assert_eq!(run.stdout(), before);
    } else {
        assert!(run.stderr().contains("is corrupt"), "{}", run.stderr());
    }
}

/// Overwrites 256 bytes of a leaf in the middle of `table` in the file
/// whose `bytes` are given.
fn damage_a_middle_leaf(path: &std::path::Path, mut bytes: Vec<u8>, table: &str) {
    let leaf = a_middle_leaf_of(path, &bytes, table);
    let at = (leaf - 1) * 4096 + 100;
    for (i, byte) in bytes[at..at + 256].iter_mut().enumerate() {
        *byte = [0xde, 0xad, 0xbe, 0xef][i % 4];
    }
    std::fs::write(path, &bytes).unwrap();
}

/// Ids are kept on import, so they may lie anywhere in 64 bits: an export
/// is cut into runs by the ids there are. Cut by arithmetic on them, one
/// id near 2^62 made the export spin for ever and write nothing.
#[test]
fn ids_far_apart_export_as_fast_as_ids_close_together() {
    let desk = Desk::new();
    let file = desk.write(
        "far.json",
        br#"[{"id":1,"title":"a","due":"soon"},{"id":4611686018427387904,"title":"b","due":"soon"},{"id":9223372036854775807,"title":"c","due":"soon"}]"#,
    );
    desk.run(&["import", file.to_str().unwrap()]).ok();
    // SQLite picks a random free id after the largest one there can be.
    desk.add(&["d", "--due", "soon"]);
    let out = export_within_20_seconds(&desk);
    assert!(out.status.success());
    let written: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let titles: Vec<&str> = written
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 4, "{titles:?}");
    assert_eq!(&titles[..1], ["a"]);
    assert!(titles.contains(&"b") && titles.contains(&"c") && titles.contains(&"d"));
}

/// A desk whose database an import of two commitments created.
fn two_imported_into_a_new_desk() -> Desk {
    let desk = Desk::new();
    let file = desk.write(
        "two.json",
        br#"[{"title":"a","due":"soon"},{"title":"b","due":"within two months"}]"#,
    );
    desk.run(&["import", file.to_str().unwrap()]).ok();
    desk
}

/// The header of a database file says its journal mode (bytes 18 and 19:
/// 1 for a rollback journal, 2 for WAL). An import into a new database
/// leaves it in WAL, without waiting for the next command to switch it.
#[test]
fn an_import_into_a_new_database_leaves_it_in_wal_mode() {
    let desk = two_imported_into_a_new_desk();
    let header = std::fs::read(desk.database()).unwrap();
    assert_eq!(&header[18..20], &[2, 2], "journal mode bytes");
    assert!(
        !desk
            .path()
            .join("data/followup/followup.db-journal")
            .exists()
    );
}

/// A database an import builds is remembered as checked, as one a write
/// command leaves is: the next write does not read the whole file again
/// (a second at 100,000 commitments). The marker holds the file's size and
/// modification time, so a file changed afterwards is checked as before.
#[test]
fn an_import_into_a_new_database_is_remembered_as_checked() {
    let desk = two_imported_into_a_new_desk();
    let meta = std::fs::metadata(desk.database()).unwrap();
    let modified = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let marker = desk.path().join("data/followup/followup.db-verified");
    assert_eq!(
        std::fs::read_to_string(&marker).expect("a marker beside the new database"),
        format!("{} {}\n", meta.len(), modified.as_nanos())
    );
}

#[test]
fn hand_written_rows_are_held_to_the_dates_add_refuses() {
    let desk = busy_desk();
    let ahead = days_from_today(2);
    let cases = [
        (
            "ahead.csv",
            format!("title,due,announced\nGood,within 2 months,2025-10-15\nAhead,soon,{ahead}\n"),
            format!(
                "ahead.csv: line 3: announced {ahead} is after today ({}, with a day's grace for time zones); give the date the commitment was announced; nothing was imported",
                days_from_today(0)
            ),
        ),
        (
            "anchor.json",
            format!(
                "[{{\"title\": \"Ahead\", \"deadline\": {{\"expression\": \"soon\", \"anchor\": \"{ahead}\"}}}}]"
            ),
            format!("anchor.json: line 1: deadline.anchor {ahead} is after today"),
        ),
        (
            "before.csv",
            "title,due,announced\nLapsed,by 1 October 2025,2025-10-15\n".to_string(),
            "before.csv: line 2: the deadline \"by 1 October 2025\" ends 2025-10-01, before the announcement on 2025-10-15; check its year, or the record's announced date; nothing was imported".to_string(),
        ),
    ];
    for (name, text, expected) in cases {
        let file = desk.write(name, text.as_bytes());
        let err = desk.refuses(&["import", file.to_str().unwrap()]);
        assert!(err.contains(&expected), "{name}: {err}");
    }
    // As `add` takes them: tomorrow (a desk ahead of the configured time
    // zone), and a deadline already past when no announcement is stated.
    let file = desk.write(
        "fine.csv",
        format!(
            "title,due,announced\nTomorrow,soon,{}\nLapsed,by 1 October 2025,\n",
            days_from_today(1)
        )
        .as_bytes(),
    );
    desk.run(&["import", file.to_str().unwrap()]).ok();
}

#[test]
fn an_export_holding_a_lapsed_deadline_imports_again_but_not_a_future_announcement() {
    let desk = Desk::new();
    // Announced today, by `add` without --announced, and ended long ago.
    let run = desk.run(&[
        "add",
        "Lapsed before it was recorded",
        "--due",
        "by 1 October 2025",
    ]);
    run.ok();
    assert!(
        run.stderr().contains("recorded as overdue"),
        "{}",
        run.stderr()
    );
    let exported = desk.run(&["export"]).ok();
    let again = Desk::new();
    let file = again.write("export.json", exported.as_bytes());
    again.run(&["import", file.to_str().unwrap()]).ok();
    assert_eq!(again.run(&["export"]).ok(), exported);

    let mut records: Value = serde_json::from_str(&exported).unwrap();
    records[0]["announced"] = days_from_today(2).into();
    let file = again.write("ahead.json", records.to_string().as_bytes());
    let err = again.refuses(&["import", file.to_str().unwrap(), "--renumber"]);
    assert!(
        err.contains(&format!(
            "ahead.json: line 1: announced {} is after today",
            days_from_today(2)
        )),
        "{err}"
    );
}

#[test]
fn csv_import_reports_the_first_problem_in_the_file() {
    let desk = busy_desk();
    // An empty title on line 3, a stray quote on line 5.
    let file = desk.write(
        "rows.csv",
        b"title,due\nok,soon\n,soon\nok2,soon\n\"bad,soon\n",
    );
    let err = desk.refuses(&["import", file.to_str().unwrap()]);
    assert!(
        err.contains("rows.csv: line 3: title is empty") && err.contains("nothing was imported"),
        "{err}"
    );
}

/// The page number of a leaf in the middle of `table`, found
/// from the table's root page (an interior page: a cell count at 3, cell
/// pointers from 12, each cell starting with its child's page number).
fn a_middle_leaf_of(path: &std::path::Path, bytes: &[u8], table: &str) -> usize {
    let root_at = (root_page(path, table) - 1) * 4096;
    assert_eq!(bytes[root_at], 0x05, "the table's root is an interior page");
    let cells = usize::from(u16::from_be_bytes([bytes[root_at + 3], bytes[root_at + 4]]));
    let pointer = root_at + 12 + 2 * (cells / 2);
    let cell = root_at + usize::from(u16::from_be_bytes([bytes[pointer], bytes[pointer + 1]]));
    u32::from_be_bytes(bytes[cell..cell + 4].try_into().unwrap()) as usize
}

/// Whether a test's records are kept rendered, or all marked stale for
/// the export to read the tables.
#[derive(Clone, Copy, PartialEq)]
enum Records {
    Kept,
    Stale,
}

/// A desk of three thousand commitments and a note, everything folded
/// into the main file; the file's bytes.
fn three_thousand_in_the_main_file(kept: Records) -> (Desk, std::path::PathBuf, Vec<u8>) {
    let desk = Desk::new();
    let records: Vec<Value> = (0..3000)
        .map(|i| {
            json!({
                "title": format!("imp {i}"),
                "due": format!("within {} days", i % 300 + 1),
                "announced": "2025-10-15",
                "tags": ["bulk"],
            })
        })
        .collect();
    let file = desk.write("bulk.json", &serde_json::to_vec(&records).unwrap());
    desk.run(&["import", file.to_str().unwrap()]).ok();
    desk.run(&["note", "1", "x"]).ok();
    let path = desk.database();
    let conn = rusqlite::Connection::open(&path).unwrap();
    if kept == Records::Stale {
        conn.execute_batch("INSERT INTO stale_records (id) SELECT id FROM commitments")
            .unwrap();
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let bytes = std::fs::read(&path).unwrap();
    (desk, path, bytes)
}

/// A damaged leaf of the commitments whose ids read as 0, the export
/// reading the tables: the ids SQLite then finds do not come in order, and
/// an export that took the next one as the next place to read from
/// searched the same place for ever.
#[test]
fn ids_out_of_order_on_a_damaged_page_stop_the_export() {
    let (desk, path, bytes) = three_thousand_in_the_main_file(Records::Stale);
    ids_read_as_0_on_a_leaf(&path, bytes, "commitments");
    let out = export_within_20_seconds(&desk);
    let written: Result<Vec<Value>, _> = serde_json::from_slice(&out.stdout);
    if let Ok(written) = &written {
        assert_eq!(written.len(), 3000, "only a whole export may look like one");
    }
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is corrupt"), "{err}");
}

/// The same damage to a leaf of the kept pages of records: the pages no
/// longer come in order, and from there on the export reads the tables.
/// The export is whole and the same as before.
#[test]
fn kept_records_passed_over_by_a_search_are_read_from_the_tables() {
    let (desk, path, bytes) = three_thousand_in_the_main_file(Records::Kept);
    let before = desk.run(&["export"]).ok();
    ids_read_as_0_on_a_leaf(&path, bytes, "record_pages");
    let out = export_within_20_seconds(&desk);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), before);
}

/// Makes every id on the leaf of `table` that holds id 257 (where an
/// export's second run starts) read as 0.
fn ids_read_as_0_on_a_leaf(path: &std::path::Path, mut bytes: Vec<u8>, table: &str) {
    let leaf = leaf_holding(&bytes, root_page(path, table), 257);
    // Each cell of a table leaf: its payload's size, then its id, both
    // varints. Ids from 128 to 16383 take two bytes; 0x80 0x00 is 0 in two.
    let leaf_at = (leaf - 1) * 4096;
    assert_eq!(bytes[leaf_at], 0x0d, "a table leaf");
    let cells = usize::from(u16::from_be_bytes([bytes[leaf_at + 3], bytes[leaf_at + 4]]));
    for k in 0..cells {
        let pointer = leaf_at + 8 + 2 * k;
        let cell = leaf_at + usize::from(u16::from_be_bytes([bytes[pointer], bytes[pointer + 1]]));
        let id_at = cell + varint(&bytes[cell..]).1;
        let (id, length) = varint(&bytes[id_at..]);
        assert_eq!(length, 2, "id {id}");
        bytes[id_at..id_at + 2].copy_from_slice(&[0x80, 0x00]);
    }
    std::fs::write(path, &bytes).unwrap();
}

/// The page number of the leaf of a table that holds `id`, found from
/// the table's root down: in an interior page (a cell count at 3, the
/// right-most child at 8, cell pointers from 12, each cell a child's page
/// number and the largest id to its left), the first cell whose id is
/// `id` or more points at it, or else the right-most child.
fn leaf_holding(bytes: &[u8], root: usize, id: u64) -> usize {
    let mut page = root;
    loop {
        let at = (page - 1) * 4096;
        if bytes[at] != 0x05 {
            return page;
        }
        let cells = usize::from(u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]));
        let child = |cell: usize| u32::from_be_bytes(bytes[cell..cell + 4].try_into().unwrap());
        page = (0..cells)
            .map(|k| {
                let pointer = at + 12 + 2 * k;
                at + usize::from(u16::from_be_bytes([bytes[pointer], bytes[pointer + 1]]))
            })
            .find(|&cell| varint(&bytes[cell + 4..]).0 >= id)
            .map_or_else(|| child(at + 8), child) as usize;
    }
}

/// The root page of `table`.
fn root_page(path: &std::path::Path, table: &str) -> usize {
    let root: i64 = rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = ?1",
            [table],
            |row| row.get(0),
        )
        .unwrap();
    usize::try_from(root).unwrap()
}

/// An SQLite varint at the start of `bytes`: its value and its length.
fn varint(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().take(8).enumerate() {
        value = value << 7 | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value << 8 | u64::from(bytes[8]), 9)
}

/// Every date an import stores is held to the years every command holds
/// its dates to, as written by hand or inside an export's deadline.
#[test]
fn an_import_holds_its_dates_to_the_years_followup_works_with() {
    let desk = busy_desk();
    let exported = desk.run(&["export"]).ok();
    let mut records: Vec<Value> = serde_json::from_str(&exported).unwrap();
    records.truncate(1);
    // Where in the record, the date put there, and what import says.
    let cases = [
        (
            "/announced",
            "1899-12-31",
            "announced 1899-12-31 is not a date followup works with",
        ),
        (
            "/deadline/latest",
            "2301-01-01",
            "deadline.latest 2301-01-01 is not a date followup works with",
        ),
        (
            "/revisions/0/anchor",
            "1066-10-14",
            "revisions[0]: anchor 1066-10-14 is not a date followup works with",
        ),
    ];
    for (place, date, says) in cases {
        let mut record = records[0].clone();
        *record.pointer_mut(place).unwrap() = date.into();
        let file = desk.write("years.json", &serde_json::to_vec(&vec![record]).unwrap());
        let err = desk.refuses(&["import", file.to_str().unwrap(), "--renumber"]);
        assert!(err.contains(says), "{place}: {err}");
    }
}

/// `followup export`'s output, failing the test if it still runs after
/// 20 s (the exports these tests hold to it took for ever). Its output is
/// read as it comes, so that a long one is not held up by a full pipe.
fn export_within_20_seconds(desk: &Desk) -> std::process::Output {
    use std::io::Read;
    let mut child = desk
        .command(&["export"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let read_out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).map(|_| bytes)
    });
    let read_err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stderr.read_to_end(&mut bytes).map(|_| bytes)
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the export was still running after 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: read_out.join().unwrap().unwrap(),
        stderr: read_err.join().unwrap().unwrap(),
    }
}

/// What a spreadsheet or a hand-edited export most often gets wrong is
/// said with its fix.
#[test]
fn import_mistakes_of_hand_and_spreadsheet_name_their_fix() {
    let desk = Desk::new();
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "status.csv",
            b"title,due,status\nx,soon,done\n",
            "line 2: column status: \"done\" is not a status (use open, fulfilled, partial, missed or withdrawn)",
        ),
        (
            "capitals.csv",
            b"Title,Due\nx,soon\n",
            "unknown column \"Title\"; column names are lower-case: write \"title\"",
        ),
        (
            "semicolons.csv",
            b"title;due\nx;soon\n",
            "columns are separated by commas",
        ),
        (
            "at.json",
            br#"[{"title":"a","due":"soon","history":[{"at":"2025-13-01T00:00:00Z","author":"x","kind":"imported"}]}]"#,
            "history[0].at: \"2025-13-01T00:00:00Z\" is not an instant; write it as 2025-10-15T09:00:00Z (UTC)",
        ),
    ];
    for (name, bytes, says) in cases {
        let file = desk.write(name, bytes);
        let err = desk.refuses(&["import", file.to_str().unwrap()]);
        assert!(err.contains(says), "{name}: {err}");
    }
}
