//! The store: one SQLite file holding commitments, their deadline versions,
//! tags, actors and history. All SQL lives under this module.
//!
//! Opening sets the pragmas that make the file safe to share between the
//! CLI and the daemon (WAL, `synchronous=FULL`, foreign keys, a busy
//! timeout), checks the file is an intact followup database of a schema we
//! understand, and migrates it. Every write runs in an IMMEDIATE
//! transaction so that a writer never fails half-way on a lock upgrade.

mod backup;
mod columns;
mod commitments;
mod export;
mod json_text;
mod outbox;
mod readers;
mod records;
mod schema;
mod stored_json;
mod transfer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags};

pub use backup::{
    BackupReport, RestoreReport, StagedRestore, discard_staged, stage_restore, staging_path,
};
pub use commitments::{Counts, Filter, Listed};
pub use outbox::{Claimed, DeadRow, Enqueue, OutboxCounts, Planned, Scheduled};
pub use readers::OutputError;
pub use records::RecordsHealth;
pub use schema::current_version as schema_version;
pub use schema::named as schema_named;
pub use stored_json::StoredCommitment;
pub use transfer::{ImportItem, ImportMode};

use crate::model::CommitmentId;

/// How long a command waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the store could not do what was asked. Each variant names the file
/// or commitment concerned and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the folder {} for the database does not exist; create it or set store.path in the config",
        folder.display()
    )]
    MissingFolder { folder: PathBuf },
    #[error(
        "cannot open the database {} ({detail}); check that its folder exists and is writable by this user, or set store.path in the config",
        path.display()
    )]
    CannotOpen { path: PathBuf, detail: String },
    #[error(
        "the database {} has {links} names (hard links); SQLite keeps a WAL and followup a lock beside each name, so two names let two writers corrupt it: remove the other names (`find / -xdev -samefile {}` lists them) and use this one",
        path.display(),
        path.display()
    )]
    HardLinked { path: PathBuf, links: u64 },
    #[error(
        "the database {} is read-only ({detail}); make the file and its folder writable by this user",
        path.display()
    )]
    ReadOnly { path: PathBuf, detail: String },
    #[error(
        "{} is not a followup database (SQLite: {detail}); check store.path, or move the file away to start a new database",
        path.display()
    )]
    NotADatabase { path: PathBuf, detail: String },
    #[error(
        "another command created the database {} while this import was being written; nothing was imported: run the import again",
        path.display()
    )]
    CreatedMeanwhile { path: PathBuf },
    #[error(
        "{} is another program's SQLite database (its tables: {tables}), not a followup one; nothing was written to it; check store.path, or give followup a file of its own",
        path.display()
    )]
    Foreign { path: PathBuf, tables: String },
    #[error(
        "the database {} is corrupt ({detail}); stop the daemon and restore a backup (followup restore PATH); nothing was changed",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the database {} has schema version {found}, newer than this followup understands ({known}); upgrade followup",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error(
        "the database {} is busy: another followup process has held it for more than {}s; try again",
        path.display(), waited.as_secs()
    )]
    Busy {
        path: PathBuf,
        /// How long this process waited for it: the busy timeout, or less
        /// for a probe that must answer quickly.
        waited: Duration,
    },
    /// SQLITE_FULL: the filesystem (or SQLite's temporary folder) has no
    /// room for the pages a write needs. SQLite rolls the transaction back,
    /// so the change is not half made: it is not made at all.
    #[error(
        "the disk holding the database {} is full; this change was not saved. Free some space on it and try again",
        path.display()
    )]
    Full { path: PathBuf },
    #[error("no commitment has id {id}; `followup list` shows the ids")]
    UnknownId { id: CommitmentId },
    #[error("{0}")]
    Rejected(String),
    /// A record of an import file the database would not take, named by
    /// where it lies in the file (`line 12`): the importing command knows
    /// the file's name and adds it.
    #[error("{origin}: {why}")]
    RecordRefused { origin: String, why: String },
    #[error(
        "{} already exists; choose another file name, or pass --force to replace it",
        path.display()
    )]
    BackupExists { path: PathBuf },
    #[error(
        "the disk that would hold the backup {} is full; no backup was written. Free some space there, or give a PATH on another disk",
        path.display()
    )]
    BackupFull { path: PathBuf },
    #[error(
        "{} is {what}, not a file; a backup replaces only a file (with --force): name a file for it",
        path.display()
    )]
    BackupNotAFile { path: PathBuf, what: &'static str },
    #[error(
        "{} is the database itself or a file SQLite keeps beside it ({}); choose a file elsewhere",
        path.display(), database.display()
    )]
    OwnFile { path: PathBuf, database: PathBuf },
    #[error(
        "{} is corrupt (integrity_check: {detail}); restore another backup; nothing was changed",
        path.display()
    )]
    BackupCorrupt { path: PathBuf, detail: String },
    #[error(
        "{} is not a followup backup ({detail}); give a file written by `followup backup`; nothing was changed",
        path.display()
    )]
    NotABackup { path: PathBuf, detail: String },
    #[error(
        "{} has schema version {found}, newer than this followup understands ({known}); restore it with a newer followup; nothing was changed",
        path.display()
    )]
    BackupNewer {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error(
        "{} cannot be brought up to this followup's schema ({detail}); nothing was changed",
        path.display()
    )]
    BackupMigration { path: PathBuf, detail: String },
    #[error(
        "{} is left from a database that is no longer there; move it away (it belongs to no database now) and try again; nothing was changed",
        wal.display()
    )]
    StaleWal { wal: PathBuf },
    #[error(
        "cannot keep a copy of the current database {} ({detail}); nothing was changed. Free some space, or move the database and its -wal file away by hand and restore again",
        database.display()
    )]
    CannotKeep { database: PathBuf, detail: String },
    #[error(
        "cannot keep a copy of the database {} as it was before upgrading it from schema {version} ({detail}); nothing was changed. {remedy}",
        database.display()
    )]
    CannotKeepBeforeUpgrade {
        database: PathBuf,
        version: usize,
        detail: String,
        remedy: &'static str,
    },
    #[error("cannot {action} {}: {error}{}", path.display(), io_remedy(error))]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "the folder {} for the backup does not exist; create it, or give a PATH in a folder that exists",
        folder.display()
    )]
    BackupFolder { folder: PathBuf },
    #[error(
        "{} is a folder; name the backup file inside it, e.g. {}",
        path.display(), path.join("followup-backup.db").display()
    )]
    BackupIsFolder { path: PathBuf },
    #[error("database error on {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database migration failed on {}: {source}", path.display())]
    Migration {
        path: PathBuf,
        source: rusqlite_migration::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// How thoroughly to check the file when opening it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `PRAGMA quick_check` over the whole file before anything else: for
    /// the daemon as it starts. It reads every page, so it costs time in
    /// proportion to the database's size (half a second at 100,000
    /// commitments).
    Full,
    /// As `Full`, unless the file is exactly as a followup process left it
    /// after its own check: same size and modification time as recorded in
    /// `<database>-verified`. For commands that write: an analyst's `add`
    /// should not read the whole archive each time, yet a file changed by
    /// anything else (a copy, a restore, an editor, a crash mid-copy) is
    /// checked before it is written to.
    Remembered,
    /// Header and schema version only, for commands that only read. SQLite
    /// still checks the structure of each page it reads, and a damaged page
    /// is reported as corruption, never returned as data.
    ReadOnly,
    /// As `Full`, for a backup on its way in by `restore`: the backup file
    /// itself is the copy of it as it was, so none is kept beside it
    /// before it is brought up to this build's schema.
    Restoring,
    /// As `ReadOnly`, and an older schema is left as it is: for `backup`,
    /// whose copy of an older database is the one to keep before this
    /// followup migrates it (`doctor` says to take it first).
    AsItIs,
    /// As `Remembered`, for a new database built under a staging name
    /// (see [`Store::put_in_place`]): nothing is synced to disk as it is
    /// written, for nothing in it counts until it is laid out under its
    /// real name, which is synced then. An import into a new database,
    /// which copies the staged file to its name, so still writes its
    /// archive to disk once.
    Staged,
}

