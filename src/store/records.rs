//! Each commitment's export record, kept rendered (schema v10): an export
//! copies one value per commitment instead of reading about thirty from
//! three tables and writing them out as JSON again.
//!
//! The kept record is only ever a copy. Triggers in the database mark the
//! commitment stale whenever a row its record is made of is written,
//! whoever writes it, and a stale mark overrides the copy: every write of
//! followup's renders the stale records again before it commits
//! (`render_stale`; a daemon's tick, once at its end), and an export reads
//! a run that still holds a stale one from the tables themselves.

use rusqlite::Connection;

use super::columns::{Cursor, Param};
use super::export::Queries;
use super::readers::{Fault, damaged};

/// Renders every stale record again and keeps it, in the caller's
/// transaction. A record that cannot be rendered (a row damaged from
/// outside followup) stays stale, for an export to read from the tables
/// and report; it does not stop the write it follows.
pub(super) fn render_stale(conn: &Connection) -> rusqlite::Result<()> {
    let stale: Vec<i64> = {
        let mut stmt = conn.prepare_cached("SELECT id FROM stale_records ORDER BY id")?;
        stmt.query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    if stale.is_empty() {
        return Ok(());
    }
    let mut keeper = Keeper::prepare(conn)?;
    for (from, to) in spans(&stale) {
        match keeper.render(from, to) {
            Ok(()) => keeper.fresh(from, to)?,
            Err(err) if is_damage(&err) => {
                // One by one, to keep all but the damaged ones.
                for id in stale.iter().copied().filter(|id| (from..=to).contains(id)) {
                    match keeper.render(id, id) {
                        Ok(()) => keeper.fresh(id, id)?,
                        Err(err) if is_damage(&err) => {}
                        Err(err) => return Err(err),
                    }
                }
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// What `doctor` reports of the kept records: how many wait to be
/// rendered again, and whether those kept account for what the tables
/// hold of the commitments that are not stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordsHealth {
    pub stale: u64,
    /// Commitments, revisions and events: as the kept records count them,
    /// and as the tables hold them, for the commitments not stale.
    pub counted: [u64; 3],
    pub held: [u64; 3],
}

impl RecordsHealth {
    pub fn agree(&self) -> bool {
        self.counted == self.held
    }
}

/// Reads every kept record's counts (not its JSON): about as long as
/// reading the pages they lie on.
pub(super) fn health(conn: &Connection) -> rusqlite::Result<RecordsHealth> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM stale_records),
                (SELECT count(*) FROM records WHERE id NOT IN (SELECT id FROM stale_records)),
                (SELECT total(revisions) FROM records WHERE id NOT IN (SELECT id FROM stale_records)),
                (SELECT total(events) FROM records WHERE id NOT IN (SELECT id FROM stale_records)),
                (SELECT count(*) FROM commitments WHERE id NOT IN (SELECT id FROM stale_records)),
                (SELECT count(*) FROM deadlines
                 WHERE commitment_id NOT IN (SELECT id FROM stale_records)),
                (SELECT count(*) FROM events
                 WHERE commitment_id NOT IN (SELECT id FROM stale_records))",
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

/// Runs of ids that follow one another, as (first, last): an import's or
/// a migration's stale records are rendered in one walk of the tables,
/// a single change's in a walk of one.
fn spans(ids: &[i64]) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = Vec::new();
    for &id in ids {
        match spans.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(id) => *last = id,
            _ => spans.push((id, id)),
        }
    }
    spans
}

/// Whether an error reading a record is the record's own (a value that is
/// not what the schema allows), not the database's: a full disk or a lost
/// file stops the write; a damaged row leaves its record stale.
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

/// The statements that render records from the tables and keep them.
struct Keeper<'conn> {
    tables: Queries<'conn>,
    /// Takes away what is kept for a span of stale ids, which is all
    /// rendered again: a copy of an id no commitment has any more (its id
    /// changed by hand) goes with it.
    clear: Cursor<'conn>,
    keep: Cursor<'conn>,
    fresh: Cursor<'conn>,
    scratch: Vec<u8>,
}

