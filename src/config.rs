//! Configuration: finds the TOML file, reads it strictly (unknown keys are
//! errors), and validates every value up front so that a mistake is reported
//! with its file, line and key before anything touches the database or the
//! mail system.
//!
//! This module owns the meaning of each key and the embedded defaults. It
//! does not open the store or send mail; it only says where and how.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use crate::model::one_line;

/// The environment variable naming a config file when `--config` is absent.
pub const CONFIG_ENV: &str = "FOLLOWUP_CONFIG";

/// A validated configuration. Paths are absolute or relative to the working
/// directory, already resolved against the config file's folder.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from; `None` for the embedded defaults.
    pub file: Option<PathBuf>,
    pub store: StoreConfig,
    pub mail: MailConfig,
    pub reminders: ReminderConfig,
    pub desks: Vec<Desk>,
    pub ingest: IngestConfig,
    pub http: HttpConfig,
    /// What works but is likely not what was meant (a digest schedule
    /// firing more than once a day): `config check` and `doctor` show
    /// these, and the daemon logs them as it starts and reloads.
    pub notes: Vec<Problem>,
}

/// The daemon's optional HTTP listener for `/healthz` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpConfig {
    /// Where to listen; `None` (the default) serves nothing.
    pub listen: Option<std::net::SocketAddr>,
}

/// How `ingest` reads articles.
#[derive(Debug, Clone, Default)]
pub struct IngestConfig {
    /// The desk's own gazetteer (TSV: canonical name, then its variants),
    /// added to the one followup ships.
    pub actors: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Maildir,
    Smtp,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub from: lettre::message::Mailbox,
    pub transport: Transport,
    pub maildir: PathBuf,
    pub smtp: Option<SmtpConfig>,
    pub retry: RetryPolicy,
}

/// How failed deliveries are retried: the first retry after `first`, then
/// doubling up to `max` apart (with jitter); after `attempts` tries the
/// email is given up on and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first: Duration,
    pub max: Duration,
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Implicit TLS from the first byte (usually port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (usually port 587).
    StartTls,
    /// No encryption: only for a relay on loopback.
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    /// Where the password is read from at send time; never the password.
    pub password_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// When reminders fire, in whole days relative to a deadline's `latest`.
#[derive(Debug, Clone)]
pub struct ReminderConfig {
    pub before: Vec<u32>,
    pub overdue_every: u32,
    pub vague_every: u32,
    pub vague_horizon: u32,
    pub send_time: Time,
    pub timezone: TimeZone,
    /// The zone's name as written, for messages and `status`.
    pub timezone_name: String,
}

#[derive(Debug, Clone)]
pub struct Desk {
    pub name: String,
    pub recipients: Vec<lettre::Address>,
    pub tags: Vec<String>,
    pub digest: Option<cron::Schedule>,
}

/// One thing wrong with a config file, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file {}: {source}; check --config or ${CONFIG_ENV}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn render_problems(path: &Path, problems: &[Problem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| {
            let at = match p.line {
                Some(line) => format!("{}:{line}", path.display()),
                None => path.display().to_string(),
            };
            if p.key.is_empty() {
                format!("{at}: {}", p.message)
            } else {
                format!("{at}: {}: {}", p.key, p.message)
            }
        })
        .collect();
    lines.join("\n")
}

/// Where the config comes from, in the order `--config`, `$FOLLOWUP_CONFIG`,
/// embedded defaults.
pub fn locate(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    match std::env::var_os(CONFIG_ENV) {
        Some(value) if !value.is_empty() => Some(PathBuf::from(value)),
        _ => None,
    }
}

/// Loads the config named by `flag` or the environment, else the defaults.
pub fn load(flag: Option<&Path>) -> Result<Config, Error> {
    match locate(flag) {
        Some(path) => Config::from_file(&path),
        None => Ok(Config::embedded()),
    }
}

/// Where followup keeps its data when no config says otherwise:
/// `$STATE_DIRECTORY` under systemd, else `$XDG_DATA_HOME/followup`, else
/// `~/.local/share/followup`, else `./followup-data`.
pub fn default_data_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("STATE_DIRECTORY") {
        // systemd may pass several directories separated by ':'; the first is ours.
        let first = dir
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        return PathBuf::from(first);
    }
    if let Some(dir) = var("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("followup");
    }
    if let Some(home) = var("HOME") {
        return PathBuf::from(home).join(".local/share/followup");
    }
    PathBuf::from("followup-data")
}

impl Config {
    /// The configuration used when no file is given: a database and a
    /// Maildir outbox in [`default_data_dir`], and one `default` desk.
    pub fn embedded() -> Config {
        let dir = default_data_dir();
        let raw: RawConfig = toml::from_str("").expect("empty TOML is a valid config");
        raw.validate(&dir, "", &[])
            .expect("the embedded defaults are valid")
    }

    /// Reads and validates a config file.
    pub fn from_file(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        Config::from_toml(&text, &base)
            .map_err(|problems| Error::Invalid {
                path: path.to_path_buf(),
                problems,
            })
            .map(|mut config| {
                config.file = Some(path.to_path_buf());
                config
            })
    }

    /// Parses and validates TOML text, resolving relative paths against `base`.
    /// Every problem in the text is reported at once, in line order: keys
    /// this build does not know, values of the wrong type, and whatever is
    /// wrong with the values of everything else.
    pub fn from_toml(text: &str, base: &Path) -> Result<Config, Vec<Problem>> {
        let (raw, mut problems, taken) = RawConfig::read(text);
        let Some(raw) = raw else {
            return Err(problems);
        };
        match raw.validate(base, text, &taken) {
            Ok(config) if problems.is_empty() => return Ok(config),
            Ok(_) => {}
            Err(more) => problems.extend(more),
        }
        // Stable, so problems on one line keep the order they were found in.
        problems.sort_by_key(|problem| problem.line.unwrap_or(usize::MAX));
        Err(problems)
    }

    /// [`Config::notes`], one line each, placed as `config check` places
    /// problems.
    pub fn note_lines(&self) -> Vec<String> {
        let file = self.file.clone().unwrap_or_default();
        self.notes
            .iter()
            .map(|note| render_problems(&file, std::slice::from_ref(note)))
            .collect()
    }

    /// The recipients' desks for a commitment with these tags: every desk
    /// sharing a tag, else the desk named `default`.
    pub fn desks_for<'a>(&'a self, tags: &[String]) -> Vec<&'a Desk> {
        let matching: Vec<&Desk> = self
            .desks
            .iter()
            .filter(|desk| desk.tags.iter().any(|t| tags.contains(t)))
            .collect();
        if matching.is_empty() {
            self.desks.iter().filter(|d| d.name == "default").collect()
        } else {
            matching
        }
    }
}

