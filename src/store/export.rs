//! `export`'s JSON: every commitment with its revisions and history, one
//! record per line.
//!
//! Three queries ordered by commitment id (commitments, revisions, events)
//! are walked side by side, so each record is written from its rows and
//! forgotten: an archive of a million commitments exports in a few
//! megabytes.
//!
//! Most exports copy the records kept rendered, a page of four to a
//! row (see `records`), on this connection alone. While any commitment is
//! stale, or the pages' counts are not the tables', the tables are read
//! instead, and an archive of thousands is shared out among readers by
//! runs of ids (see `readers`).

use std::io::Write;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension};

use super::Store;
use super::columns::{Columns, Cursor, Param};
use super::commitments::{
    CURRENT_VERSION_COLUMN, SELECT_COMMITMENT_HEAD, SELECT_HISTORY_BETWEEN,
    SELECT_REVISIONS_BETWEEN,
};
use super::json_text::Layout;
use super::readers::{Fault, Framed, OutputError, SharedWork, WRITE_AT, damaged, reader_count};
use super::records::{self, page_checksum, span_of};
use super::stored_json::{StoredCommitment, StoredEvent, StoredRevision};

/// How much of the kept pages is gathered before it is written out: a
/// write to a pipe takes the pipe's lock for as long as it copies, so a
/// reader on the other end waits out each one, and a few large writes
/// cost less than many small ones.
const PAGES_WRITE_AT: usize = 1 << 18;

/// Commitments in one run a reader renders as a piece: enough to outweigh
/// starting three queries, few enough that the pieces waiting to be
/// written stay small (about 200 kilobytes each). Small pieces also mean
/// that the few buffers each reader fills go round again soon, where runs
/// of 1,024 filled fresh memory for almost every run of an export of
/// 10,000: a third more page faults, and 5% more time.
const RUN_RECORDS: usize = 256;

impl Store {
    /// Writes every commitment with its revisions and history as a JSON
    /// array, one record per line, from one consistent snapshot.
    pub fn export_json(&self, out: &mut dyn Write) -> Result<(), OutputError> {
        self.export_json_with(out, RUN_RECORDS, reader_count)
    }

    /// As [`Store::export_json`], reading the tables (when it must) in
    /// runs of `run_records` with `readers()` readers: asked only then,
    /// since finding out reads files of the kernel's.
    fn export_json_with(
        &self,
        out: &mut dyn Write,
        run_records: usize,
        readers: impl FnOnce() -> usize,
    ) -> Result<(), OutputError> {
        let mut framed = Framed::new(out);
        let written = match self.export_kept(&mut framed) {
            Ok(true) => Ok(()),
            Ok(false) => match self.export_shared(run_records, readers(), &mut framed) {
                Ok(true) => Ok(()),
                Ok(false) => self.export_alone(&mut framed),
                Err(fault) => Err(fault),
            },
            Err(fault) => Err(fault),
        };
        self.finish_output(written, framed)
    }

    /// The export copied from the kept pages, in one read transaction, if
    /// they can be trusted: no commitment stale, and their counts the
    /// tables'. False, having written nothing and with no transaction
    /// open, to read the tables instead.
    ///
    /// Each page must also match its checksum, or its four are read
    /// from the tables; a page SQLite finds damaged sends every record
    /// from there on to the tables.
    fn export_kept(&self, framed: &mut Framed<'_>) -> Result<bool, Fault> {
        self.conn.execute_batch("BEGIN")?;
        let checked = self.conn.query_row(KEPT_AGAINST_STORED, [], |row| {
            let stored = Tally::counted(row)?;
            let total = |i| row.get::<_, f64>(i);
            let kept = [total(3)?, total(4)?, total(5)?];
            let stale: i64 = row.get(6)?;
            let trusted = stale <= 0
                && kept
                    == [
                        stored.commitments as f64,
                        stored.revisions as f64,
                        stored.events as f64,
                    ];
            Ok((stored, trusted))
        });
        let stored = match checked {
            Ok((stored, true)) => Some(stored),
            Ok((_, false)) => None,
            // Damage SQLite finds while summing the pages: they are only
            // a copy. (The tables' own damage shows again as they are read.)
            Err(err) if records::is_damage(&err) => None,
            Err(err) => return Err(err.into()),
        };
        let Some(stored) = stored else {
            self.conn.execute_batch("ROLLBACK")?;
            return Ok(false);
        };
        let mut pages = Cursor::prepare(
            &self.conn,
            "SELECT page, commitments, revisions, events, checksum, body FROM record_pages
             ORDER BY page",
        )?;
        let mut tables = None;
        let mut buffer = Vec::with_capacity(PAGES_WRITE_AT + PAGES_WRITE_AT / 4);
        let mut written = Tally::default();
        // The first id not yet written; `None` once the highest there can
        // be is.
        let mut next = Some(i64::MIN);
        let mut write_out = |buffer: &mut Vec<u8>| framed.elements(buffer);
        pages.start(&[])?;
        while let Some(from) = next {
            let page = match pages.next_row() {
                Ok(Some(row)) => kept_page(row, from),
                Ok(None) => break,
                Err(err) => Err(err),
            };
            match page {
                Ok(Page::Trusted { last, tally, body }) => {
                    buffer.extend_from_slice(body);
                    written.add(&tally);
                    next = last.checked_add(1);
                }
                Ok(Page::Untrusted { first, last }) => {
                    prepared(&mut tables, &self.conn)?.push_records(
                        first,
                        last,
                        &mut buffer,
                        &mut written,
                        &mut write_out,
                    )?;
                    next = last.checked_add(1);
                }
                // The pages are only a copy: the rest from the tables.
                Err(err) if records::is_damage(&err) => {
                    prepared(&mut tables, &self.conn)?.push_records(
                        from,
                        i64::MAX,
                        &mut buffer,
                        &mut written,
                        &mut write_out,
                    )?;
                    break;
                }
                Err(err) => return Err(err.into()),
            }
            if buffer.len() >= PAGES_WRITE_AT {
                write_out(&mut buffer)?;
            }
        }
        write_out(&mut buffer)?;
        written.check_against(&stored).map(|()| true)
    }

