//! The `followup` binary: parse arguments, run, turn the outcome into an
//! exit status. Everything else lives in the library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match followup::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let daemon = matches!(cli.command, followup::cli::Command::Daemon(_));
    init_logging(daemon);
    let bulk = matches!(
        cli.command,
        followup::cli::Command::Export(_) | followup::cli::Command::List(_)
    );
    if bulk {
        widen_stdout_pipe();
    }
    let stdout = std::io::stdout();
    let mut out: std::io::BufWriter<Box<dyn Write>> =
        std::io::BufWriter::new(match bulk.then(stdout_unsplit).flatten() {
            Some(file) => Box::new(file),
            None => Box::new(stdout.lock()),
        });
    let result = followup::cli::run(cli, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            drop(out);
            // A path or other text from outside may hold an escape
            // sequence or a line break: shown as symbols, not obeyed.
            eprintln!("error: {}", followup::cli::for_terminal(&one_line(&err)));
            if daemon && is_configuration(&err) {
                ExitCode::from(EX_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A mistake in the arguments, said on one line as every other error is:
/// clap spreads it over several (the error, the values allowed, a usage
/// line, a pointer to `--help`). Help and the version are written as clap
/// lays them out.
fn usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let code = ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return code;
    }
    eprintln!("{}", lines_joined(&err.render().to_string()));
    code
}

/// Non-empty lines, trimmed, joined into one: after a line ending in a
/// colon by a space (what follows is its list), otherwise by "; ".
fn lines_joined(text: &str) -> String {
    let mut joined = String::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if !joined.is_empty() {
            joined.push_str(if joined.ends_with(':') { " " } else { "; " });
        }
        joined.push_str(line);
    }
    joined
}

/// sysexits(3)'s "configuration error". The systemd unit names it in
/// `RestartPreventExitStatus=`: a daemon that cannot start with its config
/// (or cannot set up mail with it) will not start with it five seconds
/// later either, so systemd stops trying and says so, instead of
/// restarting it for ever.
const EX_CONFIG: u8 = 78;

fn is_configuration(err: &anyhow::Error) -> bool {
    use followup::store::Error as Store;
    err.chain().any(|cause| {
        cause.is::<followup::config::Error>()
            || cause.is::<followup::mail::Error>()
            || cause
                .downcast_ref::<followup::daemon::LockFileError>()
                .is_some_and(|lock| {
                    // A folder may yet appear (a disk mounted late).
                    !matches!(lock, followup::daemon::LockFileError::MissingFolder { .. })
                })
            // A database the daemon cannot use as it is, whose fix is
            // someone's work, not time: restarting every five seconds
            // would only fill the journal.
            || cause.downcast_ref::<Store>().is_some_and(|store| {
                matches!(
                    store,
                    Store::HardLinked { .. }
                        | Store::NotADatabase { .. }
                        | Store::Foreign { .. }
                        | Store::Corrupt { .. }
                        | Store::NewerSchema { .. }
                        | Store::Migration { .. }
                )
            })
    })
}

/// An export or a long list goes out in writes of hundreds of kilobytes.
/// Into a pipe of the default 64 KiB, this process and its reader would
/// take turns a dozen times for each; a pipe of 1 MiB (the most an
/// unprivileged process may ask for by default) takes each in one turn.
/// Where stdout is not a pipe, or the pipe cannot grow, nothing changes.
fn widen_stdout_pipe() {
    use std::os::fd::AsRawFd;
    let fd = std::io::stdout().as_raw_fd();
    // SAFETY: F_SETPIPE_SZ takes an integer and touches no memory of ours.
    unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20) };
}

/// Stdout as a file of its own, for output written in chunks of hundreds
/// of kilobytes. Rust's stdout is line-buffered: it splits each chunk at
/// its last line break, writes the lines, and holds the rest (a record,
/// about a kilobyte) for the next write, so an export made two writes of
/// every chunk and each large one started part-way into a page. A second
/// descriptor for the same open file writes each chunk whole. Nothing else
/// of followup's writes to stdout, so the two cannot interleave; `None`
/// where the descriptor cannot be had (then the chunks go through stdout
/// as before).
fn stdout_unsplit() -> Option<std::fs::File> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    Some(std::fs::File::from(fd))
}

/// The error and its causes on one line. Most of followup's errors
/// already say their cause in their own words ("cannot read config file
/// …: No such file or directory; check --config …"); a cause is added
/// only where the message does not already carry it, so none is said
/// twice.
fn one_line(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// A reader that stopped early (`followup list | head`) is not an error.
/// JSON output fails with serde_json's error, which carries the I/O error
/// inside rather than as its source.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|json| json.io_error_kind() == Some(BrokenPipe))
    })
}

/// Logs go to journald when systemd connected stderr to the journal, else
/// to stderr. The daemon logs at info, commands only warnings; `RUST_LOG`
/// overrides either.
fn init_logging(daemon: bool) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::prelude::*;
    // The migration library logs each run at info, including the one on
    // an empty database in memory that `doctor` and the daemon's start
    // compare the file with ("migrated to version 9" on every start);
    // the store logs real upgrades itself.
    let default = if daemon {
        "info,rusqlite_migration=warn"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let registry = tracing_subscriber::registry().with(filter);
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journald) = tracing_journald::layer()
    {
        registry.with(journald).init();
        return;
    }
    registry
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
}
