//! The scheduler's tables: which open commitments need planning, and the
//! outbox of emails to send. The outbox is what makes delivery
//! at-least-once: a row is written in the same transaction that advances
//! the commitment's schedule, claimed with a lease before sending, and marked
//! sent in its own commit after the server accepted it. A crash between
//! the two leaves a claimed row whose lease runs out, so it is sent again,
//! never lost.

use std::str::FromStr;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde_json::json;

use super::commitments::{deadline_at, insert_event, split_list};
use super::{Result, Store};
use crate::deadline::Deadline;
use crate::model::{CommitmentId, EventKind};
use crate::plan::ReminderKey;

/// An open commitment whose schedule is due for a look.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub id: CommitmentId,
    pub deadline: Deadline,
    pub version: u32,
    pub tags: Vec<String>,
    /// The key of the last reminder queued for it, and when it was queued.
    pub last_queued: Option<(ReminderKey, Timestamp)>,
}

/// One email to queue.
#[derive(Debug, Clone)]
pub struct Enqueue {
    pub desk: String,
    pub recipient: String,
    pub message_id: String,
}

/// What the planner decided for one commitment, to be stored at once.
#[derive(Debug, Clone)]
pub struct Planned {
    pub id: CommitmentId,
    /// The reminder owed now, with its emails.
    pub send: Option<(ReminderKey, Timestamp, Vec<Enqueue>)>,
    /// When the planner must look at the commitment again.
    pub next_at: Option<Timestamp>,
}

/// An outbox row claimed for sending.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub row: i64,
    pub commitment_id: Option<CommitmentId>,
    pub key: String,
    pub desk: String,
    pub recipient: String,
    pub message_id: String,
    pub attempts: u32,
    pub scheduled_at: Timestamp,
}

/// The outbox at a glance, for `status` and the digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    /// Waiting for their first attempt.
    pub pending: u64,
    /// Failed at least once and waiting to be tried again.
    pub retrying: u64,
    /// Claimed by a daemon right now.
    pub sending: u64,
    /// Given up on: refused by the server or out of retries.
    pub dead: u64,
    pub sent_last_24h: u64,
    pub cancelled: u64,
    pub last_sent_at: Option<Timestamp>,
    /// The earliest time a commitment's schedule is due for a look.
    pub next_reminder_at: Option<Timestamp>,
}

/// A delivery that was given up on, for the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadRow {
    pub commitment_id: Option<CommitmentId>,
    pub key: String,
    pub recipient: String,
    pub error: String,
}

/// The `next_reminder_at` of a commitment the planner should look at in
/// its next tick: stored, revised or reopened. Any past time would do;
/// this one (Unix second 2^23, April 1970) is the earliest that SQLite
/// stores in four bytes, as it stores every real time until 2038. So the
/// tick that replaces it rewrites the row where it stands; a zero would
/// grow every row by four bytes and split most pages of a freshly
/// imported table, tripling what the first reminders have to write.
pub(crate) const PLAN_AT_ONCE: i64 = 1 << 23;

/// `at` in whole seconds, rounded up: a retry is stored in seconds, and
/// rounded down it could fall in the very second the tick that failed
/// began in, and be taken again by that same tick, at once.
fn seconds_not_before(at: Timestamp) -> i64 {
    at.as_second() + i64::from(at.subsec_nanosecond() > 0)
}

fn seconds(at: Timestamp) -> i64 {
    at.as_second()
}

