//! `followup doctor`: the real binary against a real SMTP server on
//! loopback (with a login), real SQLite files, a real Maildir and a real
//! daemon holding its lock.

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use crate::daemon::{MAILDIR_CONFIG, Running};
use crate::smtp::SmtpServer;
use crate::support::{Desk, RefusedPort, days_from_today};

/// An SMTP setup with a login: the password in `smtp-password` beside the
/// config, mode 0600.
fn desk_with_login(port: u16, password: &str) -> Desk {
    let desk = Desk::with_config(&format!(
        r#"
[mail]
transport = "smtp"
retry_first = "1s"
max_attempts = 2

[mail.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
username = "followup"
password_file = "smtp-password"
timeout = "10s"

[reminders]
send_time = "00:00"
"#
    ));
    let file = desk.write("smtp-password", format!("{password}\n").as_bytes());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    desk
}

/// The findings as (level, check, detail), and the exit status.
fn doctor(desk: &Desk) -> (Vec<(String, String, String)>, i32) {
    let output: Output = desk.command(&["doctor"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let (level, rest) = line.split_once(' ').unwrap();
            let (check, detail) = rest.trim_start().split_once(' ').unwrap();
            (
                level.to_string(),
                check.to_string(),
                detail.trim_start().to_string(),
            )
        })
        .collect();
    (lines, output.status.code().unwrap())
}

fn finding(lines: &[(String, String, String)], check: &str) -> (String, String) {
    let (level, _, detail) = lines
        .iter()
        .find(|(_, c, _)| c == check)
        .unwrap_or_else(|| panic!("no {check} line in {lines:?}"));
    (level.clone(), detail.clone())
}

#[test]
fn a_healthy_smtp_setup_is_all_ok_and_the_login_is_really_tried() {
    let server = SmtpServer::with_login("followup", "s3cret pass");
    let desk = desk_with_login(server.port, "s3cret pass");
    desk.add(&["Resume the talks", "--due", &days_from_today(60)]);
    let _daemon = Running::start(&desk);
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 0, "{lines:#?}");
    assert!(lines.iter().all(|(level, ..)| level == "OK"), "{lines:#?}");
    let (_, smtp) = finding(&lines, "smtp");
    assert!(smtp.contains("login accepted for \"followup\""), "{smtp}");
    assert!(smtp.contains("no mail sent"), "{smtp}");
    let (_, daemon) = finding(&lines, "daemon");
    assert!(daemon.contains("running (pid"), "{daemon}");
    // The server saw doctor's login, and no mail came of it.
    let logins = server.logins();
    assert!(
        logins
            .iter()
            .any(|l| l.username == "followup" && l.accepted && l.mechanism == "PLAIN"),
        "{logins:?}"
    );
    assert!(server.received().is_empty());
    let json = desk.run(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.output.stdout).unwrap();
    assert_eq!(report["status"], "ok");
    assert!(report["checks"].as_array().unwrap().len() >= 6);
}

#[test]
fn a_server_offering_only_auth_login_is_logged_in_to() {
    let server = SmtpServer::with_login_by("followup", "pa55", &["LOGIN"]);
    let desk = desk_with_login(server.port, "pa55");
    let (lines, _) = doctor(&desk);
    let (level, smtp) = finding(&lines, "smtp");
    assert_eq!(level, "OK", "{smtp}");
    assert_eq!(server.logins()[0].mechanism, "LOGIN");
    assert!(server.logins()[0].accepted);
}

#[test]
fn a_wrong_password_fails_with_the_servers_answer() {
    let server = SmtpServer::with_login("followup", "right");
    let desk = desk_with_login(server.port, "wrong");
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2, "{lines:#?}");
    let (level, smtp) = finding(&lines, "smtp");
    assert_eq!(level, "FAIL");
    assert!(smtp.contains("535"), "{smtp}");
    assert!(smtp.contains("refused our login"), "{smtp}");
    assert!(smtp.contains("password file"), "{smtp}");
    assert!(
        !smtp.contains("wrong"),
        "the password is never shown: {smtp}"
    );
    let logins = server.logins();
    assert_eq!(logins.len(), 1, "{logins:?}");
    assert!(!logins[0].accepted);
}

