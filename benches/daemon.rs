//! Benchmark of the reminder daemon at scale.
//!
//! `cargo bench --bench daemon` builds a database of 1,000,000 open
//! commitments (`FOLLOWUP_BENCH_N` changes the size), then measures:
//! the first tick that plans all of them; a tick with nothing due; planning
//! and queueing 10,000 due reminders; delivering 10,000 emails over SMTP to
//! a server on 127.0.0.1 with a pooled connection; and the idle daemon's
//! resident memory and wake-ups, with the real binary.

#[path = "../tests/smtp.rs"]
#[allow(dead_code)]
mod smtp;

use std::path::Path;
use std::time::{Duration, Instant};

use followup::config::Config;
use followup::daemon::{Daemon, TickReport};
use followup::deadline::Deadline;
use followup::model::{
    Commitment, CommitmentRecord, DeadlineVersion, Event, EventKind, Revision, Status,
};
use followup::store::{Check, ImportItem, ImportMode, Store};
use jiff::civil::Date;
use jiff::{Span, Timestamp};

fn main() {
    let n: usize = std::env::var("FOLLOWUP_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let due = 10_000.min(n);
    let dir = tempfile::tempdir().expect("temp dir");
    let server = smtp::SmtpServer::start();
    let maildir_config = config_text("maildir", server.port);
    let smtp_config = config_text("smtp", server.port);
    let config_path = dir.path().join("followup.toml");
    std::fs::write(&config_path, &maildir_config).unwrap();
    let config = Config::from_file(&config_path).unwrap();
    let now = Timestamp::now();
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();

    println!("followup daemon benchmark: {n} open commitments");
    let started = Instant::now();
    fill(&config.store.path, n, today, now);
    println!(
        "build database           {:>10.2} s",
        started.elapsed().as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    runtime.block_on(async {
        let mut daemon = Daemon::new(config.clone()).unwrap();
        let started = Instant::now();
        let report = daemon.tick(now, &stop).await.unwrap();
        println!(
            "first tick, plans all    {:>10.2} s   ({} planned, {} queued)",
            started.elapsed().as_secs_f64(),
            report.planned,
            report.queued
        );

        let mut times = Vec::new();
        for _ in 0..50 {
            let started = Instant::now();
            let report = daemon.tick(now, &stop).await.unwrap();
            times.push(started.elapsed());
            assert_eq!(report.planned + report.queued + report.sent, 0);
        }
        times.sort();
        println!(
            "tick, nothing due        {:>10.3} ms  (median of 50)",
            times[25].as_secs_f64() * 1000.0
        );

        // Make `due` commitments due in three days: their 3-day reminder is owed now.
        make_due(&mut daemon.store, due, today, now);
        let started = Instant::now();
        let mut report = TickReport::default();
        daemon.plan(now, &mut report).unwrap();
        let planning = started.elapsed();
        println!(
            "plan + queue {due} due   {:>10.3} s   ({} queued)",
            planning.as_secs_f64(),
            report.queued
        );
        let started = Instant::now();
        daemon.deliver(now, &stop, &mut report).await.unwrap();
        let elapsed = started.elapsed();
        println!(
            "deliver to Maildir       {:>10.0} msg/s ({} sent)",
            report.sent as f64 / elapsed.as_secs_f64(),
            report.sent
        );
        let started = Instant::now();
        daemon.finish_work().unwrap();
        println!(
            "fold the tick's WAL      {:>10.3} s",
            started.elapsed().as_secs_f64()
        );

        std::fs::write(&config_path, &smtp_config).unwrap();
        let mut daemon = Daemon::new(Config::from_file(&config_path).unwrap()).unwrap();
        make_due(&mut daemon.store, due, today, now);
        let mut report = TickReport::default();
        daemon.plan(now, &mut report).unwrap();
        let started = Instant::now();
        daemon.deliver(now, &stop, &mut report).await.unwrap();
        let elapsed = started.elapsed();
        println!(
            "deliver over SMTP        {:>10.0} msg/s ({} sent, {} at the server)",
            report.sent as f64 / elapsed.as_secs_f64(),
            report.sent,
            server.received().len()
        );
    });

    std::fs::write(&config_path, &maildir_config).unwrap();
    idle_daemon(dir.path(), &config_path);
}

fn config_text(transport: &str, port: u16) -> String {
    format!(
        "[store]\npath = \"followup.db\"\n\
         [mail]\nfrom = \"Follow-up desk <followup@example.org>\"\ntransport = \"{transport}\"\nmaildir = \"outbox\"\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"30s\"\n\
         [reminders]\nsend_time = \"00:00\"\ntimezone = \"UTC\"\n\
         [[desks]]\nname = \"default\"\nrecipients = [\"desk@example.org\"]\n"
    )
}

/// Stores `n` open commitments due 200 to 900 days from today, in batches
/// of 100,000 per transaction.
fn fill(path: &Path, n: usize, today: Date, now: Timestamp) {
    let mut store = Store::open(path, Check::Full).unwrap();
    let mut next = 0;
    while next < n {
        let end = (next + 100_000).min(n);
        let items: Vec<ImportItem> = (next..end)
            .map(|i| {
                let latest = today
                    .checked_add(Span::new().days(200 + (i as i64 * 7919) % 700))
                    .unwrap();
                let deadline = dated(latest, today);
                ImportItem::new(
                    format!("row {i}"),
                    CommitmentRecord {
                        commitment: Commitment {
                            id: 0,
                            title: format!("Commitment {i}: hold the joint committee meeting"),
                            status: Status::Open,
                            announced: today,
                            actors: vec!["Syria".into(), "Russia".into()],
                            tags: vec!["syria".into()],
                            deadline: DeadlineVersion {
                                deadline: deadline.clone(),
                                version: 1,
                            },
                            source: None,
                            quote: None,
                            evidence: None,
                            created_at: now,
                            updated_at: now,
                            closed_at: None,
                        },
                        revisions: vec![Revision {
                            deadline,
                            version: 1,
                            reason: None,
                            at: now,
                        }],
                        history: vec![Event {
                            at: now,
                            author: "bench".into(),
                            kind: EventKind::Imported,
                            detail: serde_json::Map::new(),
                        }],
                    },
                    false,
                )
            })
            .collect();
        store
            .import(items.into_iter().map(Ok), ImportMode::Renumber)
            .unwrap();
        next = end;
    }
}

/// A deadline stated as the date `latest`, on `today`.
fn dated(latest: Date, today: Date) -> Deadline {
    Deadline {
        expression: latest.to_string(),
        earliest: today,
        latest,
        vague: false,
        anchor: today,
    }
}

/// Moves `count` commitments (spread over the database) to a deadline three
/// days out, so each owes its 3-day reminder now.
fn make_due(store: &mut Store, count: usize, today: Date, now: Timestamp) {
    let total = store.counts(today).unwrap().open as usize;
    let step = (total / count).max(1);
    let latest = today.checked_add(Span::new().days(3)).unwrap();
    let deadline = dated(latest, today);
    for k in 0..count {
        // One already due that day cannot be moved to it; its neighbour is.
        let mut id = (1 + k * step) as i64;
        loop {
            match store.revise(id, &deadline, None, now, "bench") {
                Ok(_) => break,
                Err(followup::store::Error::Rejected(_)) => id += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }
}

/// Starts the real daemon on the database, lets it settle, and reads its
/// resident memory and how often it woke up while idle.
fn idle_daemon(dir: &Path, config: &Path) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_followup"))
        .args(["daemon"])
        .env("FOLLOWUP_CONFIG", config)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let status = |field: &str| -> u64 {
        let text =
            std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        text.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let switches =
        |_: ()| status("voluntary_ctxt_switches:") + status("nonvoluntary_ctxt_switches:");
    let before = switches(());
    std::thread::sleep(Duration::from_secs(10));
    let wakeups = switches(()) - before;
    println!(
        "idle daemon              {:>10.1} MiB RSS, {wakeups} wake-ups in 10 s",
        status("VmRSS:") as f64 / 1024.0
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}
