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
//! binaries, one process per command, as a user would run them. The two
//! tools take turns, run by run (each going first in every other round),
//! so that a machine slowing down or speeding up over the minutes a
//! workload takes weighs on both alike, not on whichever ran second.
//! `FOLLOWUP_COMPARE_SCALE` (default 1) divides both sizes, for a quick look.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jiff::ToSpan;
use jiff::civil::Date;

const RUNS: usize = 9;

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
    let remind_count = String::from_utf8(run("remind", &remind_args, dir))
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
    let (theirs, ours) = side_by_side(|tool| match tool {
        Tool::Theirs => run("remind", &remind_args, dir),
        Tool::Ours => followup(dir, &list),
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
    let task = |args: &[&str]| -> Vec<u8> {
        let mut full = vec![format!("rc:{}", taskrc.display())];
        full.extend(args.iter().map(|a| a.to_string()));
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        run("task", &full, dir)
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
    task(&["import", task_file.to_str().unwrap()]);
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

    let (theirs, ours) = side_by_side(|tool| match tool {
        Tool::Theirs => task(&["add", "Hold the committee meeting", &task_due]),
        Tool::Ours => followup(dir, &["add", "Hold the committee meeting", "--due", &due]),
    });
    row(&label("add"), theirs, ours);

    // Different items each run, so each change is a real one.
    let mut next = 0;
    let mut pick = || {
        next += 1;
        next * 97 % n + 1
    };
    let (theirs, ours) = side_by_side(|tool| match tool {
        Tool::Theirs => task(&[&pick().to_string(), "modify", &task_later]),
        Tool::Ours => followup(dir, &["revise", &pick().to_string(), "--due", &later]),
    });
    row(&label("modify / revise"), theirs, ours);

    let (theirs, ours) = side_by_side(|tool| match tool {
        Tool::Theirs => task(&[&pick().to_string(), "done"]),
        Tool::Ours => followup(
            dir,
            &["close", &pick().to_string(), "--outcome", "fulfilled"],
        ),
    });
    row(&label("done / close"), theirs, ours);

    let (theirs, ours) = side_by_side(|tool| match tool {
        Tool::Theirs => task(&["overdue"]),
        Tool::Ours => followup(dir, &["list", "--overdue"]),
    });
    row(&label("overdue list"), theirs, ours);

    let (theirs, ours) = side_by_side(|tool| match tool {
        Tool::Theirs => task(&["export"]),
        Tool::Ours => followup(dir, &["export"]),
    });
    row(&label("export"), theirs, ours);

    // How much of that is the bytes alone: the same export, already
    // written, sent through a pipe as followup sends it (widened to 1 MiB)
    // and read as every command above is read.
    let exported = dir.join("export.json");
    std::fs::write(&exported, followup(dir, &["export"])).unwrap();
    let bytes = std::fs::metadata(&exported).unwrap().len();
    let (theirs, alone) = side_by_side(|tool| match tool {
        Tool::Theirs => task(&["export"]),
        Tool::Ours => write_through_pipe(&exported),
    });
    row(
        &format!(
            "export's {:.1} MB alone, from memory, for scale",
            bytes as f64 / 1e6
        ),
        theirs,
        alone,
    );
}

/// Set to a file's path, this bench only writes that file to stdout.
const WRITE_FILE: &str = "FOLLOWUP_COMPARE_WRITE_FILE";

/// The file's bytes written to stdout by this bench's own binary, which
/// `write_file` does in a fresh process.
fn write_through_pipe(file: &Path) -> Vec<u8> {
    let mut command = Command::new(std::env::current_exe().expect("the bench's own path"));
    command.env(WRITE_FILE, file);
    output(command, "the bench's writer", &[])
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

fn followup(dir: &Path, args: &[&str]) -> Vec<u8> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_followup"));
    command
        .args(args)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("FOLLOWUP_AUTHOR", "bench")
        .env_remove("FOLLOWUP_CONFIG");
    output(command, "followup", args)
}

fn run(program: &str, args: &[&str], dir: &Path) -> Vec<u8> {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    output(command, program, args)
}

fn output(mut command: Command, program: &str, args: &[&str]) -> Vec<u8> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Which of the two tools a run is of.
#[derive(Clone, Copy)]
enum Tool {
    Theirs,
    Ours,
}

/// The median wall times of `RUNS` runs of each tool, taking turns.
fn side_by_side(mut once: impl FnMut(Tool) -> Vec<u8>) -> (Duration, Duration) {
    let mut theirs = Vec::with_capacity(RUNS);
    let mut ours = Vec::with_capacity(RUNS);
    for round in 0..RUNS {
        let order = if round % 2 == 0 {
            [Tool::Theirs, Tool::Ours]
        } else {
            [Tool::Ours, Tool::Theirs]
        };
        for tool in order {
            let start = Instant::now();
            once(tool);
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
