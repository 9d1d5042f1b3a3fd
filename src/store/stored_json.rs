//! Commitments serialised straight from their rows, for `list --json` and
//! `export`.
//!
//! A desk's overdue list can run to tens of thousands of commitments, an
//! export to the whole archive. Building a
//! [`Commitment`](crate::model::Commitment) for each (parsing every date
//! and timestamp, copying every string) only to print it again was a
//! third of `list --json`'s time and half of `export`'s. The columns
//! already hold the text the JSON carries (dates and timestamps are
//! stored as they print), so here each row is written as the model's JSON
//! without the round trip. Tests hold the two byte for byte equal.

use std::cell::RefCell;

use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
use rusqlite::{Row, Rows};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::commitments::{SELECT_ALL_HISTORY, SELECT_ALL_REVISIONS, SELECT_COMMITMENT, filtered};
use super::{Error, Filter, Store};
use crate::model::{EventKind, Status};

/// One commitment as its row stores it, borrowed from the row.
pub struct StoredCommitment<'row> {
    id: i64,
    title: &'row str,
    status: &'row str,
    announced: &'row str,
    source: Option<&'row str>,
    quote: Option<&'row str>,
    evidence: Option<&'row str>,
    deadline: StoredDeadline<'row>,
    created_at: &'row str,
    updated_at: &'row str,
    closed_at: Option<&'row str>,
    tags: Joined<'row>,
    actors: Joined<'row>,
}

impl<'row> StoredCommitment<'row> {
    /// Reads a row of `SELECT_COMMITMENT`, checking the shape of each date,
    /// timestamp and status so a damaged value is reported, not printed.
    fn read(row: &'row Row<'row>) -> rusqlite::Result<StoredCommitment<'row>> {
        Ok(StoredCommitment {
            id: row.get(0)?,
            title: text(row, 1)?,
            status: checked(row, 2, |s| s.parse::<Status>().is_ok())?,
            announced: checked(row, 3, is_date)?,
            source: optional(row, 4)?,
            quote: optional(row, 5)?,
            evidence: optional(row, 6)?,
            deadline: StoredDeadline::read(row, 7, 8)?,
            created_at: checked(row, 13, is_timestamp)?,
            updated_at: checked(row, 14, is_timestamp)?,
            closed_at: match optional(row, 15)? {
                Some(_) => Some(checked(row, 15, is_timestamp)?),
                None => None,
            },
            tags: Joined(optional(row, 16)?.unwrap_or_default()),
            actors: Joined(optional(row, 17)?.unwrap_or_default()),
        })
    }
}

/// The field order and nesting of `Commitment`'s derived serialisation,
/// with the deadline's fields and its version in one object.
impl Serialize for StoredCommitment<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut c = serializer.serialize_map(Some(13))?;
        self.write_fields(&mut c)?;
        c.end()
    }
}

impl StoredCommitment<'_> {
    /// Writes the commitment's fields into `map`: its own object, or the
    /// start of an exported record's.
    fn write_fields<M: SerializeMap>(&self, c: &mut M) -> Result<(), M::Error> {
        c.serialize_entry("id", &self.id)?;
        c.serialize_entry("title", self.title)?;
        c.serialize_entry("status", self.status)?;
        c.serialize_entry("announced", self.announced)?;
        c.serialize_entry("actors", &self.actors)?;
        c.serialize_entry("tags", &self.tags)?;
        c.serialize_entry("deadline", &self.deadline)?;
        c.serialize_entry("source", &self.source)?;
        c.serialize_entry("quote", &self.quote)?;
        c.serialize_entry("evidence", &self.evidence)?;
        c.serialize_entry("created_at", self.created_at)?;
        c.serialize_entry("updated_at", self.updated_at)?;
        c.serialize_entry("closed_at", &self.closed_at)
    }
}

/// A deadline version's columns: its version, then expression, earliest,
/// latest, vague and anchor.
struct StoredDeadline<'row> {
    version: i64,
    expression: &'row str,
    earliest: &'row str,
    latest: &'row str,
    vague: bool,
    anchor: &'row str,
}

