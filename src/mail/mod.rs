//! The mail edge: turns a reminder or a desk digest into an email, and hands
//! emails to a transport (a local Maildir, or an SMTP server).
//!
//! This module owns what an email looks like (headers, threading, the text
//! and HTML bodies) and how a delivery attempt ends: [`SendError`] tells the
//! outbox whether to retry (`Transient`) or give up (`Permanent`). It does
//! not decide which reminders are due (that is `plan`), keep the outbox or
//! retry anything (that is `store` and the daemon), or read the clock: the
//! caller passes `today` and the instant the email is written.
//!
//! Everything that reaches a header goes through lettre's typed headers, so
//! user text (a title with a line break, say) is encoded, never spliced in.

mod maildir;
mod render;
mod smtp;

use std::path::PathBuf;

use jiff::Timestamp;
use jiff::civil::Date;
use lettre::Address;

use crate::config::{self, MailConfig};
use crate::model::{Commitment, CommitmentId, CommitmentRecord};

pub use maildir::{MaildirState, MaildirTransport, check_writable as check_maildir};
pub use render::{
    FollowupCommitment, FollowupDigest, FollowupReminder, digest_message_id, escape_html,
    message_id, render_digest, render_reminder, subject, thread_root,
};
pub use smtp::{CREDENTIAL_NAME, SmtpTransport, check_password_file, password_path, read_password};

/// What a reminder is about, as decided by the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderKind {
    /// Sent `days` before the deadline's last on-time day.
    Before { days: u32 },
    /// Sent on the last on-time day itself.
    Due,
    /// Sent `days` after the last on-time day passed.
    Overdue { days: u32 },
    /// The `n`th periodic review of a commitment with a vague deadline.
    Review { n: u32 },
}

/// One reminder email to one recipient, as the outbox stores it.
#[derive(Debug, Clone, Copy)]
pub struct Reminder<'a> {
    /// The commitment with its revisions and history.
    pub record: &'a CommitmentRecord,
    pub kind: ReminderKind,
    /// The reminder's stable key, e.g. `v2:before:14d`; sent as
    /// `X-Followup-Reminder`.
    pub key: &'a str,
    /// Fixed when the reminder is enqueued and reused on every retry, so a
    /// server or mail client can tell a retry from a new reminder. Made by
    /// [`message_id`].
    pub message_id: &'a str,
    /// This database's token in the commitment's thread root (see
    /// [`thread_root`]).
    pub thread: &'a str,
    pub to: &'a Address,
    /// The desk's local date when the email is written: the subject counts
    /// days from it ("Due in 13 days" if a retry goes out a day late).
    pub today: Date,
    /// When the email is written; becomes the `Date` header.
    pub written_at: Timestamp,
}

/// A reminder that could not be delivered, for the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadDelivery {
    pub commitment_id: CommitmentId,
    pub title: String,
    pub recipient: String,
    /// The reminder's key, e.g. `v1:overdue:2`.
    pub key: String,
    /// The last error the transport reported.
    pub error: String,
}

/// One desk's digest email to one of its recipients.
#[derive(Debug, Clone)]
pub struct Digest<'a> {
    /// The desk's name, as in the config.
    pub desk: &'a str,
    pub to: &'a Address,
    /// The desk's local date the digest is for: the day of the schedule's
    /// occasion, which its Subject and heading name. A digest caught up
    /// after downtime is for a day before `today`.
    pub date: Date,
    /// The desk's local date when the email is written: the lists are as
    /// of this day, and it counts their days from it.
    pub today: Date,
    /// Open commitments whose last on-time day has passed.
    pub overdue: Vec<&'a Commitment>,
    /// Open commitments due within the next 14 days.
    pub due_soon: Vec<&'a Commitment>,
    /// Open commitments with a vague deadline, waiting for review.
    pub under_review: Vec<&'a Commitment>,
    /// Reminders the outbox gave up on since the last digest.
    pub dead_deliveries: Vec<DeadDelivery>,
    /// Fixed when the digest is enqueued, like a reminder's.
    pub message_id: &'a str,
    /// When the email is written; becomes the `Date` header.
    pub written_at: Timestamp,
}

