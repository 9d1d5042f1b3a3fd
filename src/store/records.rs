//! The export's records kept rendered, a page of four commitments to a
//! row (schema v11): an export copies one value per four commitments
//! instead of reading about thirty for each from three tables and writing
//! them out as JSON again. (v10 kept one row per commitment; SQLite's own
//! work for each row was then most of an export's time.)
//!
//! Page `p` holds the records of the commitments with ids `4p` to
//! `4p + 3`, in id order, each as `,\n` and the record: the bytes the
//! export writes. A page is only ever a copy. Triggers in the database
//! mark a commitment stale whenever a row its record is made of is
//! written, whoever writes it, and a stale mark overrides the copy: every
//! write of followup's renders the pages of stale commitments again before
//! it commits (`render_stale`; a daemon's tick, once at its end), and an
//! export reads the tables themselves while any commitment is stale.

use rusqlite::Connection;

use super::columns::{Cursor, Param};
use super::export::{Queries, Tally};
use super::readers::{Fault, damaged};

/// log2 of the commitments a page holds: four. Four records of a
/// kilobyte fit on one page of the database file; a page of sixteen
/// spilled onto pages of its own, each of which every write to one of its
/// commitments moved and wrote again: `add` took 5% longer than with a
/// record a row, where four took no longer (81 turns each). An export
/// reads a row per page, and SQLite's work for a row is spread over four
/// records. The schema's triggers and [`health`] say the same in SQL
/// (`<< 2`, `>> 2`); a change here is a new schema version.
pub(super) const PAGE_BITS: u32 = 2;

/// The page commitment `id` belongs to: `id` divided by four, rounded
/// down (as SQLite's `id >> 2`, for the ids of every sign a hand edit can
/// give).
pub(super) fn page_of(id: i64) -> i64 {
    id >> PAGE_BITS
}

/// The ids page `page` holds, first and last.
pub(super) fn span_of(page: i64) -> (i64, i64) {
    let first = page << PAGE_BITS;
    (first, first | ((1 << PAGE_BITS) - 1))
}

/// Renders again every page that holds a stale commitment, in the
/// caller's transaction. A page that cannot be rendered (a row damaged
/// from outside followup) stays stale, for an export to read from the
/// tables and report; it does not stop the write it follows.
pub(super) fn render_stale(conn: &Connection) -> rusqlite::Result<()> {
    let stale: Vec<i64> = {
        let mut stmt = conn.prepare_cached("SELECT id FROM stale_records ORDER BY id")?;
        stmt.query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    if stale.is_empty() {
        return Ok(());
    }
    let mut pages: Vec<i64> = stale.into_iter().map(page_of).collect();
    pages.dedup();
    let mut keeper = Keeper::prepare(conn)?;
    for run in pages.chunk_by(|a, b| a.checked_add(1) == Some(*b)) {
        let (first, last) = (run[0], run[run.len() - 1]);
        match keeper.render(first, last) {
            Ok(()) => {}
            Err(err) if is_damage(&err) && first != last => {
                // Page by page, to keep all but the damaged ones.
                for &page in run {
                    match keeper.render(page, page) {
                        Ok(()) => {}
                        Err(err) if is_damage(&err) => {}
                        Err(err) => return Err(err),
                    }
                }
            }
            Err(err) if is_damage(&err) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// What `doctor` reports of the kept pages: how many commitments wait to
/// be rendered again, and whether the pages account for what the tables
/// hold of the commitments on pages with none stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordsHealth {
    pub stale: u64,
    /// Commitments, revisions and events: as the kept pages count them,
    /// and as the tables hold them, for the pages with none stale.
    pub counted: [u64; 3],
    pub held: [u64; 3],
}

impl RecordsHealth {
    pub fn agree(&self) -> bool {
        self.counted == self.held
    }
}

/// Reads every kept page's counts (not its records) and counts the tables.
pub(super) fn health(conn: &Connection) -> rusqlite::Result<RecordsHealth> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM stale_records),
                (SELECT total(commitments) FROM record_pages
                 WHERE page NOT IN (SELECT id >> 2 FROM stale_records)),
                (SELECT total(revisions) FROM record_pages
                 WHERE page NOT IN (SELECT id >> 2 FROM stale_records)),
                (SELECT total(events) FROM record_pages
                 WHERE page NOT IN (SELECT id >> 2 FROM stale_records)),
                (SELECT count(*) FROM commitments
                 WHERE id >> 2 NOT IN (SELECT id >> 2 FROM stale_records)),
                (SELECT count(*) FROM deadlines
                 WHERE commitment_id >> 2 NOT IN (SELECT id >> 2 FROM stale_records)),
                (SELECT count(*) FROM events
                 WHERE commitment_id >> 2 NOT IN (SELECT id >> 2 FROM stale_records))",
        [],
        |row| {
            let n = |i| row.get::<_, f64>(i).map(|n| n.max(0.0) as u64);
            Ok(RecordsHealth {
                stale: n(0)?,
                counted: [n(1)?, n(2)?, n(3)?],
                held: [n(4)?, n(5)?, n(6)?],
            })
        },
    )
}

