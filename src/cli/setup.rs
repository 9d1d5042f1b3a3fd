//! Commands about the installation rather than the commitments:
//! `status` and `config check`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{Context, print_json, shown};
use crate::config::{self, Config, Transport};
use crate::daemon::{Holder, InstanceLock};
use crate::store::{self, Counts, OutboxCounts};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RequeueArgs {
    /// Only the emails of these commitments (default: every dead email).
    #[arg(value_name = "ID", value_parser = super::parse_id)]
    pub ids: Vec<crate::model::CommitmentId>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `followup requeue`: dead emails back in the queue, for the daemon's
/// next tick, with the Message-IDs they had.
pub fn requeue(context: &Context, args: RequeueArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if !context.config.store.path.exists() {
        anyhow::bail!("{}", context.no_database_yet());
    }
    let mut store = context.store()?;
    for &id in &args.ids {
        store.get(id)?;
    }
    let requeued = store.requeue_dead(&args.ids, context.now)?;
    if args.json {
        return print_json(out, &serde_json::json!({ "requeued": requeued }));
    }
    let emails = if requeued == 1 { "email" } else { "emails" };
    writeln!(
        out,
        "Requeued {requeued} {emails}; a running daemon sends them at its next tick, with the Message-IDs they had."
    )?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Run one tick (plan, digests, delivery) and exit.
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config file and print what is wrong, with file, line and key.
    Check,
}

#[derive(Debug, Serialize)]
struct Status {
    config: Option<String>,
    database: String,
    /// False until the first command that records something creates it.
    database_exists: bool,
    database_bytes: u64,
    schema_version: usize,
    transport: &'static str,
    maildir: Option<String>,
    timezone: String,
    today: String,
    desks: Vec<String>,
    commitments: Counts,
    outbox: OutboxCounts,
    /// The pid of the daemon holding the database's lock, if one runs.
    daemon_pid: Option<u32>,
    /// `running`, `stopped`, or `unknown` (this user cannot read the
    /// lock file).
    daemon: &'static str,
    /// What the text output says of the daemon.
    #[serde(skip)]
    daemon_shown: String,
}

pub fn status(context: &Context, args: StatusArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let config = &context.config;
    let database = &config.store.path;
    // Status only looks: where there is no database yet, it says so
    // rather than create one.
    let exists = database.exists();
    let (counts, outbox) = if exists {
        let store = context.store()?;
        (
            store.counts(context.today)?,
            store.outbox_counts(context.now)?,
        )
    } else {
        Default::default()
    };
    let holder = InstanceLock::holder(database);
    let status = Status {
        config: config.file.as_deref().map(shown),
        database: shown(database),
        database_exists: exists,
        database_bytes: std::fs::metadata(database).map(|m| m.len()).unwrap_or(0),
        schema_version: store::schema_version(),
        transport: match config.mail.transport {
            Transport::Maildir => "maildir",
            Transport::Smtp => "smtp",
        },
        maildir: (config.mail.transport == Transport::Maildir).then(|| shown(&config.mail.maildir)),
        timezone: config.reminders.timezone_name.clone(),
        today: context.today.to_string(),
        desks: config.desks.iter().map(|d| d.name.clone()).collect(),
        commitments: counts,
        outbox,
        daemon_pid: holder.pid(),
        daemon: match holder {
            Holder::Nobody => "stopped",
            Holder::Daemon(_) => "running",
            Holder::Unknown(_) => "unknown",
        },
        daemon_shown: holder.describe(),
    };
    if args.json {
        return print_json(out, &status);
    }
    let c = &status.commitments;
    writeln!(
        out,
        "config       {}",
        status.config.as_deref().unwrap_or("(embedded defaults)")
    )?;
    if status.database_exists {
        writeln!(
            out,
            "database     {} ({} KiB, schema {})",
            status.database,
            status.database_bytes / 1024,
            status.schema_version
        )?;
    } else {
        writeln!(
            out,
            "database     {} (not created yet: the first command that records something creates it)",
            status.database
        )?;
    }
    match &status.maildir {
        Some(dir) => writeln!(out, "mail         maildir {dir}")?,
        None => match &config.mail.smtp {
            Some(smtp) => writeln!(
                out,
                "mail         smtp {}:{} ({})",
                smtp.host, smtp.port, smtp.security
            )?,
            None => writeln!(out, "mail         smtp")?,
        },
    }
    writeln!(
        out,
        "timezone     {} (today {})",
        status.timezone, status.today
    )?;
    writeln!(out, "desks        {}", status.desks.join(", "))?;
    writeln!(
        out,
        "commitments  {} total: {} open ({} overdue), {} fulfilled, {} partial, {} missed, {} withdrawn",
        c.total, c.open, c.overdue, c.fulfilled, c.partial, c.missed, c.withdrawn
    )?;
    writeln!(out, "history      {} events", c.events)?;
    let o = &status.outbox;
    writeln!(
        out,
        "outbox       {} pending, {} retrying, {} sending, {} dead, {} sent in the last 24 h",
        o.pending, o.retrying, o.sending, o.dead, o.sent_last_24h
    )?;
    let when = |t: Option<jiff::Timestamp>| {
        t.map_or("never".to_string(), |t| {
            t.strftime("%Y-%m-%d %H:%M UTC").to_string()
        })
    };
    writeln!(out, "last sent    {}", when(o.last_sent_at))?;
    writeln!(
        out,
        "next due     {}",
        o.next_reminder_at
            .map_or("nothing scheduled".to_string(), |t| when(Some(t)))
    )?;
    writeln!(out, "daemon       {}", status.daemon_shown)?;
    if o.dead > 0 {
        writeln!(
            out,
            "warning      {} could not be delivered; the daemon log and the next digest list them",
            if o.dead == 1 {
                "1 email".to_string()
            } else {
                format!("{} emails", o.dead)
            }
        )?;
    }
    Ok(())
}

pub fn config_command(
    command: &ConfigCommand,
    flag: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Check => check(flag, out),
    }
}

