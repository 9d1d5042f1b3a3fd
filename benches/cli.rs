//! Benchmark of the CLI on a large database, run as a user would: the real
//! release binary, installed (see `shared/installed.rs`), one process per
//! command.
//!
//! `cargo bench --bench cli` imports 100,000 commitments, then times
//! `list --overdue --json` and `show ID` (median of several runs, wall clock
//! and the child's user+system CPU time), `backup`, `restore` of that
//! backup, and `doctor`. `FOLLOWUP_BENCH_N` changes the size;
//! `FOLLOWUP_BENCH_QUICK=1` stops after `show` (the scale curve,
//! `bench/scale`, needs no more).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "shared/installed.rs"]
mod installed;

fn main() {
    let n: usize = std::env::var("FOLLOWUP_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // FOLLOWUP_BENCH_KEEP=DIR keeps the database there for profiling.
    let kept = std::env::var_os("FOLLOWUP_BENCH_KEEP").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = match &kept {
        Some(path) => {
            std::fs::create_dir_all(path).expect("create FOLLOWUP_BENCH_KEEP");
            tempfile::TempDir::with_prefix_in("bench", path)
                .expect("temp dir")
                .keep()
        }
        None => temp.path().to_path_buf(),
    };
    let dir = dir.as_path();
    installed::install_in(dir);
    let data = dir.join("commitments.json");
    let overdue = write_workload(&data, n);
    println!("followup CLI benchmark: {n} commitments ({overdue} open and overdue)");

    let (wall, cpu) = time(dir, &["import", data.to_str().unwrap()]);
    report("import", &[(wall, cpu)]);

    let runs: Vec<_> = (0..7)
        .map(|_| time(dir, &["list", "--overdue", "--json"]))
        .collect();
    report("list --overdue --json", &runs);

    let id = (n / 2).to_string();
    let runs: Vec<_> = (0..15).map(|_| time(dir, &["show", &id])).collect();
    report("show ID", &runs);
    let runs: Vec<_> = (0..15)
        .map(|_| time(dir, &["show", &id, "--json"]))
        .collect();
    report("show ID --json", &runs);
    if std::env::var_os("FOLLOWUP_BENCH_QUICK").is_some() {
        database_size(dir);
        return;
    }

    let backup = dir.join("backup.db");
    let backup = backup.to_str().unwrap();
    let runs: Vec<_> = (0..3)
        .map(|_| time(dir, &["backup", backup, "--force"]))
        .collect();
    report("backup PATH", &runs);
    let runs: Vec<_> = (0..3).map(|_| time(dir, &["restore", backup])).collect();
    report("restore PATH", &runs);
    // doctor exits 1 here: no daemon runs. Timed all the same.
    let runs: Vec<_> = (0..3).map(|_| time_any(dir, &["doctor"])).collect();
    report("doctor", &runs);
    database_size(dir);
}

fn database_size(dir: &Path) {
    let size = std::fs::metadata(dir.join("data/followup/followup.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("database size: {:.1} MiB", size as f64 / (1 << 20) as f64);
}

/// Writes `n` hand-written-style records: one in five open, half of those
/// overdue, the rest closed with outcomes, as a desk's archive looks after
/// a few years. Returns how many are open and overdue.
fn write_workload(path: &Path, n: usize) -> usize {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let tags = [
        "syria", "russia", "energy", "aid", "security", "gulf", "gas",
    ];
    let outcomes = ["fulfilled", "partial", "missed", "withdrawn"];
    let mut overdue = 0;
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let offset = (i as i64 * 7919) % 1460 - 1000;
        let latest = today.checked_add(jiff::Span::new().days(offset)).unwrap();
        // Sixty days before the deadline, or today for one further off:
        // an import refuses an announcement dated after today.
        let announced = latest
            .checked_sub(jiff::Span::new().days(60))
            .unwrap()
            .min(today);
        let open = i % 5 == 0;
        if open && latest < today {
            overdue += 1;
        }
        let mut row = serde_json::json!({
            "title": format!("Commitment {i}: hold the joint committee meeting on reconstruction"),
            "due": latest.to_string(),
            "announced": announced.to_string(),
            "actors": ["Syria", "Russia"],
            "tags": [tags[i % tags.len()], tags[(i / 7) % tags.len()]],
            "source": format!("https://example.org/news/{i}"),
            "quote": "كما تم الاتفاق على عقد اجتماع للجنة حكومية دولية مشتركة في غضون شهرين",
        });
        if !open {
            row["status"] = outcomes[i % 4].into();
        }
        rows.push(row);
    }
    std::fs::write(path, serde_json::to_vec(&rows).unwrap()).unwrap();
    overdue
}

/// Runs the binary once; returns wall time and the child's CPU time.
fn time(dir: &Path, args: &[&str]) -> (Duration, Duration) {
    let (wall, cpu, success) = run(dir, args);
    assert!(success, "followup {args:?} failed");
    (wall, cpu)
}

/// Like `time`, whatever the exit status.
fn time_any(dir: &Path, args: &[&str]) -> (Duration, Duration) {
    let (wall, cpu, _) = run(dir, args);
    (wall, cpu)
}

fn run(dir: &Path, args: &[&str]) -> (Duration, Duration, bool) {
    let before = children_cpu();
    let start = Instant::now();
    let status = Command::new(installed::followup())
        .args(args)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("FOLLOWUP_CONFIG")
        .stdout(Stdio::null())
        .status()
        .expect("run followup");
    let wall = start.elapsed();
    (wall, children_cpu() - before, status.success())
}

fn children_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_CHILDREN is valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn report(name: &str, runs: &[(Duration, Duration)]) {
    let mut walls: Vec<Duration> = runs.iter().map(|r| r.0).collect();
    let mut cpus: Vec<Duration> = runs.iter().map(|r| r.1).collect();
    walls.sort();
    cpus.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<24} median wall {:>9.2} ms   median cpu {:>9.2} ms   ({} runs)",
        ms(walls[walls.len() / 2]),
        ms(cpus[cpus.len() / 2]),
        runs.len()
    );
}
