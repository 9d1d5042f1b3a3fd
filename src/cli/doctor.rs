//! `followup doctor`: checks an installation end to end and prints one line
//! per finding — `OK`, `WARN` or `FAIL`, with what to do — and an exit
//! status for monitoring: 0 all OK, 1 a warning, 2 a failure (the
//! convention Nagios-style checks use).
//!
//! It changes nothing: the database is inspected, not opened for use (no
//! migration), the Maildir is probed with a file removed at once, and the
//! SMTP server is greeted and logged in to without sending mail. The
//! checks themselves live with what they check (`config`, `store`, `mail`,
//! the daemon's lock); this file runs them in order and reports.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::{print_json, shown};
use crate::config::{self, Config, Transport};
use crate::daemon::{Holder, InstanceLock};
use crate::mail::{self, MaildirState, SmtpTransport};
use crate::store::{self, Check, Store};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How bad a finding is; the worst one sets the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }

    fn exit_code(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warn => 1,
            Level::Fail => 2,
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub level: Level,
    pub detail: String,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    status: Level,
    checks: &'a [Finding],
}

/// Collects findings in the order they are made.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, check: &'static str, level: Level, detail: impl Into<String>) {
        self.0.push(Finding {
            check,
            level,
            detail: detail.into(),
        });
    }

    fn worst(&self) -> Level {
        self.0.iter().map(|f| f.level).max().unwrap_or(Level::Ok)
    }
}

pub fn doctor(
    flag: Option<&Path>,
    args: DoctorArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let mut findings = Findings::default();
    if let Some(config) = check_config(flag, &mut findings) {
        let database = check_database(&config, &mut findings);
        check_leftovers(&config.store.path, &mut findings);
        check_mail(&config, &mut findings);
        match InstanceLock::holder(&config.store.path) {
            running @ Holder::Daemon(_) => findings.add("daemon", Level::Ok, running.describe()),
            Holder::Unknown(why) => findings.add("daemon", Level::Fail, why),
            Holder::Nobody if let Some(problem) = InstanceLock::problem(&config.store.path) => {
                findings.add("daemon", Level::Fail, problem)
            }
            Holder::Nobody => findings.add(
                "daemon",
                Level::Warn,
                "not running: no reminders go out until it is started (systemctl start followup)",
            ),
        }
        if database == Readable::Current {
            check_records(&config, &mut findings);
            check_outbox(&config, &mut findings);
        }
    }

    let worst = findings.worst();
    if args.json {
        print_json(
            out,
            &Report {
                status: worst,
                checks: &findings.0,
            },
        )?;
    } else {
        for finding in &findings.0 {
            writeln!(
                out,
                "{:<4} {:<9} {}",
                finding.level.label(),
                finding.check,
                finding.detail
            )?;
        }
    }
    Ok(ExitCode::from(worst.exit_code()))
}

/// The config file, as `config check` reads it. Nothing else can be
/// checked without a valid one.
fn check_config(flag: Option<&Path>, findings: &mut Findings) -> Option<Config> {
    let Some(path) = config::locate(flag) else {
        findings.add(
            "config",
            Level::Ok,
            format!(
                "no config file (--config or ${}): the embedded defaults are in use",
                config::CONFIG_ENV
            ),
        );
        return Some(Config::embedded());
    };
    match Config::from_file(&path) {
        Ok(config) => {
            findings.add("config", Level::Ok, format!("{} is valid", path.display()));
            for note in config.note_lines() {
                findings.add("config", Level::Warn, note);
            }
            Some(config)
        }
        Err(config::Error::Invalid { path, problems }) => {
            let one = |problem| config::Error::Invalid {
                path: path.clone(),
                problems: vec![problem],
            };
            for problem in problems {
                findings.add("config", Level::Fail, one(problem).to_string());
            }
            None
        }
        Err(err) => {
            findings.add("config", Level::Fail, err.to_string());
            None
        }
    }
}

/// How far the database could be read.
#[derive(Debug, PartialEq, Eq)]
enum Readable {
    /// Sound, and of this build's schema: its outbox can be read.
    Current,
    /// Missing, damaged, or of another schema.
    NotFurther,
}

