//! The database schema, as an ordered list of migrations. The schema version
//! lives in SQLite's `user_version`; a migration, once released, is never
//! edited, only followed by another.

use rusqlite::{Transaction, params};
use rusqlite_migration::{HookResult, M, Migrations};

const V1_COMMITMENTS: &str = r#"
CREATE TABLE commitments (
    id               INTEGER PRIMARY KEY,
    title            TEXT NOT NULL CHECK (length(title) > 0),
    status           TEXT NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'fulfilled', 'partial', 'missed', 'withdrawn')),
    announced        TEXT NOT NULL,
    source           TEXT,
    quote            TEXT,
    evidence         TEXT,
    -- The current deadline is deadlines(id, deadline_version); its `latest`
    -- is copied here so that open commitments can be found by date through
    -- one index.
    deadline_version INTEGER NOT NULL,
    latest           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    closed_at        TEXT
);
CREATE INDEX commitments_by_status_latest ON commitments (status, latest);
CREATE INDEX commitments_by_latest ON commitments (latest);

-- Every deadline a commitment has had: version 1 as announced, then one
-- row per revision. Rows are never changed.
CREATE TABLE deadlines (
    commitment_id INTEGER NOT NULL REFERENCES commitments (id),
    version       INTEGER NOT NULL CHECK (version >= 1),
    expression    TEXT NOT NULL,
    earliest      TEXT NOT NULL,
    latest        TEXT NOT NULL,
    vague         INTEGER NOT NULL CHECK (vague IN (0, 1)),
    anchor        TEXT NOT NULL,
    reason        TEXT,
    at            TEXT NOT NULL,
    PRIMARY KEY (commitment_id, version)
) WITHOUT ROWID;

CREATE TABLE tags (
    commitment_id INTEGER NOT NULL REFERENCES commitments (id),
    tag           TEXT NOT NULL,
    PRIMARY KEY (commitment_id, tag)
) WITHOUT ROWID;
CREATE INDEX tags_by_tag ON tags (tag, commitment_id);

CREATE TABLE actors (
    commitment_id INTEGER NOT NULL REFERENCES commitments (id),
    position      INTEGER NOT NULL,
    actor         TEXT NOT NULL,
    PRIMARY KEY (commitment_id, position)
) WITHOUT ROWID;

-- The history. Append-only: the triggers below refuse edits and deletes.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    commitment_id INTEGER NOT NULL REFERENCES commitments (id),
    at            TEXT NOT NULL,
    author        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_commitment ON events (commitment_id, id);

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'history is append-only');
END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'history is append-only');
END;
CREATE TRIGGER deadlines_are_append_only_update BEFORE UPDATE ON deadlines
BEGIN
    SELECT RAISE(ABORT, 'deadline versions are append-only');
END;
CREATE TRIGGER commitments_are_never_deleted BEFORE DELETE ON commitments
BEGIN
    SELECT RAISE(ABORT, 'commitments are never deleted; close them instead');
END;
"#;

const V2_OUTBOX: &str = r#"
-- The scheduler's state per commitment. next_reminder_at (Unix seconds) is
-- when the planner must look at the commitment again: 0 means at the next
-- tick (new, revised or reopened), NULL means never (closed).
ALTER TABLE commitments ADD COLUMN next_reminder_at INTEGER DEFAULT 0;
ALTER TABLE commitments ADD COLUMN last_reminder_key TEXT;
ALTER TABLE commitments ADD COLUMN last_reminder_on TEXT;
UPDATE commitments SET next_reminder_at = CASE WHEN status = 'open' THEN 0 END;
CREATE INDEX commitments_by_next_reminder ON commitments (next_reminder_at)
    WHERE next_reminder_at IS NOT NULL;

-- One row per email to one recipient. Reminder rows are unique per
-- commitment, reminder key and recipient; digest rows (no commitment) per
-- digest key and recipient. The Message-ID is fixed here, at enqueue.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    commitment_id   INTEGER REFERENCES commitments (id),
    reminder_key    TEXT NOT NULL,
    desk            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    scheduled_at    INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE UNIQUE INDEX outbox_reminder_once ON outbox (commitment_id, reminder_key, recipient)
    WHERE commitment_id IS NOT NULL;
