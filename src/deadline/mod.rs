//! The deadline language: turns a deadline as an announcement states it
//! ("within two months", "by 30 November 2025", "في غضون شهرين") into the
//! civil dates it means, counted from the announcement date (the anchor).
//!
//! This module is pure: no clock, no I/O. Callers pass the anchor in.
//! It does not decide when reminders fire; that is `plan`'s job.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// What the parser needs to know beyond the expression and its anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How far ahead a vague deadline ("soon", "في المستقبل القريب") is
    /// assumed to reach, in days. Comes from `reminders.vague_horizon`.
    pub vague_horizon_days: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vague_horizon_days: 90,
        }
    }
}

/// A deadline as stated, and what it means in dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The expression exactly as the user or the article gave it.
    pub expression: String,
    /// First civil day of the window the commitment is meant for.
    pub earliest: Date,
    /// Last civil day on which the commitment is still on time.
    pub latest: Date,
    /// True for "soon", "in the near future" and the like: `latest` is then
    /// an assumed horizon, not a stated date.
    pub vague: bool,
    /// The date the expression was counted from (the announcement date).
    pub anchor: Date,
}

/// An expression the deadline language does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot read {input:?} as a deadline; try a form such as \"2025-12-15\", \"by 30 November 2025\", \"within two months\", \"by the end of the year\" or \"خلال شهرين\""
)]
pub struct ParseError {
    pub input: String,
}

impl Deadline {
    /// Parses `expression` counted from `anchor`, with default options.
    pub fn parse(expression: &str, anchor: Date) -> Result<Deadline, ParseError> {
        Deadline::parse_with(expression, anchor, &Options::default())
    }

    /// Parses `expression` counted from `anchor`.
    pub fn parse_with(
        expression: &str,
        anchor: Date,
        options: &Options,
    ) -> Result<Deadline, ParseError> {
        let _ = options;
        let trimmed = expression.trim();
        let fail = || ParseError {
            input: expression.to_string(),
        };
        if let Ok(date) = trimmed.parse::<Date>() {
            return Ok(Deadline {
                expression: expression.to_string(),
                earliest: anchor.min(date),
                latest: date,
                vague: false,
                anchor,
            });
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        if let ["within", n, unit] = words.as_slice() {
            let n: i64 = n.parse().map_err(|_| fail())?;
            let span = match unit.trim_end_matches('s') {
                "day" => jiff::Span::new().try_days(n),
                "week" => jiff::Span::new().try_weeks(n),
                "month" => jiff::Span::new().try_months(n),
                "year" => jiff::Span::new().try_years(n),
                _ => return Err(fail()),
            }
            .map_err(|_| fail())?;
            let latest = anchor.checked_add(span).map_err(|_| fail())?;
            return Ok(Deadline {
                expression: expression.to_string(),
                earliest: anchor,
                latest,
                vague: false,
                anchor,
            });
        }
        Err(fail())
    }
}