/// An open followup database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The file passed a check (or was as a checked one was left), so the
    /// state it is left in when this store closes may be remembered.
    verified: bool,
    /// Between `start_work` and `finish_work` (a daemon's tick), records
    /// made stale are rendered once at the end rather than after each
    /// write: a tick marks thousands of reminders sent, one transaction
    /// each.
    records_deferred: std::cell::Cell<bool>,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.fold_a_large_wal();
        if self.verified {
            remember_verified(&self.path);
        }
    }
}

/// Above this, a closing store folds the WAL into the database file.
const LARGE_WAL: u64 = 1 << 20;

/// The most WAL pages a burst of work leaves before SQLite folds them
/// in on its own: 128 MiB of 4 KiB pages, three times what planning
/// 10,000 reminders writes, and a bound on the WAL of a first tick over a
/// million commitments.
const BURST_WAL_PAGES: u32 = 32_768;

impl Store {
    /// Before an older database is brought up to this build's schema, a
    /// copy of it as it was is kept beside it (`followup.db.schema-8`):
    /// the backup `doctor` asks for, taken whoever opens the database
    /// first after an upgrade, an analyst's `list` as much as the daemon.
    /// Kept once; a copy already there (another process's) is left alone.
    /// Without room for it, nothing is migrated.
    fn keep_before_upgrade(&self, version: usize) -> Result<()> {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".schema-{version}"));
        let kept = PathBuf::from(name);
        if kept.exists() {
            return Ok(());
        }
        match self.backup(&kept, false) {
            Ok(_) | Err(Error::BackupExists { .. }) => Ok(()),
            Err(err) => {
                // A folder on a read-only file system has room but takes
                // nothing: the upgrade has to be run where it can write.
                let read_only = matches!(
                    &err,
                    Error::Io { error, .. } if error.kind() == std::io::ErrorKind::ReadOnlyFilesystem
                );
                let detail = format!("{}: {err}", kept.display());
                let remedy = if read_only {
                    "Its folder is on a read-only file system: run the command once where the database can be written (the daemon's host, or a copy), or with the previous followup"
                } else {
                    "Free space in its folder (the copy takes about as much as the database) and run the command again"
                };
                Err(Error::CannotKeepBeforeUpgrade {
                    database: self.path.clone(),
                    version,
                    detail,
                    remedy,
                })
            }
        }
    }

    /// After a large write (an import, a restore, a first tick over many
    /// commitments) the WAL holds a copy of much of the database. Left
    /// there, every later command would rebuild its index from the whole
    /// file when it opens (tens of milliseconds at 100,000 commitments) and
    /// read those pages from the WAL instead of the memory map. So the
    /// store that leaves a large WAL folds it in and empties it. Best
    /// effort and without waiting: with a reader holding the WAL (another
    /// command, or a replicator such as Litestream) it is left for later.
    fn fold_a_large_wal(&self) {
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        if std::fs::metadata(&wal).map_or(true, |m| m.len() <= LARGE_WAL) {
            return;
        }
        let _ = self.conn.busy_timeout(Duration::ZERO);
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
}

