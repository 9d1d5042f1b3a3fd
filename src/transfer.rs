//! The export file formats (JSON and CSV) and reading them back for
//! `import`. Export writes every field, every deadline version and the whole
//! history, so that export → import into a new database gives the same
//! commitments. Import also takes hand-written files: a row needs only a
//! `title` and a `due` expression; the rest is filled in.
//!
//! Reading is all-or-nothing: the first bad record stops the import with its
//! line number, and the import's one transaction undoes the records before
//! it, which were stored as they were read.

use std::io::Write;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::deadline::{self, Deadline};
use crate::model::{
    self, Commitment, CommitmentRecord, DeadlineVersion, Event, EventKind, Revision, Status,
};
use crate::store::ImportItem;

/// The formats `export` writes and `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

/// The CSV columns, in order. Lists and history are JSON inside the cell.
pub const CSV_COLUMNS: [&str; 20] = [
    "id",
    "title",
    "status",
    "announced",
    "actors",
    "tags",
    "expression",
    "earliest",
    "latest",
    "vague",
    "anchor",
    "deadline_version",
    "source",
    "quote",
    "evidence",
    "created_at",
    "updated_at",
    "closed_at",
    "revisions",
    "history",
];

/// A failed write as the I/O error it is, so that a closed pipe is still
/// seen as one (csv would otherwise wrap it as "other").
fn io_error(err: csv::Error) -> std::io::Error {
    if !err.is_io_error() {
        return std::io::Error::other(err);
    }
    match err.into_kind() {
        csv::ErrorKind::Io(io) => io,
        kind => std::io::Error::other(format!("{kind:?}")),
    }
}

/// Writes records as CSV with a header row.
pub fn write_csv(records: &[CommitmentRecord], out: &mut dyn Write) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_COLUMNS).map_err(io_error)?;
    for record in records {
        let c = &record.commitment;
        let d = &c.deadline.deadline;
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        writer
            .write_record([
                c.id.to_string(),
                c.title.clone(),
                c.status.to_string(),
                c.announced.to_string(),
                cell_json(&c.actors),
                cell_json(&c.tags),
                d.expression.clone(),
                d.earliest.to_string(),
                d.latest.to_string(),
                d.vague.to_string(),
                d.anchor.to_string(),
                c.deadline.version.to_string(),
                opt(&c.source),
                opt(&c.quote),
                opt(&c.evidence),
                c.created_at.to_string(),
                c.updated_at.to_string(),
                c.closed_at.map(|t| t.to_string()).unwrap_or_default(),
                cell_json(&record.revisions),
                cell_json(&record.history),
            ])
            .map_err(io_error)?;
    }
    writer.flush()
}

/// A list or history cell: JSON, so that commas, quotes and newlines survive.
fn cell_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// What `import` needs besides the file: the time, who imports, and how to
/// read deadline expressions in hand-written rows.
#[derive(Debug, Clone)]
pub struct ImportContext {
    pub now: Timestamp,
    pub today: Date,
    pub author: String,
    pub deadline_options: deadline::Options,
}

/// A record as an import file may state it: everything but the title is
/// optional, so hand-written rows work; unknown fields are errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    #[serde(default)]
    id: Option<i64>,
    title: String,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    announced: Option<String>,
    #[serde(default)]
    actors: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    deadline: Option<RowDeadline>,
    /// A deadline expression, the hand-written shortcut for `deadline`.
    #[serde(default)]
    due: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    quote: Option<String>,
    #[serde(default)]
    evidence: Option<String>,
    #[serde(default, deserialize_with = "instant")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "instant")]
    updated_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "instant")]
    closed_at: Option<Timestamp>,
    #[serde(default)]
    revisions: Option<Vec<Revision>>,
    #[serde(default)]
    history: Option<Vec<Event>>,
}

