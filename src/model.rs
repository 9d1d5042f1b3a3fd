//! The desk's vocabulary: commitments, their deadlines and status, and the
//! events that make up their history, with the rules every field must obey
//! before it is stored.
//!
//! Nothing here touches the database or the clock; `store` persists these
//! types and callers pass the time in.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::deadline::Deadline;

/// A commitment's number, stable for its whole life.
pub type CommitmentId = i64;

/// Where a commitment stands. Everything but `Open` is an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Fulfilled,
    Partial,
    Missed,
    Withdrawn,
}

/// How a commitment ended; what `close --outcome` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Fulfilled,
    Partial,
    Missed,
    Withdrawn,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::Fulfilled,
        Status::Partial,
        Status::Missed,
        Status::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Fulfilled => "fulfilled",
            Status::Partial => "partial",
            Status::Missed => "missed",
            Status::Withdrawn => "withdrawn",
        }
    }

    pub fn is_open(self) -> bool {
        self == Status::Open
    }
}

impl From<Outcome> for Status {
    fn from(outcome: Outcome) -> Status {
        match outcome {
            Outcome::Fulfilled => Status::Fulfilled,
            Outcome::Partial => Status::Partial,
            Outcome::Missed => Status::Missed,
            Outcome::Withdrawn => Status::Withdrawn,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Status, String> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a status (use open, fulfilled, partial, missed or withdrawn)"
                )
            })
    }
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        Status::from(self).as_str()
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(text: &str) -> Result<Outcome, String> {
        match text {
            "fulfilled" => Ok(Outcome::Fulfilled),
            "partial" => Ok(Outcome::Partial),
            "missed" => Ok(Outcome::Missed),
            "withdrawn" => Ok(Outcome::Withdrawn),
            _ => Err(format!(
                "{text:?} is not an outcome (use fulfilled, partial, missed or withdrawn)"
            )),
        }
    }
}

/// The deadline a commitment currently has, and which revision it is.
/// Version 1 is the deadline as announced; each `revise` adds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineVersion {
    #[serde(flatten)]
    pub deadline: Deadline,
    pub version: u32,
}

/// A deadline version as history records it in an event's detail: the
/// fields of [`DeadlineVersion`], as its JSON has them. Built member by
/// member: an import makes one for every record it is given without a
/// history, and `json!` took five times as long.
pub fn deadline_json(deadline: &Deadline, version: u32) -> serde_json::Value {
    use serde_json::Value;
    let mut members = serde_json::Map::new();
    members.insert("anchor".into(), Value::String(date_text(deadline.anchor)));
    members.insert(
        "earliest".into(),
        Value::String(date_text(deadline.earliest)),
    );
    members.insert(
        "expression".into(),
        Value::String(deadline.expression.clone()),
    );
    members.insert("latest".into(), Value::String(date_text(deadline.latest)));
    members.insert("vague".into(), Value::Bool(deadline.vague));
    members.insert("version".into(), Value::from(version));
    Value::Object(members)
}

/// `date` as `Display` writes it ("2025-12-15").
pub fn date_text(date: Date) -> String {
    match iso_date(date) {
        // Digits and hyphens only.
        Some(bytes) => String::from_utf8(bytes.to_vec()).unwrap_or_default(),
        None => date.to_string(),
    }
}

/// `at` as `Display` writes it ("2026-01-02T03:04:05.5Z": UTC, with as
/// many digits of a second's fraction as it needs), appended to `out`;
/// without the formatting machinery from 1970 to 9999: imports write four
/// timestamps a record.
pub fn push_timestamp(out: &mut Vec<u8>, at: Timestamp) {
    use std::io::Write;
    let (second, nanos) = (at.as_second(), at.subsec_nanosecond());
    const LAST: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(0..=LAST).contains(&second) || nanos < 0 {
        // Writing to memory cannot fail.
        let _ = write!(out, "{at}");
        return;
    }
    let (days, of_day) = (second / 86_400, second % 86_400);
    let Some(date) = civil_from_days(days).and_then(iso_date) else {
        let _ = write!(out, "{at}");
        return;
    };
    let two = |n: i64| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    out.extend_from_slice(&date);
    out.push(b'T');
    out.extend_from_slice(&two(of_day / 3600));
    out.push(b':');
    out.extend_from_slice(&two(of_day / 60 % 60));
    out.push(b':');
    out.extend_from_slice(&two(of_day % 60));
    if nanos > 0 {
        let mut digits = [0u8; 9];
        let mut rest = nanos;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let used = 9 - digits.iter().rev().take_while(|&&d| d == b'0').count();
        out.push(b'.');
        out.extend_from_slice(&digits[..used]);
    }
    out.push(b'Z');
}

/// The civil date `days` after 1970-01-01 (`days` ≥ 0), by the Gregorian
/// calendar's 400-year cycle of 146,097 days, counted from 0000-03-01 so
/// that a leap day is the last day of its year.
fn civil_from_days(days: i64) -> Option<Date> {
    let from_march_0000 = days + 719_468;
    let era = from_march_0000 / 146_097;
    let day_of_era = from_march_0000 % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    Date::new(i16::try_from(year).ok()?, month as i8, day as i8).ok()
}

