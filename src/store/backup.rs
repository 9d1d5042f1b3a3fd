//! Whole-database copies: `backup` writes a verified copy of the live
//! database while the daemon and other commands keep using it, and
//! `restore` puts such a copy back in place of the live one, keeping the
//! database it replaces.
//!
//! Both go through SQLite's online backup API, never a plain file copy: a
//! copy of the main file alone would miss whatever still sits in the WAL,
//! and copying the file under a writer can catch a page half-written.
//! Refusing to run while the daemon holds its lock is the caller's job
//! (the lock is the daemon's); this module owns the files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{BUSY_TIMEOUT, Check, Error, Result, Store, classify, folder_of, schema};

/// Pages copied per backup step (4 MiB with SQLite's default page size),
/// and the pause after each step. The backup reads one snapshot (see
/// `Store::backup`), so in WAL mode a writer is never blocked by it; the
/// pause only hands the disk back to a writer's fsync now and then.
const PAGES_PER_STEP: i32 = 1024;
const PAUSE_BETWEEN_STEPS: Duration = Duration::from_millis(2);

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What a finished backup holds.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub commitments: u64,
    pub schema_version: usize,
    pub elapsed: Duration,
}

/// What a finished restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// Where the database that was replaced is kept; `None` when there was
    /// no database yet.
    pub kept: Option<PathBuf>,
    pub commitments: u64,
    /// The backup's schema version before it was brought up to date.
    pub schema_was: usize,
}

impl Store {
    /// Writes a consistent copy of the database to `target`, checks it with
    /// `PRAGMA integrity_check`, and only then moves it into place. The copy
    /// is built in a temporary file beside `target`, so `target` is either
    /// absent, its old self, or a whole verified backup — never a partial
    /// one. An existing `target` is refused unless `replace` is true.
    pub fn backup(&self, target: &Path, replace: bool) -> Result<BackupReport> {
        self.backup_in_steps(target, replace, PAGES_PER_STEP, &mut || {})
    }

    /// [`Store::backup`], `pages` at a time, calling `between_steps` after
    /// each step but the last.
    fn backup_in_steps(
        &self,
        target: &Path,
        replace: bool,
        pages: i32,
        between_steps: &mut dyn FnMut(),
    ) -> Result<BackupReport> {
        let started = Instant::now();
        refuse_own_files(&self.path, target)?;
        if target.is_dir() {
            return Err(Error::BackupIsFolder {
                path: target.to_path_buf(),
            });
        }
        // Replacing is for an old backup: a device, a pipe or a socket
        // would be renamed over (as root, `--force` into /dev/null would
        // take the system's /dev/null away).
        if let Some(what) = not_a_file(target) {
            return Err(Error::BackupNotAFile {
                path: target.to_path_buf(),
                what,
            });
        }
        if !replace && target.exists() {
            return Err(Error::BackupExists {
                path: target.to_path_buf(),
            });
        }
        let folder = folder_of(target);
        if !folder.is_dir() {
            return Err(Error::BackupFolder {
                folder: folder.to_path_buf(),
            });
        }
        let partial = Scratch::beside(target, "partial");

        // One read transaction for the whole copy: every step then reads
        // the same snapshot. Without it SQLite restarts the copy from the
        // first page whenever another connection commits between two
        // steps, so a busy writer could keep a backup from ever finishing.
        // A WAL reader does not block writers; it only keeps checkpoints
        // from passing its snapshot until it ends, a few seconds at most.
        let snapshot = Snapshot::begin(&self.conn).map_err(|e| self.sqlite(e))?;
        let mut copy = open_new(&partial.path)?;
        keep_private_as(&self.path, &partial.path)?;
        copy_pages(&self.conn, &mut copy, pages, &self.path, between_steps).map_err(|err| {
            // The copy is what is written: a full disk is the backup's.
            match err {
                Error::Full { .. } => Error::BackupFull {
                    path: target.to_path_buf(),
                },
                other => other,
            }
        })?;
        drop(snapshot);

        let schema_version = user_version(&copy, &partial.path)?;
        // The copy is page for page the snapshot, so damage in it is
        // damage in the live database; no backup is written.
        verify_integrity(&copy).map_err(|detail| Error::Corrupt {
            path: self.path.clone(),
            detail: format!(
                "integrity_check of a fresh backup copy: {detail}; no backup was written"
            ),
        })?;
        let commitments = count_commitments(&copy, &partial.path)?;
        // A backup is one self-contained file: no WAL beside it.
        copy.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
            .map_err(|e| classify(&partial.path, e))?;
        drop(copy);
        sync_file(&partial.path)?;

        if replace {
            std::fs::rename(&partial.path, target).map_err(|error| Error::Io {
                action: "move the finished backup to",
                path: target.to_path_buf(),
                error,
            })?;
        } else {
            // A file created by someone else while we copied is never
            // replaced.
            name_new(&partial.path, target).map_err(|error| {
                if error.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::BackupExists {
                        path: target.to_path_buf(),
                    }
                } else {
                    Error::Io {
                        action: "move the finished backup to",
                        path: target.to_path_buf(),
                        error,
                    }
                }
            })?;
        }
        drop(partial);
        sync_folder(folder);
        Ok(BackupReport {
            path: target.to_path_buf(),
            bytes: std::fs::metadata(target).map(|m| m.len()).unwrap_or(0),
            commitments,
            schema_version,
            elapsed: started.elapsed(),
        })
    }
}

