//! Bulk reading and writing of whole commitment records, for `export` and
//! `import`. An import is one IMMEDIATE transaction: every record lands or
//! none does.

use tracing::warn;

use super::columns::{Cursor, Param};
use super::commitments::{
    INSERT_ACTOR, INSERT_DEADLINE, INSERT_EVENT, INSERT_TAG, SELECT_COMMITMENT,
    SELECT_HISTORY_BETWEEN, SELECT_REVISIONS_BETWEEN,
};
use super::{Error, Result, Store};
use crate::model::{CommitmentId, CommitmentRecord};

/// How an import's transaction is journalled (see `journal_for_import`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Journal {
    Wal,
    Rollback,
}

/// What to do with the ids carried by imported records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Keep each record's id; refuse the whole import if one is taken.
    KeepIds,
    /// Give every record a new id (merging another desk's export).
    Renumber,
}

/// One record to import and where it came from, for error messages.
#[derive(Debug, Clone)]
pub struct ImportItem {
    /// Where the record starts in the file ("line 12").
    origin: String,
    record: CommitmentRecord,
    /// False for hand-written rows without an id.
    has_id: bool,
    stored: StoredForms,
}

impl ImportItem {
    /// Works out the text forms the database stores for `record` (see
    /// [`StoredForms`]); the thread that reads the file calls this, so that
    /// the thread writing the database only binds them.
    pub fn new(origin: String, record: CommitmentRecord, has_id: bool) -> ImportItem {
        let stored = StoredForms::of(&record);
        ImportItem {
            origin,
            record,
            has_id,
            stored,
        }
    }

    pub fn record(&self) -> &CommitmentRecord {
        &self.record
    }

    /// False for hand-written rows without an id.
    pub fn has_id(&self) -> bool {
        self.has_id
    }
}

/// A record's dates, timestamps, lists and event details as the database
/// stores them, one after another in one buffer. Formatting them on the
/// writing thread was an eighth of its work in an import, and that thread
/// is the one an import waits for.
#[derive(Debug, Clone)]
struct StoredForms {
    /// Dates, timestamps, and JSON or lists of strings.
    text: String,
    /// Where each value ends in `text`, in the order `of` wrote them.
    ends: Vec<usize>,
}

/// [`StoredForms`] being written.
struct FormsWriter {
    text: Vec<u8>,
    ends: Vec<usize>,
}

/// The commitment's own values in [`StoredForms`], in the order written;
/// each revision's [`RevisionForm`]s and then each event's [`EventForm`]s
/// follow them.
#[derive(Debug, Clone, Copy)]
enum CommitmentForm {
    Announced,
    Earliest,
    Latest,
    Anchor,
    TagList,
    ActorList,
    CreatedAt,
    UpdatedAt,
    /// Empty when the commitment is open.
    ClosedAt,
}

#[derive(Debug, Clone, Copy)]
enum RevisionForm {
    Earliest,
    Latest,
    Anchor,
    At,
}

#[derive(Debug, Clone, Copy)]
enum EventForm {
    At,
    Detail,
}

const COMMITMENT_FORMS: usize = CommitmentForm::ClosedAt as usize + 1;
const REVISION_FORMS: usize = RevisionForm::At as usize + 1;
const EVENT_FORMS: usize = EventForm::Detail as usize + 1;

