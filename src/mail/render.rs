//! Rendering: a reminder or a digest becomes a complete email (headers, a
//! text part and an HTML part), ready for any transport.
//!
//! Rendering is pure: the same reminder, `today` and `written_at` give the
//! same bytes, apart from the MIME boundary lettre picks. Headers are set
//! only through lettre's typed headers, which encode anything that is not
//! plain printable ASCII (RFC 2047), so a title can never add a header line;
//! one-line fields are also flattened to one line first, so the subject reads
//! well. HTML is escaped here with [`escape_html`]; every element holding
//! user text has `dir="auto"`, so an Arabic title or quote reads right to
//! left inside an English email.

use std::fmt::Write as _;
use std::time::SystemTime;

use jiff::civil::Date;
use lettre::message::header::{
    Date as DateHeader, Header, HeaderName, HeaderValue, InReplyTo, MessageId, References,
};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};
use serde_json::Value;

use super::{Digest, Error, Reminder, ReminderKind};
use crate::model::{Commitment, CommitmentId, CommitmentRecord, Event};

/// How many history events a reminder lists; the rest are one
/// `followup show` away, and a months-old commitment collects many
/// `reminder_sent` events.
const HISTORY_LIMIT: usize = 20;

/// Longest event detail shown, in characters; notes can be long.
const DETAIL_LIMIT: usize = 300;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ---- custom headers --------------------------------------------------------

/// `X-Followup-Commitment: 12`: which commitment a reminder is about, so
/// filters and scripts need not parse the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowupCommitment(pub CommitmentId);

impl Header for FollowupCommitment {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Followup-Commitment")
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        Ok(FollowupCommitment(s.trim().parse()?))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_string())
    }
}

/// `X-Followup-Reminder: v2:before:14d`: the reminder's stable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowupReminder(pub String);

impl Header for FollowupReminder {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Followup-Reminder")
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        Ok(FollowupReminder(s.trim().to_string()))
    }

    fn display(&self) -> HeaderValue {
        // HeaderValue::new encodes anything unusual, so a key can't inject.
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `X-Followup-Digest: energy`: marks a digest and names its desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowupDigest(pub String);

impl Header for FollowupDigest {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Followup-Digest")
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        Ok(FollowupDigest(s.trim().to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

// ---- identifiers -----------------------------------------------------------

/// The thread every reminder of a commitment replies to:
/// `<followup.commitment.12.3f9a2c1d5e6b7a80@example.org>`, the domain
/// taken from `from`.
///
/// `thread` is a token the database draws once (see the daemon): two
/// desks whose databases both hold a commitment 12, sending from one
/// domain, would otherwise see unrelated reminders threaded together.
/// No email carries this Message-ID; mail clients thread on
/// `In-Reply-To`/`References` alone, and a root that never arrives keeps
/// any one reminder from becoming the parent of the others.
pub fn thread_root(commitment_id: CommitmentId, thread: &str, from: &Mailbox) -> String {
    format!(
        "<followup.commitment.{commitment_id}.{}@{}>",
        slug(thread),
        id_domain(from)
    )
}

/// A Message-ID for one reminder to one recipient, e.g.
/// `<followup.12.v2-before-14d.5c1e07a2.3f9a@example.org>`.
///
/// Call it once when the reminder is enqueued and store the result: retries
/// must reuse it. `nonce` (any random number) keeps IDs unique if a
/// database is restored and numbers are reused.
pub fn message_id(
    commitment_id: CommitmentId,
    key: &str,
    recipient: &Address,
    from: &Mailbox,
    nonce: u64,
) -> String {
    format!(
        "<followup.{commitment_id}.{}.{:08x}.{nonce:x}@{}>",
        slug(key),
        recipient_hash(recipient),
        id_domain(from)
    )
}

/// A Message-ID for one desk digest to one recipient, e.g.
/// `<followup.digest.energy.2025-12-01.5c1e07a2.9b@example.org>`.
pub fn digest_message_id(
    desk: &str,
    date: Date,
    recipient: &Address,
    from: &Mailbox,
    nonce: u64,
) -> String {
    format!(
        "<followup.digest.{}.{date}.{:08x}.{nonce:x}@{}>",
        slug(desk),
        recipient_hash(recipient),
        id_domain(from)
    )
}

/// The right-hand side of our Message-IDs: the sender's domain when it is
/// plain ASCII (an internationalised domain would need punycode, which a
/// Message-ID does not require us to get right).
fn id_domain(from: &Mailbox) -> &str {
    let domain = from.email.domain();
    if !domain.is_empty() && domain.bytes().all(|b| b.is_ascii_graphic() && b != b'>') {
        domain
    } else {
        "localhost"
    }
}

/// Keeps letters and digits, turns everything else into `-`.
fn slug(text: &str) -> String {
    let slug: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if slug.is_empty() { "x".into() } else { slug }
}

/// A short stable hash of the recipient (FNV-1a), so two recipients of the
/// same reminder get different IDs without the address showing in them.
fn recipient_hash(recipient: &Address) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in AsRef::<str>::as_ref(recipient).bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash ^ (hash >> 32)) as u32
}

/// Accepts `<left@right>` in printable ASCII with no spaces or brackets
/// inside: a Message-ID is copied into other headers, so it must be clean.
fn check_message_id(value: &str) -> Result<(), Error> {
    let ok = value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .and_then(|inner| inner.split_once('@'))
        .is_some_and(|(left, right)| {
            let clean = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'@'))
            };
            clean(left) && clean(right)
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidMessageId {
            value: value.to_string(),
        })
    }
}