impl<'row> StoredDeadline<'row> {
    /// Reads the version at column `version` and the five deadline
    /// columns from `first` on.
    fn read(row: &'row Row<'row>, version: usize, first: usize) -> rusqlite::Result<Self> {
        Ok(StoredDeadline {
            version: row.get(version)?,
            expression: text(row, first)?,
            earliest: checked(row, first + 1, is_date)?,
            latest: checked(row, first + 2, is_date)?,
            vague: row.get(first + 3)?,
            anchor: checked(row, first + 4, is_date)?,
        })
    }

    /// The deadline's fields, then its version, as `DeadlineVersion` and
    /// `Revision` both begin.
    fn write_fields<M: SerializeMap>(&self, d: &mut M) -> Result<(), M::Error> {
        d.serialize_entry("expression", self.expression)?;
        d.serialize_entry("earliest", self.earliest)?;
        d.serialize_entry("latest", self.latest)?;
        d.serialize_entry("vague", &self.vague)?;
        d.serialize_entry("anchor", self.anchor)?;
        d.serialize_entry("version", &self.version)
    }
}

/// As `DeadlineVersion` serialises.
impl Serialize for StoredDeadline<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut d = serializer.serialize_map(Some(6))?;
        self.write_fields(&mut d)?;
        d.end()
    }
}

/// A list stored joined by U+001F, serialised as an array.
struct Joined<'row>(&'row str);

impl Serialize for Joined<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let items = self.0.split('\u{1f}').filter(|_| !self.0.is_empty());
        serializer.collect_seq(items)
    }
}

fn text<'row>(row: &'row Row<'row>, index: usize) -> rusqlite::Result<&'row str> {
    Ok(row.get_ref(index)?.as_str()?)
}

fn optional<'row>(row: &'row Row<'row>, index: usize) -> rusqlite::Result<Option<&'row str>> {
    Ok(row.get_ref(index)?.as_str_or_null()?)
}

fn checked<'row>(
    row: &'row Row<'row>,
    index: usize,
    shape: fn(&str) -> bool,
) -> rusqlite::Result<&'row str> {
    let value = text(row, index)?;
    if shape(value) {
        Ok(value)
    } else {
        Err(rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unreadable value {value:?}").into(),
        ))
    }
}

/// `YYYY-MM-DD`, as `Date` prints.
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, as `Timestamp` prints.
fn is_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 20
        && is_date(&text[..10])
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && [11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
        && b[b.len() - 1] == b'Z'
}

impl Store {
    /// Hands each commitment matching `filter` to `each` as its row is
    /// read, soonest deadline first, ready to serialise as the model's
    /// JSON. Stops at the first error.
    pub fn list_stored<E: From<Error>>(
        &self,
        filter: &Filter,
        mut each: impl FnMut(&StoredCommitment<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let (sql, values) = filtered(SELECT_COMMITMENT, filter);
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sqlite(e))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(values.iter()))
            .map_err(|e| self.sqlite(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sqlite(e))? {
            let stored = StoredCommitment::read(row).map_err(|e| self.sqlite(e))?;
            each(&stored)?;
        }
        Ok(())
    }
}

/// A revision row of `deadlines`, from its `version` column on.
struct StoredRevision<'row> {
    deadline: StoredDeadline<'row>,
    reason: Option<&'row str>,
    at: &'row str,
}

impl<'row> StoredRevision<'row> {
    /// Reads the revision whose columns (version, the five deadline
    /// columns, reason, at) start at `first`.
    fn read(row: &'row Row<'row>, first: usize) -> rusqlite::Result<StoredRevision<'row>> {
        Ok(StoredRevision {
            deadline: StoredDeadline::read(row, first, first + 1)?,
            reason: optional(row, first + 6)?,
            at: checked(row, first + 7, is_timestamp)?,
        })
    }
}

/// As `Revision` serialises: the deadline's fields, then the revision's.
impl Serialize for StoredRevision<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut r = serializer.serialize_map(Some(8))?;
        self.deadline.write_fields(&mut r)?;
        r.serialize_entry("reason", &self.reason)?;
        r.serialize_entry("at", self.at)?;
        r.end()
    }
}

/// An event row, its detail parsed (it is flattened into the event).
struct StoredEvent<'row> {
    at: &'row str,
    author: &'row str,
    kind: &'row str,
    detail: serde_json::Map<String, serde_json::Value>,
}