/// A backup checked and staged beside the database, ready to replace it.
///
/// Staging happens first, with nothing changed: the backup is refused
/// unless it is an SQLite file, intact by `integrity_check`, and a followup
/// database of a schema this build knows or can migrate. It is copied
/// beside the database and migrated there. Dropping a `StagedRestore`
/// removes the staged copy.
pub struct StagedRestore {
    database: PathBuf,
    staged: Scratch,
    commitments: u64,
    schema_was: usize,
}

/// Checks the backup at `backup` and stages it beside `database`.
pub fn stage_restore(database: &Path, backup: &Path) -> Result<StagedRestore> {
    refuse_own_files(database, backup)?;
    check_header(backup)?;
    let folder = folder_of(database);
    if !folder.is_dir() {
        return Err(Error::MissingFolder {
            folder: folder.to_path_buf(),
        });
    }
    let live_exists = database.exists();

    // Stage: copy the backup beside the database, check it, migrate it.
    let staged = Scratch::beside(database, "restoring");
    let schema_was = {
        let source = Connection::open_with_flags(
            backup,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| not_a_backup(backup, e))?;
        let mut copy = open_new(&staged.path)?;
        copy_pages(&source, &mut copy, -1, backup, &mut || {}).map_err(|e| match e {
            Error::NotADatabase { detail, .. } | Error::Corrupt { detail, .. } => {
                Error::NotABackup {
                    path: backup.to_path_buf(),
                    detail,
                }
            }
            other => other,
        })?;
        drop(source);
        verify_integrity(&copy).map_err(|detail| Error::BackupCorrupt {
            path: backup.to_path_buf(),
            detail,
        })?;
        let version = user_version(&copy, &staged.path)?;
        let known = schema::current_version();
        if version > known {
            return Err(Error::BackupNewer {
                path: backup.to_path_buf(),
                found: version,
                known,
            });
        }
        if version == 0 || !has_commitments_table(&copy, &staged.path)? {
            return Err(Error::NotABackup {
                path: backup.to_path_buf(),
                detail: "it holds no followup commitments".into(),
            });
        }
        if live_exists {
            match_page_size(&copy, database, &staged.path)?;
        }
        version
    };
    let commitments = {
        let mut store =
            Store::open(&staged.path, Check::Restoring).map_err(|e| Error::BackupMigration {
                path: backup.to_path_buf(),
                detail: crate::model::one_line(&e.to_string()),
            })?;
        // A scratch file: no `-verified` marker is left for it.
        store.verified = false;
        let missing = schema::missing_from(&store.conn).map_err(|e| classify(&staged.path, e))?;
        if !missing.is_empty() {
            return Err(Error::NotABackup {
                path: backup.to_path_buf(),
                detail: format!("it lacks what followup keeps ({})", schema::named(&missing)),
            });
        }
        let commitments = count_commitments(&store.conn, &staged.path)?;
        // Back to one self-contained file: followup's connections leave
        // their WAL in place when they close, and the staged file is about
        // to be moved or copied without it.
        store
            .conn
            .query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
            .map_err(|e| classify(&staged.path, e))?;
        commitments
    };

    Ok(StagedRestore {
        database: database.to_path_buf(),
        staged,
        commitments,
        schema_was,
    })
}