impl StoredForms {
    fn of(record: &CommitmentRecord) -> StoredForms {
        let c = &record.commitment;
        let d = &c.deadline.deadline;
        let mut forms = FormsWriter {
            text: Vec::with_capacity(256),
            ends: Vec::with_capacity(
                COMMITMENT_FORMS
                    + REVISION_FORMS * record.revisions.len()
                    + EVENT_FORMS * record.history.len(),
            ),
        };
        forms.date(c.announced);
        forms.date(d.earliest);
        forms.date(d.latest);
        forms.date(d.anchor);
        forms.push(super::commitments::tag_list(&c.tags));
        forms.push(super::commitments::actor_list(&c.actors));
        forms.timestamp(c.created_at);
        forms.timestamp(c.updated_at);
        match c.closed_at {
            Some(at) => forms.timestamp(at),
            None => forms.push(""),
        }
        for revision in &record.revisions {
            forms.date(revision.deadline.earliest);
            forms.date(revision.deadline.latest);
            forms.date(revision.deadline.anchor);
            forms.timestamp(revision.at);
        }
        for event in &record.history {
            forms.timestamp(event.at);
            super::json_text::push_object(&mut forms.text, &event.detail);
            forms.ends.push(forms.text.len());
        }
        // Every value is UTF-8 (dates and timestamps are ASCII, lists and
        // JSON are built from strings), so each lies on character
        // boundaries. Checked here, on the thread that reads the file,
        // so that the writing thread binds them as text without a check.
        let text = String::from_utf8(forms.text)
            .unwrap_or_else(|bad| String::from_utf8_lossy(bad.as_bytes()).into_owned());
        StoredForms {
            text,
            ends: forms.ends,
        }
    }

    /// The value at `place` (in the order written), to bind as TEXT.
    fn at(&self, place: usize) -> Param<'_> {
        let start = match place {
            0 => 0,
            _ => self.ends[place - 1],
        };
        Param::Text(self.text.get(start..self.ends[place]).unwrap_or_default())
    }

    fn get(&self, form: CommitmentForm) -> Param<'_> {
        self.at(form as usize)
    }

    fn revision(&self, index: usize, form: RevisionForm) -> Param<'_> {
        self.at(COMMITMENT_FORMS + REVISION_FORMS * index + form as usize)
    }

    fn event(&self, revisions: usize, index: usize, form: EventForm) -> Param<'_> {
        self.at(COMMITMENT_FORMS + REVISION_FORMS * revisions + EVENT_FORMS * index + form as usize)
    }
}

impl FormsWriter {
    fn push(&mut self, value: impl std::fmt::Display) {
        use std::io::Write;
        // Writing to memory cannot fail.
        let _ = write!(self.text, "{value}");
        self.ends.push(self.text.len());
    }

    fn timestamp(&mut self, at: jiff::Timestamp) {
        crate::model::push_timestamp(&mut self.text, at);
        self.ends.push(self.text.len());
    }

    fn date(&mut self, date: jiff::civil::Date) {
        match crate::model::iso_date(date) {
            Some(text) => {
                self.text.extend_from_slice(&text);
                self.ends.push(self.text.len());
            }
            None => self.push(date),
        }
    }
}

