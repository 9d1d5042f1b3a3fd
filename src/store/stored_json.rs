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

use std::io::Write;

use rusqlite::Connection;
use rusqlite::types::Type;

use super::columns::{Columns, Cursor, Param};
use super::commitments::{
    CURRENT_VERSION_COLUMN, SELECT_COMMITMENT, SELECT_COMMITMENT_COLUMNS, filtered,
};
use super::json_text::{
    Layout, canonical_members, push_bool, push_int, push_opt_plain, push_opt_str, push_plain,
    push_str, push_utf8,
};
use super::readers::{Fault, Framed, SharedWork, WRITE_AT, damaged, reader_count};
use super::{Filter, OutputError, Store};
use crate::deadline::{digits_and_marks, has_iso_date_shape as is_date};
use crate::model::{EventKind, Status};

/// One commitment as its row stores it, borrowed from the row: every
/// field but the current deadline, which is read on its own (see
/// [`StoredDeadline::current`]), since an export takes it from the
/// commitment's revisions instead.
pub struct StoredCommitment<'row> {
    id: i64,
    title: &'row str,
    status: &'row [u8],
    announced: &'row [u8],
    source: Option<&'row str>,
    quote: Option<&'row str>,
    evidence: Option<&'row str>,
    created_at: &'row [u8],
    updated_at: &'row [u8],
    closed_at: Option<&'row [u8]>,
    tags: Joined<'row>,
    actors: Joined<'row>,
    deadline_version: i64,
}

impl<'row> StoredCommitment<'row> {
    /// Reads a row of `SELECT_COMMITMENT_HEAD` (or of `SELECT_COMMITMENT`,
    /// which begins with the same columns), checking the shape of each
    /// date, timestamp and status so a damaged value is reported, not
    /// printed.
    pub(super) fn read(row: Columns<'row>) -> rusqlite::Result<StoredCommitment<'row>> {
        Ok(StoredCommitment {
            id: row.int(0)?,
            title: row.text(1)?,
            status: checked(row, 2, is_status)?,
            announced: checked(row, 3, is_date)?,
            source: row.optional_text(4)?,
            quote: row.optional_text(5)?,
            evidence: row.optional_text(6)?,
            created_at: checked(row, 7, is_timestamp)?,
            updated_at: checked(row, 8, is_timestamp)?,
            closed_at: row
                .optional_text_bytes(9)?
                .map(|at| shaped(at, 9, is_timestamp))
                .transpose()?,
            tags: Joined(row.optional_text(10)?.unwrap_or_default()),
            actors: Joined(row.optional_text(11)?.unwrap_or_default()),
            deadline_version: row.int(CURRENT_VERSION_COLUMN)?,
        })
    }
}

impl StoredCommitment<'_> {
    pub(super) fn id(&self) -> i64 {
        self.id
    }

    /// The version of the commitment's current deadline.
    pub(super) fn deadline_version(&self) -> i64 {
        self.deadline_version
    }

    /// Appends the commitment's fields as `Commitment` serialises them,
    /// in `layout`, leaving its object open: `{` and the members, to be
    /// closed by the caller (an exported record goes on with its
    /// revisions and history). `deadline` appends the current deadline's
    /// object, laid out in the layout it is given.
    // Inlined into each caller, whose layout is then a constant: the
    // keys and their indents are written without a branch or a call each.
    #[inline(always)]
    pub(super) fn push_fields(
        &self,
        out: &mut Vec<u8>,
        layout: Layout,
        deadline: impl FnOnce(&mut Vec<u8>, Layout),
    ) {
        out.push(b'{');
        layout.key(out, true, "id");
        push_int(out, self.id);
        layout.key(out, false, "title");
        push_str(out, self.title);
        layout.key(out, false, "status");
        push_plain(out, self.status);
        layout.key(out, false, "announced");
        push_plain(out, self.announced);
        layout.key(out, false, "actors");
        self.actors.push(out, layout.inner());
        layout.key(out, false, "tags");
        self.tags.push(out, layout.inner());
        layout.key(out, false, "deadline");
        deadline(out, layout.inner());
        layout.key(out, false, "source");
        push_opt_str(out, self.source);
        layout.key(out, false, "quote");
        push_opt_str(out, self.quote);
        layout.key(out, false, "evidence");
        push_opt_str(out, self.evidence);
        layout.key(out, false, "created_at");
        push_plain(out, self.created_at);
        layout.key(out, false, "updated_at");
        push_plain(out, self.updated_at);
        layout.key(out, false, "closed_at");
        push_opt_plain(out, self.closed_at);
    }