    /// The export read by readers and written run by run; false, having
    /// written nothing, when it is to be read on this connection alone:
    /// one core, too few commitments to share out, or no lock to be had.
    fn export_shared(
        &self,
        run_records: usize,
        readers: usize,
        framed: &mut Framed<'_>,
    ) -> Result<bool, Fault> {
        if readers < 2 || !spans_runs(&self.conn, run_records)? {
            return Ok(false);
        }
        let mut written = Tally::default();
        let shared = self.read_shared(
            readers,
            || self.plan_shared_export(run_records),
            |_, run, mut rendered: RenderedRun, spent| {
                framed.elements(&mut rendered.elements)?;
                written.add(&rendered.tally);
                spent.give_back(run, rendered);
                Ok(())
            },
        )?;
        match shared {
            Some(runs) => written.check_against(&runs.stored).map(|()| true),
            None => Ok(false),
        }
    }

    /// The runs of a shared-out export, planned holding the write lock, or
    /// `None` (and no transaction) to export on this connection alone.
    fn plan_shared_export(&self, run_records: usize) -> Result<Option<ExportRuns>, Fault> {
        if !self.lock_for_readers() {
            return Ok(None);
        }
        let (stored, ids) = Tally::stored_with_ids(&self.conn)?;
        if let Some(starts) = ids.and_then(|ids| ids.cut_by_number(stored, run_records)) {
            return Ok(Some(ExportRuns { starts, stored }));
        }
        // Ids too far apart to cut by number are cut by the ids there
        // are, which steps over every commitment: done without the lock.
        // Any cut covers every commitment, so it may be made before the
        // snapshot is.
        self.conn.execute_batch("ROLLBACK")?;
        let starts = run_starts(&self.conn, run_records)?;
        if starts.len() < 2 || !self.lock_for_readers() {
            return Ok(None);
        }
        let stored = Tally::stored(&self.conn)?;
        Ok(Some(ExportRuns { starts, stored }))
    }

    /// The whole export read from the tables by this connection, in one
    /// transaction.
    fn export_alone(&self, framed: &mut Framed<'_>) -> Result<(), Fault> {
        self.conn.execute_batch("BEGIN")?;
        let stored = Tally::stored(&self.conn)?;
        let mut buffer = Vec::with_capacity(2 * WRITE_AT);
        let mut written = Tally::default();
        Queries::prepare(&self.conn)?.push_records(
            i64::MIN,
            i64::MAX,
            &mut buffer,
            &mut written,
            |full| framed.elements(full),
        )?;
        framed.elements(&mut buffer)?;
        written.check_against(&stored)
    }
}

/// The first three columns of [`STORED`] and [`KEPT_AGAINST_STORED`]:
/// the rows of each kind in the snapshot, as [`Tally::counted`] reads
/// them.
macro_rules! stored_counts {
    () => {
        "SELECT (SELECT count(*) FROM commitments), (SELECT count(*) FROM deadlines),
                (SELECT count(*) FROM events)"
    };
}

/// What the snapshot holds, what the kept pages count, and how many
/// commitments are stale, in one statement. SQLite counts rows from the
/// pages' own headers, and sums the pages' counts from the start of each
/// of their rows.
const KEPT_AGAINST_STORED: &str = concat!(
    stored_counts!(),
    ", (SELECT total(commitments) FROM record_pages), (SELECT total(revisions) FROM record_pages),
     (SELECT total(events) FROM record_pages), (SELECT count(*) FROM stale_records)"
);

/// A kept page as the export finds it.
enum Page<'row> {
    /// Its checksum holds: its records, the last id it may hold, and what
    /// it counts.
    Trusted {
        last: i64,
        tally: Tally,
        body: &'row [u8],
    },
    /// It does not, or it is not where it should be: its ids are read
    /// from the tables.
    Untrusted { first: i64, last: i64 },
}

