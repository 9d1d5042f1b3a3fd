//! `export`'s JSON: every commitment with its revisions and history, one
//! record per line.
//!
//! Three queries ordered by commitment id (commitments, revisions, events)
//! are walked side by side, so each record is written from its rows and
//! forgotten: an archive of a million commitments exports in a few
//! megabytes.
//!
//! An archive of thousands is shared out among readers by runs of ids
//! (see `readers`).

use std::io::Write;

use rusqlite::Connection;
use rusqlite::types::Type;

use super::Store;
use super::columns::{Columns, Cursor, Param};
use super::commitments::{
    CURRENT_VERSION_COLUMN, SELECT_COMMITMENT_HEAD, SELECT_HISTORY_BETWEEN,
    SELECT_REVISIONS_BETWEEN,
};
use super::json_text::Layout;
use super::readers::{Fault, Framed, OutputError, SharedWork, WRITE_AT, reader_count};
use super::stored_json::{StoredCommitment, StoredEvent, StoredRevision};

/// Ids in one run a reader renders as a piece: enough to outweigh starting
/// three queries, few enough that the pieces waiting to be written stay
/// small (about 200 kilobytes each). Small pieces also mean that the few
/// buffers each reader fills go round again soon, where runs of 1,024 ids
/// filled fresh memory for almost every run of an export of 10,000: a
/// third more page faults, and 5% more time.
const RUN_IDS: i64 = 256;

impl Store {
    /// Writes every commitment with its revisions and history as a JSON
    /// array, one record per line, from one consistent snapshot.
    pub fn export_json(&self, out: &mut dyn Write) -> Result<(), OutputError> {
        self.export_json_with(out, RUN_IDS, reader_count())
    }

    fn export_json_with(
        &self,
        out: &mut dyn Write,
        run_ids: i64,
        readers: usize,
    ) -> Result<(), OutputError> {
        let mut framed = Framed::new(out);
        let written = match self.plan_shared_export(run_ids, readers) {
            Some(runs) => self.read_shared(&runs, readers, |run, elements, spent| {
                framed.elements(&elements)?;
                spent.give_back(run, elements);
                Ok(())
            }),
            None => self.export_alone(&mut framed),
        };
        self.finish_output(written, framed)
    }

    /// The runs of a shared-out export, planned holding the write lock, or
    /// `None` (and no transaction) to export on this connection alone: one
    /// core, too few commitments to share out, or no lock to be had.
    fn plan_shared_export(&self, run_ids: i64, readers: usize) -> Option<ExportRuns> {
        if readers < 2 || !self.lock_for_readers() {
            return None;
        }
        match id_span(&self.conn) {
            Ok(Some((first, last))) if last - first >= run_ids => Some(ExportRuns {
                first,
                last,
                run_ids,
            }),
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
            framed.elements(full)?;
            full.clear();
            Ok(())
        })?;
        framed.elements(&buffer)
    }
}

/// An export cut into runs of `run_ids` ids from `first` to `last`.
struct ExportRuns {
    first: i64,
    last: i64,
    run_ids: i64,
}

impl SharedWork for ExportRuns {
    type Reader<'conn> = Queries<'conn>;
    /// The run's records, each as `,\n` and the record.
    type Rendered = Vec<u8>;

    fn runs(&self) -> usize {
        usize::try_from((self.last - self.first) / self.run_ids + 1).unwrap_or(0)
    }

    fn prepare<'conn>(&self, conn: &'conn Connection) -> rusqlite::Result<Queries<'conn>> {
        Queries::prepare(conn)
    }

    fn render(
        &self,
        queries: &mut Queries<'_>,
        run: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), Fault> {
        let from = self.first + i64::try_from(run).unwrap_or(i64::MAX) * self.run_ids;
        let to = (from + self.run_ids - 1).min(self.last);
        out.clear();
        queries.push_records(from, to, out, |_| Ok(()))
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

/// The three statements an export walks side by side over a run of ids.
struct Queries<'conn> {
    commitments: Cursor<'conn>,
    revisions: Cursor<'conn>,
    history: Cursor<'conn>,
    /// One commitment's revisions, written before the commitment itself:
    /// its current deadline is one of them.
    revisions_json: Vec<u8>,
}