    /// Appends the commitment, with `deadline` its current deadline, as
    /// an element of an indented JSON array, exactly as
    /// `serde_json::to_string_pretty` lays out a `Commitment` there.
    pub(super) fn push_pretty(&self, deadline: &StoredDeadline<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"  ");
        self.push_fields(out, Layout::Pretty(2), |out, layout| {
            deadline.push_fields(out, layout);
            layout.close(out, b'}');
        });
        Layout::Pretty(2).close(out, b'}');
    }
}

/// Reads a row of `SELECT_COMMITMENT` and appends it as a line of an
/// indented list.
fn push_listed(row: Columns<'_>, out: &mut Vec<u8>) -> rusqlite::Result<()> {
    let commitment = StoredCommitment::read(row)?;
    let deadline = StoredDeadline::current(row)?;
    commitment.push_pretty(&deadline, out);
    Ok(())
}

/// A deadline version's columns: its version, then expression, earliest,
/// latest, vague and anchor.
pub(super) struct StoredDeadline<'row> {
    version: i64,
    expression: &'row str,
    earliest: &'row [u8],
    latest: &'row [u8],
    vague: bool,
    anchor: &'row [u8],
}

impl<'row> StoredDeadline<'row> {
    /// Reads the current deadline of a row of `SELECT_COMMITMENT`.
    pub(super) fn current(row: Columns<'row>) -> rusqlite::Result<Self> {
        Self::read(row, CURRENT_VERSION_COLUMN, CURRENT_VERSION_COLUMN + 1)
    }

    /// Reads the version at column `version` and the five deadline
    /// columns from `first` on.
    fn read(row: Columns<'row>, version: usize, first: usize) -> rusqlite::Result<Self> {
        Ok(StoredDeadline {
            version: row.int(version)?,
            expression: row.text(first)?,
            earliest: checked(row, first + 1, is_date)?,
            latest: checked(row, first + 2, is_date)?,
            vague: row.flag(first + 3)?,
            anchor: checked(row, first + 4, is_date)?,
        })
    }

    /// Appends `{` and the deadline's fields, then its version, as
    /// `DeadlineVersion` and `Revision` both begin, in `layout`, leaving
    /// the object open.
    #[inline(always)]
    fn push_fields(&self, out: &mut Vec<u8>, layout: Layout) {
        out.push(b'{');
        layout.key(out, true, "expression");
        push_str(out, self.expression);
        layout.key(out, false, "earliest");
        push_plain(out, self.earliest);
        layout.key(out, false, "latest");
        push_plain(out, self.latest);
        layout.key(out, false, "vague");
        push_bool(out, self.vague);
        layout.key(out, false, "anchor");
        push_plain(out, self.anchor);
        layout.key(out, false, "version");
        push_int(out, self.version);
    }
}

/// A list stored joined by U+001F, serialised as an array.
struct Joined<'row>(&'row str);

impl Joined<'_> {
    /// Appends the list as a JSON array whose items are laid out in
    /// `layout`.
    fn push(&self, out: &mut Vec<u8>, layout: Layout) {
        if self.0.is_empty() {
            out.extend_from_slice(b"[]");
            return;
        }
        out.push(b'[');
        // Cut at an ASCII byte, each item is UTF-8 as the whole is.
        for (i, item) in self.0.as_bytes().split(|b| *b == 0x1f).enumerate() {
            layout.item(out, i == 0);
            push_utf8(out, item);
        }
        layout.close(out, b']');
    }
}