fn instant(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Store {
    /// Open commitments whose schedule is due at `now`, oldest first.
    /// Only open commitments have a `next_reminder_at`, so the partial index
    /// holds exactly the scheduled ones and a tick costs O(due), not O(all);
    /// the index is named so the query planner never scans by status.
    ///
    /// The last reminder comes from the outbox, the record of what was
    /// queued, rather than from a copy on the commitment's row: writing
    /// that copy grew the row at its first reminder, and a grown row on a
    /// full page splits it, which tripled the pages a tick of first
    /// reminders wrote.
    ///
    /// A commitment with nothing in this outbox may still have had
    /// reminders: an archive imported from another database carries them
    /// in its history (`reminder_sent`), and the last of those counts as
    /// the last reminder, so a move does not send the desk its reminders
    /// again. The history is looked at only then.
    pub fn scheduled_before(&self, now: Timestamp, limit: usize) -> Result<Vec<Scheduled>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.id, c.deadline_version, c.expression, c.earliest, c.latest, c.vague, c.anchor,
                        c.tag_list, last.reminder_key, last.created_at,
                        CASE WHEN json_valid(sent.detail) THEN json_extract(sent.detail, '$.reminder') END, sent.at
                 FROM commitments c INDEXED BY commitments_by_next_reminder
                 LEFT JOIN outbox last ON last.id = (
                     SELECT o.id FROM outbox o INDEXED BY outbox_by_commitment
                     WHERE o.commitment_id = c.id ORDER BY o.id DESC LIMIT 1)
                 LEFT JOIN events sent ON sent.id = CASE WHEN last.id IS NULL THEN (
                     SELECT e.id FROM events e INDEXED BY events_by_commitment
                     WHERE e.commitment_id = c.id AND e.kind = 'reminder_sent'
                     ORDER BY e.id DESC LIMIT 1) END
                 WHERE c.next_reminder_at IS NOT NULL AND c.next_reminder_at <= ?1 AND c.status = 'open'
                 ORDER BY c.next_reminder_at, c.id
                 LIMIT ?2",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(params![seconds(now), limit as i64], |row| {
                let key: Option<String> = row.get(8)?;
                let at: Option<i64> = match row.get(9)? {
                    Some(at) => Some(at),
                    None => row
                        .get::<_, Option<String>>(11)?
                        .and_then(|at| at.parse::<Timestamp>().ok())
                        .map(|at| at.as_second()),
                };
                let key = match key {
                    Some(key) => Some(key),
                    None => row.get(10)?,
                };
                Ok(Scheduled {
                    id: row.get(0)?,
                    version: row.get(1)?,
                    deadline: deadline_at(row, 2)?,
                    tags: split_list(row.get(7)?),
                    // A key this version cannot read was written by a
                    // newer one; planning as if nothing was sent yet
                    // sends at most one reminder again.
                    last_queued: key.zip(at).and_then(|(key, at)| {
                        Some((ReminderKey::from_str(&key).ok()?, instant(at)))
                    }),
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sqlite(e))?;
        Ok(rows)
    }

    /// Stores a batch of plans in one transaction: the outbox rows and each
    /// commitment's new schedule together, so a crash loses neither.
    /// Returns how many emails were queued.
    pub fn apply_plans(&mut self, plans: &[Planned], now: Timestamp) -> Result<usize> {
        let path = self.path.clone();
        self.write(|tx| {
            let run = || -> rusqlite::Result<usize> {
                let mut queued = 0;
                for plan in plans {
                    if let Some((key, scheduled, emails)) = &plan.send {
                        let mut insert = tx.prepare_cached(
                            "INSERT OR IGNORE INTO outbox
                                 (commitment_id, reminder_key, desk, recipient, message_id,
                                  next_attempt_at, scheduled_at, created_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6)",
                        )?;
                        for email in emails {
                            queued += insert.execute(params![
                                plan.id,
                                key.to_string(),
                                email.desk,
                                email.recipient,
                                email.message_id,
                                seconds(now),
                                seconds(*scheduled),
                            ])?;
                        }
                    }
                    // Same width before and after (see PLAN_AT_ONCE), so
                    // the row is rewritten where it stands.
                    tx.prepare_cached(
                        "UPDATE commitments SET next_reminder_at = ?2 WHERE id = ?1 AND status = 'open'",
                    )?
                    .execute(params![plan.id, plan.next_at.map(seconds)])?;
                }
                Ok(queued)
            };
            run().map_err(|e| super::classify(&path, e))
        })
    }

    /// Queues a digest email; the key (desk and local date) makes a second
    /// call for the same day a no-op. Returns whether a row was added.
    pub fn enqueue_digest(&mut self, key: &str, email: &Enqueue, now: Timestamp) -> Result<bool> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO outbox
                     (commitment_id, reminder_key, desk, recipient, message_id,
                      next_attempt_at, scheduled_at, created_at)
                 VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?5, ?5)",
                params![
                    key,
                    email.desk,
                    email.recipient,
                    email.message_id,
                    seconds(now)
                ],
            )
            .map(|n| n > 0)
            .map_err(|e| super::classify(&path, e))
        })
    }

    /// Claims up to `limit` rows ready to send: pending ones whose time has
    /// come, and claimed ones whose lease ran out (their sender died).
    pub fn claim(
        &mut self,
        now: Timestamp,
        lease: std::time::Duration,
        limit: usize,
    ) -> Result<Vec<Claimed>> {
        let path = self.path.clone();
        let until = seconds(now) + lease.as_secs() as i64;
        self.write(|tx| {
            let run = || -> rusqlite::Result<Vec<Claimed>> {
                let mut stmt = tx.prepare_cached(
                    "UPDATE outbox SET state = 'sending', lease_until = ?2, attempts = attempts + 1
                     WHERE id IN (
                         SELECT id FROM outbox
                         WHERE (state = 'pending' AND next_attempt_at <= ?1)
                            OR (state = 'sending' AND lease_until < ?1)
                         ORDER BY next_attempt_at, id
                         LIMIT ?3)
                     RETURNING id, commitment_id, reminder_key, desk, recipient, message_id,
                               attempts, scheduled_at",
                )?;
                let mut rows = stmt
                    .query_map(params![seconds(now), until, limit as i64], |row| {
                        Ok(Claimed {
                            row: row.get(0)?,
                            commitment_id: row.get(1)?,
                            key: row.get(2)?,
                            desk: row.get(3)?,
                            recipient: row.get(4)?,
                            message_id: row.get(5)?,
                            attempts: row.get(6)?,
                            scheduled_at: instant(row.get(7)?),
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                rows.sort_by_key(|c| c.row);
                Ok(rows)
            };
            run().map_err(|e| super::classify(&path, e))
        })
    }

    /// Whether a claimed row should still go out: its commitment is open
    /// (or it is a digest) and it was not cancelled meanwhile.
    pub fn still_wanted(&self, row: i64) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT o.state = 'sending' AND (o.commitment_id IS NULL OR c.status = 'open')
                 FROM outbox o LEFT JOIN commitments c ON c.id = o.commitment_id
                 WHERE o.id = ?1",
                [row],
                |r| r.get::<_, bool>(0),
            )
            .optional()
            .map(|v| v.unwrap_or(false))
            .map_err(|e| self.sqlite(e))
    }

    /// Records that the server accepted the email, with a history event.
    pub fn mark_sent(&mut self, claimed: &Claimed, now: Timestamp) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let run = || -> rusqlite::Result<()> {
                tx.execute(
                    "UPDATE outbox SET state = 'sent', sent_at = ?2, lease_until = NULL, last_error = NULL
                     WHERE id = ?1",
                    params![claimed.row, seconds(now)],
                )?;
                if let Some(id) = claimed.commitment_id {
                    let detail = json!({
                        "reminder": claimed.key,
                        "desk": claimed.desk,
                        "recipient": claimed.recipient,
                        "message_id": claimed.message_id,
                    });
                    insert_event(tx, id, now, "followup", EventKind::ReminderSent, detail.as_object().unwrap())?;
                }
                Ok(())
            };
            run().map_err(|e| super::classify(&path, e))
        })
    }

    /// Puts a row back to be tried again at `retry_at`.
    pub fn mark_retry(
        &mut self,
        claimed: &Claimed,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, lease_until = NULL, last_error = ?3
                 WHERE id = ?1",
                params![claimed.row, seconds_not_before(retry_at), error],
            )
            .map(|_| ())
            .map_err(|e| super::classify(&path, e))
        })
    }

    /// Gives up on a row, recording why in the commitment's history.
    pub fn mark_dead(&mut self, claimed: &Claimed, error: &str, now: Timestamp) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            let run = || -> rusqlite::Result<()> {
                tx.execute(
                    "UPDATE outbox SET state = 'dead', lease_until = NULL, last_error = ?2 WHERE id = ?1",
                    params![claimed.row, error],
                )?;
                if let Some(id) = claimed.commitment_id {
                    let detail = json!({
                        "reminder": claimed.key,
                        "desk": claimed.desk,
                        "recipient": claimed.recipient,
                        "message_id": claimed.message_id,
                        "error": error,
                        "attempts": claimed.attempts,
                    });
                    insert_event(tx, id, now, "followup", EventKind::DeliveryFailed, detail.as_object().unwrap())?;
                }
                Ok(())
            };
            run().map_err(|e| super::classify(&path, e))
        })
    }

    /// Drops a claimed row whose commitment was closed meanwhile.
    pub fn mark_cancelled(&mut self, claimed: &Claimed) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'cancelled', lease_until = NULL WHERE id = ?1 AND state = 'sending'",
                [claimed.row],
            )
            .map(|_| ())
            .map_err(|e| super::classify(&path, e))
        })
    }

    /// Makes every row left `sending` by a daemon that died mid-send due
    /// again at once, rather than when its lease runs out. Only the holder
    /// of the instance lock may call this: with the lock held, no other
    /// process can be sending them. The attempt each was claimed for
    /// stays counted, since the server may have taken the message; it goes
    /// again with the same Message-ID. Returns how many there were.
    pub fn recover_interrupted(&mut self, now: Timestamp) -> Result<usize> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'pending', lease_until = NULL, next_attempt_at = ?1
                 WHERE state = 'sending'",
                [seconds(now)],
            )
            .map_err(|e| super::classify(&path, e))
        })
    }

    /// Hands a claimed row back untried (shutdown before sending it).
    pub fn release(&mut self, claimed: &Claimed) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute(
                "UPDATE outbox SET state = 'pending', lease_until = NULL, attempts = max(attempts - 1, 0)
                 WHERE id = ?1 AND state = 'sending'",
                [claimed.row],
            )
            .map(|_| ())
            .map_err(|e| super::classify(&path, e))
        })
    }

    /// Puts `dead` emails back in the queue, due at once with their
    /// attempts counted afresh and their Message-IDs as they were: every
    /// one, or those of the commitments `only` names. A reminder of a
    /// commitment since closed, or of a deadline since revised, stays
    /// dead: it would remind the desk of what no longer holds. Says how
    /// many went back.
    pub fn requeue_dead(&mut self, only: &[CommitmentId], now: Timestamp) -> Result<usize> {
        let path = self.path.clone();
        let ids: Vec<i64> = only.to_vec();
        self.write(|tx| {
            let run = || -> rusqlite::Result<usize> {
                let mut requeue = tx.prepare(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?1,
                            lease_until = NULL
                     WHERE state = 'dead'
                       AND (?2 = 0 OR commitment_id IN (SELECT value FROM json_each(?3)))
                       AND (commitment_id IS NULL OR EXISTS (
                            SELECT 1 FROM commitments c
                            WHERE c.id = outbox.commitment_id AND c.status = 'open'
                              AND outbox.reminder_key LIKE 'v' || c.deadline_version || ':%'))",
                )?;
                let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
                requeue.execute(params![seconds(now), i64::from(!only.is_empty()), ids])
            };
            run().map_err(|e| super::classify(&path, e))
        })
    }

    /// Counts for `status` and the daemon's STATUS line. Every count is
    /// an index range, so this stays cheap however many emails were sent.
    pub fn outbox_counts(&self, now: Timestamp) -> Result<OutboxCounts> {
        let count = |sql: &str, value: i64| -> rusqlite::Result<u64> {
            self.conn
                .prepare_cached(sql)?
                .query_row([value], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
        };
        let state =
            |name: &str| -> rusqlite::Result<(u64, u64)> {
                self.conn
                .prepare_cached(
                    "SELECT count(*), coalesce(sum(attempts > 0), 0) FROM outbox WHERE state = ?1",
                )?
                .query_row([name], |r| {
                    Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, i64>(1)?.max(0) as u64))
                })
            };
        let run = || -> rusqlite::Result<OutboxCounts> {
            let (pending, retrying) = state("pending")?;
            Ok(OutboxCounts {
                pending: pending - retrying,
                retrying,
                sending: state("sending")?.0,
                dead: state("dead")?.0,
                cancelled: state("cancelled")?.0,
                sent_last_24h: count(
                    "SELECT count(*) FROM outbox WHERE state = 'sent' AND sent_at > ?1",
                    seconds(now) - 86_400,
                )?,
                last_sent_at: self
                    .conn
                    .prepare_cached("SELECT max(sent_at) FROM outbox WHERE state = 'sent'")?
                    .query_row([], |r| r.get::<_, Option<i64>>(0))?
                    .map(instant),
                next_reminder_at: self
                    .conn
                    .prepare_cached(
                        "SELECT min(next_reminder_at) FROM commitments WHERE next_reminder_at IS NOT NULL",
                    )?
                    .query_row([], |r| r.get::<_, Option<i64>>(0))?
                    // A schedule already past (such as PLAN_AT_ONCE) is
                    // due at the next tick: say now, not 1970.
                    .map(|at| instant(at.max(seconds(now)))),
            })
        };
        run().map_err(|e| self.sqlite(e))
    }

    /// The earliest time after `after` at which an email waiting in the
    /// outbox falls due: a retry, as a rule. The daemon wakes for it when
    /// it comes before the next planned wake, so a `retry_first` shorter
    /// than the loop's minute is kept. Emails already due at `after` are
    /// left out: they are the ones a tick left untried because the relay
    /// stopped answering, and waking for them would hammer that relay.
    pub fn next_attempt_after(&self, after: Timestamp) -> Result<Option<Timestamp>> {
        self.conn
            .prepare_cached(
                "SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending' AND next_attempt_at > ?1",
            )
            .and_then(|mut stmt| stmt.query_row([seconds(after)], |r| r.get::<_, Option<i64>>(0)))
            .map(|at| at.map(instant))
            .map_err(|e| self.sqlite(e))
    }

    /// The emails given up on since `since`, to `desk` only when one is
    /// named: a desk's digest tells of its own undelivered reminders, not
    /// of another desk's recipients and their servers' errors.
    pub fn dead_since(&self, desk: Option<&str>, since: Timestamp) -> Result<Vec<DeadRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT commitment_id, reminder_key, recipient, coalesce(last_error, '')
                 FROM outbox WHERE state = 'dead' AND created_at >= ?1 AND (?2 IS NULL OR desk = ?2)
                 ORDER BY id",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(params![seconds(since), desk], |row| {
                Ok(DeadRow {
                    commitment_id: row.get(0)?,
                    key: row.get(1)?,
                    recipient: row.get(2)?,
                    error: row.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sqlite(e))?;
        Ok(rows)
    }

    /// A small fact the daemon keeps between runs.
    pub fn daemon_state(&self, name: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM daemon_state WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    /// Has the planner look at every open commitment again at its next
    /// tick, as after the reminder policy changed: each one's stored next
    /// time was worked out under the old policy. What was already sent
    /// stays sent; the planner knows it from the outbox.
    pub fn plan_all_again(&mut self) -> Result<usize> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute(
                "UPDATE commitments SET next_reminder_at = ?1
                 WHERE status = 'open' AND next_reminder_at IS NOT ?1",
                [PLAN_AT_ONCE],
            )
            .map_err(|e| super::classify(&path, e))
        })
    }

    /// This database's token in reminders' thread roots
    /// (`mail::thread_root`). A database draws it when it is made; one made
    /// by an older followup, or whose token was edited into anything but
    /// a short hex word (it goes into a header), draws it here. A restored
    /// backup keeps it, so its threads go on; another desk's database has
    /// its own, so its commitment 12 never joins this one's thread.
    pub fn mail_thread(&mut self) -> Result<String> {
        if let Some(token) = self.daemon_state(super::MAIL_THREAD_STATE)?
            && (1..=32).contains(&token.len())
            && token.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Ok(token);
        }
        let path = self.path.clone();
        self.write(|tx| {
            tx.query_row(
                &format!(
                    "INSERT INTO daemon_state (name, value) VALUES (?1, {})
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value
                     RETURNING value",
                    super::DRAW_MAIL_THREAD
                ),
                [super::MAIL_THREAD_STATE],
                |row| row.get(0),
            )
            .map_err(|e| super::classify(&path, e))
        })
    }

    pub fn set_daemon_state(&mut self, name: &str, value: &str) -> Result<()> {
        let path = self.path.clone();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO daemon_state (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map(|_| ())
            .map_err(|e| super::classify(&path, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewCommitment;
    use crate::plan::Occasion;
    use crate::store::Check;
    use jiff::civil::date;

    fn committee(store: &mut Store, at: Timestamp) -> CommitmentId {
        let announced = date(2025, 10, 15);
        let new = NewCommitment {
            title: "Hold the joint intergovernmental committee meeting".into(),
            announced,
            deadline: Deadline {
                expression: "within two months".into(),
                earliest: announced,
                latest: date(2025, 12, 15),
                vague: false,
                anchor: announced,
            },
            actors: vec!["Syria".into(), "Russia".into()],
            tags: vec!["syria".into()],
            source: None,
            quote: None,
            note: None,
        };
        store.add(&new, at, "test").unwrap()
    }

    fn queue(
        store: &mut Store,
        id: CommitmentId,
        key: ReminderKey,
        at: Timestamp,
        next: Timestamp,
    ) {
        let email = Enqueue {
            desk: "default".into(),
            recipient: "desk@example.org".into(),
            message_id: format!("<{key}.{}@example.org>", at.as_second()),
        };
        let plan = Planned {
            id,
            send: Some((key, at, vec![email])),
            next_at: Some(next),
        };
        assert_eq!(store.apply_plans(&[plan], at).unwrap(), 1);
    }

    #[test]
    fn the_mail_thread_token_is_drawn_with_the_database_and_kept_unless_spoiled() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("followup.db"), Check::Full).unwrap();
        let drawn = store.mail_thread().unwrap();
        assert_eq!(drawn.len(), 16, "{drawn}");
        assert_eq!(store.mail_thread().unwrap(), drawn);
        // Edited by hand into something a header cannot carry: drawn again.
        store
            .set_daemon_state(crate::store::MAIL_THREAD_STATE, "a b>")
            .unwrap();
        let again = store.mail_thread().unwrap();
        assert!(
            again.len() == 16 && again.bytes().all(|b| b.is_ascii_hexdigit()),
            "{again}"
        );
        assert_eq!(store.mail_thread().unwrap(), again);
    }

    #[test]
    fn a_retry_due_later_in_the_second_a_tick_began_waits_for_a_later_tick() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("followup.db"), Check::Full).unwrap();
        let at: Timestamp = "2025-12-01T09:00:00Z".parse().unwrap();
        let id = committee(&mut store, at);
        let key: ReminderKey = "v1:before:14d".parse().unwrap();
        queue(&mut store, id, key, at, at);
        let tick: Timestamp = "2025-12-01T09:00:05.01Z".parse().unwrap();
        let claimed = store
            .claim(tick, std::time::Duration::from_secs(300), 10)
            .unwrap();
        assert_eq!(claimed.len(), 1);
        // A backoff of 0.9 s lands in the same whole second as the tick.
        let retry_at: Timestamp = "2025-12-01T09:00:05.91Z".parse().unwrap();
        store
            .mark_retry(&claimed[0], retry_at, "451 later")
            .unwrap();
        let again = store
            .claim(tick, std::time::Duration::from_secs(300), 10)
            .unwrap();
        assert!(again.is_empty(), "taken again by the tick that failed it");
        let next_tick: Timestamp = "2025-12-01T09:00:06Z".parse().unwrap();
        assert_eq!(
            store
                .claim(next_tick, std::time::Duration::from_secs(300), 10)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn the_daemon_wakes_for_the_next_retry_but_not_for_emails_a_tick_left_untried() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("followup.db"), Check::Full).unwrap();
        let at: Timestamp = "2025-12-01T09:00:00Z".parse().unwrap();
        let tick: Timestamp = "2025-12-01T09:00:05Z".parse().unwrap();
        let lease = std::time::Duration::from_secs(300);
        for key in ["v1:before:14d", "v1:before:3d"] {
            let id = committee(&mut store, at);
            queue(&mut store, id, key.parse().unwrap(), at, at);
        }
        let claimed = store.claim(tick, lease, 10).unwrap();
        // One failed for now; the other was handed back untried, as when
        // the relay stopped answering: it is due already.
        let retry_at: Timestamp = "2025-12-01T09:00:07Z".parse().unwrap();
        store
            .mark_retry(&claimed[0], retry_at, "451 later")
            .unwrap();
        store.release(&claimed[1]).unwrap();
        assert_eq!(store.next_attempt_after(tick).unwrap(), Some(retry_at));
        let later: Timestamp = "2025-12-01T09:00:07Z".parse().unwrap();
        assert_eq!(store.next_attempt_after(later).unwrap(), None);
    }

    #[test]
    fn the_last_reminder_is_read_back_from_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("followup.db"), Check::Full).unwrap();
        let added: Timestamp = "2025-10-15T09:00:00Z".parse().unwrap();
        let id = committee(&mut store, added);

        let new = store.scheduled_before(added, 10).unwrap();
        assert_eq!(new.len(), 1, "a new commitment is planned at the next tick");
        assert_eq!(new[0].last_queued, None);

        let first: Timestamp = "2025-12-01T09:00:00Z".parse().unwrap();
        let second: Timestamp = "2025-12-12T09:00:00Z".parse().unwrap();
        let before = |days| ReminderKey {
            version: 1,
            occasion: Occasion::Before(days),
        };
        queue(&mut store, id, before(14), first, second);
        assert!(store.scheduled_before(first, 10).unwrap().is_empty());
        queue(&mut store, id, before(3), second, second);

        let due = store.scheduled_before(second, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].last_queued, Some((before(3), second)));
    }

    #[test]
    fn a_closed_commitment_is_no_longer_scheduled() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("followup.db"), Check::Full).unwrap();
        let at: Timestamp = "2025-10-15T09:00:00Z".parse().unwrap();
        let id = committee(&mut store, at);
        store
            .close(id, crate::model::Outcome::Fulfilled, None, at, "test")
            .unwrap();
        assert!(store.scheduled_before(at, 10).unwrap().is_empty());
    }
}
