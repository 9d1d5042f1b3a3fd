//! `export`'s JSON: every commitment with its revisions and history, one
//! record per line.
//!
//! Three queries ordered by commitment id (commitments, revisions, events)
//! are walked side by side, so each record is written from its rows and
//! forgotten: an archive of a million commitments exports in a few
//! megabytes.
//!
//! An archive of thousands is read by several threads at once, each on its
//! own connection, taking turns over runs of ids; the records are written
//! out in id order as the runs arrive. An export must be one consistent
//! snapshot even while the daemon or an analyst writes, so this
//! connection holds the write lock while the readers begin their read
//! transactions: no commit can land between their snapshots, which are
//! therefore the same. The lock is held for the time it takes to open the
//! readers (about a millisecond), not for the export.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
use rusqlite::{Connection, OpenFlags, Rows, Statement, params};

use super::commitments::{SELECT_COMMITMENT, SELECT_HISTORY_BETWEEN, SELECT_REVISIONS_BETWEEN};
use super::stored_json::{StoredCommitment, StoredEvent, StoredRevision};
use super::{BUSY_TIMEOUT, Error, Store};

/// Ids in one run a reader renders as a piece: enough to outweigh starting
/// three queries, few enough that the pieces waiting to be written stay
/// small (a few hundred kilobytes each).
const RUN_IDS: i64 = 1024;
/// Pieces a reader may have ready before the writer takes them.
const AHEAD: usize = 2;
/// Readers at most: past the cores there is nothing to gain.
const MAX_READERS: usize = 4;
/// How long a parallel export waits for the write lock before reading
/// alone instead.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(200);
/// How much a single reader gathers before writing it out.
const WRITE_AT: usize = 1 << 16;

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] Error),
    #[error("could not write the export: {0}")]
    Write(#[source] std::io::Error),
}

/// What went wrong while rendering or writing records.
enum Fault {
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

impl Store {
    /// Writes every commitment with its revisions and history as a JSON
    /// array, one record per line, from one consistent snapshot.
    pub fn export_json(&self, out: &mut dyn Write) -> Result<(), ExportError> {
        let readers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_READERS);
        self.export_json_with(out, RUN_IDS, readers)
    }

    fn export_json_with(
        &self,
        out: &mut dyn Write,
        run_ids: i64,
        readers: usize,
    ) -> Result<(), ExportError> {
        let mut framed = Framed {
            out,
            started: false,
        };
        let written = match self.begin_parallel_export(run_ids, readers) {
            Some(span) => self.export_in_parallel(span, run_ids, readers, &mut framed),
            None => self.export_alone(&mut framed),
        };
        let _ = self.conn.execute_batch("ROLLBACK");
        match written {
            Ok(()) => framed.finish().map_err(ExportError::Write),
            Err(Fault::Write(err)) => Err(ExportError::Write(err)),
            Err(Fault::Read(err)) => Err(self.sqlite(err).into()),
            Err(Fault::Stopped(why)) => Err(Error::Rejected(why.into()).into()),
        }
    }

    /// Takes the write lock for a parallel export, returning the span of
    /// ids to export, or `None` to export on this connection alone: one
    /// core, too few commitments to share out, or no lock to be had (a
    /// read-only file).
    fn begin_parallel_export(&self, run_ids: i64, readers: usize) -> Option<(i64, i64)> {
        if readers < 2 {
            return None;
        }
        // A long write elsewhere (a daemon tick) is not waited out: the
        // export then reads alone, which needs no lock.
        let locked = self.conn.busy_timeout(LOCK_WAIT).is_ok()
            && self.conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
        if !locked {
            return None;
        }
        match id_span(&self.conn) {
            Ok(Some((first, last))) if last - first >= run_ids => Some((first, last)),
            _ => {
                let _ = self.conn.execute_batch("ROLLBACK");
                None
            }
        }
    }

