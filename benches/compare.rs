//! followup side by side with remind and Taskwarrior, on equivalent
//! workloads, in one run. `cargo bench --bench compare` (needs the Debian
//! packages `remind` and `taskwarrior`).
//!
//! 1. remind: 100,000 dated items, each to be announced 14 days ahead;
//!    "what needs a reminder on day D" is `remind -q -a FILE D`, and for
//!    followup `list --status open --due-before D+15` (no item is overdue on
//!    D, so both name the same items; the counts are checked).
//! 2. Taskwarrior: 10,000 items, then one add, modify/revise, done/close,
//!    overdue list and export each, timed per command; then, for scale,
//!    the export's bytes alone written from memory through the same pipe.
//!
//! Every figure is the median wall time of several runs of the real
//! binaries (followup's release binary installed, as the other tools are:
//! see `shared/installed.rs`), one process per command, as a user would
//! run them, the output
//! read through a pipe as it comes (export also into a file and to
//! /dev/null). The two tools take turns, run by run (each going first in
//! every other round), so that a machine slowing down or speeding up over
//! the minutes a workload takes weighs on both alike, not on whichever ran
//! second.
//! `FOLLOWUP_COMPARE_SCALE` (default 1) divides both sizes, for a quick look.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jiff::ToSpan;
use jiff::civil::Date;

#[path = "shared/installed.rs"]
mod installed;

const RUNS: usize = 21;

fn main() {
    if let Some(file) = std::env::var_os(WRITE_FILE) {
        write_file(Path::new(&file));
        return;
    }
    for (tool, package) in [("remind", "remind"), ("task", "taskwarrior")] {
        if Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!("`{tool}` is not installed: apt-get install {package}");
            std::process::exit(2);
        }
    }
    let scale: usize = std::env::var("FOLLOWUP_COMPARE_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&s| s > 0)
        .unwrap_or(1);
    let dir = tempfile::tempdir().expect("temp dir");
    installed::install_in(dir.path());
    println!("| workload | other tool | followup | other / followup |");
    println!("|---|---|---|---|");
    against_remind(&dir.path().join("remind"), 100_000 / scale);
    against_taskwarrior(&dir.path().join("task"), 10_000 / scale);
}

fn against_remind(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let day = Date::constant(2026, 3, 2);
    let mut reminders = String::with_capacity(n * 48);
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        // Spread over a year from D, so about one in 26 is within 14 days.
        let due = day.checked_add((((i * 7919) % 365) as i64).days()).unwrap();
        let title = format!("Commitment {i}: hold the joint committee meeting");
        reminders.push_str(&format!(
            "REM {} {} {} +14 MSG {title}\n",
            due.day(),
            month_name(due.month()),
            due.year()
        ));
        records.push(serde_json::json!({
            "title": title,
            "due": due.to_string(),
            "announced": "2026-01-01",
        }));
    }
    let remind_file = dir.join("commitments.rem");
    std::fs::write(&remind_file, reminders).unwrap();
    let import = dir.join("commitments.json");
    std::fs::write(&import, serde_json::to_vec(&records).unwrap()).unwrap();
    followup(dir, &["import", import.to_str().unwrap()]);
    settle();

    let day_text = day.to_string();
    let remind_args = ["-q", "-a", remind_file.to_str().unwrap(), &day_text];
    let remind_count = String::from_utf8(output(command("remind", &remind_args, dir)))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("Commitment "))
        .count();
    let until = day.checked_add(15.days()).unwrap().to_string();
    let list = ["list", "--status", "open", "--due-before", &until];
    let followup_count = String::from_utf8(followup(dir, &list))
        .unwrap()
        .lines()
        .filter(|l| l.contains("Commitment "))
        .count();
    assert_eq!(
        remind_count, followup_count,
        "remind and followup must name the same items"
    );
    let (theirs, ours) = side_by_side(&Sink::Pipe, |tool| match tool {
        Tool::Theirs => command("remind", &remind_args, dir),
        Tool::Ours => followup_command(dir, &list),
    });
    row(
        &format!("what is due on D ({n} items, {followup_count} named)"),
        theirs,
        ours,
    );
}