#[test]
fn a_server_offering_no_login_says_to_turn_on_tls() {
    let server = SmtpServer::start();
    let desk = desk_with_login(server.port, "pa55");
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2);
    let (level, smtp) = finding(&lines, "smtp");
    assert_eq!(level, "FAIL");
    assert!(
        smtp.contains("offers no login this client can use") && smtp.contains("starttls"),
        "{smtp}"
    );
}

#[test]
fn a_closed_port_fails_naming_the_address() {
    let refused = RefusedPort::new();
    let port = refused.port;
    let desk = desk_with_login(port, "whatever");
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2);
    let (level, smtp) = finding(&lines, "smtp");
    assert_eq!(level, "FAIL");
    assert!(smtp.contains(&format!("127.0.0.1:{port}")), "{smtp}");
    assert!(smtp.contains("refused"), "{smtp}");
}

#[test]
fn a_password_file_others_can_read_fails_and_no_login_is_tried() {
    let server = SmtpServer::with_login("followup", "s3cret");
    let desk = desk_with_login(server.port, "s3cret");
    let file = desk.path().join("smtp-password");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2);
    let (level, password) = finding(&lines, "password");
    assert_eq!(level, "FAIL");
    assert!(password.contains("mode 0644"), "{password}");
    assert!(password.contains("chmod 600"), "{password}");
    assert!(
        server.logins().is_empty(),
        "the exposed password was not used"
    );
}

#[test]
fn dead_emails_and_a_stopped_daemon_are_warnings() {
    let server = SmtpServer::start();
    let desk = Desk::with_config(&format!(
        r#"
[mail]
transport = "smtp"

[mail.smtp]
host = "127.0.0.1"
port = {}
security = "none"

[reminders]
send_time = "00:00"

[[desks]]
name = "default"
recipients = ["gone@example.org"]
"#,
        server.port
    ));
    server.reply_to_recipient("gone@example.org", "550 5.1.1 no such user");
    let id = desk.add(&["Sign the grain deal", "--due", &days_from_today(3)]);
    desk.run(&["daemon", "--once"]).ok();

    let before = desk.snapshot();
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 1, "warnings only: {lines:#?}");
    let (level, outbox) = finding(&lines, "outbox");
    assert_eq!(level, "WARN");
    assert!(outbox.contains("1 dead"), "{outbox}");
    assert!(outbox.contains(&format!("commitments {id}")), "{outbox}");
    assert!(outbox.contains("followup show ID"), "{outbox}");
    let (level, daemon) = finding(&lines, "daemon");
    assert_eq!(level, "WARN");
    assert!(daemon.contains("not running"), "{daemon}");
    assert_eq!(finding(&lines, "smtp").0, "OK");
    assert!(before == desk.snapshot(), "doctor changed the database");
}

#[test]
fn with_a_maildir_doctor_checks_the_maildir_instead_of_smtp() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Open the crossing", "--due", &days_from_today(3)]);
    desk.run(&["daemon", "--once"]).ok();
    let (lines, _) = doctor(&desk);
    assert!(!lines.iter().any(|(_, check, _)| check == "smtp"));
    let (level, maildir) = finding(&lines, "maildir");
    assert_eq!(level, "OK");
    assert!(maildir.contains("is writable"), "{maildir}");
    assert!(
        std::fs::read_dir(desk.path().join("outbox/tmp"))
            .unwrap()
            .next()
            .is_none(),
        "the probe file is gone"
    );

    // A file where the Maildir should be.
    std::fs::remove_dir_all(desk.path().join("outbox")).unwrap();
    desk.write("outbox", b"not a folder");
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2);
    let (level, maildir) = finding(&lines, "maildir");
    assert_eq!(level, "FAIL");
    assert!(maildir.contains("is not a folder"), "{maildir}");
}

