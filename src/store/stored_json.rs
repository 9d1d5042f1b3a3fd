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

use rusqlite::Row;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::commitments::{SELECT_COMMITMENT, filtered};
use super::json_text::{push_bool, push_int, push_opt_str, push_str};
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
    pub(super) fn read(row: &'row Row<'row>) -> rusqlite::Result<StoredCommitment<'row>> {
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
    pub(super) fn id(&self) -> i64 {
        self.id
    }

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

    /// Appends the commitment's fields, compact and in the same order,
    /// leaving its object open for an exported record's revisions and
    /// history.
    pub(super) fn push_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        push_int(out, self.id);
        out.extend_from_slice(b",\"title\":");
        push_str(out, self.title);
        out.extend_from_slice(b",\"status\":");
        push_str(out, self.status);
        out.extend_from_slice(b",\"announced\":");
        push_str(out, self.announced);
        out.extend_from_slice(b",\"actors\":");
        self.actors.push(out);
        out.extend_from_slice(b",\"tags\":");
        self.tags.push(out);
        out.extend_from_slice(b",\"deadline\":");
        self.deadline.push_fields(out);
        out.push(b'}');
        out.extend_from_slice(b",\"source\":");
        push_opt_str(out, self.source);
        out.extend_from_slice(b",\"quote\":");
        push_opt_str(out, self.quote);
        out.extend_from_slice(b",\"evidence\":");
        push_opt_str(out, self.evidence);
        out.extend_from_slice(b",\"created_at\":");
        push_str(out, self.created_at);
        out.extend_from_slice(b",\"updated_at\":");
        push_str(out, self.updated_at);
        out.extend_from_slice(b",\"closed_at\":");
        push_opt_str(out, self.closed_at);
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

    /// Appends the same fields compact, leaving the object open.
    fn push_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"expression\":");
        push_str(out, self.expression);
        out.extend_from_slice(b",\"earliest\":");
        push_str(out, self.earliest);
        out.extend_from_slice(b",\"latest\":");
        push_str(out, self.latest);
        out.extend_from_slice(b",\"vague\":");
        push_bool(out, self.vague);
        out.extend_from_slice(b",\"anchor\":");
        push_str(out, self.anchor);
        out.extend_from_slice(b",\"version\":");
        push_int(out, self.version);
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

impl Joined<'_> {
    /// Appends the list as a compact JSON array.
    pub(super) fn push(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        if !self.0.is_empty() {
            for (i, item) in self.0.split('\u{1f}').enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(out, item);
            }
        }
        out.push(b']');
    }
}

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
pub(super) struct StoredRevision<'row> {
    deadline: StoredDeadline<'row>,
    reason: Option<&'row str>,
    at: &'row str,
}

impl<'row> StoredRevision<'row> {
    /// Reads the revision whose columns (version, the five deadline
    /// columns, reason, at) start at `first`.
    pub(super) fn read(
        row: &'row Row<'row>,
        first: usize,
    ) -> rusqlite::Result<StoredRevision<'row>> {
        Ok(StoredRevision {
            deadline: StoredDeadline::read(row, first, first + 1)?,
            reason: optional(row, first + 6)?,
            at: checked(row, first + 7, is_timestamp)?,
        })
    }

    /// Appends the revision as `Revision` serialises: the deadline's
    /// fields, then the revision's.
    pub(super) fn push(&self, out: &mut Vec<u8>) {
        self.deadline.push_fields(out);
        out.extend_from_slice(b",\"reason\":");
        push_opt_str(out, self.reason);
        out.extend_from_slice(b",\"at\":");
        push_str(out, self.at);
        out.push(b'}');
    }
}

/// An event row; its detail is a JSON object flattened into the event.
pub(super) struct StoredEvent<'row> {
    at: &'row str,
    author: &'row str,
    kind: &'row str,
    detail: &'row str,
}

impl<'row> StoredEvent<'row> {
    /// Reads the event whose columns (at, author, kind, detail) start at
    /// `first`.
    pub(super) fn read(row: &'row Row<'row>, first: usize) -> rusqlite::Result<StoredEvent<'row>> {
        Ok(StoredEvent {
            at: checked(row, first, is_timestamp)?,
            author: text(row, first + 1)?,
            kind: checked(row, first + 2, |k| EventKind::parse(k).is_some())?,
            detail: checked(row, first + 3, is_json_object)?,
        })
    }

    /// Appends the event as `Event` serialises: who and when, then the
    /// detail's own fields.
    pub(super) fn push(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"at\":");
        push_str(out, self.at);
        out.extend_from_slice(b",\"author\":");
        push_str(out, self.author);
        out.extend_from_slice(b",\"kind\":");
        push_str(out, self.kind);
        match detail_members(self.detail) {
            Some(members) => {
                if !members.is_empty() {
                    out.push(b',');
                    out.extend_from_slice(members.as_bytes());
                }
            }
            None => {
                // Not as followup writes details (spaces, another key
                // order): written again the way it would have been.
                let detail: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(self.detail).unwrap_or_default();
                let canonical = serde_json::to_string(&detail).unwrap_or_default();
                if let Some(members) = detail_members(&canonical).filter(|m| !m.is_empty()) {
                    out.push(b',');
                    out.extend_from_slice(members.as_bytes());
                }
            }
        }
        out.push(b'}');
    }
}