/// The text in column `index` as bytes, once `shape` has found it to be
/// one of the plain values (a date, a timestamp, a status or an event's
/// kind, all ASCII) that are printed as they are stored. A damaged value
/// is reported, not printed. Checking the shape is all the checking such
/// a value needs: ASCII is UTF-8.
// Inlined with its shape, as `shaped` is: called through a pointer, the
// checks of an export's plain values were a twentieth of its instructions.
#[inline]
fn checked<'row>(
    row: Columns<'row>,
    index: usize,
    shape: impl Fn(&[u8]) -> bool,
) -> rusqlite::Result<&'row [u8]> {
    shaped(row.text_bytes(index)?, index, shape)
}

/// `value`, the text of column `index`, once `shape` has found it to be
/// one of the plain values (see [`checked`]).
#[inline]
fn shaped(value: &[u8], index: usize, shape: impl Fn(&[u8]) -> bool) -> rusqlite::Result<&[u8]> {
    if shape(value) {
        Ok(value)
    } else {
        Err(unshaped(value, index))
    }
}

/// The error for `value`, the text of column `index`, found not to have
/// the shape its column gives every value.
#[cold]
fn unshaped(value: &[u8], index: usize) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        Type::Text,
        format!("unreadable value {:?}", String::from_utf8_lossy(value)).into(),
    )
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, as `Timestamp` prints. The time
/// of day is checked eight bytes at a time, as the date is.
fn is_timestamp(b: &[u8]) -> bool {
    // `THH:MM:S`: digits but for the T at 0 and the colons at 3 and 6.
    const DIGITS: u64 = 0xff00_ffff_00ff_ff00;
    const MARKS: u64 = 0x003a_0000_3a00_0054;
    let (Some(date), Some(clock)) = (b.get(..10), b.get(10..18)) else {
        return false;
    };
    is_date(date)
        && digits_and_marks(
            u64::from_le_bytes(clock.try_into().unwrap_or_default()),
            DIGITS,
            MARKS,
        )
        && match &b[18..] {
            [second, b'Z'] => second.is_ascii_digit(),
            [second, b'.', fraction @ .., b'Z'] => {
                second.is_ascii_digit()
                    && !fraction.is_empty()
                    && fraction.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        }
}

/// One of the statuses.
fn is_status(b: &[u8]) -> bool {
    Status::ALL
        .iter()
        .any(|status| status.as_str().as_bytes() == b)
}

/// One of the kinds of event.
fn is_event_kind(b: &[u8]) -> bool {
    EventKind::ALL
        .iter()
        .any(|kind| kind.as_str().as_bytes() == b)
}

/// A list longer than this is shared out among readers.
const SHARED_LIST: usize = 512;
/// Lines of a long list handled as one window (see [`ListWindows`]). A
/// window's lines (about 3 MB) are held in memory until it is written.
/// Windows of 2,048 or 4,096 lines made the 100,000-commitment overdue
/// list equally fast; 1,024 were slower, and 16,384 slower still (fresh
/// memory for every line of the first windows).
const LIST_WINDOW: usize = 4096;

impl Store {
    /// Writes the commitments matching `filter`, soonest deadline first,
    /// as an indented JSON array of the model's `Commitment`s, from one
    /// snapshot. A long list is shared out among readers (see `readers`):
    /// its rows lie all over the file, and finding them is most of the
    /// work.
    pub fn list_json(&self, filter: &Filter, out: &mut dyn Write) -> Result<(), OutputError> {
        let shared = Sharing {
            above: SHARED_LIST,
            window: LIST_WINDOW,
            readers: reader_count(),
        };
        self.list_json_with(filter, out, shared)
    }

    fn list_json_with(
        &self,
        filter: &Filter,
        out: &mut dyn Write,
        shared: Sharing,
    ) -> Result<(), OutputError> {
        let mut framed = Framed::new(out);
        let written = match self.plan_shared_list(filter, shared) {
            Ok(Some(windows)) => self.read_windows(windows, &mut framed),
            Ok(None) => self.list_alone(filter, &mut framed),
            Err(fault) => Err(fault),
        };
        self.finish_output(written, framed)
    }

    /// The ids of a long list in order, read holding the write lock so
    /// that readers can share the snapshot; `None` (and no transaction)
    /// for a short list or when the lock is not to be had.
    fn plan_shared_list(
        &self,
        filter: &Filter,
        shared: Sharing,
    ) -> Result<Option<ListWindows>, Fault> {
        if shared.readers < 2 || !self.lock_for_readers() {
            return Ok(None);
        }
        // Read from the list's index alone: no row is visited.
        let (sql, values) = filtered("SELECT c.id FROM commitments c", filter);
        let mut rows = Cursor::prepare(&self.conn, &sql)?;
        rows.start(&text_params(&values))?;
        let mut ids = Vec::new();
        while let Some(row) = rows.next_row()? {
            ids.push(row.int(0)?);
        }
        if ids.len() <= shared.above {
            self.conn.execute_batch("ROLLBACK")?;
            return Ok(None);
        }
        Ok(Some(ListWindows {
            ids,
            window: shared.window.max(1),
            readers: shared.readers,
        }))
    }

    /// Renders a long list with its readers and writes each window's
    /// lines in the list's order once every reader's part of it is in.
    fn read_windows(&self, windows: ListWindows, framed: &mut Framed<'_>) -> Result<(), Fault> {
        let readers = windows.readers;
        let mut parts: Vec<ListPart> = Vec::with_capacity(readers);
        // For each place in the window: which part holds its line, and where.
        let mut places: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
        let mut buffer = Vec::with_capacity(2 * WRITE_AT);
        self.read_shared(
            readers,
            || Ok(Some(windows)),
            |_, run, part, spent| {
                parts.push(part);
                if parts.len() < readers {
                    return Ok(());
                }
                let lines = parts.iter().map(|p| p.placed.len()).sum();
                places.clear();
                places.resize(lines, (0, 0..0));
                for (k, part) in parts.iter().enumerate() {
                    for (place, span) in &part.placed {
                        places[*place] = (k, span.clone());
                    }
                }
                for (k, span) in &places {
                    buffer.extend_from_slice(b",\n");
                    buffer.extend_from_slice(&parts[*k].lines[span.clone()]);
                    if buffer.len() >= WRITE_AT {
                        framed.elements(&mut buffer)?;
                    }
                }
                let first = run + 1 - readers;
                for (k, part) in parts.drain(..).enumerate() {
                    spent.give_back(first + k, part);
                }
                Ok(())
            },
        )?;
        framed.elements(&mut buffer)
    }

    /// The list read by this connection alone, each line written as its
    /// row is read.
    fn list_alone(&self, filter: &Filter, framed: &mut Framed<'_>) -> Result<(), Fault> {
        let (sql, values) = filtered(SELECT_COMMITMENT, filter);
        let mut rows = Cursor::prepare(&self.conn, &sql)?;
        rows.start(&text_params(&values))?;
        let mut buffer = Vec::with_capacity(2 * WRITE_AT);
        while let Some(row) = rows.next_row()? {
            buffer.extend_from_slice(b",\n");
            push_listed(row, &mut buffer)?;
            if buffer.len() >= WRITE_AT {
                framed.elements(&mut buffer)?;
            }
        }
        framed.elements(&mut buffer)
    }
}

/// A filter's values, to bind as text.
pub(super) fn text_params(values: &[String]) -> Vec<Param<'_>> {
    values.iter().map(|value| Param::Text(value)).collect()
}