/// `date` as `Display` writes it, for the years 0 to 9999, without the
/// formatting machinery: imports write seven dates a record.
pub fn iso_date(date: Date) -> Option<[u8; 10]> {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let digit = |n: i16| b'0' + n as u8;
    let (month, day) = (i16::from(date.month()), i16::from(date.day()));
    Some([
        digit(year / 1000),
        digit(year / 100 % 10),
        digit(year / 10 % 10),
        digit(year % 10),
        b'-',
        digit(month / 10),
        digit(month % 10),
        b'-',
        digit(day / 10),
        digit(day % 10),
    ])
}

/// A commitment as stored, with its current deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub id: CommitmentId,
    pub title: String,
    pub status: Status,
    pub announced: Date,
    pub actors: Vec<String>,
    pub tags: Vec<String>,
    pub deadline: DeadlineVersion,
    pub source: Option<String>,
    pub quote: Option<String>,
    /// The link given when the commitment was closed, if any.
    pub evidence: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
}

impl Commitment {
    /// True when the commitment is open and its last on-time day is before `today`.
    pub fn is_overdue(&self, today: Date) -> bool {
        self.status.is_open() && self.deadline.deadline.latest < today
    }
}

/// One version of a commitment's deadline: the announced one (version 1)
/// or a revision, with why and when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    #[serde(flatten)]
    pub deadline: Deadline,
    pub version: u32,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(deserialize_with = "written_instant")]
    pub at: Timestamp,
}

/// An instant read from a file (an import), or what to write instead:
/// jiff's own complaint ("failed to parse two digit integer as month")
/// does not say what an instant looks like.
fn written_instant<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Timestamp, D::Error> {
    struct Instant;
    impl serde::de::Visitor<'_> for Instant {
        type Value = Timestamp;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an instant such as 2025-10-15T09:00:00Z")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Timestamp, E> {
            text.parse().map_err(|_| {
                E::custom(format!(
                    "{} is not an instant; write it as 2025-10-15T09:00:00Z (UTC)",
                    preview(text)
                ))
            })
        }
    }
    from.deserialize_str(Instant)
}

/// A commitment with everything known about it: what `show --json` prints
/// and what `export` writes, one per commitment, so that `import` can
/// restore it exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentRecord {
    #[serde(flatten)]
    pub commitment: Commitment,
    pub revisions: Vec<Revision>,
    pub history: Vec<Event>,
}

/// What a user gives to record a new commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommitment {
    pub title: String,
    pub announced: Date,
    pub deadline: Deadline,
    pub actors: Vec<String>,
    pub tags: Vec<String>,
    pub source: Option<String>,
    pub quote: Option<String>,
    pub note: Option<String>,
}

/// What kind of change an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Revised,
    Closed,
    Reopened,
    Note,
    Imported,
    ReminderSent,
    DeliveryFailed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Revised => "revised",
            EventKind::Closed => "closed",
            EventKind::Reopened => "reopened",
            EventKind::Note => "note",
            EventKind::Imported => "imported",
            EventKind::ReminderSent => "reminder_sent",
            EventKind::DeliveryFailed => "delivery_failed",
        }
    }

    pub const ALL: [EventKind; 8] = [
        EventKind::Created,
        EventKind::Revised,
        EventKind::Closed,
        EventKind::Reopened,
        EventKind::Note,
        EventKind::Imported,
        EventKind::ReminderSent,
        EventKind::DeliveryFailed,
    ];

    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One entry of a commitment's history. `detail` holds what changed
