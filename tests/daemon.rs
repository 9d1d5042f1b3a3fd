//! The reminder daemon end to end: the real binary, a real SQLite file,
//! a real Maildir and a real SMTP server on loopback.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::smtp::{Received, SmtpServer};
use crate::support::{Desk, RefusedPort, as_schema_8, days_from_today};

/// send_time 00:00 UTC, so today's occurrences are always in the past.
pub fn smtp_config(port: u16) -> String {
    format!(
        r#"
[mail]
from = "Follow-up desk <followup@example.org>"
transport = "smtp"
retry_first = "1s"
retry_max = "2s"
max_attempts = 3

[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout = "10s"

[reminders]
send_time = "00:00"
timezone = "UTC"

[[desks]]
name = "default"
recipients = ["desk@example.org"]

[[desks]]
name = "energy"
recipients = ["energy@example.org", "analyst@example.org"]
tags = ["energy"]
"#
    )
}

pub const MAILDIR_CONFIG: &str = r#"
[mail]
from = "Follow-up desk <followup@example.org>"
transport = "maildir"
maildir = "outbox"

[reminders]
send_time = "00:00"
timezone = "UTC"

[[desks]]
name = "default"
recipients = ["desk@example.org"]
"#;

pub fn maildir_messages(desk: &Desk) -> Vec<Received> {
    let new = desk.path().join("outbox/new");
    let mut entries: Vec<_> = std::fs::read_dir(&new)
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    entries
        .iter()
        .map(|p| Received::from_text(&std::fs::read_to_string(p).unwrap()))
        .collect()
}

fn tick(desk: &Desk) {
    desk.run(&["daemon", "--once"]).ok();
}

/// Adds the seed article's meeting, due in three days: one reminder due
/// on the next tick. Its id.
fn meeting_due_in_three_days(desk: &Desk) -> i64 {
    desk.add(&[
        "Hold the joint committee meeting",
        "--due",
        &days_from_today(3),
    ])
}

#[test]
fn reminders_land_in_the_maildir_with_contract_headers_and_threading() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    let id = meeting_due_in_three_days(&desk);
    tick(&desk);
    let messages = maildir_messages(&desk);
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert!(
        m.header("Subject")
            .unwrap()
            .contains("Hold the joint committee meeting"),
        "{}",
        m.data
    );
    assert!(
        m.header("Subject").unwrap().contains("Due in 3 days"),
        "{}",
        m.data
    );
    assert_eq!(m.header("X-Followup-Commitment").unwrap(), id.to_string());
    assert_eq!(m.header("X-Followup-Reminder").unwrap(), "v1:before:3d");
    let message_id = m.header("Message-ID").unwrap();
    let root = m.header("In-Reply-To").unwrap();
    assert_ne!(message_id, root);
    assert_eq!(m.header("References").unwrap(), root);
    assert!(
        desk.path()
            .join("outbox/tmp")
            .read_dir()
            .unwrap()
            .next()
            .is_none()
    );
    assert!(
        !desk
            .path()
            .join("outbox/tmp")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );

    // On the day itself the next reminder of the same commitment threads under the same root.
    desk.run(&["revise", &id.to_string(), "--due", &days_from_today(0)])
        .ok();
    tick(&desk);
    let messages = maildir_messages(&desk);
    assert_eq!(messages.len(), 2);
    let second = messages
        .iter()
        .find(|m| m.header("Message-ID").unwrap() != message_id)
        .unwrap();
    assert_eq!(second.header("X-Followup-Reminder").unwrap(), "v2:due");
    assert_eq!(second.header("In-Reply-To").unwrap(), root);
}

/// A tick's sends are in the commitment's exported history: the records
/// the tick made stale are rendered again before it ends.
#[test]
fn a_ticks_sends_are_in_the_export_with_every_record_rendered() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    let id = meeting_due_in_three_days(&desk);
    tick(&desk);
    assert_eq!(maildir_messages(&desk).len(), 1);
    let conn = rusqlite::Connection::open(desk.database()).unwrap();
    let stale: i64 = conn
        .query_row("SELECT count(*) FROM stale_records", [], |row| row.get(0))
        .unwrap();
    assert_eq!(stale, 0);
    // The page of four that holds the commitment's record.
    let kept: String = conn
        .query_row(
            "SELECT body FROM record_pages WHERE page = ?1 >> 2",
            [id],
            |row| row.get(0),
        )
        .unwrap();
    let record = kept
        .lines()
        .map(|line| line.trim_end_matches(','))
        .find(|line| line.starts_with(&format!("{{\"id\":{id},")))
        .unwrap_or_else(|| panic!("no record of {id} kept: {kept}"));
    assert!(record.contains("\"kind\":\"reminder_sent\""), "{record}");
    let export = desk.run(&["export"]).ok();
    assert!(
        export
            .lines()
            .any(|line| line.trim_end_matches(',') == record),
        "{export}"
    );
}