/// A record's instant, or what to write instead: jiff's own complaint
/// ("failed to parse four digit integer as year") does not say what an
/// instant looks like. Read from the text in place, as jiff's would be.
fn instant<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Option<Timestamp>, D::Error> {
    struct Instant;
    impl<'de> serde::de::Visitor<'de> for Instant {
        type Value = Option<Timestamp>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an instant such as 2025-10-15T09:00:00Z")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, from: D) -> Result<Self::Value, D::Error> {
            from.deserialize_str(self)
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            text.parse().map(Some).map_err(|_| {
                E::custom(format!(
                    "{} is not an instant; write it as 2025-10-15T09:00:00Z (UTC)",
                    model::preview(text)
                ))
            })
        }
    }
    from.deserialize_option(Instant)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowDeadline {
    expression: String,
    #[serde(default)]
    earliest: Option<String>,
    #[serde(default)]
    latest: Option<String>,
    #[serde(default)]
    vague: Option<bool>,
    #[serde(default)]
    anchor: Option<String>,
    #[serde(default)]
    version: Option<u32>,
}

/// Guesses the format from the file name, else from the first character.
pub fn detect(name: &str, text: &str) -> Format {
    let text = without_byte_order_mark(text);
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        Format::Csv
    } else if lower.ends_with(".json") || text.trim_start().starts_with(['[', '{']) {
        Format::Json
    } else {
        Format::Csv
    }
}

/// Reads a whole import file into records ready to store, or the first
/// problem with its line.
pub fn read(
    text: &str,
    format: Format,
    context: &ImportContext,
) -> Result<Vec<ImportItem>, String> {
    let mut items = Vec::new();
    read_each(text, format, context, |item| {
        items.push(item);
        true
    })?;
    Ok(items)
}

/// Reads an import file record by record, handing each to `each` as soon
/// as it is checked, until `each` returns false; or the first problem with
/// its line. A file (JSON or CSV) is read as it is parsed, so a syntax
/// error is found where it lies, after the records before it have been
/// handed on: an import is one transaction, and rolls them back.
pub fn read_each(
    text: &str,
    format: Format,
    context: &ImportContext,
    mut each: impl FnMut(ImportItem) -> bool,
) -> Result<(), String> {
    let text = without_byte_order_mark(text);
    let mut take = |line: usize, row: Row| {
        let origin = format!("line {line}");
        let has_id = row.id.is_some();
        let record = row
            .into_record(context)
            .map_err(|e| format!("{origin}: {e}"))?;
        Ok(each(ImportItem::new(origin, record, has_id)))
    };
    match format {
        Format::Json => json_rows(text, &mut take),
        Format::Csv => csv_rows(text, &mut take),
    }
}