/// (a deadline before and after, an outcome, a note's text) and is
/// flattened into the event's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(deserialize_with = "written_instant")]
    pub at: Timestamp,
    pub author: String,
    pub kind: EventKind,
    #[serde(flatten)]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// Checks an event given from outside (an import) against what
    /// followup itself records for its kind: the fields it writes and no
    /// others, each held to the rule of the command that writes it (a
    /// note's text as `note` checks it, a reason as `revise` does), so that
    /// no file can put into history what no command would. `show` prints
    /// these fields to a terminal and emails quote them.
    ///
    /// A field the commands always fill in must be there and not null: a
    /// note without its text, or a `reminder_sent` without the reminder it
    /// sent (which the daemon reads to go on from the last one sent), says
    /// nothing any command could have said. Only a revision's reason and a
    /// closing's evidence may be left out, as `revise` and `close` allow.
    pub fn check_detail(&self) -> Result<(), String> {
        use serde_json::Value;
        let kind = self.kind.as_str();
        const REMINDER: &[&str] = &["reminder", "desk", "recipient", "message_id"];
        const FAILURE: &[&str] = &[
            "reminder",
            "desk",
            "recipient",
            "message_id",
            "error",
            "attempts",
        ];
        // What followup writes for the kind, and of that what it always
        // writes with a value (see `store::commitments` and `store::outbox`).
        let (allowed, required): (&[&str], &[&str]) = match self.kind {
            EventKind::Created | EventKind::Imported => (&["deadline"], &["deadline"]),
            EventKind::Revised => (&["from", "to", "reason"], &["from", "to"]),
            EventKind::Closed => (&["outcome", "evidence"], &["outcome"]),
            EventKind::Reopened => (&["previous_outcome"], &["previous_outcome"]),
            EventKind::Note => (&["text"], &["text"]),
            EventKind::ReminderSent => (REMINDER, REMINDER),
            EventKind::DeliveryFailed => (FAILURE, FAILURE),
        };
        for (field, value) in &self.detail {
            if !allowed.contains(&field.as_str()) {
                return Err(format!(
                    "a {kind} event has no field {field:?}; it has {}",
                    allowed.join(", ")
                ));
            }
            let named = format!("{kind} event's {field}");
            let text = |check: &dyn Fn(&str) -> Result<String, String>| match value {
                Value::String(text) => check(text).map(drop),
                Value::Null => Ok(()),
                other => Err(format!("{named} is {other}; it must be text")),
            };
            match field.as_str() {
                "deadline" | "from" | "to" => {
                    // Read in place: an import checks every event of every
                    // record, and a copy of each deadline would be waste.
                    let version = DeadlineVersion::deserialize(value)
                        .map_err(|e| format!("{named} is not a deadline: {e}"))?;
                    check_line(
                        "deadline expression",
                        &version.deadline.expression,
                        MAX_NAME_CHARS,
                    )?;
                }
                "reason" => text(&|t| check_text("reason", t))?,
                "text" => text(&|t| check_text("note", t))?,
                "error" => text(&|t| check_text(&named, t))?,
                "evidence" => text(&|t| check_url("evidence", t))?,
                "outcome" | "previous_outcome" => match value.as_str().map(str::parse::<Status>) {
                    Some(Ok(status)) if !status.is_open() => {}
                    _ => {
                        return Err(format!(
                            "{named} {value} is not an outcome; use fulfilled, partial, missed or withdrawn"
                        ));
                    }
                },
                "attempts" => {
                    if value.as_u64().is_none() {
                        return Err(format!("{named} {value} is not a count"));
                    }
                }
                // The reminder key, desk, recipient and Message-ID.
                _ => text(&|t| check_line(&named, t, MAX_TEXT_CHARS))?,
            }
        }
        for field in required {
            let null = match self.detail.get(*field) {
                None => "",
                Some(Value::Null) => " (it is null)",
                Some(_) => continue,
            };
            return Err(format!(
                "a {kind} event has no {field:?}{null}; give it, as every {kind} event has {}",
                required.join(", ")
            ));
        }
        Ok(())
    }
}

/// Checks that a commitment's status is the one its history leaves it
/// in: an open commitment whose last word on its status is a `closed`
/// event, or a closed one last reopened or closed with another outcome,
/// says two things at once, and `list`, reminders and `show` would each
/// believe a different one.
///
/// `created` and `reopened` leave a commitment open and `closed` closes it
/// with its outcome. An `imported` event says nothing of the status: an
/// import of a hand-written row records the status the row gives, with
/// that event alone as its history, and its export must import again.
/// Events of other kinds do not change the status.
pub fn check_status_follows_history(status: Status, history: &[Event]) -> Result<(), String> {
    // The last event that set the status, where and to what; None when
    // the history does not say.
    let mut last: Option<(usize, Status)> = None;
    for (place, event) in history.iter().enumerate() {
        match event.kind {
            EventKind::Created | EventKind::Reopened => last = Some((place, Status::Open)),
            EventKind::Closed => {
                last = event
                    .detail
                    .get("outcome")
                    .and_then(|outcome| outcome.as_str())
                    .and_then(|outcome| outcome.parse().ok())
                    .map(|outcome| (place, outcome));
            }
            EventKind::Imported => last = None,
            EventKind::Note
            | EventKind::Revised
            | EventKind::ReminderSent
            | EventKind::DeliveryFailed => {}
        }
    }
    let Some((place, left)) = last else {
        return Ok(());
    };
    if left == status {
        return Ok(());
    }
    let kind = history[place].kind.as_str();
    Err(match (status.is_open(), left.is_open()) {
        (true, _) => format!(
            "status is open, but history[{place}] closed it as {left} and no later event reopened it; give status \"{left}\", or the reopened event that followed"
        ),
        (false, true) => format!(
            "status is {status}, but history[{place}] ({kind}) left it open and no later event closed it; give status \"open\", or the closed event that followed"
        ),
        (false, false) => format!(
            "status is {status}, but history[{place}] closed it as {left}; give status \"{left}\""
        ),
    })
}

// ---- field rules ---------------------------------------------------------

/// Longest title accepted, in characters: a headline, not an article.
pub const MAX_TITLE_CHARS: usize = 500;
/// Longest quote or note accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Longest actor, tag or URL accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Checks a one-line field (title, actor): not empty, not too long, no NUL,
/// no line breaks or other control characters, which could otherwise reach
/// an email header or break a table.
pub fn check_line(field: &str, value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.chars().all(blank) {
        return Err(format!("{field} is empty; {}", when_empty(field)));
    }
    let count = trimmed.chars().count();
    if count > max {
        let detail = if field == "title" {
            " and put detail in --quote or --note"
        } else {
            ""
        };
        return Err(format!(
            "{field} is {count} characters long; keep it to at most {max}{detail}"
        ));
    }
    if let Some(c) = trimmed
        .chars()
        .find(|&c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        return Err(format!(
            "{field} {} contains the control character {c:?}; it must be one line of plain text",
            preview(trimmed)
        ));
    }
    // Unicode's noncharacters (U+FDD0 to U+FDEF, and the last two code
    // points of every plane) are for a program's own use, never text.
    if let Some(c) = trimmed
        .chars()
        .find(|&c| matches!(c, '\u{fdd0}'..='\u{fdef}') || u32::from(c) & 0xfffe == 0xfffe)
    {
        return Err(format!(
            "{field} {} contains U+{:04X}, which is no character of any text; remove it",
            preview(trimmed),
            u32::from(c)
        ));
    }
    Ok(trimmed.to_string())
}