/// The token is drawn when the database is made, so a backup taken before
/// any daemon ran restores the same threads.
#[test]
fn a_backup_taken_before_the_first_daemon_keeps_the_threads() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    meeting_due_in_three_days(&desk);
    let backup = desk.path().join("early.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    let token: String = rusqlite::Connection::open(&backup)
        .unwrap()
        .query_row(
            "SELECT value FROM daemon_state WHERE name = 'mail-thread'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    tick(&desk);
    let root = maildir_messages(&desk)[0]
        .header("In-Reply-To")
        .unwrap()
        .to_string();
    assert_eq!(root, format!("<followup.commitment.1.{token}@example.org>"));
}

/// Two desks' databases both hold a commitment 1; sending from one domain,
/// their reminders must not share a thread.
#[test]
fn the_same_commitment_id_in_two_databases_is_two_threads() {
    let roots: Vec<String> = (0..2)
        .map(|_| {
            let desk = Desk::with_config(MAILDIR_CONFIG);
            let id = meeting_due_in_three_days(&desk);
            assert_eq!(id, 1);
            tick(&desk);
            let messages = maildir_messages(&desk);
            assert_eq!(messages.len(), 1);
            let root = messages[0].header("In-Reply-To").unwrap().to_string();
            assert!(root.starts_with("<followup.commitment.1."), "{root}");
            assert!(root.ends_with("@example.org>"), "{root}");
            root
        })
        .collect();
    assert_ne!(roots[0], roots[1]);
}

/// An archive moved to a new database carries the reminders it had in its
/// history; the new database's daemon does not send them again.
#[test]
fn reminders_an_imported_history_records_are_not_sent_again() {
    let old = Desk::with_config(MAILDIR_CONFIG);
    old.add(&["Reopen the crossing", "--due", &days_from_today(-3)]);
    old.add(&["Release the detainees", "--due", &days_from_today(2)]);
    tick(&old);
    assert_eq!(maildir_messages(&old).len(), 2);
    let archive = old.path().join("archive.json");
    std::fs::write(&archive, old.run(&["export"]).stdout()).unwrap();

    let new = Desk::with_config(MAILDIR_CONFIG);
    new.run(&["import", archive.to_str().unwrap()]).ok();
    // One the old database never reminded about is still reminded about.
    new.add(&["Hold the committee meeting", "--due", &days_from_today(1)]);
    tick(&new);
    let sent = maildir_messages(&new);
    assert_eq!(
        sent.len(),
        1,
        "{:?}",
        sent.iter().map(|m| m.header("Subject")).collect::<Vec<_>>()
    );
    assert!(
        sent[0]
            .header("Subject")
            .unwrap()
            .contains("Hold the committee meeting"),
        "{}",
        sent[0].data
    );
}

/// `daemon --once` is what a cron job or a script runs: a tick that fails
/// (here the database stays locked by another writer past the busy
/// timeout) is a failure of the command, not a log line and exit 0.
#[test]
fn a_failed_tick_under_once_exits_non_zero() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Reopen the crossing", "--due", &days_from_today(-3)]);
    let writer = rusqlite::Connection::open(desk.database()).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let run = desk.run(&["daemon", "--once"]);
    assert!(!run.success(), "{}", run.stderr());
    let err = run.stderr();
    assert!(err.contains("error: the tick did not finish"), "{err}");
    assert!(err.contains("is busy"), "{err}");
    assert!(err.contains("nothing is lost"), "{err}");
    writer.execute_batch("ROLLBACK").unwrap();
    drop(writer);
    // Once the lock is free, the next run does what this one could not.
    desk.run(&["daemon", "--once"]).ok();
    assert_eq!(maildir_messages(&desk).len(), 1);
}

/// History is kept to the second whoever writes it, so its instants sort
/// as text in the order they happened.
#[test]
fn the_daemon_writes_history_to_the_second_as_the_commands_do() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    let id = desk.add(&["Reopen the crossing", "--due", &days_from_today(-3)]);
    tick(&desk);
    let record = desk.run(&["show", &id.to_string(), "--json"]).json();
    let history = record["history"].as_array().unwrap();
    let kinds: Vec<&str> = history
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "reminder_sent"]);
    for event in history {
        let at = event["at"].as_str().unwrap();
        assert_eq!(at.len(), "2026-11-30T04:27:03Z".len(), "{at}");
        assert!(at.ends_with('Z') && !at.contains('.'), "{at}");
    }
}