fn against_taskwarrior(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("task")).unwrap();
    let taskrc = dir.join("taskrc");
    std::fs::write(
        &taskrc,
        format!(
            "data.location={}\nconfirmation=off\nverbose=nothing\ngc=off\nhooks=off\nrecurrence=off\n",
            dir.join("task").display()
        ),
    )
    .unwrap();
    let task = |args: &[&str]| -> Command {
        let mut full = vec![format!("rc:{}", taskrc.display())];
        full.extend(args.iter().map(|a| a.to_string()));
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        command("task", &full, dir)
    };

    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let mut tasks = Vec::with_capacity(n);
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        // A quarter overdue, the rest due over the coming year.
        let offset = (i * 7919) % 480;
        let due = today.checked_add((offset as i64 - 120).days()).unwrap();
        let title = format!("Commitment {i}: release the detainees");
        tasks.push(serde_json::json!({
            "description": title,
            "status": "pending",
            "entry": "20260101T000000Z",
            "due": format!("{}T120000Z", due.strftime("%Y%m%d")),
            "uuid": format!("00000000-0000-4000-8000-{i:012}"),
        }));
        records.push(serde_json::json!({
            "title": title,
            "due": due.to_string(),
            "announced": "2025-11-01",
        }));
    }
    let task_file = dir.join("tasks.json");
    std::fs::write(&task_file, serde_json::to_vec(&tasks).unwrap()).unwrap();
    output(task(&["import", task_file.to_str().unwrap()]));
    let import = dir.join("commitments.json");
    std::fs::write(&import, serde_json::to_vec(&records).unwrap()).unwrap();
    followup(dir, &["import", import.to_str().unwrap()]);
    settle();

    let due = today.checked_add(40.days()).unwrap().to_string();
    // Beyond every generated deadline, so that each revise moves one.
    let later = today.checked_add(400.days()).unwrap().to_string();
    let task_due = format!("due:{due}");
    let task_later = format!("due:{later}");
    let label = |what: &str| format!("{what} ({n} items)");

    let (theirs, ours) = side_by_side(&Sink::Pipe, |tool| match tool {
        Tool::Theirs => task(&["add", "Hold the committee meeting", &task_due]),
        Tool::Ours => followup_command(dir, &["add", "Hold the committee meeting", "--due", &due]),
    });
    row(&label("add"), theirs, ours);

    // Different items each run, so each change is a real one.
    let mut next = 0;
    let mut pick = || {
        next += 1;
        next * 97 % n + 1
    };
    let (theirs, ours) = side_by_side(&Sink::Pipe, |tool| match tool {
        Tool::Theirs => task(&[&pick().to_string(), "modify", &task_later]),
        Tool::Ours => followup_command(dir, &["revise", &pick().to_string(), "--due", &later]),
    });
    row(&label("modify / revise"), theirs, ours);

    let (theirs, ours) = side_by_side(&Sink::Pipe, |tool| match tool {
        Tool::Theirs => task(&[&pick().to_string(), "done"]),
        Tool::Ours => followup_command(
            dir,
            &["close", &pick().to_string(), "--outcome", "fulfilled"],
        ),
    });
    row(&label("done / close"), theirs, ours);

    let (theirs, ours) = side_by_side(&Sink::Pipe, |tool| match tool {
        Tool::Theirs => task(&["overdue"]),
        Tool::Ours => followup_command(dir, &["list", "--overdue"]),
    });
    row(&label("overdue list"), theirs, ours);

    // The writes above (both tools') are still being flushed to disk.
    settle();
    // The export where a user's goes: through a pipe to a program reading
    // it as it comes, into a file, and (the command's own work alone) to
    // /dev/null.
    let exported = dir.join("export.json");
    for (sink, how) in [
        (Sink::Pipe, "through a pipe"),
        (Sink::File(&exported), "into a file"),
        (Sink::Null, "to /dev/null"),
    ] {
        let (theirs, ours) = side_by_side(&sink, |tool| match tool {
            Tool::Theirs => task(&["export"]),
            Tool::Ours => followup_command(dir, &["export"]),
        });
        row(&label(&format!("export, {how}")), theirs, ours);
    }

    // How much of the pipe's figure is the bytes alone: the same export,
    // already written, sent through a pipe as followup sends it (widened
    // to 1 MiB) and read the same way.
    std::fs::write(&exported, followup(dir, &["export"])).unwrap();
    let bytes = std::fs::metadata(&exported).unwrap().len();
    let (theirs, alone) = side_by_side(&Sink::Pipe, |tool| match tool {
        Tool::Theirs => task(&["export"]),
        Tool::Ours => write_through_pipe(&exported),
    });
    row(
        &format!(
            "export's {:.1} MB alone, from memory, through a pipe, for scale",
            bytes as f64 / 1e6
        ),
        theirs,
        alone,
    );
}

/// Set to a file's path, this bench only writes that file to stdout.
const WRITE_FILE: &str = "FOLLOWUP_COMPARE_WRITE_FILE";