/// Characters that show nothing on their own: the invisible ones, the
/// braille blank (U+2800, a common "empty" name online), and marks that
/// only ever sit on another character (accents, Arabic vowel marks,
/// which take no column of their own). A field of nothing but these
/// would look empty, or show a stray accent, wherever it is shown.
fn blank(c: char) -> bool {
    invisible(c) || c == '\u{2800}' || unicode_width::UnicodeWidthChar::width(c) == Some(0)
}

/// Characters that take no room on screen: spaces, and the format
/// characters (zero-width space and joiners, direction marks and
/// controls, the byte-order mark, soft hyphen, variation selectors). A
/// title of nothing but these would look empty everywhere it is shown.
fn invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
        )
}

/// Checks free text (quote, note): may span lines, but no NUL or other
/// control characters besides newline and tab.
pub fn check_text(field: &str, value: &str) -> Result<String, String> {
    let count = value.chars().count();
    if count > MAX_TEXT_CHARS {
        return Err(format!(
            "{field} is {count} characters long; keep it to at most {MAX_TEXT_CHARS}"
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|&c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(format!(
            "{field} {} contains the control character {c:?}; remove it",
            preview(value)
        ));
    }
    if value.chars().all(blank) {
        return Err(format!("{field} is empty; {}", when_empty(field)));
    }
    Ok(value.to_string())
}

/// What to put in `field` when it was given empty.
fn when_empty(field: &str) -> &'static str {
    match field {
        "title" => "say in a few words what was promised",
        "actor" => "name who made the promise, or leave the actor out",
        "deadline" | "deadline expression" => {
            "give the deadline as announced, such as \"within two months\" or 2025-12-15"
        }
        "quote" => "give the sentence the commitment comes from, or leave the quote out",
        "note" => "write what happened",
        "reason" => "say why the deadline moved, or leave the reason out",
        "event author" => "give who made the change",
        _ => "give a value",
    }
}

/// Checks a source or evidence link: an http(s) URL without spaces.
pub fn check_url(field: &str, value: &str) -> Result<String, String> {
    const MAX_URL_CHARS: usize = 2000;
    let value = value.trim();
    let count = value.chars().count();
    if count > MAX_URL_CHARS {
        return Err(format!(
            "{field} {} is too long for a link; give the story's own URL, at most {MAX_URL_CHARS} characters",
            preview(value)
        ));
    }
    // Schemes are case-insensitive (RFC 3986): "HTTPS://" is a web link.
    let scheme_end = value.find("://").unwrap_or(0);
    let has_scheme = matches!(
        value[..scheme_end].to_ascii_lowercase().as_str(),
        "http" | "https"
    );
    // A host, however short: "https:///story" names no site.
    let rest = &value[(scheme_end + "://".len()).min(value.len())..];
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    if !has_scheme
        || host.is_empty()
        || host.starts_with(':')
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || invisible(c))
    {
        return Err(format!(
            "{field} {} is not a web link; give a full URL such as https://example.org/story",
            preview(value)
        ));
    }
    Ok(value.to_string())
}

/// The most characters a tag may have.
const MAX_TAG_CHARS: usize = 64;

/// The most tags one commitment may carry. Tags route reminders to desks
/// (a country, a topic, a desk: a handful); hundreds are a list pasted
/// into the wrong field, and every `list` line, reminder and export
/// would carry them.
pub const MAX_TAGS: usize = 100;

/// The most actors one commitment may name: those who made the promise,
/// not everyone the article mentions.
pub const MAX_ACTORS: usize = 100;

/// Normalises tags (see [`normalize_tag`]), sorted and without repeats, or
/// the first bad one, or says there are more than [`MAX_TAGS`]. Repeats
/// are dropped after sorting: looking each tag up among those kept was
/// quadratic, and an import of one record with 100,000 tags took 11 s.
pub fn tag_set(given: &[String]) -> Result<Vec<String>, String> {
    let mut tags = given
        .iter()
        .map(|tag| normalize_tag(tag))
        .collect::<Result<Vec<_>, _>>()?;
    tags.sort_unstable();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "{} tags; a commitment has at most {MAX_TAGS}: keep the countries, topics and desks that route its reminders",
            tags.len()
        ));
    }
    Ok(tags)
}

/// Refuses more actors than [`MAX_ACTORS`], counted as they are stored.
pub fn check_actor_count(count: usize) -> Result<(), String> {
    if count > MAX_ACTORS {
        return Err(format!(
            "{count} actors; a commitment has at most {MAX_ACTORS}: name who made the promise, not everyone mentioned"
        ));
    }
    Ok(())
}