/// Runs `args` with the process's umask set to `umask`, as a service unit's
/// `UMask=` or an analyst's shell would.
fn run_under_umask(desk: &Desk, umask: u32, args: &[&str]) {
    use std::os::unix::process::CommandExt as _;
    let mut command = desk.command(args);
    // SAFETY: umask is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            Ok(())
        });
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The packaged service runs under `UMask=0007` so that the analysts of its
/// group can write the database too: every file followup makes beside it
/// must then be group-writable, and under no umask world-readable.
#[test]
fn files_beside_the_database_are_the_groups_under_umask_0007_and_never_the_worlds() {
    use std::os::unix::fs::PermissionsExt as _;
    for (umask, want) in [(0o007, 0o660), (0o000, 0o660), (0o022, 0o640)] {
        let desk = Desk::with_config(MAILDIR_CONFIG);
        run_under_umask(&desk, umask, &["add", "One", "--due", &days_from_today(3)]);
        run_under_umask(&desk, umask, &["daemon", "--once"]);
        let database = desk.database();
        for suffix in ["", "-wal", "-shm", "-verified", ".lock"] {
            let mut name = database.as_os_str().to_owned();
            name.push(suffix);
            let mode = std::fs::metadata(&name).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode,
                want,
                "umask {umask:03o}: {}",
                std::path::Path::new(&name).display()
            );
        }
    }
}

#[test]
fn a_restart_does_not_resend() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["One", "--due", &days_from_today(3)]);
    desk.add(&["Two", "--due", &days_from_today(-2)]);
    tick(&desk);
    tick(&desk);
    tick(&desk);
    assert_eq!(maildir_messages(&desk).len(), 2);
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["sent_last_24h"], 2);
    assert_eq!(status["outbox"]["pending"], 0);
}

#[test]
fn catch_up_after_downtime_sends_one_reminder_per_commitment() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    // Announced long ago, overdue for a month: 14d, 3d, due and four
    // overdue occurrences were all missed.
    let id = desk.add(&[
        "Long overdue",
        "--due",
        &days_from_today(-30),
        "--announced",
        &days_from_today(-120),
    ]);
    tick(&desk);
    let messages = maildir_messages(&desk);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].header("X-Followup-Reminder").unwrap(),
        "v1:overdue:1"
    );
    assert!(
        messages[0]
            .header("Subject")
            .unwrap()
            .contains("Overdue by 30 days")
    );
    let history = desk.run(&["show", &id.to_string(), "--json"]).json()["history"].clone();
    let sent: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "reminder_sent")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["reminder"], "v1:overdue:1");
}

#[test]
fn reminders_reach_every_desk_sharing_a_tag_over_smtp() {
    let server = SmtpServer::start();
    let desk = Desk::with_config(&smtp_config(server.port));
    let energy = desk.add(&[
        "Open the gas interconnector",
        "--due",
        &days_from_today(3),
        "--tag",
        "energy",
    ]);
    let other = desk.add(&[
        "Release the detainees",
        "--due",
        &days_from_today(3),
        "--tag",
        "syria",
    ]);
    tick(&desk);
    let received = server.received();
    assert_eq!(
        received.len(),
        3,
        "two energy recipients and the default desk"
    );
    let to_of = |id: i64| -> Vec<String> {
        let mut to: Vec<String> = received
            .iter()
            .filter(|m| m.header("X-Followup-Commitment").unwrap() == id.to_string())
            .flat_map(|m| m.recipients.clone())
            .collect();
        to.sort();
        to
    };
    assert_eq!(
        to_of(energy),
        vec!["analyst@example.org", "energy@example.org"]
    );
    assert_eq!(to_of(other), vec!["desk@example.org"]);
    let ids: std::collections::HashSet<String> = received
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "one Message-ID per outbox row");
}

#[test]
fn a_temporary_failure_is_retried_with_the_same_message_id_and_delivered_once() {
    let server = SmtpServer::start();
    let desk = Desk::with_config(&smtp_config(server.port));
    desk.add(&["Ratify the deal", "--due", &days_from_today(3)]);
    server.reply_to_next_data("451 4.3.0 mailbox busy, try later");
    tick(&desk);
    assert!(server.received().is_empty());
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["retrying"], 1);
    std::thread::sleep(Duration::from_millis(2600));
    tick(&desk);
    tick(&desk);
    let received = server.received();
    assert_eq!(received.len(), 1);
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["retrying"], 0);
    assert_eq!(status["outbox"]["sent_last_24h"], 1);
}

/// The running daemon's loop wakes once a minute; a retry due sooner
/// (`retry_first = "1s"` here) wakes it for itself.
#[test]
fn a_retry_due_before_the_next_minute_wakes_the_running_daemon() {
    let server = SmtpServer::start();
    let desk = Desk::with_config(&smtp_config(server.port));
    desk.add(&["Ratify the deal", "--due", &days_from_today(3)]);
    server.reply_to_next_data("451 4.3.0 mailbox busy, try later");
    let started = Instant::now();
    let _daemon = Running::start(&desk);
    while server.received().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the retry due 1-2 s after the failure was not sent within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.received().len(), 1);
}