/// Text without the UTF-8 byte-order mark that spreadsheet programs and
/// some Windows editors put at the start of a file: it is not data.
fn without_byte_order_mark(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Hands each record of a JSON array, with its line, to `take` as it is
/// parsed, until `take` returns false or fails. Reading the whole array
/// before the first record (as a check of the file's syntax) kept the
/// import's writing thread waiting for a twentieth of a second at
/// 100,000 records.
fn json_rows(
    text: &str,
    take: &mut dyn FnMut(usize, Row) -> Result<bool, String>,
) -> Result<(), String> {
    let mut records = JsonRecords {
        text,
        take,
        line: 1,
        counted: 0,
        ended: None,
    };
    let mut parser = serde_json::Deserializer::from_str(text);
    let parsed =
        serde::Deserializer::deserialize_seq(&mut parser, &mut records).and_then(|()| parser.end());
    match records.ended {
        // Stopped before the end of the array, which is left unread.
        Some(stopped) => stopped,
        None => parsed.map_err(|e| {
            let hint = if e.is_eof() {
                "; the file looks truncated"
            } else {
                ""
            };
            format!(
                "line {} column {}: {e}{hint} (expected a JSON array of commitments, as `followup export` writes)",
                e.line(),
                e.column()
            )
        }),
    }
}

/// The records of a JSON array, visited as the parser reaches them.
struct JsonRecords<'t, 'f> {
    text: &'t str,
    take: &'f mut dyn FnMut(usize, Row) -> Result<bool, String>,
    /// The line the last record began on, and the offset it was counted to.
    line: usize,
    counted: usize,
    /// Why the array was left before its end: `take` had enough, or failed.
    ended: Option<Result<(), String>>,
}

impl JsonRecords<'_, '_> {
    /// Decodes one element, which borrows from the file's text, and hands
    /// it on; `Some` if the array is to be left.
    fn record(&mut self, raw: &RawValue) -> Option<Result<(), String>> {
        // The element borrows from `text`, so its address gives its offset;
        // records come in file order, so lines are counted once.
        let offset = (raw.get().as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize);
        self.line += line_at(&self.text[self.counted..offset], usize::MAX) - 1;
        self.counted = offset;
        let line = self.line;
        if !raw.get().starts_with('{') {
            return Some(Err(format!(
                "line {line}: expected a commitment object, found {}",
                model::preview(raw.get())
            )));
        }
        // Straight into a row: no intermediate JSON tree per record.
        let taken = serde_json::from_str(raw.get())
            .map_err(|e| unreadable_record(raw.get(), line, &e))
            .and_then(|row| (self.take)(line, row));
        match taken {
            Ok(true) => None,
            Ok(false) => Some(Ok(())),
            Err(e) => Some(Err(e)),
        }
    }
}

/// Why `raw`, a record beginning on line `line` of the file, could not be
/// read as one: where in the file, and which field ("title", or
/// "revisions[1].at") when one is at fault. Serde names the position only,
/// and that within the record; the field is found by reading the record
/// again, tracking where the reader is, which is only done for a record
/// that failed.
fn unreadable_record(raw: &str, line: usize, err: &serde_json::Error) -> String {
    let mut reader = serde_json::Deserializer::from_str(raw);
    let Err(tracked) = serde_path_to_error::deserialize::<_, Row>(&mut reader) else {
        // Read the second time: cannot happen, and the first error stands.
        return format!("line {line}: {err}");
    };
    let field = tracked.path().to_string();
    let err = tracked.into_inner();
    // serde_json ends its message with the position in the record; the
    // file's line is said instead.
    let message = err.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) if err.line() > 0 => &message[..at],
        _ => message.as_str(),
    };
    let line = line + err.line().saturating_sub(1);
    if field.is_empty() || field == "." {
        format!("line {line}: {message}")
    } else {
        format!("line {line}: {field}: {message}")
    }
}

impl<'de> serde::de::Visitor<'de> for &mut JsonRecords<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of commitments")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if let Some(ended) = self.record(raw) {
                self.ended = Some(ended);
                break;
            }
        }
        Ok(())
    }
}

/// Hands each row of a CSV file, with its line, to `take` as it is read,
/// until `take` returns false or fails. A row is checked before the next
/// is read, so that the problem reported is the first in the file: an
/// empty title on line 3 before a stray quote on line 5, as in JSON.
fn csv_rows(
    text: &str,
    take: &mut dyn FnMut(usize, Row) -> Result<bool, String>,
) -> Result<(), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("line 1: cannot read the CSV header: {e}"))?
        .clone();
    let known: Vec<&str> = CSV_COLUMNS.iter().copied().chain(["due"]).collect();
    for (place, header) in headers.iter().enumerate() {
        if place == 0 && header.trim_start().starts_with(['[', '{']) {
            return Err(
                "line 1: this is read as CSV but looks like JSON; pass --format json (or name the file .json)"
                    .into(),
            );
        }
        if !known.contains(&header) {
            // The two slips a spreadsheet makes most: capitals, and
            // another separator.
            let hint = if known.contains(&header.to_lowercase().as_str()) {
                format!(
                    "; column names are lower-case: write {:?}",
                    header.to_lowercase()
                )
            } else if header.contains([';', '\t']) {
                "; columns are separated by commas (export the sheet as CSV with commas)"
                    .to_string()
            } else {
                String::new()
            };
            return Err(format!(
                "line 1: unknown column {header:?}{hint}; columns are {} (or `due` for a deadline expression)",
                CSV_COLUMNS.join(", ")
            ));
        }
        if headers.iter().take(place).any(|earlier| earlier == header) {
            return Err(format!(
                "line 1: the column {header:?} is given twice; keep one"
            ));
        }
    }
    if !headers.iter().any(|h| h == "title") {
        return Err("line 1: the CSV header has no `title` column".into());
    }
    for result in reader.records() {
        let record = result.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            format!("line {line}: {e}; the file may be truncated or have a stray quote")
        })?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let mut object = Map::new();
        let mut deadline = Map::new();
        for (header, cell) in headers.iter().zip(record.iter()) {
            // An empty cell is a value left out, except a title, which
            // every record needs: its check says what belongs there.
            if cell.is_empty() && header != "title" {
                continue;
            }
            let value =
                csv_cell(header, cell).map_err(|e| format!("line {line}: column {header}: {e}"))?;
            match header {
                "expression" | "earliest" | "latest" | "vague" | "anchor" => {
                    deadline.insert(header.to_string(), value);
                }
                "deadline_version" => {
                    deadline.insert("version".into(), value);
                }
                _ => {
                    object.insert(header.to_string(), value);
                }
            }
        }
        if !deadline.is_empty() {
            object.insert("deadline".into(), Value::Object(deadline));
        }
        let row: Row = serde_json::from_value(Value::Object(object))
            .map_err(|e| format!("line {line}: {e}"))?;
        if !take(line, row)? {
            break;
        }
    }
    Ok(())
}