#[test]
fn a_corrupt_database_fails_and_is_left_as_it_was() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.corrupt_database();
    let before = desk.snapshot();
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2);
    let (level, database) = finding(&lines, "database");
    assert_eq!(level, "FAIL");
    assert!(database.contains("corrupt"), "{database}");
    assert!(database.contains("followup restore"), "{database}");
    assert!(before == desk.snapshot());
}

#[test]
fn an_older_schema_is_reported_and_not_migrated() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Hold elections", "--due", "2026-06-30"]);
    rusqlite::Connection::open(desk.database())
        .unwrap()
        .execute_batch("PRAGMA user_version = 1")
        .unwrap();
    let before = desk.snapshot();
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 1);
    let (level, schema) = finding(&lines, "schema");
    assert_eq!(level, "WARN");
    assert!(
        schema.contains("version 1 will be migrated to 11"),
        "{schema}"
    );
    assert!(before == desk.snapshot(), "doctor migrated the database");
}

#[test]
fn a_newer_schema_fails() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Hold elections", "--due", "2026-06-30"]);
    rusqlite::Connection::open(desk.database())
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2);
    let (level, schema) = finding(&lines, "schema");
    assert_eq!(level, "FAIL");
    assert!(schema.contains("upgrade followup"), "{schema}");
}

#[test]
fn a_broken_config_fails_with_file_line_and_key() {
    let desk = Desk::with_config("[reminders]\nsend_time = \"9 o'clock\"\n");
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2);
    assert_eq!(lines.len(), 1, "nothing else is checked: {lines:#?}");
    let (level, config) = finding(&lines, "config");
    assert_eq!(level, "FAIL");
    assert!(
        config.contains("followup.toml:2: reminders.send_time"),
        "{config}"
    );
    assert!(config.contains("try \"09:00\""), "{config}");
}

#[test]
fn on_a_fresh_machine_doctor_warns_and_creates_nothing() {
    let desk = Desk::new();
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 1, "{lines:#?}");
    let (level, database) = finding(&lines, "database");
    assert_eq!(level, "WARN");
    assert!(database.contains("does not exist yet"), "{database}");
    assert_eq!(finding(&lines, "maildir").0, "OK");
    assert!(
        !desk.path().join("data").exists(),
        "doctor created the data folder"
    );
}

#[test]
fn a_database_that_cannot_be_created_fails() {
    // Root ignores permission bits; /proc refuses new entries even to root.
    let desk = Desk::with_config("[store]\npath = \"/proc/followup-doctor-test.db\"\n");
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2, "{lines:#?}");
    let (level, database) = finding(&lines, "database");
    assert_eq!(level, "FAIL");
    assert!(
        database.contains("cannot be created: /proc is not writable by this user"),
        "{database}"
    );
    assert!(database.contains("set store.path"), "{database}");
}

#[test]
fn a_systemd_credential_is_trusted_whatever_its_group_bits() {
    // Newer systemd writes credentials 0400 and lets the service's user
    // read them through an ACL, which shows as 0440.
    let server = SmtpServer::with_login("followup", "s3cret");
    let desk = desk_with_login(server.port, "unused");
    let config = std::fs::read_to_string(desk.path().join("followup.toml")).unwrap();
    desk.write(
        "followup.toml",
        config
            .replace("password_file = \"smtp-password\"\n", "")
            .as_bytes(),
    );
    let credentials = desk.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    let credential = credentials.join("smtp-password");
    std::fs::write(&credential, "s3cret\n").unwrap();
    std::fs::set_permissions(&credential, std::fs::Permissions::from_mode(0o440)).unwrap();
    let output = desk
        .command(&["doctor"])
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains("smtp-password is a systemd credential"),
        "{report}"
    );
    assert!(report.contains("login accepted"), "{report}");
    // The same file named as password_file is the analyst's own, and held
    // to chmod 600.
    desk.write(
        "followup.toml",
        config
            .replace("smtp-password", "credentials/smtp-password")
            .as_bytes(),
    );
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2, "{lines:#?}");
    assert!(finding(&lines, "password").1.contains("mode 0440"));
}

