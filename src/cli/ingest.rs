//! `ingest`: an article in, the commitments it announces out for review;
//! `--accept` stores the chosen ones. The reading is `ingest`'s; this file
//! only reads the file, prints, and stores.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use jiff::civil::Date;

use super::table::for_terminal;
use super::{Context, parse_date, print_json};
use crate::ingest::{self, AnnouncedFrom, Candidate, Extraction};
use crate::model::{self, NewCommitment, Quoted};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The article: a UTF-8 text file, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The announcement date (YYYY-MM-DD). Default: a date found in the article, else today.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub announced: Option<Date>,
    /// Link to the article, stored as each accepted commitment's source.
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// Print the candidates as a JSON array.
    #[arg(long)]
    pub json: bool,
    /// Store these candidates, by the numbers the review list shows (e.g. 1,3).
    #[arg(long, value_name = "N,M", value_delimiter = ',', value_parser = parse_number)]
    pub accept: Vec<usize>,
    /// Tags for the accepted commitments (repeat for each).
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
}

/// A candidate as `--json` shows it: the number `--accept` takes, and the
/// announcement date its deadline counts from, with where that date came
/// from (`flag`: --announced; `article`; `today`: neither).
#[derive(serde::Serialize)]
struct Reviewed<'a> {
    number: usize,
    #[serde(flatten)]
    candidate: &'a Candidate,
    announced: Date,
    announced_from: &'static str,
}

fn parse_number(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{} is not a candidate number; use the numbers the review list shows, e.g. --accept 1,3",
            model::preview(text)
        )),
    }
}

fn options(context: &Context) -> anyhow::Result<ingest::Options> {
    let mut options = ingest::Options {
        vague_horizon_days: context.config.reminders.vague_horizon as i32,
        extra_actors: Vec::new(),
    };
    if let Some(path) = &context.config.ingest.actors {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the actors file {} (ingest.actors in the config)",
                path.display()
            )
        })?;
        options.extra_actors = ingest::parse_actors_file(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(options)
}

pub fn ingest(context: &Context, args: IngestArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (name, text) = super::read_text(&args.file, "article")?;
    let source = args
        .source
        .as_deref()
        .map(|s| model::check_url("source", s))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let found = ingest::extract(&text, args.announced, context.today, &options(context)?);
    if args.accept.is_empty() {
        if args.json {
            let reviewed: Vec<Reviewed<'_>> = found
                .candidates
                .iter()
                .enumerate()
                .map(|(i, candidate)| Reviewed {
                    number: i + 1,
                    candidate,
                    announced: found.announced,
                    announced_from: match found.announced_from {
                        AnnouncedFrom::Flag => "flag",
                        AnnouncedFrom::Article => "article",
                        AnnouncedFrom::Today => "today",
                    },
                })
                .collect();
            return print_json(out, &reviewed);
        }
        return review(&found, &name, out);
    }
    accept(context, &args, &name, source, &found, out)
}

fn review(found: &Extraction, name: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let from = match found.announced_from {
        AnnouncedFrom::Flag => "from --announced",
        AnnouncedFrom::Article => "date found in the article",
        AnnouncedFrom::Today => "no date in the article: today; use --announced to correct",
    };
    writeln!(out, "Announced {} ({from})", found.announced)?;
    if found.candidates.is_empty() {
        writeln!(out, "No commitments found.")?;
        return Ok(());
    }
    for (i, c) in found.candidates.iter().enumerate() {
        writeln!(out, "\n{}. {}", i + 1, for_terminal(&c.title))?;
        if !c.actors.is_empty() {
            writeln!(out, "   actors      {}", for_terminal(&c.actors.join(", ")))?;
        }
        match &c.deadline {
            Some(d) => {
                let vague = if d.vague { " (vague)" } else { "" };
                writeln!(
                    out,
                    "   deadline    {} → {}{vague}",
                    Quoted(&d.expression),
                    d.latest
                )?;
            }
            None => writeln!(out, "   deadline    none named (add one by hand)")?,
        }
        let others: Vec<String> = c
            .mentions
            .iter()
            .filter(|m| Some(&m.deadline) != c.deadline.as_ref())
            .map(|m| Quoted(&m.text).to_string())
            .collect();
        if !others.is_empty() {
            writeln!(out, "   also said   {}", others.join(", "))?;
        }
        writeln!(
            out,
            "   cue         {} (confidence {:.2})",
            c.cue, c.confidence
        )?;
        writeln!(
            out,
            "   quote       {}",
            for_terminal(&c.quote.replace('\n', " "))
        )?;
    }
    // Only candidates with a deadline can be stored as they are; the
    // example names the first of them (two, where there are).
    let storable: Vec<String> = found
        .candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.deadline.is_some())
        .map(|(i, _)| (i + 1).to_string())
        .take(2)
        .collect();
    if storable.is_empty() {
        writeln!(
            out,
            "\nNone names a deadline; record the right ones with followup add TITLE --due EXPR"
        )?;
    } else {
        writeln!(
            out,
            "\nStore the right ones with: followup ingest {name} --accept {} [--tag T]…",
            storable.join(",")
        )?;
    }
    Ok(())
}