/// Turns one CSV cell into the JSON value its column stands for.
fn csv_cell(header: &str, cell: &str) -> Result<Value, String> {
    match header {
        "id" | "deadline_version" => cell
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{cell:?} is not a whole number")),
        "status" => cell
            .trim()
            .parse::<Status>()
            .map(|status| Value::String(status.as_str().to_string()))
            .map_err(|e| e.to_string()),
        "vague" => match cell.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            other => Err(format!("{other:?} is not true or false")),
        },
        "actors" | "tags" => {
            if cell.trim_start().starts_with('[') {
                serde_json::from_str(cell)
                    .map_err(|e| format!("{e} (a JSON list or items separated by ';')"))
            } else {
                Ok(Value::Array(
                    cell.split(';')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ))
            }
        }
        "revisions" | "history" => serde_json::from_str(cell)
            .map_err(|e| format!("{e} (expected the JSON list `export` writes)")),
        _ => Ok(Value::String(cell.to_string())),
    }
}

impl Row {
    fn into_record(self, context: &ImportContext) -> Result<CommitmentRecord, String> {
        let title = model::check_line("title", &self.title, model::MAX_TITLE_CHARS)?;
        // Actors are kept as given, repeats too: an archive comes back as
        // it was exported.
        model::check_actor_count(self.actors.len())?;
        let mut actors = Vec::with_capacity(self.actors.len());
        for actor in &self.actors {
            actors.push(model::check_line("actor", actor, model::MAX_NAME_CHARS)?);
        }
        let tags = model::tag_set(&self.tags)?;
        let source = self
            .source
            .as_deref()
            .map(|s| model::check_url("source", s))
            .transpose()?;
        let evidence = self
            .evidence
            .as_deref()
            .map(|s| model::check_url("evidence", s))
            .transpose()?;
        let quote = self
            .quote
            .as_deref()
            .map(|q| model::check_text("quote", q))
            .transpose()?;
        if let Some(id) = self.id
            && id <= 0
        {
            return Err(format!("id {id} is not a commitment id (ids start at 1)"));
        }

        let anchor_hint = match &self.deadline {
            Some(d) => date_field("deadline.anchor", d.anchor.as_deref())?,
            None => None,
        };
        let stated = date_field("announced", self.announced.as_deref())?;
        // The field the record states its announcement in, if it does.
        let announced_in = match (stated, anchor_hint) {
            (Some(_), _) => Some("announced"),
            (None, Some(_)) => Some("deadline.anchor"),
            (None, None) => None,
        };
        let announced = stated.or(anchor_hint).unwrap_or(context.today);
        // No command records an announcement still to come, so neither
        // does an import, of a hand-written row or of an export.
        if let Some(field) = announced_in {
            model::check_not_to_come(
                announced,
                context.today,
                "the commitment was announced",
                field,
            )?;
        }
        let (deadline, version) = match (self.deadline, self.due) {
            (Some(_), Some(_)) => {
                return Err("give either `due` or `deadline`, not both".into());
            }
            (None, None) => {
                return Err(
                    "no deadline: add a `due` expression such as \"within two months\"".into(),
                );
            }
            (None, Some(due)) => (parse_due(&due, announced, context)?, 1),
            (Some(d), None) => {
                let version = d.version.unwrap_or(1);
                let anchor = anchor_hint.unwrap_or(announced);
                let earliest = date_field("deadline.earliest", d.earliest.as_deref())?;
                let latest = date_field("deadline.latest", d.latest.as_deref())?;
                let deadline = match (earliest, latest) {
                    (Some(earliest), Some(latest)) => {
                        if earliest > latest {
                            return Err(format!(
                                "deadline earliest {earliest} is after latest {latest}"
                            ));
                        }
                        model::check_line(
                            "deadline expression",
                            &d.expression,
                            model::MAX_NAME_CHARS,
                        )?;
                        Deadline {
                            expression: d.expression.trim().to_string(),
                            earliest,
                            latest,
                            vague: d.vague.unwrap_or(false),
                            anchor,
                        }
                    }
                    (None, None) => parse_due(&d.expression, anchor, context)?,
                    _ => return Err("deadline needs both earliest and latest, or neither".into()),
                };
                (deadline, version)
            }
        };

        // A row written by hand that states its announcement is held to
        // what `add --announced` refuses. A record with a history of its
        // own is an export, and may hold a deadline that ended before its
        // announcement: `add` without --announced records today as the
        // announcement of a deadline already past. A row that does not
        // state it is such an `add`, and its lapsed deadline is overdue.
        if self.history.is_none() && announced_in.is_some() {
            model::check_ends_after(
                &deadline,
                announced,
                "the announcement",
                ", or the record's announced date",
            )?;
        }

        let status = self.status.unwrap_or(Status::Open);
        let created_at = self.created_at.unwrap_or(context.now);
        let updated_at = self.updated_at.unwrap_or(created_at);
        let closed_at = match (status.is_open(), self.closed_at) {
            (true, Some(_)) => return Err("an open commitment has no closed_at".into()),
            (true, None) => None,
            (false, at) => Some(at.unwrap_or(updated_at)),
        };

        let revisions = match self.revisions {
            Some(revisions) => {
                for (i, revision) in revisions.iter().enumerate() {
                    if revision.version as usize != i + 1 {
                        return Err(format!(
                            "revisions must be numbered 1, 2, 3…; found version {} in place {}",
                            revision.version,
                            i + 1
                        ));
                    }
                    let place = |why: String| format!("revisions[{i}]: {why}");
                    model::check_line(
                        "deadline expression",
                        &revision.deadline.expression,
                        model::MAX_NAME_CHARS,
                    )
                    .map_err(place)?;
                    if let Some(reason) = &revision.reason {
                        model::check_text("reason", reason).map_err(place)?;
                    }
                    if revision.deadline.earliest > revision.deadline.latest {
                        return Err(format!(
                            "revision {} has earliest after latest",
                            revision.version
                        ));
                    }
                    for (field, date) in [
                        ("earliest", revision.deadline.earliest),
                        ("latest", revision.deadline.latest),
                        ("anchor", revision.deadline.anchor),
                    ] {
                        crate::deadline::within_the_years(date)
                            .map_err(|why| place(format!("{field} {why}")))?;
                    }
                }
                match revisions.last() {
                    Some(last) if last.version == version && last.deadline == deadline => {}
                    _ => {
                        return Err(format!(
                            "the deadline (version {version}) is not the last of the revisions; export and import whole records"
                        ));
                    }
                }
                revisions
            }
            None if version == 1 => vec![Revision {
                deadline: deadline.clone(),
                version: 1,
                reason: None,
                at: created_at,
            }],
            None => {
                return Err(format!(
                    "deadline version {version} needs the revisions that led to it"
                ));
            }
        };

        let history = match self.history {
            Some(history) => {
                for (place, event) in history.iter().enumerate() {
                    model::check_line("event author", &event.author, model::MAX_NAME_CHARS)
                        .and_then(|_| event.check_detail())
                        .map_err(|why| format!("history[{place}]: {why}"))?;
                }
                model::check_status_follows_history(status, &history)?;
                history
            }
            None => {
                let mut detail = Map::new();
                detail.insert("deadline".into(), model::deadline_json(&deadline, version));
                vec![Event {
                    at: context.now,
                    author: context.author.clone(),
                    kind: EventKind::Imported,
                    detail,
                }]
            }
        };

        Ok(CommitmentRecord {
            commitment: Commitment {
                id: self.id.unwrap_or(0),
                title,
                status,
                announced,
                actors,
                tags,
                deadline: DeadlineVersion { deadline, version },
                source,
                quote,
                evidence,
                created_at,
                updated_at,
                closed_at,
            },
            revisions,
            history,
        })
    }
}