#[test]
fn a_permanent_failure_goes_dead_for_that_recipient_only_and_shows_in_status() {
    let server = SmtpServer::start();
    let desk = Desk::with_config(&smtp_config(server.port));
    server.reply_to_recipient("analyst@example.org", "550 5.1.1 no such user");
    let id = desk.add(&[
        "Open the gas interconnector",
        "--due",
        &days_from_today(3),
        "--tag",
        "energy",
    ]);
    tick(&desk);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].recipients, vec!["energy@example.org"]);
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["dead"], 1);
    let text = desk.run(&["status"]).ok();
    assert!(text.contains("1 email could not be delivered"), "{text}");
    let history = desk.run(&["show", &id.to_string(), "--json"]).json()["history"].clone();
    let failed: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "delivery_failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["recipient"], "analyst@example.org");
    assert!(
        failed[0]["error"].as_str().unwrap().contains("550"),
        "{failed:?}"
    );
}

/// Once what refused an email is fixed, `requeue` puts it back, and the
/// next tick sends it with the Message-ID it was queued with.
#[test]
fn a_dead_email_requeued_is_sent_with_its_message_id() {
    let server = SmtpServer::start();
    let desk = Desk::with_config(&smtp_config(server.port));
    server.reply_to_recipient("analyst@example.org", "550 5.1.1 mailbox unavailable");
    let id = desk.add(&[
        "Open the gas interconnector",
        "--due",
        &days_from_today(3),
        "--tag",
        "energy",
    ]);
    let closed = desk.add(&[
        "Reopen the crossing",
        "--due",
        &days_from_today(3),
        "--tag",
        "energy",
    ]);
    tick(&desk);
    assert_eq!(desk.run(&["status", "--json"]).json()["outbox"]["dead"], 2);
    // A commitment closed since keeps its dead email: nothing to remind.
    desk.run(&["close", &closed.to_string(), "--outcome", "fulfilled"])
        .ok();
    let history = desk.run(&["show", &id.to_string(), "--json"]).json()["history"].clone();
    let dead_id = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "delivery_failed")
        .unwrap()["message_id"]
        .as_str()
        .unwrap()
        .to_string();

    server.accept_recipient("analyst@example.org");
    let err = desk.refuses(&["requeue", "99"]);
    assert!(err.contains("no commitment has id 99"), "{err}");
    let said = desk.run(&["requeue", "--json"]).json();
    assert_eq!(said["requeued"], 1);
    tick(&desk);
    let to_analyst: Vec<_> = server
        .received()
        .into_iter()
        .filter(|m| m.recipients == ["analyst@example.org"])
        .collect();
    assert_eq!(to_analyst.len(), 1);
    assert_eq!(to_analyst[0].header("Message-ID").unwrap().trim(), dead_id);
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["dead"], 1, "the closed one's stays dead");
    assert_eq!(desk.run(&["requeue", "--json"]).json()["requeued"], 0);
}

#[test]
fn closing_cancels_queued_reminders() {
    let server = SmtpServer::start();
    let desk = Desk::with_config(&smtp_config(server.port));
    let id = desk.add(&["Withdraw the troops", "--due", &days_from_today(3)]);
    server.reply_to_next_data("421 4.7.0 closing connection");
    tick(&desk);
    desk.run(&["close", &id.to_string(), "--outcome", "withdrawn"])
        .ok();
    std::thread::sleep(Duration::from_millis(2600));
    tick(&desk);
    assert!(
        server.received().is_empty(),
        "a closed commitment gets no reminder"
    );
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["cancelled"], 1);
    assert_eq!(status["outbox"]["pending"], 0);
    assert_eq!(status["outbox"]["retrying"], 0);
}

#[test]
fn a_server_that_is_down_at_start_gets_the_email_once_it_is_up() {
    let refused = RefusedPort::new();
    let desk = Desk::with_config(&smtp_config(refused.port));
    desk.add(&["Resume the talks", "--due", &days_from_today(3)]);
    tick(&desk);
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["retrying"], 1);
    assert_eq!(status["outbox"]["dead"], 0);
    let queued = outbox_message_id(&desk);

    let server = SmtpServer::start_on(refused.listen());
    std::thread::sleep(Duration::from_millis(2600));
    tick(&desk);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("Message-ID").unwrap(), queued);
    let status = desk.run(&["status", "--json"]).json();
    assert_eq!(status["outbox"]["retrying"], 0);
    assert_eq!(status["outbox"]["sent_last_24h"], 1);
}