#[test]
fn emails_left_mid_send_by_a_stopped_daemon_are_a_warning() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Sign the grain deal", "--due", &days_from_today(3)]);
    desk.run(&["daemon", "--once"]).ok();
    // As a daemon killed mid-send leaves it.
    let conn = rusqlite::Connection::open(desk.database()).unwrap();
    conn.execute("UPDATE outbox SET state = 'sending'", [])
        .unwrap();
    drop(conn);
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 1, "{lines:#?}");
    let stuck = lines
        .iter()
        .find(|(_, check, detail)| check == "outbox" && detail.contains("on their way"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(stuck.0, "WARN");
    assert!(stuck.2.contains("without finishing: 1;"), "{}", stuck.2);
}

/// A lock file the daemon's user cannot open stops every daemon start at
/// once (under systemd, a restart every few seconds); doctor says so and
/// how to fix it, rather than only that no daemon runs.
#[test]
fn a_lock_file_the_daemon_cannot_open_is_a_failure_with_its_fix() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Resume the talks", "--due", &days_from_today(60)]);
    // A folder stands in for a file of another user's: root, which runs
    // the tests, can open any file.
    let mut lock = desk.database().into_os_string();
    lock.push(".lock");
    std::fs::create_dir(&lock).unwrap();
    let (lines, code) = doctor(&desk);
    let (level, detail) = finding(&lines, "daemon");
    assert_eq!(level, "FAIL", "{detail}");
    assert!(
        detail.contains("is a folder") && detail.contains("rmdir"),
        "{detail}"
    );
    assert_eq!(code, 2);
    let run = desk.run(&["daemon", "--once"]);
    assert!(!run.success());
    assert!(
        run.stderr().contains("cannot open the lock file"),
        "{}",
        run.stderr()
    );
}

/// The daemon's Maildir is private to it; an analyst's doctor cannot look
/// inside, and says so rather than failing the Maildir.
#[test]
fn another_users_maildir_is_a_warning_for_an_analyst() {
    // SAFETY: geteuid touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run doctor as another user");
        return;
    }
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Resume the talks", "--due", &days_from_today(60)]);
    desk.run(&["daemon", "--once"]).ok();
    std::fs::set_permissions(desk.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = desk.output_as_nobody(&["doctor"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("maildir"))
        .unwrap_or_else(|| panic!("{stdout}{}", String::from_utf8_lossy(&output.stderr)));
    assert!(
        line.starts_with("WARN") && line.contains("belongs to another user (uid 0)"),
        "{line}"
    );
}

/// What a restore or an import killed part-way leaves beside the database
/// is named, so it can be deleted; what a running one is working on is not.
#[test]
fn files_a_stopped_restore_or_import_left_are_a_warning() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Resume the talks", "--due", &days_from_today(60)]);
    let folder = desk.database().parent().unwrap().to_path_buf();
    let gone = "999999999";
    for name in [
        format!(".followup.db.restoring-{gone}"),
        format!(".followup.db.import-{gone}-journal"),
        format!(".followup.db.import-{gone}-laid-out"),
        format!(".followup.db.restoring-{}", std::process::id()),
        format!(".followup.db.import-{}-laid-out", std::process::id()),
        format!(".followup.db.import-{}-shm", std::process::id()),
    ] {
        std::fs::write(folder.join(name), vec![0u8; 4096]).unwrap();
    }
    let (lines, code) = doctor(&desk);
    let (level, detail) = finding(&lines, "leftovers");
    assert_eq!(level, "WARN", "{detail}");
    assert!(
        detail.starts_with("3 file(s)")
            && detail.contains(&format!(".followup.db.import-{gone}-journal"))
            && detail.contains(&format!(".followup.db.import-{gone}-laid-out"))
            && detail.contains(&format!(".followup.db.restoring-{gone}"))
            && !detail.contains(&std::process::id().to_string()),
        "{detail}"
    );
    // Three pages: said in KiB, not rounded up to a MiB.
    assert!(detail.contains("(12 KiB)"), "{detail}");
    assert!(code >= 1);
}