/// Page `row` of the kept pages, the first id not yet written being
/// `next`. A page out of order (before `next`) is damage, as is a value
/// of the wrong type.
fn kept_page(row: Columns<'_>, next: i64) -> rusqlite::Result<Page<'_>> {
    let page = row.int(0)?;
    let (first, last) = span_of(page);
    if first < next {
        return Err(damaged(format!(
            "the kept pages of records are out of order (page {page} after id {next})"
        )));
    }
    let count = |i| row.int(i).map(|n| n.max(0) as u64);
    let tally = Tally {
        commitments: count(1)?,
        revisions: count(2)?,
        events: count(3)?,
    };
    let body = row.text_bytes(5)?;
    Ok(if page_checksum(page, &tally, body) == row.int(4)? {
        Page::Trusted { last, tally, body }
    } else {
        Page::Untrusted { first, last }
    })
}

/// Whether the commitments' ids span more than one run: a desk of a few
/// hundred is read alone without starting a reader. Two lookups at the
/// ends of the index.
fn spans_runs(conn: &Connection, run_records: usize) -> rusqlite::Result<bool> {
    // Each in a query of its own: SQLite finds a lone min() or max() at
    // the end of the index, but computes both in one query by reading
    // every row.
    let ends = conn.query_row(
        "SELECT (SELECT min(id) FROM commitments), (SELECT max(id) FROM commitments)",
        [],
        |row| Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, Option<i64>>(1)?)),
    )?;
    Ok(match ends {
        (Some(first), Some(last)) => i128::from(last) - i128::from(first) >= run_records as i128,
        _ => false,
    })
}

/// The lowest and highest commitment ids in a snapshot.
#[derive(Debug, Clone, Copy)]
struct IdRange {
    first: i64,
    last: i64,
}

impl IdRange {
    /// Runs of `run_records` ids each, cut by number: when ids were given
    /// one after another (no import kept ids far apart), at least every
    /// other number in the range is a commitment, no run holds more than
    /// `run_records` and few are short. `None` when the ids are sparser
    /// than that, or there are too few for two runs.
    fn cut_by_number(self, stored: Tally, run_records: usize) -> Option<Vec<i64>> {
        let step = i128::try_from(run_records.max(1)).ok()?;
        let (first, last) = (i128::from(self.first), i128::from(self.last));
        let span = last - first + 1;
        if span > 2 * i128::from(stored.commitments) || span <= step {
            return None;
        }
        let mut starts = vec![i64::MIN];
        let mut start = first + step;
        while start <= last {
            starts.push(i64::try_from(start).ok()?);
            start += step;
        }
        Some(starts)
    }
}

/// The first id of each run of `run_records` commitments, in order, the
/// first run starting at the lowest id there could be. Ids may be spread
/// over the whole range of 64-bit numbers (an import keeps them), so runs
/// are cut by the ids there are, not by arithmetic on them. Each cut costs
/// SQLite a step per commitment passed over, without reading any row.
fn run_starts(conn: &Connection, run_records: usize) -> rusqlite::Result<Vec<i64>> {
    let Some(first) = conn.query_row("SELECT min(id) FROM commitments", [], |row| {
        row.get::<_, Option<i64>>(0)
    })?
    else {
        return Ok(Vec::new());
    };
    let mut next =
        conn.prepare("SELECT id FROM commitments WHERE id >= ?1 ORDER BY id LIMIT 1 OFFSET ?2")?;
    let step = i64::try_from(run_records.max(1)).unwrap_or(i64::MAX);
    let mut starts = vec![i64::MIN];
    let mut start = first;
    while let Some(id) = next
        .query_row([start, step], |row| row.get::<_, i64>(0))
        .optional()?
    {
        // Ids come in order; on a damaged page they may not, and taking
        // such an id as the next start would search the same place for
        // ever.
        if id <= start {
            return Err(damaged(format!(
                "the commitments' ids are out of order ({id} after {start}); `followup doctor` shows the damage"
            )));
        }
        starts.push(id);
        start = id;
    }
    Ok(starts)
}

/// An export cut into runs of commitments: run `k` holds the ids from
/// `starts[k]` up to the next start, the last run every id from its start.
struct ExportRuns {
    starts: Vec<i64>,
    /// What the snapshot holds, for the export to be checked against.
    stored: Tally,
}

/// A run as a reader rendered it.
#[derive(Default)]
struct RenderedRun {
    /// The run's records, each as `,\n` and the record.
    elements: Vec<u8>,
    tally: Tally,
}

impl SharedWork for ExportRuns {
    type Reader<'conn> = Queries<'conn>;
    type Rendered = RenderedRun;

    fn runs(&self) -> usize {
        self.starts.len()
    }

    fn prepare(conn: &Connection) -> rusqlite::Result<Queries<'_>> {
        Queries::prepare(conn)
    }

    fn render(
        &self,
        reader: &mut Queries<'_>,
        run: usize,
        out: &mut RenderedRun,
    ) -> Result<(), Fault> {
        let from = self.starts[run];
        let to = self
            .starts
            .get(run + 1)
            .map_or(i64::MAX, |next| next.saturating_sub(1));
        out.elements.clear();
        out.tally = Tally::default();
        reader.push_records(from, to, &mut out.elements, &mut out.tally, |_| Ok(()))
    }
}

/// Counts of the rows an export is made of.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tally {
    pub(super) commitments: u64,
    pub(super) revisions: u64,
    pub(super) events: u64,
}