CREATE UNIQUE INDEX outbox_digest_once ON outbox (reminder_key, recipient)
    WHERE commitment_id IS NULL;
CREATE INDEX outbox_by_state ON outbox (state, next_attempt_at);
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE state = 'sent';
CREATE INDEX outbox_by_commitment ON outbox (commitment_id, state);

-- Small facts the daemon keeps between runs (when digests were last due).
CREATE TABLE daemon_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"#;

const V3_CURRENT_ON_THE_ROW: &str = r#"
-- Listing and planning read each commitment with its current deadline, tags
-- and actors. Looked up in three other tables, that cost three index
-- descents per row, on pages scattered over the whole file; a desk's
-- overdue list at 100k commitments spent most of its time there. The
-- current deadline and the two lists are therefore copied onto the row.
-- The tables stay the record (every version, the tag index); these columns
-- are written in the same statement that changes the row's deadline
-- version, and tags and actors never change after a commitment is added.
-- Lists are joined with U+001F, which no stored value contains.
ALTER TABLE commitments ADD COLUMN expression TEXT NOT NULL DEFAULT '';
ALTER TABLE commitments ADD COLUMN earliest   TEXT NOT NULL DEFAULT '';
ALTER TABLE commitments ADD COLUMN vague      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE commitments ADD COLUMN anchor     TEXT NOT NULL DEFAULT '';
ALTER TABLE commitments ADD COLUMN tag_list   TEXT NOT NULL DEFAULT '';
ALTER TABLE commitments ADD COLUMN actor_list TEXT NOT NULL DEFAULT '';
UPDATE commitments SET (expression, earliest, vague, anchor) = (
    SELECT d.expression, d.earliest, d.vague, d.anchor FROM deadlines d
    WHERE d.commitment_id = commitments.id AND d.version = commitments.deadline_version)
WHERE EXISTS (SELECT 1 FROM deadlines d
              WHERE d.commitment_id = commitments.id AND d.version = commitments.deadline_version);
UPDATE commitments SET
    tag_list = coalesce((
        SELECT group_concat(t.tag, char(31) ORDER BY t.tag) FROM tags t
        WHERE t.commitment_id = commitments.id), ''),
    actor_list = coalesce((
        SELECT group_concat(a.actor, char(31) ORDER BY a.position) FROM actors a
        WHERE a.commitment_id = commitments.id), '');
"#;

/// All migrations, oldest first. `user_version` equals the number applied.
const V4_STEADY_SCHEDULE: &str = r#"
-- The planner reads a commitment's last reminder from the outbox, which
-- records every reminder queued; the copy kept on the row is dropped.
-- Writing it grew the row at its first reminder, and a grown row on a full
-- page splits the page: a tick of first reminders wrote three times the
-- pages it needed. For the same reason "plan at the next tick" is now
-- Unix second 8388608 rather than 0: SQLite stores it in four bytes, as
-- it stores every real time until 2038, so planning rewrites the row in
-- place.
ALTER TABLE commitments DROP COLUMN last_reminder_key;
ALTER TABLE commitments DROP COLUMN last_reminder_on;
UPDATE commitments SET next_reminder_at = 8388608 WHERE next_reminder_at = 0;
"#;

const V5_LIST_FROM_THE_INDEX: &str = r#"
-- `list`'s table shows id, status, deadline, vagueness, tags and title.
-- Carrying the last four in the (status, latest) index lets a desk's list
-- be read from the index alone, in order, instead of one row lookup per
-- line on pages all over the file: "what is due in the next two weeks"
-- among 100,000 commitments went from 25 ms to 10 ms, for 9% more file.
-- Titles and tags never change, so the index changes only when status or
-- deadline do, as before.
DROP INDEX commitments_by_status_latest;
CREATE INDEX commitments_by_status_latest
    ON commitments (status, latest, vague, tag_list, title);
"#;

const V6_LIST_IN_ORDER_FROM_THE_INDEX: &str = r#"
-- Lists are ordered by deadline, then id. With the id after the deadline
-- in the (status, deadline) index, that order is the index's own: v5's
-- index put vagueness, tags and title first, so SQLite sorted every
-- deadline's commitments by id in a temporary B-tree, 6 ms of an overdue
-- list of 13,699 among 100,000.
DROP INDEX commitments_by_status_latest;
CREATE INDEX commitments_by_status_latest
    ON commitments (status, latest, id, vague, tag_list, title);
