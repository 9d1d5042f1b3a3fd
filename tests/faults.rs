//! Faults the daemon must survive: `kill -9` at random moments while it
//! delivers, against a real SMTP server that logs every Message-ID.
//!
//! Sized for CI by default; the full soak of the reliability notes is
//! `FOLLOWUP_SOAK_REMINDERS=1000 FOLLOWUP_SOAK_KILLS=20 cargo test --release
//! --test tests crash_soak -- --nocapture`.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::smtp::SmtpServer;
use crate::support::{Desk, days_from_today};

/// How many emails the daemon has on the wire at once.
const PARALLEL_SENDS: usize = 32;

/// The daemon tests' SMTP setup, with attempts to spare: every kill of a
/// daemon mid-send counts one.
fn soak_config(port: u16) -> String {
    crate::daemon::smtp_config(port).replace("max_attempts = 3", "max_attempts = 50")
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `PRAGMA integrity_check` on the database, with no daemon running.
fn integrity(desk: &Desk) -> String {
    let conn = rusqlite::Connection::open(desk.path().join("followup.db")).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

/// Outbox rows a killed daemon left mid-send: the most it can have
/// delivered without recording it.
fn in_flight(desk: &Desk) -> usize {
    let conn = rusqlite::Connection::open(desk.path().join("followup.db")).unwrap();
    conn.query_row(
        "SELECT count(*) FROM outbox WHERE state = 'sending'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .unwrap() as usize
}

fn outbox_message_ids(desk: &Desk) -> HashMap<String, String> {
    let conn = rusqlite::Connection::open(desk.path().join("followup.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT message_id, state FROM outbox")
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn crash_soak_loses_nothing_and_repeats_only_what_was_in_flight() {
    let reminders = env_number("FOLLOWUP_SOAK_REMINDERS", 300);
    let kills = env_number("FOLLOWUP_SOAK_KILLS", 8);
    let seed = fastrand::u64(..);
    eprintln!("crash soak: {reminders} reminders, {kills} kills, seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);

    let server = SmtpServer::start();
    let desk = Desk::with_config(&soak_config(server.port));
    let records: Vec<_> = (0..reminders)
        .map(|i| json!({ "title": format!("Commitment {i}"), "due": days_from_today(3) }))
        .collect();
    let file = desk.write("due.json", &serde_json::to_vec(&records).unwrap());
    desk.run(&["import", file.to_str().unwrap()]).ok();

    let mut might_repeat = 0;
    for round in 0..kills {
        let mut daemon = desk
            .command(&["daemon"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill while it delivers: once the server has taken a random
        // number of further messages, mid-stream.
        let target = server.received().len() + rng.usize(1..=reminders / kills);
        let give_up = Instant::now() + Duration::from_secs(5);
        while server.received().len() < target.min(reminders) && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(1));
        }
        // SAFETY: signalling our own child.
        unsafe { libc::kill(daemon.id() as i32, libc::SIGKILL) };
        daemon.wait().unwrap();
        // Rows claimed but not yet recorded as sent; of those, at most
        // the daemon's parallel sends were on the wire.
        might_repeat += in_flight(&desk).min(PARALLEL_SENDS);
        assert_eq!(integrity(&desk), "ok", "after kill {round}");
    }
    let before_drain = server.received().len();
    eprintln!("crash soak: {before_drain} delivered before the last kill");
    assert!(before_drain > 0, "the kills should fall mid-delivery");

    // Then let it drain: one tick sends everything still owed.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        desk.run(&["daemon", "--once"]).ok();
        let status = desk.run(&["status", "--json"]).json();
        let outbox = &status["outbox"];
        if outbox["pending"] == 0 && outbox["retrying"] == 0 && outbox["sending"] == 0 {
            assert_eq!(outbox["dead"], 0, "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "outbox never drained: {status}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(integrity(&desk), "ok");

    let outbox = outbox_message_ids(&desk);
    assert_eq!(outbox.len(), reminders, "one reminder per commitment");
    assert!(outbox.values().all(|state| state == "sent"), "{outbox:?}");
    let mut arrivals: HashMap<String, usize> = HashMap::new();
    for message in server.received() {
        let id = message.header("Message-ID").expect("a Message-ID");
        *arrivals.entry(id).or_default() += 1;
    }
    let expected: HashSet<&String> = outbox.keys().collect();
    let unknown: Vec<_> = arrivals
        .keys()
        .filter(|id| !expected.contains(id))
        .collect();
    assert!(unknown.is_empty(), "ids the outbox never made: {unknown:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !arrivals.contains_key(id.as_str()))
        .collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    let repeats: usize = arrivals.values().map(|n| n - 1).sum();
    eprintln!("crash soak: {repeats} repeated deliveries, at most {might_repeat} were in flight");
    assert!(
        repeats <= might_repeat,
        "{repeats} repeats, but only {might_repeat} sends were in flight at the kills"
    );
}

/// The SMTP fault matrix: a desk with one commitment owing one reminder,
/// a server told to misbehave once, then ticks until the outbox is empty.
/// Returns how often each Message-ID arrived.
fn deliver_through(server: &SmtpServer, desk: &Desk, ticks: usize) -> HashMap<String, usize> {
    for _ in 0..ticks {
        desk.run(&["daemon", "--once"]).ok();
        let status = desk.run(&["status", "--json"]).json();
        if status["outbox"]["pending"] == 0
            && status["outbox"]["retrying"] == 0
            && status["outbox"]["sending"] == 0
        {
            break;
        }
        // retry_first is 1 s.
        std::thread::sleep(Duration::from_millis(1200));
    }
    let mut arrivals = HashMap::new();
    for message in server.received() {
        *arrivals
            .entry(message.header("Message-ID").unwrap())
            .or_default() += 1;
    }
    arrivals
}

/// One desk, `count` commitments due in three days, nothing sent yet.
fn owing(server: &SmtpServer, count: usize) -> Desk {
    let desk = Desk::with_config(&soak_config(server.port));
    for i in 0..count {
        desk.add(&[&format!("Commitment {i}"), "--due", &days_from_today(3)]);
    }
    desk
}

fn sent_ids(desk: &Desk) -> HashSet<String> {
    outbox_message_ids(desk)
        .into_iter()
        .filter(|(_, state)| state == "sent")
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn smtp_4xx_on_mail_or_recipient_is_retried_with_the_same_message_id() {
    for (fault, reply) in [
        ("MAIL", "421 4.3.2 service shutting down"),
        ("MAIL", "451 4.3.0 local error"),
        ("RCPT", "451 4.7.1 greylisted, try again"),
        ("RCPT", "421 4.4.5 too many connections"),
    ] {
        let server = SmtpServer::start();
        let desk = owing(&server, 1);
        match fault {
            "MAIL" => server.reply_to_next_mail(reply),
            _ => server.reply_to_next_recipient(reply),
        }
        desk.run(&["daemon", "--once"]).ok();
        assert!(server.received().is_empty(), "{fault} {reply}");
        let status = desk.run(&["status", "--json"]).json();
        assert_eq!(status["outbox"]["retrying"], 1, "{fault} {reply}: {status}");
        let arrivals = deliver_through(&server, &desk, 5);
        assert_eq!(arrivals.len(), 1, "{fault} {reply}");
        assert!(arrivals.values().all(|&n| n == 1), "{fault} {reply}");
        assert_eq!(
            arrivals.keys().cloned().collect::<HashSet<_>>(),
            sent_ids(&desk),
            "{fault} {reply}"
        );
    }
}

#[test]
fn a_reset_after_data_or_a_reply_slower_than_the_timeout_is_retried() {
    // The server kept the message but the daemon never heard so: the
    // retry repeats it, with the same Message-ID, and then stops.
    let server = SmtpServer::start();
    let desk = owing(&server, 1);
    server.reset_after_next_data();
    let arrivals = deliver_through(&server, &desk, 5);
    assert_eq!(arrivals.len(), 1);
    assert_eq!(arrivals.values().copied().collect::<Vec<_>>(), vec![2]);
    assert_eq!(sent_ids(&desk).len(), 1);

    let server = SmtpServer::start();
    let config = soak_config(server.port).replace("timeout = \"10s\"", "timeout = \"1s\"");
    let desk = Desk::with_config(&config);
    desk.add(&["Slow server", "--due", &days_from_today(3)]);
    server.stall_after_next_data(Duration::from_secs(3));
    desk.run(&["daemon", "--once"]).ok();
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["retrying"], 1, "{status}");
    let arrivals = deliver_through(&server, &desk, 5);
    assert_eq!(arrivals.len(), 1);
    assert_eq!(sent_ids(&desk).len(), 1);
}

#[test]
fn a_server_that_goes_away_mid_batch_loses_nothing() {
    let server = SmtpServer::start();
    let desk = owing(&server, 40);
    // Gone after the first few messages of the batch.
    let daemon = desk
        .command(&["daemon", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let give_up = Instant::now() + Duration::from_secs(10);
    while server.received().len() < 3 && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(1));
    }
    server.set_away(true);
    let finished = daemon.wait_with_output().unwrap();
    assert!(finished.status.success());
    let during = server.received().len();
    assert!(during < 40, "the server left after {during} messages");
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["dead"], 0, "{status}");
    server.set_away(false);
    let arrivals = deliver_through(&server, &desk, 6);
    assert_eq!(arrivals.len(), 40);
    assert_eq!(sent_ids(&desk).len(), 40);
    let repeats: usize = arrivals.values().map(|n| n - 1).sum();
    assert!(repeats <= PARALLEL_SENDS, "{repeats} repeats");
}