impl Store {
    /// Every commitment with its revisions and history, in id order, as
    /// values (`export_json` writes the same without holding them all).
    pub fn export(&self) -> Result<Vec<CommitmentRecord>> {
        // One snapshot for the three reads below, whoever writes meanwhile.
        let _snapshot = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite(e))?;
        let mut records: Vec<CommitmentRecord> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut stmt = self
            .conn
            .prepare(&format!("{SELECT_COMMITMENT} ORDER BY c.id"))
            .map_err(|e| self.sqlite(e))?;
        let commitments = stmt
            .query_map([], super::commitments::commitment_from_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sqlite(e))?;
        for commitment in commitments {
            index.insert(commitment.id, records.len());
            records.push(CommitmentRecord {
                commitment,
                revisions: Vec::new(),
                history: Vec::new(),
            });
        }
        // Revisions and history in one pass each, in index order, rather
        // than two queries per commitment: the per-commitment queries were
        // most of an export's time.
        self.each_child(
            SELECT_REVISIONS_BETWEEN,
            super::commitments::revision_at,
            |id, revision| {
                if let Some(&at) = index.get(&id) {
                    records[at].revisions.push(revision);
                }
            },
        )?;
        self.each_child(
            SELECT_HISTORY_BETWEEN,
            super::commitments::event_at,
            |id, event| {
                if let Some(&at) = index.get(&id) {
                    records[at].history.push(event);
                }
            },
        )?;
        Ok(records)
    }

    /// Runs `sql` (commitment id first, then the columns `read` takes from
    /// column 1) and hands each row's commitment id and value to `each`.
    fn each_child<T>(
        &self,
        sql: &str,
        read: fn(&rusqlite::Row<'_>, usize) -> rusqlite::Result<T>,
        mut each: impl FnMut(CommitmentId, T),
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.sqlite(e))?;
        let mut rows = stmt
            .query([i64::MIN, i64::MAX])
            .map_err(|e| self.sqlite(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sqlite(e))? {
            let id: CommitmentId = row.get(0).map_err(|e| self.sqlite(e))?;
            each(id, read(row, 1).map_err(|e| self.sqlite(e))?);
        }
        Ok(())
    }

    /// Stores `items` in one transaction, returning their ids in order.
    /// Items arrive as they are read, so a file can be parsed while the
    /// records before it are written; an item that could not be read
    /// (`Err` with the message to show) abandons the whole import.
    pub fn import(
        &mut self,
        items: impl IntoIterator<Item = std::result::Result<ImportItem, String>>,
        mode: ImportMode,
    ) -> Result<Vec<CommitmentId>> {
        self.import_then(items, mode, drop)
    }

    /// As [`Store::import`], handing each item to `written` once it is in
    /// the transaction. The importing command sends them back to the
    /// thread that read them, to be freed there: glibc frees memory of
    /// another thread under that thread's arena lock, and doing so for
    /// every record cost the writing thread a sixth of its time.
    pub fn import_then(
        &mut self,
        items: impl IntoIterator<Item = std::result::Result<ImportItem, String>>,
        mode: ImportMode,
        written: impl FnMut(ImportItem),
    ) -> Result<Vec<CommitmentId>> {
        // A bulk import touches every page it writes several times (rows,
        // then each index); a cache that holds them all keeps SQLite from
        // spilling half-built pages to the WAL and reading them back. The
        // cache grows only as pages are used, and this connection ends with
        // the command.
        //
        // Foreign keys are not checked while the records go in: every
        // deadline, tag, actor and event row takes its commitment id from
        // the row inserted just before it in the same transaction, so the
        // check (a lookup per child row, a quarter of the import's work)
        // could never fail. They are switched back on before this returns,
        // whatever happens.
        self.conn
            .execute_batch("PRAGMA cache_size = -524288; PRAGMA foreign_keys = OFF;")
            .map_err(|e| self.sqlite(e))?;
        let journal = self.journal_for_import()?;
        let imported = self.import_records(items, mode, written);
        if journal == Journal::Rollback {
            // Committed or rolled back either way; should the switch back
            // fail (another process opened the file meanwhile), the next
            // open switches it, as every open does.
            if let Err(e) = self.switch_journal("wal") {
                warn!(error = %e, "the database stays in rollback-journal mode until it is next opened");
            }
        }
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON")
            .map_err(|e| self.sqlite(e))?;
        imported
    }

    /// An import into an empty database is written in rollback-journal
    /// mode. In WAL mode every page would be written twice: into the WAL at
    /// commit, then into the database by the checkpoint. With a rollback
    /// journal, pages beyond the file's old end need no journal at all, so
    /// a new desk's archive is written once (a fifth of the import's time
    /// at 100,000 records) and is just as all-or-nothing: a crash leaves a
    /// journal that the next open rolls back. Switching needs the file to
    /// itself; if another process has it open, the import stays in WAL.
    fn journal_for_import(&mut self) -> Result<Journal> {
        let empty: bool = self
            .conn
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM commitments)", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.sqlite(e))?;
        if !empty {
            return Ok(Journal::Wal);
        }
        self.conn
            .busy_timeout(std::time::Duration::ZERO)
            .map_err(|e| self.sqlite(e))?;
        let switched = self.switch_journal("delete");
        self.conn
            .busy_timeout(super::BUSY_TIMEOUT)
            .map_err(|e| self.sqlite(e))?;
        Ok(match switched {
            Ok(true) => Journal::Rollback,
            _ => Journal::Wal,
        })
    }

    /// Sets the journal mode; true if SQLite took it.
    fn switch_journal(&self, mode: &str) -> Result<bool> {
        let now: String = self
            .conn
            .query_row(&format!("PRAGMA journal_mode = {mode}"), [], |r| r.get(0))
            .map_err(|e| self.sqlite(e))?;
        Ok(now.eq_ignore_ascii_case(mode))
    }

    fn import_records(
        &mut self,
        items: impl IntoIterator<Item = std::result::Result<ImportItem, String>>,
        mode: ImportMode,
        mut written: impl FnMut(ImportItem),
    ) -> Result<Vec<CommitmentId>> {
        let path = self.path.clone();
        self.write(|tx| {
            let set_aside = set_aside_indexes(tx).map_err(|e| super::classify(&path, e))?;
            let mut inserts = Inserts::prepare(tx).map_err(|e| super::classify(&path, e))?;
            let mut ids = Vec::new();
            for item in items {
                let item = item.map_err(Error::Rejected)?;
                let keep = mode == ImportMode::KeepIds && item.has_id;
                let id = inserts.commitment(tx, &item, keep).map_err(|e| {
                    // A kept id that is already taken fails this insert on
                    // the primary key, which says so without a lookup per
                    // record.
                    let taken = matches!(
                        &e,
                        rusqlite::Error::SqliteFailure(f, _)
                            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    );
                    let id = item.record.commitment.id;
                    if keep && taken && ids.contains(&id) {
                        return Error::RecordRefused {
                            origin: item.origin.clone(),
                            why: format!(
                                "id {id} is given to an earlier record of this file too; nothing was imported. \
                                 Give each record its own id, or pass --renumber to give the records new ids"
                            ),
                        };
                    }
                    if keep && taken {
                        return Error::RecordRefused {
                            origin: item.origin.clone(),
                            why: format!(
                                "id {} is already used in this database; nothing was imported. \
                                 Import into a new database, or pass --renumber to give the records new ids",
                                item.record.commitment.id
                            ),
                        };
                    }
                    cannot_import(&path, &item, e)
                })?;
                inserts
                    .children(id, &item)
                    .map_err(|e| cannot_import(&path, &item, e))?;
                ids.push(id);
                written(item);
            }
            drop(inserts);
            if !set_aside.is_empty() {
                tx.cache_flush().map_err(|e| super::classify(&path, e))?;
                start_writing_back(&path);
            }
            for sql in &set_aside {
                tx.execute_batch(sql).map_err(|e| super::classify(&path, e))?;
            }
            Ok(ids)
        })
    }
}

