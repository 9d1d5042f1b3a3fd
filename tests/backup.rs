//! `backup` and `restore`: the real binary, real SQLite files, a writer
//! that keeps committing while the backup runs, and a real daemon holding
//! its lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use followup::deadline::Deadline;
use followup::model::NewCommitment;
use followup::store::{Check, Store};
use serde_json::Value;

use crate::daemon::{MAILDIR_CONFIG, Running};
use crate::support::{Desk, NOBODY, as_schema_8, as_schema_9, days_from_today};

/// A desk with a few commitments that have a history worth comparing.
fn desk_with_history() -> Desk {
    let desk = Desk::new();
    let first = desk.add(&[
        "Hold the joint intergovernmental committee meeting",
        "--due",
        "within 2 months",
        "--announced",
        "2025-10-15",
        "--actor",
        "Syria",
        "--actor",
        "Russia",
        "--tag",
        "syria",
        "--quote",
        "كما تم الاتفاق على عقد اجتماع للجنة حكومية دولية مشتركة",
    ]);
    let second = desk.add(&["Reopen the crossing, \"soon\"", "--due", "soon"]);
    desk.run(&["revise", &first.to_string(), "--due", "by 31 January 2026"])
        .ok();
    desk.run(&["note", &first.to_string(), "Moscow confirms, January"])
        .ok();
    desk.run(&["close", &second.to_string(), "--outcome", "missed"])
        .ok();
    desk
}

fn export(desk: &Desk) -> Value {
    desk.run(&["export", "--format", "json"]).json()
}

/// The files in a folder, to show a refused command left nothing behind.
fn files_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The schema version the database file at `path` claims.
fn schema_of(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn commitment_count(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM commitments", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_backup_restored_into_a_fresh_place_exports_the_same() {
    let desk = desk_with_history();
    let backup = desk.path().join("followup-backup.db");
    let said = desk.run(&["backup", backup.to_str().unwrap()]).ok();
    assert!(said.contains("2 commitments"), "{said}");
    assert!(said.contains("integrity_check ok"), "{said}");

    let fresh = Desk::new();
    std::fs::create_dir_all(fresh.database().parent().unwrap()).unwrap();
    let said = fresh.run(&["restore", backup.to_str().unwrap()]).ok();
    assert!(said.contains("2 commitments"), "{said}");
    assert!(!said.contains("kept as"), "nothing was replaced: {said}");
    assert_eq!(export(&fresh), export(&desk));
}

#[test]
fn a_backup_is_one_self_contained_file() {
    let desk = desk_with_history();
    let backup = desk.path().join("copy.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    let bytes = std::fs::read(&backup).unwrap();
    // Header bytes 18 and 19 are 1 for a rollback-journal file, 2 for WAL:
    // a backup opened elsewhere must not need a -wal file beside it.
    assert_eq!((bytes[18], bytes[19]), (1, 1));
    let names = files_in(desk.path());
    assert!(
        !names.iter().any(|n| n.contains("partial")),
        "no temporary file is left: {names:?}"
    );
}

#[test]
fn a_backup_taken_while_a_writer_commits_is_a_consistent_snapshot() {
    let desk = Desk::new();
    // More than one backup step (1024 pages): the writer commits between
    // steps, which restarts a backup that does not hold one snapshot.
    seed(&desk, 6000);
    let database = desk.database();
    assert!(
        std::fs::metadata(&database).unwrap().len() > 8 << 20,
        "the seed must span several backup steps"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let database = database.clone();
        std::thread::spawn(move || {
            let mut store = Store::open(&database, Check::ReadOnly).unwrap();
            let mut commits = Vec::new();
            let anchor = jiff::civil::date(2026, 1, 1);
            while !stop.load(Ordering::Relaxed) {
                let new = NewCommitment {
                    title: format!("Written during the backup {}", commits.len()),
                    announced: anchor,
                    deadline: Deadline::parse("within 2 months", anchor).unwrap(),
                    actors: vec!["Syria".into()],
                    tags: vec!["writer".into()],
                    source: None,
                    quote: None,
                    note: None,
                };
                // A failure here (busy, locked) fails the test.
                store
                    .add(&new, jiff::Timestamp::now(), "writer")
                    .expect("the writer is never refused");
                commits.push(Instant::now());
            }
            commits
        })
    };
    while commitment_count(&database) < 6005 {
        std::thread::sleep(Duration::from_millis(5));
    }

    let backup = desk.path().join("busy.db");
    let started = Instant::now();
    let mut child = desk
        .command(&["backup", backup.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the backup never finished under a busy writer"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let finished = Instant::now();
    let output = child.wait_with_output().unwrap();
    stop.store(true, Ordering::Relaxed);
    let commits = writer.join().expect("the writer never failed");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let during = commits
        .iter()
        .filter(|t| **t > started && **t < finished)
        .count();
    assert!(during > 0, "the writer committed while the backup ran");

    // The backup is the database as it was at one instant: a prefix of the
    // commitments, each exactly as the live database has it now.
    let fresh = Desk::new();
    std::fs::create_dir_all(fresh.database().parent().unwrap()).unwrap();
    fresh.run(&["restore", backup.to_str().unwrap()]).ok();
    let restored = export(&fresh);
    let restored = restored.as_array().unwrap();
    let live = export(&desk);
    let live = live.as_array().unwrap();
    assert!(restored.len() >= 6005, "{}", restored.len());
    assert!(restored.len() <= live.len());
    assert_eq!(restored[..], live[..restored.len()]);
    let ids: Vec<i64> = restored.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (1..=restored.len() as i64).collect::<Vec<_>>());
}

/// Imports `n` commitments with long quotes, so the file has many pages.
fn seed(desk: &Desk, n: usize) {
    let rows: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "title": format!("Seeded commitment {i}: reopen the crossing for aid convoys"),
                "due": "2026-03-01",
                "announced": "2026-01-01",
                "actors": ["Turkey", "Iraq"],
                "tags": ["aid", format!("batch-{}", i % 10)],
                "quote": "تم الاتفاق على إعادة فتح المعبر أمام قوافل المساعدات في غضون شهرين ".repeat(8),
            })
        })
        .collect();
    let file = desk.write("seed.json", &serde_json::to_vec(&rows).unwrap());
    desk.run(&["import", file.to_str().unwrap()]).ok();
}