/// The Message-ID of the desk's only outbox row.
fn outbox_message_id(desk: &Desk) -> String {
    let conn = rusqlite::Connection::open(desk.path().join("followup.db")).unwrap();
    conn.query_row("SELECT message_id FROM outbox", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn html_and_bidi_overrides_in_a_title_are_neutralised_in_the_email() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&[
        "<script>alert('x')</script> & co \u{202e}exe.gnp",
        "--due",
        &days_from_today(3),
    ]);
    tick(&desk);
    let path = std::fs::read_dir(desk.path().join("outbox/new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(path).unwrap();
    let message = mail_parser::MessageParser::default().parse(&bytes).unwrap();
    let html = message.body_html(0).unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"),
        "{html}"
    );
    let text = message.body_text(0).unwrap();
    assert!(
        text.contains("<script>alert('x')</script> & co exe.gnp"),
        "plain text stays as typed, without the override: {text}"
    );
    let subject = message.subject().unwrap();
    assert!(subject.ends_with("& co exe.gnp"), "{subject}");
}

/// A daemon left running in the background, stopped when dropped.
pub struct Running {
    pub child: Child,
}

impl Running {
    pub fn start(desk: &Desk) -> Running {
        Running::spawn(desk, desk.command(&["daemon"]))
    }

    /// Starts `command`, which must run `followup daemon` on `desk` as the
    /// process it starts (a wrapper must `exec` it).
    pub fn spawn(desk: &Desk, mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until it holds the lock.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(exit) = child.try_wait().unwrap() {
                let mut log = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut log)
                    .unwrap();
                panic!("the daemon exited at once ({exit}): {log}");
            }
            let status = desk.run(&["status", "--json"]).json();
            if status["daemon_pid"] == child.id() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Running { child }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// Waits for the daemon to exit, failing the test if it still runs
    /// after 10 s (`after` says since what); its status and its log.
    pub fn exit_status(&mut self, after: &str) -> (std::process::ExitStatus, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "still running 10 s after {after}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut log = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            use std::io::Read as _;
            stderr.read_to_string(&mut log).unwrap();
        }
        (status, log)
    }
}

impl Drop for Running {
    /// SIGTERM first, as systemd would: a daemon under libfaketime killed
    /// outright leaves its shared memory behind in /dev/shm. SIGKILL if it
    /// has not stopped within five seconds.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon whose database is replaced under it (another file moved into
/// its place) stops at its next tick, saying why, instead of working on a
/// file no command reads any more.
#[test]
fn a_daemon_whose_database_is_replaced_stops_saying_so() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["One", "--due", &days_from_today(30)]);
    let mut daemon = Running::start(&desk);
    let database = desk.database();
    // The daemon takes its lock before it opens the database: a file put
    // in place before then would be the one it opens. Its first tick
    // records the reminder policy it plans under, with the file open.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !has_planned(&database) {
        assert!(Instant::now() < deadline, "no first tick within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let copy = desk.path().join("copy.db");
    desk.run(&["backup", copy.to_str().unwrap()]).ok();
    std::fs::rename(&copy, &database).unwrap();
    // A reload makes the next tick come at once.
    daemon.signal(libc::SIGHUP);
    let (status, log) = daemon.exit_status("its database was replaced");
    assert!(!status.success(), "{status}");
    assert!(log.contains("was replaced by another file"), "{log}");
}

/// Whether a daemon has recorded the reminder policy it plans under in
/// the database at `path`.
fn has_planned(path: &std::path::Path) -> bool {
    rusqlite::Connection::open(path)
        .and_then(|conn| {
            conn.query_row(
                "SELECT count(*) FROM daemon_state WHERE name = 'reminder-policy'",
                [],
                |row| row.get::<_, i64>(0),
            )
        })
        .is_ok_and(|n| n > 0)
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    let mut daemon = Running::start(&desk);
    assert_eq!(
        desk.run(&["status", "--json"]).json()["daemon_pid"],
        daemon.child.id()
    );
    assert_eq!(desk.run(&["status", "--json"]).json()["daemon"], "running");
    daemon.signal(libc::SIGTERM);
    let (status, log) = daemon.exit_status("SIGTERM");
    assert!(status.success(), "{status}: {log}");
    let after = desk.run(&["status", "--json"]).json();
    assert_eq!(after["daemon_pid"], serde_json::Value::Null);
    assert_eq!(after["daemon"], "stopped");
}

/// The data folder is the analysts' group's, so any of them could put a
/// symbolic link where the lock file goes: a daemon run as root must not
/// write its pid over the file the link points at.
#[test]
fn a_link_put_where_the_lock_file_goes_is_never_written_through() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["One", "--due", &days_from_today(30)]);
    let victim = desk.path().join("victim");
    std::fs::write(&victim, b"root's own").unwrap();
    let lock = desk.path().join("followup.db.lock");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let run = desk.run(&["daemon", "--once"]);
    // Not restarted: no restart would remove the link.
    assert_eq!(run.output.status.code(), Some(78), "{}", run.stderr());
    let err = run.stderr();
    assert!(
        err.contains("is a symbolic link") && err.contains("rm "),
        "{err}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"root's own");
    // Restore takes the same lock, and refuses the same way.
    let backup = desk.path().join("b.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    let err = desk.run(&["restore", backup.to_str().unwrap()]).fails();
    assert!(
        err.contains("is a symbolic link") && err.contains("rm "),
        "{err}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"root's own");
}

/// A folder where the lock file goes keeps every daemon from starting:
/// status cannot say "not running" as if all were well.
#[test]
fn a_folder_in_place_of_the_lock_file_is_said_so() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["One", "--due", &days_from_today(30)]);
    std::fs::create_dir(desk.path().join("followup.db.lock")).unwrap();
    let json = desk.run(&["status", "--json"]).json();
    assert_eq!(json["daemon"], "unknown");
    let text = desk.run(&["status"]).ok();
    assert!(
        text.contains("is a folder") && text.contains("rmdir"),
        "{text}"
    );
}

