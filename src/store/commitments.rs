//! Reading and changing commitments. Each change writes the new state and
//! its history event in one transaction, so history and state never
//! disagree.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde_json::{Map, Value, json};

use super::columns::Cursor;
use super::{Error, Result, Store};
use crate::deadline::{Deadline, iso_date};
use crate::model::{
    Commitment, CommitmentId, CommitmentRecord, DeadlineVersion, Event, EventKind, NewCommitment,
    Outcome, Revision, Status,
};

/// Which commitments `list` returns. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these statuses (any of them); empty means all.
    pub statuses: Vec<Status>,
    /// Only commitments carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only open commitments whose `latest` is before this day (today).
    pub overdue_on: Option<Date>,
    /// Only commitments whose `latest` is before this day.
    pub due_before: Option<Date>,
    /// Only commitments whose current deadline is (or is not) vague.
    pub vague: Option<bool>,
}

/// How many commitments there are, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub total: u64,
    pub open: u64,
    pub fulfilled: u64,
    pub partial: u64,
    pub missed: u64,
    pub withdrawn: u64,
    pub overdue: u64,
    pub events: u64,
}

// The columns of `SELECT_COMMITMENT` up to the current deadline's
// version, written once for every constant that starts with them.
macro_rules! select_commitment_head {
    () => {
        "
SELECT c.id, c.title, c.status, c.announced, c.source, c.quote, c.evidence,
       c.created_at, c.updated_at, c.closed_at, c.tag_list, c.actor_list,
       c.deadline_version"
    };
}

// The columns of `SELECT_COMMITMENT`: the head, then the current
// deadline's own columns.
macro_rules! select_commitment_columns {
    () => {
        concat!(
            select_commitment_head!(),
            ", c.expression, c.earliest, c.latest, c.vague, c.anchor"
        )
    };
}

/// The column of [`SELECT_COMMITMENT`] holding the current deadline's
/// version; its expression, earliest, latest, vague and anchor follow.
pub(super) const CURRENT_VERSION_COLUMN: usize = 12;

/// The columns of [`SELECT_COMMITMENT`] up to and including the current
/// deadline's version, from `commitments c`: for an export, which takes
/// the deadline itself from the commitment's revisions.
pub(super) const SELECT_COMMITMENT_HEAD: &str =
    concat!(select_commitment_head!(), "\nFROM commitments c");

/// [`SELECT_COMMITMENT`] without its FROM, for commitments joined to
/// something else (named `c`).
pub(super) const SELECT_COMMITMENT_COLUMNS: &str = select_commitment_columns!();

/// Columns of a commitment with its current deadline, tags and actors, all
/// kept on its own row (see schema v3). Tags and actors are joined with
/// U+001F, which no stored value contains (control characters are refused
/// on input).
pub(super) const SELECT_COMMITMENT: &str =
    concat!(select_commitment_columns!(), "\nFROM commitments c");

const SELECT_LISTED: &str =
    "SELECT c.id, c.title, c.status, c.latest, c.vague, c.tag_list FROM commitments c";

/// One line of `list`'s table, borrowed from its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed<'row> {
    pub id: CommitmentId,
    pub title: &'row str,
    pub status: Status,
    /// The current deadline's last on-time day.
    pub latest: Date,
    /// The same day as stored, `YYYY-MM-DD`.
    pub latest_text: &'row str,
    pub vague: bool,
    /// The tags, sorted, joined by U+001F.
    pub tag_list: &'row str,
}

impl<'row> Listed<'row> {
    /// The tags, sorted.
    pub fn tags(&self) -> impl Iterator<Item = &'row str> + use<'row> {
        self.tag_list.split('\u{1f}').filter(|tag| !tag.is_empty())
    }
}

