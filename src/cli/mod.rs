//! The command line: clap definitions, and the few things every command
//! shares (config, store, clock, author). Each command group lives in its own
//! file and is a thin shell over `store`, `deadline` and `transfer`.

mod backup;
mod doctor;
mod ingest;
mod record;
mod setup;
mod table;

pub use table::for_terminal;
mod transfer;
mod view;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::config::{self, Config};
use crate::deadline;
use crate::model::CommitmentId;
use crate::store::{Check, Store};

/// Track commitments announced in the news and remind the right desk as
/// their deadlines approach and pass.
#[derive(Debug, Parser)]
#[command(name = "followup", version, about, long_about = None)]
pub struct Cli {
    /// Config file (TOML). Without it, $FOLLOWUP_CONFIG, else embedded defaults.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record a new commitment.
    Add(record::AddArgs),
    /// List commitments, soonest deadline first.
    List(view::ListArgs),
    /// Show one commitment with its deadline versions and history.
    Show(view::ShowArgs),
    /// Move a commitment's deadline (a slip); the old one stays in history.
    Revise(record::ReviseArgs),
    /// Close a commitment with its outcome.
    Close(record::CloseArgs),
    /// Reopen a closed commitment.
    Reopen(record::ReopenArgs),
    /// Add a note to a commitment's history.
    Note(record::NoteArgs),
    /// Show what a deadline expression means in dates.
    Parse(view::ParseArgs),
    /// Find the commitments an article announces; `--accept` stores them.
    Ingest(ingest::IngestArgs),
    /// Import commitments from a file written by `export` or by hand.
    Import(transfer::ImportArgs),
    /// Export every commitment with its history.
    Export(transfer::ExportArgs),
    /// Run the reminder daemon: plan, queue and send reminders and digests.
    Daemon(setup::DaemonArgs),
    /// Show paths, counts, the outbox and whether a daemon is running.
    Status(setup::StatusArgs),
    /// Put emails that could not be delivered (`dead`) back in the queue,
    /// once what refused them is fixed.
    Requeue(setup::RequeueArgs),
    /// Write a verified copy of the database to PATH, while the daemon runs.
    Backup(backup::BackupArgs),
    /// Replace the database with a backup (the daemon must be stopped); the
    /// replaced database is kept beside it.
    Restore(backup::RestoreArgs),
    /// Check the installation: config, database, mail, daemon, outbox.
    /// Exit status 0 all OK, 1 a warning, 2 a failure.
    Doctor(doctor::DoctorArgs),
    /// Check the configuration.
    Config {
        #[command(subcommand)]
        command: setup::ConfigCommand,
    },
}

/// What every command needs: the validated config and the moment it runs.
pub struct Context {
    pub config: Config,
    pub now: Timestamp,
    pub today: Date,
    pub author: String,
}

impl Context {
    fn new(config: Config) -> anyhow::Result<Context> {
        // Whole seconds keep history readable and timestamps fixed-width.
        let now = Timestamp::from_second(Timestamp::now().as_second())
            .context("the system clock is out of range")?;
        let today = now
            .to_zoned_datetime(config.reminders.timezone.clone())
            .date();
        let author = author_from_env()?;
        Ok(Context {
            config,
            now,
            today,
            author,
        })
    }

    /// Opens the database, creating it if need be. With the embedded
    /// defaults its folder is created too; a configured folder must
    /// already exist.
    fn store(&self) -> anyhow::Result<Store> {
        make_data_folder(&self.config)?;
        self.open_store(Check::Remembered)
    }

    /// Opens the database for a command about commitment `id`, which no
    /// database not yet made can hold: with none there, it says so and
    /// creates nothing.
    fn store_holding(&self, id: CommitmentId) -> anyhow::Result<Store> {
        if !self.config.store.path.exists() {
            anyhow::bail!("no commitment has id {id}: {}", self.no_database_yet());
        }
        self.store()
    }

    /// Opens the database for a command that only reads it, or `None`
    /// when there is none yet. A command that only looks must not create
    /// files: a mistyped store.path would otherwise get a new empty
    /// database, quietly, instead of a word about where followup looked.
    fn reader(&self) -> anyhow::Result<Option<Store>> {
        self.reader_with(Check::ReadOnly)
    }

    /// As [`Context::reader`], opening with `check`.
    fn reader_with(&self, check: Check) -> anyhow::Result<Option<Store>> {
        if !self.config.store.path.exists() {
            return Ok(None);
        }
        self.open_store(check).map(Some)
    }

    /// What a reading command says, on stderr, when there is no database
    /// yet: its answer (an empty list) is right, but so is saying why.
    pub(crate) fn no_database_yet(&self) -> String {
        format!(
            "there is no database at {} yet; the first command that records something (add, import, ingest --accept) or the daemon creates it",
            self.config.store.path.display()
        )
    }

    fn open_store(&self, check: Check) -> anyhow::Result<Store> {
        Ok(Store::open(&self.config.store.path, check)?)
    }

    fn deadline_options(&self) -> deadline::Options {
        deadline::Options {
            vague_horizon_days: self.config.reminders.vague_horizon as i32,
        }
    }
}