/// The bench's own binary, to write `file`'s bytes to stdout (see
/// `write_file`).
fn write_through_pipe(file: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the bench's own path"));
    command.env(WRITE_FILE, file);
    command
}

/// Reads `file` into memory and writes it to stdout at once, through a
/// pipe widened as followup widens it.
fn write_file(file: &Path) {
    use std::io::Write;
    let bytes = std::fs::read(file).expect("the export to write");
    // SAFETY: F_SETPIPE_SZ takes an integer and touches no memory of ours.
    unsafe { libc::fcntl(1, libc::F_SETPIPE_SZ, 1 << 20) };
    std::io::stdout()
        .lock()
        .write_all(&bytes)
        .expect("writing the export");
}

fn month_name(month: i8) -> &'static str {
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][month as usize - 1]
}

/// Writes out what setting up left in the page cache, so the kernel's
/// flusher (writing back the freshly imported database and task files)
/// does not compete with the first tool measured.
fn settle() {
    let _ = Command::new("sync").status();
}

fn followup_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(installed::followup());
    command
        .args(args)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("FOLLOWUP_AUTHOR", "bench")
        .env_remove("FOLLOWUP_CONFIG");
    command
}

/// followup's output, for setting up and checking (not timed).
fn followup(dir: &Path, args: &[&str]) -> Vec<u8> {
    output(followup_command(dir, args))
}

fn command(program: &str, args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    command
}

/// A command's whole output, for setting up and checking (not timed).
fn output(mut command: Command) -> Vec<u8> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Where a timed command's output goes.
enum Sink<'a> {
    /// A pipe, read as it comes into one buffer of 1 MiB and dropped, as
    /// `jq`, `grep` or `cat` would read it: both tools are read the same
    /// way, at the cost of their output alone. (Gathering the whole output
    /// in a growing vector, as `Command::output` does, cost the reader
    /// more than some of the commands it timed.)
    Pipe,
    /// A new file, as by `> export-2026-11-30.json` in a shell (the last
    /// run's file is removed before the clock starts: taking a file of
    /// megabytes out of the page cache is the removal's work, not the
    /// export's).
    File(&'a Path),
    /// /dev/null: the command's own work alone.
    Null,
}

impl Sink<'_> {
    /// Makes ready for the next run: no file left from the last.
    fn clear(&self) {
        if let Sink::File(path) = self {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => panic!("cannot remove {}: {err}", path.display()),
            }
        }
    }

    /// Runs `command` to its end, its output going here.
    fn run(&self, command: &mut Command) {
        use std::io::Read;
        command.stdin(Stdio::null()).stderr(Stdio::null());
        let status = match self {
            Sink::Null => command.stdout(Stdio::null()).status(),
            Sink::File(path) => {
                let file = std::fs::File::create_new(path).expect("a new export file");
                command.stdout(file).status()
            }
            Sink::Pipe => {
                let mut child = command
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
                let mut stdout = child.stdout.take().expect("a piped stdout");
                PIPE_BUFFER.with_borrow_mut(|buffer| {
                    while stdout.read(buffer).expect("reading the output") > 0 {}
                });
                child.wait()
            }
        };
        let status = status.unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        assert!(
            status.success(),
            "{command:?} failed ({status}); run it by hand to see why"
        );
    }
}

thread_local! {
    static PIPE_BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 1 << 20]);
}

/// Which of the two tools a run is of.
#[derive(Clone, Copy)]
enum Tool {
    Theirs,
    Ours,
}

/// The median wall times of `RUNS` runs of each tool, taking turns, each
/// command's output going to `sink`.
fn side_by_side(sink: &Sink<'_>, mut command: impl FnMut(Tool) -> Command) -> (Duration, Duration) {
    let mut theirs = Vec::with_capacity(RUNS);
    let mut ours = Vec::with_capacity(RUNS);
    for round in 0..RUNS {
        let order = if round % 2 == 0 {
            [Tool::Theirs, Tool::Ours]
        } else {
            [Tool::Ours, Tool::Theirs]
        };
        for tool in order {
            let mut command = command(tool);
            sink.clear();
            let start = Instant::now();
            sink.run(&mut command);
            let took = start.elapsed();
            match tool {
                Tool::Theirs => theirs.push(took),
                Tool::Ours => ours.push(took),
            }
        }
    }
    (median(theirs), median(ours))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn row(what: &str, theirs: Duration, ours: Duration) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {what} | {:.1} ms | {:.1} ms | {:.1}× |",
        ms(theirs),
        ms(ours),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}