/// Where the state of the last checked database file is written.
fn verified_marker(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-verified");
    PathBuf::from(name)
}

/// The size and modification time of the database file, as text.
fn file_state(database: &Path) -> Option<String> {
    let meta = std::fs::metadata(database).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{} {}\n", meta.len(), modified.as_nanos()))
}

fn is_remembered(database: &Path) -> bool {
    match (
        file_state(database),
        std::fs::read_to_string(verified_marker(database)),
    ) {
        (Some(now), Ok(recorded)) => now == recorded,
        _ => false,
    }
}

/// Records the file's state as checked. Best effort: a marker that cannot
/// be written only means the next command checks again. Written whole
/// through a rename, so a torn marker can never match.
fn remember_verified(database: &Path) {
    let Some(state) = file_state(database) else {
        return;
    };
    let marker = verified_marker(database);
    // Most commands leave the file as they found it (a write goes to the
    // WAL), and the marker already says so: rewriting it, a rename over
    // the old one, cost a write command a tenth of its time.
    if std::fs::read_to_string(&marker).is_ok_and(|recorded| recorded == state) {
        return;
    }
    let temporary = marker.with_extension(format!("tmp{}", std::process::id()));
    if write_shared_file(&temporary, state.as_bytes()).is_err()
        || std::fs::rename(&temporary, &marker).is_err()
    {
        let _ = std::fs::remove_file(&temporary);
    }
}