/// Files a `restore` or an `import` stopped part-way (killed, a power cut)
/// left beside the database under its hidden working names
/// (`.followup.db.restoring-PID`, `.followup.db.import-PID`, and the
/// partial copy a restore keeps). Nothing reads them again, and they can
/// be as large as the database; one whose process still runs is at work.
fn check_leftovers(database: &Path, findings: &mut Findings) {
    let Some(name) = database.file_name() else {
        return;
    };
    let folder = crate::store::folder_of(database);
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let mut left: Vec<(String, u64)> = entries
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name().to_string_lossy().into_owned();
            let rest = file.strip_prefix(&prefix)?;
            let working = ["restoring-", "import-", "before-restore-"]
                .iter()
                .find_map(|working| rest.strip_prefix(working))?;
            // The process that made it, named by the digits that follow
            // (before any "-journal", "-wal" or "-laid-out"): still
            // running, it is at work on it.
            let pid = working.split('-').next()?;
            if pid.bytes().all(|b| b.is_ascii_digit()) && Path::new("/proc").join(pid).exists() {
                return None;
            }
            Some((file, entry.metadata().map(|m| m.len()).unwrap_or(0)))
        })
        .collect();
    if left.is_empty() {
        return;
    }
    left.sort();
    let total: u64 = left.iter().map(|(_, bytes)| bytes).sum();
    let names: Vec<&str> = left.iter().map(|(file, _)| file.as_str()).collect();
    findings.add(
        "leftovers",
        Level::Warn,
        format!(
            "{} file(s) in {} left by a restore or import that was stopped part-way ({}): {}; nothing uses them, delete them",
            left.len(),
            shown(folder),
            size(total),
            names.join(", ")
        ),
    );
}

fn check_database(config: &Config, findings: &mut Findings) -> Readable {
    let path = &config.store.path;
    if !path.exists() {
        let folder = crate::store::folder_of(path);
        // The embedded defaults' data folder is created by the first
        // command; a configured folder must exist already.
        if folder.is_dir() || config.file.is_none() {
            // The file will be created in the folder, or (embedded
            // defaults) the folder in its nearest existing ancestor: that
            // one must take a new entry, or every command will fail.
            let under = folder
                .ancestors()
                .find(|p| p.is_dir())
                .unwrap_or(Path::new("."));
            match probe_folder(under) {
                Ok(()) => findings.add(
                    "database",
                    Level::Warn,
                    format!(
                        "{} does not exist yet; the first command that records something (or the daemon) creates it",
                        shown(path)
                    ),
                ),
                Err(err) => findings.add(
                    "database",
                    Level::Fail,
                    format!(
                        "{} does not exist and cannot be created: {} is not writable by this user ({err}); make it writable, or set store.path",
                        shown(path),
                        shown(under)
                    ),
                ),
            }
        } else {
            findings.add(
                "database",
                Level::Fail,
                store::Error::MissingFolder {
                    folder: folder.to_path_buf(),
                }
                .to_string(),
            );
        }
        return Readable::NotFurther;
    }
    let inspection = match store::inspect(path) {
        Ok(inspection) => inspection,
        Err(err) => {
            findings.add("database", Level::Fail, err.to_string());
            return Readable::NotFurther;
        }
    };
    if inspection.quick_check != "ok" {
        findings.add(
            "database",
            Level::Fail,
            format!(
                "{} is corrupt (quick_check: {}); stop the daemon and restore a backup (followup restore PATH)",
                shown(path),
                inspection.quick_check
            ),
        );
        return Readable::NotFurther;
    }
    match &inspection.writable {
        Ok(()) => findings.add(
            "database",
            Level::Ok,
            format!(
                "{} passes quick_check and takes writes ({} KiB)",
                shown(path),
                inspection.bytes.div_ceil(1024)
            ),
        ),
        Err(why) => findings.add(
            "database",
            Level::Fail,
            format!(
                "{} passes quick_check but cannot be written: {why}",
                shown(path)
            ),
        ),
    }
    let known = store::schema_version();
    let found = inspection.schema_version;
    if found == known && !inspection.missing.is_empty() {
        findings.add(
            "schema",
            Level::Fail,
            format!(
                "version {found} claimed, but the file lacks what followup keeps ({}): it is not a followup database, or was edited by hand; restore a backup (followup restore PATH)",
                store::schema_named(&inspection.missing)
            ),
        );
        Readable::NotFurther
    } else if found == known {
        findings.add("schema", Level::Ok, format!("version {found} is current"));
        Readable::Current
    } else if found < known {
        findings.add(
            "schema",
            Level::Warn,
            format!(
                "version {found} will be migrated to {known} by the next command that opens it (any but doctor and backup) or the daemon, which keeps a copy of it as it was beside it (.schema-{found}); a backup elsewhere first does no harm (followup backup PATH)"
            ),
        );
        Readable::NotFurther
    } else {
        findings.add(
            "schema",
            Level::Fail,
            format!(
                "version {found} is newer than this followup understands ({known}); upgrade followup"
            ),
        );
        Readable::NotFurther
    }
}