impl<'conn> Keeper<'conn> {
    fn prepare(conn: &'conn Connection) -> rusqlite::Result<Self> {
        Ok(Keeper {
            tables: Queries::prepare(conn)?,
            clear: Cursor::prepare(conn, "DELETE FROM records WHERE id BETWEEN ?1 AND ?2")?,
            keep: Cursor::prepare(
                conn,
                "INSERT OR REPLACE INTO records (id, json, revisions, events, checksum)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            fresh: Cursor::prepare(conn, "DELETE FROM stale_records WHERE id BETWEEN ?1 AND ?2")?,
            scratch: Vec::new(),
        })
    }

    /// Renders and keeps the records of the commitments in `from..=to`.
    fn render(&mut self, from: i64, to: i64) -> rusqlite::Result<()> {
        self.clear.execute(&[Param::Int(from), Param::Int(to)])?;
        let keep = &mut self.keep;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let rendered = self
            .tables
            .each_record(from, to, &mut scratch, |out, record| {
                // Each record comes as `,\n` and the record.
                let json = std::str::from_utf8(&out[2..]).map_err(|_| {
                    Fault::Read(damaged(format!(
                        "commitment {}'s record is not UTF-8",
                        record.id
                    )))
                })?;
                keep.execute(&[
                    Param::Int(record.id),
                    Param::Text(json),
                    Param::Int(i64::try_from(record.revisions).unwrap_or(i64::MAX)),
                    Param::Int(i64::try_from(record.events).unwrap_or(i64::MAX)),
                    Param::Int(checksum(json.as_bytes())),
                ])?;
                out.clear();
                Ok(())
            });
        self.scratch = scratch;
        rendered.map_err(|fault| match fault {
            Fault::Read(err) => err,
            // Nothing is written out while records are kept, and no
            // reader is involved.
            Fault::Write(io) => rusqlite::Error::ToSqlConversionFailure(io.into()),
            Fault::Stopped(why) => rusqlite::Error::ToSqlConversionFailure(why.into()),
        })
    }

    /// Marks the records of `from..=to` fresh, once kept.
    fn fresh(&mut self, from: i64, to: i64) -> rusqlite::Result<()> {
        self.fresh.execute(&[Param::Int(from), Param::Int(to)])
    }
}

/// A checksum of a kept record, stored beside it and checked as it is
/// exported: SQLite checks the structure of its pages but not the bytes of
/// a value, and a record damaged on disk (or edited by hand) would
/// otherwise be written out as it reads. Not a defence against someone
/// who can write the database, who could as well change the tables; a
/// cheap, well-mixed sum of the bytes, eight at a time in four lanes so
/// that it keeps up with the copy.
pub(super) fn checksum(bytes: &[u8]) -> i64 {
    const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [
        MIX,
        MIX.rotate_left(16),
        MIX.rotate_left(32),
        MIX.rotate_left(48),
    ];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            *lane = (*lane ^ word).wrapping_mul(MIX).rotate_left(31);
        }
    }
    let mut tail = [0u8; 32];
    let rest = blocks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    for (lane, word) in lanes.iter_mut().zip(tail.chunks_exact(8)) {
        let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        *lane = (*lane ^ word).wrapping_mul(MIX).rotate_left(31);
    }
    let mut sum = bytes.len() as u64;
    for lane in lanes {
        sum = (sum ^ lane).wrapping_mul(MIX);
        sum ^= sum >> 29;
    }
    sum as i64
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
    fn ids_that_follow_one_another_make_one_span() {
        assert_eq!(spans(&[]), []);
        assert_eq!(spans(&[4]), [(4, 4)]);
        assert_eq!(spans(&[1, 2, 3, 7, 8, 10]), [(1, 3), (7, 8), (10, 10)]);
        assert_eq!(spans(&[i64::MAX - 1, i64::MAX]), [(i64::MAX - 1, i64::MAX)]);
        assert_eq!(spans(&[i64::MIN, 0]), [(i64::MIN, i64::MIN), (0, 0)]);
    }
}