/// Reads an optional date field, naming the field and the bad value.
fn date_field(name: &str, value: Option<&str>) -> Result<Option<Date>, String> {
    value
        .map(|text| crate::deadline::read_date(text).map_err(|why| format!("{name} {why}")))
        .transpose()
}

fn parse_due(expression: &str, anchor: Date, context: &ImportContext) -> Result<Deadline, String> {
    model::check_line("deadline", expression, model::MAX_NAME_CHARS)?;
    Deadline::parse_with(expression.trim(), anchor, &context.deadline_options)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ImportContext {
        ImportContext {
            now: "2026-01-01T00:00:00Z".parse().unwrap(),
            today: jiff::civil::date(2026, 1, 1),
            author: "tester".into(),
            deadline_options: deadline::Options::default(),
        }
    }

    #[test]
    fn hand_written_csv_rows_need_only_title_and_due() {
        let text = "title,due,announced,tags\n\"Hold committee meeting, Moscow\",2025-12-15,2025-10-15,Syria; Russia\n";
        let items = read(text, Format::Csv, &context()).unwrap();
        let c = &items[0].record().commitment;
        assert_eq!(c.title, "Hold committee meeting, Moscow");
        assert_eq!(c.deadline.deadline.latest, jiff::civil::date(2025, 12, 15));
        assert_eq!(c.tags, vec!["russia", "syria"]);
        assert!(!items[0].has_id());
        assert_eq!(items[0].record().history[0].kind, EventKind::Imported);
    }

    #[test]
    fn a_hand_written_date_with_a_time_is_refused() {
        let text = "title,due,announced\nHold the meeting,soon,2025-10-15T23:59\n";
        let err = read(text, Format::Csv, &context()).map(|_| ()).unwrap_err();
        assert!(
            err.contains("line 2") && err.contains("\"2025-10-15T23:59\" is not a date"),
            "{err}"
        );
    }

    #[test]
    fn truncated_json_names_the_line_and_says_truncated() {
        let err = read("[\n {\"title\": \"a\",\n", Format::Json, &context()).unwrap_err();
        assert!(err.starts_with("line 3"), "{err}");
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn a_bad_record_is_reported_with_its_own_line() {
        let text = "[\n{\"title\": \"ok\", \"due\": \"2025-12-01\"},\n{\"title\": \"bad\", \"due\": \"someday maybe\"}\n]";
        let err = read(text, Format::Json, &context()).unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
        assert!(err.contains("someday maybe"), "{err}");
    }

    #[test]
    fn unknown_fields_and_columns_are_refused() {
        let err = read(
            "[{\"title\": \"a\", \"due\": \"2025-12-01\", \"colour\": 1}]",
            Format::Json,
            &context(),
        )
        .unwrap_err();
        assert!(err.contains("colour"), "{err}");
        let err = read(
            "title,due,colour\na,2025-12-01,red\n",
            Format::Csv,
            &context(),
        )
        .unwrap_err();
        assert!(err.contains("\"colour\""), "{err}");
    }

    #[test]
    fn csv_reports_the_first_problem_in_the_file() {
        let text = "title,due\nok,soon\n,soon\nok2,soon\n\"bad,soon\n";
        let err = read(text, Format::Csv, &context()).unwrap_err();
        assert!(err.starts_with("line 3: title is empty"), "{err}");
        // With the row fixed, the stray quote is the first problem.
        let text = text.replace("\n,soon", "\nfixed,soon");
        let err = read(&text, Format::Csv, &context()).unwrap_err();
        assert!(err.starts_with("line 5: "), "{err}");
    }

    #[test]
    fn mistyped_csv_cell_names_line_and_column() {
        let err = read("title,due,id\na,2025-12-01,x7\n", Format::Csv, &context()).unwrap_err();
        assert_eq!(err, "line 2: column id: \"x7\" is not a whole number");
    }
}