/// Normalises a tag: trimmed and lower-case, direction marks dropped (text
/// pasted from Arabic brings them); one word of letters (with their
/// combining accents), digits, `-`, `_`, `.`, `/` or `:`, so tags match
/// desks however they were typed.
pub fn normalize_tag(value: &str) -> Result<String, String> {
    let tag: String = value
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}'))
        .collect();
    let count = tag.chars().count();
    if count > MAX_TAG_CHARS {
        return Err(format!(
            "{} is not a tag: it has {count} characters, and a tag has at most {MAX_TAG_CHARS}",
            preview(value)
        ));
    }
    // A combining accent counts as part of its letter: "é" typed as e and
    // U+0301, and "i̇" from lower-casing "İ".
    let accent = |c: char| matches!(c, '\u{0300}'..='\u{036f}');
    let ok = !tag.is_empty()
        && !tag.starts_with(accent)
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || accent(c) || matches!(c, '-' | '_' | '.' | '/' | ':'));
    if ok {
        Ok(tag)
    } else {
        Err(format!(
            "{} is not a tag; use one word (letters, digits, - _ . / :) such as \"syria\" or \"energy\"",
            preview(value)
        ))
    }
}

/// A deadline that ends before the day it was counted from (the
/// announcement, or the day a revision was stated) is a slip of the year or
/// of that date, not a promise anyone made. `event` names the day ("the
/// announcement", "it was stated"); `fix` is what else to check, after the
/// year (empty for a date already stored).
pub fn check_ends_after(
    deadline: &Deadline,
    on: Date,
    event: &str,
    fix: &str,
) -> Result<(), String> {
    if deadline.latest < on {
        return Err(format!(
            "the deadline {} ends {}, before {event} on {on}; check its year{fix}",
            Quoted(&deadline.expression),
            deadline.latest
        ));
    }
    Ok(())
}

/// An announcement (or a restated deadline) is dated when it was made,
/// which cannot be later than today. A day of grace: an analyst ahead of
/// the desk's time zone may already be on the next date.
pub fn check_not_to_come(date: Date, today: Date, what: &str, flag: &str) -> Result<(), String> {
    if date > today.tomorrow().unwrap_or(today) {
        return Err(format!(
            "{flag} {date} is after today ({today}, with a day's grace for time zones); give the date {what}"
        ));
    }
    Ok(())
}

/// A message on one line: its lines trimmed and joined with "; ". An
/// error is one line, and some of what followup passes on is not: SQLite's
/// integrity reports put each finding on a line of its own, toml's and
/// cron's messages draw the spot with a caret underneath.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Quotes a value for an error message, cut short if long.
pub fn preview(value: &str) -> String {
    const LIMIT: usize = 60;
    if value.chars().count() <= LIMIT {
        Quoted(value).to_string()
    } else {
        let head: String = value.chars().take(LIMIT).collect();
        format!("{}… ({} characters)", Quoted(&head), value.chars().count())
    }
}

/// Text in double quotes, as an analyst typed it: Arabic with its
/// diacritics, accents and emoji as they are (Rust's `{:?}` writes a
/// kasra as `\u{650}`). Only what could hide or disturb the quote is
/// escaped: the quote mark and backslash, control characters, and the bidi
/// controls that would turn around the rest of the line.
pub struct Quoted<'a>(pub &'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' | '\\' => write!(f, "\\{c}")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\0' => f.write_str("\\0")?,
                '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                    write!(f, "\\u{{{:x}}}", u32::from(c))?
                }
                c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