// ---- wording ---------------------------------------------------------------

/// The subject of a reminder: what happened, then the title.
///
/// "Due in 14 days: …", "Due today: …", "Overdue by 9 days: …", or
/// "Review: …" for a vague deadline's periodic review. Days are counted
/// from `today` to the deadline's last on-time day rather than taken from
/// `kind`, so a reminder delivered late after retries still tells the truth.
pub fn subject(kind: ReminderKind, commitment: &Commitment, today: Date) -> String {
    let title = one_line(&commitment.title);
    if let ReminderKind::Review { .. } = kind {
        return format!("Review: {title}");
    }
    format!(
        "{}: {title}",
        due_phrase(today, commitment.deadline.deadline.latest)
    )
}

/// "Due in 3 days", "Due today" or "Overdue by 1 day".
fn due_phrase(today: Date, latest: Date) -> String {
    let left = days_from(today, latest);
    match left {
        0 => "Due today".to_string(),
        1.. => format!("Due in {}", days(left)),
        _ => format!("Overdue by {}", days(-left)),
    }
}

fn days_from(from: Date, to: Date) -> i64 {
    // Date-to-date spans are whole days and always in range.
    from.until(to).map_or(0, |span| i64::from(span.get_days()))
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

/// Why this reminder was sent, as a sentence for the body.
fn occasion(kind: ReminderKind) -> String {
    match kind {
        ReminderKind::Before { days: n } => {
            format!(
                "This is the reminder {} before the deadline.",
                days(n.into())
            )
        }
        ReminderKind::Due => "The deadline is today.".into(),
        ReminderKind::Overdue { days: n } => format!(
            "The deadline passed {} ago and the commitment is still open.",
            days(n.into())
        ),
        ReminderKind::Review { n } => format!(
            "Review {n}: the deadline is vague, so followup asks periodically whether it still stands."
        ),
    }
}

/// The bidirectional embedding, override and isolate controls (U+202A to
/// U+202E, U+2066 to U+2069). One left open in a title would turn the rest
/// of a Subject line or text body around, so a title could disguise what
/// follows it. Arabic needs none of them to read right to left; the HTML
/// part isolates each stored text in an element with `dir="auto"` instead.
/// The marks U+200E and U+200F change no order beyond themselves and stay.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The Subject header. lettre encodes (RFC 2047) only the words that are
/// not plain ASCII, so a title word that is itself an encoded word
/// (`=?utf-8?q?...?=`) would go out as typed, and the reader's mail client
/// would decode it: the Subject would show something other than the title
/// ("postponed" for `=?utf-8?q?postponed?=`). Such a Subject is encoded
/// whole, in base64 words, so a client shows exactly the title; any other
/// goes through lettre's own encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(pub String);

impl Header for Subject {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Subject")
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        Ok(Subject(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        if !self.0.contains("=?") {
            return HeaderValue::new(Self::name(), self.0.clone());
        }
        // Every byte of the title is inside base64, whose alphabet has no
        // space, colon or line break: nothing of it can end the header.
        HeaderValue::dangerous_new_pre_encoded(Self::name(), self.0.clone(), encoded_words(&self.0))
    }
}

/// `text` as RFC 2047 base64 encoded words, folded one a line: each
/// holds at most 42 bytes of UTF-8 (56 of base64; 77 columns with
/// "Subject: " before the first), cut between characters, since a word
/// must decode to whole characters on its own.
fn encoded_words(text: &str) -> String {
    const MOST_BYTES: usize = 42;
    let mut words = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + MOST_BYTES).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        words.push(format!(
            "=?utf-8?b?{}?=",
            base64(&text.as_bytes()[start..end])
        ));
        start = end;
    }
    words.join("\r\n ")
}