impl StagedRestore {
    /// Replaces the database with the staged backup.
    ///
    /// The current database is first copied to
    /// `<database>.before-restore-<time>`; then the staged copy is written
    /// into the live file through SQLite, in one transaction: the file keeps
    /// its owner and mode, and a process that has it open sees the restored
    /// contents rather than a file swapped under it.
    ///
    /// The caller must hold the daemon's lock, so no daemon runs. The live
    /// file's write lock is taken before the copy to keep is read and held
    /// until the replacement commits, so a command's write lands in the
    /// kept copy or waits for the restore; none is lost between the two.
    ///
    /// No history event is written: history belongs to commitments, and a
    /// restore changes the whole file, not one commitment. The restored
    /// history is exactly the backup's.
    pub fn apply(self, now: Timestamp) -> Result<RestoreReport> {
        let StagedRestore {
            database,
            staged,
            commitments,
            schema_was,
        } = self;
        let database = database.as_path();
        let folder = folder_of(database);
        if !database.exists() {
            // A WAL left beside a missing database would be replayed into
            // the restored file, which it does not belong to.
            let wal = with_suffix(database, "-wal");
            if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                return Err(Error::StaleWal { wal });
            }
            sync_file(&staged.path)?;
            std::fs::rename(&staged.path, database).map_err(|error| Error::Io {
                action: "move the restored database to",
                path: database.to_path_buf(),
                error,
            })?;
            drop(staged);
            sync_folder(folder);
            return Ok(RestoreReport {
                kept: None,
                commitments,
                schema_was,
            });
        }

        let mut live = Connection::open_with_flags(
            database,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(database, e))?;
        live.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| classify(database, e))?;
        // The copy to keep is read through another connection while this
        // one holds the write lock, which only WAL allows: a database put
        // in place by hand (a backup copied over it) is still in
        // rollback-journal mode, and the restore waited on itself.
        live.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(|e| classify(database, e))?;
        let source = Connection::open_with_flags(
            &staged.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(&staged.path, e))?;
        let kept = keep_path(database, now);
        {
            // The replacement takes the live file's write lock before the
            // copy to keep is read, and holds it to the end: a command
            // that commits meanwhile waits (or, after the busy timeout,
            // fails saying so) instead of landing in neither the kept copy
            // nor the restored file.
            let replacement = Backup::new(&source, &mut live).map_err(|e| classify(database, e))?;
            run_steps(&replacement, 0, database, &mut || {})?;

            // Keep the database being replaced, whatever state it is in: a
            // damaged one is often the reason for the restore, and the
            // backup API copies pages without reading what is in them.
            let reader = Connection::open_with_flags(
                database,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| classify(database, e))?;
            let keeping = Scratch::beside(&kept, "partial");
            let mut copy = open_new(&keeping.path)?;
            keep_private_as(database, &keeping.path)?;
            let snapshot = Snapshot::begin(&reader).map_err(|e| classify(database, e));
            let copied = snapshot.and_then(|snapshot| {
                copy_pages(&reader, &mut copy, -1, database, &mut || {})?;
                drop(snapshot);
                copy.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
                    .map_err(|e| classify(&keeping.path, e))
            });
            drop(copy);
            copied
                .and_then(|()| sync_file(&keeping.path))
                .and_then(|()| {
                    name_new(&keeping.path, &kept).map_err(|error| Error::Io {
                        action: "create",
                        path: kept.clone(),
                        error,
                    })
                })
                .map_err(|e| Error::CannotKeep {
                    database: database.to_path_buf(),
                    detail: e.to_string(),
                })?;
            drop(reader);
            sync_folder(folder);

            // All pages in one step: one write transaction on the live
            // file, so it is either all restored or untouched.
            run_steps(&replacement, -1, database, &mut || {})?;
        }
        let verdict: String = live
            .query_row("PRAGMA quick_check(1)", [], |row| row.get(0))
            .map_err(|e| classify(database, e))?;
        if verdict != "ok" {
            return Err(Error::Corrupt {
                path: database.to_path_buf(),
                detail: format!(
                    "{} after the restore; the previous database is kept as {}",
                    crate::model::one_line(&verdict),
                    kept.display()
                ),
            });
        }
        drop(live);
        drop(staged);
        Ok(RestoreReport {
            kept: Some(kept),
            commitments,
            schema_was,
        })
    }
}

