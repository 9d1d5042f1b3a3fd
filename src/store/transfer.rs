//! Bulk reading and writing of whole commitment records, for `export` and
//! `import`. An import is one IMMEDIATE transaction: every record lands or
//! none does.

use rusqlite::params;

use super::commitments::{
    SELECT_COMMITMENT, insert_deadline, insert_event, insert_tags_and_actors,
};
use super::{Error, Result, Store};
use crate::model::{CommitmentId, CommitmentRecord};

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
    pub origin: String,
    pub record: CommitmentRecord,
    /// False for hand-written rows without an id.
    pub has_id: bool,
}

impl Store {
    /// Every commitment with its revisions and history, in id order.
    pub fn export(&self) -> Result<Vec<CommitmentRecord>> {
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
        let mut stmt = self
            .conn
            .prepare(
                "SELECT commitment_id, version, expression, earliest, latest, vague, anchor, reason, at
                 FROM deadlines ORDER BY commitment_id, version",
            )
            .map_err(|e| self.sqlite(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sqlite(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sqlite(e))? {
            let id: CommitmentId = row.get(0).map_err(|e| self.sqlite(e))?;
            let revision = super::commitments::revision_at(row, 1).map_err(|e| self.sqlite(e))?;
            if let Some(&at) = index.get(&id) {
                records[at].revisions.push(revision);
            }
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT commitment_id, at, author, kind, detail FROM events
                 ORDER BY commitment_id, id",
            )
            .map_err(|e| self.sqlite(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sqlite(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sqlite(e))? {
            let id: CommitmentId = row.get(0).map_err(|e| self.sqlite(e))?;
            let event = super::commitments::event_at(row, 1).map_err(|e| self.sqlite(e))?;
            if let Some(&at) = index.get(&id) {
                records[at].history.push(event);
            }
        }
        Ok(records)
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
        let imported = self.import_records(items, mode);
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON")
            .map_err(|e| self.sqlite(e))?;
        imported
    }

    fn import_records(
        &mut self,
        items: impl IntoIterator<Item = std::result::Result<ImportItem, String>>,
        mode: ImportMode,
    ) -> Result<Vec<CommitmentId>> {
        let path = self.path.clone();
        self.write(|tx| {
            let mut ids = Vec::new();
            for item in items {
                let item = item.map_err(Error::Rejected)?;
                let record = &item.record;
                let c = &record.commitment;
                let keep = mode == ImportMode::KeepIds && item.has_id;
                // A kept id that is already taken fails the insert on the
                // primary key, which says so without a lookup per record.
                let taken = |e: &rusqlite::Error| {
                    keep && matches!(
                        e,
                        rusqlite::Error::SqliteFailure(f, _)
                            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    )
                };
                let run = || -> rusqlite::Result<CommitmentId> {
                    tx.prepare_cached(
                        "INSERT INTO commitments (id, title, status, announced, source, quote, evidence,
                                                  deadline_version, expression, earliest, latest, vague,
                                                  anchor, tag_list, actor_list, created_at, updated_at,
                                                  closed_at, next_reminder_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                                 ?16, ?17, ?18, CASE WHEN ?3 = 'open' THEN ?19 END)",
                    )?
                    .execute(params![
                        keep.then_some(c.id),
                        c.title,
                        c.status.as_str(),
                        c.announced.to_string(),
                        c.source,
                        c.quote,
                        c.evidence,
                        c.deadline.version,
                        c.deadline.deadline.expression,
                        c.deadline.deadline.earliest.to_string(),
                        c.deadline.deadline.latest.to_string(),
                        c.deadline.deadline.vague,
                        c.deadline.deadline.anchor.to_string(),
                        super::commitments::tag_list(&c.tags),
                        super::commitments::actor_list(&c.actors),
                        c.created_at.to_string(),
                        c.updated_at.to_string(),
                        c.closed_at.map(|t| t.to_string()),
                        super::outbox::PLAN_AT_ONCE,
                    ])?;
                    let id = tx.last_insert_rowid();
                    for revision in &record.revisions {
                        insert_deadline(tx, id, revision)?;
                    }
                    insert_tags_and_actors(tx, id, &c.tags, &c.actors)?;
                    for event in &record.history {
                        insert_event(tx, id, event.at, &event.author, event.kind, &event.detail)?;
                    }
                    Ok(id)
                };
                let id = run().map_err(|e| {
                    if taken(&e) {
                        return Error::Rejected(format!(
                            "{}: id {} is already used in this database; nothing was imported. \
                             Import into a new database, or pass --renumber to give the records new ids",
                            item.origin, c.id
                        ));
                    }
                    match super::classify(&path, e) {
                    Error::Sqlite { source, .. } => {
                        Error::Rejected(format!("{}: cannot import this record: {source}", item.origin))
                    }
                    other => other,
                    }
                })?;
                ids.push(id);
            }
            Ok(ids)
        })
    }
}
