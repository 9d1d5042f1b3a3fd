//! Ingest: an article in, the commitments it announces out, for an analyst
//! to review — in English and Arabic.
//!
//! ```
//! use followup::ingest::{extract, AnnouncedFrom, Options};
//! use jiff::civil::date;
//!
//! let text = "Turkey and Iraq agreed on 3 November 2025 to reopen the Habur \
//!             crossing within two weeks.";
//! let found = extract(text, None, date(2025, 11, 20), &Options::default());
//! assert_eq!(found.announced, date(2025, 11, 3));
//! assert_eq!(found.announced_from, AnnouncedFrom::Article);
//! let c = &found.candidates[0];
//! assert_eq!(c.title, "reopen the Habur crossing");
//! assert_eq!(c.actors, ["Turkey", "Iraq"]);
//! assert_eq!(c.deadline.as_ref().unwrap().latest, date(2025, 11, 17));
//! ```
//!
//! How it reads: the article is folded and tokenised once (`text`), cut
//! into sentences (`sentences`); each sentence is searched for commissive
//! cues (`cues`), and only sentences with one are handed to the deadline
//! language (`deadline::find`). A cue's complement is split where "and to"
//! / "وعلى" begin another commitment; each part becomes a candidate with
//! the deadlines that fall inside it and a title cut from its own words.
//! Actors come from the gazetteer (`actors`); "both sides" and a sentence
//! that names nobody ("تم الاتفاق على …") get the article's principals,
//! the actors named in its lead. A later sentence that speaks of the same
//! event ("من المتوقع أن يعقد في غضون شهرين", "the meeting is expected…")
//! adds its deadlines to the earlier candidate rather than making one.
//!
//! Decisions worth knowing:
//!
//! - The announcement date is the flag, else the first full date with a
//!   year near the top of the article that no "by"/"حتى" introduces, else
//!   today. Every deadline counts from it.
//! - A bare date ("set for 3 December") is taken as a deadline only inside
//!   a commitment that names no other deadline, and only when it lies after
//!   the announcement date.
//! - Pure: no I/O, no clock; `today` is passed in.

mod actors;
mod cues;
mod dates;
mod sentences;
mod text;

use std::ops::Range;

use jiff::civil::Date;
use serde::Serialize;

use crate::deadline::{self, Deadline, Mention};
use actors::Gazetteer;
use cues::{Anaphor, CueKind};
use text::Tokens;

pub use actors::parse_actors_file;

/// What extraction needs beyond the article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How far ahead a vague deadline reaches, in days
    /// (`reminders.vague_horizon`).
    pub vague_horizon_days: i32,
    /// Rows from the desk's own gazetteer file, added to the shipped one.
    pub extra_actors: Vec<ActorEntry>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vague_horizon_days: deadline::Options::default().vague_horizon_days,
            extra_actors: Vec::new(),
        }
    }
}

/// One row of the gazetteer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorEntry {
    /// The canonical name that candidates carry ("Syria").
    pub name: String,
    /// Other ways of writing it: "سوريا", "سورية", "Syrian", "دمشق".
    pub variants: Vec<String>,
}

/// Where the announcement date came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnouncedFrom {
    /// `--announced`.
    Flag,
    /// A date found in the article.
    Article,
    /// Neither: the day of the run.
    Today,
}

/// What an article announced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extraction {
    /// The date deadlines were counted from.
    pub announced: Date,
    pub announced_from: AnnouncedFrom,
    pub candidates: Vec<Candidate>,
}

/// A deadline expression found for a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MentionOut {
    /// The expression as the article wrote it.
    pub text: String,
    pub deadline: Deadline,
}

/// A commitment found in the article, for the analyst to accept or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The commitment in its own words ("عقد اجتماع للجنة حكومية دولية مشتركة").
    pub title: String,
    /// The whole sentence holding the cue, exactly as in the article.
    pub quote: String,
    /// Canonical gazetteer names, in order of mention.
    pub actors: Vec<String>,
    /// The sharpest of `mentions`; `None` when no time is named.
    pub deadline: Option<Deadline>,
    /// Every deadline expression found for it, in article order.
    pub mentions: Vec<MentionOut>,
    /// What made it a commitment ("تم الاتفاق على", "agreed to").
    pub cue: String,
    /// How sure extraction is, from 0 to 1.
    pub confidence: f32,
}

/// A candidate before merging, with what merging needs to know.
struct Raw {
    candidate: Candidate,
    kind: CueKind,
    sentence: usize,
    anaphor: Option<Anaphor>,
    nouns: Vec<String>,
}