/// Copies every page of `from` into `to`, `pages` at a time (-1: all at
/// once), waiting out lock conflicts for as long as the busy timeout.
fn copy_pages(
    from: &Connection,
    to: &mut Connection,
    pages: i32,
    path: &Path,
    between_steps: &mut dyn FnMut(),
) -> Result<()> {
    let backup = Backup::new(from, to).map_err(|e| classify(path, e))?;
    run_steps(&backup, pages, path, between_steps)
}

/// Steps `backup` until it is done, `pages` at a time (0: only until it
/// holds the destination's write lock, copying nothing), waiting out lock
/// conflicts for as long as the busy timeout.
fn run_steps(
    backup: &Backup<'_, '_>,
    pages: i32,
    path: &Path,
    between_steps: &mut dyn FnMut(),
) -> Result<()> {
    let mut waiting_since: Option<Instant> = None;
    loop {
        match backup.step(pages).map_err(|e| classify(path, e))? {
            StepResult::Done => return Ok(()),
            // A step of no pages that is not refused holds the lock.
            StepResult::More if pages == 0 => return Ok(()),
            StepResult::More => {
                waiting_since = None;
                between_steps();
                std::thread::sleep(PAUSE_BETWEEN_STEPS);
            }
            StepResult::Busy | StepResult::Locked => {
                let since = *waiting_since.get_or_insert_with(Instant::now);
                if since.elapsed() > BUSY_TIMEOUT {
                    return Err(Error::Busy {
                        path: path.to_path_buf(),
                        waited: BUSY_TIMEOUT,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // `StepResult` may grow; refuse what this code does not know.
            other => {
                return Err(Error::Rejected(format!(
                    "SQLite's backup of {} reported {other:?}, which this followup does not know; nothing was written",
                    path.display()
                )));
            }
        }
    }
}

/// A read transaction held open on a connection until dropped.
struct Snapshot<'c> {
    conn: &'c Connection,
}

impl<'c> Snapshot<'c> {
    fn begin(conn: &'c Connection) -> rusqlite::Result<Snapshot<'c>> {
        // BEGIN is deferred; the first read takes the snapshot.
        conn.execute_batch("BEGIN; SELECT count(*) FROM sqlite_schema;")?;
        Ok(Snapshot { conn })
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }
}

/// A file of ours beside another (`.NAME.WHAT-PID`), removed with its
/// journals when dropped unless it was moved away first.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn beside(path: &Path, what: &str) -> Scratch {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let path = path.with_file_name(format!(".{name}.{what}-{}", std::process::id()));
        let scratch = Scratch { path };
        scratch.remove();
        scratch
    }

    fn remove(&self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(with_suffix(&self.path, suffix));
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Opens a new, empty database file for a backup to fill.
fn open_new(path: &Path) -> Result<Connection> {
    // SQLite opens a new file lazily, so a folder that takes no new file
    // fails here with "unable to open database file", which would be
    // reported as the database's trouble (and sent to store.path); the
    // file is made first, to fail with what the system says about it.
    use std::os::unix::fs::OpenOptionsExt as _;
    // New, with O_EXCL: a scratch name in a shared folder may have been
    // made a link to a file elsewhere since it was cleared.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(super::SHARED_FILE_MODE)
        .open(path)
    {
        Ok(file) => super::give_to_folder_owner(&file, folder_of(path)),
        Err(error) => {
            return Err(Error::Io {
                action: "create",
                path: path.to_path_buf(),
                error,
            });
        }
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| classify(path, e))?;
    Ok(conn)
}

/// The rows `PRAGMA integrity_check` reports, or `Ok` for a sound file.
fn verify_integrity(conn: &Connection) -> std::result::Result<(), String> {
    let rows: rusqlite::Result<Vec<String>> = conn
        .prepare("PRAGMA integrity_check(5)")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect());
    match rows {
        Ok(rows) if rows == ["ok"] => Ok(()),
        Ok(rows) => Err(crate::model::one_line(&rows.join("\n"))),
        // SQLite's own words only: the caller names the file, and says
        // what to do, for the file the user gave (not this working copy).
        Err(rusqlite::Error::SqliteFailure(_, Some(message))) => Err(message),
        Err(e) => Err(crate::model::one_line(&e.to_string())),
    }
}

fn user_version(conn: &Connection, path: &Path) -> Result<usize> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| classify(path, e))?;
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

fn has_commitments_table(conn: &Connection, path: &Path) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'commitments'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n == 1)
    .map_err(|e| classify(path, e))
}