/// Standard base64 (RFC 4648, with padding).
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (i, &byte)| {
            group | u32::from(byte) << (16 - 8 * i)
        });
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(
                    ALPHABET[(group >> (18 - 6 * i) & 0x3f) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Flattens a one-line field: every control character, line break or run
/// of white space becomes one space; bidi controls are dropped.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(|part| part.replace(is_bidi_control, ""))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cleans free text (a quote, a note): keeps line breaks and tabs, turns
/// other control characters into spaces and drops bidi controls, so
/// nothing odd reaches a mail client.
fn clean_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter(|&c| !is_bidi_control(c))
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items
            .iter()
            .map(|s| one_line(s))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A source link becomes a link only when it is an http(s) URL without
/// white space; anything else (`javascript:`…) is shown as text.
fn web_link(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let web = lower.starts_with("https://") || lower.starts_with("http://");
    (web && !url.chars().any(|c| c.is_whitespace() || c.is_control())).then_some(url)
}

/// One event's detail in a line: `text: …`, `deadline: "by Friday" (latest 2025-12-05)`.
fn event_detail(event: &Event) -> String {
    let parts: Vec<String> = event
        .detail
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| format!("{key}: {}", detail_value(value)))
        .collect();
    let text = one_line(&parts.join("; "));
    if text.chars().count() > DETAIL_LIMIT {
        let head: String = text.chars().take(DETAIL_LIMIT).collect();
        format!("{head}…")
    } else {
        text
    }
}

fn detail_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) => match (map.get("expression"), map.get("latest")) {
            (Some(Value::String(expr)), Some(Value::String(latest))) => {
                format!("{expr:?} (latest {latest})")
            }
            _ => value.to_string(),
        },
        other => other.to_string(),
    }
}

/// Every jiff timestamp fits in a Unix `SystemTime`; the epoch fallback
/// only keeps this total.
fn system_time(at: jiff::Timestamp) -> SystemTime {
    SystemTime::try_from(at).unwrap_or(SystemTime::UNIX_EPOCH)
}

fn stamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

// ---- reminders -------------------------------------------------------------

/// Renders one reminder to one recipient.
///
/// Headers: From, To, Date (`written_at`), Subject ([`subject`]), the given
/// Message-ID, `In-Reply-To` and `References` naming the commitment's
/// [`thread_root`], `X-Followup-Commitment` and `X-Followup-Reminder`. Body:
/// `multipart/alternative` with a text and an HTML part.
pub fn render_reminder(reminder: &Reminder, from: &Mailbox) -> Result<Message, Error> {
    check_message_id(reminder.message_id)?;
    let record = reminder.record;
    let commitment = &record.commitment;
    let subject = subject(reminder.kind, commitment, reminder.today);
    let root = thread_root(commitment.id, reminder.thread, from);

    let text = reminder_text(reminder, &subject);
    let html = reminder_html(reminder, &subject);

    Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, reminder.to.clone()))
        .header(DateHeader::new(system_time(reminder.written_at)))
        .header(Subject(subject.clone()))
        .header(MessageId::from(reminder.message_id.to_string()))
        .header(InReplyTo::from(root.clone()))
        .header(References::from(root))
        .header(FollowupCommitment(commitment.id))
        .header(FollowupReminder(reminder.key.to_string()))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|source| Error::Build {
            what: format!("reminder {} of commitment #{}", reminder.key, commitment.id),
            source,
        })
}