/// `select` (which names the commitments table `c`) narrowed to the
/// commitments `filter` lets through, soonest deadline first, with the
/// values to bind.
pub(super) fn filtered(select: &str, filter: &Filter) -> (String, Vec<String>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let mut bind = |value: String| {
        values.push(value);
        format!("?{}", values.len())
    };
    if !filter.statuses.is_empty() {
        let marks: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| bind(s.as_str().to_string()))
            .collect();
        clauses.push(format!("c.status IN ({})", marks.join(", ")));
    }
    if let Some(today) = filter.overdue_on {
        clauses.push(format!(
            "c.status = 'open' AND c.latest < {}",
            bind(today.to_string())
        ));
    }
    if let Some(day) = filter.due_before {
        clauses.push(format!("c.latest < {}", bind(day.to_string())));
    }
    if let Some(vague) = filter.vague {
        clauses.push(format!("c.vague = {}", bind(i64::from(vague).to_string())));
    }
    for tag in &filter.tags {
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM tags t WHERE t.commitment_id = c.id AND t.tag = {})",
            bind(tag.clone())
        ));
    }
    let mut sql = select.to_string();
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY c.latest, c.id");
    (sql, values)
}

/// Reads a stored value that must parse, reporting the database as corrupt
/// if it does not: nothing but followup writes these columns.
pub(super) fn parsed<T: FromStr>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    stored(index, &text)
}

/// A stored value read as text, reporting the database as corrupt if it
/// does not parse.
fn stored<T: FromStr>(index: usize, text: &str) -> rusqlite::Result<T> {
    text.parse().map_err(|_| unreadable(index, text))
}

fn unreadable(index: usize, text: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        format!("unreadable value {text:?}").into(),
    )
}

/// A stored `YYYY-MM-DD` day (see [`iso_date`]); anything else (another
/// shape, a day the calendar lacks) is reported as corrupt.
pub(super) fn stored_date(index: usize, text: &str) -> rusqlite::Result<Date> {
    iso_date(text).ok_or_else(|| unreadable(index, text))
}

/// Reads the five deadline columns (expression, earliest, latest, vague,
/// anchor) starting at column `first`, in that order.
pub(super) fn deadline_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Deadline> {
    Ok(Deadline {
        expression: row.get(first)?,
        earliest: parsed(row, first + 1)?,
        latest: parsed(row, first + 2)?,
        vague: row.get(first + 3)?,
        anchor: parsed(row, first + 4)?,
    })
}

/// Tags as stored on the row: sorted, without repeats, joined by U+001F.
pub(super) fn tag_list(tags: &[String]) -> String {
    let mut sorted: Vec<&str> = tags.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join("\u{1f}")
}

/// Actors as stored on the row: in the order given, joined by U+001F.
pub(super) fn actor_list(actors: &[String]) -> String {
    actors.join("\u{1f}")
}

pub(super) fn split_list(value: Option<String>) -> Vec<String> {
    match value {
        Some(joined) if !joined.is_empty() => joined.split('\u{1f}').map(String::from).collect(),
        _ => Vec::new(),
    }
}

/// Reads a status column, reporting an unknown name as a corrupt value.
fn status_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Status> {
    let status: String = row.get(index)?;
    Status::from_str(&status).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
    })
}

pub(super) fn commitment_from_row(row: &Row<'_>) -> rusqlite::Result<Commitment> {
    let status = status_at(row, 2)?;
    let closed_at: Option<String> = row.get(9)?;
    Ok(Commitment {
        id: row.get(0)?,
        title: row.get(1)?,
        status,
        announced: parsed(row, 3)?,
        source: row.get(4)?,
        quote: row.get(5)?,
        evidence: row.get(6)?,
        deadline: DeadlineVersion {
            version: row.get(CURRENT_VERSION_COLUMN)?,
            deadline: deadline_at(row, CURRENT_VERSION_COLUMN + 1)?,
        },
        created_at: parsed(row, 7)?,
        updated_at: parsed(row, 8)?,
        closed_at: closed_at
            .map(|t| {
                t.parse().map_err(|_| {
                    rusqlite::Error::FromSqlConversionFailure(
                        9,
                        rusqlite::types::Type::Text,
                        format!("unreadable value {t:?}").into(),
                    )
                })
            })
            .transpose()?,
        tags: split_list(row.get(10)?),
        actors: split_list(row.get(11)?),
    })
}