/// When and how a list is shared out among readers.
#[derive(Debug, Clone, Copy)]
struct Sharing {
    /// Lists longer than this are shared out.
    above: usize,
    /// Lines in a window.
    window: usize,
    readers: usize,
}

/// A long list, cut into windows of `window` lines. Each window is
/// shared out by id: sorted by id and cut into one part per reader, each
/// part a stretch of the file. A list in deadline order visits rows all
/// over the file; read front to back and each stretch by one reader, the
/// rows a reader looks up lie on the same or the next pages, and each
/// reader maps in about its share of the file rather than all of it. An
/// overdue list of 13,699 out of 100,000 commitments took 62 ms instead
/// of 70.
struct ListWindows {
    ids: Vec<i64>,
    window: usize,
    readers: usize,
}

/// A reader of a list: its lookup, and its window's ids in id order.
struct ListReader<'conn> {
    /// The commitments with the ids in `carray(?1)`, in that order.
    share: Cursor<'conn>,
    /// Each id of the window with its place in the window.
    by_id: Vec<(i64, usize)>,
    /// The ids of the reader's share, in id order.
    ids: Vec<i64>,
}

/// A reader's part of a window.
#[derive(Default)]
struct ListPart {
    /// The part's lines, in id order.
    lines: Vec<u8>,
    /// Each line's place in the window, and where it lies in `lines`.
    placed: Vec<(usize, std::ops::Range<usize>)>,
}