/// Why an email could not be built, or a transport could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{value:?} is not a usable Message-ID; it must look like <left@right> in printable ASCII without spaces (make one with mail::message_id)"
    )]
    InvalidMessageId { value: String },
    #[error("cannot build the email for {what}: {source}")]
    Build {
        what: String,
        source: lettre::error::Error,
    },
    #[error(
        "cannot create the Maildir folder {}: {source}; create it or point mail.maildir at a writable folder",
        path.display()
    )]
    Maildir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "mail.transport is \"smtp\" but there is no [mail.smtp] section; add one with at least host"
    )]
    SmtpMissing,
    #[error(
        "cannot read the SMTP password file {}: {source}; check mail.smtp.password_file (or $CREDENTIALS_DIRECTORY/smtp-password under systemd)",
        path.display()
    )]
    PasswordRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the SMTP password file {} can be read by other users (mode {mode:04o}); run: chmod 600 {}",
        path.display(),
        path.display()
    )]
    PasswordExposed { path: PathBuf, mode: u32 },
    #[error(
        "the SMTP password file {} is empty; write the password into it",
        path.display()
    )]
    PasswordEmpty { path: PathBuf },
    #[error(
        "mail.smtp.username is {username:?} but no password was found: set mail.smtp.password_file, or run under systemd with LoadCredential=smtp-password:PATH"
    )]
    PasswordMissing { username: String },
    #[error(
        "mail.smtp.security = \"none\" would send the password for {username:?} unencrypted to {host:?}; use security = \"starttls\" or \"tls\", or a relay on localhost"
    )]
    PlaintextAuth { username: String, host: String },
    #[error("cannot set up TLS for {host:?}: {source}")]
    Tls {
        host: String,
        source: lettre::transport::smtp::Error,
    },
    #[error("the SMTP transport must be created inside a Tokio runtime (its pool runs a task)")]
    NoRuntime,
}

/// How a delivery attempt ended, so the outbox knows whether to retry.
/// The text names the server or folder and, where we can tell, the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: a 4xx reply, a refused or reset connection, a
    /// timeout, a full disk.
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help: the server refused this message or recipient
    /// for good (5xx).
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    /// True when the outbox should retry this delivery later.
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }
}

/// systemd's `$CREDENTIALS_DIRECTORY`, where `LoadCredential=` puts the
/// SMTP password, when set.
pub fn credentials_dir() -> Option<PathBuf> {
    std::env::var_os("CREDENTIALS_DIRECTORY")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
}

/// Where emails go: the transport named by `mail.transport`.
#[derive(Debug)]
pub enum Transport {
    Maildir(MaildirTransport),
    Smtp(SmtpTransport),
}

impl Transport {
    /// Sets up the configured transport: creates the Maildir folders, or
    /// reads the SMTP password and prepares the connection pool (no
    /// connection is opened until the first send).
    ///
    /// The SMTP password comes from `mail.smtp.password_file`, else from
    /// `$CREDENTIALS_DIRECTORY/smtp-password` (systemd's `LoadCredential=`).
    /// SMTP needs a Tokio runtime to be running.
    pub fn from_config(mail: &MailConfig) -> Result<Transport, Error> {
        match mail.transport {
            config::Transport::Maildir => Ok(Transport::Maildir(MaildirTransport::new(
                mail.maildir.clone(),
            )?)),
            config::Transport::Smtp => {
                let smtp = mail.smtp.as_ref().ok_or(Error::SmtpMissing)?;
                let credentials = credentials_dir();
                Ok(Transport::Smtp(SmtpTransport::new(
                    smtp,
                    credentials.as_deref(),
                )?))
            }
        }
    }

    /// Delivers one email. Safe to call concurrently.
    pub async fn send(&self, message: &lettre::Message) -> Result<(), SendError> {
        match self {
            Transport::Maildir(maildir) => maildir.send(message).await.map(|_| ()),
            Transport::Smtp(smtp) => smtp.send(message).await,
        }
    }

    /// Where this transport delivers, for logs and `status`, e.g.
    /// `maildir /var/lib/followup/outbox` or `smtp smtp.example.org:587 (starttls)`.
    pub fn describe(&self) -> String {
        match self {
            Transport::Maildir(maildir) => format!("maildir {}", maildir.root().display()),
            Transport::Smtp(smtp) => format!("smtp {}", smtp.describe()),
        }
    }
}

#[cfg(test)]
mod tests;
