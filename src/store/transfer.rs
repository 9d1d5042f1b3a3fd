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
        // Revisions and history are read per commitment through their
        // primary-key indexes; simple and fast enough at 100k commitments.
        for record in &mut records {
            let id = record.commitment.id;
            record.revisions = self.revisions(id)?;
            record.history = self.history(id)?;
        }
        Ok(records)
    }

    /// Stores `items` in one transaction, returning their ids in order.
    pub fn import(&mut self, items: &[ImportItem], mode: ImportMode) -> Result<Vec<CommitmentId>> {
        let path = self.path.clone();
        self.write(|tx| {
            let mut ids = Vec::with_capacity(items.len());
            for item in items {
                let record = &item.record;
                let c = &record.commitment;
                let keep = mode == ImportMode::KeepIds && item.has_id;
                if keep {
                    let taken: bool = tx
                        .query_row(
                            "SELECT EXISTS (SELECT 1 FROM commitments WHERE id = ?1)",
                            [c.id],
                            |row| row.get(0),
                        )
                        .map_err(|e| super::classify(&path, e))?;
                    if taken {
                        return Err(Error::Rejected(format!(
                            "{}: id {} is already used in this database; nothing was imported. \
                             Import into a new database, or pass --renumber to give the records new ids",
                            item.origin, c.id
                        )));
                    }
                }
                let run = || -> rusqlite::Result<CommitmentId> {
                    tx.prepare_cached(
                        "INSERT INTO commitments (id, title, status, announced, source, quote, evidence,
                                                  deadline_version, expression, earliest, latest, vague,
                                                  anchor, tag_list, actor_list, created_at, updated_at,
                                                  closed_at, next_reminder_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                                 ?16, ?17, ?18, CASE WHEN ?3 = 'open' THEN 0 END)",
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
                let id = run().map_err(|e| match super::classify(&path, e) {
                    Error::Sqlite { source, .. } => {
                        Error::Rejected(format!("{}: cannot import this record: {source}", item.origin))
                    }
                    other => other,
                })?;
                ids.push(id);
            }
            Ok(ids)
        })
    }
}
