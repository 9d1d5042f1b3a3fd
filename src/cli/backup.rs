//! `backup` and `restore`: a verified copy of the database, taken while
//! the daemon runs, and putting one back while it is stopped. The copying
//! is `store`'s; this file checks the daemon's lock and reports.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{Context, shown};
use crate::daemon::{Holder, InstanceLock};
use crate::store;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write; its folder must exist.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Replace PATH if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup written by `followup backup`.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

pub fn backup(context: &Context, args: BackupArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    // An older database is copied as it is, not migrated first: the copy
    // is the one to keep before this followup migrates it.
    let Some(store) = context.reader_with(crate::store::Check::AsItIs)? else {
        anyhow::bail!(
            "there is no database at {} to back up; check store.path (followup status shows it)",
            shown(&context.config.store.path)
        );
    };
    let report = store.backup(&args.path, args.force)?;
    writeln!(
        out,
        "Backed up {} to {}: {}, {} KiB, schema {}, integrity_check ok ({:.2} s).",
        shown(store.path()),
        shown(&report.path),
        commitments(report.commitments),
        report.bytes.div_ceil(1024),
        report.schema_version,
        report.elapsed.as_secs_f64()
    )?;
    Ok(())
}

pub fn restore(context: &Context, args: RestoreArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::make_data_folder(&context.config)?;
    let database = &context.config.store.path;
    if let Some(folder) = database.parent().filter(|p| !p.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(store::Error::MissingFolder {
            folder: folder.to_path_buf(),
        }
        .into());
    }
    match InstanceLock::holder(database) {
        Holder::Nobody => {}
        Holder::Daemon(pid) => {
            let process = pid.map_or(String::new(), |pid| format!(" (process {pid})"));
            anyhow::bail!(
                "the followup daemon{process} is running on {}; stop it first (systemctl stop followup), then restore; nothing was changed",
                shown(database)
            );
        }
        Holder::Unknown(why) => {
            anyhow::bail!(
                "whether a daemon runs on {} is unknown: {why}; nothing was changed",
                shown(database)
            )
        }
    }
    let staged = store::stage_restore(database, &args.path)?;
    // Held until the restore is done, so no daemon starts half-way.
    let _lock = InstanceLock::acquire(database)?;
    let report = staged.apply(context.now)?;
    let migrated = if report.schema_was < store::schema_version() {
        format!(
            " (brought from schema {} to {})",
            report.schema_was,
            store::schema_version()
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "Restored {} from {}: {}{migrated}.",
        shown(database),
        shown(&args.path),
        commitments(report.commitments)
    )?;
    if let Some(kept) = &report.kept {
        writeln!(out, "The database it replaced is kept as {}.", shown(kept))?;
    }
    Ok(())
}

/// "1 commitment", "2 commitments".
fn commitments(count: impl Into<u64>) -> String {
    match count.into() {
        1 => "1 commitment".to_string(),
        n => format!("{n} commitments"),
    }
}
