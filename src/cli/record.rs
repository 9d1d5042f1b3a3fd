//! Commands that record something: `add`, `revise`, `close`, `reopen`,
//! `note`. Each validates everything before opening a write transaction.

use std::io::Write;

use clap::Args;
use jiff::civil::Date;

use super::table::for_terminal;
use super::{Context, parse_date, parse_id, print_json};
use crate::deadline::Deadline;
use crate::model::{self, CommitmentId, NewCommitment, Outcome};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct AddArgs {
    /// What was promised, in one line.
    pub title: String,
    /// The deadline as stated: "2025-12-15", "by 30 November 2025", "within two months".
    #[arg(long, value_name = "EXPR")]
    pub due: String,
    /// When it was announced (YYYY-MM-DD); relative deadlines count from here. Default: today.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub announced: Option<Date>,
    /// Who promised it (repeat for each).
    #[arg(long = "actor", value_name = "A")]
    pub actors: Vec<String>,
    /// Country, topic or desk (repeat for each); routes reminders to desks.
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
    /// Link to the announcement.
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// The sentence that makes the commitment, as published.
    #[arg(long, value_name = "TEXT")]
    pub quote: Option<String>,
    /// A first note for the history.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Print the stored commitment as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReviseArgs {
    /// The commitment's id, as `followup list` shows it.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: CommitmentId,
    /// The new deadline as stated.
    #[arg(long, value_name = "EXPR")]
    pub due: String,
    /// Why it moved (e.g. "meeting postponed, ministry statement").
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The date the new deadline was stated; relative deadlines count from here. Default: today.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<Date>,
    /// Print the revised commitment as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// The commitment's id, as `followup list` shows it.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: CommitmentId,
    /// How it ended: fulfilled, partial, missed or withdrawn.
    #[arg(long, value_name = "OUTCOME", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<Outcome>()))]
    pub outcome: Outcome,
    /// Link showing the outcome.
    #[arg(long, value_name = "URL")]
    pub evidence: Option<String>,
    /// Print the closed commitment as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReopenArgs {
    /// The commitment's id, as `followup list` shows it.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: CommitmentId,
    /// Print the reopened commitment as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The commitment's id, as `followup list` shows it.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: CommitmentId,
    /// The note.
    pub text: String,
    /// Print the commitment as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_deadline(context: &Context, expression: &str, anchor: Date) -> anyhow::Result<Deadline> {
    let expression = model::check_line("deadline", expression, model::MAX_NAME_CHARS)
        .map_err(anyhow::Error::msg)?;
    Ok(Deadline::parse_with(
        &expression,
        anchor,
        &context.deadline_options(),
    )?)
}

/// Prints what a command left behind, as JSON or one line.
fn report(
    store: &Store,
    id: CommitmentId,
    json: bool,
    verb: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if json {
        return print_json(out, &store.record(id)?);
    }
    let c = store.get(id)?;
    let d = &c.deadline.deadline;
    let vague = if d.vague {
        " (vague; assumed horizon)"
    } else {
        ""
    };
    writeln!(
        out,
        "{verb} commitment {id}: {} [{}] due {}{vague}",
        for_terminal(&c.title),
        c.status,
        d.latest
    )?;
    Ok(())
}

pub fn add(context: &Context, args: AddArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let announced = args.announced.unwrap_or(context.today);
    model::check_not_to_come(
        announced,
        context.today,
        "the commitment was announced",
        "--announced",
    )
    .map_err(anyhow::Error::msg)?;
    let deadline = parse_deadline(context, &args.due, announced)?;
    if args.announced.is_some() {
        model::check_ends_after(
            &deadline,
            announced,
            "the announcement",
            ", or give the announcement's date with --announced",
        )
        .map_err(anyhow::Error::msg)?;
    }
    let lapsed = deadline.latest < announced;
    let new = NewCommitment {
        title: args.title,
        announced,
        deadline,
        actors: args.actors,
        tags: args.tags,
        source: args.source,
        quote: args.quote,
        note: args.note,
    }
    .validated()
    .map_err(anyhow::Error::msg)?;
    let mut store = context.store()?;
    let id = store.add(&new, context.now, &context.author)?;
    report(&store, id, args.json, "Added", out)?;
    if args.announced.is_none() && lapsed {
        // Recording a promise that has already lapsed is a desk's daily
        // work; only the announcement date may be missing from it.
        eprintln!(
            "note: the deadline ended on {}, before today; it is recorded as overdue. If it was announced earlier, give the date with --announced",
            new.deadline.latest
        );
    }
    Ok(())
}

pub fn revise(context: &Context, args: ReviseArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let anchor = args.from.unwrap_or(context.today);
    model::check_not_to_come(
        anchor,
        context.today,
        "the new deadline was stated",
        "--from",
    )
    .map_err(anyhow::Error::msg)?;
    let deadline = parse_deadline(context, &args.due, anchor)?;
    if args.from.is_some() {
        model::check_ends_after(
            &deadline,
            anchor,
            "it was stated",
            ", or give the date it was stated with --from",
        )
        .map_err(anyhow::Error::msg)?;
    }
    let reason = args
        .reason
        .as_deref()
        .map(|r| model::check_text("reason", r))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut store = context.store_holding(args.id)?;
    let commitment = store.get(args.id)?;
    let announced = commitment.announced;
    // A deadline already past when it was recorded, without --announced,
    // dated the announcement the day it was recorded, not the day it was
    // made: that date says nothing about when a slip can have been stated
    // or where it can end.
    let announcement_known = commitment.deadline.deadline.latest >= announced;
    if announcement_known {
        if args.from.is_some() && anchor < announced {
            anyhow::bail!(
                "--from {anchor} is before commitment {}'s announcement on {announced}; a deadline is restated after it was announced",
                args.id
            );
        }
        model::check_ends_after(&deadline, announced, "the announcement", "")
            .map_err(anyhow::Error::msg)?;
    }
    store.revise(
        args.id,
        &deadline,
        reason.as_deref(),
        context.now,
        &context.author,
    )?;
    report(&store, args.id, args.json, "Revised", out)?;
    if args.from.is_none() && deadline.latest < anchor {
        eprintln!(
            "note: the new deadline ended on {}, before today; it is recorded as overdue. If it was stated earlier, give the date with --from",
            deadline.latest
        );
    }
    Ok(())
}

pub fn close(context: &Context, args: CloseArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let evidence = args
        .evidence
        .as_deref()
        .map(|e| model::check_url("evidence", e))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut store = context.store_holding(args.id)?;
    store.close(
        args.id,
        args.outcome,
        evidence.as_deref(),
        context.now,
        &context.author,
    )?;
    report(&store, args.id, args.json, "Closed", out)?;
    Ok(())
}

pub fn reopen(context: &Context, args: ReopenArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut store = context.store_holding(args.id)?;
    store.reopen(args.id, context.now, &context.author)?;
    report(&store, args.id, args.json, "Reopened", out)?;
    Ok(())
}

pub fn note(context: &Context, args: NoteArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = model::check_text("note", &args.text).map_err(anyhow::Error::msg)?;
    let mut store = context.store_holding(args.id)?;
    store.note(args.id, &text, context.now, &context.author)?;
    report(&store, args.id, args.json, "Noted on", out)?;
    Ok(())
}