impl SharedWork for ListWindows {
    type Reader<'conn> = ListReader<'conn>;
    type Rendered = ListPart;

    /// One run for each reader's part of each window.
    fn runs(&self) -> usize {
        self.ids.len().div_ceil(self.window) * self.readers
    }

    fn prepare(conn: &Connection) -> rusqlite::Result<ListReader<'_>> {
        // The ids drive the join, so the rows come in the ids' order.
        let sql = format!(
            "{SELECT_COMMITMENT_COLUMNS} FROM carray(?1) AS wanted \
             CROSS JOIN commitments c ON c.id = wanted.value"
        );
        Ok(ListReader {
            share: Cursor::prepare(conn, &sql)?,
            by_id: Vec::new(),
            ids: Vec::new(),
        })
    }

    fn render(
        &self,
        reader: &mut ListReader<'_>,
        run: usize,
        part: &mut ListPart,
    ) -> Result<(), Fault> {
        let (window, share) = (run / self.readers, run % self.readers);
        let ids = self.ids.chunks(self.window).nth(window).unwrap_or_default();
        let from = share * ids.len() / self.readers;
        let to = (share + 1) * ids.len() / self.readers;
        // Every reader picks its share of the window for itself: a few
        // thousand pairs, where sorting once while planning would hold
        // the write lock longer.
        reader.by_id.clear();
        reader.by_id.extend(ids.iter().copied().zip(0..));
        let mine = share_by_id(&mut reader.by_id, from, to);
        reader.ids.clear();
        reader.ids.extend(mine.iter().map(|&(id, _)| id));
        part.lines.clear();
        part.placed.clear();
        reader.share.start(&[Param::Ints(&reader.ids)])?;
        for &(id, place) in mine.iter() {
            let found = match reader.share.next_row()? {
                Some(row) if row.int(0)? == id => row,
                _ => {
                    // The ids came from the list's index in this very
                    // snapshot: a row missing from the table is damage.
                    return Err(Fault::Read(damaged(format!(
                        "commitment {id} is in the list's index but not in the table; `followup doctor` shows the damage"
                    ))));
                }
            };
            let start = part.lines.len();
            push_listed(found, &mut part.lines)?;
            part.placed.push((place, start..part.lines.len()));
        }
        Ok(())
    }
}