/// Refuses a database file that has more than one name. Each name gets
/// its own `-wal`, `-shm` and lock file, so a daemon and a command, or two
/// daemons, reaching the file by two names would not see each other's
/// writes or locks, and the file is corrupted (as SQLite's documentation
/// warns). A symbolic link is fine: it resolves to the one name.
fn refuse_hard_links(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    match std::fs::metadata(path) {
        Ok(meta) if meta.nlink() > 1 => Err(Error::HardLinked {
            path: path.to_path_buf(),
            links: meta.nlink(),
        }),
        _ => Ok(()),
    }
}

/// The `daemon_state` row holding the database's token in reminders'
/// thread roots.
pub const MAIL_THREAD_STATE: &str = "mail-thread";

/// How a mail thread token is drawn, in SQL: 16 random hex digits.
const DRAW_MAIL_THREAD: &str = "lower(hex(randomblob(8)))";

/// The mode of the files followup makes beside the database (before the
/// umask), as SQLite makes the database: its owner and group read and
/// write them, no one else (see `.cargo/config.toml`).
pub const SHARED_FILE_MODE: u32 = 0o660;

/// Gives `file`, just made in `folder` by this process, to the folder's
/// owner and group when this process runs as root and the folder is
/// someone else's: the service's data folder belongs to its user, and a
/// lock, a marker or a database an operator's root command left there
/// would otherwise keep the daemon, running as that user, from opening
/// it. SQLite gives its `-wal` and `-shm` the database's owner in the same
/// way. Best effort: a file that keeps root's ownership is what it was.
pub(crate) fn give_to_folder_owner(file: &std::fs::File, folder: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let Ok(folder) = std::fs::metadata(folder) else {
        return;
    };
    if folder.uid() != 0 && file.metadata().is_ok_and(|meta| meta.uid() == 0) {
        let _ = std::os::unix::fs::fchown(file, Some(folder.uid()), Some(folder.gid()));
    }
}