"#;

/// v7: the CHECKs on a commitment's status and an outbox row's state,
/// each written as one test of equality per name instead of `IN` a list of
/// them. SQLite checks `x IN (a list of more than two constants)` by
/// building a temporary B-tree of the list for every row written; for a
/// commitment that was a fifth of the statements an import runs per record
/// (callgrind, 10,000 records: 1,317 M instructions, 1,116 M after).
/// Every value the old CHECK let in, the new one lets in, and no other.
///
/// A CHECK is no part of what is stored, so the table is not rebuilt: its
/// CREATE statement is edited in place, as SQLite's documentation on
/// ALTER TABLE describes for changing constraints, and the schema version
/// is raised so that every connection reads it again.
const V7_CHECKS_WITHOUT_TEMPORARY_TABLES: [(&str, &str, &str); 2] = [
    (
        "commitments",
        "CHECK (status IN ('open', 'fulfilled', 'partial', 'missed', 'withdrawn'))",
        "CHECK (status = 'open' OR status = 'fulfilled' OR status = 'partial'\n                            OR status = 'missed' OR status = 'withdrawn')",
    ),
    (
        "outbox",
        "CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'cancelled'))",
        "CHECK (state = 'pending' OR state = 'sending' OR state = 'sent'\n                           OR state = 'dead' OR state = 'cancelled')",
    ),
];

const V8_NO_UNUSED_TAG_INDEX: &str = r#"
-- The tag filter asks, for each commitment it looks at, whether the
-- commitment has the tag: a probe of the tags table's primary key
-- (commitment_id, tag). No query looked commitments up from a tag, so
-- this index only cost time on every write, most of all on an import,
-- which builds it again from scratch: a fifth of importing 100,000
-- commitments into a new database.
DROP INDEX tags_by_tag;
"#;

const V9_DEADLINE_VERSIONS_ARE_NEVER_DELETED: &str = r#"
-- A commitment's deadline versions are its history of slips, kept as
-- its events are: v1 refused changing one, and now deleting one too. A
-- version deleted by hand also left its commitment without the deadline
-- it points to, which stopped every export.
CREATE TRIGGER IF NOT EXISTS deadlines_are_append_only_delete BEFORE DELETE ON deadlines
BEGIN
    SELECT RAISE(ABORT, 'deadline versions are append-only');
END;
"#;

const V10_RECORDS_KEPT_RENDERED: &str = r#"
-- Each commitment's export record, kept as `export` writes it: an export
-- then copies one value per commitment instead of reading about thirty
-- from three tables and writing them out as JSON again.
--
-- What is kept is only ever a copy. Every change to what a record is made
-- of marks the commitment stale, here in the database, whichever program
-- makes the change, and a stale mark overrides the copy: followup renders
-- stale records again before its own writes commit (the daemon once at
-- the end of each tick), and an export reads any run that holds a stale
-- one from the tables themselves.
CREATE TABLE records (
    id        INTEGER PRIMARY KEY,
    json      TEXT NOT NULL,
    -- How many revisions and events the record holds, for the export's
    -- count of what it wrote against what the tables hold.
    revisions INTEGER NOT NULL,
    events    INTEGER NOT NULL,
    -- A checksum of `json` (see `records::checksum`): a record whose
    -- bytes do not match it is read from the tables instead.
    checksum  INTEGER NOT NULL
);
CREATE TABLE stale_records (id INTEGER PRIMARY KEY);
INSERT INTO stale_records (id) SELECT id FROM commitments;

-- A record is made of its commitment's row (tags and actors included, in
-- tag_list and actor_list), its deadline versions and its events; the
-- last two are only ever added to (their own triggers refuse the rest).
-- Every command opens the schema, so there are as few triggers as that
-- allows.
CREATE TRIGGER records_stale_on_new_commitment AFTER INSERT ON commitments
BEGIN
    INSERT OR IGNORE INTO stale_records (id) VALUES (NEW.id);
