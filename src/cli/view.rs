//! Commands that only read: `list`, `show`, `parse`.

use std::io::Write;

use clap::Args;
use jiff::civil::Date;

use super::table::{Part, Table};
use super::{Context, parse_date, parse_id, print_json};
use crate::deadline::Deadline;
use crate::model::{CommitmentId, Event, EventKind, Quoted, Status};
use crate::store::{Filter, Store};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this status: open, fulfilled, partial, missed, withdrawn, closed (any outcome) or all.
    #[arg(long, value_name = "S", value_parser = parse_status_filter)]
    pub status: Option<StatusFilter>,
    /// Only commitments with this tag (repeat: all must match).
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
    /// Only open commitments whose last on-time day has passed.
    #[arg(long)]
    pub overdue: bool,
    /// Only commitments due before this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub due_before: Option<Date>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The commitment's id, as `followup list` shows it.
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: CommitmentId,
    /// Print JSON: the commitment with `revisions` and `history`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The deadline expression, e.g. "within two months" or "في غضون شهرين".
    pub expression: String,
    /// The announcement date to count from (YYYY-MM-DD). Default: today.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<Date>,
    /// Print the deadline object as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The statuses `list --status` selects: one, `closed` (any outcome) or `all`.
#[derive(Debug, Clone)]
pub struct StatusFilter(Vec<Status>);

fn parse_status_filter(text: &str) -> Result<StatusFilter, String> {
    let statuses = match text.trim() {
        "all" => Status::ALL.to_vec(),
        "closed" => Status::ALL.into_iter().filter(|s| !s.is_open()).collect(),
        other => vec![
            other
                .parse::<Status>()
                .map_err(|e| format!("{e}, or closed for any outcome, or all"))?,
        ],
    };
    Ok(StatusFilter(statuses))
}

/// How far a deadline is from today, in the words a desk uses.
/// How long an open commitment has left, as `list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeLeft {
    Closed,
    Today,
    Days(i64),
    Late(i64),
}

impl std::fmt::Display for TimeLeft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in self.parts() {
            match part {
                Part::Text(text) => f.write_str(text)?,
                Part::Number(number) => write!(f, "{number}")?,
            }
        }
        Ok(())
    }
}

impl TimeLeft {
    /// The cell's text, in pieces.
    fn parts(self) -> [Part<'static>; 3] {
        let none = Part::Text("");
        match self {
            TimeLeft::Closed => [Part::Text("-"), none, none],
            TimeLeft::Today => [Part::Text("today"), none, none],
            TimeLeft::Days(days) => [Part::Text("in "), Part::Number(days), Part::Text("d")],
            TimeLeft::Late(days) => [none, Part::Number(days), Part::Text("d late")],
        }
    }
}

fn time_left(status: Status, latest: Date, today: Date) -> TimeLeft {
    if !status.is_open() {
        return TimeLeft::Closed;
    }
    // Whole days between two civil dates: an exact duration, which is
    // cheaper to take than a calendar span for every line of a long list.
    let days = latest.duration_since(today).as_secs() / 86_400;
    match days {
        0 => TimeLeft::Today,
        d if d > 0 => TimeLeft::Days(d),
        d => TimeLeft::Late(-d),
    }
}

pub fn list(context: &Context, args: ListArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut tags = Vec::new();
    for tag in &args.tags {
        tags.push(crate::model::normalize_tag(tag).map_err(anyhow::Error::msg)?);
    }
    let filter = Filter {
        statuses: args.status.map(|f| f.0).unwrap_or_default(),
        tags,
        overdue_on: args.overdue.then_some(context.today),
        due_before: args.due_before,
        vague: None,
    };
    let Some(store) = context.reader()? else {
        if args.json {
            writeln!(out, "[]")?;
        } else {
            writeln!(out, "No commitments yet.")?;
        }
        eprintln!("note: {}", context.no_database_yet());
        return Ok(());
    };
    if args.json {
        return print_json_list(&store, &filter, out);
    }
    let mut table = Table::new(&["ID", "STATUS", "DUE", "LEFT", "TAGS", "TITLE"]);
    store.each_list_line(&filter, |line| {
        table.cell_parts(&[Part::Number(line.id)]);
        table.cell(line.status.as_str());
        let mark = if line.vague { "~" } else { "" };
        table.cell_parts(&[Part::Text(mark), Part::Text(line.latest_text)]);
        table.cell_parts(&time_left(line.status, line.latest, context.today).parts());
        if line.tag_list.contains('\u{1f}') {
            table.clipped(&line.tags().collect::<Vec<_>>().join(","), 24);
        } else {
            table.clipped(line.tag_list, 24);
        }
        table.clipped(line.title, 72);
    })?;
    if table.is_empty() {
        writeln!(out, "No commitments match.")?;
    } else {
        table.write(out)?;
    }
    Ok(())
}

/// Writes the list as one JSON array, each commitment written as it is
/// read: an overdue list of tens of thousands stays a few kilobytes of
/// memory instead of a copy of every row.
fn print_json_list(store: &Store, filter: &Filter, out: &mut dyn Write) -> anyhow::Result<()> {
    Ok(store.list_json(filter, out)?)
}