/// The full name (`mail.transport`) of the key written on the line that
/// holds `offset`, when that line is `key = value`: toml names the value's
/// place but, for a value of the wrong type, not its key.
fn key_at(text: &str, offset: usize) -> Option<String> {
    // Found on bytes: the line starts after a newline, a character of its
    // own, whatever byte `offset` falls on.
    let offset = offset.min(text.len());
    let line_start = text.as_bytes()[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    let line = text[line_start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    // The nearest table header above: `[mail.smtp]`, or `[[desks]]`.
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|header| header.trim_matches(|c| c == '[' || c == ']').trim());
    Some(match table {
        Some(table) if !table.is_empty() => format!("{table}.{key}"),
        _ => key.to_string(),
    })
}

/// The line a key's value is written on, the key named in full
/// (`mail.smtp.password_file`): for a problem found after validation, in
/// what the key names rather than in the file, to be reported like the
/// others.
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let document = DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = table.get(part)?;
        if parts.peek().is_none() {
            return Some(line_of(text, value.span().start));
        }
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return None,
        }
    }
    None
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The fix for a key that is not known or a value of the wrong type. The
/// example config is `config/followup.toml` in the source tree and is
/// installed as `/etc/followup/followup.toml`; only the latter is there for
/// someone who installed the package.
const EVERY_KEY: &str =
    "the example config, /etc/followup/followup.toml when installed, lists every key";

/// serde stops at the first entry it cannot read, so one bad key would hide
/// every problem after it. Each such entry is taken out of the document and
/// the rest read again; this many is more than anyone fixes in one go.
const MOST_STRUCTURE_PROBLEMS: usize = 100;

/// Takes out of `table` the innermost entry that `span` points at (its
/// key, its value, or an element of its value) and returns that entry's
/// full key. Array positions are left out, so a key in any `[[desks]]`
/// table is `desks.tags`, as the line itself reads. `None` when nothing in
/// `table` is at `span`.
///
/// A table opened by a header has the header as its span, not the keys
/// under it, so every child is searched before this table's own entries.
fn take_entry(table: &mut DeTable<'_>, span: &Range<usize>) -> Option<String> {
    for (key, value) in table.iter_mut() {
        if let Some(below) = take_within(value.get_mut(), span) {
            return Some(if below.is_empty() {
                key.get_ref().to_string()
            } else {
                format!("{}.{below}", key.get_ref())
            });
        }
    }
    let key = table
        .iter()
        .find(|(key, value)| key.span() == *span || encloses(&value.span(), span))
        .map(|(key, _)| key.get_ref().to_string())?;
    table.remove(key.as_str());
    Some(key)
}

/// [`take_entry`] for the inside of a value: returns the key found below
/// `value`, empty when the part taken was an element of this array.
fn take_within(value: &mut DeValue<'_>, span: &Range<usize>) -> Option<String> {
    match value {
        DeValue::Table(table) => take_entry(table, span),
        DeValue::Array(array) => {
            for item in array.iter_mut() {
                if let Some(below) = take_within(item.get_mut(), span) {
                    return Some(below);
                }
            }
            let at = array.iter().position(|item| encloses(&item.span(), span))?;
            let items = std::mem::replace(array, DeArray::new());
            *array = items
                .into_iter()
                .enumerate()
                .filter(|&(i, _)| i != at)
                .map(|(_, item)| item)
                .collect();
            Some(String::new())
        }
        _ => None,
    }
}

/// Whether `inner` lies within `outer`. An empty `inner` (the whole
/// document's span is 0..0) points at nothing in particular.
fn encloses(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    !inner.is_empty() && outer.start <= inner.start && inner.end <= outer.end
}