/// Every deadline version of the commitments with ids ?1 to ?2, grouped by
/// commitment in id order: the commitment id, then the columns
/// [`revision_at`] reads from column 1.
pub(super) const SELECT_REVISIONS_BETWEEN: &str =
    "SELECT commitment_id, version, expression, earliest, latest, vague, anchor, reason, at
     FROM deadlines WHERE commitment_id BETWEEN ?1 AND ?2 ORDER BY commitment_id, version";

/// Every event of the commitments with ids ?1 to ?2, grouped by commitment
/// in id order, oldest first: the commitment id, then the columns
/// [`event_at`] reads from column 1.
pub(super) const SELECT_HISTORY_BETWEEN: &str = "SELECT commitment_id, at, author, kind, detail
     FROM events WHERE commitment_id BETWEEN ?1 AND ?2 ORDER BY commitment_id, id";

/// Reads a deadline version from the columns version, expression,
/// earliest, latest, vague, anchor, reason, at, starting at `first`.
pub(super) fn revision_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Revision> {
    Ok(Revision {
        version: row.get(first)?,
        deadline: deadline_at(row, first + 1)?,
        reason: row.get(first + 6)?,
        at: parsed(row, first + 7)?,
    })
}

/// Reads an event from the columns at, author, kind, detail, starting at
/// `first`.
pub(super) fn event_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Event> {
    let kind: String = row.get(first + 2)?;
    let detail: String = row.get(first + 3)?;
    let bad = |index: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unreadable {what}").into(),
        )
    };
    Ok(Event {
        at: parsed(row, first)?,
        author: row.get(first + 1)?,
        kind: EventKind::parse(&kind).ok_or_else(|| bad(first + 2, "event kind"))?,
        detail: serde_json::from_str(&detail).map_err(|_| bad(first + 3, "event detail"))?,
    })
}

pub(super) const INSERT_EVENT: &str =
    "INSERT INTO events (commitment_id, at, author, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)";
pub(super) const INSERT_DEADLINE: &str =
    "INSERT INTO deadlines (commitment_id, version, expression, earliest, latest, vague, anchor, reason, at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
pub(super) const INSERT_TAG: &str =
    "INSERT OR IGNORE INTO tags (commitment_id, tag) VALUES (?1, ?2)";
pub(super) const INSERT_ACTOR: &str =
    "INSERT INTO actors (commitment_id, position, actor) VALUES (?1, ?2, ?3)";

pub(super) fn insert_event(
    tx: &Transaction<'_>,
    id: CommitmentId,
    at: Timestamp,
    author: &str,
    kind: EventKind,
    detail: &Map<String, Value>,
) -> rusqlite::Result<()> {
    let detail = serde_json::to_string(detail)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    // History is kept to the second, whoever writes it (the commands' clock
    // is read to the second, the daemon's is not): one form of instant
    // sorts as text in the order it happened.
    let at = Timestamp::from_second(at.as_second()).unwrap_or(at);
    tx.prepare_cached(INSERT_EVENT)?.execute(params![
        id,
        at.to_string(),
        author,
        kind.as_str(),
        detail
    ])?;
    Ok(())
}

pub(super) fn insert_deadline(
    tx: &Transaction<'_>,
    id: CommitmentId,
    revision: &Revision,
) -> rusqlite::Result<()> {
    let d = &revision.deadline;
    tx.prepare_cached(INSERT_DEADLINE)?.execute(params![
        id,
        revision.version,
        d.expression,
        d.earliest.to_string(),
        d.latest.to_string(),
        d.vague,
        d.anchor.to_string(),
        revision.reason,
        revision.at.to_string(),
    ])?;
    Ok(())
}

pub(super) fn insert_tags_and_actors(
    tx: &Transaction<'_>,
    id: CommitmentId,
    tags: &[String],
    actors: &[String],
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(INSERT_TAG)?;
    for tag in tags {
        insert.execute(params![id, tag])?;
    }
    let mut insert = tx.prepare_cached(INSERT_ACTOR)?;
    for (position, actor) in actors.iter().enumerate() {
        insert.execute(params![id, position as i64, actor])?;
    }
    Ok(())
}