/// The rows of each kind in the snapshot, and the lowest and highest
/// commitment id. SQLite counts from the pages' own headers, without
/// reading the rows, and finds the ids at the ends of the index.
const STORED: &str = concat!(
    stored_counts!(),
    ", (SELECT min(id) FROM commitments), (SELECT max(id) FROM commitments)"
);

impl Tally {
    /// What the snapshot holds, with the range of its commitment ids
    /// (`None` for an empty desk), in one statement.
    fn stored_with_ids(conn: &Connection) -> rusqlite::Result<(Tally, Option<IdRange>)> {
        conn.query_row(STORED, [], |row| {
            let tally = Tally::counted(row)?;
            let first: Option<i64> = row.get(3)?;
            let last: Option<i64> = row.get(4)?;
            Ok((
                tally,
                first.zip(last).map(|(first, last)| IdRange { first, last }),
            ))
        })
    }

    /// The counts in a row's first three columns (see `stored_counts`).
    fn counted(row: &rusqlite::Row<'_>) -> rusqlite::Result<Tally> {
        let count = |i| row.get::<_, i64>(i).map(|n| n.max(0) as u64);
        Ok(Tally {
            commitments: count(0)?,
            revisions: count(1)?,
            events: count(2)?,
        })
    }

    fn stored(conn: &Connection) -> rusqlite::Result<Tally> {
        Self::stored_with_ids(conn).map(|(tally, _)| tally)
    }

    pub(super) fn add(&mut self, other: &Tally) {
        self.commitments += other.commitments;
        self.revisions += other.revisions;
        self.events += other.events;
    }

    /// A page damaged in a way SQLite does not notice on the way can hide
    /// the rows on it from a search by id: the export would be short, and
    /// look whole. What was written must be what the snapshot holds.
    fn check_against(&self, stored: &Tally) -> Result<(), Fault> {
        if self == stored {
            return Ok(());
        }
        let detail = format!(
            "the export read {} of its {} commitments, {} of its {} revisions and {} of its {} history events; \
             what was written is incomplete. `followup doctor` looks for damage; if the database was edited by hand, \
             have every record rendered again from the tables (sqlite3 the database \
             \"INSERT OR IGNORE INTO stale_records (id) SELECT id FROM commitments\", then any command that records something)",
            self.commitments,
            stored.commitments,
            self.revisions,
            stored.revisions,
            self.events,
            stored.events
        );
        Err(Fault::Read(damaged(detail)))
    }
}

/// The tables' statements, prepared the first time they are wanted.
fn prepared<'a, 'conn>(
    tables: &'a mut Option<Queries<'conn>>,
    conn: &'conn Connection,
) -> rusqlite::Result<&'a mut Queries<'conn>> {
    Ok(match tables {
        Some(tables) => tables,
        None => tables.insert(Queries::prepare(conn)?),
    })
}

/// The three statements an export walks side by side over a run of ids.
pub(super) struct Queries<'conn> {
    commitments: Cursor<'conn>,
    revisions: Cursor<'conn>,
    history: Cursor<'conn>,
    /// One commitment's revisions, written before the commitment itself:
    /// its current deadline is one of them.
    revisions_json: Vec<u8>,
}

impl<'conn> Queries<'conn> {
    pub(super) fn prepare(conn: &'conn Connection) -> rusqlite::Result<Self> {
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
    pub(super) fn push_records(
        &mut self,
        from: i64,
        to: i64,
        out: &mut Vec<u8>,
        tally: &mut Tally,
        mut full: impl FnMut(&mut Vec<u8>) -> Result<(), Fault>,
    ) -> Result<(), Fault> {
        self.each_record(from, to, out, |out, record| {
            tally.add(&record.tally());
            if out.len() >= WRITE_AT {
                full(out)?;
            }
            Ok(())
        })
    }

    /// Appends the record of each commitment with an id in `from..=to` to
    /// `out`, each as `,\n` and the record on one line, calling `done`
    /// after each with what it holds.
    pub(super) fn each_record(
        &mut self,
        from: i64,
        to: i64,
        out: &mut Vec<u8>,
        mut done: impl FnMut(&mut Vec<u8>, Rendered) -> Result<(), Fault>,
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
            let revision_count = push_children(
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
            let events = push_children(&mut self.history, commitment.id(), out, |row, out| {
                StoredEvent::read(row, 1).map(|event| event.push(out))
            })?;
            out.extend_from_slice(b"]}");
            let record = Rendered {
                id: commitment.id(),
                revisions: revision_count,
                events,
            };
            done(out, record)?;
        }
        Ok(())
    }
}

/// One record as rendered: its commitment, and how many revisions and
/// history events it holds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rendered {
    pub(super) id: i64,
    revisions: u64,
    events: u64,
}