// ---- the file as written -------------------------------------------------

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    store: RawStore,
    mail: RawMail,
    reminders: RawReminders,
    desks: Option<Spanned<Vec<Spanned<RawDesk>>>>,
    ingest: RawIngest,
    http: RawHttp,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    listen: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawIngest {
    actors: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    path: Spanned<String>,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            path: Spanned::new(0..0, "followup.db".into()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMail {
    from: Spanned<String>,
    transport: Spanned<String>,
    maildir: Spanned<String>,
    smtp: Option<Spanned<RawSmtp>>,
    retry_first: Spanned<String>,
    retry_max: Spanned<String>,
    max_attempts: Spanned<i64>,
}

impl Default for RawMail {
    fn default() -> Self {
        RawMail {
            from: Spanned::new(0..0, "Follow-up desk <followup@localhost>".into()),
            transport: Spanned::new(0..0, "maildir".into()),
            maildir: Spanned::new(0..0, "outbox".into()),
            smtp: None,
            retry_first: Spanned::new(0..0, "60s".into()),
            retry_max: Spanned::new(0..0, "1h".into()),
            max_attempts: Spanned::new(0..0, 12),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    /// Required; an `Option` so that a table without it still has its
    /// other keys checked.
    #[serde(default)]
    host: Option<Spanned<String>>,
    #[serde(default)]
    port: Option<Spanned<i64>>,
    #[serde(default)]
    security: Option<Spanned<String>>,
    #[serde(default)]
    username: Option<Spanned<String>>,
    #[serde(default)]
    password_file: Option<Spanned<String>>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawReminders {
    before: Spanned<Vec<Spanned<String>>>,
    overdue_every: Spanned<String>,
    vague_every: Spanned<String>,
    vague_horizon: Spanned<String>,
    send_time: Spanned<String>,
    timezone: Spanned<String>,
}

impl Default for RawReminders {
    fn default() -> Self {
        let s = |v: &str| Spanned::new(0..0, v.to_string());
        RawReminders {
            before: Spanned::new(0..0, vec![s("14d"), s("3d"), s("0d")]),
            overdue_every: s("7d"),
            vague_every: s("30d"),
            vague_horizon: s("90d"),
            send_time: s("09:00"),
            timezone: s("UTC"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDesk {
    /// Required, as are recipients; `Option`s so that a desk without one
    /// still has its other keys checked.
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    recipients: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    digest: Option<Spanned<String>>,
}

/// Collects problems while validating, so `config check` reports them all.
struct Checker<'t> {
    text: &'t str,
    problems: Vec<Problem>,
    /// See [`Config::notes`].
    notes: Vec<Problem>,
    /// Keys taken out of the file for being of the wrong type, already
    /// reported.
    taken: &'t [String],
}

impl Checker<'_> {
    /// A key its table must have: `value`, or a problem at the table
    /// (`within`) saying so, unless the key was there with a value of the
    /// wrong type, which is reported already.
    fn required<'v, T, W>(
        &mut self,
        value: &'v Option<Spanned<T>>,
        within: &Spanned<W>,
        key: &str,
        example: &str,
    ) -> Option<&'v Spanned<T>> {
        if value.is_none() && !self.taken.iter().any(|taken| taken == key) {
            let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
            let header = if table == "desks" {
                "each [[desks]]".to_string()
            } else {
                format!("[{table}]")
            };
            self.report(
                within,
                key,
                format!("{header} needs {name} (e.g. {name} = {example})"),
            );
        }
        value.as_ref()
    }

    /// Something that works but is likely not what was meant.
    fn note<T>(&mut self, value: &Spanned<T>, key: &str, message: String) {
        let line = (value.span() != (0..0)).then(|| line_of(self.text, value.span().start));
        self.notes.push(Problem {
            line,
            key: key.to_string(),
            message: one_line(&message),
        });
    }

    fn report<T>(&mut self, value: &Spanned<T>, key: &str, message: String) {
        let line = (value.span() != (0..0)).then(|| line_of(self.text, value.span().start));
        self.problems.push(Problem {
            line,
            key: key.to_string(),
            message: one_line(&message),
        });
    }

    fn days(&mut self, value: &Spanned<String>, key: &str, minimum: u32) -> u32 {
        match parse_days(value.get_ref()) {
            Some(days) if days >= minimum => days,
            Some(_) => {
                self.report(
                    value,
                    key,
                    format!(
                        "{:?} is too short (at least \"{minimum}d\")",
                        value.get_ref()
                    ),
                );
                minimum
            }
            None => {
                self.report(
                    value,
                    key,
                    format!(
                        "{:?} is not a number of days (try \"14d\" or \"2w\")",
                        value.get_ref()
                    ),
                );
                minimum
            }
        }
    }

    fn path(&mut self, value: &Spanned<String>, key: &str, base: &Path) -> PathBuf {
        // Paths are printed by doctor, status and the logs: a line break or
        // an escape sequence in one would forge their lines or reach the
        // terminal. And a name longer than a file system takes fails every
        // command that opens it.
        const MAX_NAME_BYTES: usize = 255;
        let raw = value.get_ref();
        if raw.trim().is_empty() || raw.contains('\0') {
            self.report(
                value,
                key,
                format!("{raw:?} is not a usable path (try \"followup.db\")"),
            );
        } else if let Some(c) = raw.chars().find(|c| c.is_control()) {
            self.report(
                value,
                key,
                format!("{raw:?} holds the control character {c:?}; a path is one line of printable characters"),
            );
        } else if let Some(name) = raw.split('/').find(|name| name.len() > MAX_NAME_BYTES) {
            self.report(
                value,
                key,
                format!(
                    "{}… has a name of {} bytes; a file system takes at most {MAX_NAME_BYTES} for each name in a path",
                    crate::model::preview(name),
                    name.len()
                ),
            );
        }
        base.join(raw)
    }
}

/// Reads "14d" or "2w" as a number of days.
fn parse_days(text: &str) -> Option<u32> {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix('d') {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('w') {
        (n, 7)
    } else {
        return None;
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number
        .parse::<u32>()
        .ok()?
        .checked_mul(factor)
        .filter(|&d| d <= 3660)
}

/// Reads "60s", "2m" or "1h" as a duration between 1 s and 1 day.
fn parse_timeout(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix('s') {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600)
    } else {
        return None;
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = number.parse::<u64>().ok()?.checked_mul(factor)?;
    (1..=86_400)
        .contains(&seconds)
        .then(|| Duration::from_secs(seconds))
}

impl RawConfig {
    /// Reads the file's structure, recording each key that is not known and
    /// each value of the wrong type and reading on without it, so that the
    /// rest can still be validated. Text that is not TOML at all cannot be
    /// read past: that problem comes alone, with no config.
    /// The file read into [`RawConfig`], the problems of structure found
    /// on the way, and the keys taken out for them (so that a value of the
    /// wrong type is not reported a second time as missing).
    fn read(text: &str) -> (Option<RawConfig>, Vec<Problem>, Vec<String>) {
        let mut document = match DeTable::parse(text) {
            Ok(document) => document,
            Err(err) => {
                // Not TOML at all, so no key is named: the text before an
                // `=` on a line that is not TOML may be anything, a
                // password among them when --config names the wrong file.
                let problem = Problem {
                    line: err.span().map(|span| line_of(text, span.start)),
                    key: String::new(),
                    message: one_line(err.message()),
                };
                return (None, vec![problem], Vec::new());
            }
        };
        let mut problems = Vec::new();
        let mut taken_keys = Vec::new();
        loop {
            let err = match RawConfig::deserialize(toml::de::Deserializer::from(document.clone())) {
                Ok(raw) => return (Some(raw), problems, taken_keys),
                Err(err) => err,
            };
            let span = err.span();
            let taken = span
                .as_ref()
                .and_then(|span| take_entry(document.get_mut(), span));
            problems.push(Problem {
                line: span.as_ref().map(|span| line_of(text, span.start)),
                key: taken
                    .clone()
                    .or_else(|| span.and_then(|span| key_at(text, span.start)))
                    .unwrap_or_default(),
                message: format!("{} ({EVERY_KEY})", one_line(err.message())),
            });
            // Nothing taken out means the next read would stop at the same place.
            let Some(taken) = taken else {
                return (None, problems, taken_keys);
            };
            taken_keys.push(taken);
            if problems.len() == MOST_STRUCTURE_PROBLEMS {
                problems.push(Problem {
                    line: None,
                    key: String::new(),
                    message: format!(
                        "more than {MOST_STRUCTURE_PROBLEMS} keys are unknown or of the wrong type; fix these and check again"
                    ),
                });
                return (None, problems, taken_keys);
            }
        }
    }

    fn validate(self, base: &Path, text: &str, taken: &[String]) -> Result<Config, Vec<Problem>> {
        let mut check = Checker {
            text,
            problems: Vec::new(),
            notes: Vec::new(),
            taken,
        };

        let store = StoreConfig {
            path: check.path(&self.store.path, "store.path", base),
        };

        let from = match self.mail.from.get_ref().parse::<lettre::message::Mailbox>() {
            Ok(mailbox) => mailbox,
            Err(_) => {
                check.report(
                    &self.mail.from,
                    "mail.from",
                    format!(
                        "{:?} is not a mail address (try \"Follow-up desk <followup@example.org>\")",
                        self.mail.from.get_ref()
                    ),
                );
                "followup@localhost".parse().expect("a valid address")
            }
        };
        let transport = match self.mail.transport.get_ref().as_str() {
            "maildir" => Transport::Maildir,
            "smtp" => Transport::Smtp,
            other => {
                check.report(
                    &self.mail.transport,
                    "mail.transport",
                    format!("{other:?} is not a transport (use \"maildir\" or \"smtp\")"),
                );
                Transport::Maildir
            }
        };
        let maildir = check.path(&self.mail.maildir, "mail.maildir", base);
        let mut interval = |value: &Spanned<String>, key: &str, fallback: u64| {
            parse_timeout(value.get_ref()).unwrap_or_else(|| {
                check.report(
                    value,
                    key,
                    format!(
                        "{:?} is not a duration between 1s and 24h (try \"60s\", \"5m\" or \"1h\")",
                        value.get_ref()
                    ),
                );
                Duration::from_secs(fallback)
            })
        };
        let first = interval(&self.mail.retry_first, "mail.retry_first", 60);
        let max = interval(&self.mail.retry_max, "mail.retry_max", 3600);
        let attempts = match u32::try_from(*self.mail.max_attempts.get_ref()) {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                check.report(
                    &self.mail.max_attempts,
                    "mail.max_attempts",
                    format!(
                        "{} is not between 1 and 100 (try 12)",
                        self.mail.max_attempts.get_ref()
                    ),
                );
                12
            }
        };
        let retry = RetryPolicy {
            first,
            max: max.max(first),
            attempts,
        };
        let smtp = self.mail.smtp.map(|raw| {
            let span = raw.span();
            raw.into_inner().validate(&mut check, base, span)
        });
        if transport == Transport::Smtp && smtp.is_none() {
            check.report(
                &self.mail.transport,
                "mail.transport",
                "\"smtp\" needs a [mail.smtp] section with at least host".into(),
            );
        }

        let before = self
            .reminders
            .before
            .get_ref()
            .iter()
            .map(|offset| check.days(offset, "reminders.before", 0))
            .collect::<Vec<_>>();
        let overdue_every = check.days(&self.reminders.overdue_every, "reminders.overdue_every", 1);
        let vague_every = check.days(&self.reminders.vague_every, "reminders.vague_every", 1);
        let vague_horizon = check.days(&self.reminders.vague_horizon, "reminders.vague_horizon", 1);
        let send_time = match parse_send_time(self.reminders.send_time.get_ref()) {
            Some(time) => time,
            None => {
                check.report(
                    &self.reminders.send_time,
                    "reminders.send_time",
                    format!(
                        "{:?} is not a time of day (try \"09:00\")",
                        self.reminders.send_time.get_ref()
                    ),
                );
                Time::midnight()
            }
        };
        let timezone_name = self.reminders.timezone.get_ref().trim().to_string();
        let timezone = match lookup_zone(&timezone_name) {
            Ok(tz) => tz,
            Err(_) => {
                check.report(
                    &self.reminders.timezone,
                    "reminders.timezone",
                    format!(
                        "{timezone_name:?} is not a known time zone (try an IANA name such as \"Europe/Berlin\" or \"UTC\")"
                    ),
                );
                TimeZone::UTC
            }
        };

        let desks = match self.desks {
            None => vec![Desk {
                name: "default".into(),
                recipients: vec!["desk@localhost".parse().expect("a valid address")],
                tags: Vec::new(),
                digest: None,
            }],
            Some(raw) => {
                let places: Vec<Spanned<()>> = raw
                    .get_ref()
                    .iter()
                    .map(|desk| Spanned::new(desk.span(), ()))
                    .collect();
                let desks: Vec<Desk> = raw
                    .get_ref()
                    .iter()
                    .zip(&places)
                    .enumerate()
                    .map(|(i, (desk, place))| desk.get_ref().validate(&mut check, place, i + 1))
                    .collect();
                for (i, desk) in desks.iter().enumerate() {
                    if desks[..i].iter().any(|d| d.name == desk.name) {
                        let named = raw.get_ref()[i].get_ref().name.as_ref();
                        let at = named.map_or(places[i].span(), Spanned::span);
                        check.report(
                            &Spanned::new(at, ()),
                            "desks.name",
                            format!(
                                "{:?} names two desks; give each desk its own name",
                                desk.name
                            ),
                        );
                    }
                }
                if !desks.iter().any(|d| d.name == "default") {
                    check.report(
                        &raw,
                        "desks",
                        "no desk is named \"default\"; add one so that commitments whose tags match no desk still reach someone".into(),
                    );
                }
                desks
            }
        };

        let ingest = IngestConfig {
            actors: self
                .ingest
                .actors
                .as_ref()
                .map(|value| check.path(value, "ingest.actors", base)),
        };

        let http = HttpConfig {
            listen: self.http.listen.as_ref().and_then(|value| {
                let text = value.get_ref().trim();
                match text.parse::<std::net::SocketAddr>() {
                    Ok(addr) if addr.port() != 0 => Some(addr),
                    Ok(_) => {
                        check.report(
                            value,
                            "http.listen",
                            format!("{text:?} has port 0; name a fixed port (try \"127.0.0.1:9477\")"),
                        );
                        None
                    }
                    Err(_) => {
                        check.report(
                            value,
                            "http.listen",
                            format!(
                                "{text:?} is not an IP address and port (try \"127.0.0.1:9477\" or \"[::1]:9477\"; host names are not looked up)"
                            ),
                        );
                        None
                    }
                }
            }),
        };

        if !check.problems.is_empty() {
            return Err(check.problems);
        }
        Ok(Config {
            file: None,
            store,
            mail: MailConfig {
                from,
                transport,
                maildir,
                smtp,
                retry,
            },
            reminders: ReminderConfig {
                before,
                overdue_every,
                vague_every,
                vague_horizon,
                send_time,
                timezone,
                timezone_name,
            },
            desks,
            ingest,
            http,
            notes: check.notes,
        })
    }
}

/// Finds a time zone by its IANA name. Every command loads the config, so
/// the common cases avoid indexing the whole system database (a directory
/// walk that costs milliseconds): UTC needs no lookup, and a named zone is
/// one file under /usr/share/zoneinfo. Anything else goes to jiff, which
/// also carries a bundled copy of the database.
fn lookup_zone(name: &str) -> Result<TimeZone, jiff::Error> {
    if name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    let plain = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if plain
        && let Ok(bytes) = std::fs::read(Path::new("/usr/share/zoneinfo").join(name))
        && let Ok(zone) = TimeZone::tzif(name, &bytes)
    {
        return Ok(zone);
    }
    TimeZone::get(name)
}

fn parse_send_time(text: &str) -> Option<Time> {
    let (h, m) = text.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let hour: i8 = h.parse().ok()?;
    let minute: i8 = m.parse().ok()?;
    Time::new(hour, minute, 0, 0).ok()
}

impl RawSmtp {
    fn validate(self, check: &mut Checker<'_>, base: &Path, span: Range<usize>) -> SmtpConfig {
        let table = Spanned::new(span, ());
        let host =
            match check.required(&self.host, &table, "mail.smtp.host", "\"smtp.example.org\"") {
                Some(value) => {
                    let host = value.get_ref().trim().to_string();
                    if host.is_empty() || host.contains(char::is_whitespace) {
                        check.report(
                            value,
                            "mail.smtp.host",
                            format!("{host:?} is not a host name (try \"smtp.example.org\")"),
                        );
                    }
                    host
                }
                None => String::new(),
            };
        let security = match &self.security {
            None => Security::StartTls,
            Some(value) => match value.get_ref().as_str() {
                "tls" => Security::Tls,
                "starttls" => Security::StartTls,
                "none" => Security::None,
                other => {
                    check.report(
                        value,
                        "mail.smtp.security",
                        format!(
                            "{other:?} is not a security mode (use \"tls\" for port 465, \"starttls\" for 587, or \"none\")"
                        ),
                    );
                    Security::StartTls
                }
            },
        };
        // A login over a plain connection sends the password as clear
        // text; only a relay on this machine may be spoken to that way.
        if security == Security::None
            && let Some(username) = &self.username
            && !is_loopback(&host)
        {
            let at = self.security.as_ref().map_or(username, |s| s);
            check.report(
                at,
                "mail.smtp.security",
                format!(
                    "\"none\" would send the login for {:?} to {host:?} as clear text; use \"starttls\" or \"tls\", or \"none\" only with a relay on this machine (127.0.0.1)",
                    username.get_ref()
                ),
            );
        }
        let default_port = if security == Security::Tls { 465 } else { 587 };
        let port = match &self.port {
            None => default_port,
            Some(value) => match u16::try_from(*value.get_ref()) {
                Ok(port) if port > 0 => port,
                _ => {
                    check.report(
                        value,
                        "mail.smtp.port",
                        format!(
                            "{} is not a port (use 1 to 65535, e.g. 587)",
                            value.get_ref()
                        ),
                    );
                    default_port
                }
            },
        };
        let timeout = match &self.timeout {
            None => Duration::from_secs(60),
            Some(value) => parse_timeout(value.get_ref()).unwrap_or_else(|| {
                check.report(
                    value,
                    "mail.smtp.timeout",
                    format!(
                        "{:?} is not a timeout between 1s and 60m (try \"60s\")",
                        value.get_ref()
                    ),
                );
                Duration::from_secs(60)
            }),
        };
        let password_file = self
            .password_file
            .as_ref()
            .map(|value| check.path(value, "mail.smtp.password_file", base));
        SmtpConfig {
            host,
            port,
            security,
            username: self.username.map(Spanned::into_inner),
            password_file,
            timeout,
        }
    }
}

/// Whether `host` names this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl RawDesk {
    /// The desk, checked; `place` is its `[[desks]]` table, and `number`
    /// its place among them, which names a desk that has no name.
    fn validate(&self, check: &mut Checker<'_>, place: &Spanned<()>, number: usize) -> Desk {
        let name = match check.required(&self.name, place, "desks.name", "\"energy\"") {
            Some(value) => {
                let name = value.get_ref().trim().to_string();
                if name.is_empty() || name.chars().any(char::is_control) {
                    check.report(
                        value,
                        "desks.name",
                        format!("{name:?} is not a desk name (try \"energy\")"),
                    );
                }
                name
            }
            // Unnamed, it must not seem a second desk of some name.
            None => format!("desk {number}"),
        };
        let key = format!("desks[{name}].recipients");
        let none = Vec::new();
        let recipients = match check.required(
            &self.recipients,
            place,
            "desks.recipients",
            "[\"desk@example.org\"]",
        ) {
            Some(value) => {
                if value.get_ref().is_empty() {
                    check.report(
                        value,
                        &key,
                        "a desk needs at least one recipient (try [\"desk@example.org\"])".into(),
                    );
                }
                value.get_ref()
            }
            None => &none,
        };
        let recipients = recipients
            .iter()
            .filter_map(|r| match r.get_ref().trim().parse::<lettre::Address>() {
                Ok(address) => Some(address),
                Err(_) => {
                    check.report(
                        r,
                        &key,
                        format!(
                            "{:?} is not a mail address (try \"desk@example.org\")",
                            r.get_ref()
                        ),
                    );
                    None
                }
            })
            .collect();
        let tags = self
            .tags
            .iter()
            .filter_map(|t| match crate::model::normalize_tag(t.get_ref()) {
                Ok(tag) => Some(tag),
                Err(message) => {
                    check.report(t, &format!("desks[{name}].tags"), message);
                    None
                }
            })
            .collect();
        let digest =
            self.digest
                .as_ref()
                .and_then(|d| match cron::Schedule::from_str(d.get_ref()) {
                    Ok(schedule) => {
                        // Kept, and sent at its first time each day: a
                        // config that worked before this check must not
                        // stop every command after an upgrade.
                        if let Some(note) = more_than_once_a_day(d.get_ref(), &schedule) {
                            check.note(d, &format!("desks[{name}].digest"), note);
                        }
                        Some(schedule)
                    }
                    Err(err) => {
                        check.report(
                            d,
                            &format!("desks[{name}].digest"),
                            schedule_problem(d.get_ref(), &err),
                        );
                        None
                    }
                });
        Desk {
            name,
            recipients,
            tags,
            digest,
        }
    }
}

/// What a digest schedule looks like, said with every complaint about one:
/// the cron crate wants a seconds field first, which crontab(5) has not.
const SCHEDULE_FIX: &str = "use 6 or 7 fields, seconds first: sec min hour day-of-month month day-of-week [year], e.g. \"0 0 8 * * Mon-Fri\" for 08:00 on weekdays";

/// A bad digest schedule on one line. The cron crate's message repeats the
/// schedule with a caret under the bad spot, then sometimes says why; only
/// the why fits on a line, and for a wrong number of fields (the crontab
/// habit of five) it says nothing, so that is counted here.
fn schedule_problem(schedule: &str, err: &cron::error::Error) -> String {
    let fields = schedule.split_whitespace().count();
    let why = if !schedule.trim_start().starts_with('@') && !(6..=7).contains(&fields) {
        Some(format!(
            "it has {fields} field{}",
            if fields == 1 { "" } else { "s" }
        ))
    } else {
        let message = err.to_string();
        message
            .lines()
            .last()
            .map(str::trim)
            .filter(|why| !why.is_empty() && !why.starts_with('^') && *why != schedule.trim())
            .map(str::to_string)
    };
    match why {
        Some(why) => format!("{schedule:?} is not a cron schedule: {why} ({SCHEDULE_FIX})"),
        None => format!("{schedule:?} is not a cron schedule ({SCHEDULE_FIX})"),
    }
}

/// Why a digest schedule that fires more than once on a day it runs
/// cannot be kept: a desk gets one digest a day (digests are keyed by desk
/// and local date, so a restart or a repeated DST hour never sends one
/// twice), and every firing after a day's first would pass unsent.
///
/// Told from the schedule's time-of-day fields rather than from a run of
/// its firings: cron fires at every combination of the seconds, minutes
/// and hours it lists on each day its day fields match, so more than one
/// combination means more than one firing on every such day, however rare
/// the days (a schedule for 29 February only), in any time zone (the
/// daemon takes a wall-clock time DST repeats once).
fn more_than_once_a_day(schedule: &str, parsed: &cron::Schedule) -> Option<String> {
    use cron::TimeUnitSpec as _;
    let times = u64::from(parsed.seconds().count())
        * u64::from(parsed.minutes().count())
        * u64::from(parsed.hours().count());
    if times < 2 {
        return None;
    }
    let second = parsed.seconds().iter().next().unwrap_or(0);
    let minute = parsed.minutes().iter().next().unwrap_or(0);
    let hour = parsed.hours().iter().next().unwrap_or(0);
    let at = if second == 0 {
        format!("{hour:02}:{minute:02}")
    } else {
        format!("{hour:02}:{minute:02}:{second:02}")
    };
    // The same days, at the first time only.
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    let days = if fields.len() >= 6 {
        fields[3..].join(" ")
    } else {
        "* * *".to_string()
    };
    Some(format!(
        "{schedule:?} fires {times} times on each day it runs, but a desk gets one digest a day (digests are keyed by desk and local date), so only the first, at {at}, is sent; say so with \"{second} {minute} {hour} {days}\""
    ))
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Tls => "tls",
            Security::StartTls => "starttls",
            Security::None => "none",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        Config::from_toml(text, Path::new("/etc/followup")).unwrap_err()
    }

    #[test]
    fn a_path_with_a_control_character_or_an_overlong_name_is_refused() {
        let found = problems(&format!(
            "[store]\npath = \"fol\\nOK   database  forged.db\"\n[mail]\nmaildir = \"out\\u001b[2Jbox\"\n[ingest]\nactors = \"{}\"\n",
            "a".repeat(300)
        ));
        let said: Vec<String> = found
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect();
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(
            said[0].contains("store.path") && said[0].contains("control character '\\n'"),
            "{}",
            said[0]
        );
        assert!(
            said[1].contains("mail.maildir") && said[1].contains("control character '\\u{1b}'"),
            "{}",
            said[1]
        );
        assert!(
            said[2].contains("ingest.actors") && said[2].contains("300 bytes"),
            "{}",
            said[2]
        );
    }

    #[test]
    fn empty_file_gives_the_documented_defaults() {
        let config = Config::from_toml("", Path::new("/srv")).unwrap();
        assert_eq!(config.store.path, Path::new("/srv/followup.db"));
        assert_eq!(config.mail.maildir, Path::new("/srv/outbox"));
        assert_eq!(config.reminders.before, vec![14, 3, 0]);
        assert_eq!(config.reminders.overdue_every, 7);
        assert_eq!(config.reminders.vague_horizon, 90);
        assert_eq!(config.reminders.send_time, Time::constant(9, 0, 0, 0));
        assert_eq!(config.desks.len(), 1);
        assert_eq!(config.desks[0].name, "default");
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../config/followup.toml");
        let config = Config::from_toml(text, Path::new("/etc/followup")).unwrap();
        assert_eq!(config.mail.transport, Transport::Maildir);
        assert!(config.desks.iter().any(|d| d.name == "default"));
        assert!(config.desks.iter().any(|d| d.digest.is_some()));
        assert_eq!(config.mail.smtp.as_ref().unwrap().port, 587);
    }

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let found = problems("[store]\npath = \"a.db\"\npaht = \"b.db\"\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, Some(3));
        assert!(found[0].message.contains("paht"), "{:?}", found[0]);
    }

    #[test]
    fn wrong_type_is_reported_with_its_line() {
        let found = problems("[reminders]\n\nsend_time = 9\n");
        assert_eq!(found[0].line, Some(3));
        assert_eq!(found[0].key, "reminders.send_time");
        // This [mail.smtp] also lacks its host, a problem of its own on line 2.
        let found = problems("[mail]\n[mail.smtp]\n\"port\" = \"587\"\n");
        assert!(
            found
                .iter()
                .any(|p| p.key == "mail.smtp.port" && p.line == Some(3)),
            "{found:?}"
        );
        // This desk also lacks recipients, and no desk is "default": line 1.
        let found = problems("[[desks]]\nname = \"energy\"\ntags = \"oil\"\n");
        assert!(
            found
                .iter()
                .any(|p| p.key == "desks.tags" && p.line == Some(3)),
            "{found:?}"
        );
    }

    #[test]
    fn a_problem_off_any_key_line_names_no_key() {
        assert_eq!(key_at("[store\n", 1), None);
        assert_eq!(key_at("# path = 1\n", 3), None);
        assert_eq!(key_at("", 0), None);
        assert_eq!(key_at("a = 1", 99), Some("a".to_string()));
        assert_eq!(key_at("[x]\nb = [\n1,\n]\n", 12), None);
        // An offset inside a character is read as its line.
        assert_eq!(key_at("[ع]\nمفتاح = 1\n", 8), Some("ع.مفتاح".to_string()));
    }

    /// Where and about what each problem is, in the order reported.
    fn places(found: &[Problem]) -> Vec<(Option<usize>, &str)> {
        found.iter().map(|p| (p.line, p.key.as_str())).collect()
    }

    #[test]
    fn unknown_keys_wrong_types_and_bad_values_are_all_reported_in_line_order() {
        let found = problems(
            "[store]\npath = \"x.db\"\ncolour = 1\n[reminders]\nsend_time = \"25:00\"\noverdue_every = 7\n[mail]\ntransport = \"pigeon\"\n",
        );
        assert_eq!(
            places(&found),
            vec![
                (Some(3), "store.colour"),
                (Some(5), "reminders.send_time"),
                (Some(6), "reminders.overdue_every"),
                (Some(8), "mail.transport"),
            ]
        );
        assert!(found[0].message.contains("colour"), "{:?}", found[0]);
        assert!(found[1].message.contains("\"25:00\""), "{:?}", found[1]);
        assert!(found[2].message.contains("invalid type"), "{:?}", found[2]);
        assert!(found[3].message.contains("\"pigeon\""), "{:?}", found[3]);
    }

    #[test]
    fn an_unknown_or_wrong_key_points_to_the_installed_example() {
        for text in ["[store]\ncolour = 1\n", "[reminders]\nsend_time = 9\n"] {
            let found = problems(text);
            assert!(
                found[0]
                    .message
                    .ends_with("(the example config, /etc/followup/followup.toml when installed, lists every key)"),
                "{:?}",
                found[0]
            );
        }
    }

    #[test]
    fn an_unknown_table_is_reported_whole_and_the_rest_still_checked() {
        let found =
            problems("[colours]\nsky = \"blue\"\nsea = 3\n\n[mail]\ntransport = \"pigeon\"\n");
        assert_eq!(
            places(&found),
            vec![(Some(1), "colours"), (Some(6), "mail.transport")]
        );
        assert!(found[0].message.contains("`colours`"), "{:?}", found[0]);
    }

    #[test]
    fn a_wrong_type_in_a_desk_is_reported_with_problems_elsewhere() {
        let found = problems(
            "[reminders]\ntimezone = \"Mars/Olympus\"\n\n[[desks]]\nname = \"default\"\nrecipients = [\"desk@example.org\"]\ntags = \"oil\"\n",
        );
        assert_eq!(
            places(&found),
            vec![(Some(2), "reminders.timezone"), (Some(7), "desks.tags")]
        );
        assert!(found[1].message.contains("invalid type"), "{:?}", found[1]);
    }

    #[test]
    fn a_wrong_type_in_a_list_or_an_inline_table_names_its_key() {
        let found = problems(
            "[reminders]\nbefore = [\n  \"14days\",\n  3,\n]\n[mail]\nsmtp = { host = 1 }\n",
        );
        assert_eq!(
            places(&found),
            vec![
                (Some(3), "reminders.before"),
                (Some(4), "reminders.before"),
                (Some(7), "mail.smtp.host"),
            ]
        );
    }

    #[test]
    fn a_file_that_is_not_toml_has_no_part_of_it_named_as_a_key() {
        // --config pointed at the SMTP password file by mistake.
        for text in ["Sup3rS3cret=Part2\n", "pass = S3cr3t\n"] {
            let found = problems(text);
            let said = format!("{found:?}");
            assert!(!said.contains("S3cr"), "{said}");
            assert_eq!(found[0].line, Some(1), "{said}");
        }
    }

    #[test]
    fn a_missing_key_hides_nothing_else_and_a_mistyped_one_is_not_missing_too() {
        // No host: the port and security of the same table are still
        // checked.
        let found = problems(
            "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nport = 99999\nsecurity = \"ssl\"\n",
        );
        assert_eq!(
            places(&found),
            vec![
                (Some(3), "mail.smtp.host"),
                (Some(4), "mail.smtp.port"),
                (Some(5), "mail.smtp.security"),
            ]
        );
        assert!(
            found[0].message.contains("[mail.smtp] needs host"),
            "{:?}",
            found[0]
        );
        // Recipients as a string: one problem, its type; a desk without a
        // name: its name missing, and its bad tag found too.
        let found = problems(
            "[[desks]]\nname = \"default\"\nrecipients = \"d@example.org\"\n[[desks]]\nrecipients = [\"x@example.org\"]\ntags = [\"Bad Tag!\"]\n",
        );
        assert_eq!(
            places(&found),
            vec![
                (Some(3), "desks.recipients"),
                (Some(4), "desks.name"),
                (Some(6), "desks[desk 2].tags"),
            ]
        );
        assert!(found[0].message.contains("invalid type"), "{:?}", found[0]);
        assert!(
            found[1].message.contains("each [[desks]] needs name"),
            "{:?}",
            found[1]
        );
    }

    #[test]
    fn a_login_over_a_plain_connection_is_only_for_a_relay_on_this_machine() {
        let smtp = |host: &str, security: &str| {
            format!(
                "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"{host}\"\nsecurity = \"{security}\"\nusername = \"followup\"\n"
            )
        };
        let found = problems(&smtp("mail.example.org", "none"));
        assert_eq!(places(&found), vec![(Some(5), "mail.smtp.security")]);
        assert!(found[0].message.contains("clear text"), "{:?}", found[0]);
        for (host, security) in [
            ("127.0.0.1", "none"),
            ("localhost", "none"),
            ("[::1]", "none"),
            ("mail.example.org", "starttls"),
        ] {
            let text = smtp(host, security);
            assert!(
                Config::from_toml(&text, Path::new("/etc/followup")).is_ok(),
                "{host} {security}"
            );
        }
    }

    #[test]
    fn a_syntax_error_is_reported_alone_with_its_line() {
        let found = problems(
            "[store]\ncolour = 1\n[reminders]\nsend_time = \"25:00\"\n[mail\ntransport = \"pigeon\"\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, Some(5));
        assert!(found[0].message.contains("expected `]`"), "{:?}", found[0]);
    }

    #[test]
    fn a_key_is_found_on_its_line_whatever_table_holds_it() {
        let text =
            "[mail]\ntransport = \"smtp\"\n\n[mail.smtp]\nhost = \"x\"\npassword_file = \"pw\"\n";
        assert_eq!(line_of_key(text, "mail.smtp.password_file"), Some(6));
        assert_eq!(line_of_key(text, "mail.transport"), Some(2));
        let inline = "mail = { smtp = { password_file = \"pw\" } }\n";
        assert_eq!(line_of_key(inline, "mail.smtp.password_file"), Some(1));
        assert_eq!(line_of_key(text, "mail.smtp.username"), None);
        assert_eq!(line_of_key(text, "mail.transport.x"), None);
    }

    #[test]
    fn a_digest_schedule_firing_more_than_once_a_day_is_kept_with_a_note_naming_its_first_time() {
        let desk = |schedule: &str| {
            format!(
                "[[desks]]\nname = \"default\"\nrecipients = [\"desk@example.org\"]\ndigest = {schedule:?}\n"
            )
        };
        let notes = |schedule: &str| -> Vec<Problem> {
            Config::from_toml(&desk(schedule), Path::new("/etc/followup"))
                .unwrap_or_else(|problems| panic!("{schedule}: {problems:?}"))
                .notes
        };
        for (schedule, times, at, fix) in [
            ("0 0 8,16 * * *", 2, "08:00", "\"0 0 8 * * *\""),
            ("0 */30 9 * * Mon-Fri", 2, "09:00", "\"0 0 9 * * Mon-Fri\""),
            ("@hourly", 24, "00:00", "\"0 0 0 * * *\""),
            // Twice on the one day a leap year has: rare, still said.
            ("30 0 7,19 29 2 *", 2, "07:00:30", "\"30 0 7 29 2 *\""),
        ] {
            let found = notes(schedule);
            assert_eq!(places(&found), vec![(Some(4), "desks[default].digest")]);
            let message = &found[0].message;
            assert!(
                message.starts_with(&format!(
                    "{schedule:?} fires {times} times on each day it runs"
                )),
                "{message}"
            );
            assert!(
                message.contains(&format!("a desk gets one digest a day (digests are keyed by desk and local date), so only the first, at {at}, is sent")),
                "{message}"
            );
            assert!(message.contains(fix), "{message}");
        }
        // Once on each day it runs, however few or many the days: no note.
        for schedule in [
            "0 0 8 * * Mon-Fri",
            "@daily",
            "@weekly",
            "0 30 1 29 2 *",
            "0 0 8 1,15 * *",
        ] {
            assert!(notes(schedule).is_empty(), "{schedule}");
        }
    }

    #[test]
    fn a_bad_digest_schedule_is_one_line_naming_the_value_and_the_format() {
        for (schedule, why) in [
            ("every morning", "it has 2 fields"),
            ("0 8 * * 1-5", "it has 5 fields"),
            ("0 0 8 * * Mo", "'Mo' is not a valid day of the week."),
            ("0 0 8 * * * * *", "it has 8 fields"),
            ("0 0 8 * * Mon-", ""),
        ] {
            let text = format!(
                "[[desks]]\nname = \"default\"\nrecipients = [\"desk@example.org\"]\ndigest = {schedule:?}\n"
            );
            let found = problems(&text);
            assert_eq!(places(&found), vec![(Some(4), "desks[default].digest")]);
            let message = &found[0].message;
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.starts_with(&format!("{schedule:?} is not a cron schedule")),
                "{message}"
            );
            assert!(message.contains(why), "{message}");
            assert!(
                message.contains("sec min hour day-of-month month day-of-week [year]"),
                "{message}"
            );
            assert!(message.contains("\"0 0 8 * * Mon-Fri\""), "{message}");
        }
    }

    #[test]
    fn no_problem_runs_over_two_lines() {
        assert_eq!(one_line("a\n  ^\nb\n"), "a; ^; b");
        for text in [
            "[store\n",
            "a = \"x\n",
            "[[desks]]\nname = 1\ndigest = \"* * *\"\n",
        ] {
            for problem in problems(text) {
                assert!(!problem.message.contains('\n'), "{problem:?}");
            }
        }
    }

    #[test]
    fn bad_duration_names_value_key_and_fix() {
        let found = problems("[reminders]\nbefore = [\"14days\", \"3d\"]\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "reminders.before");
        assert_eq!(found[0].line, Some(2));
        assert!(found[0].message.contains("\"14days\""));
        assert!(found[0].message.contains("try \"14d\""));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let found = problems(
            "[reminders]\nsend_time = \"25:00\"\ntimezone = \"Mars/Olympus\"\n[mail]\ntransport = \"pigeon\"\n",
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "reminders.send_time",
                "reminders.timezone",
                "mail.transport"
            ]
        );
    }

    #[test]
    fn desks_need_a_default_and_valid_addresses_and_schedules() {
        let found = problems(
            "[[desks]]\nname = \"energy\"\nrecipients = [\"not an address\"]\ndigest = \"every morning\"\n",
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["desks", "desks[energy].recipients", "desks[energy].digest"]
        );
    }

    #[test]
    fn routing_prefers_desks_sharing_a_tag_then_default() {
        let text = "[[desks]]\nname = \"default\"\nrecipients = [\"all@example.org\"]\n\
                    [[desks]]\nname = \"energy\"\nrecipients = [\"energy@example.org\"]\ntags = [\"energy\", \"gas\"]\n";
        let config = Config::from_toml(text, Path::new(".")).unwrap();
        let names = |tags: &[&str]| {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            config
                .desks_for(&tags)
                .iter()
                .map(|d| d.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&["gas", "syria"]), vec!["energy"]);
        assert_eq!(names(&["syria"]), vec!["default"]);
    }

    #[test]
    fn time_zones_are_found_by_name_and_bad_names_refused() {
        let berlin = lookup_zone("Europe/Berlin").unwrap();
        let summer = jiff::civil::date(2026, 7, 1).at(12, 0, 0, 0);
        let zoned = summer.to_zoned_datetime(berlin).unwrap();
        assert_eq!(zoned.offset().seconds(), 7200);
        assert!(lookup_zone("../../etc/passwd").is_err());
        assert!(lookup_zone("Mars/Olympus").is_err());
        assert!(lookup_zone("UTC").is_ok());
    }

    #[test]
    fn the_http_listener_is_off_unless_an_address_is_given() {
        let config = Config::from_toml("", Path::new(".")).unwrap();
        assert_eq!(config.http.listen, None);
        let config =
            Config::from_toml("[http]\nlisten = \"127.0.0.1:9477\"\n", Path::new(".")).unwrap();
        assert_eq!(config.http.listen, Some("127.0.0.1:9477".parse().unwrap()));
        let found = problems("[http]\n\nlisten = \"localhost:9477\"\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "http.listen");
        assert_eq!(found[0].line, Some(3));
        assert!(
            found[0].message.contains("\"localhost:9477\""),
            "{:?}",
            found[0]
        );
        assert!(
            found[0].message.contains("try \"127.0.0.1:9477\""),
            "{:?}",
            found[0]
        );
        let found = problems("[http]\nlisten = \"127.0.0.1:0\"\n");
        assert!(found[0].message.contains("port 0"), "{:?}", found[0]);
        let found = problems("[http]\nlisen = \"127.0.0.1:9477\"\n");
        assert_eq!(found[0].line, Some(2));
        assert!(found[0].message.contains("lisen"), "{:?}", found[0]);
    }

    #[test]
    fn durations_accept_days_and_weeks_only() {
        assert_eq!(parse_days("14d"), Some(14));
        assert_eq!(parse_days("2w"), Some(14));
        assert_eq!(parse_days("0d"), Some(0));
        assert_eq!(parse_days("14"), None);
        assert_eq!(parse_days("-1d"), None);
        assert_eq!(parse_days("99999999999d"), None);
        assert_eq!(parse_timeout("60s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_timeout("0s"), None);
        assert_eq!(parse_timeout("1h"), Some(Duration::from_secs(3600)));
    }
}