/// Whether an error reading a record is the record's own (a value that is
/// not what the schema allows), not the database's: a full disk or a lost
/// file stops the write; a damaged row leaves its page stale.
pub(super) fn is_damage(err: &rusqlite::Error) -> bool {
    match err {
        rusqlite::Error::SqliteFailure(failure, _) => {
            failure.code == rusqlite::ErrorCode::DatabaseCorrupt
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => true,
        _ => false,
    }
}

/// The statements that render pages from the tables and keep them.
struct Keeper<'conn> {
    tables: Queries<'conn>,
    keep: Cursor<'conn>,
    /// Takes away the page of a span that holds no commitment any more
    /// (its ids changed by hand).
    drop: Cursor<'conn>,
    fresh: Cursor<'conn>,
    body: Vec<u8>,
}

impl<'conn> Keeper<'conn> {
    fn prepare(conn: &'conn Connection) -> rusqlite::Result<Self> {
        Ok(Keeper {
            tables: Queries::prepare(conn)?,
            // A replaced row fires no delete trigger (recursive triggers
            // are off), so it does not mark its commitments stale.
            keep: Cursor::prepare(
                conn,
                "INSERT OR REPLACE INTO record_pages (page, commitments, revisions, events, checksum, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?,
            drop: Cursor::prepare(conn, "DELETE FROM record_pages WHERE page = ?1")?,
            fresh: Cursor::prepare(conn, "DELETE FROM stale_records WHERE id BETWEEN ?1 AND ?2")?,
            body: Vec::new(),
        })
    }

    /// Renders pages `first..=last` from the tables in one walk, keeps
    /// them, and marks their commitments fresh: a tick's or an import's
    /// thousands of stale pages cost one walk, not one each. A page of
    /// ids no commitment has any more (changed by hand) is taken away.
    /// (Rendering only a write's own record and setting it among the
    /// others as kept saved nothing on pages of four: reading the kept
    /// page cost what rendering three records did.)
    fn render(&mut self, first: i64, last: i64) -> rusqlite::Result<()> {
        let Keeper {
            tables,
            keep,
            drop,
            fresh,
            body,
        } = self;
        body.clear();
        // The page being rendered: its number, what it counts, where its
        // records begin in `body`; and where the last record ended.
        let mut page: Option<(i64, Tally, usize)> = None;
        let mut end = 0;
        let mut next_page = first;
        let mut close = |page: (i64, Tally, usize), records: &[u8], next_page: &mut i64| {
            let (number, tally, _) = page;
            // Pages passed over hold no commitment.
            for empty in *next_page..number {
                drop.execute(&[Param::Int(empty)])?;
            }
            *next_page = number.saturating_add(1);
            keep_page(keep, number, &tally, records)
        };
        let walked = tables.each_record(span_of(first).0, span_of(last).1, body, |out, record| {
            let number = page_of(record.id);
            if page.is_none_or(|(current, _, _)| current != number) {
                if let Some(done) = page.take() {
                    close(done, &out[done.2..end], &mut next_page)?;
                    // What is kept need not stay in memory.
                    out.drain(..end);
                    end = 0;
                }
                page = Some((number, Tally::default(), end));
            }
            if let Some((_, tally, _)) = page.as_mut() {
                tally.add(&record.tally());
            }
            end = out.len();
            Ok(())
        });
        walked.map_err(as_sqlite)?;
        if let Some(done) = page.take() {
            close(done, &body[done.2..end], &mut next_page).map_err(as_sqlite)?;
        }
        for empty in next_page..=last {
            drop.execute(&[Param::Int(empty)])?;
        }
        fresh.execute(&[Param::Int(span_of(first).0), Param::Int(span_of(last).1)])
    }
}

/// A fault while pages are kept, as the SQLite error it stands for:
/// nothing is written out then, and no reader is involved.
fn as_sqlite(fault: Fault) -> rusqlite::Error {
    match fault {
        Fault::Read(err) => err,
        Fault::Write(io) => rusqlite::Error::ToSqlConversionFailure(io.into()),
        Fault::Stopped(why) => rusqlite::Error::ToSqlConversionFailure(why.into()),
    }
}

/// Keeps page `page`, its records `records`, with what it counts.
fn keep_page(keep: &mut Cursor<'_>, page: i64, tally: &Tally, records: &[u8]) -> Result<(), Fault> {
    let (first, last) = span_of(page);
    let text = std::str::from_utf8(records).map_err(|_| {
        damaged(format!(
            "the records of commitments {first} to {last} are not UTF-8"
        ))
    })?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    keep.execute(&[
        Param::Int(page),
        Param::Int(count(tally.commitments)),
        Param::Int(count(tally.revisions)),
        Param::Int(count(tally.events)),
        Param::Int(page_checksum(page, tally, records)),
        Param::Text(text),
    ])?;
    Ok(())
}

/// The checksum a kept page is stored with: of its records' bytes, its
/// number and its counts, so that a page moved or recounted by hand fails
/// it as surely as one whose bytes were damaged.
pub(super) fn page_checksum(page: i64, tally: &Tally, body: &[u8]) -> i64 {
    [
        page as u64,
        tally.commitments,
        tally.revisions,
        tally.events,
    ]
    .into_iter()
    .fold(checksum(body) as u64, fold_in) as i64
}

/// A checksum of kept bytes, stored beside them and checked as they are
/// exported: SQLite checks the structure of its pages but not the bytes of
/// a value, and a page damaged on disk (or edited by hand) would
/// otherwise be written out as it reads. Not a defence against someone
/// who can write the database, who could as well change the tables; a
/// cheap, well-mixed sum of the bytes, eight at a time in four lanes so
/// that it keeps up with the copy.
fn checksum(bytes: &[u8]) -> i64 {
    let mut lanes = [
        MIX,
        MIX.rotate_left(16),
        MIX.rotate_left(32),
        MIX.rotate_left(48),
    ];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        absorb(&mut lanes, block);
    }
    let mut tail = [0u8; 32];
    let rest = blocks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    absorb(&mut lanes, &tail);
    lanes.into_iter().fold(bytes.len() as u64, fold_in) as i64
}