/// The pairs that would lie at `from..to` were `pairs` sorted, sorted:
/// picked out first, so that each reader sorts only its share.
fn share_by_id(pairs: &mut [(i64, usize)], from: usize, to: usize) -> &mut [(i64, usize)] {
    let to = to.min(pairs.len());
    let from = from.min(to);
    if from > 0 && from < pairs.len() {
        // Everything before `from` is now below everything from it on.
        pairs.select_nth_unstable(from);
    }
    let share = &mut pairs[from..];
    let count = to - from;
    if count > 0 && count < share.len() {
        share.select_nth_unstable(count);
    }
    let share = &mut share[..count];
    share.sort_unstable();
    share
}

/// A revision row of `deadlines`, from its `version` column on.
pub(super) struct StoredRevision<'row> {
    deadline: StoredDeadline<'row>,
    reason: Option<&'row str>,
    at: &'row [u8],
}

impl<'row> StoredRevision<'row> {
    /// Reads the revision whose columns (version, the five deadline
    /// columns, reason, at) start at `first`.
    pub(super) fn read(row: Columns<'row>, first: usize) -> rusqlite::Result<StoredRevision<'row>> {
        Ok(StoredRevision {
            deadline: StoredDeadline::read(row, first, first + 1)?,
            reason: row.optional_text(first + 6)?,
            at: checked(row, first + 7, is_timestamp)?,
        })
    }

    pub(super) fn version(&self) -> i64 {
        self.deadline.version
    }

    /// Appends the revision as `Revision` serialises: the deadline's
    /// fields, then the revision's. Returns where the deadline's fields
    /// end in `out`: up to there, and closed, the revision reads as its
    /// `DeadlineVersion` does.
    pub(super) fn push(&self, out: &mut Vec<u8>) -> usize {
        self.deadline.push_fields(out, Layout::Compact);
        let deadline_end = out.len();
        Layout::Compact.key(out, false, "reason");
        push_opt_str(out, self.reason);
        Layout::Compact.key(out, false, "at");
        push_plain(out, self.at);
        out.push(b'}');
        deadline_end
    }
}

/// An event row; its detail is a JSON object flattened into the event.
pub(super) struct StoredEvent<'row> {
    at: &'row [u8],
    author: &'row str,
    kind: &'row [u8],
    /// The detail's members, ready to follow the event's own fields.
    detail: Members<'row>,
}

/// The members of an event's detail object.
enum Members<'row> {
    /// As stored: followup writes every detail as serde_json writes a map.
    Stored(&'row str),
    /// Written again, for a detail stored some other way.
    Rewritten(String),
}