impl NewCommitment {
    /// Applies the field rules, returning the cleaned commitment or the first
    /// problem, phrased for the user.
    pub fn validated(self) -> Result<NewCommitment, String> {
        let title = check_line("title", &self.title, MAX_TITLE_CHARS)?;
        // Repeats dropped, the first of each kept in its place; a set
        // remembers those seen, as looking each up among those kept was
        // quadratic.
        let mut actors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for actor in &self.actors {
            let actor = check_line("actor", actor, MAX_NAME_CHARS)?;
            if seen.insert(actor.clone()) {
                actors.push(actor);
            }
        }
        check_actor_count(actors.len())?;
        let tags = tag_set(&self.tags)?;
        let source = self
            .source
            .as_deref()
            .map(|s| check_url("source", s))
            .transpose()?;
        let quote = self
            .quote
            .as_deref()
            .map(|q| check_text("quote", q))
            .transpose()?;
        let note = self
            .note
            .as_deref()
            .map(|n| check_text("note", n))
            .transpose()?;
        check_line("deadline", &self.deadline.expression, MAX_NAME_CHARS)?;
        Ok(NewCommitment {
            title,
            actors,
            tags,
            source,
            quote,
            note,
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event of `kind` as an import reads it, with `detail`'s fields.
    fn event(kind: &str, detail: serde_json::Value) -> Event {
        let mut json = detail;
        json["at"] = "2025-10-15T09:00:00Z".into();
        json["author"] = "desk".into();
        json["kind"] = kind.into();
        serde_json::from_value(json).unwrap()
    }

    /// The deadline of the seed article, version 1, as history holds it.
    fn two_months_from_the_talks() -> serde_json::Value {
        deadline_json(
            &crate::deadline::Deadline::parse("within two months", jiff::civil::date(2025, 10, 15))
                .unwrap(),
            1,
        )
    }

    #[test]
    fn a_noncharacter_is_no_part_of_a_title() {
        for c in [
            '\u{ffff}',
            '\u{fffe}',
            '\u{fdd0}',
            '\u{1fffe}',
            '\u{10ffff}',
        ] {
            let err = check_line("title", &format!("Hold the meeting {c}"), 500).unwrap_err();
            assert!(err.contains("no character of any text"), "{c:?}: {err}");
        }
        // Its neighbours are text.
        for c in ['\u{fffd}', '\u{fdcf}', '\u{fdf0}', '\u{1fffd}'] {
            check_line("title", &format!("Hold the meeting {c}"), 500).unwrap();
        }
    }

    #[test]
    fn quoted_text_keeps_arabic_diacritics_and_escapes_what_could_disturb_the_line() {
        assert_eq!(Quoted("خِلالَ شَهرين").to_string(), "\"خِلالَ شَهرين\"");
        assert_eq!(Quoted("café 会议 🇸🇾").to_string(), "\"café 会议 🇸🇾\"");
        assert_eq!(
            Quoted("a\"b\\c\nd\te\u{1b}[31m\u{202e}f\u{85}").to_string(),
            "\"a\\\"b\\\\c\\nd\\te\\u{1b}[31m\\u{202e}f\\u{85}\""
        );
    }

    #[test]
    fn dates_are_written_as_display_writes_them() {
        let days = [
            jiff::civil::date(2025, 10, 15),
            jiff::civil::date(2024, 2, 29),
            jiff::civil::date(0, 1, 1),
            jiff::civil::date(9, 9, 9),
            jiff::civil::date(999, 12, 31),
            jiff::civil::date(9999, 12, 31),
            jiff::civil::date(-1, 6, 1),
            jiff::civil::date(-9999, 1, 1),
        ];
        for day in days {
            assert_eq!(date_text(day), day.to_string());
        }
    }

    proptest::proptest! {
        #[test]
        fn timestamps_are_written_as_display_writes_them(
            second in -400_000_000_000i64..400_000_000_000,
            nanos in proptest::prop_oneof![0i32..1_000_000_000, proptest::strategy::Just(0), proptest::strategy::Just(500_000_000)],
        ) {
            let Ok(at) = Timestamp::new(second, nanos) else { return Ok(()); };
            let mut out = Vec::new();
            push_timestamp(&mut out, at);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), at.to_string());
        }
    }

    #[test]
    fn days_since_1970_are_counted_as_the_calendar_counts_them() {
        let epoch = Date::constant(1970, 1, 1);
        for days in (0..2_932_897)
            .step_by(97)
            .chain([0, 59, 789, 10_957, 11_016, 2_932_896])
        {
            let expected = epoch.checked_add(jiff::Span::new().days(days)).unwrap();
            assert_eq!(civil_from_days(days), Some(expected), "{days}");
        }
    }

    #[test]
    fn timestamps_at_the_edges_are_written_as_display_writes_them() {
        for (second, nanos) in [
            (0, 0),
            (0, 1),
            (1, 100_000_000),
            (253_402_207_199, 999_999_999),
            (253_402_207_200, 0),
            (-1, 0),
            (1_767_225_600, 120_000),
        ] {
            let at = Timestamp::new(second, nanos).unwrap();
            let mut out = Vec::new();
            push_timestamp(&mut out, at);
            assert_eq!(String::from_utf8(out).unwrap(), at.to_string());
        }
    }

    #[test]
    fn history_records_a_deadline_as_its_json_has_it() {
        let announced = jiff::civil::date(2025, 10, 15);
        for (expression, version) in [("within two months", 1), ("soon", 3), ("خلال شهرين", 2)]
        {
            let deadline = Deadline::parse(expression, announced).unwrap();
            let whole = DeadlineVersion {
                deadline: deadline.clone(),
                version,
            };
            assert_eq!(
                deadline_json(&deadline, version),
                serde_json::to_value(&whole).unwrap()
            );
        }
    }

    #[test]
    fn titles_refuse_line_breaks_nul_and_excess_length() {
        assert!(check_line("title", "a\r\nBcc: x@y", 500).is_err());
        assert!(check_line("title", "a\0b", 500).is_err());
        assert!(check_line("title", "   ", 500).is_err());
        // An empty field says what belongs in it.
        for (field, hint) in [
            ("title", "what was promised"),
            ("actor", "who made the promise"),
            ("deadline", "within two months"),
            ("event author", "who made the change"),
        ] {
            let err = check_line(field, " ", 500).unwrap_err();
            assert!(err.starts_with(&format!("{field} is empty; ")), "{err}");
            assert!(err.contains(hint), "{err}");
        }
        for (field, hint) in [
            ("note", "what happened"),
            ("reason", "why the deadline moved"),
        ] {
            let err = check_text(field, "\n ").unwrap_err();
            assert!(err.contains(hint), "{err}");
        }
        let huge = "x".repeat(1_000_000);
        let err = check_line("title", &huge, 500).unwrap_err();
        assert!(err.contains("1000000 characters"), "{err}");
        assert_eq!(
            check_line("title", "  عقد اجتماع  ", 500).unwrap(),
            "عقد اجتماع"
        );
    }

    #[test]
    fn tags_are_lowercased_single_words() {
        assert_eq!(normalize_tag(" Syria ").unwrap(), "syria");
        assert_eq!(normalize_tag("سوريا").unwrap(), "سوريا");
        assert!(normalize_tag("two words").is_err());
        assert!(normalize_tag("").is_err());
        // Accents typed as combining marks, and the dot lower-casing İ
        // leaves, belong to their letter.
        assert_eq!(normalize_tag("İstanbul").unwrap(), "i\u{307}stanbul");
        assert_eq!(normalize_tag("caf\u{e9}").unwrap(), "caf\u{e9}");
        assert_eq!(normalize_tag("cafe\u{301}").unwrap(), "cafe\u{301}");
        assert!(normalize_tag("\u{301}e").is_err());
        // A direction mark pasted with Arabic text is not part of the tag.
        assert_eq!(normalize_tag("\u{200f}سورية").unwrap(), "سورية");
        let err = normalize_tag(&"a".repeat(65)).unwrap_err();
        assert!(
            err.contains("65 characters") && err.contains("at most 64"),
            "{err}"
        );
    }

    #[test]
    fn a_commitments_tags_are_sorted_without_repeats_and_at_most_a_hundred() {
        let given = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            tag_set(&given(&["Syria", "energy", "syria", " ENERGY "])).unwrap(),
            ["energy", "syria"]
        );
        let hundred: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        assert_eq!(tag_set(&hundred).unwrap().len(), 100);
        let mut more = hundred.clone();
        more.push("T0".into());
        assert_eq!(tag_set(&more).unwrap().len(), 100);
        more.push("t100".into());
        let err = tag_set(&more).unwrap_err();
        assert!(
            err.starts_with("101 tags; a commitment has at most 100"),
            "{err}"
        );
    }