fn count_commitments(conn: &Connection, path: &Path) -> Result<u64> {
    conn.query_row("SELECT count(*) FROM commitments", [], |row| {
        row.get::<_, i64>(0)
    })
    .map(|n| n.max(0) as u64)
    .map_err(|e| classify(path, e))
}

/// Gives the staged copy the live database's page size: SQLite cannot
/// copy pages of one size into a WAL database of another.
fn match_page_size(staged: &Connection, database: &Path, staged_path: &Path) -> Result<()> {
    let live = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(database, e))?;
    let size = |conn: &Connection, path: &Path| -> Result<i64> {
        conn.query_row("PRAGMA page_size", [], |row| row.get(0))
            .map_err(|e| classify(path, e))
    };
    let wanted = size(&live, database).unwrap_or(4096);
    if size(staged, staged_path)? != wanted {
        staged
            .execute_batch(&format!("PRAGMA page_size = {wanted}; VACUUM;"))
            .map_err(|e| classify(staged_path, e))?;
    }
    Ok(())
}

/// Refuses a file that does not start like an SQLite database, before
/// SQLite is asked to open it.
fn check_header(path: &Path) -> Result<()> {
    let mut head = [0u8; 16];
    let mut file = File::open(path).map_err(|error| Error::Io {
        action: "read",
        path: path.to_path_buf(),
        error,
    })?;
    if path.is_dir() {
        return Err(Error::NotABackup {
            path: path.to_path_buf(),
            detail: "it is a folder".into(),
        });
    }
    let complete = file.read_exact(&mut head).is_ok();
    if !complete || &head != SQLITE_MAGIC {
        return Err(Error::NotABackup {
            path: path.to_path_buf(),
            detail: "it is not an SQLite database".into(),
        });
    }
    Ok(())
}

fn not_a_backup(path: &Path, e: rusqlite::Error) -> Error {
    match classify(path, e) {
        Error::NotADatabase { detail, .. } | Error::CannotOpen { detail, .. } => {
            Error::NotABackup {
                path: path.to_path_buf(),
                detail,
            }
        }
        other => other,
    }
}