/// A lock file this user cannot read says nothing of the daemon: status
/// and doctor say they cannot tell, rather than "not running".
#[test]
fn status_cannot_tell_whether_a_daemon_runs_when_its_lock_file_is_unreadable() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["One", "--due", &days_from_today(30)]);
    let lock = desk.path().join("followup.db.lock");
    // A link to itself cannot be opened, not even by root, which tests
    // run as in CI.
    std::os::unix::fs::symlink("followup.db.lock", &lock).unwrap();
    let json = desk.run(&["status", "--json"]).json();
    assert_eq!(json["daemon"], "unknown");
    assert_eq!(json["daemon_pid"], serde_json::Value::Null);
    let text = desk.run(&["status"]).ok();
    let line = text.lines().find(|l| l.starts_with("daemon")).unwrap();
    assert!(
        line.contains("cannot tell") && line.contains("followup.db.lock"),
        "{line}"
    );
    assert!(!text.contains("not running"), "{text}");
    let doctor = desk.run(&["doctor"]);
    assert!(
        doctor
            .stdout()
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("cannot tell")),
        "{}",
        doctor.stdout()
    );
}

#[test]
fn a_second_daemon_on_the_same_database_is_refused() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    let daemon = Running::start(&desk);
    let err = desk.run(&["daemon", "--once"]).fails();
    assert!(err.contains("already running"), "{err}");
    assert!(
        err.contains(&format!("process {}", daemon.child.id())),
        "{err}"
    );
}

#[test]
fn sighup_with_a_broken_config_keeps_the_old_one() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    let mut daemon = Running::start(&desk);
    std::fs::write(
        desk.path().join("followup.toml"),
        "[reminders]\nsend_time = \"never\"\n",
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon must keep running"
    );
    // It still works on the old config: a new commitment gets its reminder.
    std::fs::write(desk.path().join("followup.toml"), MAILDIR_CONFIG).unwrap();
    daemon.signal(libc::SIGTERM);
    let output = std::mem::replace(
        &mut daemon.child,
        std::process::Command::new("true").spawn().unwrap(),
    )
    .wait_with_output()
    .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("keeping the old one"), "{log}");
    assert!(log.contains("send_time"), "{log}");
}

/// A daily digest schedule for the second `lead` from now, in UTC (the
/// test configs' time zone), and the moment it has surely passed: a test
/// ticks once before it (a desk's first tick only starts its digest
/// clock) and once after. A schedule that fires more than once a day is
/// refused, so a test waits for its one time of day.
pub fn digest_soon(lead: Duration) -> (String, Instant) {
    let at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::try_from(lead).unwrap())
        .unwrap()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .time();
    let schedule = format!("{} {} {} * * *", at.second(), at.minute(), at.hour());
    (
        schedule,
        Instant::now() + lead + Duration::from_millis(1100),
    )
}

fn wait_until(moment: Instant) {
    std::thread::sleep(moment.saturating_duration_since(Instant::now()));
}

#[test]
fn a_desk_digest_is_sent_once_per_local_day() {
    let (schedule, passed) = digest_soon(Duration::from_secs(4));
    let config = MAILDIR_CONFIG.replace(
        "recipients = [\"desk@example.org\"]",
        &format!("recipients = [\"desk@example.org\"]\ndigest = \"{schedule}\""),
    );
    let desk = Desk::with_config(&config);
    // The first tick only notes when digests were last due: none for the past.
    tick(&desk);
    // Far enough out that no reminder is owed yet; it is "due soon" in the digest.
    desk.add(&[
        "Sign the grain agreement",
        "--due",
        &days_from_today(10),
        "--announced",
        &days_from_today(0),
    ]);
    desk.add(&[
        "Resume the talks",
        "--due",
        "soon",
        "--announced",
        &days_from_today(0),
    ]);
    desk.add(&["Hold elections", "--due", &days_from_today(60)]);
    let digests = |desk: &Desk| -> Vec<Received> {
        maildir_messages(desk)
            .into_iter()
            .filter(|m| m.header("X-Followup-Reminder").is_none())
            .collect()
    };
    assert!(digests(&desk).is_empty());
    wait_until(passed);
    tick(&desk);
    // A restart the same day sends it again no more.
    std::thread::sleep(Duration::from_millis(1100));
    tick(&desk);
    let sent = digests(&desk);
    assert_eq!(sent.len(), 1, "one digest per desk and day");
    let body = &sent[0].data;
    assert!(body.contains("Sign the grain agreement"), "{body}");
    assert!(body.contains("Resume the talks"), "{body}");
    assert!(
        !body.contains("Hold elections"),
        "not due within 14 days: {body}"
    );
}