impl<'row> StoredEvent<'row> {
    /// Reads the event whose columns (at, author, kind, detail) start at
    /// `first`.
    fn read(row: &'row Row<'row>, first: usize) -> rusqlite::Result<StoredEvent<'row>> {
        let detail = text(row, first + 3)?;
        Ok(StoredEvent {
            at: checked(row, first, is_timestamp)?,
            author: text(row, first + 1)?,
            kind: checked(row, first + 2, |k| EventKind::parse(k).is_some())?,
            detail: serde_json::from_str(detail).map_err(|_| {
                rusqlite::Error::FromSqlConversionFailure(
                    first + 3,
                    rusqlite::types::Type::Text,
                    format!("unreadable event detail {detail:?}").into(),
                )
            })?,
        })
    }
}

/// As `Event` serialises: who and when, then the detail's own fields.
impl Serialize for StoredEvent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut e = serializer.serialize_map(None)?;
        e.serialize_entry("at", self.at)?;
        e.serialize_entry("author", self.author)?;
        e.serialize_entry("kind", self.kind)?;
        for (key, value) in &self.detail {
            e.serialize_entry(key, value)?;
        }
        e.end()
    }
}

/// Every commitment with its revisions and history, read as it is
/// written: a `Serialize` for the whole export, as `export` prints it.
///
/// Three queries ordered by commitment id are walked side by side, so each
/// record is written from its rows and forgotten: an archive of a million
/// commitments exports in the memory of one.
pub struct StoredExport<'stmt> {
    commitments: RefCell<Rows<'stmt>>,
    revisions: RefCell<Rows<'stmt>>,
    history: RefCell<Rows<'stmt>>,
    /// The first database error met while writing; serde carries only
    /// its text.
    failure: RefCell<Option<rusqlite::Error>>,
}

impl StoredExport<'_> {
    fn fail<E: serde::ser::Error>(&self, err: rusqlite::Error) -> E {
        let message = err.to_string();
        self.failure.borrow_mut().get_or_insert(err);
        E::custom(message)
    }
}

impl Serialize for StoredExport<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut records = serializer.serialize_seq(None)?;
        let mut commitments = self.commitments.borrow_mut();
        while let Some(row) = commitments.next().map_err(|e| self.fail::<S::Error>(e))? {
            let commitment = StoredCommitment::read(row).map_err(|e| self.fail::<S::Error>(e))?;
            records.serialize_element(&StoredRecord {
                export: self,
                commitment,
            })?;
        }
        records.end()
    }
}

/// One exported record: the commitment's fields, then its revisions and
/// history, taken from the side cursors as far as they stay on its id.
struct StoredRecord<'a, 'stmt, 'row> {
    export: &'a StoredExport<'stmt>,
    commitment: StoredCommitment<'row>,
}

impl Serialize for StoredRecord<'_, '_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut r = serializer.serialize_map(None)?;
        self.commitment.write_fields(&mut r)?;
        let children = |kind| Children {
            export: self.export,
            id: self.commitment.id,
            kind,
        };
        r.serialize_entry("revisions", &children(Child::Revision))?;
        r.serialize_entry("history", &children(Child::Event))?;
        r.end()
    }
}

#[derive(Clone, Copy)]
enum Child {
    Revision,
    Event,
}

/// The rows of a side cursor (commitment id in column 0) that belong to
/// commitment `id`, as an array. The cursor is left on the first row of
/// the next commitment.
struct Children<'a, 'stmt> {
    export: &'a StoredExport<'stmt>,
    id: i64,
    kind: Child,
}

impl Serialize for Children<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let export = self.export;
        let fail = |e| export.fail::<S::Error>(e);
        let mut seq = serializer.serialize_seq(None)?;
        let mut rows = match self.kind {
            Child::Revision => export.revisions.borrow_mut(),
            Child::Event => export.history.borrow_mut(),
        };
        while let Some(row) = rows.get() {
            let owner: i64 = row.get(0).map_err(fail)?;
            if owner > self.id {
                break;
            }
            // A row of an id before this one belongs to no commitment (the
            // foreign keys make that impossible); it is passed over, not
            // misfiled.
            if owner == self.id {
                match self.kind {
                    Child::Revision => {
                        seq.serialize_element(&StoredRevision::read(row, 1).map_err(fail)?)?
                    }
                    Child::Event => {
                        seq.serialize_element(&StoredEvent::read(row, 1).map_err(fail)?)?
                    }
                }
            }
            rows.advance().map_err(fail)?;
        }
        seq.end()
    }
}