fn current(tx: &Transaction<'_>, id: CommitmentId) -> Result<(Status, u32, Deadline)> {
    tx.query_row(
        "SELECT c.status, c.deadline_version, c.expression, c.earliest, c.latest, c.vague, c.anchor
         FROM commitments c WHERE c.id = ?1",
        [id],
        |row| {
            let status: String = row.get(0)?;
            Ok((status, row.get::<_, u32>(1)?, deadline_at(row, 2)?))
        },
    )
    .optional()
    .map_err(|e| Error::Rejected(e.to_string()))?
    .ok_or(Error::UnknownId { id })
    .and_then(|(status, version, deadline)| {
        let status = Status::from_str(&status).map_err(Error::Rejected)?;
        Ok((status, version, deadline))
    })
}

fn insert_new(
    tx: &Transaction<'_>,
    new: &NewCommitment,
    at: Timestamp,
    author: &str,
) -> rusqlite::Result<CommitmentId> {
    tx.prepare_cached(
        "INSERT INTO commitments (title, announced, source, quote, deadline_version,
                                  expression, earliest, latest, vague, anchor,
                                  tag_list, actor_list, created_at, updated_at, next_reminder_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)",
    )?
    .execute(params![
        new.title,
        new.announced.to_string(),
        new.source,
        new.quote,
        new.deadline.expression,
        new.deadline.earliest.to_string(),
        new.deadline.latest.to_string(),
        new.deadline.vague,
        new.deadline.anchor.to_string(),
        tag_list(&new.tags),
        actor_list(&new.actors),
        at.to_string(),
        super::outbox::PLAN_AT_ONCE,
    ])?;
    let id = tx.last_insert_rowid();
    insert_deadline(
        tx,
        id,
        &Revision {
            deadline: new.deadline.clone(),
            version: 1,
            reason: None,
            at,
        },
    )?;
    insert_tags_and_actors(tx, id, &new.tags, &new.actors)?;
    insert_event(
        tx,
        id,
        at,
        author,
        EventKind::Created,
        &detail(json!({ "deadline": crate::model::deadline_json(&new.deadline, 1) })),
    )?;
    if let Some(note) = &new.note {
        insert_event(
            tx,
            id,
            at,
            author,
            EventKind::Note,
            &detail(json!({ "text": note })),
        )?;
    }
    Ok(id)
}

/// Cancels the commitment's reminders that have not gone out yet. Rows
/// being sent right now keep their lease; the daemon drops them afterwards
/// if the commitment is no longer open.
fn cancel_pending(tx: &Transaction<'_>, id: CommitmentId) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE outbox SET state = 'cancelled' WHERE commitment_id = ?1 AND state = 'pending'",
        [id],
    )
}