/// The commands a desk runs to act on commitment `id`.
fn commands(id: CommitmentId) -> [(&'static str, String); 3] {
    [
        (
            "Record what happened",
            format!("followup close {id} --outcome fulfilled|partial|missed|withdrawn"),
        ),
        (
            "Move the deadline",
            format!("followup revise {id} --due \"…\""),
        ),
        ("Add a note", format!("followup note {id} \"…\"")),
    ]
}

fn recent_history(record: &CommitmentRecord) -> (&[Event], usize) {
    let total = record.history.len();
    let skip = total.saturating_sub(HISTORY_LIMIT);
    (&record.history[skip..], skip)
}

fn reminder_text(reminder: &Reminder, subject: &str) -> String {
    let record = reminder.record;
    let c = &record.commitment;
    let d = &c.deadline.deadline;
    let mut out = String::new();
    // Writing to a String cannot fail, so the results are ignored throughout.
    let _ = writeln!(out, "{subject}\n");
    let _ = writeln!(out, "{}\n", occasion(reminder.kind));
    let _ = writeln!(out, "Commitment #{}", c.id);
    let _ = writeln!(out, "  Title:      {}", one_line(&c.title));
    let _ = writeln!(out, "  Status:     {}", c.status);
    let _ = writeln!(out, "  Actors:     {}", list_or_none(&c.actors));
    let _ = writeln!(out, "  Tags:       {}", list_or_none(&c.tags));
    let _ = writeln!(out, "  Announced:  {}", c.announced);
    let _ = writeln!(out);
    let _ = writeln!(out, "Deadline (version {})", c.deadline.version);
    let _ = writeln!(out, "  As stated:  {}", one_line(&d.expression));
    let _ = writeln!(out, "  Earliest:   {}", d.earliest);
    let _ = writeln!(out, "  Latest:     {} (last day on time)", d.latest);
    let _ = writeln!(
        out,
        "  Vague:      {}{}",
        yes_no(d.vague),
        if d.vague {
            " (the latest date is an assumed horizon, not a stated date)"
        } else {
            ""
        }
    );
    let _ = writeln!(out);
    if let Some(source) = &c.source {
        let _ = writeln!(out, "Source: {}", one_line(source));
    }
    if let Some(quote) = &c.quote {
        let _ = writeln!(out, "Quote:");
        for line in clean_text(quote).lines() {
            let _ = writeln!(out, "  > {line}");
        }
    }
    if c.source.is_some() || c.quote.is_some() {
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "Deadline history");
    for r in &record.revisions {
        let _ = write!(
            out,
            "  v{}  {}: {} to {}{}, set {}",
            r.version,
            one_line(&r.deadline.expression),
            r.deadline.earliest,
            r.deadline.latest,
            if r.deadline.vague { " (vague)" } else { "" },
            stamp(r.at)
        );
        match &r.reason {
            Some(reason) => {
                let _ = writeln!(out, "; reason: {}", one_line(reason));
            }
            None => {
                let _ = writeln!(out);
            }
        }
    }
    let _ = writeln!(out);

    let (events, earlier) = recent_history(record);
    let _ = writeln!(out, "History");
    if earlier > 0 {
        let _ = writeln!(out, "  ({earlier} earlier events: followup show {})", c.id);
    }
    for event in events {
        let detail = event_detail(event);
        let _ = writeln!(
            out,
            "  {}  {}  by {}{}{}",
            stamp(event.at),
            event.kind.as_str(),
            one_line(&event.author),
            if detail.is_empty() { "" } else { ": " },
            detail
        );
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "What to do");
    for (what, command) in commands(c.id) {
        let _ = writeln!(out, "  {what}:\n    {command}");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "-- \nfollowup reminder {} for commitment #{}",
        one_line(reminder.key),
        c.id
    );
    out
}

const HTML_STYLE: &str = "body{font-family:sans-serif;line-height:1.4}\
th{text-align:start;padding-inline-end:1em;vertical-align:top}\
blockquote{border-inline-start:3px solid #ccc;margin:0;padding-inline-start:1em;white-space:pre-wrap}\
pre{background:#f4f4f4;padding:.5em}";

fn html_open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title dir=\"auto\">{}</title><style>{HTML_STYLE}</style></head>\n<body>\n",
        escape_html(title)
    );
}

fn html_row(out: &mut String, label: &str, value_html: &str) {
    let _ = writeln!(
        out,
        "<tr><th>{label}</th><td dir=\"auto\">{value_html}</td></tr>"
    );
}