/// Asks the kernel to start writing `database` (and its WAL, if it has
/// one) to disk now, without waiting. An import into an empty database
/// hands its finished tables to the file (`cache_flush`) before it builds
/// the indexes again, then calls this: the disk writes the tables while
/// the indexes are sorted, and the commit's fsync waits for little more
/// than the indexes (at 100,000 records the import ended a quarter of a
/// second sooner). Durability still comes from that fsync; this is a
/// hint, and a file that cannot be opened for it is simply left alone.
///
/// The hint is given from a thread of its own: starting the writeback of
/// a file of tens of megabytes queues its pages for the disk, and the
/// call waited for room in the queue for a twentieth of a second, time
/// the indexes could be sorting in. Should the process end first, the
/// kernel writes the pages back all the same.
fn start_writing_back(database: &std::path::Path) {
    use std::os::fd::AsRawFd;
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    let files: Vec<std::fs::File> = [database.as_os_str(), wal.as_os_str()]
        .into_iter()
        .filter_map(|path| std::fs::File::open(path).ok())
        .collect();
    let hint = move || {
        for file in &files {
            // SAFETY: sync_file_range takes a descriptor we own and
            // numbers; it touches no memory of ours.
            unsafe {
                libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
            }
        }
    };
    // Without a thread to give it, the hint is not given: the commit's
    // fsync writes the pages regardless.
    let _ = std::thread::Builder::new()
        .name("followup-writeback".into())
        .spawn(hint);
}

