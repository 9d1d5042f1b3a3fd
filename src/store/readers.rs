//! Large JSON outputs (`export`, `list --json`) read by several threads at
//! once, from one snapshot.
//!
//! The work is cut into runs (of commitment ids, or of each reader's part
//! of a window of a list); each reader, on its own connection, renders
//! every `readers`-th run, and the runs are handed to the writer in order.
//! An output must be one consistent snapshot even while the daemon or an
//! analyst writes, so the command's own connection holds the write lock
//! while the readers begin their read transactions: no commit can land
//! between their snapshots, which are therefore the same as each other and
//! as the one the work was planned in. The lock is held for about a
//! millisecond, not for the output.

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{BUSY_TIMEOUT, Error, Store};

/// Runs a reader may have ready before the writer takes them.
const AHEAD: usize = 2;
/// Readers at most: past the cores there is nothing to gain.
const MAX_READERS: usize = 4;
/// How much output read on one connection alone is gathered before it
/// is written out.
pub(super) const WRITE_AT: usize = 1 << 16;
/// How long to wait for the write lock before reading alone instead.
const LOCK_WAIT: Duration = Duration::from_millis(200);

/// Why a JSON output (`export`, `list --json`) stopped.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Store(#[from] Error),
    #[error("could not write the output: {0}")]
    Write(#[source] std::io::Error),
}

/// What went wrong while rendering or writing.
pub(super) enum Fault {
    Read(rusqlite::Error),
    Write(std::io::Error),
    /// A reader could not go on for a reason of its own, said here.
    Stopped(&'static str),
}

impl From<rusqlite::Error> for Fault {
    fn from(err: rusqlite::Error) -> Self {
        Fault::Read(err)
    }
}

/// Work that can be cut into runs and rendered on any connection reading
/// the same snapshot.
pub(super) trait SharedWork: Send + Sync {
    /// A reader's prepared statements.
    type Reader<'conn>;
    /// What a run is rendered into. Once written it goes back to the reader
    /// that rendered it, to be cleared and filled again.
    type Rendered: Send + Default;
    fn runs(&self) -> usize;
    /// Prepares a reader's statements, before the work is planned.
    fn prepare(conn: &Connection) -> rusqlite::Result<Self::Reader<'_>>;
    /// Renders run `run` into `into`, which may still hold a spent run.
    fn render(
        &self,
        reader: &mut Self::Reader<'_>,
        run: usize,
        into: &mut Self::Rendered,
    ) -> Result<(), Fault>;
}

/// Where written runs go back to their readers to be reused: fresh
/// megabyte buffers cost page faults, and memory is slow to free on
/// another thread than its own.
pub(super) struct Spent<T> {
    readers: Vec<Sender<T>>,
}

impl<T> Spent<T> {
    /// Hands run `run`'s rendering back to the reader that made it.
    pub(super) fn give_back(&self, run: usize, rendered: T) {
        let _ = self.readers[run % self.readers.len()].send(rendered);
    }
}

/// How many readers to share work out among on this machine.
pub(super) fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_READERS)
}

/// A JSON array around elements that each begin with `,\n`.
pub(super) struct Framed<'w> {
    out: &'w mut dyn Write,
    started: bool,
}

impl<'w> Framed<'w> {
    pub(super) fn new(out: &'w mut dyn Write) -> Self {
        Framed {
            out,
            started: false,
        }
    }

    /// Writes `elements` out and empties it for the next, the first
    /// one's comma made the array's opening bracket: one write, where a
    /// bracket written first would have been a write of its own.
    pub(super) fn elements(&mut self, elements: &mut Vec<u8>) -> Result<(), Fault> {
        let Some(first) = elements.first_mut() else {
            return Ok(());
        };
        if !self.started {
            self.started = true;
            *first = b'[';
        }
        let written = self.out.write_all(elements).map_err(Fault::Write);
        elements.clear();
        written
    }

    fn finish(self) -> std::io::Result<()> {
        self.out
            .write_all(if self.started { b"\n]\n" } else { b"[]\n" })?;
        self.out.flush()
    }
}