/// Finds the commitments `text` announces.
///
/// `announced` is `--announced`; without it the article's own date is
/// used, else `today`. Never panics, whatever the input.
pub fn extract(text: &str, announced: Option<Date>, today: Date, options: &Options) -> Extraction {
    let t = Tokens::new(text);
    let (announced, announced_from) = match announced {
        Some(d) => (d, AnnouncedFrom::Flag),
        None => match dates::article_date(text, &t, today) {
            Some(d) => (d, AnnouncedFrom::Article),
            None => (today, AnnouncedFrom::Today),
        },
    };
    let extra;
    let gazetteer = if options.extra_actors.is_empty() {
        Gazetteer::shipped()
    } else {
        extra = Gazetteer::with_extra(&options.extra_actors);
        &extra
    };
    let deadline_options = deadline::Options {
        vague_horizon_days: options.vague_horizon_days,
    };
    let sentences = sentences::split(text, &t);
    let principals = principals(text, &t, gazetteer, &sentences);

    let mut raws = Vec::new();
    for (si, s) in sentences.iter().enumerate() {
        let found = cues::find(text, &t, s.toks.clone());
        if found.is_empty() {
            continue;
        }
        let mentions: Vec<Mention> =
            deadline::find_with(&text[s.span.clone()], announced, &deadline_options)
                .into_iter()
                .map(|mut m| {
                    m.span = m.span.start + s.span.start..m.span.end + s.span.start;
                    m
                })
                .collect();
        let mut actors: Vec<usize> = gazetteer.named_in(text, &t, s.toks.clone());
        if actors.is_empty() || actors::names_both_sides(&t, s.toks.clone()) {
            for p in &principals {
                if !actors.contains(p) {
                    actors.push(*p);
                }
            }
        }
        let actor_names: Vec<String> = actors.iter().map(|&a| gazetteer.names[a].clone()).collect();
        let sentence = Ctx {
            text,
            t: &t,
            toks: s.toks.clone(),
            span: s.span.clone(),
            mentions: &mentions,
            announced,
            deadline_options,
        };
        for (k, cue) in found.iter().enumerate() {
            let seg_start = if k == 0 { s.toks.start } else { cue.start };
            let seg_end = found.get(k + 1).map_or(s.toks.end, |c| c.start);
            let title_from = match cue.kind {
                CueKind::Agree => cue.complement,
                CueKind::Expected if text::is_arabic(t.word(cue.complement)) => cue.complement,
                _ => cue.clause,
            };
            let title_byte = if title_from == cue.complement {
                cue.complement_byte
            } else {
                t.toks.get(title_from).map_or(usize::MAX, |x| x.ostart)
            };
            let splits = cues::splits(&t, cue.complement, seg_end, |a, b| {
                sentence.has_mention(a, b)
            });
            let mut parts = vec![(seg_start, title_from, title_byte)];
            for &(_, next) in &splits {
                let orig = t.original(text, next);
                let peel = if t.word(next).starts_with('و') && text::is_arabic(orig) {
                    orig.chars().next().map_or(0, char::len_utf8)
                } else {
                    0
                };
                parts.push((next, next, t.toks[next].ostart + peel));
            }
            let ends: Vec<usize> = splits
                .iter()
                .map(|&(at, _)| at)
                .chain(std::iter::once(seg_end))
                .collect();
            let mut cue_from = t.toks[cue.start].ostart;
            let first = t.word(cue.start);
            if text::is_arabic(first) && text::strip_conjunction(first) != first {
                // The glued و of "واتفق" is not part of the cue.
                cue_from += t
                    .original(text, cue.start)
                    .chars()
                    .next()
                    .map_or(0, char::len_utf8);
            }
            let cue_text = text[cue_from..t.toks[cue.end - 1].oend].to_string();
            for (p, &(part_start, title_from, title_byte)) in parts.iter().enumerate() {
                let part = sentence.part(part_start, title_from, title_byte, ends[p]);
                let Some((title, mentions)) = part else {
                    continue;
                };
                let nouns = cues::title_nouns(&t, title_from, ends[p]);
                raws.push(Raw {
                    candidate: Candidate {
                        title,
                        quote: text[s.span.clone()].to_string(),
                        actors: actor_names.clone(),
                        deadline: None,
                        mentions,
                        cue: cue_text.clone(),
                        confidence: 0.0,
                    },
                    kind: cue.kind,
                    sentence: si,
                    anaphor: if p == 0 { cue.anaphor.clone() } else { None },
                    nouns,
                });
            }
        }
    }
    Extraction {
        announced,
        announced_from,
        candidates: merge(raws),
    }
}

/// One sentence being read, with its deadline mentions in article bytes.
struct Ctx<'a> {
    text: &'a str,
    t: &'a Tokens,
    toks: Range<usize>,
    span: Range<usize>,
    mentions: &'a [Mention],
    announced: Date,
    deadline_options: deadline::Options,
}