/// The odd constant the checksums multiply by (2^64 over the golden
/// ratio), which spreads every bit of a word over the whole product.
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Takes 32 bytes into the four lanes, eight to each.
fn absorb(lanes: &mut [u64; 4], block: &[u8]) {
    for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
        let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        *lane = (*lane ^ word).wrapping_mul(MIX).rotate_left(31);
    }
}

/// Mixes `n` into `sum`.
fn fold_in(sum: u64, n: u64) -> u64 {
    let sum = (sum ^ n).wrapping_mul(MIX);
    sum ^ (sum >> 29)
}

/// Marks every record stale, for an export to read the tables: what a
/// change from outside followup that no trigger sees would need.
#[cfg(test)]
pub(super) fn mark_all_stale(conn: &Connection) {
    conn.execute_batch("INSERT OR IGNORE INTO stale_records (id) SELECT id FROM commitments")
        .expect("every record marked stale");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checksum_changes_with_any_byte_and_with_the_length() {
        let record = br#"{"id":7,"title":"Hold the joint committee meeting","history":[]}"#;
        let whole = checksum(record);
        assert_eq!(checksum(record), whole);
        for at in 0..record.len() {
            for bit in 0..8 {
                let mut damaged = record.to_vec();
                damaged[at] ^= 1 << bit;
                assert_ne!(checksum(&damaged), whole, "byte {at}, bit {bit}");
            }
        }
        assert_ne!(checksum(&record[..record.len() - 1]), whole);
        let mut longer = record.to_vec();
        longer.push(0);
        assert_ne!(checksum(&longer), whole);
        // Zeros at the end of a length that is not a multiple of 32 are
        // not the same as no bytes there.
        assert_ne!(checksum(&[0; 5]), checksum(&[0; 6]));
        assert_ne!(checksum(b""), checksum(&[0]));
    }

    #[test]
    fn a_page_holds_four_ids_of_any_sign() {
        assert_eq!(span_of(page_of(0)), (0, 3));
        assert_eq!(span_of(page_of(17)), (16, 19));
        assert_eq!(span_of(page_of(-1)), (-4, -1));
        assert_eq!(span_of(page_of(i64::MAX)), (i64::MAX - 3, i64::MAX));
        assert_eq!(span_of(page_of(i64::MIN)), (i64::MIN, i64::MIN + 3));
        for id in [-33, -17, -16, -1, 0, 1, 15, 16, 1000] {
            let (first, last) = span_of(page_of(id));
            assert!(first <= id && id <= last, "{id} in {first}..={last}");
            assert_eq!(last - first, 3);
        }
    }

    #[test]
    fn a_page_checksum_changes_with_its_number_and_its_counts() {
        let tally = Tally {
            commitments: 3,
            revisions: 4,
            events: 5,
        };
        let body = b",\n{\"id\":1}";
        let kept = page_checksum(2, &tally, body);
        assert_ne!(page_checksum(3, &tally, body), kept);
        for changed in [
            Tally {
                commitments: 4,
                ..tally
            },
            Tally {
                revisions: 5,
                ..tally
            },
            Tally { events: 6, ..tally },
        ] {
            assert_ne!(page_checksum(2, &changed, body), kept);
        }
        assert_ne!(page_checksum(2, &tally, b",\n{\"id\":2}"), kept);
    }

    /// Every kept page's checksum is stored in the database: the sum of
    /// given bytes, number and counts may not change without a new schema
    /// version that renders every page again.
    #[test]
    fn a_page_checksum_is_what_the_kept_pages_were_stored_with() {
        let tally = Tally {
            commitments: 4,
            revisions: 5,
            events: 9,
        };
        let body = ",\n{\"id\":8,\"title\":\"Hold the joint committee meeting\"}".repeat(3);
        assert_eq!(
            page_checksum(2, &tally, body.as_bytes()),
            -3_763_481_899_895_519_663
        );
    }
}