/// What a reader hands the writer.
enum Piece<T> {
    /// Its read transaction has begun: the snapshot is taken.
    Ready,
    /// Its next run, rendered.
    Rendered(T),
    Failed(Fault),
}

/// Damage found by followup's own checks, reported as SQLite reports its
/// own: the database is corrupt.
pub(super) fn damaged(detail: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        Some(detail),
    )
}

const READER_LOST: Fault = Fault::Stopped("a reader stopped unexpectedly; run the command again");

/// What every reader must see to be reading the writer's snapshot.
const FINGERPRINT: &str = "SELECT (SELECT max(id) FROM events), (SELECT max(id) FROM commitments)";

fn fingerprint(conn: &Connection) -> rusqlite::Result<Seen> {
    conn.query_row(FINGERPRINT, [], |row| Ok((row.get(0)?, row.get(1)?)))
}

impl Store {
    /// Begins a transaction holding the write lock, so that readers can
    /// share this snapshot. False, with no transaction, when the lock is
    /// not free soon (a long write elsewhere, which is not waited out) or
    /// not to be had (a read-only file): the work is then read alone.
    pub(super) fn lock_for_readers(&self) -> bool {
        let locked = self.conn.busy_timeout(LOCK_WAIT).is_ok()
            && self.conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
        locked
    }

    /// Ends whatever transaction an output left open and says how it
    /// went, closing the array if it did.
    pub(super) fn finish_output(
        &self,
        written: Result<(), Fault>,
        framed: Framed<'_>,
    ) -> Result<(), OutputError> {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        match written {
            Ok(()) => framed.finish().map_err(OutputError::Write),
            Err(Fault::Write(err)) => Err(OutputError::Write(err)),
            Err(Fault::Read(err)) => Err(self.sqlite(err).into()),
            Err(Fault::Stopped(why)) => Err(Error::Rejected(why.into()).into()),
        }
    }

    /// Renders the work `plan` returns with `readers` threads, run `k`
    /// going to reader `k % readers`, and hands the runs to `take` in
    /// order, with where to give each back once written; then gives the
    /// work back. `None` when `plan` chose to read alone.
    ///
    /// The readers start at once: each opens its connection and prepares
    /// its statements (SQLite reads the schema then) while `plan` runs on
    /// this connection, rather than after it, when that work kept one
    /// core idle for a millisecond or two of an export of 10,000. `plan`
    /// returns its work holding the write lock (see
    /// [`Store::lock_for_readers`]), which is let go once every reader has
    /// its snapshot, or `None` with no transaction open.
    pub(super) fn read_shared<W: SharedWork>(
        &self,
        readers: usize,
        plan: impl FnOnce() -> Result<Option<W>, Fault>,
        mut take: impl FnMut(&W, usize, W::Rendered, &Spent<W::Rendered>) -> Result<(), Fault>,
    ) -> Result<Option<W>, Fault> {
        let planned = OnceLock::new();
        let path = self.path.as_path();
        let shared = std::thread::scope(|scope| {
            let mut pieces: Vec<Receiver<Piece<W::Rendered>>> = Vec::with_capacity(readers);
            let mut go = Vec::with_capacity(readers);
            let mut spent = Spent {
                readers: Vec::with_capacity(readers),
            };
            for reader in 0..readers {
                let (send, receive) = sync_channel(AHEAD);
                let (give_back, reuse) = channel();
                let (start, wait) = sync_channel(1);
                pieces.push(receive);
                spent.readers.push(give_back);
                go.push(start);
                let turn = Turn { reader, readers };
                let planned = &planned;
                let started = std::thread::Builder::new()
                    .name("followup-reader".into())
                    .spawn_scoped(scope, move || {
                        read_runs(planned, path, turn, &wait, &send, &reuse)
                    });
                if started.is_err() {
                    // Readers already started stop when their `go` goes.
                    return Err(Fault::Stopped(
                        "could not start a thread to read with; free some memory or raise the process limit and run the command again",
                    ));
                }
            }
            let Some(work) = plan()? else {
                return Ok(false);
            };
            let work = planned.get_or_init(|| work);
            let seen = fingerprint(&self.conn)?;
            for start in &go {
                // A reader gone already says why on its `pieces`.
                let _ = start.send(seen);
            }
            // Every reader has its snapshot (or has failed) before the
            // lock is let go.
            let mut failed = None;
            for receive in &pieces {
                match receive.recv() {
                    Ok(Piece::Ready) => {}
                    Ok(Piece::Failed(fault)) => failed = failed.or(Some(fault)),
                    Ok(Piece::Rendered(_)) | Err(_) => failed = failed.or(Some(READER_LOST)),
                }
            }
            self.conn.execute_batch("ROLLBACK")?;
            if let Some(fault) = failed {
                return Err(fault);
            }
            for run in 0..work.runs() {
                match pieces[run % readers].recv() {
                    Ok(Piece::Rendered(rendered)) => take(work, run, rendered, &spent)?,
                    Ok(Piece::Failed(fault)) => return Err(fault),
                    Ok(Piece::Ready) | Err(_) => return Err(READER_LOST),
                }
            }
            Ok(true)
            // Returning early drops `go` and the receivers: a reader
            // waiting to start, or sending its next run, stops.
        })?;
        Ok(planned.into_inner().filter(|_| shared))
    }
}