/// The folder that holds `path` (`.` for a bare file name).
pub(crate) fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to a new file at `path` with [`SHARED_FILE_MODE`].
///
/// Always a new file, never one already there: the folder is the group's,
/// so any analyst may have put a symbolic link at `path`, to a file a
/// command run as root would then write over. What is there is removed
/// (a link, not what it points at), and the file made with O_EXCL, which
/// follows no link and fails if someone got in between.
fn write_shared_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(SHARED_FILE_MODE)
        .open(path)?;
    give_to_folder_owner(&file, folder_of(path));
    file.write_all(bytes)
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, checks it and
    /// brings its schema up to date. The file's folder must exist.
    pub fn open(path: &Path, check: Check) -> Result<Store> {
        let folder = folder_of(path).to_path_buf();
        if !folder.is_dir() {
            return Err(Error::MissingFolder { folder });
        }
        if path.is_dir() {
            return Err(Error::CannotOpen {
                path: path.to_path_buf(),
                detail: "it is a folder".into(),
            });
        }
        refuse_hard_links(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let new = std::fs::symlink_metadata(path).is_err();
        let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(path, e))?;
        if new {
            // Before the switch to WAL makes the `-wal` and `-shm`, which
            // SQLite gives the database's owner.
            use std::os::unix::fs::OpenOptionsExt as _;
            if let Ok(file) = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
            {
                give_to_folder_owner(&file, &folder);
            }
        }
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            verified: false,
            records_deferred: std::cell::Cell::new(false),
        };
        // SQLite answers some lock conflicts at once instead of waiting (a
        // journal-mode switch, a read transaction that must become a write,
        // as when two processes create and migrate a new file together), so
        // opening retries them itself for as long as the busy timeout.
        let started = std::time::Instant::now();
        loop {
            match store.prepare(check) {
                Err(Error::Busy { .. }) if started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20 + fastrand::u64(0..30)));
                }
                result => return result.map(|()| store),
            }
        }
    }

    /// A file without a schema version is either new (no tables yet, and
    /// followup creates them) or another program's database, which
    /// followup must not turn into its own: the WAL switch and the
    /// migrations would write into it.
    fn refuse_foreign(&self) -> Result<()> {
        match foreign_tables(&self.conn).map_err(|e| classify(&self.path, e))? {
            None => Ok(()),
            Some(tables) => Err(Error::Foreign {
                path: self.path.clone(),
                tables,
            }),
        }
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn prepare(&mut self, check: Check) -> Result<()> {
        let path = self.path.clone();
        let fail = |e| classify(&path, e);
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // Reading the header first gives "not a database" before any write
        // is attempted on a file that is not ours.
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(fail)?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        let known = schema::current_version();
        if version > known {
            return Err(Error::NewerSchema {
                path: path.clone(),
                found: version,
                known,
            });
        }
        if version == 0 {
            self.refuse_foreign()?;
        }
        let must_check = match check {
            Check::Full | Check::Restoring => true,
            Check::Remembered | Check::Staged => version < known || !is_remembered(&path),
            Check::ReadOnly | Check::AsItIs => version < known,
        };
        if must_check {
            let verdict: String = self
                .conn
                .query_row("PRAGMA quick_check(1)", [], |row| row.get(0))
                .map_err(fail)?;
            if verdict != "ok" {
                return Err(Error::Corrupt {
                    path: path.clone(),
                    detail: crate::model::one_line(&verdict),
                });
            }
            // A file that claims this build's schema must hold it: one
            // that does not would fail every query with SQLite's words.
            if version == known {
                let missing = schema::missing_from(&self.conn).map_err(fail)?;
                if !missing.is_empty() {
                    return Err(Error::Corrupt {
                        path: path.clone(),
                        detail: format!(
                            "it claims schema {known} but lacks what followup keeps ({}): not a followup database, or edited by hand",
                            schema::named(&missing)
                        ),
                    });
                }
            }
        }
        // Before the switch to WAL, which is itself a write to a new file.
        let synchronous = if check == Check::Staged {
            "OFF"
        } else {
            "FULL"
        };
        self.conn
            .execute_batch(&format!("PRAGMA synchronous = {synchronous}"))
            .map_err(fail)?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::CannotOpen {
                path: path.clone(),
                detail: format!("could not switch to WAL mode (got {mode})"),
            });
        }
        // A 64 MiB page cache (allocated only as pages are read) keeps the
        // indexes of a large database in memory through a bulk import, and
        // reading through mmap spares a system call per page, which is most
        // of the cost of listing thousands of commitments. Writes still go
        // through SQLite's journal as usual.
        // The last connection to close would otherwise copy the WAL into
        // the database and delete it: four more fsyncs, most of a one-line
        // command's time. SQLite's automatic checkpoint (every 1000 pages)
        // still keeps the WAL small, and a replicator such as Litestream
        // wants to run checkpoints itself anyway.
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(fail)?;
        self.conn
            .execute_batch(
                "PRAGMA foreign_keys = ON;
                 PRAGMA cache_size = -65536; PRAGMA mmap_size = 268435456;",
            )
            .map_err(fail)?;
        let migrating = version < known && check != Check::AsItIs;
        if migrating && version > 0 && check != Check::Restoring {
            self.keep_before_upgrade(version)?;
        }
        if migrating && let Err(source) = schema::migrations().to_latest(&mut self.conn) {
            // Two processes opening a new database at once both try to
            // migrate it; the loser fails, and finds the work done.
            let now: i64 = self
                .conn
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(fail)?;
            if usize::try_from(now).ok() != Some(known) {
                return Err(match source {
                    rusqlite_migration::Error::RusqliteError { err, .. } => classify(&path, err),
                    source => Error::Migration {
                        path: path.clone(),
                        source,
                    },
                });
            }
        }
        if migrating && version > 0 {
            // Said here, not by the migration library, which also speaks
            // when `missing_from` builds the schema in memory to compare.
            tracing::info!(
                database = %path.display(),
                from = version,
                to = known,
                "database schema upgraded"
            );
        }
        if migrating {
            // A new database draws its mail thread token as it is made, so
            // a backup taken before any daemon ran carries it too (the
            // daemon draws one for a database that has none).
            self.conn
                .execute(
                    &format!(
                        "INSERT OR IGNORE INTO daemon_state (name, value) VALUES (?1, {DRAW_MAIL_THREAD})"
                    ),
                    [MAIL_THREAD_STATE],
                )
                .map_err(fail)?;
        }
        self.verified = matches!(
            check,
            Check::Full | Check::Remembered | Check::Restoring | Check::Staged
        );
        Ok(())
    }

    /// Starts a burst of work (a daemon tick that plans or delivers).
    ///
    /// Reads go through the memory map again: a tick that plans thousands
    /// of reminders reads pages all over the file, and a mapped page costs
    /// no system call.
    ///
    /// SQLite's automatic checkpoint waits until the WAL holds a burst's
    /// worth of pages. At the usual 1,000 it would copy the WAL into the
    /// database after every batch of plans, writing each page twice and
    /// syncing the file each time, all before the first email of the tick
    /// goes out; `finish_work` folds the WAL once, after delivery.
    pub fn start_work(&self) -> Result<()> {
        self.records_deferred.set(true);
        self.conn
            .execute_batch(&format!(
                "PRAGMA mmap_size = 268435456; PRAGMA wal_autocheckpoint = {BURST_WAL_PAGES};"
            ))
            .map_err(|e| self.sqlite(e))
    }

    /// Ends a burst of work: folds the WAL the burst wrote into the
    /// database (without waiting for readers; if one holds it, the next
    /// automatic checkpoint will), then unmaps the file and frees the page
    /// cache. A mapped page counts in the process's resident size for as
    /// long as the mapping lasts, so without this a catch-up tick over a
    /// large database would leave the idle daemon looking hundreds of
    /// megabytes large.
    pub fn finish_work(&self) -> Result<()> {
        self.records_deferred.set(false);
        // Records left stale (the database busy, say) are rendered by the
        // next write or tick, and an export reads them from the tables
        // meanwhile: the WAL is folded and the memory given back anyway.
        let rendered = self.render_stale_records();
        self.fold_a_large_wal();
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.sqlite(e))?;
        self.conn
            .execute_batch(
                "PRAGMA wal_autocheckpoint = 1000; PRAGMA mmap_size = 0; PRAGMA shrink_memory;",
            )
            .map_err(|e| self.sqlite(e))?;
        rendered
    }

    /// How the records kept for export stand (see `records`), for
    /// `doctor`.
    pub fn records_health(&self) -> Result<RecordsHealth> {
        records::health(&self.conn).map_err(|e| self.sqlite(e))
    }

    /// Renders the records left stale (see `records`), in one write
    /// transaction; none when there are none.
    fn render_stale_records(&self) -> Result<()> {
        let stale: bool = self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM stale_records)", [], |row| {
                row.get(0)
            })
            .map_err(|e| self.sqlite(e))?;
        if !stale {
            return Ok(());
        }
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(|e| self.sqlite(e))?;
        records::render_stale(&tx).map_err(|e| self.sqlite(e))?;
        tx.commit().map_err(|e| self.sqlite(e))
    }

    /// Runs `work` in an IMMEDIATE transaction: it commits only if `work`
    /// succeeds, so a refused change leaves the database as it was.
    fn write<T>(
        &mut self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, e))?;
        let value = work(&tx)?;
        // Whatever the work changed, its records are rendered again in
        // the same transaction (see `records`), unless a burst of work
        // renders them at its end.
        if !self.records_deferred.get() {
            records::render_stale(&tx).map_err(|e| classify(&path, e))?;
        }
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(value)
    }

    fn sqlite(&self, source: rusqlite::Error) -> Error {
        classify(&self.path, source)
    }
}