/// Gives a copy of the database no wider permissions than the database
/// itself, before anything is copied into it: a desk's archive in a file
/// only its owner reads must not come out readable by everyone because
/// the user's umask is 022.
fn keep_private_as(database: &Path, copy: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(database) else {
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o777;
    let current = std::fs::metadata(copy)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(mode);
    std::fs::set_permissions(copy, std::fs::Permissions::from_mode(mode & current)).map_err(
        |error| Error::Io {
            action: "set the permissions of",
            path: copy.to_path_buf(),
            error,
        },
    )
}

/// Refuses to treat the live database, or a file SQLite keeps beside it,
/// as the other side of a backup or restore.
fn refuse_own_files(database: &Path, other: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // A link to the database (or a hard link) is the database: compared by
    // the file itself, not by its name.
    if let (Ok(db), Ok(them)) = (std::fs::metadata(database), std::fs::metadata(other))
        && (db.dev(), db.ino()) == (them.dev(), them.ino())
    {
        return Err(Error::OwnFile {
            path: other.to_path_buf(),
            database: database.to_path_buf(),
        });
    }
    let canonical = |p: &Path| -> Option<PathBuf> {
        let folder = folder_of(p).canonicalize().ok()?;
        Some(folder.join(p.file_name()?))
    };
    let (Some(db), Some(other_c)) = (canonical(database), canonical(other)) else {
        return Ok(());
    };
    let own = ["", "-wal", "-shm", "-journal", ".lock", "-verified"]
        .iter()
        .any(|suffix| with_suffix(&db, suffix) == other_c);
    if own {
        return Err(Error::OwnFile {
            path: other.to_path_buf(),
            database: database.to_path_buf(),
        });
    }
    Ok(())
}

/// `<database>.before-restore-<UTC time>`, made unique if a restore in the
/// same second already used the name.
fn keep_path(database: &Path, now: Timestamp) -> PathBuf {
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let base = with_suffix(database, &format!(".before-restore-{stamp}"));
    let mut candidate = base.clone();
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = with_suffix(&base, &format!("-{n}"));
    }
    candidate
}

/// Where a new database is built before it takes its name: beside it,
/// hidden, and this process's own, so no other command opens it half
/// built (see [`Store::put_in_place`]).
pub fn staging_path(database: &Path) -> PathBuf {
    let name = database.file_name().unwrap_or_default().to_string_lossy();
    database.with_file_name(format!(".{name}.import-{}", std::process::id()))
}

/// Removes a staged database and the files SQLite and followup keep
/// beside it. Best effort: what cannot be removed holds nothing anyone
/// was told was stored.
pub fn discard_staged(staging: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal", "-verified", LAID_OUT] {
        let _ = std::fs::remove_file(with_suffix(staging, suffix));
    }
}

impl Store {
    /// Gives a database built under [`staging_path`] the name `database`,
    /// which must still be free: a refused import into a new database
    /// then leaves no database behind, and no other command ever sees a
    /// half-built one. Should another command have created `database`
    /// meanwhile, the staged one is discarded and nothing was imported.
    pub fn put_in_place(self, database: &Path) -> Result<()> {
        let staging = self.path.clone();
        let verified = self.verified;
        drop(self);
        // Everything into the main file: a WAL is named after the file it
        // belongs to, and would not follow it to its new name. Leaving
        // rollback-journal mode folds the WAL in; going back to WAL mode
        // then only marks the file's header, so the database is in WAL
        // mode from its first moment under its name, with an empty WAL.
        let conn = Connection::open_with_flags(
            &staging,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(&staging, e))?;
        let journal_mode = |mode: &str| -> Result<String> {
            conn.query_row(&format!("PRAGMA journal_mode = {mode}"), [], |row| {
                row.get(0)
            })
            .map_err(|e| classify(&staging, e))
        };
        // Nothing of the staged file is synced (see `Check::Staged`): the
        // copy laid out below is.
        conn.execute_batch("PRAGMA synchronous = OFF")
            .map_err(|e| classify(&staging, e))?;
        let folded = journal_mode("DELETE")?;
        if !folded.eq_ignore_ascii_case("delete") {
            return Err(Error::CannotOpen {
                path: staging,
                detail: format!("could not fold its WAL in (journal mode stayed {folded})"),
            });
        }
        // Should this fail, the next command to open the database puts it
        // in WAL mode (see `back_to_wal`).
        let _ = journal_mode("WAL");
        drop(conn);
        let laid_out = with_suffix(&staging, LAID_OUT);
        let placed = lay_out(&staging, &laid_out).map_err(|error| (laid_out.as_path(), error));
        let placed =
            placed.and_then(|()| name_new(&laid_out, database).map_err(|error| (database, error)));
        discard_staged(&staging);
        match placed {
            Ok(()) => {
                sync_folder(folder_of(database));
                back_to_wal(database);
                // The file is as this process left it, built from one
                // checked as it was made: the next write need not read it
                // all again (at 10,000 commitments, the first `add` after
                // an import took 35 ms instead of 5).
                if verified {
                    super::remember_verified(database);
                }
                Ok(())
            }
            Err((path, err))
                if path == database && err.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Err(Error::CreatedMeanwhile {
                    path: database.to_path_buf(),
                })
            }
            Err((_, err)) if err.kind() == std::io::ErrorKind::StorageFull => Err(Error::Full {
                path: database.to_path_buf(),
            }),
            Err((path, error)) if path == database => Err(Error::Io {
                action: "give the imported database its name",
                path: database.to_path_buf(),
                error,
            }),
            Err((path, error)) => Err(Error::Io {
                action: "write out the imported database",
                path: path.to_path_buf(),
                error,
            }),
        }
    }
}