    #[test]
    fn urls_must_be_web_links() {
        assert!(check_url("source", "https://example.org/a").is_ok());
        assert!(check_url("source", "javascript:alert(1)").is_err());
        assert!(check_url("source", "https://exa mple.org").is_err());
        assert!(check_url("source", "HTTPS://EXAMPLE.ORG/x").is_ok());
        assert!(check_url("source", "Http://example.org").is_ok());
        assert!(check_url("source", "https://").is_err());
        assert!(check_url("source", "https:///story").is_err());
        assert!(check_url("source", "https://user@/story").is_err());
        assert!(check_url("source", "https://:8080/story").is_err());
        assert!(check_url("source", "https://a.b?q=1").is_ok());
        assert!(check_url("source", "ftp://example.org").is_err());
        assert!(check_url("source", "https://example.org/\u{202e}gpj.exe").is_err());
        let long = format!("https://example.org/{}", "a".repeat(30_000));
        let err = check_url("source", &long).unwrap_err();
        assert!(err.contains("too long") && err.contains("2000"), "{err}");
    }

    #[test]
    fn one_line_fields_refuse_unicode_line_and_paragraph_separators() {
        for separator in ['\u{2028}', '\u{2029}', '\u{85}'] {
            let err = check_line("title", &format!("a{separator}b"), 500).unwrap_err();
            assert!(err.contains("one line"), "{err}");
        }
    }

    #[test]
    fn a_value_of_nothing_visible_is_empty() {
        for blank in [
            "\u{200b}",
            "\u{200f}\u{200e}",
            "\u{feff}",
            " \u{2060} ",
            "\u{ad}",
        ] {
            let err = check_line("title", blank, 500).unwrap_err();
            assert!(err.starts_with("title is empty"), "{blank:?}: {err}");
            let err = check_text("note", blank).unwrap_err();
            assert!(err.starts_with("note is empty"), "{blank:?}: {err}");
        }
        // Invisible characters inside visible text are the text's own.
        assert!(check_line("title", "a\u{200c}b", 500).is_ok());
    }

    #[test]
    fn imported_history_is_held_to_the_rules_of_the_commands_that_write_it() {
        let deadline = two_months_from_the_talks();
        let fine = [
            event("created", serde_json::json!({ "deadline": deadline })),
            event(
                "revised",
                serde_json::json!({ "from": deadline, "to": deadline, "reason": null }),
            ),
            event(
                "closed",
                serde_json::json!({ "outcome": "missed", "evidence": "https://example.org/a" }),
            ),
            event(
                "reopened",
                serde_json::json!({ "previous_outcome": "missed" }),
            ),
            event("note", serde_json::json!({ "text": "first line\nsecond" })),
            event(
                "delivery_failed",
                serde_json::json!({ "reminder": "due", "desk": "default", "recipient": "a@b.org",
                    "message_id": "<x@y>", "error": "451 try later", "attempts": 2 }),
            ),
            event(
                "reminder_sent",
                serde_json::json!({ "reminder": "due", "desk": "default", "recipient": "a@b.org",
                    "message_id": "<x@y>" }),
            ),
            // What `revise` and `close` leave out when not given.
            event(
                "revised",
                serde_json::json!({ "from": deadline, "to": deadline }),
            ),
            event(
                "closed",
                serde_json::json!({ "outcome": "missed", "evidence": null }),
            ),
            event("closed", serde_json::json!({ "outcome": "withdrawn" })),
            event("imported", serde_json::json!({ "deadline": deadline })),
        ];
        for event in &fine {
            assert_eq!(event.check_detail(), Ok(()), "{event:?}");
        }
        let refused = [
            (
                event("note", serde_json::json!({ "text": "a\u{1b}[31mRED" })),
                "control",
            ),
            (
                event(
                    "note",
                    serde_json::json!({ "text": "x".repeat(MAX_TEXT_CHARS + 1) }),
                ),
                "characters long",
            ),
            (
                event("note", serde_json::json!({ "text": 5 })),
                "must be text",
            ),
            (
                event("note", serde_json::json!({ "text": "n", "extra": {} })),
                "no field \"extra\"",
            ),
            (
                event(
                    "revised",
                    serde_json::json!({ "from": deadline, "to": deadline, "reason": "r\0" }),
                ),
                "control",
            ),
            (
                event(
                    "revised",
                    serde_json::json!({ "from": "soon", "to": deadline }),
                ),
                "not a deadline",
            ),
            (
                event("closed", serde_json::json!({ "outcome": "open" })),
                "not an outcome",
            ),
            (
                event("closed", serde_json::json!({ "outcome": "done" })),
                "not an outcome",
            ),
            (
                event(
                    "closed",
                    serde_json::json!({ "outcome": "missed", "evidence": "javascript:x" }),
                ),
                "web link",
            ),
            (
                event(
                    "reminder_sent",
                    serde_json::json!({ "recipient": "a@b.org\r\nBcc: c@d.org" }),
                ),
                "one line",
            ),
            (
                event("delivery_failed", serde_json::json!({ "attempts": "two" })),
                "not a count",
            ),
        ];
        for (event, why) in &refused {
            let err = event.check_detail().unwrap_err();
            assert!(err.contains(why), "{event:?}: {err}");
        }
    }