fn detail(pairs: Value) -> Map<String, Value> {
    match pairs {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Store {
    /// Records a new commitment and its `created` event; returns its id.
    pub fn add(
        &mut self,
        new: &NewCommitment,
        at: Timestamp,
        author: &str,
    ) -> Result<CommitmentId> {
        Ok(self.add_all(std::slice::from_ref(new), at, author)?[0])
    }

    /// Records several new commitments in one transaction: all or none.
    pub fn add_all(
        &mut self,
        new: &[NewCommitment],
        at: Timestamp,
        author: &str,
    ) -> Result<Vec<CommitmentId>> {
        let path = self.path.clone();
        self.write(|tx| {
            new.iter()
                .map(|one| insert_new(tx, one, at, author))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| super::classify(&path, e))
        })
    }

    /// A commitment already recorded with this title, announcement date and
    /// quote, if there is one: the same candidate of the same article,
    /// accepted again. Read by a scan of the table, as only `ingest
    /// --accept` asks, a few times per article.
    pub fn recorded_as(
        &self,
        title: &str,
        announced: jiff::civil::Date,
        quote: Option<&str>,
    ) -> Result<Option<CommitmentId>> {
        self.conn
            .prepare_cached(
                "SELECT id FROM commitments
                 WHERE title = ?1 AND announced = ?2 AND quote IS ?3 LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![title, announced.to_string(), quote], |row| {
                    row.get(0)
                })
                .optional()
            })
            .map_err(|e| self.sqlite(e))
    }

    /// One commitment with its current deadline.
    pub fn get(&self, id: CommitmentId) -> Result<Commitment> {
        let sql = format!("{SELECT_COMMITMENT} WHERE c.id = ?1");
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| stmt.query_row([id], commitment_from_row).optional())
            .map_err(|e| self.sqlite(e))?
            .ok_or(Error::UnknownId { id })
    }

    /// One commitment with every deadline version and its whole history.
    pub fn record(&self, id: CommitmentId) -> Result<CommitmentRecord> {
        let commitment = self.get(id)?;
        let revisions = self.revisions(id)?;
        let history = self.history(id)?;
        Ok(CommitmentRecord {
            commitment,
            revisions,
            history,
        })
    }

    /// Every deadline the commitment has had, oldest first.
    pub fn revisions(&self, id: CommitmentId) -> Result<Vec<Revision>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT version, expression, earliest, latest, vague, anchor, reason, at
                 FROM deadlines WHERE commitment_id = ?1 ORDER BY version",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([id], |row| revision_at(row, 0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sqlite(e))?;
        Ok(rows)
    }

    /// The commitment's history, oldest first.
    pub fn history(&self, id: CommitmentId) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at, author, kind, detail FROM events WHERE commitment_id = ?1 ORDER BY id",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([id], |row| event_at(row, 0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sqlite(e))?;
        Ok(rows)
    }

    /// Commitments matching `filter`, soonest deadline first.
    pub fn list(&self, filter: &Filter) -> Result<Vec<Commitment>> {
        let mut found = Vec::new();
        self.list_each(filter, |c| {
            found.push(c);
            Ok::<(), Error>(())
        })?;
        Ok(found)
    }

    /// Hands each commitment matching `filter` to `each` as it is read,
    /// soonest deadline first, so that a long list can be written out
    /// without holding it all in memory. Stops at the first error.
    pub fn list_each<E: From<Error>>(
        &self,
        filter: &Filter,
        mut each: impl FnMut(Commitment) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let (sql, values) = filtered(SELECT_COMMITMENT, filter);
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(
                rusqlite::params_from_iter(values.iter()),
                commitment_from_row,
            )
            .map_err(|e| self.sqlite(e))?;
        for row in rows {
            each(row.map_err(|e| self.sqlite(e))?)?;
        }
        Ok(())
    }

    /// Hands `line` each line of `list`'s table for the commitments
    /// matching `filter`, soonest deadline first, borrowed from its row.
    /// Reads only the six columns the table shows, without a string
    /// allocated for any of them: a desk's list of thousands skips every
    /// quote, source and timestamp it would not print.
    pub fn each_list_line(&self, filter: &Filter, mut line: impl FnMut(Listed<'_>)) -> Result<()> {
        let (sql, values) = filtered(SELECT_LISTED, filter);
        let params = super::stored_json::text_params(&values);
        let mut read = || -> rusqlite::Result<()> {
            let mut rows = Cursor::prepare(&self.conn, &sql)?;
            rows.start(&params)?;
            while let Some(row) = rows.next_row()? {
                let latest_text = row.text(3)?;
                line(Listed {
                    id: row.int(0)?,
                    title: row.text(1)?,
                    status: stored(2, row.text(2)?)?,
                    latest: stored_date(3, latest_text)?,
                    latest_text,
                    vague: row.flag(4)?,
                    tag_list: row.text(5)?,
                });
            }
            Ok(())
        };
        read().map_err(|e| self.sqlite(e))
    }

    /// Moves an open commitment's deadline, keeping the old one as an
    /// earlier version and recording the slip in history.
    pub fn revise(
        &mut self,
        id: CommitmentId,
        deadline: &Deadline,
        reason: Option<&str>,
        at: Timestamp,
        author: &str,
    ) -> Result<u32> {
        let path = self.path.clone();
        self.write(|tx| {
            let (status, version, previous) = current(tx, id)?;
            if !status.is_open() {
                return Err(Error::Rejected(format!(
                    "commitment {id} is closed as {status}; `followup reopen {id}` first if its deadline moved"
                )));
            }
            // The same last day in other words (or counted from another
            // day) moves nothing the desk is reminded of: as a new version
            // it would re-arm reminders the desk already had.
            if previous.latest == deadline.latest && previous.vague == deadline.vague {
                return Err(Error::Rejected(format!(
                    "commitment {id}'s deadline already ends {} ({}); nothing was recorded. Give the new deadline, or `followup note {id}` to record news that does not move it",
                    previous.latest,
                    crate::model::Quoted(&previous.expression)
                )));
            }
            let next = version + 1;
            let run = || -> rusqlite::Result<()> {
                insert_deadline(
                    tx,
                    id,
                    &Revision {
                        deadline: deadline.clone(),
                        version: next,
                        reason: reason.map(String::from),
                        at,
                    },
                )?;
                // A new deadline version re-arms the schedule: plan at the
                // next tick, and drop reminders queued for the old deadline.
                tx.execute(
                    "UPDATE commitments SET deadline_version = ?2, expression = ?3, earliest = ?4,
                            latest = ?5, vague = ?6, anchor = ?7, updated_at = ?8,
                            next_reminder_at = ?9
                     WHERE id = ?1",
                    params![
                        id,
                        next,
                        deadline.expression,
                        deadline.earliest.to_string(),
                        deadline.latest.to_string(),
                        deadline.vague,
                        deadline.anchor.to_string(),
                        at.to_string(),
                        super::outbox::PLAN_AT_ONCE,
                    ],
                )?;
                cancel_pending(tx, id)?;
                insert_event(
                    tx,
                    id,
                    at,
                    author,
                    EventKind::Revised,
                    &detail(json!({
                        "from": crate::model::deadline_json(&previous, version),
                        "to": crate::model::deadline_json(deadline, next),
                        "reason": reason,
                    })),
                )
            };
            run().map_err(|e| super::classify(&path, e))?;
            Ok(next)
        })
    }

    /// Closes an open commitment with its outcome.
    pub fn close(
        &mut self,
        id: CommitmentId,
        outcome: Outcome,
        evidence: Option<&str>,
        at: Timestamp,
        author: &str,
    ) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let (status, _, _) = current(tx, id)?;
            if !status.is_open() {
                return Err(Error::Rejected(format!(
                    "commitment {id} is already closed as {status}; `followup reopen {id}` first to change its outcome"
                )));
            }
            let run = || -> rusqlite::Result<()> {
                // Closing stops the schedule; reminders still queued are
                // cancelled, not sent.
                tx.execute(
                    "UPDATE commitments SET status = ?2, evidence = ?3, closed_at = ?4, updated_at = ?4,
                            next_reminder_at = NULL
                     WHERE id = ?1",
                    params![id, outcome.as_str(), evidence, at.to_string()],
                )?;
                cancel_pending(tx, id)?;
                insert_event(
                    tx,
                    id,
                    at,
                    author,
                    EventKind::Closed,
                    &detail(json!({ "outcome": outcome.as_str(), "evidence": evidence })),
                )
            };
            run().map_err(|e| super::classify(&path, e))
        })
    }

    /// Reopens a closed commitment; its old outcome stays in history.
    pub fn reopen(&mut self, id: CommitmentId, at: Timestamp, author: &str) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let (status, _, _) = current(tx, id)?;
            if status.is_open() {
                return Err(Error::Rejected(format!("commitment {id} is already open")));
            }
            let run = || -> rusqlite::Result<()> {
                tx.execute(
                    "UPDATE commitments SET status = 'open', evidence = NULL, closed_at = NULL, updated_at = ?2,
                            next_reminder_at = ?3
                     WHERE id = ?1",
                    params![id, at.to_string(), super::outbox::PLAN_AT_ONCE],
                )?;
                insert_event(
                    tx,
                    id,
                    at,
                    author,
                    EventKind::Reopened,
                    &detail(json!({ "previous_outcome": status.as_str() })),
                )
            };
            run().map_err(|e| super::classify(&path, e))
        })
    }

    /// Adds a note to a commitment's history.
    pub fn note(
        &mut self,
        id: CommitmentId,
        text: &str,
        at: Timestamp,
        author: &str,
    ) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            current(tx, id)?;
            let run = || -> rusqlite::Result<()> {
                tx.execute(
                    "UPDATE commitments SET updated_at = ?2 WHERE id = ?1",
                    params![id, at.to_string()],
                )?;
                insert_event(
                    tx,
                    id,
                    at,
                    author,
                    EventKind::Note,
                    &detail(json!({ "text": text })),
                )
            };
            run().map_err(|e| super::classify(&path, e))
        })
    }

    /// Counts by status, overdue on `today`, and history size.
    pub fn counts(&self, today: Date) -> Result<Counts> {
        let mut counts = Counts::default();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT status, count(*) FROM commitments GROUP BY status")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?.max(0) as u64,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sqlite(e))?;
        for (status, n) in rows {
            counts.total += n;
            match status.as_str() {
                "open" => counts.open = n,
                "fulfilled" => counts.fulfilled = n,
                "partial" => counts.partial = n,
                "missed" => counts.missed = n,
                "withdrawn" => counts.withdrawn = n,
                _ => {}
            }
        }
        counts.overdue = self
            .conn
            .query_row(
                "SELECT count(*) FROM commitments WHERE status = 'open' AND latest < ?1",
                [today.to_string()],
                |row| row.get::<_, i64>(0),
            )
            .map_err(|e| self.sqlite(e))?
            .max(0) as u64;
        counts.events = self
            .conn
            .query_row("SELECT count(*) FROM events", [], |row| {
                row.get::<_, i64>(0)
            })
            .map_err(|e| self.sqlite(e))?
            .max(0) as u64;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_stored_day_reads_as_jiff_reads_it() {
        let mut shaped = vec![
            "2026-02-29".to_string(),
            "2024-02-29".to_string(),
            "2026-13-01".to_string(),
            "2026-00-10".to_string(),
            "2026-04-31".to_string(),
            "2026-12-00".to_string(),
            "0000-01-01".to_string(),
            "9999-12-31".to_string(),
            "2026-99-99".to_string(),
        ];
        let mut day = date(1899, 12, 25);
        while day <= date(2201, 1, 7) {
            shaped.push(day.to_string());
            day = day.tomorrow().unwrap();
        }
        for text in &shaped {
            assert_eq!(
                stored_date(3, text).ok(),
                text.parse::<Date>().ok(),
                "{text}"
            );
        }
        for text in [
            "",
            "2026-3-2",
            "2026/03/02",
            "+002026-03-02",
            "2026-03-02 ",
            "２０２６-03-02",
        ] {
            let err = stored_date(3, text).unwrap_err().to_string();
            assert!(err.contains("unreadable"), "{text}: {err}");
        }
    }

    fn plan_of(sql: &str, values: &[String]) -> String {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrations()
            .to_latest(&mut conn)
            .unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let details: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(values), |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        details.join("; ")
    }

    #[test]
    fn a_desks_table_is_read_from_the_index_alone() {
        for filter in [
            Filter {
                statuses: vec![Status::Open],
                due_before: Some(date(2026, 3, 17)),
                ..Filter::default()
            },
            Filter {
                overdue_on: Some(date(2026, 3, 2)),
                ..Filter::default()
            },
        ] {
            let (sql, values) = filtered(SELECT_LISTED, &filter);
            let plan = plan_of(&sql, &values);
            assert!(
                plan.contains("USING COVERING INDEX commitments_by_status_latest"),
                "{filter:?}: {plan}"
            );
            // In the list's order as the index holds it: nothing sorted.
            assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
        }
    }

    #[test]
    fn a_tag_is_looked_up_by_the_tags_primary_key() {
        for statuses in [vec![], vec![Status::Open]] {
            let filter = Filter {
                statuses,
                tags: vec!["energy".into(), "syria".into()],
                ..Filter::default()
            };
            let (sql, values) = filtered(SELECT_LISTED, &filter);
            let plan = plan_of(&sql, &values);
            assert_eq!(
                plan.matches("USING PRIMARY KEY (commitment_id=? AND tag=?)")
                    .count(),
                2,
                "{filter:?}: {plan}"
            );
        }
    }
}