/// Whether `text` is one JSON object.
fn is_json_object(text: &str) -> bool {
    text.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// The members of a stored detail object (`"a":1,"b":"x"`), ready to
/// follow an event's own fields, when the object is written as followup
/// writes every detail: `serde_json::to_string` of a map, so compact and
/// with its keys in order. `None` for anything else.
fn detail_members(detail: &str) -> Option<&str> {
    let members = detail.strip_prefix('{')?.strip_suffix('}')?;
    let mut keys = TopLevelKeys::new(members);
    let mut previous: Option<&str> = None;
    for key in &mut keys {
        if previous.is_some_and(|p| p >= key) {
            return None;
        }
        previous = Some(key);
    }
    keys.compact.then_some(members)
}

/// The keys of the members of a JSON object's inside, in order, noting
/// whether it has any whitespace between tokens. Expects valid JSON (the
/// detail was checked when it was read).
struct TopLevelKeys<'a> {
    text: &'a [u8],
    at: usize,
    compact: bool,
}

impl<'a> TopLevelKeys<'a> {
    fn new(members: &'a str) -> Self {
        TopLevelKeys {
            text: members.as_bytes(),
            at: 0,
            compact: true,
        }
    }

    /// Moves past a string whose opening quote is at `self.at`, returning
    /// its inside.
    fn string(&mut self) -> &'a [u8] {
        let start = self.at + 1;
        let mut at = start;
        while at < self.text.len() {
            match self.text[at] {
                b'\\' => at += 2,
                b'"' => break,
                _ => at += 1,
            }
        }
        self.at = at + 1;
        &self.text[start..at.min(self.text.len())]
    }
}

impl<'a> Iterator for TopLevelKeys<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        // At the start of a member: its key, a colon, then the value up to
        // the comma at depth 0.
        if self.at >= self.text.len() {
            return None;
        }
        if self.text[self.at] != b'"' {
            self.compact = false;
            self.at = self.text.len();
            return None;
        }
        let key = self.string();
        let mut depth = 0usize;
        while self.at < self.text.len() {
            match self.text[self.at] {
                b'"' => {
                    self.string();
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => {
                    self.at += 1;
                    break;
                }
                b' ' | b'\n' | b'\r' | b'\t' => self.compact = false,
                _ => {}
            }
            self.at += 1;
        }
        // A key with an escape is compared as written; serde_json would
        // order by the unescaped text, so leave it to the slow path.
        if key.contains(&b'\\') {
            self.compact = false;
        }
        std::str::from_utf8(key).ok()
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
        store.export_json(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The records as serde_json writes the model, one per line.
    fn model_lines(records: &[crate::model::CommitmentRecord]) -> String {
        if records.is_empty() {
            return "[]\n".into();
        }
        let lines: Vec<String> = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        format!("[\n{}\n]\n", lines.join(",\n"))
    }

    #[test]
    fn the_export_prints_exactly_as_the_records_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        let records = store.export().unwrap();
        assert!(records.iter().any(|r| r.revisions.len() == 2));
        assert!(records.iter().all(|r| r.history.len() >= 2));
        let exported = export_json(&store);
        assert_eq!(exported, model_lines(&records));
        // One record per line: the hostile title's CR/LF stay escaped.
        assert_eq!(exported.lines().count(), records.len() + 2);

        let empty = Store::open(&dir.path().join("empty.db"), Check::Full).unwrap();
        assert_eq!(export_json(&empty), "[]\n");
    }

    #[test]
    fn a_detail_not_written_as_followup_writes_it_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        let conn = rusqlite::Connection::open(dir.path().join("desk.db")).unwrap();
        conn.execute_batch("DROP TRIGGER events_are_append_only_update;")
            .unwrap();
        // Spaces, keys out of order, a duplicate key, an escaped key: as
        // another tool might have stored them.
        for (detail, expected) in [
            ("{ \"text\" : \"spaced\" }", "\"text\":\"spaced\""),
            ("{\"z\":1,\"a\":[1, 2]}", "\"a\":[1,2],\"z\":1"),
            ("{\"a\":1,\"a\":2}", "\"a\":2"),
            ("{\"\\u0061\":1}", "\"a\":1"),
            ("{}", "\"kind\":\"note\"}"),
        ] {
            conn.execute(
                "UPDATE events SET detail = ?1 WHERE kind = 'note'",
                [detail],
            )
            .unwrap();
            let exported = export_json(&store);
            let line = exported
                .lines()
                .find(|l| l.contains("\"kind\":\"note\""))
                .unwrap();
            assert!(line.contains(expected), "{detail}: {line}");
            let records: Vec<serde_json::Value> = serde_json::from_str(&exported).unwrap();
            assert_eq!(records.len(), 3);
        }
    }

    #[test]
    fn a_damaged_history_fails_the_export_naming_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        let conn = rusqlite::Connection::open(dir.path().join("desk.db")).unwrap();
        // The history is append-only; damage comes from outside the schema.
        conn.execute_batch("DROP TRIGGER events_are_append_only_update;")
            .unwrap();
        for damaged in ["{\"text\": tru", "[1]", "{\"text\":\"x\"} trailing", ""] {
            conn.execute(
                "UPDATE events SET detail = ?1 WHERE kind = 'note'",
                [damaged],
            )
            .unwrap();
            let err = store.export_json(&mut std::io::sink()).unwrap_err();
            assert!(
                matches!(
                    err,
                    crate::store::ExportError::Store(Error::Sqlite { .. } | Error::Corrupt { .. })
                ),
                "{err:?}"
            );
            assert!(
                err.to_string()
                    .contains(&format!("unreadable value {damaged:?}")),
                "{err}"
            );
        }
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