fn describe_deadline(d: &Deadline) -> String {
    if d.vague {
        format!(
            "{}: vague; assumed by {} (counted from {})",
            Quoted(&d.expression),
            d.latest,
            d.anchor
        )
    } else if d.earliest != d.anchor {
        format!(
            "{}: from {} to {} (counted from {})",
            Quoted(&d.expression),
            d.earliest,
            d.latest,
            d.anchor
        )
    } else {
        format!(
            "{}: by {} (counted from {})",
            Quoted(&d.expression),
            d.latest,
            d.anchor
        )
    }
}

fn describe_event(event: &Event) -> String {
    let text = |key: &str| {
        event
            .detail
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let deadline = |key: &str| {
        event
            .detail
            .get(key)
            .and_then(|v| serde_json::from_value::<Deadline>(v.clone()).ok())
            .map(|d| format!("{} → {}", Quoted(&d.expression), d.latest))
            .unwrap_or_default()
    };
    match event.kind {
        EventKind::Created | EventKind::Imported => deadline("deadline"),
        EventKind::Revised => {
            let reason = text("reason");
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            };
            format!("{} ⇒ {}{reason}", deadline("from"), deadline("to"))
        }
        EventKind::Closed => {
            let evidence = text("evidence");
            if evidence.is_empty() {
                text("outcome")
            } else {
                format!("{} {evidence}", text("outcome"))
            }
        }
        EventKind::Reopened => format!("was {}", text("previous_outcome")),
        EventKind::Note => text("text"),
        EventKind::ReminderSent | EventKind::DeliveryFailed => {
            serde_json::Value::Object(event.detail.clone()).to_string()
        }
    }
}

pub fn show(context: &Context, args: ShowArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(store) = context.reader()? else {
        anyhow::bail!(
            "no commitment has id {}: {}",
            args.id,
            context.no_database_yet()
        );
    };
    let record = store.record(args.id)?;
    if args.json {
        return print_json(out, &record);
    }
    let c = &record.commitment;
    let d = &c.deadline.deadline;
    let mut fields = Table::new(&[&format!("#{}", c.id), &c.title]);
    fields.row(vec!["status".into(), c.status.to_string()]);
    fields.row(vec!["announced".into(), c.announced.to_string()]);
    // How long is left only means something while the commitment is open.
    let deadline = if c.status.is_open() {
        format!(
            "{} [{}]",
            describe_deadline(d),
            time_left(c.status, d.latest, context.today)
        )
    } else {
        describe_deadline(d)
    };
    fields.row(vec!["deadline".into(), deadline]);
    if c.deadline.version > 1 {
        fields.row(vec![
            "revisions".into(),
            match c.deadline.version - 1 {
                1 => format!("{} (deadline moved once)", c.deadline.version),
                n => format!("{} (deadline moved {n} times)", c.deadline.version),
            },
        ]);
    }
    let optional = [
        ("actors", c.actors.join(", ")),
        ("tags", c.tags.join(", ")),
        ("source", c.source.clone().unwrap_or_default()),
        (
            "quote",
            c.quote.clone().unwrap_or_default().replace('\n', " "),
        ),
        ("evidence", c.evidence.clone().unwrap_or_default()),
    ];
    for (name, value) in optional {
        if !value.is_empty() {
            fields.row(vec![name.into(), value]);
        }
    }
    fields.write(out)?;
    writeln!(out, "\nhistory")?;
    let mut history = Table::new(&["  WHEN", "WHO", "WHAT", "DETAIL"]);
    for event in &record.history {
        history.row(vec![
            format!("  {}", event.at.strftime("%Y-%m-%d %H:%MZ")),
            event.author.clone(),
            event.kind.as_str().replace('_', " "),
            describe_event(event).replace('\n', " "),
        ]);
    }
    history.write(out)?;
    Ok(())
}

pub fn parse(context: &Context, args: ParseArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let anchor = args.from.unwrap_or(context.today);
    // As `add --due` would: a deadline is a phrase, and an error that
    // echoed a pasted article back would bury what went wrong.
    // Trimmed as `add` trims it, so both give the same deadline.
    let expression =
        crate::model::check_line("deadline", &args.expression, crate::model::MAX_NAME_CHARS)
            .map_err(anyhow::Error::msg)?;
    let deadline = Deadline::parse_with(&expression, anchor, &context.deadline_options())?;
    if args.json {
        print_json(out, &deadline)?;
    } else {
        writeln!(out, "{}", describe_deadline(&deadline))?;
    }
    if deadline.latest < anchor {
        // What it means is said all the same; `add` would not take it.
        eprintln!(
            "note: this deadline ends on {}, before {anchor}, the date it is counted from; `add --announced {anchor}` refuses it",
            deadline.latest
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn time_left_counts_whole_days_either_side_of_today() {
        let today = date(2026, 3, 2);
        let open = |latest| time_left(Status::Open, latest, today);
        assert_eq!(open(today).to_string(), "today");
        assert_eq!(open(date(2026, 3, 17)).to_string(), "in 15d");
        // Across the end of February and a year boundary.
        assert_eq!(open(date(2026, 2, 27)).to_string(), "3d late");
        assert_eq!(open(date(2025, 3, 2)).to_string(), "365d late");
        assert_eq!(
            time_left(Status::Fulfilled, date(2026, 2, 27), today).to_string(),
            "-"
        );
    }
}