impl<'row> StoredEvent<'row> {
    /// Reads the event whose columns (at, author, kind, detail) start at
    /// `first`.
    pub(super) fn read(row: Columns<'row>, first: usize) -> rusqlite::Result<StoredEvent<'row>> {
        let detail = row.text(first + 3)?;
        let members = match canonical_members(detail) {
            Some(members) => Members::Stored(members),
            None => {
                // Not as followup writes details (spaces, another key
                // order), or damaged: parsed, and written again the way it
                // would have been.
                let parsed: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(detail).map_err(|_| {
                        rusqlite::Error::FromSqlConversionFailure(
                            first + 3,
                            rusqlite::types::Type::Text,
                            format!("unreadable value {detail:?}").into(),
                        )
                    })?;
                let canonical = serde_json::to_string(&parsed).unwrap_or_default();
                let inner = canonical
                    .strip_prefix('{')
                    .and_then(|c| c.strip_suffix('}'))
                    .unwrap_or_default();
                Members::Rewritten(inner.to_string())
            }
        };
        Ok(StoredEvent {
            at: checked(row, first, is_timestamp)?,
            author: row.text(first + 1)?,
            kind: checked(row, first + 2, is_event_kind)?,
            detail: members,
        })
    }

    /// Appends the event as `Event` serialises: who and when, then the
    /// detail's own fields.
    pub(super) fn push(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"at\":");
        push_plain(out, self.at);
        out.extend_from_slice(b",\"author\":");
        push_str(out, self.author);
        out.extend_from_slice(b",\"kind\":");
        push_plain(out, self.kind);
        let members = match &self.detail {
            Members::Stored(members) => members,
            Members::Rewritten(members) => members.as_str(),
        };
        if !members.is_empty() {
            out.push(b',');
            out.extend_from_slice(members.as_bytes());
        }
        out.push(b'}');
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

    /// An event edited in place, with the trigger that refuses that
    /// dropped, is a change from outside the schema, which no trigger
    /// reports: the records are marked stale here, for the export to read
    /// the events as they now are.
    fn mark_all_stale(conn: &rusqlite::Connection) {
        crate::store::records::mark_all_stale(conn);
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
            mark_all_stale(&conn);
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
    fn a_current_deadline_missing_from_the_revisions_stops_the_export() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        let conn = rusqlite::Connection::open(dir.path().join("desk.db")).unwrap();
        let id: i64 = conn
            .query_row("SELECT min(id) FROM commitments", [], |r| r.get(0))
            .unwrap();
        conn.execute(
            "UPDATE commitments SET deadline_version = 7 WHERE id = ?1",
            [id],
        )
        .unwrap();
        let err = store.export_json(&mut std::io::sink()).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("commitment {id} has no revision 7")),
            "{err}"
        );
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
            mark_all_stale(&conn);
            let err = store.export_json(&mut std::io::sink()).unwrap_err();
            assert!(
                matches!(
                    err,
                    crate::store::OutputError::Store(
                        crate::store::Error::Sqlite { .. } | crate::store::Error::Corrupt { .. }
                    )
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
        let mut out = Vec::new();
        store.list_json(filter, &mut out).unwrap();
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
            assert_eq!(stored_json(&store, &filter), model + "\n", "{filter:?}");
        }
        assert!(stored_json(&store, &Filter::default()).contains("\\r\\nBcc"));
    }