/// The statements an import runs for every record, prepared once: looking
/// each up in the statement cache, seven or more times a record, was a
/// twentieth of an import's time.
struct Inserts<'tx> {
    commitment: Cursor<'tx>,
    deadline: Cursor<'tx>,
    tag: Cursor<'tx>,
    actor: Cursor<'tx>,
    event: Cursor<'tx>,
}

impl<'tx> Inserts<'tx> {
    fn prepare(tx: &'tx rusqlite::Transaction<'_>) -> rusqlite::Result<Inserts<'tx>> {
        Ok(Inserts {
            commitment: Cursor::prepare(
                tx,
                "INSERT INTO commitments (id, title, status, announced, source, quote, evidence,
                                          deadline_version, expression, earliest, latest, vague,
                                          anchor, tag_list, actor_list, created_at, updated_at,
                                          closed_at, next_reminder_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                         ?16, ?17, ?18, CASE WHEN ?3 = 'open' THEN ?19 END)",
            )?,
            deadline: Cursor::prepare(tx, INSERT_DEADLINE)?,
            tag: Cursor::prepare(tx, INSERT_TAG)?,
            actor: Cursor::prepare(tx, INSERT_ACTOR)?,
            event: Cursor::prepare(tx, INSERT_EVENT)?,
        })
    }

    /// Inserts the commitment's own row, returning its id.
    fn commitment(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        item: &ImportItem,
        keep_id: bool,
    ) -> rusqlite::Result<CommitmentId> {
        let c = &item.record.commitment;
        let stored = &item.stored;
        self.commitment.execute(&[
            if keep_id {
                Param::Int(c.id)
            } else {
                Param::Null
            },
            Param::Text(&c.title),
            Param::Text(c.status.as_str()),
            stored.get(CommitmentForm::Announced),
            Param::text_or_null(c.source.as_deref()),
            Param::text_or_null(c.quote.as_deref()),
            Param::text_or_null(c.evidence.as_deref()),
            Param::Int(c.deadline.version.into()),
            Param::Text(&c.deadline.deadline.expression),
            stored.get(CommitmentForm::Earliest),
            stored.get(CommitmentForm::Latest),
            Param::Int(c.deadline.deadline.vague.into()),
            stored.get(CommitmentForm::Anchor),
            stored.get(CommitmentForm::TagList),
            stored.get(CommitmentForm::ActorList),
            stored.get(CommitmentForm::CreatedAt),
            stored.get(CommitmentForm::UpdatedAt),
            match c.closed_at {
                Some(_) => stored.get(CommitmentForm::ClosedAt),
                None => Param::Null,
            },
            Param::Int(super::outbox::PLAN_AT_ONCE),
        ])?;
        Ok(tx.last_insert_rowid())
    }

    /// Inserts the deadline versions, tags, actors and history of the
    /// commitment stored as `id`.
    fn children(&mut self, id: CommitmentId, item: &ImportItem) -> rusqlite::Result<()> {
        let record = &item.record;
        let stored = &item.stored;
        for (at, revision) in record.revisions.iter().enumerate() {
            self.deadline.execute(&[
                Param::Int(id),
                Param::Int(revision.version.into()),
                Param::Text(&revision.deadline.expression),
                stored.revision(at, RevisionForm::Earliest),
                stored.revision(at, RevisionForm::Latest),
                Param::Int(revision.deadline.vague.into()),
                stored.revision(at, RevisionForm::Anchor),
                Param::text_or_null(revision.reason.as_deref()),
                stored.revision(at, RevisionForm::At),
            ])?;
        }
        for tag in &record.commitment.tags {
            self.tag.execute(&[Param::Int(id), Param::Text(tag)])?;
        }
        for (position, actor) in (0..).zip(&record.commitment.actors) {
            self.actor
                .execute(&[Param::Int(id), Param::Int(position), Param::Text(actor)])?;
        }
        let revisions = record.revisions.len();
        for (at, event) in record.history.iter().enumerate() {
            self.event.execute(&[
                Param::Int(id),
                stored.event(revisions, at, EventForm::At),
                Param::Text(&event.author),
                Param::Text(event.kind.as_str()),
                stored.event(revisions, at, EventForm::Detail),
            ])?;
        }
        Ok(())
    }
}