END;
-- Every column a record shows; not `next_reminder_at`, which the daemon
-- moves on each plan and no record shows.
CREATE TRIGGER records_stale_on_changed_commitment
AFTER UPDATE OF id, title, status, announced, source, quote, evidence, deadline_version,
                latest, created_at, updated_at, closed_at, expression, earliest, vague,
                anchor, tag_list, actor_list ON commitments
BEGIN
    INSERT OR IGNORE INTO stale_records (id) VALUES (OLD.id), (NEW.id);
END;
CREATE TRIGGER records_stale_on_new_revision AFTER INSERT ON deadlines
BEGIN
    INSERT OR IGNORE INTO stale_records (id) VALUES (NEW.commitment_id);
END;
CREATE TRIGGER records_stale_on_new_event AFTER INSERT ON events
BEGIN
    INSERT OR IGNORE INTO stale_records (id) VALUES (NEW.commitment_id);
END;
"#;

const V11_RECORDS_KEPT_BY_PAGES: &str = r#"
-- The export's records kept a page of four commitments to a row (ids 4p
-- to 4p + 3 on page p), not one commitment to a row: SQLite's own
-- work for each row read was most of an export's time. The stale marks
-- and their triggers stay as v10 made them; a page with a commitment
-- stale is rendered again.
--
-- A page's columns: its number; what it holds (commitments, revisions,
-- events), for the export's count of what it wrote against what the
-- tables hold, before the records so that summing them reads no more than
-- the start of each row; a checksum of the records' bytes, the page
-- number and the counts (see `records::page_checksum`), without which the
-- page is read from the tables instead; and each record as `,\n` and the
-- record, in id order. Every command reads the schema as it starts, so
-- what is said here is not kept in it.
DROP TABLE records;
CREATE TABLE record_pages (
    page        INTEGER PRIMARY KEY,
    commitments INTEGER NOT NULL,
    revisions   INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    checksum    INTEGER NOT NULL,
    body        TEXT NOT NULL
);
-- A page deleted or moved by hand: its commitments are rendered again
-- (an export reads the tables until they are). Its bytes and counts
-- changed by hand fail its checksum instead.
CREATE TRIGGER record_pages_stale_on_delete AFTER DELETE ON record_pages
BEGIN
    INSERT OR IGNORE INTO stale_records (id)
    SELECT id FROM commitments WHERE id BETWEEN OLD.page << 2 AND (OLD.page << 2) + 3;
END;
CREATE TRIGGER record_pages_stale_on_moved AFTER UPDATE OF page ON record_pages
BEGIN
    INSERT OR IGNORE INTO stale_records (id)
    SELECT id FROM commitments WHERE id >> 2 IN (OLD.page, NEW.page);
END;
INSERT OR IGNORE INTO stale_records (id) SELECT id FROM commitments;
"#;

/// v11: [`V11_RECORDS_KEPT_BY_PAGES`], then every page rendered. (v10's
/// rendering of a record a row is left to this step.)
fn v11_records_kept_by_pages(tx: &Transaction) -> HookResult {
    super::records::render_stale(tx)?;
    Ok(())
}

/// Edits the CHECKs of [`V7_CHECKS_WITHOUT_TEMPORARY_TABLES`] where the
/// CREATE statement holds them as written; a schema edited by hand is left
/// as it is, and works as before.
fn v7_checks_without_temporary_tables(tx: &Transaction) -> HookResult {
    let version: i64 = tx.query_row("PRAGMA schema_version", [], |row| row.get(0))?;
    tx.execute_batch("PRAGMA writable_schema = ON")?;
    for (table, from, to) in V7_CHECKS_WITHOUT_TEMPORARY_TABLES {
        tx.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, ?2, ?3)
             WHERE type = 'table' AND name = ?1",
            params![table, from, to],
        )?;
    }
    // RESET also makes this connection read the schema again, as every
    // other one does on seeing the new version.
    tx.execute_batch(&format!(
        "PRAGMA schema_version = {}; PRAGMA writable_schema = RESET;",
        version + 1
    ))?;
    Ok(())
}

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1_COMMITMENTS),
        M::up(V2_OUTBOX),
        M::up(V3_CURRENT_ON_THE_ROW),
        M::up(V4_STEADY_SCHEDULE),
        M::up(V5_LIST_FROM_THE_INDEX),
        M::up(V6_LIST_IN_ORDER_FROM_THE_INDEX),
        M::up_with_hook("", v7_checks_without_temporary_tables),
        M::up(V8_NO_UNUSED_TAG_INDEX),
        M::up(V9_DEADLINE_VERSIONS_ARE_NEVER_DELETED),
        M::up(V10_RECORDS_KEPT_RENDERED),
        M::up_with_hook(V11_RECORDS_KEPT_BY_PAGES, v11_records_kept_by_pages),
    ])
}

