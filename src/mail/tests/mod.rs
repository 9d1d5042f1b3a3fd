//! Tests of the mail edge: rendering checked by parsing the formatted bytes
//! back with an independent parser (mail-parser), the Maildir against a real
//! temporary folder, and SMTP against a real SMTP server on 127.0.0.1
//! (`server.rs`, mailin's protocol engine behind a TCP listener).

mod maildir;
mod render;
mod server;
mod smtp;

use jiff::Timestamp;
use jiff::civil::{Date, date};
use lettre::Address;
use lettre::message::Mailbox;
use serde_json::json;

use crate::deadline::Deadline;
use crate::model::{
    Commitment, CommitmentRecord, DeadlineVersion, Event, EventKind, Revision, Status,
};

use super::{Reminder, ReminderKind};

pub const ARABIC_TITLE: &str = "عقد اجتماع اللجنة الحكومية المشتركة";
pub const ARABIC_QUOTE: &str = "ستعقد اللجنة الحكومية المشتركة اجتماعها في غضون شهرين.";

pub fn from() -> Mailbox {
    "Follow-up desk <followup@example.org>".parse().unwrap()
}

pub fn desk() -> Address {
    "desk@example.org".parse().unwrap()
}

pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Commitment 12: announced 2025-10-15, revised once (v2), last on-time
/// day 2025-12-31, with an Arabic quote and a short history.
pub fn record(title: &str) -> CommitmentRecord {
    let announced = date(2025, 10, 15);
    let first = Deadline {
        expression: "within two months".into(),
        earliest: announced,
        latest: date(2025, 12, 15),
        vague: false,
        anchor: announced,
    };
    let second = Deadline {
        expression: "by the end of the year".into(),
        earliest: announced,
        latest: date(2025, 12, 31),
        vague: false,
        anchor: announced,
    };
    let detail = |value: serde_json::Value| value.as_object().unwrap().clone();
    CommitmentRecord {
        commitment: Commitment {
            id: 12,
            title: title.into(),
            status: Status::Open,
            announced,
            actors: vec!["Syria".into(), "Russia".into()],
            tags: vec!["syria".into(), "energy".into()],
            deadline: DeadlineVersion {
                deadline: second.clone(),
                version: 2,
            },
            source: Some("https://example.org/news/talks?id=1&lang=ar".into()),
            quote: Some(ARABIC_QUOTE.into()),
            evidence: None,
            created_at: at("2025-10-15T10:00:00Z"),
            updated_at: at("2025-11-02T09:30:00Z"),
            closed_at: None,
        },
        revisions: vec![
            Revision {
                deadline: first,
                version: 1,
                reason: None,
                at: at("2025-10-15T10:00:00Z"),
            },
            Revision {
                deadline: second,
                version: 2,
                reason: Some("talks postponed".into()),
                at: at("2025-11-02T09:30:00Z"),
            },
        ],
        history: vec![
            Event {
                at: at("2025-10-15T10:00:00Z"),
                author: "amal".into(),
                kind: EventKind::Created,
                detail: detail(
                    json!({"deadline": {"expression": "within two months", "latest": "2025-12-15"}}),
                ),
            },
            Event {
                at: at("2025-11-02T09:30:00Z"),
                author: "amal".into(),
                kind: EventKind::Revised,
                detail: detail(json!({"reason": "talks postponed"})),
            },
            Event {
                at: at("2025-11-03T08:00:00Z"),
                author: "james".into(),
                kind: EventKind::Note,
                detail: detail(json!({"text": "Ministry spokesman confirmed"})),
            },
        ],
    }
}

/// A reminder for `record`, 14 days before its deadline.
pub fn reminder<'a>(
    record: &'a CommitmentRecord,
    to: &'a Address,
    kind: ReminderKind,
    today: Date,
    key: &'a str,
    message_id: &'a str,
) -> Reminder<'a> {
    Reminder {
        record,
        kind,
        key,
        message_id,
        thread: THREAD,
        to,
        today,
        written_at: at("2025-12-17T09:00:00Z"),
    }
}

/// The database's thread token the test reminders carry.
pub const THREAD: &str = "3f9a2c1d5e6b7a80";

pub const MESSAGE_ID: &str = "<followup.12.v2-before-14d.5c1e07a2.3f9a@example.org>";

/// A complete rendered reminder for `title`, as formatted bytes.
pub fn rendered(title: &str) -> (lettre::Message, Vec<u8>) {
    let record = record(title);
    let to = desk();
    let r = reminder(
        &record,
        &to,
        ReminderKind::Before { days: 14 },
        date(2025, 12, 17),
        "v2:before:14d",
        MESSAGE_ID,
    );
    let message = super::render_reminder(&r, &from()).unwrap();
    let bytes = message.formatted();
    (message, bytes)
}

/// The header names of a formatted message, in order, with folded lines
/// joined: what a receiving server would see.
pub fn header_names(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).expect("formatted mail is UTF-8");
    let head = text.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .filter(|line| !line.starts_with([' ', '\t']))
        .map(|line| {
            line.split_once(':')
                .unwrap_or_else(|| panic!("header line without a colon: {line:?}"))
                .0
                .to_string()
        })
        .collect()
}

/// The daemon shares one transport between tasks and spawns sends.
#[test]
fn transport_and_its_send_future_can_cross_threads() {
    fn shareable<T: Send + Sync>(_: &T) {}
    fn spawnable<F: std::future::Future + Send>(_: &F) {}
    fn check(transport: &super::Transport, message: &lettre::Message) {
        shareable(transport);
        spawnable(&transport.send(message));
    }
    let _ = check;
}