/// Who is making changes, for history: `$FOLLOWUP_AUTHOR`, else the login.
fn author_from_env() -> anyhow::Result<String> {
    let name = ["FOLLOWUP_AUTHOR", "USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    crate::model::check_line(
        "author ($FOLLOWUP_AUTHOR)",
        &name,
        crate::model::MAX_NAME_CHARS,
    )
    .map_err(anyhow::Error::msg)
}

/// Parses and runs the command line, writing results to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    if let Command::Config { command } = &cli.command {
        return setup::config_command(command, cli.config.as_deref(), out);
    }
    if let Command::Doctor(args) = cli.command {
        // Before the config is loaded: a broken config is one of its findings.
        return doctor::doctor(cli.config.as_deref(), args, out);
    }
    let config = config::load(cli.config.as_deref())?;
    if let Command::Daemon(args) = &cli.command {
        make_data_folder(&config)?;
        crate::daemon::run(cli.config.as_deref(), config, args.once)?;
        return Ok(ExitCode::SUCCESS);
    }
    let context = Context::new(config)?;
    match cli.command {
        Command::Add(args) => record::add(&context, args, out),
        Command::List(args) => view::list(&context, args, out),
        Command::Show(args) => view::show(&context, args, out),
        Command::Revise(args) => record::revise(&context, args, out),
        Command::Close(args) => record::close(&context, args, out),
        Command::Reopen(args) => record::reopen(&context, args, out),
        Command::Note(args) => record::note(&context, args, out),
        Command::Parse(args) => view::parse(&context, args, out),
        Command::Ingest(args) => ingest::ingest(&context, args, out),
        Command::Import(args) => transfer::import(&context, args, out),
        Command::Export(args) => transfer::export(&context, args, out),
        Command::Status(args) => setup::status(&context, args, out),
        Command::Requeue(args) => setup::requeue(&context, args, out),
        Command::Backup(args) => backup::backup(&context, args, out),
        Command::Restore(args) => backup::restore(&context, args, out),
        Command::Config { .. } | Command::Daemon(_) | Command::Doctor(_) => {
            unreachable!("handled before the context is built")
        }
    }?;
    Ok(ExitCode::SUCCESS)
}

/// The embedded defaults point into a data folder of followup's own,
/// made when something is first to be written there.
pub(crate) fn make_data_folder(config: &Config) -> anyhow::Result<()> {
    if config.file.is_none()
        && let Some(folder) = config.store.path.parent()
    {
        // Folders it makes are no more open than the files in them: the
        // owner and group, not the world, whatever the umask.
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o770)
            .create(folder)
            .with_context(|| {
                format!(
                    "cannot create the data folder {}; set $XDG_DATA_HOME or use --config",
                    folder.display()
                )
            })?;
    }
    Ok(())
}

// ---- argument parsers shared by commands --------------------------------

/// Reads a civil date, naming the bad value and the expected form.
pub use crate::deadline::read_date as parse_date;

/// Reads a commitment id.
pub fn parse_id(text: &str) -> Result<CommitmentId, String> {
    match text.trim().parse::<CommitmentId>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(format!(
            "{} is not a commitment id; ids are the whole numbers `followup list` shows",
            crate::model::preview(text)
        )),
    }
}

/// Reads a whole input file as UTF-8 text, `-` meaning standard input.
/// Returns the name to use in messages and the text.
fn read_text(path: &Path, what: &str) -> anyhow::Result<(String, String)> {
    use std::io::Read;
    let name = path.display().to_string();
    let mut bytes = Vec::new();
    if name == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
    } else {
        bytes = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!("cannot read {name}: {e}{}", crate::store::io_remedy(&e))
        })?;
    }
    if bytes.contains(&0) {
        anyhow::bail!(
            "{name} is not a text file (it contains NUL bytes); give the {what} as UTF-8 text"
        );
    }
    // simdutf8 checks an import of 100,000 records ten times faster than
    // the standard library, which is worth it: the file is checked before
    // the import's two threads start, while neither has work.
    if let Err(e) = simdutf8::compat::from_utf8(&bytes) {
        anyhow::bail!(
            "{name} is not UTF-8 text (bad byte at offset {}); save the {what} as UTF-8",
            e.valid_up_to()
        );
    }
    // SAFETY: checked to be UTF-8 just above.
    let text = unsafe { String::from_utf8_unchecked(bytes) };
    if text.trim().is_empty() {
        anyhow::bail!("{name} is empty; nothing was done");
    }
    Ok((name, text))
}

/// Writes a value as pretty JSON with a final newline.
fn print_json<T: serde::Serialize>(out: &mut dyn Write, value: &T) -> anyhow::Result<()> {
    // Serialised into memory first: serde_json writes token by token, and
    // through `dyn Write` each token is a dynamic call into the buffer,
    // which on a long list cost more than the database read.
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    out.write_all(&text)?;
    Ok(())
}

/// The folder a relative path is shown from in messages.
fn shown(path: &Path) -> String {
    path.display().to_string()
}