/// Gives the file `from` the name `to`, which must be free: should a file
/// named `to` have appeared meanwhile, it is left alone and this fails
/// with `AlreadyExists`, where a rename would replace it.
///
/// In one step where the file system can (Linux's `RENAME_NOREPLACE`), so
/// the file never has two names: a process killed between a hard link and
/// the removal of the old name left a database every command refused for
/// its second name. Elsewhere, by a hard link, the old name removed at
/// once; and where there are no hard links either (FAT, some network
/// mounts), by a rename after looking once more.
fn name_new(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    let path = |path: &Path| {
        std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (from_c, to_c) = (path(from)?, path(to)?);
    // SAFETY: two NUL-terminated paths that outlive the call.
    let renamed = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from_c.as_ptr(),
            libc::AT_FDCWD,
            to_c.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if renamed == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    if !matches!(error.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
        return Err(error);
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => {
            let _ = std::fs::remove_file(from);
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Err(err),
        Err(_) if !to.exists() => std::fs::rename(from, to),
        Err(err) => Err(err),
    }
}

/// The suffix of a staged database's copy (see [`lay_out`]).
const LAID_OUT: &str = "-laid-out";

/// How much of a staged database [`lay_out`] writes at a time.
const LAY_OUT_CHUNK: usize = 1 << 20;

/// Copies the staged database `staged` into the new file `copy`, a
/// mebibyte at a time, and syncs the copy to disk.
///
/// The copy is what takes the database's name, not the staged file: SQLite
/// wrote that a page at a time, and the kernel keeps such a file in memory
/// as one small block per page, which a command maps (reading through
/// mmap) and unmaps page by page. The copy is kept in large blocks, as a
/// file read back from disk is. At 10,000 commitments an export straight
/// after an import took 8.4 ms from the staged file, 6.1 ms from the copy
/// (to /dev/null, interleaved); copying costs the import a few
/// milliseconds, and since the staged file is never synced (see
/// `Check::Staged`), the archive still reaches the disk once.
fn lay_out(staged: &Path, copy: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut from = File::open(staged)?;
    let mode = from.metadata()?.permissions().mode() & 0o7777;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(copy)?;
    // The staged file's own mode, whatever the umask took from it.
    to.set_permissions(std::fs::Permissions::from_mode(mode))?;
    super::give_to_folder_owner(&to, folder_of(copy));
    let mut chunk = vec![0; LAY_OUT_CHUNK];
    loop {
        let mut filled = 0;
        while filled < chunk.len() {
            match from.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        if filled == 0 {
            break;
        }
        to.write_all(&chunk[..filled])?;
    }
    to.sync_all()
}

/// Puts a database just given its name back in WAL mode, which its
/// header records: a replicator such as Litestream, and every command's
/// expectations, want WAL from the first moment, not from whichever
/// command (a read-only `list`, even) opens the file next. Best effort:
/// should another process have opened it already, that open switches it.
fn back_to_wal(database: &Path) {
    let Ok(conn) = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return;
    };
    let _ = conn.busy_timeout(std::time::Duration::from_millis(200));
    let _ = conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()));
}