/// libfaketime, which the clock tests (here, in `clock` and in `faults`)
/// preload to move the wall clock. CI installs it (`.ci/run`); elsewhere a
/// test that needs it says so and stands aside.
pub fn libfaketime() -> Option<&'static str> {
    let found = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ]
    .into_iter()
    .find(|path| std::path::Path::new(path).exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "libfaketime is missing: apt-get install faketime"
        );
        eprintln!("libfaketime not installed (apt-get install faketime); not run here");
    }
    found
}

/// One `daemon --once` with the wall clock at `when` (UTC).
pub fn tick_at(desk: &Desk, library: &str, when: &str) {
    let output = desk
        .command(&["daemon", "--once"])
        .env("LD_PRELOAD", library)
        .env("FAKETIME", format!("@{when}"))
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "daemon --once at {when}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn under_a_faked_clock_each_reminder_arrives_once_and_a_long_gap_sends_one() {
    let Some(library) = libfaketime() else { return };
    let server = SmtpServer::start();
    // Retries minutes apart, so a slow tick can never retry within itself.
    let config = smtp_config(server.port)
        .replace("retry_first = \"1s\"", "retry_first = \"5m\"")
        .replace("retry_max = \"2s\"", "retry_max = \"10m\"");
    let desk = Desk::with_config(&config);
    // The seed article: announced 15 October 2025, "within two months".
    desk.add(&[
        "Hold the joint intergovernmental committee meeting",
        "--due",
        "within two months",
        "--announced",
        "2025-10-15",
    ]);
    let keys = || -> Vec<String> {
        server
            .received()
            .iter()
            .map(|m| m.header("X-Followup-Reminder").unwrap())
            .collect()
    };
    tick_at(&desk, library, "2025-11-20 09:00:00");
    assert_eq!(keys(), Vec::<String>::new(), "nothing is due a month ahead");
    tick_at(&desk, library, "2025-12-01 09:00:00");
    // A restart on the same day sends nothing more.
    tick_at(&desk, library, "2025-12-01 09:05:00");
    assert_eq!(keys(), ["v1:before:14d"]);
    tick_at(&desk, library, "2025-12-12 09:00:00");
    tick_at(&desk, library, "2025-12-15 09:00:00");
    assert_eq!(keys(), ["v1:before:14d", "v1:before:3d", "v1:due"]);
    // The server fails for a week: nothing arrives, nothing is lost.
    server.reply_to_next_data("451 4.3.0 try again later");
    tick_at(&desk, library, "2025-12-22 09:00:00");
    assert_eq!(keys().len(), 3);
    tick_at(&desk, library, "2025-12-22 09:10:00");
    assert_eq!(keys().last().unwrap(), "v1:overdue:1");
    // Then six weeks of downtime: one reminder, not six.
    tick_at(&desk, library, "2026-02-02 09:00:00");
    let all = keys();
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(all[4].starts_with("v1:overdue:"), "{all:?}");
    assert_ne!(all[4], all[3]);
    let subject = server.received()[4].header("Subject").unwrap();
    assert!(subject.contains("Overdue by 49 days"), "{subject}");
}

#[test]
fn a_desk_digest_tells_of_its_own_undelivered_emails_only() {
    let server = SmtpServer::start();
    let (schedule, passed) = digest_soon(Duration::from_secs(4));
    let config = smtp_config(server.port)
        .replace(
            "recipients = [\"desk@example.org\"]",
            &format!("recipients = [\"desk@example.org\"]\ndigest = \"{schedule}\""),
        )
        .replace(
            "tags = [\"energy\"]",
            &format!("tags = [\"energy\"]\ndigest = \"{schedule}\""),
        );
    server.reply_to_recipient("analyst@example.org", "550 5.1.1 no such user");
    let desk = Desk::with_config(&config);
    desk.add(&[
        "Open the pipeline",
        "--due",
        &days_from_today(3),
        "--tag",
        "energy",
    ]);
    desk.add(&["Hold the talks", "--due", &days_from_today(3)]);
    // The reminders go out (one of energy's dies), and the digests' clock
    // starts; once their time has passed both digests are due.
    tick(&desk);
    wait_until(passed);
    tick(&desk);
    let digest_to = |to: &str| -> String {
        server
            .received()
            .into_iter()
            .filter(|m| m.header("X-Followup-Reminder").is_none())
            .find(|m| m.recipients.iter().any(|r| r == to))
            .unwrap_or_else(|| panic!("no digest to {to}"))
            .data
    };
    let energy = digest_to("energy@example.org");
    assert!(energy.contains("analyst@example.org"), "{energy}");
    assert!(energy.contains("Open the pipeline"), "{energy}");
    let default = digest_to("desk@example.org");
    assert!(!default.contains("analyst@example.org"), "{default}");
    assert!(!default.contains("no such user"), "{default}");
}