fn check(flag: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let Some(path) = config::locate(flag) else {
        let config = Config::embedded();
        writeln!(
            out,
            "No config file given (--config or ${}); the embedded defaults are in use.",
            config::CONFIG_ENV
        )?;
        summarize(&config, out)?;
        return Ok(ExitCode::SUCCESS);
    };
    match Config::from_file(&path) {
        Ok(config) => {
            // What the file names, looked at as the daemon and `ingest`
            // would find it.
            let problems: Vec<config::Problem> = [
                password_file_problem(&config, &path),
                actors_file_problem(&config, &path),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !problems.is_empty() {
                eprintln!("{}", config::Error::Invalid { path, problems });
                return Ok(ExitCode::FAILURE);
            }
            writeln!(out, "{}: ok", path.display())?;
            summarize(&config, out)?;
            for note in config.note_lines() {
                writeln!(out, "note: {note}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            // Problems go to stderr like every other error, but the exit
            // status is the verdict, so this is not an Err.
            eprintln!("{err}");
            eprintln!(
                "The example config (/etc/followup/followup.toml when installed, config/followup.toml in the source) shows every key with an example value."
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The password file the daemon would refuse, and so exit 78 at its start
/// or keep the old config at a reload: one that other users can read, or
/// that is missing, not a file, or empty. The file's mode and size are
/// looked at, never its contents. A file under systemd's credentials
/// (`$CREDENTIALS_DIRECTORY`, or `/run/credentials` where this runs
/// outside the service) is left alone, as the daemon leaves it: systemd
/// decides who reads it, and it exists only while the service runs.
fn password_file_problem(config: &Config, path: &Path) -> Option<config::Problem> {
    const SYSTEMD_CREDENTIALS: &str = "/run/credentials";
    let smtp = config.mail.smtp.as_ref()?;
    if config.mail.transport != Transport::Smtp || smtp.username.is_none() {
        return None;
    }
    let file = smtp.password_file.as_ref()?;
    let credentials = crate::mail::credentials_dir().unwrap_or_else(|| SYSTEMD_CREDENTIALS.into());
    if file.starts_with(&credentials) {
        return None;
    }
    match crate::mail::check_password_file(file, Some(&credentials)) {
        Ok(()) => None,
        // The daemon's user may be let in where this user is not.
        Err(crate::mail::Error::PasswordRead { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            None
        }
        Err(err) => {
            const KEY: &str = "mail.smtp.password_file";
            let text = std::fs::read_to_string(path).unwrap_or_default();
            Some(config::Problem {
                line: config::line_of_key(&text, KEY),
                key: KEY.to_string(),
                message: err.to_string(),
            })
        }
    }
}

/// The desk's gazetteer (`ingest.actors`) that `ingest` would fail on:
/// one that cannot be read, or has a row it cannot take.
fn actors_file_problem(config: &Config, path: &Path) -> Option<config::Problem> {
    let file = config.ingest.actors.as_ref()?;
    let problem = match std::fs::read_to_string(file) {
        Err(err) => format!(
            "cannot read the actors file {} ({err}){}",
            file.display(),
            crate::store::io_remedy(&err)
        ),
        Ok(text) => match crate::ingest::parse_actors_file(&text) {
            Ok(_) => return None,
            Err(err) => format!("{}: {err}", file.display()),
        },
    };
    const KEY: &str = "ingest.actors";
    let text = std::fs::read_to_string(path).unwrap_or_default();
    Some(config::Problem {
        line: config::line_of_key(&text, KEY),
        key: KEY.to_string(),
        message: problem,
    })
}

fn summarize(config: &Config, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "  database   {}", config.store.path.display())?;
    match config.mail.transport {
        Transport::Maildir => writeln!(
            out,
            "  mail       maildir {}",
            config.mail.maildir.display()
        )?,
        Transport::Smtp => {
            if let Some(smtp) = &config.mail.smtp {
                writeln!(
                    out,
                    "  mail       smtp {}:{} ({})",
                    smtp.host, smtp.port, smtp.security
                )?;
            }
        }
    }
    let r = &config.reminders;
    let before: Vec<String> = r.before.iter().map(|d| format!("{d}d")).collect();
    writeln!(
        out,
        "  reminders  before [{}], overdue every {}d, vague every {}d (horizon {}d), at {} {}",
        before.join(", "),
        r.overdue_every,
        r.vague_every,
        r.vague_horizon,
        r.send_time.strftime("%H:%M"),
        r.timezone_name
    )?;
    if let Some(addr) = config.http.listen {
        // Not a problem (a proxy or a monitoring network may need it), but
        // worth a word: the pages have no authentication.
        let exposed = if addr.ip().is_loopback() {
            ""
        } else {
            " (not loopback: anyone who can reach it reads the counts; there is no authentication)"
        };
        writeln!(out, "  http       /healthz and /metrics on {addr}{exposed}")?;
    }
    for desk in &config.desks {
        let recipients: Vec<String> = desk.recipients.iter().map(|a| a.to_string()).collect();
        writeln!(
            out,
            "  desk       {} → {} (tags: {})",
            desk.name,
            recipients.join(", "),
            if desk.tags.is_empty() {
                "none".to_string()
            } else {
                desk.tags.join(", ")
            }
        )?;
    }
    Ok(())
}