fn accept(
    context: &Context,
    args: &IngestArgs,
    name: &str,
    source: Option<String>,
    found: &Extraction,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let count = found.candidates.len();
    let mut chosen: Vec<(usize, &Candidate)> = Vec::new();
    for &n in &args.accept {
        let candidate = found.candidates.get(n - 1).with_context(|| {
            format!(
                "there is no candidate {n}: {name} has {count}; run `followup ingest {name}` to see them; nothing was stored"
            )
        })?;
        if !chosen.iter().any(|(m, _)| *m == n) {
            chosen.push((n, candidate));
        }
    }
    // The announcement date is held to what `add --announced` refuses: not
    // after today, and no deadline ending before it. A date the article
    // gives is as stated as one given with --announced; without either it
    // is today, and a deadline already past is recorded as overdue, as
    // `add` records it without --announced.
    // (how the date is named, what it is, what else to check)
    let stated = match found.announced_from {
        AnnouncedFrom::Flag => Some((
            "--announced",
            "the commitment was announced",
            ", or the date given with --announced",
        )),
        AnnouncedFrom::Article => Some((
            "the article's date",
            "the commitment was announced with --announced",
            ", or give the announcement's date with --announced (the date found in the article was used)",
        )),
        AnnouncedFrom::Today => None,
    };
    if let Some((named, what, _)) = stated {
        model::check_not_to_come(found.announced, context.today, what, named)
            .map_err(|e| anyhow::anyhow!("{e}; nothing was stored"))?;
    }
    let mut new = Vec::with_capacity(chosen.len());
    for (n, c) in &chosen {
        let Some(deadline) = &c.deadline else {
            bail!(
                "candidate {n} names no deadline; record it with `followup add` and a --due of your own; nothing was stored"
            );
        };
        if let Some((_, _, fix)) = stated {
            model::check_ends_after(deadline, found.announced, "the announcement", fix)
                .map_err(|e| anyhow::anyhow!("candidate {n}: {e}; nothing was stored"))?;
        }
        let commitment = NewCommitment {
            title: c.title.clone(),
            announced: found.announced,
            deadline: deadline.clone(),
            actors: c.actors.clone(),
            tags: args.tags.clone(),
            source: source.clone(),
            quote: Some(c.quote.clone()),
            note: Some(format!(
                "Recorded from {} by `followup ingest` (candidate {n}, cue \"{}\", confidence {:.2})",
                if name == "-" { "standard input" } else { name },
                c.cue,
                c.confidence
            )),
        }
        .validated()
        .map_err(|e| anyhow::anyhow!("candidate {n}: {e}; nothing was stored"))?;
        new.push(commitment);
    }
    let mut store = context.store()?;
    // Accepting a candidate twice (a script run again) would record one
    // commitment twice, and send its desk every reminder twice.
    for ((n, _), c) in chosen.iter().zip(&new) {
        if let Some(id) = store.recorded_as(&c.title, c.announced, c.quote.as_deref())? {
            bail!(
                "candidate {n} is already recorded as commitment {id} (same title, quote and announcement date); leave it out of --accept; nothing was stored"
            );
        }
    }
    let ids = store.add_all(&new, context.now, &context.author)?;
    if args.json {
        let records = ids
            .iter()
            .map(|&id| store.record(id))
            .collect::<Result<Vec<_>, _>>()?;
        return print_json(out, &records);
    }
    for (id, c) in ids.iter().zip(&new) {
        writeln!(
            out,
            "Added commitment {id}: {} [open] due {}",
            for_terminal(&c.title),
            c.deadline.latest
        )?;
    }
    Ok(())
}