/// Which runs a reader renders: every `readers`-th, from its own number.
#[derive(Clone, Copy)]
struct Turn {
    reader: usize,
    readers: usize,
}

/// What every reader must see, sent to each as it may begin.
type Seen = (Option<i64>, Option<i64>);

/// A reader: opens its own connection and prepares its statements, waits
/// for the plan, begins its snapshot, checks that it sees what the writer
/// saw, then renders its runs in order.
fn read_runs<W: SharedWork>(
    planned: &OnceLock<W>,
    path: &Path,
    turn: Turn,
    go: &Receiver<Seen>,
    send: &SyncSender<Piece<W::Rendered>>,
    reuse: &Receiver<W::Rendered>,
) {
    let opened = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|conn| {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch("PRAGMA mmap_size = 268435456")?;
        Ok(conn)
    });
    let conn = match opened {
        Ok(conn) => conn,
        Err(err) => return fail_when_started(go, send, Fault::Read(err)),
    };
    let mut reader = match W::prepare(&conn) {
        Ok(reader) => reader,
        Err(err) => return fail_when_started(go, send, Fault::Read(err)),
    };
    // No plan (the work is read alone, or planning failed): nothing to do.
    let Ok(seen) = go.recv() else { return };
    let Some(work) = planned.get() else { return };
    match conn
        .execute_batch("BEGIN")
        .and_then(|()| fingerprint(&conn))
    {
        Ok(fingerprint) if fingerprint == seen => {}
        Ok(_) => {
            // Impossible while the writer holds the lock; said plainly if
            // it ever happens rather than written inconsistently.
            let changed = Fault::Stopped("the database changed as the output began; run it again");
            let _ = send.send(Piece::Failed(changed));
            return;
        }
        Err(err) => {
            let _ = send.send(Piece::Failed(Fault::Read(err)));
            return;
        }
    }
    if send.send(Piece::Ready).is_err() {
        return;
    }
    for run in (turn.reader..work.runs()).step_by(turn.readers) {
        let mut rendered = reuse.try_recv().unwrap_or_default();
        let piece = match work.render(&mut reader, run, &mut rendered) {
            Ok(()) => Piece::Rendered(rendered),
            Err(fault) => Piece::Failed(fault),
        };
        let failed = matches!(piece, Piece::Failed(_));
        if send.send(piece).is_err() || failed {
            return;
        }
    }
}

/// A reader that could not open or prepare says so once the work is
/// planned, in the place of its snapshot being ready; if the work is read
/// alone instead, it says nothing.
fn fail_when_started<T>(go: &Receiver<Seen>, send: &SyncSender<Piece<T>>, fault: Fault) {
    if go.recv().is_ok() {
        let _ = send.send(Piece::Failed(fault));
    }
}