impl Store {
    /// Runs `write` on the whole export (see [`StoredExport`]), read in one
    /// transaction so that it is a consistent snapshot even while the
    /// daemon or an analyst writes.
    pub fn with_export<T, E>(
        &self,
        write: impl FnOnce(&StoredExport<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<Error>,
    {
        let snapshot = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite(e))?;
        let mut commitments = snapshot
            .prepare(&format!("{SELECT_COMMITMENT} ORDER BY c.id"))
            .map_err(|e| self.sqlite(e))?;
        let mut revisions = snapshot
            .prepare(SELECT_ALL_REVISIONS)
            .map_err(|e| self.sqlite(e))?;
        let mut history = snapshot
            .prepare(SELECT_ALL_HISTORY)
            .map_err(|e| self.sqlite(e))?;
        // The side cursors start on their first row, the commitments
        // cursor before its first.
        let export = StoredExport {
            commitments: RefCell::new(commitments.query([]).map_err(|e| self.sqlite(e))?),
            revisions: RefCell::new(revisions.query([]).map_err(|e| self.sqlite(e))?),
            history: RefCell::new(history.query([]).map_err(|e| self.sqlite(e))?),
            failure: RefCell::new(None),
        };
        for side in [&export.revisions, &export.history] {
            side.borrow_mut().advance().map_err(|e| self.sqlite(e))?;
        }
        let written = write(&export);
        if let Some(err) = export.failure.take() {
            return Err(self.sqlite(err).into());
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::Deadline;
    use crate::model::{NewCommitment, Outcome};
    use crate::store::Check;
    use jiff::Timestamp;
    use jiff::civil::date;

    /// A desk with every shape of commitment the JSON has to carry.
    fn desk(dir: &std::path::Path) -> Store {
        let mut store = Store::open(&dir.join("desk.db"), Check::Full).unwrap();
        let anchor = date(2025, 10, 15);
        let new = |title: &str, due: &str, tags: &[&str], actors: &[&str]| NewCommitment {
            title: title.into(),
            announced: anchor,
            deadline: Deadline::parse(due, anchor).unwrap(),
            actors: actors.iter().map(|a| a.to_string()).collect(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            source: Some("https://example.org/news?a=1&b=\"2\"".into()),
            quote: Some("كما تم الاتفاق على عقد اجتماع\n\t\"quoted\" \\ \u{1} \u{202e}".into()),
            note: None,
        };
        let at: Timestamp = "2025-10-15T09:30:00.123456789Z".parse().unwrap();
        let hostile = "<script>alert('x')</script>\r\nBcc: x@example.org \u{0} '); DROP TABLE commitments; --";
        let mut commitments = vec![
            new(
                "Hold the joint committee meeting",
                "within two months",
                &["syria", "russia"],
                &["Syria", "Russia"],
            ),
            new(hostile, "soon", &[], &[]),
            new("عقد اجتماع اللجنة", "2025-12-31", &["energy"], &["Syria"]),
        ];
        commitments[2].source = None;
        commitments[2].quote = None;
        let ids = store.add_all(&commitments, at, "test").unwrap();
        let revised = Deadline::parse("by 31 January 2026", anchor).unwrap();
        store
            .revise(
                ids[0],
                &revised,
                Some("slipped"),
                "2025-12-20T08:00:00Z".parse().unwrap(),
                "test",
            )
            .unwrap();
        store
            .close(
                ids[2],
                Outcome::Partial,
                Some("https://example.org/done"),
                "2026-01-02T10:00:00Z".parse().unwrap(),
                "test",
            )
            .unwrap();
        store
            .note(
                ids[1],
                "Nothing yet.\n<b>Still</b> \"waiting\"",
                "2026-01-03T10:00:00Z".parse().unwrap(),
                "analyst",
            )
            .unwrap();
        store
    }

    fn export_json(store: &Store) -> String {
        let mut out = Vec::new();
        store
            .with_export(|export| {
                serde_json::to_writer_pretty(&mut out, export)
                    .map_err(|e| Error::Rejected(e.to_string()))
            })
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_export_prints_exactly_as_the_records_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        let records = store.export().unwrap();
        assert!(records.iter().any(|r| r.revisions.len() == 2));
        assert!(records.iter().all(|r| r.history.len() >= 2));
        let model = serde_json::to_string_pretty(&records).unwrap();
        assert_eq!(export_json(&store), model);

        let empty = Store::open(&dir.path().join("empty.db"), Check::Full).unwrap();
        assert_eq!(export_json(&empty), "[]");
    }

    #[test]
    fn a_damaged_history_fails_the_export_naming_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        let conn = rusqlite::Connection::open(dir.path().join("desk.db")).unwrap();
        // The history is append-only; damage comes from outside the schema.
        conn.execute_batch(
            "DROP TRIGGER events_are_append_only_update;
             UPDATE events SET detail = '{\"text\": tru' WHERE kind = 'note';",
        )
        .unwrap();
        let err = store
            .with_export(|export| {
                serde_json::to_writer_pretty(std::io::sink(), export)
                    .map_err(|e| Error::Rejected(e.to_string()))
            })
            .unwrap_err();
        assert!(
            matches!(err, Error::Sqlite { .. } | Error::Corrupt { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("unreadable event detail"), "{err}");
    }

    fn stored_json(store: &Store, filter: &Filter) -> String {
        use serde::ser::SerializeSeq;
        let mut out = Vec::new();
        let mut json = serde_json::Serializer::pretty(&mut out);
        let mut seq = json.serialize_seq(None).unwrap();
        store
            .list_stored(filter, |c| {
                seq.serialize_element(c)
                    .map_err(|e| Error::Rejected(e.to_string()))
            })
            .unwrap();
        SerializeSeq::end(seq).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_print_exactly_as_the_model_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        for filter in [
            Filter::default(),
            Filter {
                overdue_on: Some(date(2026, 6, 1)),
                ..Filter::default()
            },
            Filter {
                tags: vec!["nothing".into()],
                ..Filter::default()
            },
        ] {
            let model = serde_json::to_string_pretty(&store.list(&filter).unwrap()).unwrap();
            assert_eq!(stored_json(&store, &filter), model, "{filter:?}");
        }
        assert!(stored_json(&store, &Filter::default()).contains("\\r\\nBcc"));
    }

    #[test]
    fn a_damaged_value_is_reported_not_printed() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        for (column, value) in [
            ("latest", "2025-13"),
            ("created_at", "yesterday"),
            ("closed_at", "2026-01-02 10:00"),
            ("status", "lost"),
        ] {
            let sql = format!("UPDATE commitments SET {column} = ?1 WHERE id = 3");
            let conn = rusqlite::Connection::open(dir.path().join("desk.db")).unwrap();
            // As damage would: past the schema's own checks.
            conn.execute_batch("PRAGMA ignore_check_constraints = ON")
                .unwrap();
            let before: String = conn
                .query_row(
                    &format!("SELECT {column} FROM commitments WHERE id = 3"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            conn.execute(&sql, [value]).unwrap();
            let err = store
                .list_stored(&Filter::default(), |_| Ok::<(), Error>(()))
                .unwrap_err();
            assert!(err.to_string().contains(value), "{column}: {err}");
            conn.execute(&sql, [before]).unwrap();
        }
        assert!(
            store
                .list_stored(&Filter::default(), |_| Ok::<(), Error>(()))
                .is_ok()
        );
    }

    #[test]
    fn shapes_of_dates_and_timestamps() {
        assert!(is_date("2025-10-15"));
        for bad in ["2025-1-15", "2025/10/15", "20251015", "2025-10-15 ", ""] {
            assert!(!is_date(bad), "{bad:?}");
        }
        assert!(is_timestamp("2025-10-15T09:30:00Z"));
        assert!(is_timestamp("2025-10-15T09:30:00.123456789Z"));
        for bad in [
            "2025-10-15T09:30Z",
            "2025-10-15 09:30:00Z",
            "2025-10-15T09:30:00",
            "2025-10-15T09:30:00+01:00",
        ] {
            assert!(!is_timestamp(bad), "{bad:?}");
        }
    }
}
