//! `followup ingest` from the command line: review, JSON, accept, and bad
//! input refused with nothing stored.

use crate::support::{Desk, days_from_today};

fn seed(desk: &Desk) -> String {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ingest/seed-syria-russia.ar"
    ))
    .unwrap();
    desk.write("seed.txt", &text).display().to_string()
}

#[test]
fn review_lists_the_committee_meeting_with_its_dates() {
    let desk = Desk::new();
    let file = seed(&desk);
    let out = desk.run(&["ingest", &file]).ok();
    assert!(
        out.starts_with("Announced 2025-10-15 (date found in the article)"),
        "{out}"
    );
    assert!(
        out.contains("1. عقد اجتماع للجنة حكومية دولية مشتركة"),
        "{out}"
    );
    assert!(out.contains("\"في غضون شهرين\" → 2025-12-15"), "{out}");
    assert!(out.contains("also said   \"في المستقبل القريب\""), "{out}");
    assert!(!out.contains("2. "), "only one candidate: {out}");
    let listed = desk.run(&["list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 0, "review stores nothing");
}

#[test]
fn json_candidates_carry_the_contract_fields() {
    let desk = Desk::new();
    let file = seed(&desk);
    let candidates = desk.run(&["ingest", &file, "--json"]).json();
    let c = &candidates[0];
    assert_eq!(candidates.as_array().unwrap().len(), 1);
    assert_eq!(c["title"], "عقد اجتماع للجنة حكومية دولية مشتركة");
    assert!(
        c["quote"]
            .as_str()
            .unwrap()
            .starts_with("كما تم الاتفاق على")
    );
    assert_eq!(c["actors"], serde_json::json!(["Syria", "Russia"]));
    assert_eq!(c["deadline"]["latest"], "2025-12-15");
    assert_eq!(c["deadline"]["vague"], false);
    assert_eq!(c["mentions"].as_array().unwrap().len(), 2);
    assert_eq!(c["cue"], "تم الاتفاق على");
    assert!(c["confidence"].as_f64().unwrap() > 0.5);
    // What --accept takes, and the date the deadline counts from.
    assert_eq!(c["number"], 1);
    assert_eq!(c["announced"], "2025-10-15");
    assert_eq!(c["announced_from"], "article");
}

#[test]
fn accept_stores_the_chosen_candidate_with_its_provenance() {
    let desk = Desk::new();
    let file = seed(&desk);
    let stored = desk
        .run(&[
            "ingest",
            &file,
            "--accept",
            "1",
            "--tag",
            "syria",
            "--source",
            "https://example.org/moscow",
            "--json",
        ])
        .json();
    let id = stored[0]["id"].to_string();
    let c = desk.run(&["show", &id, "--json"]).json();
    assert_eq!(c["title"], "عقد اجتماع للجنة حكومية دولية مشتركة");
    assert_eq!(c["announced"], "2025-10-15");
    assert_eq!(c["deadline"]["latest"], "2025-12-15");
    assert_eq!(c["deadline"]["expression"], "في غضون شهرين");
    assert_eq!(c["tags"], serde_json::json!(["syria"]));
    assert_eq!(c["actors"], serde_json::json!(["Syria", "Russia"]));
    assert_eq!(c["source"], "https://example.org/moscow");
    assert!(c["quote"].as_str().unwrap().contains("عقد اجتماع"));
    let note = c["history"][1]["text"].as_str().unwrap();
    assert!(note.contains("followup ingest"), "{note}");

    // Accepted again (a script run twice), it is not recorded twice.
    let err = desk.refuses(&["ingest", &file, "--accept", "1"]);
    assert!(
        err.contains(&format!(
            "candidate 1 is already recorded as commitment {id}"
        )),
        "{err}"
    );
}

#[test]
fn standard_input_and_the_announced_flag_work() {
    let desk = Desk::new();
    let text = "The two sides agreed to reopen the Nasib border crossing within 30 days.";
    let out = desk
        .run_with_stdin(
            &["ingest", "-", "--announced", "2025-03-01", "--json"],
            text.as_bytes(),
        )
        .json();
    assert_eq!(out[0]["deadline"]["latest"], "2025-03-31");
    assert_eq!(out[0]["announced"], "2025-03-01");
    assert_eq!(out[0]["announced_from"], "flag");
}

#[test]
fn bad_input_is_refused_and_nothing_is_stored() {
    let desk = Desk::new();
    desk.add(&["Existing", "--due", "2030-01-01"]);
    let file = seed(&desk);
    let err = desk.refuses(&["ingest", &file, "--accept", "1,7"]);
    assert!(err.contains("there is no candidate 7"), "{err}");
    assert!(err.contains("nothing was stored"), "{err}");
    let err = desk.refuses(&["ingest", &file, "--accept", "x"]);
    assert!(err.contains("\"x\" is not a candidate number"), "{err}");
    let empty = desk.write("empty.txt", b"  \n");
    let err = desk.refuses(&["ingest", empty.to_str().unwrap()]);
    assert!(err.contains("is empty"), "{err}");
    let binary = desk.write("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00");
    let err = desk.refuses(&["ingest", binary.to_str().unwrap(), "--accept", "1"]);
    assert!(err.contains("not a text file"), "{err}");
    let undated = desk.write(
        "undated.txt",
        "Qatar pledged to fund the reconstruction of the hospital.".as_bytes(),
    );
    let out = desk
        .run(&["ingest", undated.to_str().unwrap(), "--json"])
        .json();
    assert_eq!(out.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out[0]["deadline"], serde_json::Value::Null);
    let err = desk.refuses(&["ingest", undated.to_str().unwrap(), "--accept", "1"]);
    assert!(err.contains("names no deadline"), "{err}");
    // The review suggests no --accept that would be refused.
    let review = desk.run(&["ingest", undated.to_str().unwrap()]).ok();
    assert!(review.contains("None names a deadline"), "{review}");
    assert!(!review.contains("--accept"), "{review}");
    let review = desk.run(&["ingest", &file]).ok();
    assert!(review.contains("--accept 1 [--tag T]"), "{review}");
}

#[test]
fn accept_is_held_to_the_dates_add_refuses() {
    let desk = Desk::new();
    let file = seed(&desk);
    let ahead = days_from_today(2);
    let err = desk.refuses(&["ingest", &file, "--accept", "1", "--announced", &ahead]);
    assert!(
        err.contains(&format!(
            "--announced {ahead} is after today ({}, with a day's grace for time zones); give the date the commitment was announced; nothing was stored",
            days_from_today(0)
        )),
        "{err}"
    );
    let year = ahead[..4].parse::<i32>().unwrap() + 1;
    let dated = desk.write(
        "ahead.txt",
        format!("On 15 October {year} the two sides agreed to reopen the Nasib border crossing within 30 days.")
            .as_bytes(),
    );
    let err = desk.refuses(&["ingest", dated.to_str().unwrap(), "--accept", "1"]);
    assert!(
        err.contains(&format!("the article's date {year}-10-15 is after today"))
            && err.contains("--announced"),
        "{err}"
    );
    let lapsed = desk.write(
        "lapsed.txt",
        "On 15 October 2025 the two sides agreed to reopen the Nasib border crossing by 1 October 2025."
            .as_bytes(),
    );
    let err = desk.refuses(&["ingest", lapsed.to_str().unwrap(), "--accept", "1"]);
    assert!(
        err.contains("candidate 1: the deadline \"by 1 October 2025\" ends 2025-10-01, before the announcement on 2025-10-15; check its year")
            && err.ends_with("nothing was stored\n"),
        "{err}"
    );
    let err = desk.refuses(&[
        "ingest",
        lapsed.to_str().unwrap(),
        "--accept",
        "1",
        "--announced",
        "2025-10-02",
    ]);
    assert!(
        err.contains("before the announcement on 2025-10-02; check its year, or the date given with --announced"),
        "{err}"
    );
    // Announced before the deadline, it is stored.
    desk.run(&[
        "ingest",
        lapsed.to_str().unwrap(),
        "--accept",
        "1",
        "--announced",
        "2025-09-01",
    ])
    .ok();
}
