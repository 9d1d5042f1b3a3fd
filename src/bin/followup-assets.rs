//! `followup-assets DIR`: writes the man pages and shell completions that
//! packages install, generated from the clap definitions of `followup`
//! itself, so they always say what `--help` says.
//!
//! It writes `DIR/man/man1/followup.1` with one page per command
//! (`followup-add.1`, `followup-config-check.1`, …), and the completions
//! under the names each shell looks for: `DIR/bash/followup`,
//! `DIR/zsh/_followup` and `DIR/fish/followup.fish`. It is a build tool, not
//! part of what is installed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory, Parser};
use clap_complete::Shell;
use followup::cli::Cli;

/// Write followup's man pages and shell completions into a folder.
#[derive(Debug, Parser)]
#[command(name = "followup-assets", version)]
struct Args {
    /// Folder to write into; created if missing, files in it replaced.
    dir: PathBuf,
}

/// Each shell and the file it loads completions for `followup` from.
const COMPLETIONS: [(Shell, &str); 3] = [
    (Shell::Bash, "bash/followup"),
    (Shell::Zsh, "zsh/_followup"),
    (Shell::Fish, "fish/followup.fish"),
];

/// Sections clap knows nothing about, appended to `followup.1`.
const MAIN_PAGE_EXTRA: &str = r#".SH ENVIRONMENT
.TP
\fBFOLLOWUP_CONFIG\fR
The config file when \fB\-\-config\fR is not given. Without either,
embedded defaults keep the database in \fI$XDG_DATA_HOME/followup\fR
(else \fI~/.local/share/followup\fR, or \fI$STATE_DIRECTORY\fR under systemd).
.TP
\fBFOLLOWUP_AUTHOR\fR
The name history records for changes; else \fB$USER\fR.
.TP
\fBRUST_LOG\fR
The log level, e.g. \fBdebug\fR; the daemon logs at info, commands only warnings.
.TP
\fBCREDENTIALS_DIRECTORY\fR
Where the daemon finds \fIsmtp\-password\fR under systemd (LoadCredential=).
.SH FILES
.TP
\fI/etc/followup/followup.toml\fR
The config file the packaged service uses; \fBfollowup config check\fR validates it.
.TP
\fI/etc/followup/smtp\-password\fR
The SMTP password (root only, mode 0600), passed to the service as a credential.
.TP
\fI/var/lib/followup/followup.db\fR
The database of the packaged service; members of group followup may use it.
.SH "SEE ALSO"
\fBsystemctl\fR(1), \fBjournalctl\fR(1), \fBsystemd.exec\fR(5)
"#;

fn main() -> ExitCode {
    let args = Args::parse();
    match write_assets(&args.dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn write_assets(dir: &Path) -> anyhow::Result<()> {
    let mut command = Cli::command().disable_help_subcommand(true);
    // Building propagates the global --config to every command and gives
    // each its full name ("followup add"), which the pages show.
    command.build();
    let man = dir.join("man/man1");
    create_dir(&man)?;
    write_man_pages(&command, &man, &page_date()?, true)?;

    for (shell, file) in COMPLETIONS {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            create_dir(parent)?;
        }
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "followup", &mut script);
        write(&path, &script)?;
    }
    Ok(())
}

/// Writes the page of `command` and, recursively, of each of its commands.
fn write_man_pages(
    command: &clap::Command,
    dir: &Path,
    date: &str,
    main: bool,
) -> anyhow::Result<()> {
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_man_pages(sub, dir, date, false)?;
    }
    // Every field is set: an empty one would shift the others in `.TH`.
    let page = clap_mangen::Man::new(command.clone())
        .date(date)
        .source(concat!("followup ", env!("CARGO_PKG_VERSION")))
        .manual("User Commands");
    let mut text = Vec::new();
    page.render(&mut text)?;
    if main {
        text.extend_from_slice(MAIN_PAGE_EXTRA.as_bytes());
    }
    write(&dir.join(page.get_filename()), &text)
}

/// The date pages carry: `$SOURCE_DATE_EPOCH` for reproducible builds, else today.
fn page_date() -> anyhow::Result<String> {
    let now = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(seconds) => seconds
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .with_context(|| {
                format!("SOURCE_DATE_EPOCH={seconds:?} is not a Unix time in seconds")
            })?,
        Err(_) => jiff::Timestamp::now(),
    };
    Ok(now.strftime("%Y-%m-%d").to_string())
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn write(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))
}