/// What to do about `error`, met on a file the user named, as a clause
/// to follow the error (`; check the path`), or nothing when there is no
/// plain fix.
pub fn io_remedy(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::NotFound => "; check the path",
        std::io::ErrorKind::PermissionDenied => {
            "; check the permissions of the file and of its folder"
        }
        std::io::ErrorKind::IsADirectory => "; give a file, not a folder",
        _ => "",
    }
}

/// What `followup doctor` learns about a database file without changing
/// it: no migration, no journal-mode switch, no write.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub schema_version: usize,
    /// `PRAGMA quick_check`'s first finding: `ok` for a sound file.
    pub quick_check: String,
    /// Whether this process can take the write lock: `Err` says why not.
    pub writable: std::result::Result<(), String>,
    pub bytes: u64,
    /// At the current schema version, the tables and columns of it the
    /// file lacks (`table` or `table.column`); empty otherwise.
    pub missing: Vec<String>,
}

/// In a file with no followup schema version, the tables and views some
/// other program made (the first five, named), if any.
fn foreign_tables(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema
             WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
             ORDER BY name LIMIT 6",
        )
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())?;
    if tables.is_empty() {
        return Ok(None);
    }
    let mut named = tables
        .iter()
        .take(5)
        .map(|t| crate::model::preview(t))
        .collect::<Vec<_>>()
        .join(", ");
    if tables.len() > 5 {
        named.push_str(", …");
    }
    Ok(Some(named))
}