/// The schema version this build writes.
pub fn current_version() -> usize {
    11
}

/// What [`missing_from`] found, as a message names it: the first five.
pub fn named(missing: &[String]) -> String {
    let mut named = missing
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if missing.len() > 5 {
        named.push_str(", …");
    }
    named
}

/// What `conn` lacks of the tables and columns of the latest schema, each
/// as `table` or `table.column`, in order. A file can claim the latest
/// `user_version` and hold a `commitments` table without being followup's
/// (another program's, or one edited by hand); this looks at what is
/// there. It builds the latest schema in memory to compare, a few
/// milliseconds: for `restore` and `doctor`, not for every command.
pub fn missing_from(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<String>> {
    use std::collections::BTreeSet;
    let columns = |conn: &rusqlite::Connection| -> rusqlite::Result<BTreeSet<(String, String)>> {
        conn.prepare(
            "SELECT m.name, c.name FROM sqlite_schema m, pragma_table_info(m.name) c
             WHERE m.type = 'table'",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect()
    };
    let mut latest = rusqlite::Connection::open_in_memory()?;
    // The built-in migrations on an empty database in memory: a failure
    // here is followup's own, passed on as SQLite's error type carries it.
    migrations().to_latest(&mut latest).map_err(|e| match e {
        rusqlite_migration::Error::RusqliteError { err, .. } => err,
        other => rusqlite::Error::ToSqlConversionFailure(other.into()),
    })?;
    let want = columns(&latest)?;
    let have = columns(conn)?;
    let tables: BTreeSet<&String> = have.iter().map(|(table, _)| table).collect();
    let mut missing: Vec<String> = Vec::new();
    for (table, column) in want.difference(&have) {
        if !tables.contains(table) {
            if !missing.contains(table) {
                missing.push(table.clone());
            }
        } else {
            missing.push(format!("{table}.{column}"));
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_schema_lacks_nothing_and_a_lookalike_lacks_much() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        assert_eq!(missing_from(&conn).unwrap(), Vec::<String>::new());
        conn.execute_batch("ALTER TABLE events DROP COLUMN detail")
            .unwrap();
        assert_eq!(missing_from(&conn).unwrap(), ["events.detail"]);
        let lookalike = rusqlite::Connection::open_in_memory().unwrap();
        lookalike
            .execute_batch("CREATE TABLE commitments (id INTEGER PRIMARY KEY, title TEXT)")
            .unwrap();
        let missing = missing_from(&lookalike).unwrap();
        assert!(
            missing.contains(&"commitments.status".to_string()),
            "{missing:?}"
        );
        assert!(missing.contains(&"outbox".to_string()), "{missing:?}");
    }

    #[test]
    fn history_and_deadline_versions_cannot_be_changed_or_deleted() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO commitments (id, title, announced, deadline_version, latest, created_at, updated_at)
             VALUES (1, 'open', '2025-10-15', 1, '2025-12-15', 'x', 'x');
             INSERT INTO deadlines (commitment_id, version, expression, earliest, latest, vague, anchor, at)
             VALUES (1, 1, 'within two months', '2025-10-15', '2025-12-15', 0, '2025-10-15', 'x');
             INSERT INTO events (commitment_id, at, author, kind) VALUES (1, 'x', 'desk', 'created');",
        )
        .unwrap();
        for (statement, refusal) in [
            ("DELETE FROM deadlines", "deadline versions are append-only"),
            (
                "UPDATE deadlines SET latest = '2026-01-01'",
                "deadline versions are append-only",
            ),
            ("DELETE FROM events", "history is append-only"),
            (
                "UPDATE events SET author = 'someone else'",
                "history is append-only",
            ),
            ("DELETE FROM commitments", "commitments are never deleted"),
        ] {
            let err = conn.execute_batch(statement).unwrap_err().to_string();
            assert!(err.contains(refusal), "{statement}: {err}");
        }
    }

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn current_version_matches_the_migration_count() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version as usize, current_version());
    }

    #[test]
    fn upgrading_from_version_1_schedules_open_commitments_only() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_version(&mut conn, 1).unwrap();
        conn.execute_batch(
            "INSERT INTO commitments (id, title, announced, deadline_version, latest, created_at, updated_at)
             VALUES (1, 'open', '2025-10-15', 1, '2025-12-15', 'x', 'x');
             INSERT INTO commitments (id, title, status, announced, deadline_version, latest, created_at, updated_at)
             VALUES (2, 'done', 'fulfilled', '2025-10-15', 1, '2025-12-15', 'x', 'x');",
        )
        .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let next: Vec<Option<i64>> = conn
            .prepare("SELECT next_reminder_at FROM commitments ORDER BY id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // Open: planned at the next tick, at the width of a real time.
        assert_eq!(next, vec![Some(super::super::outbox::PLAN_AT_ONCE), None]);
    }

    #[test]
    fn upgrading_from_version_2_copies_the_current_deadline_tags_and_actors() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_version(&mut conn, 2).unwrap();
        conn.execute_batch(
            "INSERT INTO commitments (id, title, announced, deadline_version, latest, created_at, updated_at)
             VALUES (1, 'revised', '2025-10-15', 2, '2026-01-31', 'x', 'x'),
                    (2, 'bare', '2025-10-15', 1, '2025-12-15', 'x', 'x');
             INSERT INTO deadlines (commitment_id, version, expression, earliest, latest, vague, anchor, at)
             VALUES (1, 1, 'within two months', '2025-10-15', '2025-12-15', 0, '2025-10-15', 'x'),
                    (1, 2, 'by the end of January', '2025-12-01', '2026-01-31', 1, '2025-12-01', 'x'),
                    (2, 1, '2025-12-15', '2025-10-15', '2025-12-15', 0, '2025-10-15', 'x');
             INSERT INTO tags (commitment_id, tag) VALUES (1, 'syria'), (1, 'russia');
             INSERT INTO actors (commitment_id, position, actor) VALUES (1, 0, 'Syria'), (1, 1, 'Russia');",
        )
        .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let rows: Vec<(String, String, bool, String, String, String)> = conn
            .prepare(
                "SELECT expression, earliest, vague, anchor, tag_list, actor_list
                 FROM commitments ORDER BY id",
            )
            .unwrap()
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let joined = |parts: &[&str]| parts.join("\u{1f}");
        assert_eq!(
            rows,
            vec![
                (
                    "by the end of January".to_string(),
                    "2025-12-01".to_string(),
                    true,
                    "2025-12-01".to_string(),
                    joined(&["russia", "syria"]),
                    joined(&["Syria", "Russia"]),
                ),
                (
                    "2025-12-15".to_string(),
                    "2025-10-15".to_string(),
                    false,
                    "2025-10-15".to_string(),
                    String::new(),
                    String::new(),
                ),
            ]
        );
    }

    /// Whether `insert` builds a temporary B-tree for each row it writes.
    fn builds_a_table_per_row(conn: &rusqlite::Connection, insert: &str) -> bool {
        let mut explain = conn.prepare(&format!("EXPLAIN {insert}")).unwrap();
        let unbound = vec![rusqlite::types::Null; explain.parameter_count()];
        explain
            .query_map(rusqlite::params_from_iter(unbound), |row| {
                row.get::<_, String>(1)
            })
            .unwrap()
            .any(|opcode| opcode.unwrap() == "OpenEphemeral")
    }

    const INSERT_COMMITMENT: &str =
        "INSERT INTO commitments (title, status, announced, deadline_version, latest, created_at, updated_at)
         VALUES ('t', ?1, '2025-10-15', 1, '2025-12-15', 'x', 'x')";
    const INSERT_OUTBOX: &str =
        "INSERT INTO outbox (reminder_key, desk, recipient, message_id, state, next_attempt_at, scheduled_at, created_at)
         VALUES (?2, 'd', 'r@example.org', ?2, ?1, 0, 0, 0)";

    #[test]
    fn statuses_and_states_are_checked_without_a_table_per_row() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_version(&mut conn, 6).unwrap();
        assert!(builds_a_table_per_row(&conn, INSERT_COMMITMENT));
        assert!(builds_a_table_per_row(&conn, INSERT_OUTBOX));
        migrations().to_latest(&mut conn).unwrap();
        assert!(!builds_a_table_per_row(&conn, INSERT_COMMITMENT));
        assert!(!builds_a_table_per_row(&conn, INSERT_OUTBOX));
        // The same values are let in, and no others.
        for status in ["open", "fulfilled", "partial", "missed", "withdrawn"] {
            conn.execute(INSERT_COMMITMENT, [status]).unwrap();
        }
        for status in ["Open", "opened", "", "open "] {
            let err = conn.execute(INSERT_COMMITMENT, [status]).unwrap_err();
            assert!(
                err.to_string().contains("CHECK constraint failed"),
                "{status:?}: {err}"
            );
        }
        for (n, state) in ["pending", "sending", "sent", "dead", "cancelled"]
            .iter()
            .enumerate()
        {
            conn.execute(INSERT_OUTBOX, params![state, format!("<{n}@x>")])
                .unwrap();
        }
        let err = conn
            .execute(INSERT_OUTBOX, params!["lost", "<9@x>"])
            .unwrap_err();
        assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
    }

    #[test]
    fn upgrading_from_version_6_keeps_every_row_and_a_sound_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desk.db");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrations().to_version(&mut conn, 6).unwrap();
        conn.execute(INSERT_COMMITMENT, ["missed"]).unwrap();
        conn.execute(INSERT_OUTBOX, params!["sent", "<1@x>"])
            .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        drop(conn);
        // A connection opened afresh reads the edited schema.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let kept: (String, String) = conn
            .query_row(
                "SELECT (SELECT status FROM commitments), (SELECT state FROM outbox)",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(kept, ("missed".to_string(), "sent".to_string()));
        assert!(!builds_a_table_per_row(&conn, INSERT_COMMITMENT));
        assert!(conn.execute(INSERT_COMMITMENT, ["lost"]).is_err());
    }

    #[test]
    fn upgrading_from_version_7_drops_the_tag_index_and_keeps_the_tags() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_version(&mut conn, 7).unwrap();
        conn.execute(INSERT_COMMITMENT, ["open"]).unwrap();
        conn.execute_batch(
            "INSERT INTO tags (commitment_id, tag) VALUES (1, 'syria'), (1, 'energy')",
        )
        .unwrap();
        let indexes = |conn: &rusqlite::Connection| -> Vec<String> {
            conn.prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'tags'",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
        };
        assert!(indexes(&conn).contains(&"tags_by_tag".to_string()));
        migrations().to_latest(&mut conn).unwrap();
        assert!(!indexes(&conn).contains(&"tags_by_tag".to_string()));
        let tags: Vec<String> = conn
            .prepare("SELECT tag FROM tags WHERE commitment_id = 1 ORDER BY tag")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(tags, ["energy", "syria"]);
    }

    #[test]
    fn history_cannot_be_edited_or_deleted() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO commitments (id, title, announced, deadline_version, latest, created_at, updated_at)
             VALUES (1, 't', '2025-10-15', 1, '2025-12-15', 'x', 'x');
             INSERT INTO events (commitment_id, at, author, kind) VALUES (1, 'x', 'a', 'created');",
        )
        .unwrap();
        let edit = conn.execute("UPDATE events SET author = 'b'", []);
        assert!(edit.unwrap_err().to_string().contains("append-only"));
        let delete = conn.execute("DELETE FROM events", []);
        assert!(delete.unwrap_err().to_string().contains("append-only"));
        let drop = conn.execute("DELETE FROM commitments", []);
        assert!(drop.unwrap_err().to_string().contains("never deleted"));
    }
}