impl<'conn> Queries<'conn> {
    fn prepare(conn: &'conn Connection) -> rusqlite::Result<Self> {
        Ok(Queries {
            // Without the current deadline's own columns: a record
            // carries that deadline twice, as `deadline` and among its
            // revisions, and reading it once saves five values of the
            // thirty-odd a record costs.
            commitments: Cursor::prepare(
                conn,
                &format!("{SELECT_COMMITMENT_HEAD} WHERE c.id BETWEEN ?1 AND ?2 ORDER BY c.id"),
            )?,
            revisions: Cursor::prepare(conn, SELECT_REVISIONS_BETWEEN)?,
            history: Cursor::prepare(conn, SELECT_HISTORY_BETWEEN)?,
            revisions_json: Vec::new(),
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
        let span = [Param::Int(from), Param::Int(to)];
        self.commitments.start(&span)?;
        self.revisions.start(&span)?;
        self.history.start(&span)?;
        // The side cursors start on their first row.
        self.revisions.advance()?;
        self.history.advance()?;
        while let Some(row) = self.commitments.next_row()? {
            let commitment = StoredCommitment::read(row)?;
            let revisions = &mut self.revisions_json;
            revisions.clear();
            let mut current = None;
            push_children(
                &mut self.revisions,
                commitment.id(),
                revisions,
                |row, out| {
                    let start = out.len();
                    let revision = StoredRevision::read(row, 1)?;
                    let deadline_end = revision.push(out);
                    if revision.version() == commitment.deadline_version() {
                        current = Some(start..deadline_end);
                    }
                    Ok(())
                },
            )?;
            let current = current.ok_or_else(|| missing_deadline(&commitment))?;
            out.extend_from_slice(b",\n");
            commitment.push_fields(out, Layout::Compact, |out, _| {
                out.extend_from_slice(&revisions[current]);
                out.push(b'}');
            });
            out.extend_from_slice(b",\"revisions\":[");
            out.extend_from_slice(revisions);
            out.extend_from_slice(b"],\"history\":[");
            push_children(&mut self.history, commitment.id(), out, |row, out| {
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

/// A commitment whose current deadline is not among its revisions: only
/// damage from outside the schema does that, and the export stops rather
/// than leave the record without its deadline.
fn missing_deadline(commitment: &StoredCommitment<'_>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        CURRENT_VERSION_COLUMN,
        Type::Integer,
        format!(
            "unreadable value: commitment {} has no revision {}, its current deadline; \
             restore the database from a backup",
            commitment.id(),
            commitment.deadline_version()
        )
        .into(),
    )
}

/// Appends, comma-separated, the rows of a side cursor (commitment id in
/// column 0) that belong to commitment `id`, leaving the cursor on the
/// first row of the next commitment.
fn push_children(
    rows: &mut Cursor<'_>,
    id: i64,
    out: &mut Vec<u8>,
    mut push: impl FnMut(Columns<'_>, &mut Vec<u8>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut any = false;
    while let Some(row) = rows.row() {
        let owner = row.int(0)?;
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
    use crate::store::BUSY_TIMEOUT;
    use crate::store::{Check, ImportItem, ImportMode};
    use jiff::civil::date;
    use std::path::Path;

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
        let items = records
            .into_iter()
            .map(|record| Ok(ImportItem::new("test".into(), record, true)));
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
                OutputError::Write(io) => assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe),
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
            assert!(matches!(err, OutputError::Store(_)), "{err:?}");
        }
        store
            .conn
            .execute_batch("BEGIN IMMEDIATE; ROLLBACK")
            .unwrap();
    }
}