    /// The whole export read by this connection, in one transaction.
    fn export_alone(&self, framed: &mut Framed<'_>) -> Result<(), Fault> {
        self.conn.execute_batch("BEGIN")?;
        let mut queries = Queries::prepare(&self.conn)?;
        let mut buffer = Vec::with_capacity(2 * WRITE_AT);
        queries.push_records(i64::MIN, i64::MAX, &mut buffer, |full| {
            framed.records(full).map_err(Fault::Write)?;
            full.clear();
            Ok(())
        })?;
        framed.records(&buffer).map_err(Fault::Write)
    }

    /// The export read by `readers` threads, run `k` of ids going to
    /// reader `k % readers`. Called holding the write lock, which it lets
    /// go once every reader has its snapshot.
    fn export_in_parallel(
        &self,
        (first, last): (i64, i64),
        run_ids: i64,
        readers: usize,
        framed: &mut Framed<'_>,
    ) -> Result<(), Fault> {
        let runs = (last - first) / run_ids + 1;
        let path = self.path.as_path();
        std::thread::scope(|scope| {
            let mut pieces: Vec<Receiver<Piece>> = Vec::with_capacity(readers);
            let mut spent: Vec<Sender<Vec<u8>>> = Vec::with_capacity(readers);
            for reader in 0..readers {
                let (send, receive) = sync_channel(AHEAD);
                let (give_back, reuse) = channel();
                pieces.push(receive);
                spent.push(give_back);
                let mine = (reader as i64..runs).step_by(readers).map(move |run| {
                    let from = first + run * run_ids;
                    (from, (from + run_ids - 1).min(last))
                });
                scope.spawn(move || read_runs(path, (first, last), mine, &send, &reuse));
            }
            // Every reader has its snapshot (or has failed) before the
            // lock is let go.
            let mut failed = None;
            for receive in &pieces {
                match receive.recv() {
                    Ok(Piece::Ready) => {}
                    Ok(Piece::Failed(fault)) => failed = failed.or(Some(fault)),
                    Ok(Piece::Records(_)) | Err(_) => failed = failed.or(Some(READER_LOST)),
                }
            }
            self.conn.execute_batch("ROLLBACK")?;
            if let Some(fault) = failed {
                return Err(fault);
            }
            for run in 0..runs {
                let reader = usize::try_from(run).unwrap_or(0) % readers;
                match pieces[reader].recv() {
                    Ok(Piece::Records(records)) => {
                        framed.records(&records).map_err(Fault::Write)?;
                        // Back to its reader to be filled again: fresh
                        // megabyte buffers cost page faults, and memory
                        // freed on another thread than its own is slow to free.
                        let _ = spent[reader].send(records);
                    }
                    Ok(Piece::Failed(fault)) => return Err(fault),
                    Ok(Piece::Ready) | Err(_) => return Err(READER_LOST),
                }
            }
            Ok(())
            // Returning early drops the receivers: each reader's next send
            // fails, and it stops.
        })
    }
}

/// What a reader hands the writer.
enum Piece {
    /// Its read transaction has begun: the snapshot is taken.
    Ready,
    /// The records of its next run.
    Records(Vec<u8>),
    Failed(Fault),
}

const READER_LOST: Fault =
    Fault::Stopped("an export reader stopped unexpectedly; run the export again");