/// How long [`inspect`] waits for another writer.
const INSPECT_WAIT: Duration = Duration::from_secs(2);

/// Looks at an existing database: its schema version, `quick_check`, and
/// whether it takes writes (see [`write_probe`]; waiting at most
/// [`INSPECT_WAIT`] for another writer).
pub fn inspect(path: &Path) -> Result<Inspection> {
    refuse_hard_links(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(path, e))?;
    let fail = |e| classify_waiting(path, e, INSPECT_WAIT);
    // As the last connection to close, this one would otherwise fold the
    // WAL into the file: a change, which an inspection must not make.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(fail)?;
    conn.busy_timeout(INSPECT_WAIT).map_err(fail)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(fail)?;
    // Every command refuses another program's file; so does doctor.
    if version == 0
        && let Some(tables) = foreign_tables(&conn).map_err(fail)?
    {
        return Err(Error::Foreign {
            path: path.to_path_buf(),
            tables,
        });
    }
    // SQLite's finding may run over several lines; doctor reports one.
    let quick_check = conn
        .query_row("PRAGMA quick_check(1)", [], |row| row.get::<_, String>(0))
        .map(|finding| crate::model::one_line(&finding))
        .map_err(fail)?;
    let writable = write_probe(&conn).map_err(|e| fail(e).to_string());
    let schema_version = usize::try_from(version).unwrap_or(usize::MAX);
    let missing = if schema_version == schema::current_version() {
        schema::missing_from(&conn).map_err(fail)?
    } else {
        Vec::new()
    };
    Ok(Inspection {
        schema_version,
        quick_check,
        writable,
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        missing,
    })
}

/// Proves the file takes writes without changing it: a table is created
/// and rolled back. Taking the write lock alone proves nothing — SQLite
/// grants it on a read-only file — but writing a page does.
fn write_probe(conn: &Connection) -> rusqlite::Result<()> {
    let outcome = conn.execute_batch("BEGIN IMMEDIATE; CREATE TABLE followup_write_probe (x);");
    let _ = conn.execute_batch("ROLLBACK");
    outcome
}

impl Store {
    /// Whether the database takes writes now, waiting at most `wait` for
    /// another writer; nothing is changed. For the daemon's `/healthz`.
    pub fn takes_writes(&self, wait: Duration) -> Result<()> {
        let fail = |e| classify(&self.path, e);
        self.conn.busy_timeout(wait).map_err(fail)?;
        let outcome = write_probe(&self.conn).map_err(|e| classify_waiting(&self.path, e, wait));
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        outcome
    }
}

/// Turns an SQLite error into one that says what happened to which file.
fn classify(path: &Path, source: rusqlite::Error) -> Error {
    classify_waiting(path, source, BUSY_TIMEOUT)
}

