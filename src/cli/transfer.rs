//! `import` and `export`: whole records in and out, through `transfer`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::Context;
use crate::store::{self, Check, Error, ImportItem, ImportMode, Store};
use crate::transfer::{self, Format, ImportContext};

/// Records handed from the reading thread to the writing one at a time.
const IMPORT_BATCH: usize = 512;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A JSON or CSV file as `export` writes it, or hand-written rows with
    /// at least `title` and `due`; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The file's format. Default: from the file name, else from its first character.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Give every imported commitment a new id instead of keeping the file's ids.
    #[arg(long)]
    pub renumber: bool,
    /// Print the imported ids as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
}

pub fn import(context: &Context, args: ImportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (name, text) = super::read_text(&args.file, "file")?;
    let format = args
        .format
        .unwrap_or_else(|| transfer::detect(&name, &text));
    let import_context = ImportContext {
        now: context.now,
        today: context.today,
        author: context.author.clone(),
        deadline_options: context.deadline_options(),
    };
    let mode = if args.renumber {
        ImportMode::Renumber
    } else {
        ImportMode::KeepIds
    };
    // Reading and checking records is about a quarter of an import's work
    // and independent of the database: one thread reads while this one
    // writes. The store commits only once the reader has handed over every
    // record; a bad record arrives as an error and rolls everything back.
    //
    // Records cross in batches: handing them over one by one cost a wake-up
    // of the other thread per record, a tenth of the whole import.
    let (batches, arriving) = std::sync::mpsc::sync_channel::<Result<Vec<ImportItem>, String>>(4);
    // Records written go back to the reading thread to be freed there (see
    // `Store::import_then`).
    let (written, spent) = std::sync::mpsc::channel::<Vec<ImportItem>>();
    let (text, name, import_context) = (&text, &name, &import_context);
    // Into a path with no database yet, the import builds one under a
    // staging name and gives it the real name only once it is complete:
    // a refused import then leaves nothing behind (see
    // `Store::put_in_place`).
    let database = &context.config.store.path;
    let staging = (!database.exists()).then(|| store::staging_path(database));
    let folder = database.parent().filter(|folder| !folder.exists());
    let imported = std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(IMPORT_BATCH);
            let read = transfer::read_each(text, format, import_context, |item| {
                batch.push(item);
                if batch.len() < IMPORT_BATCH {
                    return true;
                }
                spent.try_iter().for_each(drop);
                let full = std::mem::replace(&mut batch, Vec::with_capacity(IMPORT_BATCH));
                batches.send(Ok(full)).is_ok()
            });
            // A closed channel means the import has already failed.
            let _ = match read {
                Ok(()) => batches.send(Ok(batch)),
                Err(e) => batches.send(Err(format!("{name}: {e}; nothing was imported"))),
            };
            drop(batches);
            // Until the import ends and drops the sender.
            spent.iter().for_each(drop);
        });
        // Opened while the first records are read: for a new database,
        // creating the schema is tens of milliseconds of fsyncs. Should it
        // fail, the receiver is dropped with this closure and the reader
        // stops at its next batch.
        let mut store = match &staging {
            Some(staging) => {
                super::make_data_folder(&context.config)?;
                Store::open(staging, Check::Staged)?
            }
            None => context.store()?,
        };
        // The receiver moves into the import and is dropped when it ends,
        // so a reader blocked on a full channel is released on failure.
        let items = arriving.into_iter().flat_map(|batch| {
            let (items, failed) = match batch {
                Ok(items) => (items, None),
                Err(e) => (Vec::new(), Some(Err(e))),
            };
            items.into_iter().map(Ok).chain(failed)
        });
        let mut done = Vec::with_capacity(IMPORT_BATCH);
        let ids = store
            .import_then(items, mode, move |item| {
                done.push(item);
                if done.len() == IMPORT_BATCH {
                    let _ = written.send(std::mem::replace(
                        &mut done,
                        Vec::with_capacity(IMPORT_BATCH),
                    ));
                }
            })
            .map_err(|e| match e {
                // Named by file as well as line, as a record that could
                // not be read is.
                Error::RecordRefused { origin, why } => Error::RecordRefused {
                    origin: format!("{name}: {origin}"),
                    why,
                },
                other => other,
            })?;
        anyhow::Ok((ids, store))
    });
    let ids = match (imported, &staging) {
        (Ok((ids, store)), Some(_)) => {
            store.put_in_place(database)?;
            ids
        }
        (Ok((ids, _)), None) => ids,
        (Err(err), Some(staging)) => {
            store::discard_staged(staging);
            // The data folder made for it, if empty: removing a folder
            // fails on one that holds anything.
            if let Some(folder) = folder {
                let _ = std::fs::remove_dir(folder);
            }
            return Err(err);
        }
        (Err(err), None) => return Err(err),
    };
    if args.json {
        super::print_json(out, &serde_json::json!({ "imported": ids }))?;
    } else {
        let commitments = if ids.len() == 1 {
            "commitment"
        } else {
            "commitments"
        };
        writeln!(out, "Imported {} {commitments} from {name}.", ids.len())?;
    }
    Ok(())
}

pub fn export(context: &Context, args: ExportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(store) = context.reader()? else {
        match args.format {
            Format::Json => writeln!(out, "[]")?,
            Format::Csv => transfer::write_csv(&[], out)?,
        }
        eprintln!("note: {}", context.no_database_yet());
        return Ok(());
    };
    match args.format {
        // Written as it is read, straight from the rows.
        Format::Json => store.export_json(out)?,
        Format::Csv => transfer::write_csv(&store.export()?, out)?,
    }
    Ok(())
}