/// A reader: opens its own connection, begins its snapshot, checks that it
/// sees the span the writer saw, then renders its runs in order.
fn read_runs(
    path: &Path,
    span: (i64, i64),
    runs: impl Iterator<Item = (i64, i64)>,
    send: &SyncSender<Piece>,
    reuse: &Receiver<Vec<u8>>,
) {
    let opened = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|conn| {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch("PRAGMA mmap_size = 268435456; BEGIN")?;
        Ok(conn)
    });
    let conn = match opened.and_then(|conn| Ok((id_span(&conn)?, conn))) {
        Ok((seen, conn)) if seen == Some(span) => conn,
        Ok(_) => {
            // Impossible while the writer holds the lock; said plainly if
            // it ever happens rather than exported inconsistently.
            let changed = Fault::Stopped("the database changed as the export began; run it again");
            let _ = send.send(Piece::Failed(changed));
            return;
        }
        Err(err) => {
            let _ = send.send(Piece::Failed(Fault::Read(err)));
            return;
        }
    };
    if send.send(Piece::Ready).is_err() {
        return;
    }
    let mut queries = match Queries::prepare(&conn) {
        Ok(queries) => queries,
        Err(err) => {
            let _ = send.send(Piece::Failed(Fault::Read(err)));
            return;
        }
    };
    for (from, to) in runs {
        let mut records = match reuse.try_recv() {
            Ok(mut spent) => {
                spent.clear();
                spent
            }
            Err(_) => Vec::with_capacity(WRITE_AT),
        };
        let piece = match queries.push_records(from, to, &mut records, |_| Ok(())) {
            Ok(()) => Piece::Records(records),
            Err(fault) => Piece::Failed(fault),
        };
        let failed = matches!(piece, Piece::Failed(_));
        if send.send(piece).is_err() || failed {
            return;
        }
    }
}

/// Two lookups at the ends of the table: `SELECT min(id), max(id)` in one
/// would scan the whole table.
const SPAN: &str = "SELECT (SELECT min(id) FROM commitments), (SELECT max(id) FROM commitments)";

/// The lowest and highest commitment ids, if there are any.
fn id_span(conn: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.query_row(SPAN, [], |row| {
        Ok(row
            .get::<_, Option<i64>>(0)?
            .zip(row.get::<_, Option<i64>>(1)?))
    })
}

/// The export's array around records that each begin with `,\n`.
struct Framed<'w> {
    out: &'w mut dyn Write,
    started: bool,
}

impl Framed<'_> {
    fn records(&mut self, records: &[u8]) -> std::io::Result<()> {
        match records.split_first() {
            None => Ok(()),
            Some((_, rest)) if !self.started => {
                self.started = true;
                self.out.write_all(b"[")?;
                self.out.write_all(rest)
            }
            Some(_) => self.out.write_all(records),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        self.out
            .write_all(if self.started { b"\n]\n" } else { b"[]\n" })?;
        self.out.flush()
    }
}

/// The three statements an export walks side by side over a run of ids.
struct Queries<'conn> {
    commitments: Statement<'conn>,
    revisions: Statement<'conn>,
    history: Statement<'conn>,
}

impl<'conn> Queries<'conn> {
    fn prepare(conn: &'conn Connection) -> rusqlite::Result<Self> {
        Ok(Queries {
            commitments: conn.prepare(&format!(
                "{SELECT_COMMITMENT} WHERE c.id BETWEEN ?1 AND ?2 ORDER BY c.id"
            ))?,
            revisions: conn.prepare(SELECT_REVISIONS_BETWEEN)?,
            history: conn.prepare(SELECT_HISTORY_BETWEEN)?,
        })
    }

    /// Appends the record of each commitment with an id in `from..=to`,
    /// each as `,\n` and the record on one line, handing `out` to `full`
    /// whenever it passes [`WRITE_AT`].
    fn push_records(
        &mut self,
        from: i64,
        to: i64,
        out: &mut Vec<u8>,
        mut full: impl FnMut(&mut Vec<u8>) -> Result<(), Fault>,
    ) -> Result<(), Fault> {
        let mut commitments = self.commitments.query(params![from, to])?;
        let mut revisions = self.revisions.query(params![from, to])?;
        let mut history = self.history.query(params![from, to])?;
        // The side cursors start on their first row.
        revisions.advance()?;
        history.advance()?;
        while let Some(row) = commitments.next()? {
            let commitment = StoredCommitment::read(row)?;
            out.extend_from_slice(b",\n");
            commitment.push_fields(out);
            out.extend_from_slice(b",\"revisions\":[");
            push_children(&mut revisions, commitment.id(), out, |row, out| {
                StoredRevision::read(row, 1).map(|revision| revision.push(out))
            })?;
            out.extend_from_slice(b"],\"history\":[");
            push_children(&mut history, commitment.id(), out, |row, out| {
                StoredEvent::read(row, 1).map(|event| event.push(out))
            })?;
            out.extend_from_slice(b"]}");
            if out.len() >= WRITE_AT {
                full(out)?;
            }
        }
        Ok(())
    }
}