    #[test]
    fn a_list_shared_out_among_readers_prints_as_one_read_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        let overdue = Filter {
            overdue_on: Some(date(2026, 6, 1)),
            ..Filter::default()
        };
        let listed: Vec<i64> = store
            .list(&Filter::default())
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert!(
            !listed.is_sorted(),
            "the list must not be in id order, or putting lines back in its order goes untested: {listed:?}"
        );
        for filter in [Filter::default(), overdue] {
            let model = serde_json::to_string_pretty(&store.list(&filter).unwrap()).unwrap() + "\n";
            // Windows of one line, so some readers have none; windows
            // whose lines are read in another order than the list's; and
            // one window for the whole list.
            for (window, readers) in [(1, 2), (2, 3), (1, 4), (2, 2), (100, 2), (100, 4)] {
                let shared = Sharing {
                    above: 1,
                    window,
                    readers,
                };
                let mut out = Vec::new();
                store.list_json_with(&filter, &mut out, shared).unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), model, "{window} {readers}");
            }
        }
        // Nothing is left holding the database.
        store
            .conn
            .execute_batch("BEGIN IMMEDIATE; ROLLBACK")
            .unwrap();
    }

    /// A second connection to the desk that writes as damage would: past
    /// the schema's own checks.
    fn damaging(dir: &std::path::Path) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(dir.join("desk.db")).unwrap();
        conn.execute_batch("PRAGMA ignore_check_constraints = ON")
            .unwrap();
        conn
    }

    #[test]
    fn a_damaged_value_in_a_shared_out_list_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = desk(dir.path());
        let conn = damaging(dir.path());
        conn.execute("UPDATE commitments SET announced = 'soon' WHERE id = 3", [])
            .unwrap();
        let err = store
            .list_json_with(
                &Filter::default(),
                &mut std::io::sink(),
                Sharing {
                    above: 1,
                    window: 2,
                    readers: 2,
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("\"soon\""), "{err}");
        store
            .conn
            .execute_batch("BEGIN IMMEDIATE; ROLLBACK")
            .unwrap();
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
            let conn = damaging(dir.path());
            let before: String = conn
                .query_row(
                    &format!("SELECT {column} FROM commitments WHERE id = 3"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            conn.execute(&sql, [value]).unwrap();
            let err = store
                .list_json(&Filter::default(), &mut std::io::sink())
                .unwrap_err();
            assert!(err.to_string().contains(value), "{column}: {err}");
            conn.execute(&sql, [before]).unwrap();
        }
        assert!(
            store
                .list_json(&Filter::default(), &mut std::io::sink())
                .is_ok()
        );
    }

    #[test]
    fn each_share_of_a_window_is_its_stretch_of_the_window_in_id_order() {
        for len in [0usize, 1, 2, 3, 7, 100, 1000] {
            // Ids in no order, as a list by deadline has them.
            let pairs: Vec<(i64, usize)> = (0..len)
                .map(|place| (((place * 7919) % 10007) as i64, place))
                .collect();
            let mut sorted = pairs.clone();
            sorted.sort_unstable();
            for readers in 1..=4 {
                let mut joined = Vec::new();
                for share in 0..readers {
                    let (from, to) = (share * len / readers, (share + 1) * len / readers);
                    let mut scratch = pairs.clone();
                    let mine = share_by_id(&mut scratch, from, to);
                    assert_eq!(
                        mine,
                        &sorted[from..to],
                        "{len} pairs, share {share} of {readers}"
                    );
                    joined.extend_from_slice(mine);
                }
                assert_eq!(joined, sorted);
            }
        }
    }

    #[test]
    fn shapes_of_dates_and_timestamps() {
        assert!(is_date(b"2025-10-15"));
        for bad in ["2025-1-15", "2025/10/15", "20251015", "2025-10-15 ", ""] {
            assert!(!is_date(bad.as_bytes()), "{bad:?}");
        }
        assert!(is_timestamp(b"2025-10-15T09:30:00Z"));
        assert!(is_timestamp(b"2025-10-15T09:30:00.123456789Z"));
        // The fraction is printed as stored, so nothing but digits may
        // hide in it.
        for bad in [
            "2025-10-15T09:30Z",
            "2025-10-15 09:30:00Z",
            "2025-10-15T09:30:00",
            "2025-10-15T09:30:00+01:00",
            "2025-10-15T09:30:00.Z",
            "2025-10-15T09:30:00.1\"2Z",
            "2025-10-15T09:30:00,123Z",
            "2025-10-15T09:30:00.١٢Z",
        ] {
            assert!(!is_timestamp(bad.as_bytes()), "{bad:?}");
        }
        // Every byte in every place is judged as the shape reads a byte
        // at a time.
        let bytewise = |b: &[u8]| {
            b.len() >= 20
                && is_date(&b[..10])
                && b[10] == b'T'
                && b[13] == b':'
                && b[16] == b':'
                && [11, 12, 14, 15, 17, 18]
                    .iter()
                    .all(|&i| b[i].is_ascii_digit())
                && match &b[19..] {
                    [b'Z'] => true,
                    [b'.', fraction @ .., b'Z'] => {
                        !fraction.is_empty() && fraction.iter().all(u8::is_ascii_digit)
                    }
                    _ => false,
                }
        };
        for good in [&b"2025-10-15T09:30:00Z"[..], b"2025-10-15T09:30:00.12Z"] {
            for place in 0..good.len() {
                for byte in 0..=u8::MAX {
                    let mut text = good.to_vec();
                    text[place] = byte;
                    assert_eq!(is_timestamp(&text), bytewise(&text), "{place} {byte:#x}");
                }
            }
            for end in 0..good.len() {
                assert!(!is_timestamp(&good[..end]), "{end}");
            }
        }
        assert!(is_status(b"open") && !is_status(b"opened"));
        assert!(Status::ALL.iter().all(|s| is_status(s.as_str().as_bytes())));
        assert!(
            EventKind::ALL
                .iter()
                .all(|k| is_event_kind(k.as_str().as_bytes()))
        );
        assert!(is_event_kind(b"note") && !is_event_kind(b"Note"));
    }
}