#[test]
fn a_changed_reminder_policy_is_planned_again_for_every_open_commitment() {
    let config = |before: &str| {
        MAILDIR_CONFIG.replace(
            "send_time = \"00:00\"",
            &format!("send_time = \"00:00\"\nbefore = {before}"),
        )
    };
    let desk = Desk::with_config(&config("[\"14d\"]"));
    desk.add(&["Open the crossing", "--due", &days_from_today(20)]);
    tick(&desk);
    assert!(
        maildir_messages(&desk).is_empty(),
        "14 days out is 6 days away"
    );
    // A desk that wants a word 25 days ahead: that day passed five days
    // ago, so it is owed now, once.
    desk.write("followup.toml", config("[\"25d\", \"14d\"]").as_bytes());
    tick(&desk);
    let sent = maildir_messages(&desk);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].header("X-Followup-Reminder").as_deref(),
        Some("v1:before:25d")
    );
    tick(&desk);
    assert_eq!(maildir_messages(&desk).len(), 1, "and only once");
}

#[test]
fn a_daemon_that_cannot_work_with_its_config_exits_78_for_systemd_not_to_retry() {
    let desk = Desk::with_config("[mail]\ntransport = \"pigeon\"\n");
    let run = desk.command(&["daemon", "--once"]).output().unwrap();
    assert_eq!(run.status.code(), Some(78), "{run:?}");
    // A command keeps the plain failure status.
    let run = desk.run(&["list"]);
    assert_eq!(run.output.status.code(), Some(1));
    // So does a daemon stopped by something a restart may cure.
    let desk = Desk::with_config("[store]\npath = \"missing/followup.db\"\n");
    let run = desk.command(&["daemon", "--once"]).output().unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains("does not exist; create it"), "{said}");
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/followup.service"),
    )
    .unwrap();
    assert!(unit.contains("\nRestartPreventExitStatus=78\n"), "{unit}");
}

/// A daemon that cannot use its database as it is stops with status 78,
/// which the unit does not restart: five seconds would not fix it.
#[test]
fn a_database_the_daemon_cannot_use_stops_it_for_good() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["One", "--due", &days_from_today(30)]);
    rusqlite::Connection::open(desk.database())
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let run = desk.run(&["daemon"]);
    assert_eq!(run.output.status.code(), Some(78), "{}", run.stderr());
    assert!(run.stderr().contains("newer"), "{}", run.stderr());
}

/// A file claiming this build's schema without followup's tables is
/// refused by the daemon and by the first command that checks it, with
/// what it lacks, not with SQLite's words for a missing column.
#[test]
fn a_file_claiming_the_schema_without_its_tables_is_refused_naming_what_it_lacks() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    rusqlite::Connection::open(desk.database())
        .unwrap()
        .execute_batch(
            "CREATE TABLE commitments (id INTEGER PRIMARY KEY, title TEXT);
             PRAGMA user_version = 11;",
        )
        .unwrap();
    let run = desk.run(&["daemon", "--once"]);
    assert_eq!(run.output.status.code(), Some(78), "{}", run.stderr());
    assert!(
        run.stderr().contains("lacks what followup keeps"),
        "{}",
        run.stderr()
    );
    let err = desk.refuses(&["add", "One", "--due", "soon"]);
    assert!(err.contains("lacks what followup keeps"), "{err}");
    // Reading commands do not check the whole file, but say the same.
    for args in [
        vec!["list"],
        vec!["show", "1"],
        vec!["export"],
        vec!["list", "--json"],
    ] {
        let err = desk.run(&args).fails();
        assert!(err.contains("lacks what followup keeps"), "{args:?}: {err}");
    }
}

/// The daemon's log says the schema was upgraded when, and only when, it
/// was: comparing the file with the schema built in memory is not an
/// upgrade.
#[test]
fn the_daemon_logs_a_schema_upgrade_only_when_there_is_one() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Hold the joint committee meeting", "--due", "2030-01-15"]);
    let current = desk.run(&["daemon", "--once"]);
    current.ok();
    let log = current.stderr();
    assert!(
        !log.contains("migrated") && !log.contains("schema upgraded"),
        "{log}"
    );

    as_schema_8(&desk.database());
    let upgrading = desk.run(&["daemon", "--once"]);
    upgrading.ok();
    let log = upgrading.stderr();
    assert!(
        log.contains("database schema upgraded") && log.contains("from=8") && log.contains("to=11"),
        "{log}"
    );
    assert!(!log.contains("migrated to version"), "{log}");
}