/// Appends, comma-separated, the rows of a side cursor (commitment id in
/// column 0) that belong to commitment `id`, leaving the cursor on the
/// first row of the next commitment.
fn push_children(
    rows: &mut Rows<'_>,
    id: i64,
    out: &mut Vec<u8>,
    push: impl Fn(&rusqlite::Row<'_>, &mut Vec<u8>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut any = false;
    while let Some(row) = rows.get() {
        let owner: i64 = row.get(0)?;
        if owner > id {
            break;
        }
        // A row of an id before this one belongs to no commitment (the
        // foreign keys make that impossible); it is passed over, not
        // misfiled.
        if owner == id {
            if any {
                out.push(b',');
            }
            any = true;
            push(row, out)?;
        }
        rows.advance()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::Deadline;
    use crate::model::NewCommitment;
    use crate::store::{Check, ImportItem, ImportMode};
    use jiff::civil::date;

    /// A desk of `n` commitments, every third revised and every fifth with
    /// a note, so records differ in their revisions and history.
    fn desk(path: &Path, n: usize) -> Store {
        let mut store = Store::open(path, Check::Full).unwrap();
        let anchor = date(2025, 10, 15);
        let commitments: Vec<NewCommitment> = (0..n)
            .map(|i| NewCommitment {
                title: format!("Commitment {i}: hold the \"joint\" committee\r\nmeeting"),
                announced: anchor,
                deadline: Deadline::parse("within two months", anchor).unwrap(),
                actors: vec!["Syria".into(), "روسيا".into()],
                tags: vec![format!("t{}", i % 7)],
                source: Some(format!("https://example.org/{i}")),
                quote: Some("كما تم الاتفاق على عقد اجتماع".into()),
                note: None,
            })
            .collect();
        let at = "2025-10-15T09:30:00Z".parse().unwrap();
        let ids = store.add_all(&commitments, at, "test").unwrap();
        let later = Deadline::parse("by 31 January 2026", anchor).unwrap();
        for (i, id) in ids.into_iter().enumerate() {
            let at = "2025-12-20T08:00:00Z".parse().unwrap();
            if i % 3 == 0 {
                store
                    .revise(id, &later, Some("slipped"), at, "test")
                    .unwrap();
            }
            if i % 5 == 0 {
                store.note(id, "Nothing yet.", at, "analyst").unwrap();
            }
        }
        store
    }

    fn exported(store: &Store, run_ids: i64, readers: usize) -> String {
        let mut out = Vec::new();
        store.export_json_with(&mut out, run_ids, readers).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_way_of_sharing_out_the_reading_writes_the_same_export() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(&dir.path().join("desk.db"), 200);
        let alone = exported(&store, RUN_IDS, 1);
        let records: Vec<serde_json::Value> = serde_json::from_str(&alone).unwrap();
        assert_eq!(records.len(), 200);
        for (run_ids, readers) in [(1, 2), (7, 2), (64, 3), (199, 2), (200, 4), (1000, 2)] {
            assert_eq!(
                exported(&store, run_ids, readers),
                alone,
                "runs of {run_ids} ids, {readers} readers"
            );
        }
    }

    #[test]
    fn ids_with_gaps_leave_empty_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let source = desk(&dir.path().join("source.db"), 6);
        let mut records = source.export().unwrap();
        for (record, id) in records.iter_mut().zip([1, 2, 900, 901, 5000, 77_777]) {
            record.commitment.id = id;
        }
        let mut store = Store::open(&dir.path().join("gaps.db"), Check::Full).unwrap();
        let items = records.into_iter().map(|record| {
            Ok(ImportItem {
                origin: "test".into(),
                record,
                has_id: true,
            })
        });
        store.import(items, ImportMode::KeepIds).unwrap();
        let alone = exported(&store, RUN_IDS, 1);
        assert_eq!(alone.lines().count(), 6 + 2);
        assert_eq!(exported(&store, 3, 2), alone);
        assert_eq!(exported(&store, 100, 4), alone);
    }

    #[test]
    fn an_empty_desk_exports_an_empty_array() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("empty.db"), Check::Full).unwrap();
        assert_eq!(exported(&store, 1, 2), "[]\n");
        assert_eq!(exported(&store, 1, 1), "[]\n");
    }

    #[test]
    fn an_export_is_one_snapshot_while_the_desk_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let store = desk(&path, 200);
        let writing = std::sync::atomic::AtomicBool::new(true);
        std::thread::scope(|scope| {
            // Each commit adds a note to every commitment at once: in any
            // one snapshot, every record has the same number of notes.
            scope.spawn(|| {
                let conn = Connection::open(&path).unwrap();
                conn.busy_timeout(BUSY_TIMEOUT).unwrap();
                for _ in 0..40 {
                    conn.execute_batch(
                        "BEGIN IMMEDIATE;
                         INSERT INTO events (commitment_id, at, author, kind, detail)
                         SELECT id, '2026-01-01T00:00:00Z', 'desk', 'note', '{\"text\":\"again\"}'
                         FROM commitments;
                         COMMIT;",
                    )
                    .unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                writing.store(false, std::sync::atomic::Ordering::Relaxed);
            });
            let mut seen = std::collections::BTreeSet::new();
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                let export = exported(&store, 8, 3);
                let records: Vec<serde_json::Value> = serde_json::from_str(&export).unwrap();
                assert_eq!(records.len(), 200);
                let again = |r: &serde_json::Value| {
                    r["history"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|e| e["text"] == "again")
                        .count()
                };
                let first = again(&records[0]);
                assert!(
                    records.iter().all(|r| again(r) == first),
                    "records from different snapshots in one export"
                );
                seen.insert(first);
            }
            // The exports ran while the notes were being added.
            assert!(seen.len() > 1, "{seen:?}");
        });
    }

    #[test]
    fn a_write_in_progress_elsewhere_leaves_the_export_to_read_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let store = desk(&path, 100);
        let alone = exported(&store, RUN_IDS, 1);
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("BEGIN IMMEDIATE; DELETE FROM tags;")
            .unwrap();
        // The uncommitted change is not seen, and the export is whole.
        assert_eq!(exported(&store, 8, 2), alone);
        writer.execute_batch("ROLLBACK").unwrap();
    }

    /// A reader of the export that goes away after `left` bytes.
    struct GoesAway {
        left: usize,
    }

    impl Write for GoesAway {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left < buf.len() {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.left -= buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_that_goes_away_stops_the_export_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(&dir.path().join("desk.db"), 300);
        for readers in [1, 2, 4] {
            let err = store
                .export_json_with(&mut GoesAway { left: 10_000 }, 8, readers)
                .unwrap_err();
            match err {
                ExportError::Write(io) => assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe),
                other => panic!("{readers} readers: {other:?}"),
            }
        }
        // Nothing is left holding the database: a write goes through.
        store
            .conn
            .execute_batch("BEGIN IMMEDIATE; ROLLBACK")
            .unwrap();
    }

    #[test]
    fn a_damaged_row_stops_a_shared_out_export_naming_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let store = desk(&path, 300);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TRIGGER events_are_append_only_update;")
            .unwrap();
        conn.execute(
            "UPDATE events SET detail = '{\"text\": tru'
             WHERE id = (SELECT max(id) FROM events WHERE kind = 'note')",
            [],
        )
        .unwrap();
        for readers in [1, 2, 3] {
            let err = store
                .export_json_with(&mut std::io::sink(), 16, readers)
                .unwrap_err();
            assert!(
                err.to_string().contains("{\\\"text\\\": tru"),
                "{readers} readers: {err}"
            );
            assert!(matches!(err, ExportError::Store(_)), "{err:?}");
        }
        store
            .conn
            .execute_batch("BEGIN IMMEDIATE; ROLLBACK")
            .unwrap();
    }
}