impl Rendered {
    pub(super) fn tally(&self) -> Tally {
        Tally {
            commitments: 1,
            revisions: self.revisions,
            events: self.events,
        }
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
/// first row of the next commitment; says how many it appended.
fn push_children(
    rows: &mut Cursor<'_>,
    id: i64,
    out: &mut Vec<u8>,
    mut push: impl FnMut(Columns<'_>, &mut Vec<u8>) -> rusqlite::Result<()>,
) -> rusqlite::Result<u64> {
    let mut pushed = 0;
    while let Some(row) = rows.row() {
        let owner = row.int(0)?;
        if owner > id {
            break;
        }
        // A row of an id before this one belongs to no commitment (the
        // foreign keys make that impossible); it is passed over, not
        // misfiled.
        if owner == id {
            if pushed > 0 {
                out.push(b',');
            }
            pushed += 1;
            push(row, out)?;
        }
        rows.advance()?;
    }
    Ok(pushed)
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

    fn exported(store: &Store, run_records: usize, readers: usize) -> String {
        let mut out = Vec::new();
        store
            .export_json_with(&mut out, run_records, || readers)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_way_of_sharing_out_the_reading_writes_the_same_export() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(&dir.path().join("desk.db"), 200);
        let kept = exported(&store, RUN_RECORDS, 1);
        // The tables, read alone and shared out in every way.
        mark_all_stale(&store);
        let alone = exported(&store, RUN_RECORDS, 1);
        assert_eq!(alone, kept);
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
    fn ids_far_apart_are_cut_into_runs_by_the_ids_there_are() {
        let dir = tempfile::tempdir().unwrap();
        let source = desk(&dir.path().join("source.db"), 6);
        let mut records = source.export().unwrap();
        for (record, id) in records
            .iter_mut()
            .zip([1, 2, 900, 77_777, 1 << 62, i64::MAX])
        {
            record.commitment.id = id;
        }
        let mut store = Store::open(&dir.path().join("gaps.db"), Check::Full).unwrap();
        let items = records
            .into_iter()
            .map(|record| Ok(ImportItem::new("test".into(), record, true)));
        store.import(items, ImportMode::KeepIds).unwrap();
        let kept = exported(&store, RUN_RECORDS, 1);
        assert_eq!(kept.lines().count(), 6 + 2);
        mark_all_stale(&store);
        let alone = exported(&store, RUN_RECORDS, 1);
        assert_eq!(alone, kept);
        assert_eq!(exported(&store, 3, 2), alone);
        assert_eq!(exported(&store, 100, 4), alone);
        assert_eq!(
            run_starts(&store.conn, 2).unwrap(),
            [i64::MIN, 900, 1 << 62]
        );
        assert_eq!(run_starts(&store.conn, 6).unwrap(), [i64::MIN]);
    }

    #[test]
    fn ids_given_one_after_another_are_cut_by_number_and_sparse_ones_are_not() {
        let tally = |commitments| Tally {
            commitments,
            ..Tally::default()
        };
        let cut = |first, last, commitments, step| {
            IdRange { first, last }.cut_by_number(tally(commitments), step)
        };
        assert_eq!(cut(1, 1000, 1000, 256), Some(vec![i64::MIN, 257, 513, 769]));
        // Half the numbers taken: still by number, runs of at most 256.
        assert_eq!(cut(1, 1000, 500, 400), Some(vec![i64::MIN, 401, 801]));
        // Fewer than half: cut by the ids there are instead.
        assert_eq!(cut(1, 1001, 500, 256), None);
        assert_eq!(cut(1, 1 << 62, 3, 1), None);
        // Too few for two runs.
        assert_eq!(cut(1, 256, 256, 256), None);
        // At the top of the range, without overflowing.
        assert_eq!(
            cut(i64::MAX - 9, i64::MAX, 10, 4),
            Some(vec![i64::MIN, i64::MAX - 5, i64::MAX - 1])
        );
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
        // Written by SQL alone, which leaves every record stale for the
        // export to read from the tables, and by followup, which keeps
        // them rendered.
        for by_followup in [false, true] {
            one_snapshot_while_the_desk_writes(by_followup);
        }
    }

    fn one_snapshot_while_the_desk_writes(by_followup: bool) {
        const AGAIN: &str = "INSERT INTO events (commitment_id, at, author, kind, detail)
                             SELECT id, '2026-01-01T00:00:00Z', 'desk', 'note', '{\"text\":\"again\"}'
                             FROM commitments";
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
                let mut writer = Store::open(&path, Check::Full).unwrap();
                for _ in 0..40 {
                    if by_followup {
                        writer
                            .write(|tx| tx.execute_batch(AGAIN).map_err(|e| writer_error(&e)))
                            .unwrap();
                    } else {
                        conn.execute_batch(&format!("BEGIN IMMEDIATE; {AGAIN}; COMMIT;"))
                            .unwrap();
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                let stale: i64 = conn
                    .query_row("SELECT count(*) FROM stale_records", [], |row| row.get(0))
                    .unwrap();
                assert_eq!(stale, if by_followup { 0 } else { 200 });
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
        let alone = exported(&store, RUN_RECORDS, 1);
        // Read from the tables, which is what is shared out.
        mark_all_stale(&store);
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("BEGIN IMMEDIATE; DELETE FROM tags;")
            .unwrap();
        // The uncommitted change is not seen, and the export is whole.
        assert_eq!(exported(&store, 8, 2), alone);
        writer.execute_batch("ROLLBACK").unwrap();
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store.conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    fn stale(store: &Store) -> i64 {
        count(store, "SELECT count(*) FROM stale_records")
    }

    /// Every record marked stale, for the export to read from the tables.
    fn mark_all_stale(store: &Store) {
        records::mark_all_stale(&store.conn);
    }

    #[test]
    fn kept_records_export_the_same_bytes_as_the_tables() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(&dir.path().join("desk.db"), 200);
        // Every write kept its records rendered: ids 1 to 200 on pages 0
        // to 50.
        assert_eq!(stale(&store), 0);
        assert_eq!(
            count(&store, "SELECT sum(commitments) FROM record_pages"),
            200
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) = 51 AND min(page) = 0 AND max(page) = 50 FROM record_pages"
            ),
            1
        );
        let kept = exported(&store, 16, 2);
        let kept_alone = exported(&store, RUN_RECORDS, 1);
        assert_eq!(kept, kept_alone);
        // Every third stale: the tables are read.
        store
            .conn
            .execute_batch(
                "INSERT INTO stale_records (id) SELECT id FROM commitments WHERE id % 3 = 0",
            )
            .unwrap();
        assert_eq!(exported(&store, 16, 2), kept);
        // All stale, read alone and shared out.
        mark_all_stale(&store);
        assert_eq!(exported(&store, RUN_RECORDS, 1), kept);
        assert_eq!(exported(&store, 16, 3), kept);
    }

    #[test]
    fn every_command_leaves_its_record_rendered_as_the_tables_say() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = desk(&dir.path().join("desk.db"), 20);
        let at: jiff::Timestamp = "2026-02-01T10:00:00Z".parse().unwrap();
        let later = Deadline::parse("by 30 June 2026", date(2026, 2, 1)).unwrap();
        store
            .revise(2, &later, Some("talks moved"), at, "desk")
            .unwrap();
        store
            .close(
                3,
                crate::model::Outcome::Partial,
                Some("https://example.org/e"),
                at,
                "desk",
            )
            .unwrap();
        store
            .close(4, crate::model::Outcome::Missed, None, at, "desk")
            .unwrap();
        store.reopen(4, at, "desk").unwrap();
        store.note(5, "Delegations named.", at, "desk").unwrap();
        assert_eq!(stale(&store), 0);
        let kept = exported(&store, 4, 2);
        let records: Vec<serde_json::Value> = serde_json::from_str(&kept).unwrap();
        assert_eq!(records[1]["deadline"]["latest"], "2026-06-30");
        assert_eq!(records[2]["status"], "partial");
        assert_eq!(records[3]["status"], "open");
        assert_eq!(
            records[4]["history"].as_array().unwrap().last().unwrap()["text"],
            "Delegations named."
        );
        mark_all_stale(&store);
        assert_eq!(exported(&store, 4, 2), kept);
    }

    /// A daemon's tick renders the records its writes made stale once, at
    /// its end.
    #[test]
    fn a_burst_of_work_renders_its_records_at_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = desk(&dir.path().join("desk.db"), 30);
        let at: jiff::Timestamp = "2026-02-01T10:00:00Z".parse().unwrap();
        store.start_work().unwrap();
        for id in [3, 4, 5] {
            store.note(id, "Sent on.", at, "followup").unwrap();
        }
        assert_eq!(stale(&store), 3);
        let during = exported(&store, 8, 2);
        store.finish_work().unwrap();
        assert_eq!(stale(&store), 0);
        assert_eq!(exported(&store, 8, 2), during);
        // Outside a burst, each write renders its own.
        store.note(6, "Again.", at, "desk").unwrap();
        assert_eq!(stale(&store), 0);
    }

    /// A tick that cannot render its records at its end (another writer
    /// holds the database) still ends its burst: the WAL threshold and the
    /// memory map are back to their idle settings, and the records wait,
    /// read from the tables, for the next write.
    #[test]
    fn a_burst_that_cannot_render_its_records_still_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let mut store = desk(&path, 30);
        let at: jiff::Timestamp = "2026-02-01T10:00:00Z".parse().unwrap();
        store.start_work().unwrap();
        store.note(3, "Sent on.", at, "followup").unwrap();
        let expected = exported(&store, 8, 2);
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        store
            .conn
            .busy_timeout(std::time::Duration::from_millis(50))
            .unwrap();
        assert!(store.finish_work().is_err());
        other.execute_batch("ROLLBACK").unwrap();
        let setting = |pragma: &str| count(&store, &format!("PRAGMA {pragma}"));
        assert_eq!(setting("wal_autocheckpoint"), 1000);
        assert_eq!(setting("mmap_size"), 0);
        assert_eq!(stale(&store), 1);
        assert_eq!(exported(&store, 8, 2), expected);
        store.note(4, "Later.", at, "desk").unwrap();
        assert_eq!(stale(&store), 0);
    }

    /// A change made outside followup (an older build, or SQL by hand)
    /// marks the kept record stale; the export shows the change.
    #[test]
    fn a_change_from_outside_followup_is_exported_as_the_tables_hold_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let store = desk(&path, 30);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO events (commitment_id, at, author, kind, detail)
             VALUES (7, '2026-03-01T00:00:00Z', 'desk', 'note', '{\"text\":\"by hand\"}');
             UPDATE commitments SET title = 'Renamed by hand' WHERE id = 8;
             INSERT INTO tags (commitment_id, tag) VALUES (9, 'energy');
             UPDATE commitments SET tag_list = tag_list || char(31) || 'energy' WHERE id = 9;",
        )
        .unwrap();
        assert_eq!(stale(&store), 3);
        // The daemon's planning moves no record.
        conn.execute_batch("UPDATE commitments SET next_reminder_at = 12345 WHERE id = 10")
            .unwrap();
        assert_eq!(stale(&store), 3);
        let export = exported(&store, 4, 2);
        let records: Vec<serde_json::Value> = serde_json::from_str(&export).unwrap();
        let history = records[6]["history"].as_array().unwrap();
        assert_eq!(history.last().unwrap()["text"], "by hand");
        assert_eq!(records[7]["title"], "Renamed by hand");
        assert_eq!(exported(&store, RUN_RECORDS, 1), export);
    }

    /// A kept page whose bytes or counts were changed (damaged on disk, or
    /// edited by hand) fails its checksum: its commitments are read from
    /// the tables instead, and the rest still copied.
    #[test]
    fn a_kept_page_edited_by_hand_is_read_from_the_tables() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(&dir.path().join("desk.db"), 40);
        let kept = exported(&store, 8, 2);
        let original: String = store
            .conn
            .query_row("SELECT body FROM record_pages WHERE page = 3", [], |row| {
                row.get(0)
            })
            .unwrap();
        // A title changed inside a record, as a byte damaged on disk
        // would: the page's checksum tells.
        let forged = original.replace("Commitment 11", "Commitment 99");
        assert_ne!(forged, original);
        for body in ["", ",\n{\"id\":12}", forged.as_str()] {
            store
                .conn
                .execute("UPDATE record_pages SET body = ?1 WHERE page = 3", [body])
                .unwrap();
            assert_eq!(exported(&store, 8, 2), kept, "{body:?}");
        }
        store
            .conn
            .execute(
                "UPDATE record_pages SET body = ?1 WHERE page = 3",
                [&original],
            )
            .unwrap();
        // Counts moved from one column to another: the sums still agree
        // with the tables, the checksum does not.
        store
            .conn
            .execute_batch(
                "UPDATE record_pages SET revisions = revisions + 1, events = events - 1
                 WHERE page = 1",
            )
            .unwrap();
        assert_eq!(stale(&store), 0);
        assert_eq!(exported(&store, 8, 2), kept);
        // A page moved to another number: its commitments and the ones
        // of the number it took are stale, and read from the tables.
        store
            .conn
            .execute_batch(
                "UPDATE record_pages SET revisions = revisions - 1, events = events + 1
                 WHERE page = 1;
                 UPDATE record_pages SET page = 1000 WHERE page = 2",
            )
            .unwrap();
        // Ids 8 to 11 were on page 2; none is on page 1000.
        assert_eq!(stale(&store), 4);
        assert_eq!(exported(&store, 8, 2), kept);
    }

    /// Kept pages that do not account for what the tables hold: a page
    /// taken away by hand (its commitments are stale, and the export is
    /// what the tables say), an event moved to another commitment by
    /// `REPLACE`, which deletes the old row without a trigger (the pages
    /// then count one event more than the tables, which are read
    /// instead), a commitment's id changed.
    #[test]
    fn kept_records_that_disagree_with_the_tables_are_not_exported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let mut store = desk(&path, 60);
        let conn = Connection::open(&path).unwrap();
        let from_tables = |store: &Store| {
            let copy = dir.path().join("copy.db");
            let _ = std::fs::remove_file(&copy);
            store
                .conn
                .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
                .unwrap();
            let copy = Store::open(&copy, Check::Full).unwrap();
            mark_all_stale(&copy);
            exported(&copy, RUN_RECORDS, 1)
        };
        conn.execute("DELETE FROM record_pages WHERE page = 0", [])
            .unwrap();
        assert_eq!(stale(&store), 3);
        assert_eq!(exported(&store, 8, 2), from_tables(&store));
        let at = "2026-12-01T00:00:00Z".parse().unwrap();
        store.note(2, "Rendered again.", at, "desk").unwrap();
        assert_eq!(stale(&store), 0);
        let moved: i64 = conn
            .query_row(
                "SELECT max(id) FROM events WHERE commitment_id = 20",
                [],
                |row| row.get(0),
            )
            .unwrap();
        conn.execute(
            "REPLACE INTO events (id, commitment_id, at, author, kind, detail)
             VALUES (?1, 40, '2026-11-30T12:00:00Z', 'sql', 'note', '{\"text\":\"moved\"}')",
            [moved],
        )
        .unwrap();
        // The commitment that lost the event is not marked stale: once
        // the one that gained it is rendered again, the pages count one
        // event more than the tables hold, and the tables are read.
        store.note(2, "Written after.", at, "desk").unwrap();
        assert_eq!(stale(&store), 0);
        assert_eq!(exported(&store, 8, 2), from_tables(&store));
        mark_all_stale(&store);
        store.note(2, "Rendered again.", at, "desk").unwrap();
        assert_eq!(stale(&store), 0);
        let export = exported(&store, 8, 2);
        assert_eq!(export, from_tables(&store));
        assert_eq!(exported(&store, RUN_RECORDS, 1), export);
        // As the sqlite3 shell does by default: its children keep the old id.
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        conn.execute("UPDATE commitments SET id = 99999 WHERE id = 10", [])
            .unwrap();
        store.note(1, "Written after.", at, "desk").unwrap();
        // The write rendered what it could of the stale pages, the one
        // that held id 10 now without it; the commitment whose id changed
        // lost its revisions and history with it, which the export, read
        // from the tables, says.
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM record_pages WHERE instr(body, '{\"id\":10,') > 0"
            ),
            0
        );
        assert_eq!(
            count(&store, "SELECT count(*) FROM record_pages WHERE page = 2"),
            1
        );
        let err = store
            .export_json_with(&mut std::io::sink(), 8, || 2)
            .unwrap_err();
        assert!(
            err.to_string().contains("commitment 99999 has no revision"),
            "{err}"
        );
    }

    /// Schema 11 renders every page of a database it upgrades, from
    /// schema 9 (no records kept) or 10 (a record a row).
    #[test]
    fn an_upgrade_renders_every_record() {
        for from in [9, 10] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("desk.db");
            let kept = exported(&desk(&path, 50), 8, 2);
            undo_records_by_pages(&path, from);
            let store = Store::open(&path, Check::Full).unwrap();
            assert_eq!(stale(&store), 0);
            assert_eq!(
                count(&store, "SELECT sum(commitments) FROM record_pages"),
                50
            );
            assert_eq!(exported(&store, 8, 2), kept, "from schema {from}");
            assert!(path.with_extension(format!("db.schema-{from}")).exists());
        }
    }

    /// Takes a database back to schema `to` (9 or 10), as far as what
    /// upgrading from it does is concerned.
    fn undo_records_by_pages(path: &Path, to: usize) {
        {
            let conn = Connection::open(path).unwrap();
            let dropped = if to == 9 {
                "DROP TABLE record_pages; DROP TABLE stale_records;"
            } else {
                "DROP TABLE record_pages; CREATE TABLE records (id INTEGER PRIMARY KEY);"
            };
            conn.execute_batch(&format!("{dropped} PRAGMA user_version = {to};"))
                .unwrap();
            let pattern = if to == 9 {
                "record%_stale_on_%"
            } else {
                "record_pages_stale_on_%"
            };
            let triggers: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE ?1")
                .unwrap()
                .query_map([pattern], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for trigger in triggers {
                conn.execute_batch(&format!("DROP TRIGGER {trigger}"))
                    .unwrap();
            }
        }
    }

    fn writer_error(err: &rusqlite::Error) -> crate::store::Error {
        crate::store::Error::Rejected(err.to_string())
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
                .export_json_with(&mut GoesAway { left: 10_000 }, 8, || readers)
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

    /// Stale pages one after another are rendered in one walk; a damaged
    /// row in the middle leaves its own page stale and no other.
    #[test]
    fn a_damaged_row_in_a_run_of_stale_pages_leaves_only_its_page_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let mut store = desk(&path, 40);
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO events (commitment_id, at, author, kind, detail)
                 VALUES (21, '2026-01-01T00:00:00Z', 'desk', 'note', '{\"text\": tru')",
                [],
            )
            .unwrap();
        mark_all_stale(&store);
        let at = "2026-01-01T00:00:00Z".parse().unwrap();
        store.note(1, "Still here.", at, "desk").unwrap();
        // Page 5 holds ids 20 to 23.
        assert_eq!(stale(&store), 4);
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM stale_records WHERE id BETWEEN 20 AND 23"
            ),
            4
        );
        assert_eq!(
            count(&store, "SELECT count(*) FROM record_pages WHERE page != 5"),
            10
        );
        // The export reads the tables while page 5 is stale, and names
        // the damage.
        let err = store
            .export_json_with(&mut std::io::sink(), RUN_RECORDS, || 1)
            .unwrap_err();
        assert!(err.to_string().contains("tru"), "{err}");
    }

    #[test]
    fn a_damaged_row_stops_a_shared_out_export_naming_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let store = desk(&path, 300);
        // A note whose stored detail is damaged, written by SQL from
        // outside followup: its commitment's record is stale.
        let damaged = 211;
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO events (commitment_id, at, author, kind, detail)
                 VALUES (?1, '2026-01-01T00:00:00Z', 'desk', 'note', '{\"text\": tru')",
                [damaged],
            )
            .unwrap();
        // A write to another commitment goes through, and the damaged
        // record stays stale rather than stopping it.
        let mut store = store;
        let at = "2026-01-01T00:00:00Z".parse().unwrap();
        store.note(1, "Still here.", at, "desk").unwrap();
        assert_eq!(
            count(
                &store,
                &format!("SELECT count(*) FROM stale_records WHERE id = {damaged}")
            ),
            1
        );
        assert_eq!(stale(&store), 1);
        for readers in [1, 2, 3] {
            let err = store
                .export_json_with(&mut std::io::sink(), 16, || readers)
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