/// Whether this user can create an entry in `folder`: a folder is made
/// there and removed at once. Permission bits alone would not say (root
/// passes them, a read-only mount does not).
fn probe_folder(folder: &Path) -> std::io::Result<()> {
    let probe = folder.join(format!(".followup-doctor-{}", std::process::id()));
    std::fs::create_dir(&probe)?;
    std::fs::remove_dir(&probe)
}

fn check_mail(config: &Config, findings: &mut Findings) {
    match config.mail.transport {
        Transport::Maildir => match mail::check_maildir(&config.mail.maildir) {
            Ok(MaildirState::Writable) => findings.add(
                "maildir",
                Level::Ok,
                format!("{} is writable", shown(&config.mail.maildir)),
            ),
            Ok(MaildirState::WillBeCreated { under }) => findings.add(
                "maildir",
                Level::Ok,
                format!(
                    "{} does not exist yet; the daemon creates it (in {}, which is writable)",
                    shown(&config.mail.maildir),
                    shown(&under)
                ),
            ),
            Ok(MaildirState::OtherUsers { owner }) => findings.add(
                "maildir",
                Level::Warn,
                format!(
                    "{} belongs to another user (uid {owner}), as the daemon's Maildir is private to it; run doctor as the daemon's user to check it (sudo -u followup followup doctor)",
                    shown(&config.mail.maildir)
                ),
            ),
            Err(problem) => findings.add("maildir", Level::Fail, problem),
        },
        Transport::Smtp => check_smtp(config, findings),
    }
}

fn check_smtp(config: &Config, findings: &mut Findings) {
    let Some(smtp) = &config.mail.smtp else {
        findings.add("smtp", Level::Fail, mail::Error::SmtpMissing.to_string());
        return;
    };
    let credentials = mail::credentials_dir();
    // Run as the daemon's user outside the unit (`sudo -u followup`),
    // doctor has no $CREDENTIALS_DIRECTORY; a file under /run/credentials
    // is still systemd's, which shows it 0440 and decides who reads it.
    let systemd = credentials
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("/run/credentials"));
    match (&smtp.username, mail::password_path(smtp, credentials.as_deref())) {
        (Some(_), Some(path)) => match mail::read_password(&path, Some(&systemd)) {
            Ok(_) if path.starts_with(&systemd) => findings.add(
                "password",
                Level::Ok,
                format!("{} is a systemd credential", shown(&path)),
            ),
            Ok(_) => findings.add(
                "password",
                Level::Ok,
                format!("{} is readable by its owner only", shown(&path)),
            ),
            Err(err) => {
                findings.add("password", Level::Fail, err.to_string());
                findings.add(
                    "smtp",
                    Level::Fail,
                    "not tried: the login needs the password file above",
                );
                return;
            }
        },
        (Some(username), None) => {
            findings.add(
                "password",
                Level::Fail,
                mail::Error::PasswordMissing {
                    username: username.clone(),
                }
                .to_string(),
            );
            findings.add(
                "smtp",
                Level::Fail,
                "not tried: the login needs a password",
            );
            return;
        }
        (None, Some(path)) if smtp.password_file.is_some() => findings.add(
            "password",
            Level::Warn,
            format!(
                "mail.smtp.password_file is {} but mail.smtp.username is not set, so mail goes without a login; set username, or remove password_file",
                shown(&path)
            ),
        ),
        (None, _) => {}
    }

    // lettre's pool needs a runtime; one of our own, for this one check.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            findings.add(
                "smtp",
                Level::Fail,
                format!("cannot start the async runtime: {err}"),
            );
            return;
        }
    };
    let place = format!("{}:{} ({})", smtp.host, smtp.port, smtp.security);
    let outcome = runtime.block_on(async {
        let transport = SmtpTransport::new(smtp, Some(&systemd)).map_err(|e| e.to_string())?;
        transport
            .check_connection()
            .await
            .map_err(|e| e.to_string())
    });
    match outcome {
        Ok(()) => {
            let tls = match smtp.security {
                config::Security::None => "without TLS",
                config::Security::StartTls => "STARTTLS up",
                config::Security::Tls => "TLS up",
            };
            let login = match &smtp.username {
                Some(user) => format!("login accepted for {user:?}"),
                None => "no login configured".to_string(),
            };
            findings.add(
                "smtp",
                Level::Ok,
                format!("{place}: connected, {tls}, {login}; no mail sent"),
            );
        }
        Err(problem) => findings.add("smtp", Level::Fail, problem),
    }
}

