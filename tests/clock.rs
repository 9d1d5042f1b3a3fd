//! The wall clock moved under a stopped daemon (libfaketime): a long jump
//! over downtime sends one reminder per commitment, and a clock hour that
//! happens twice (the end of summer time) sends a desk's digest once, and
//! a digest caught up after downtime names the day it missed.

use crate::daemon::{MAILDIR_CONFIG, libfaketime, maildir_messages, tick_at};
use crate::smtp::Received;
use crate::support::Desk;

fn reminders(desk: &Desk) -> Vec<Received> {
    maildir_messages(desk)
        .into_iter()
        .filter(|m| m.header("X-Followup-Reminder").is_some())
        .collect()
}

fn digests(desk: &Desk) -> Vec<Received> {
    maildir_messages(desk)
        .into_iter()
        .filter(|m| m.header("X-Followup-Reminder").is_none())
        .collect()
}

#[test]
fn a_thirty_day_jump_sends_one_reminder_per_commitment() {
    let Some(library) = libfaketime() else { return };
    let desk = Desk::with_config(MAILDIR_CONFIG);
    let due = [
        "2025-12-01",
        "2025-12-05",
        "2025-12-10",
        "2025-12-15",
        "2025-12-19",
    ];
    for (i, day) in due.iter().enumerate() {
        desk.add(&[
            &format!("Commitment {i} of the October talks"),
            "--due",
            day,
            "--announced",
            "2025-10-15",
        ]);
    }
    tick_at(&desk, library, "2025-11-22 09:00:00");
    // 14 days ahead of the first two deadlines (or a little less).
    assert_eq!(reminders(&desk).len(), 2);
    // Thirty days later every deadline has passed, some by weeks: each
    // commitment gets its one most recent reminder, an overdue one.
    tick_at(&desk, library, "2025-12-20 09:00:00");
    let after = reminders(&desk);
    assert_eq!(
        after.len(),
        2 + due.len(),
        "one per commitment, not a flood"
    );
    let mut late: Vec<(String, String)> = after[2..]
        .iter()
        .map(|m| {
            (
                m.header("X-Followup-Commitment").unwrap(),
                m.header("X-Followup-Reminder").unwrap(),
            )
        })
        .collect();
    late.sort();
    let ids: Vec<&str> = late.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    for (id, key) in &late {
        assert!(key.starts_with("v1:overdue:"), "commitment {id}: {key}");
    }
    // The same day again: nothing more.
    tick_at(&desk, library, "2025-12-20 15:00:00");
    assert_eq!(reminders(&desk).len(), 2 + due.len());
}

#[test]
fn a_digest_is_sent_once_when_its_hour_happens_twice() {
    let Some(library) = libfaketime() else { return };
    // 01:30 in New York happens twice on 2026-11-01: at 05:30 UTC (summer
    // time) and again at 06:30 UTC, after the clocks go back at 02:00.
    let config = MAILDIR_CONFIG
        .replace("timezone = \"UTC\"", "timezone = \"America/New_York\"")
        .replace(
            "recipients = [\"desk@example.org\"]",
            "recipients = [\"desk@example.org\"]\ndigest = \"0 30 1 * * *\"",
        );
    let desk = Desk::with_config(&config);
    desk.add(&[
        "Publish the aid figures",
        "--due",
        "2026-11-10",
        "--announced",
        "2026-10-01",
    ]);
    // First tick: the desk's digest clock starts now, with none for the past.
    tick_at(&desk, library, "2026-11-01 05:00:00");
    assert_eq!(digests(&desk).len(), 0);
    // 01:00 the second time (06:00 UTC): the first 01:30 has passed.
    tick_at(&desk, library, "2026-11-01 06:00:00");
    assert_eq!(digests(&desk).len(), 1);
    // The second 01:30, and later that night: the day has its digest.
    tick_at(&desk, library, "2026-11-01 06:31:00");
    tick_at(&desk, library, "2026-11-01 07:45:00");
    assert_eq!(digests(&desk).len(), 1, "never twice for one local day");
    // The next night's 01:30 (now 06:30 UTC) brings the next one.
    tick_at(&desk, library, "2026-11-02 06:31:00");
    let sent = digests(&desk);
    assert_eq!(sent.len(), 2);
    let subjects: Vec<String> = sent.iter().map(|m| m.header("Subject").unwrap()).collect();
    assert_ne!(subjects[0], subjects[1], "{subjects:?}");
}

#[test]
fn a_digest_caught_up_after_downtime_names_the_day_it_missed() {
    let Some(library) = libfaketime() else { return };
    let config = MAILDIR_CONFIG.replace(
        "recipients = [\"desk@example.org\"]",
        "recipients = [\"desk@example.org\"]\ndigest = \"0 0 8 * * *\"",
    );
    let desk = Desk::with_config(&config);
    desk.add(&[
        "Reopen the border crossing",
        "--due",
        "2026-07-20",
        "--announced",
        "2026-07-01",
    ]);
    tick_at(&desk, library, "2026-07-10 07:00:00");
    tick_at(&desk, library, "2026-07-10 08:01:00");
    // Down from then until 07:00 on the 15th: the 14th's digest catches up.
    tick_at(&desk, library, "2026-07-15 07:00:00");
    // And the 15th's goes out at its own time.
    tick_at(&desk, library, "2026-07-15 08:01:00");
    let subjects: Vec<String> = digests(&desk)
        .iter()
        .map(|m| m.header("Subject").unwrap())
        .collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    for (subject, day) in subjects
        .iter()
        .zip(["2026-07-10", "2026-07-14", "2026-07-15"])
    {
        assert!(
            subject.starts_with(&format!("followup digest for default, {day}:")),
            "{subjects:?}"
        );
    }
    let caught_up = &digests(&desk)[1].data;
    assert!(
        caught_up.contains("Sent late, on 2026-07-15"),
        "{caught_up}"
    );
    // Its lists count from the day it was written: 5 days to the 20th.
    assert!(caught_up.contains("due in 5 days"), "{caught_up}");
}