fn reminder_html(reminder: &Reminder, subject: &str) -> String {
    let record = reminder.record;
    let c = &record.commitment;
    let d = &c.deadline.deadline;
    let e = |s: &str| escape_html(&one_line(s));
    let mut out = String::new();
    html_open(&mut out, subject);
    let _ = writeln!(out, "<h1 dir=\"auto\">{}</h1>", escape_html(subject));
    let _ = writeln!(out, "<p>{}</p>", escape_html(&occasion(reminder.kind)));

    let _ = writeln!(out, "<h2>Commitment #{}</h2>\n<table>", c.id);
    html_row(&mut out, "Title", &e(&c.title));
    html_row(&mut out, "Status", &e(c.status.as_str()));
    html_row(&mut out, "Actors", &e(&list_or_none(&c.actors)));
    html_row(&mut out, "Tags", &e(&list_or_none(&c.tags)));
    html_row(&mut out, "Announced", &c.announced.to_string());
    let _ = writeln!(out, "</table>");

    let _ = writeln!(
        out,
        "<h2>Deadline (version {})</h2>\n<table>",
        c.deadline.version
    );
    html_row(&mut out, "As stated", &e(&d.expression));
    html_row(&mut out, "Earliest", &d.earliest.to_string());
    html_row(
        &mut out,
        "Latest",
        &format!("{} (last day on time)", d.latest),
    );
    html_row(
        &mut out,
        "Vague",
        if d.vague {
            "yes (the latest date is an assumed horizon, not a stated date)"
        } else {
            "no"
        },
    );
    let _ = writeln!(out, "</table>");

    if let Some(source) = &c.source {
        let shown = e(source);
        match web_link(source) {
            Some(url) => {
                let _ = writeln!(
                    out,
                    "<p>Source: <a href=\"{}\" dir=\"auto\">{shown}</a></p>",
                    escape_html(url)
                );
            }
            None => {
                let _ = writeln!(out, "<p>Source: <span dir=\"auto\">{shown}</span></p>");
            }
        }
    }
    if let Some(quote) = &c.quote {
        let _ = writeln!(
            out,
            "<blockquote dir=\"auto\">{}</blockquote>",
            escape_html(&clean_text(quote))
        );
    }

    let _ = writeln!(out, "<h2>Deadline history</h2>\n<ul>");
    for r in &record.revisions {
        let _ = write!(
            out,
            "<li dir=\"auto\">v{} <q>{}</q>: {} to {}{}, set {}",
            r.version,
            e(&r.deadline.expression),
            r.deadline.earliest,
            r.deadline.latest,
            if r.deadline.vague { " (vague)" } else { "" },
            stamp(r.at)
        );
        if let Some(reason) = &r.reason {
            let _ = write!(out, "; reason: {}", e(reason));
        }
        let _ = writeln!(out, "</li>");
    }
    let _ = writeln!(out, "</ul>");

    let (events, earlier) = recent_history(record);
    let _ = writeln!(out, "<h2>History</h2>");
    if earlier > 0 {
        let _ = writeln!(
            out,
            "<p>{earlier} earlier events: <code>followup show {}</code></p>",
            c.id
        );
    }
    let _ = writeln!(out, "<ul>");
    for event in events {
        let detail = event_detail(event);
        let _ = writeln!(
            out,
            "<li dir=\"auto\">{} {} by {}{}{}</li>",
            stamp(event.at),
            event.kind.as_str(),
            e(&event.author),
            if detail.is_empty() { "" } else { ": " },
            escape_html(&detail)
        );
    }
    let _ = writeln!(out, "</ul>");

    let _ = writeln!(out, "<h2>What to do</h2>");
    for (what, command) in commands(c.id) {
        let _ = writeln!(
            out,
            "<p>{what}:</p>\n<pre dir=\"ltr\">{}</pre>",
            escape_html(&command)
        );
    }
    let _ = writeln!(
        out,
        "<p><small>followup reminder {} for commitment #{}</small></p>\n</body></html>",
        e(reminder.key),
        c.id
    );
    out
}

// ---- digests ---------------------------------------------------------------

/// Renders a desk's digest to one recipient: overdue commitments, those due
/// within 14 days, vague ones under review, and reminders that could not be
/// delivered, each with id, title and latest date.
pub fn render_digest(digest: &Digest, from: &Mailbox) -> Result<Message, Error> {
    check_message_id(digest.message_id)?;
    let subject = digest_subject(digest);
    let text = digest_text(digest, &subject);
    let html = digest_html(digest, &subject);
    Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, digest.to.clone()))
        .header(DateHeader::new(system_time(digest.written_at)))
        .header(Subject(subject.clone()))
        .header(MessageId::from(digest.message_id.to_string()))
        .header(FollowupDigest(one_line(digest.desk)))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|source| Error::Build {
            what: format!("the digest of desk {:?}", digest.desk),
            source,
        })
}