/// Every command refuses another program's SQLite file; doctor fails it
/// too, rather than calling it an old followup database to migrate.
#[test]
fn another_programs_sqlite_file_fails() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    std::fs::create_dir_all(desk.database().parent().unwrap()).unwrap();
    rusqlite::Connection::open(desk.database())
        .unwrap()
        .execute_batch("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);")
        .unwrap();
    let before = desk.snapshot();
    let (lines, code) = doctor(&desk);
    assert_eq!(code, 2);
    let (level, database) = finding(&lines, "database");
    assert_eq!(level, "FAIL");
    assert!(database.contains("moz_places"), "{database}");
    assert!(
        !lines
            .iter()
            .any(|(_, _, text)| text.contains("will be migrated")),
        "{lines:?}"
    );
    assert!(before == desk.snapshot(), "doctor changed the file");
    let err = desk.run(&["list"]).fails();
    assert!(err.contains("moz_places"), "{err}");
}

/// The records kept for export: all kept, some waiting to be rendered
/// again, or disagreeing with the tables after a change by hand (a kept
/// page's count), with the way to render them again, which then holds.
#[test]
fn the_records_kept_for_export_are_checked_against_the_tables() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    for title in [
        "Hold elections",
        "Reopen the border crossing",
        "Sign the grain deal",
    ] {
        desk.add(&[title, "--due", "2026-06-30"]);
    }
    desk.run(&["note", "1", "Delegations named."]).ok();
    let (lines, _) = doctor(&desk);
    assert_eq!(
        finding(&lines, "records"),
        ("OK".into(), "3 export records kept, none stale".into())
    );

    let conn = rusqlite::Connection::open(desk.database()).unwrap();
    conn.execute_batch("INSERT INTO stale_records (id) VALUES (2)")
        .unwrap();
    let before = desk.snapshot();
    let (lines, code) = doctor(&desk);
    let (level, detail) = finding(&lines, "records");
    assert_eq!(level, "WARN");
    assert!(
        detail.starts_with("1 of the commitments' export records wait"),
        "{detail}"
    );
    assert_eq!(code, 1);
    assert!(before == desk.snapshot(), "doctor changed the database");

    desk.run(&["note", "3", "Rendered again."]).ok();
    // A kept page's count changed by hand.
    conn.execute_batch("UPDATE record_pages SET events = events + 1 WHERE page = 0")
        .unwrap();
    let (lines, code) = doctor(&desk);
    let (level, detail) = finding(&lines, "records");
    assert_eq!(level, "FAIL");
    assert!(detail.contains("they count 3 commitments"), "{detail}");
    assert!(
        detail.contains("3 revisions and 6 history events"),
        "{detail}"
    );
    assert!(detail.contains("the tables hold 3, 3 and 5"), "{detail}");
    assert_eq!(code, 2);
    // The export reads the tables instead: every event once.
    let export: serde_json::Value = serde_json::from_str(&desk.run(&["export"]).ok()).unwrap();
    let events: usize = export
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["history"].as_array().unwrap().len())
        .sum();
    assert_eq!(events, 5);

    // The repair it names.
    conn.execute_batch("INSERT OR IGNORE INTO stale_records (id) SELECT id FROM commitments")
        .unwrap();
    desk.run(&["note", "3", "Repaired."]).ok();
    let (lines, _) = doctor(&desk);
    assert_eq!(finding(&lines, "records").0, "OK");
    desk.run(&["export"]).ok();
}