#[test]
fn backup_does_not_replace_an_existing_file_unless_forced() {
    let desk = desk_with_history();
    let backup = desk.write("taken.db", b"an older file that must survive");
    let err = desk.run(&["backup", backup.to_str().unwrap()]).fails();
    assert!(err.contains("already exists"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        b"an older file that must survive"
    );
    desk.run(&["backup", backup.to_str().unwrap(), "--force"])
        .ok();
    assert_eq!(commitment_count(&backup), 2);
}

#[test]
fn a_backup_folder_that_takes_no_file_is_named_with_the_systems_reason() {
    let desk = desk_with_history();
    // /proc exists and takes no new file, for root as for anyone.
    let err = desk.refuses(&["backup", "/proc/followup-backup.db"]);
    assert!(
        err.contains("cannot create /proc/.followup-backup.db.partial-")
            && !err.contains("store.path"),
        "{err}"
    );
}

#[test]
fn backup_refuses_to_write_over_the_database_itself() {
    let desk = desk_with_history();
    let db = desk.database();
    let err = desk.refuses(&["backup", db.to_str().unwrap(), "--force"]);
    assert!(err.contains("the database itself"), "{err}");
    // Nor over a file followup keeps beside it.
    for suffix in ["-wal", "-shm", ".lock", "-verified"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        let err = desk.refuses(&["backup", path.to_str().unwrap(), "--force"]);
        assert!(
            err.contains("a file SQLite keeps beside it") || err.contains("the database itself"),
            "{suffix}: {err}"
        );
    }
}

/// `--force` replaces an old backup file, never a device or a pipe: as
/// root, `backup /dev/null --force` took the system's /dev/null away.
#[test]
fn backup_never_replaces_a_device_or_a_pipe() {
    let desk = desk_with_history();
    let null = desk.path().join("null");
    let made = std::process::Command::new("mknod")
        .args([null.to_str().unwrap(), "c", "1", "3"])
        .status()
        .is_ok_and(|status| status.success());
    let fifo = desk.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // mknod needs root; a pipe is enough to show the rule elsewhere.
    let mut targets = vec![(fifo, "a named pipe")];
    if made {
        targets.push((null, "a device"));
    }
    for (target, what) in targets {
        for force in [true, false] {
            let mut args = vec!["backup", target.to_str().unwrap()];
            if force {
                args.push("--force");
            }
            let err = desk.refuses(&args);
            assert!(err.contains(&format!("is {what}, not a file")), "{err}");
            let kind = std::fs::symlink_metadata(&target).unwrap().file_type();
            assert!(!kind.is_file(), "{target:?} was replaced by a file");
        }
    }
}

#[test]
fn a_backup_and_the_copy_kept_by_restore_are_as_private_as_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let desk = desk_with_history();
    let db = desk.database();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let backup = desk.path().join("private.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    assert_eq!(mode(&backup), 0o600);
    desk.run(&["restore", backup.to_str().unwrap()]).ok();
    let kept: Vec<_> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains(".before-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(mode(&kept[0]), 0o600);
}

#[test]
fn a_link_to_the_database_is_the_database() {
    let desk = desk_with_history();
    let link = desk.path().join("link.db");
    std::os::unix::fs::symlink(desk.database(), &link).unwrap();
    let err = desk.refuses(&["restore", link.to_str().unwrap()]);
    assert!(err.contains("the database itself"), "{err}");
    let err = desk.refuses(&["backup", link.to_str().unwrap(), "--force"]);
    assert!(err.contains("the database itself"), "{err}");
}

/// The titles of the commitments in the database file at `path` that a
/// test's writer made.
fn titles_written(path: &Path, prefix: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT title FROM commitments WHERE title LIKE ?1 || '%'")
        .unwrap();
    stmt.query_map([prefix], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_write_acknowledged_while_restore_runs_is_kept_or_restored_into() {
    let desk = Desk::new();
    seed(&desk, 6000);
    let database = desk.database();
    let backup = desk.path().join("before.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();

    const PREFIX: &str = "Written during the restore";
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let database = database.clone();
        std::thread::spawn(move || {
            let mut acknowledged = Vec::new();
            let anchor = jiff::civil::date(2026, 1, 1);
            while !stop.load(Ordering::Relaxed) {
                let title = format!("{PREFIX} {}", acknowledged.len());
                let new = NewCommitment {
                    title: title.clone(),
                    announced: anchor,
                    deadline: Deadline::parse("within 2 months", anchor).unwrap(),
                    actors: vec![],
                    tags: vec![],
                    source: None,
                    quote: None,
                    note: None,
                };
                // A write the restore made wait too long is refused, and
                // says so: only what was acknowledged must be found.
                let added = Store::open(&database, Check::ReadOnly)
                    .and_then(|mut store| store.add(&new, jiff::Timestamp::now(), "writer"));
                if added.is_ok() {
                    acknowledged.push(title);
                }
            }
            acknowledged
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let restored = desk.run(&["restore", backup.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let acknowledged = writer.join().unwrap();
    restored.ok();
    assert!(acknowledged.len() > 2, "{}", acknowledged.len());

    let folder = database.parent().unwrap().to_path_buf();
    let kept = files_in(&folder)
        .into_iter()
        .find(|n| n.starts_with("followup.db.before-restore-"))
        .map(|n| folder.join(n))
        .unwrap();
    let mut found = titles_written(&database, PREFIX);
    found.extend(titles_written(&kept, PREFIX));
    let lost: Vec<&String> = acknowledged.iter().filter(|t| !found.contains(t)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged, then lost by the restore: {lost:?}"
    );
}

/// `doctor` says to take a backup before a newer followup migrates an older
/// database; that backup must be of the older database, not migrated first.
#[test]
fn a_backup_of_an_older_database_is_a_copy_of_it_as_it_is() {
    let desk = desk_with_history();
    let database = desk.database();
    // Schema 7 as it was: schema 8 only dropped this index, and 9 only
    // added the trigger.
    as_schema_9(&database);
    {
        let conn = rusqlite::Connection::open(&database).unwrap();
        conn.execute_batch(
            "CREATE INDEX tags_by_tag ON tags (tag, commitment_id);
             DROP TRIGGER deadlines_are_append_only_delete;
             PRAGMA user_version = 7;",
        )
        .unwrap();
    }
    let backup = desk.path().join("before-upgrade.db");
    let said = desk.run(&["backup", backup.to_str().unwrap()]).ok();
    assert!(said.contains("schema 7"), "{said}");
    assert_eq!(schema_of(&database), 7, "the backup migrated the database");
    assert_eq!(schema_of(&backup), 7);
    // The next command that records something migrates the database.
    desk.add(&["After the upgrade", "--due", "2026-06-30"]);
    assert_eq!(schema_of(&database), 11);
}

/// Whoever opens an older database first after an upgrade (an analyst's
/// `list`, as likely as the daemon) brings it up to date, and keeps a copy
/// of it as it was beside it: the backup `doctor` asks for, taken anyway.
#[test]
fn the_first_command_after_an_upgrade_keeps_the_database_as_it_was() {
    let desk = desk_with_history();
    let database = desk.database();
    as_schema_8(&database);
    let listed = desk.run(&["list", "--json"]).json();
    assert_eq!(schema_of(&database), 11);
    let mut kept = database.clone().into_os_string();
    kept.push(".schema-8");
    let kept = std::path::PathBuf::from(kept);
    assert_eq!(schema_of(&kept), 8, "the copy is the database as it was");
    assert_eq!(commitment_count(&kept), 2);
    let trigger: i64 = rusqlite::Connection::open(&kept)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'deadlines_are_append_only_delete'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(trigger, 0);
    // Restored into a fresh place, the copy lists the same commitments.
    let fresh = Desk::new();
    std::fs::create_dir_all(fresh.database().parent().unwrap()).unwrap();
    fresh.run(&["restore", kept.to_str().unwrap()]).ok();
    assert_eq!(fresh.run(&["list", "--json"]).json(), listed);
}

/// A backup copied over the database by hand leaves it in rollback-journal
/// mode (a backup is one self-contained file); a restore onto it then
/// waited on its own lock and failed.
#[test]
fn restore_works_onto_a_database_put_in_place_by_hand() {
    let desk = desk_with_history();
    let backup = desk.path().join("b.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    let database = desk.database();
    for suffix in ["-wal", "-shm"] {
        let mut name = database.clone().into_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
    std::fs::copy(&backup, &database).unwrap();
    let said = desk.run(&["restore", backup.to_str().unwrap()]).ok();
    assert!(said.contains("2 commitments"), "{said}");
}

#[test]
fn restore_keeps_the_database_it_replaces() {
    let desk = desk_with_history();
    let backup = desk.path().join("before.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    let before = export(&desk);
    desk.add(&["Added after the backup", "--due", "2026-06-30"]);
    let after = export(&desk);

    let said = desk.run(&["restore", backup.to_str().unwrap()]).ok();
    assert!(said.contains("kept as"), "{said}");
    assert_eq!(export(&desk), before);

    // The kept file is the database as it was before the restore.
    let folder = desk.database().parent().unwrap().to_path_buf();
    let kept: Vec<PathBuf> = files_in(&folder)
        .iter()
        .filter(|n| n.starts_with("followup.db.before-restore-"))
        .map(|n| folder.join(n))
        .collect();
    assert_eq!(kept.len(), 1, "{:?}", files_in(&folder));
    let look = Desk::with_config(&format!("[store]\npath = {:?}\n", kept[0]));
    assert_eq!(export(&look), after);
}

#[test]
fn restore_is_refused_while_the_daemon_runs() {
    let desk = Desk::with_config(MAILDIR_CONFIG);
    desk.add(&["Sign the grain agreement", "--due", &days_from_today(3)]);
    let backup = desk.path().join("b.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    let daemon = Running::start(&desk);
    // Let the first tick finish, so the daemon is idle for a minute.
    let started = Instant::now();
    while desk.run(&["status", "--json"]).json()["outbox"]["sent_last_24h"] != 1 {
        assert!(started.elapsed() < Duration::from_secs(20), "no first tick");
        std::thread::sleep(Duration::from_millis(50));
    }
    let folder = files_in(desk.path());
    let err = desk.refuses(&["restore", backup.to_str().unwrap()]);
    assert!(err.contains("daemon"), "{err}");
    assert!(
        err.contains(&format!("process {}", daemon.child.id())),
        "{err}"
    );
    assert!(err.contains("stop it first"), "{err}");
    assert_eq!(files_in(desk.path()), folder);
}

#[test]
fn restore_refuses_a_corrupt_backup() {
    let desk = Desk::new();
    seed(&desk, 200);
    let backup = desk.path().join("damaged.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 3000] {
        *b = 0xA5;
    }
    std::fs::write(&backup, &bytes).unwrap();
    let folder = files_in(desk.database().parent().unwrap());
    let err = desk.refuses(&["restore", backup.to_str().unwrap()]);
    assert!(err.contains("damaged.db is corrupt"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    // Named once, by the file given: not the working copy, and no advice
    // about restoring from within the advice to restore.
    assert!(!err.contains(".restoring-"), "{err}");
    assert_eq!(err.matches("followup restore").count(), 0, "{err}");
    assert_eq!(files_in(desk.database().parent().unwrap()), folder);
}

/// A file that claims the current schema and has a `commitments` table is
/// still not followup's unless it holds what followup keeps.
#[test]
fn restore_and_doctor_refuse_a_file_that_only_claims_followups_schema() {
    let desk = desk_with_history();
    let fake = desk.path().join("fake.db");
    rusqlite::Connection::open(&fake)
        .unwrap()
        .execute_batch(
            "CREATE TABLE commitments (id INTEGER PRIMARY KEY, title TEXT);
             INSERT INTO commitments VALUES (1, 'x');
             PRAGMA user_version = 11;",
        )
        .unwrap();
    let err = desk.refuses(&["restore", fake.to_str().unwrap()]);
    assert!(
        err.contains("lacks what followup keeps") && err.contains("actors"),
        "{err}"
    );
    // Put in place by hand, doctor says what it is.
    let look = Desk::with_config(&format!("[store]\npath = {fake:?}\n"));
    let doctor = look.run(&["doctor"]);
    assert!(
        doctor.stdout().contains("FAIL schema")
            && doctor.stdout().contains("lacks what followup keeps"),
        "{}",
        doctor.stdout()
    );
}

#[test]
fn restore_refuses_a_backup_from_a_newer_followup() {
    let desk = desk_with_history();
    let backup = desk.path().join("newer.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    rusqlite::Connection::open(&backup)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let folder = files_in(desk.database().parent().unwrap());
    let err = desk.refuses(&["restore", backup.to_str().unwrap()]);
    assert!(err.contains("schema version 99"), "{err}");
    assert!(err.contains("newer followup"), "{err}");
    assert_eq!(files_in(desk.database().parent().unwrap()), folder);
}

#[test]
fn restore_refuses_an_older_backup_it_cannot_migrate() {
    let desk = desk_with_history();
    let backup = desk.path().join("odd.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    // Says schema 1 but already has schema 2's tables: the migration to 2
    // cannot run on it.
    rusqlite::Connection::open(&backup)
        .unwrap()
        .execute_batch("PRAGMA user_version = 1")
        .unwrap();
    let err = desk.refuses(&["restore", backup.to_str().unwrap()]);
    assert!(err.contains("cannot be brought up"), "{err}");
}

#[test]
fn restore_refuses_a_file_that_is_not_a_followup_database() {
    let desk = desk_with_history();
    let text = desk.write("notes.txt", b"not a database at all\n");
    let err = desk.refuses(&["restore", text.to_str().unwrap()]);
    assert!(err.contains("is not a followup backup"), "{err}");
    assert!(err.contains("not an SQLite database"), "{err}");

    let other = desk.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE recipes (name TEXT)")
        .unwrap();
    let err = desk.refuses(&["restore", other.to_str().unwrap()]);
    assert!(err.contains("holds no followup commitments"), "{err}");
}

#[test]
fn backup_to_a_folder_or_into_a_missing_one_is_refused_with_the_fix() {
    let desk = desk_with_history();
    let folder = desk.path().join("backups");
    std::fs::create_dir(&folder).unwrap();
    let err = desk.refuses(&["backup", folder.to_str().unwrap(), "--force"]);
    assert!(err.contains("is a folder"), "{err}");
    assert!(err.contains("followup-backup.db"), "{err}");
    let missing = desk.path().join("nowhere/b.db");
    let err = desk.refuses(&["backup", missing.to_str().unwrap()]);
    assert!(err.contains("for the backup does not exist"), "{err}");
    let err = desk.refuses(&["restore", missing.to_str().unwrap()]);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

/// A desk whose database lies in `service/`, a folder that belongs to
/// [`NOBODY`], as the service's data folder belongs to its user; none when
/// the tests do not run as root, which making files for another user
/// needs.
fn desk_in_nobodys_folder(config: &str) -> Option<(Desk, PathBuf)> {
    use std::os::unix::fs::PermissionsExt as _;
    // SAFETY: geteuid touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to make files as root for another user");
        return None;
    }
    let desk = Desk::with_config(&format!(
        "[store]\npath = \"service/followup.db\"\n{config}"
    ));
    std::fs::set_permissions(desk.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let folder = desk.path().join("service");
    std::fs::create_dir(&folder).unwrap();
    std::os::unix::fs::chown(&folder, Some(NOBODY), Some(NOBODY)).unwrap();
    Some((desk, folder))
}

/// Runs followup with `args` as [`NOBODY`], expecting success.
fn succeeds_as_nobody(desk: &Desk, args: &[&str]) {
    let output = desk.output_as_nobody(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Files an operator's root command makes in the service's data folder
/// (the database, its marker, the lock, the copy a restore keeps) belong
/// to the folder's owner, as SQLite's `-wal` and `-shm` do, so the daemon
/// and analysts running as that user can still open them.
#[test]
fn files_root_makes_in_the_services_folder_belong_to_its_owner() {
    use std::os::unix::fs::MetadataExt as _;
    let Some((desk, folder)) =
        desk_in_nobodys_folder("[mail]\ntransport = \"maildir\"\nmaildir = \"service/outbox\"\n")
    else {
        return;
    };
    // As root: the database made, then a backup restored over it.
    desk.add(&["Resume the talks", "--due", &days_from_today(60)]);
    let backup = desk.path().join("backup.db");
    desk.run(&["backup", backup.to_str().unwrap()]).ok();
    desk.run(&["restore", backup.to_str().unwrap()]).ok();
    let mut made: Vec<(String, u32, u32)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, meta.uid(), meta.gid())
        })
        .collect();
    made.sort();
    let names: Vec<&str> = made.iter().map(|(name, _, _)| name.as_str()).collect();
    for expected in ["followup.db", "followup.db-verified", "followup.db.lock"] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    assert!(
        names.iter().any(|name| name.contains(".before-restore-")),
        "{names:?}"
    );
    for (name, uid, gid) in &made {
        assert_eq!((*uid, *gid), (NOBODY, NOBODY), "{name}");
    }

    // As the folder's owner: a write and a daemon's tick.
    succeeds_as_nobody(
        &desk,
        &["add", "Open the border crossing", "--due", "2030-06-30"],
    );
    succeeds_as_nobody(&desk, &["daemon", "--once"]);
}

/// As above, for a database an import by root creates.
#[test]
fn a_database_root_imports_into_the_services_folder_belongs_to_its_owner() {
    use std::os::unix::fs::MetadataExt as _;
    let Some((desk, folder)) = desk_in_nobodys_folder("") else {
        return;
    };
    let records = serde_json::json!([{ "title": "Resume the talks", "due": "2030-06-30" }]);
    let file = desk.write("records.json", records.to_string().as_bytes());
    desk.run(&["import", file.to_str().unwrap()]).ok();
    let meta = std::fs::metadata(folder.join("followup.db")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));
    succeeds_as_nobody(
        &desk,
        &["add", "Open the border crossing", "--due", "2030-06-30"],
    );
}