impl Ctx<'_> {
    fn byte_of(&self, tok: usize) -> usize {
        if tok >= self.toks.end {
            self.span.end
        } else {
            self.t.toks[tok].ostart
        }
    }

    fn has_mention(&self, a: usize, b: usize) -> bool {
        let (from, to) = (self.byte_of(a), self.byte_of(b));
        self.mentions
            .iter()
            .any(|m| m.span.start >= from && m.span.start < to)
    }

    /// The first token at or after byte `at`.
    fn token_at(&self, at: usize) -> usize {
        (self.toks.start..self.toks.end)
            .find(|&k| self.t.toks[k].ostart >= at)
            .unwrap_or(self.toks.end)
    }

    /// The title and deadline mentions of the commitment in tokens
    /// `start..end` whose title begins at `title_from` (byte `title_byte`).
    fn part(
        &self,
        start: usize,
        title_from: usize,
        title_byte: usize,
        end: usize,
    ) -> Option<(String, Vec<MentionOut>)> {
        let (from, to) = (self.byte_of(start), self.byte_of(end));
        let mut found: Vec<(usize, MentionOut)> = self
            .mentions
            .iter()
            .filter(|m| m.span.start >= from && m.span.start < to)
            .map(|m| {
                let out = MentionOut {
                    text: m.text.clone(),
                    deadline: m.deadline.clone(),
                };
                (self.token_at(m.span.start), out)
            })
            .collect();
        if found.is_empty() && title_from < end {
            // "set for 3 December": a bare date after the cue, if ahead.
            let bare = dates::bare_dates(
                self.text,
                self.t,
                title_from..end,
                self.announced,
                &self.deadline_options,
            );
            if let Some(d) = bare
                .into_iter()
                .find(|d| d.deadline.latest > self.announced)
            {
                let before = d.toks.start.saturating_sub(1);
                let cut = if d.toks.start > title_from
                    && matches!(
                        self.t.word(before),
                        "on" | "for" | "in" | "at" | "في" | "يوم" | "بتاريخ"
                    ) {
                    before
                } else {
                    d.toks.start
                };
                let mut deadline = d.deadline;
                deadline.expression = self.text[d.span.clone()].to_string();
                let text = deadline.expression.clone();
                found.push((cut, MentionOut { text, deadline }));
            }
        }
        let limit = found
            .iter()
            .map(|(k, _)| *k)
            .filter(|&k| k >= title_from)
            .min()
            .unwrap_or(end)
            .min(end);
        let title_end = cues::title_end(self.t, title_from, limit);
        let title = if title_end > title_from {
            let last = self.t.toks[title_end - 1].oend;
            let first = title_byte.min(last);
            self.text.get(first..last).unwrap_or("").trim().to_string()
        } else {
            String::new()
        };
        Some((title, found.into_iter().map(|(_, m)| m).collect()))
    }
}

/// The actors the article is about: those named in its lead (the first
/// sentence naming two or more within its first three; else the first
/// naming any), at most four.
fn principals(
    text: &str,
    t: &Tokens,
    g: &Gazetteer,
    sentences: &[sentences::Sentence],
) -> Vec<usize> {
    let mut first_any: Option<Vec<usize>> = None;
    for s in sentences.iter().take(6) {
        let named = g.named_in(text, t, s.toks.clone());
        if named.len() >= 2 {
            return named.into_iter().take(4).collect();
        }
        if first_any.is_none() && !named.is_empty() {
            first_any = Some(named);
        }
    }
    first_any.unwrap_or_default()
}

/// Folds follow-up mentions of an event into its candidate, then sets each
/// candidate's deadline and confidence.
fn merge(raws: Vec<Raw>) -> Vec<Candidate> {
    let mut kept: Vec<Raw> = Vec::new();
    for raw in raws {
        let target = match &raw.anaphor {
            Some(Anaphor::Implied) => kept
                .iter()
                .rposition(|k| k.sentence + 2 >= raw.sentence && k.sentence <= raw.sentence),
            Some(Anaphor::Noun(n)) => kept.iter().rposition(|k| {
                k.nouns.iter().any(|x| {
                    x == n || x.strip_suffix('s') == Some(n) || n.strip_suffix('s') == Some(x)
                })
            }),
            None => None,
        };
        match target {
            Some(i) => {
                let target = &mut kept[i];
                target.candidate.mentions.extend(raw.candidate.mentions);
            }
            None if raw.candidate.title.is_empty() => {}
            None => kept.push(raw),
        }
    }
    kept.into_iter()
        .map(|mut raw| {
            let c = &mut raw.candidate;
            c.deadline = c
                .mentions
                .iter()
                .fold(None, |best: Option<&MentionOut>, m| match best {
                    Some(b) if !m.deadline.is_sharper_than(&b.deadline) => Some(b),
                    _ => Some(m),
                })
                .map(|m| m.deadline.clone());
            c.confidence = confidence(raw.kind, c);
            raw.candidate
        })
        .collect()
}

fn confidence(kind: CueKind, c: &Candidate) -> f32 {
    let mut score: f32 = match kind {
        CueKind::Agree => 0.8,
        CueKind::Will => 0.6,
        CueKind::Would => 0.55,
        CueKind::Expected => 0.55,
    };
    match &c.deadline {
        Some(d) if !d.vague => score += 0.1,
        Some(_) => score += 0.03,
        None => score -= 0.1,
    }
    if c.actors.is_empty() {
        score -= 0.15;
    }
    if c.mentions.len() > 1 {
        score += 0.05;
    }
    (score.clamp(0.05, 0.99) * 100.0).round() / 100.0
}