/// The records kept for export: how many wait to be rendered again, and
/// whether the rest account for what the tables hold.
fn check_records(config: &Config, findings: &mut Findings) {
    let health = match Store::open(&config.store.path, Check::ReadOnly)
        .and_then(|store| store.records_health())
    {
        Ok(health) => health,
        Err(err) => {
            findings.add("records", Level::Fail, err.to_string());
            return;
        }
    };
    let [commitments, revisions, events] = health.held;
    let [kept, kept_revisions, kept_events] = health.counted;
    if !health.agree() {
        findings.add(
            "records",
            Level::Fail,
            format!(
                "the records kept for export disagree with the tables (they count {kept} commitments, {kept_revisions} revisions and {kept_events} history events; the tables hold {commitments}, {revisions} and {events}), as after a change by hand or damage; `export` reads the tables instead, more slowly, until they agree. Have every record rendered again: sqlite3 {} \"INSERT OR IGNORE INTO stale_records (id) SELECT id FROM commitments\", then any command that records something",
                config.store.path.display()
            ),
        );
    } else if health.stale > 0 {
        findings.add(
            "records",
            Level::Warn,
            format!(
                "{} of the commitments' export records wait to be rendered again, which the next command that records something (or the daemon's next tick) does; `export` reads them from the tables until then",
                health.stale
            ),
        );
    } else {
        findings.add(
            "records",
            Level::Ok,
            format!("{kept} export records kept, none stale"),
        );
    }
}

fn check_outbox(config: &Config, findings: &mut Findings) {
    let now = jiff::Timestamp::now();
    let read = Store::open(&config.store.path, Check::ReadOnly).and_then(|store| {
        let counts = store.outbox_counts(now)?;
        let dead = store.dead_since(None, jiff::Timestamp::UNIX_EPOCH)?;
        Ok((counts, dead))
    });
    let (counts, dead) = match read {
        Ok(found) => found,
        Err(err) => {
            findings.add("outbox", Level::Fail, err.to_string());
            return;
        }
    };
    let summary = format!(
        "{} pending, {} retrying, {} dead",
        counts.pending, counts.retrying, counts.dead
    );
    // Mid-send is a daemon's state; with none running, one stopped
    // before it could record how its sends ended.
    if counts.sending > 0 && InstanceLock::holder(&config.store.path) == Holder::Nobody {
        findings.add(
            "outbox",
            Level::Warn,
            format!(
                "emails on their way when a daemon stopped without finishing: {}; the next daemon run sends them again, with the same Message-IDs",
                counts.sending
            ),
        );
    }
    if dead.is_empty() {
        findings.add("outbox", Level::Ok, summary);
        return;
    }
    let mut ids: Vec<i64> = dead.iter().filter_map(|d| d.commitment_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let digests = dead.iter().filter(|d| d.commitment_id.is_none()).count();
    let mut about = Vec::new();
    if !ids.is_empty() {
        let mut list: Vec<String> = ids.iter().take(10).map(|id| id.to_string()).collect();
        if ids.len() > 10 {
            list.push(format!("and {} more", ids.len() - 10));
        }
        about.push(format!("commitments {}", list.join(", ")));
    }
    if digests > 0 {
        about.push(if digests == 1 {
            "1 digest".to_string()
        } else {
            format!("{digests} digests")
        });
    }
    findings.add(
        "outbox",
        Level::Warn,
        format!(
            "{summary}: {} could not be delivered ({}); `followup show ID` lists each failure in the commitment's history with the server's answer, and the daemon logged them at error level",
            if dead.len() == 1 {
                "1 email".to_string()
            } else {
                format!("{} emails", dead.len())
            },
            about.join("; ")
        ),
    );
}

/// A size as a person reads it: KiB below a MiB, MiB above.
fn size(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{} KiB", bytes.div_ceil(1 << 10))
    } else {
        format!("{} MiB", bytes.div_ceil(1 << 20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_finding_sets_the_exit_status() {
        let mut findings = Findings::default();
        assert_eq!(findings.worst().exit_code(), 0);
        findings.add("a", Level::Ok, "");
        assert_eq!(findings.worst().exit_code(), 0);
        findings.add("b", Level::Warn, "");
        assert_eq!(findings.worst().exit_code(), 1);
        findings.add("c", Level::Fail, "");
        findings.add("d", Level::Ok, "");
        assert_eq!(findings.worst().exit_code(), 2);
    }
}