/// The error for a record the database would not take, naming its line.
fn cannot_import(path: &std::path::Path, item: &ImportItem, e: rusqlite::Error) -> Error {
    match super::classify(path, e) {
        Error::Sqlite { source, .. } => Error::RecordRefused {
            origin: item.origin.clone(),
            why: format!("cannot import this record: {source}"),
        },
        other => other,
    }
}

/// Into an empty database (a new desk, or a move from another machine)
/// the secondary indexes are dropped before the records go in and built
/// again after, in the same transaction: building an index from the
/// finished table is one sort, where keeping it up to date is a descent to
/// a random page per record. Unique indexes stay, as they check the
/// records. Returns the statements that rebuild what was dropped; a
/// failed import rolls the drop back with everything else. Into a database
/// that already holds commitments the indexes stay: rebuilding them would
/// cost as much as the whole table, whatever the import's size.
fn set_aside_indexes(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<Vec<String>> {
    let empty: bool = tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM commitments)", [], |r| {
        r.get(0)
    })?;
    if !empty {
        return Ok(Vec::new());
    }
    let indexes: Vec<(String, String)> = tx
        .prepare(
            "SELECT name, sql FROM sqlite_schema
             WHERE type = 'index' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'
               AND tbl_name IN ('commitments', 'deadlines', 'tags', 'actors', 'events')",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &indexes {
        tx.execute_batch(&format!("DROP INDEX \"{name}\""))?;
    }
    Ok(indexes.into_iter().map(|(_, sql)| sql).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::Deadline;
    use crate::model::NewCommitment;
    use crate::store::{Check, Filter};
    use jiff::Timestamp;
    use jiff::civil::date;

    fn schema(store: &Store) -> Vec<(String, Option<String>)> {
        store
            .conn
            .prepare("SELECT name, sql FROM sqlite_schema ORDER BY name")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// Three records exported from a desk that added them.
    fn exported(dir: &std::path::Path) -> Vec<CommitmentRecord> {
        let mut desk = Store::open(&dir.join("desk.db"), Check::Full).unwrap();
        let at: Timestamp = "2025-10-15T09:00:00Z".parse().unwrap();
        for (title, tag) in [
            ("Hold the meeting", "syria"),
            ("Sign the deal", "energy"),
            ("Open the crossing", "aid"),
        ] {
            let announced = date(2025, 10, 15);
            let new = NewCommitment {
                title: title.into(),
                announced,
                deadline: Deadline::parse("within two months", announced).unwrap(),
                actors: vec!["Syria".into()],
                tags: vec![tag.into()],
                source: None,
                quote: None,
                note: None,
            };
            desk.add(&new, at, "test").unwrap();
        }
        desk.export().unwrap()
    }

    fn items(records: &[CommitmentRecord]) -> Vec<std::result::Result<ImportItem, String>> {
        records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                Ok(ImportItem::new(
                    format!("record {}", i + 1),
                    record.clone(),
                    true,
                ))
            })
            .collect()
    }

    /// A stored form as the string it is bound as.
    fn text(form: Param<'_>) -> String {
        match form {
            Param::Text(text) => text.to_string(),
            other => panic!("not bound as text: {other:?}"),
        }
    }

    #[test]
    fn dates_are_stored_as_display_writes_them() {
        let days = [
            date(2025, 10, 15),
            date(2024, 2, 29),
            date(0, 1, 1),
            date(9, 9, 9),
            date(999, 12, 31),
            date(9999, 12, 31),
            date(-1, 6, 1),
            date(-9999, 1, 1),
        ];
        let mut writer = FormsWriter {
            text: Vec::new(),
            ends: Vec::new(),
        };
        for day in days {
            writer.date(day);
        }
        let forms = StoredForms {
            text: String::from_utf8(writer.text).unwrap(),
            ends: writer.ends,
        };
        for (place, day) in days.iter().enumerate() {
            assert_eq!(text(forms.at(place)), day.to_string());
        }
    }

    #[test]
    fn stored_forms_hold_each_value_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut record = exported(dir.path()).remove(0);
        let closed: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        record.commitment.closed_at = Some(closed);
        record.commitment.tags = vec!["syria".into(), "energy".into(), "syria".into()];
        // Every value different, so that one out of place shows.
        let c = &mut record.commitment;
        c.announced = date(2025, 10, 14);
        c.deadline.deadline.earliest = date(2025, 11, 1);
        c.deadline.deadline.anchor = date(2025, 10, 16);
        c.created_at = "2025-10-15T08:00:00Z".parse().unwrap();
        c.updated_at = "2025-12-01T09:30:00.5Z".parse().unwrap();
        let mut second = record.revisions[0].clone();
        second.version = 2;
        second.deadline.earliest = date(2026, 1, 1);
        second.deadline.latest = date(2026, 6, 30);
        second.deadline.anchor = date(2025, 12, 31);
        second.at = "2026-01-01T00:00:00Z".parse().unwrap();
        record.revisions.push(second);
        let mut closing = record.history[0].clone();
        closing.at = closed;
        closing.detail.insert("outcome".into(), "missed".into());
        record.history.push(closing);

        let forms = StoredForms::of(&record);
        let expected = [
            (CommitmentForm::Announced, "2025-10-14"),
            (CommitmentForm::Earliest, "2025-11-01"),
            (CommitmentForm::Latest, "2025-12-15"),
            (CommitmentForm::Anchor, "2025-10-16"),
            (CommitmentForm::TagList, "energy\u{1f}syria"),
            (CommitmentForm::ActorList, "Syria"),
            (CommitmentForm::CreatedAt, "2025-10-15T08:00:00Z"),
            (CommitmentForm::UpdatedAt, "2025-12-01T09:30:00.5Z"),
            (CommitmentForm::ClosedAt, "2026-01-02T03:04:05Z"),
        ];
        for (form, value) in expected {
            assert_eq!(text(forms.get(form)), value, "{form:?}");
        }
        let second = [
            (RevisionForm::Earliest, "2026-01-01"),
            (RevisionForm::Latest, "2026-06-30"),
            (RevisionForm::Anchor, "2025-12-31"),
            (RevisionForm::At, "2026-01-01T00:00:00Z"),
        ];
        for (form, value) in second {
            assert_eq!(text(forms.revision(1, form)), value, "{form:?}");
        }
        assert_eq!(text(forms.revision(0, RevisionForm::Latest)), "2025-12-15");
        assert_eq!(
            text(forms.event(2, 1, EventForm::At)),
            "2026-01-02T03:04:05Z"
        );
        assert!(text(forms.event(2, 1, EventForm::Detail)).contains(r#""outcome":"missed""#));
        assert_eq!(
            forms.ends.len(),
            COMMITMENT_FORMS + 2 * REVISION_FORMS + 2 * EVENT_FORMS
        );

        // And they are what the database holds.
        let mut store = Store::open(&dir.path().join("new.db"), Check::Full).unwrap();
        store
            .import(items(std::slice::from_ref(&record)), ImportMode::KeepIds)
            .unwrap();
        let mut expected = record.clone();
        expected.commitment.tags = vec!["energy".into(), "syria".into()];
        assert_eq!(store.export().unwrap(), vec![expected]);
    }

    #[test]
    fn a_record_with_a_deadline_version_twice_is_not_blamed_on_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut records = exported(dir.path());
        let again = records[1].revisions[0].clone();
        records[1].revisions.push(again);
        let mut store = Store::open(&dir.path().join("new.db"), Check::Full).unwrap();
        let err = store
            .import(items(&records), ImportMode::KeepIds)
            .unwrap_err()
            .to_string();
        assert!(err.contains("record 2: cannot import this record"), "{err}");
        assert!(err.contains("deadlines.version"), "{err}");
        assert!(!err.contains("already used"), "{err}");
        assert!(store.export().unwrap().is_empty());
    }

    #[test]
    fn an_import_into_an_empty_database_leaves_every_index_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let records = exported(dir.path());
        let mut store = Store::open(&dir.path().join("new.db"), Check::Full).unwrap();
        let before = schema(&store);
        store.import(items(&records), ImportMode::KeepIds).unwrap();
        assert_eq!(schema(&store), before);
        // The rebuilt indexes answer: a tag filter and the list's table.
        let energy = Filter {
            tags: vec!["energy".into()],
            ..Filter::default()
        };
        let found = store.list(&energy).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].title, "Sign the deal");
        let mut lines = 0;
        store
            .each_list_line(&Filter::default(), |_| lines += 1)
            .unwrap();
        assert_eq!(lines, 3);
        let integrity: String = store
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }

    #[test]
    fn a_failed_import_into_an_empty_database_keeps_its_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let records = exported(dir.path());
        let mut store = Store::open(&dir.path().join("new.db"), Check::Full).unwrap();
        let before = schema(&store);
        let mut items = items(&records);
        items.push(Err("record 4: not a commitment".into()));
        let err = store.import(items, ImportMode::KeepIds).unwrap_err();
        assert!(err.to_string().contains("record 4"), "{err}");
        assert_eq!(schema(&store), before);
        assert!(store.list(&Filter::default()).unwrap().is_empty());
        assert_eq!(journal_mode(&store), "wal");
        assert!(!dir.path().join("new.db-journal").exists());
    }

    fn journal_mode(store: &Store) -> String {
        store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn only_an_import_into_an_empty_database_nobody_else_has_open_skips_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let records = exported(dir.path());
        let path = dir.path().join("new.db");
        let mut store = Store::open(&path, Check::Full).unwrap();
        assert_eq!(store.journal_for_import().unwrap(), Journal::Rollback);
        store.switch_journal("wal").unwrap();

        // Another process reading the file keeps it in WAL, without waiting.
        let reader = Store::open(&path, Check::ReadOnly).unwrap();
        assert_eq!(reader.list(&Filter::default()).unwrap().len(), 0);
        assert_eq!(store.journal_for_import().unwrap(), Journal::Wal);
        store.import(items(&records), ImportMode::KeepIds).unwrap();
        assert_eq!(journal_mode(&store), "wal");
        assert_eq!(reader.list(&Filter::default()).unwrap().len(), 3);
        drop(reader);

        // A database that holds commitments keeps its WAL.
        assert_eq!(store.journal_for_import().unwrap(), Journal::Wal);
    }

    #[test]
    fn an_import_into_an_empty_database_ends_in_wal_mode_with_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let records = exported(dir.path());
        let path = dir.path().join("new.db");
        let mut store = Store::open(&path, Check::Full).unwrap();
        store.import(items(&records), ImportMode::KeepIds).unwrap();
        assert_eq!(journal_mode(&store), "wal");
        drop(store);
        let store = Store::open(&path, Check::Full).unwrap();
        assert_eq!(store.export().unwrap(), records);
    }
}