fn digest_subject(digest: &Digest) -> String {
    let mut counts = vec![
        format!("{} overdue", digest.overdue.len()),
        format!("{} due soon", digest.due_soon.len()),
        format!("{} under review", digest.under_review.len()),
    ];
    if !digest.dead_deliveries.is_empty() {
        counts.push(format!("{} undelivered", digest.dead_deliveries.len()));
    }
    format!(
        "followup digest for {}, {}: {}",
        one_line(digest.desk),
        digest.date,
        counts.join(", ")
    )
}

/// The sections of a digest: heading, and for each commitment its one-line
/// summary. Shared by the text and HTML parts so they always agree.
fn digest_sections<'d>(digest: &'d Digest) -> [(&'static str, Vec<(&'d Commitment, String)>); 3] {
    let line = |c: &&'d Commitment| {
        let latest = c.deadline.deadline.latest;
        let when = if c.deadline.deadline.vague {
            format!("assumed by {latest}")
        } else {
            format!(
                "latest {latest}, {}",
                due_phrase(digest.today, latest).to_lowercase()
            )
        };
        (*c, when)
    };
    [
        ("Overdue", digest.overdue.iter().map(line).collect()),
        (
            "Due within 14 days",
            digest.due_soon.iter().map(line).collect(),
        ),
        (
            "Vague, under review",
            digest.under_review.iter().map(line).collect(),
        ),
    ]
}

const DEAD_HEADING: &str = "These reminders could not be delivered";

/// Under the heading of a digest caught up after downtime: its lists are
/// of the day it was written, not of the day it is for.
fn caught_up(digest: &Digest) -> Option<String> {
    (digest.today != digest.date).then(|| {
        format!(
            "Sent late, on {}, as the daemon missed this digest's time; the lists are as of {}.",
            digest.today, digest.today
        )
    })
}

fn digest_text(digest: &Digest, subject: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{subject}\n");
    if let Some(note) = caught_up(digest) {
        let _ = writeln!(out, "{note}\n");
    }
    for (heading, items) in digest_sections(digest) {
        let _ = writeln!(out, "{heading} ({})", items.len());
        if items.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for (c, when) in items {
            let _ = writeln!(out, "  #{}  {}  ({when})", c.id, one_line(&c.title));
        }
        let _ = writeln!(out);
    }
    if !digest.dead_deliveries.is_empty() {
        let _ = writeln!(out, "{DEAD_HEADING} ({})", digest.dead_deliveries.len());
        for dead in &digest.dead_deliveries {
            let _ = writeln!(
                out,
                "  #{}  {}  to {}, reminder {}: {}",
                dead.commitment_id,
                one_line(&dead.title),
                one_line(&dead.recipient),
                one_line(&dead.key),
                one_line(&dead.error)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Details: followup show ID. Record an outcome: followup close ID --outcome fulfilled|partial|missed|withdrawn"
    );
    out
}

fn digest_html(digest: &Digest, subject: &str) -> String {
    let e = |s: &str| escape_html(&one_line(s));
    let mut out = String::new();
    html_open(&mut out, subject);
    let _ = writeln!(out, "<h1 dir=\"auto\">{}</h1>", escape_html(subject));
    if let Some(note) = caught_up(digest) {
        let _ = writeln!(out, "<p>{}</p>", escape_html(&note));
    }
    for (heading, items) in digest_sections(digest) {
        let _ = writeln!(out, "<h2>{heading} ({})</h2>", items.len());
        if items.is_empty() {
            let _ = writeln!(out, "<p>none</p>");
            continue;
        }
        let _ = writeln!(out, "<ul>");
        for (c, when) in items {
            let _ = writeln!(
                out,
                "<li>#{} <span dir=\"auto\">{}</span> ({})</li>",
                c.id,
                e(&c.title),
                escape_html(&when)
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    if !digest.dead_deliveries.is_empty() {
        let _ = writeln!(
            out,
            "<h2>{DEAD_HEADING} ({})</h2>\n<ul>",
            digest.dead_deliveries.len()
        );
        for dead in &digest.dead_deliveries {
            let _ = writeln!(
                out,
                "<li>#{} <span dir=\"auto\">{}</span> to {}, reminder {}: <span dir=\"auto\">{}</span></li>",
                dead.commitment_id,
                e(&dead.title),
                e(&dead.recipient),
                e(&dead.key),
                e(&dead.error)
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(
        out,
        "<p>Details: <code>followup show ID</code>. Record an outcome: <code>followup close ID --outcome fulfilled|partial|missed|withdrawn</code></p>\n</body></html>"
    );
    out
}