    #[test]
    fn imported_history_has_every_field_its_kind_always_has() {
        let deadline = two_months_from_the_talks();
        let sent = serde_json::json!({ "reminder": "due", "desk": "default",
            "recipient": "a@b.org", "message_id": "<x@y>" });
        let mut failed = sent.clone();
        failed["error"] = "550 no such user".into();
        let without = |mut detail: serde_json::Value, field: &str| {
            detail.as_object_mut().unwrap().remove(field);
            detail
        };
        let refused = [
            (event("note", serde_json::json!({})), "note", "text"),
            (
                event("note", serde_json::json!({ "text": null })),
                "note",
                "text\" (it is null)",
            ),
            (
                event("closed", serde_json::json!({ "evidence": null })),
                "closed",
                "outcome",
            ),
            (
                event("revised", serde_json::json!({ "from": deadline })),
                "revised",
                "to",
            ),
            (
                event(
                    "revised",
                    serde_json::json!({ "to": deadline, "reason": "r" }),
                ),
                "revised",
                "from",
            ),
            (
                event("reopened", serde_json::json!({})),
                "reopened",
                "previous_outcome",
            ),
            (
                event("created", serde_json::json!({})),
                "created",
                "deadline",
            ),
            (
                event("imported", serde_json::json!({})),
                "imported",
                "deadline",
            ),
            (
                event("reminder_sent", serde_json::json!({})),
                "reminder_sent",
                "reminder",
            ),
            (
                event("reminder_sent", without(sent.clone(), "message_id")),
                "reminder_sent",
                "message_id",
            ),
            (
                event("delivery_failed", failed),
                "delivery_failed",
                "attempts",
            ),
        ];
        for (event, kind, field) in &refused {
            let err = event.check_detail().unwrap_err();
            assert!(
                err.starts_with(&format!("a {kind} event has no \"{field}")),
                "{event:?}: {err}"
            );
        }
    }

    #[test]
    fn a_status_its_history_contradicts_is_refused() {
        let created = event("created", serde_json::json!({}));
        let imported = event("imported", serde_json::json!({}));
        let closed = event("closed", serde_json::json!({ "outcome": "missed" }));
        let reopened = event(
            "reopened",
            serde_json::json!({ "previous_outcome": "missed" }),
        );
        let note = event("note", serde_json::json!({ "text": "later news" }));
        let agreeing = [
            (Status::Open, vec![created.clone(), note.clone()]),
            (
                Status::Missed,
                vec![created.clone(), closed.clone(), note.clone()],
            ),
            (
                Status::Open,
                vec![created.clone(), closed.clone(), reopened.clone()],
            ),
            // A hand-written row imported as closed, and its export.
            (Status::Fulfilled, vec![imported.clone()]),
            (Status::Open, vec![imported.clone(), note.clone()]),
            (Status::Withdrawn, vec![]),
        ];
        for (status, history) in &agreeing {
            assert_eq!(
                check_status_follows_history(*status, history),
                Ok(()),
                "{status} {history:?}"
            );
        }
        let contradicting = [
            (
                Status::Open,
                vec![created.clone(), closed.clone(), note.clone()],
                "status is open, but history[1] closed it as missed",
            ),
            (
                Status::Fulfilled,
                vec![created.clone(), note.clone()],
                "status is fulfilled, but history[0] (created) left it open",
            ),
            (
                Status::Missed,
                vec![imported.clone(), closed.clone(), reopened.clone()],
                "status is missed, but history[2] (reopened) left it open",
            ),
            (
                Status::Fulfilled,
                vec![created.clone(), closed.clone()],
                "status is fulfilled, but history[1] closed it as missed; give status \"missed\"",
            ),
        ];
        for (status, history, expected) in &contradicting {
            let err = check_status_follows_history(*status, history).unwrap_err();
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn statuses_and_outcomes_parse_with_helpful_errors() {
        assert_eq!("partial".parse::<Status>().unwrap(), Status::Partial);
        let err = "done".parse::<Outcome>().unwrap_err();
        assert!(
            err.contains("\"done\"") && err.contains("fulfilled"),
            "{err}"
        );
    }
}