/// What `path` is when it is there and is neither a file, a folder nor a
/// symbolic link (which a replacing backup replaces, leaving what it
/// pointed at alone).
fn not_a_file(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = std::fs::symlink_metadata(path).ok()?.file_type();
    if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else if kind.is_fifo() {
        Some("a named pipe")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn sync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|error| Error::Io {
            action: "write",
            path: path.to_path_buf(),
            error,
        })
}

/// Makes a rename durable. Best effort: some file systems cannot sync a
/// folder, and the file itself is already on disk.
fn sync_folder(folder: &Path) {
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon_state_rows(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM daemon_state", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_name_is_given_in_one_step_and_never_over_another_file() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        std::fs::write(&from, b"the archive").unwrap();
        name_new(&from, &to).unwrap();
        assert!(!from.exists());
        assert_eq!(std::fs::read(&to).unwrap(), b"the archive");
        assert_eq!(std::fs::metadata(&to).unwrap().nlink(), 1);

        std::fs::write(&from, b"another archive").unwrap();
        let err = name_new(&from, &to).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&to).unwrap(), b"the archive");
        assert_eq!(std::fs::read(&from).unwrap(), b"another archive");
    }

    #[test]
    fn a_laid_out_copy_is_the_staged_file_byte_for_byte_with_its_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("staged");
        // Two and a half chunks, each byte telling where it lies.
        let bytes: Vec<u8> = (0..LAY_OUT_CHUNK * 5 / 2)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&staged, &bytes).unwrap();
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o662)).unwrap();
        let copy = dir.path().join("copy");
        lay_out(&staged, &copy).unwrap();
        assert!(std::fs::read(&copy).unwrap() == bytes);
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o662, "the staged mode, whatever the umask");

        // A path already taken is left alone.
        std::fs::write(&copy, b"someone else's").unwrap();
        let err = lay_out(&staged, &copy).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&copy).unwrap(), b"someone else's");
    }

    #[test]
    fn a_backup_is_the_database_as_it_was_when_it_began_and_blocks_no_writer() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("followup.db");
        let store = Store::open(&db, Check::Full).unwrap();
        let pages: i64 = store
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        assert!(pages > 5, "several one-page steps: {pages}");
        // Another process's connection, committing between backup steps
        // without waiting for any lock.
        let writer = Connection::open(&db).unwrap();
        writer.busy_timeout(Duration::ZERO).unwrap();
        let mut commits = 0;
        let target = dir.path().join("copy.db");
        store
            .backup_in_steps(&target, false, 1, &mut || {
                if commits < 3 {
                    writer
                        .execute(
                            "INSERT INTO daemon_state (name, value) VALUES (?1, 'x')",
                            [format!("during-{commits}")],
                        )
                        .expect("a writer is not blocked by the backup");
                    commits += 1;
                }
            })
            .unwrap();
        assert_eq!(commits, 3);
        // The mail thread token the new database drew, and the three.
        assert_eq!(daemon_state_rows(&db), 4);
        assert_eq!(daemon_state_rows(&target), 1, "the snapshot at the start");
    }

    #[test]
    fn restoring_a_version_1_backup_brings_it_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("v1.db");
        let mut conn = Connection::open(&old).unwrap();
        schema::migrations().to_version(&mut conn, 1).unwrap();
        conn.execute_batch(
            "INSERT INTO commitments (id, title, announced, deadline_version, latest, created_at, updated_at)
             VALUES (1, 'open', '2025-10-15', 1, '2025-12-15', 'x', 'x');",
        )
        .unwrap();
        drop(conn);
        let db = dir.path().join("followup.db");
        let report = stage_restore(&db, &old)
            .unwrap()
            .apply(Timestamp::UNIX_EPOCH)
            .unwrap();
        assert_eq!(report.schema_was, 1);
        assert_eq!(report.commitments, 1);
        let conn = Connection::open(&db).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, schema::current_version());
        let next: Option<i64> = conn
            .query_row("SELECT next_reminder_at FROM commitments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            next,
            Some(crate::store::outbox::PLAN_AT_ONCE),
            "the migrations ran"
        );
    }
}