/// [`classify`] for a connection whose busy timeout is `waited`, not the
/// usual one: a busy database says how long it was waited for.
fn classify_waiting(path: &Path, source: rusqlite::Error, waited: Duration) -> Error {
    let path = path.to_path_buf();
    let code = match &source {
        rusqlite::Error::SqliteFailure(err, _) => Some(err.code),
        _ => None,
    };
    let detail = crate::model::one_line(&source.to_string());
    // A stored value of the wrong kind (a NULL title, a date that is not
    // one, text that is not UTF-8) is nothing followup writes, and the
    // schema's checks refuse: damage, or an edit by hand.
    if matches!(
        source,
        rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..)
    ) {
        return Error::Corrupt {
            path,
            detail: format!("it holds a value followup never writes: {detail}"),
        };
    }
    // Every query names only what the schema has: a file that lacks it
    // claims a version it is not (see `schema::missing_from`, which the
    // first check of a changed file runs).
    if detail.starts_with("no such table") || detail.starts_with("no such column") {
        return Error::Corrupt {
            path,
            detail: format!(
                "it lacks what followup keeps ({detail}): not a followup database, or edited by hand"
            ),
        };
    }
    match code {
        Some(ErrorCode::NotADatabase) => Error::NotADatabase { path, detail },
        Some(ErrorCode::DatabaseCorrupt) => Error::Corrupt { path, detail },
        Some(ErrorCode::CannotOpen) => Error::CannotOpen { path, detail },
        Some(ErrorCode::ReadOnly) | Some(ErrorCode::PermissionDenied) => {
            Error::ReadOnly { path, detail }
        }
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            Error::Busy { path, waited }
        }
        Some(ErrorCode::DiskFull) => Error::Full { path },
        _ => Error::Sqlite { path, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_file_is_never_written_through_a_link_put_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"root's own").unwrap();
        let marker = dir.path().join("followup.tmp12345");
        std::os::unix::fs::symlink(&victim, &marker).unwrap();
        write_shared_file(&marker, b"98304 1796024316163519626\n").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"root's own");
        let kind = std::fs::symlink_metadata(&marker).unwrap().file_type();
        assert!(kind.is_file(), "{kind:?}");
        assert_eq!(
            std::fs::read(&marker).unwrap(),
            b"98304 1796024316163519626\n"
        );
    }

    #[test]
    fn a_busy_database_says_how_long_it_was_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("followup.db");
        let store = Store::open(&path, Check::Full).unwrap();
        let blocker = Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let err = store
            .takes_writes(Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("another followup process has held it for more than 1s"),
            "{err}"
        );
        let err = inspect(&path).unwrap().writable.unwrap_err();
        assert!(err.contains("for more than 2s"), "{err}");
        blocker.execute_batch("ROLLBACK").unwrap();
    }

    #[test]
    fn only_a_staged_database_is_written_without_syncing() {
        let dir = tempfile::tempdir().unwrap();
        let synchronous = |check| {
            let store = Store::open(&dir.path().join("followup.db"), check).unwrap();
            store
                .conn
                .query_row("PRAGMA synchronous", [], |row| row.get::<_, i64>(0))
                .unwrap()
        };
        // SQLite's numbers: 0 is OFF, 2 is FULL.
        assert_eq!(synchronous(Check::Staged), 0);
        for check in [Check::Full, Check::Remembered, Check::ReadOnly] {
            assert_eq!(synchronous(check), 2);
        }
    }

    #[test]
    fn a_checked_file_is_remembered_until_anything_else_changes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("followup.db");
        drop(Store::open(&path, Check::Full).unwrap());
        assert!(is_remembered(&path));
        // A read-only open neither checks nor vouches for the file.
        std::fs::remove_file(verified_marker(&path)).unwrap();
        drop(Store::open(&path, Check::ReadOnly).unwrap());
        assert!(!is_remembered(&path));
        drop(Store::open(&path, Check::Remembered).unwrap());
        assert!(is_remembered(&path));
        // Touched from outside: same bytes, a new modification time.
        let later = std::time::SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(!is_remembered(&path));
    }

    #[test]
    fn a_corrupt_file_changed_behind_the_marker_is_still_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("followup.db");
        {
            let store = Store::open(&path, Check::Full).unwrap();
            // Enough rows for pages beyond the schema, all in the main file.
            store
                .conn
                .execute_batch(
                    "CREATE TABLE filler (x TEXT);
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                     INSERT INTO filler SELECT printf('%0200d', i) FROM n;
                     PRAGMA wal_checkpoint(TRUNCATE);",
                )
                .unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle..middle + 4096].fill(0xA5);
        std::fs::write(&path, &bytes).unwrap();
        let err = Store::open(&path, Check::Remembered).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }
}
