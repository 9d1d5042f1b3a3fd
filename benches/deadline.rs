//! Throughput of the deadline language: `Deadline::parse` over every
//! expression of the test table, and `deadline::find` over the seed article.
//!
//! Run with `cargo bench --bench deadline` (`DEADLINE_BENCH=parse` or
//! `find` runs one half, for a profiler). Plain `Instant` timing, no
//! framework: each figure is the best of thirty rounds of 100 ms, so that
//! a busy neighbour on a shared machine inflates none of them.

use std::hint::black_box;
use std::time::{Duration, Instant};

use followup::deadline::{Deadline, find};
use jiff::civil::Date;

const ROUNDS: usize = 30;
const ROUND_TIME: Duration = Duration::from_millis(100);

/// The best time per call of `f` over `ROUNDS` rounds of about
/// `ROUND_TIME` each.
fn best_per_call(mut f: impl FnMut()) -> Duration {
    // Warm up caches and the allocator.
    for _ in 0..100 {
        f();
    }
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut calls = 0u32;
        while start.elapsed() < ROUND_TIME {
            for _ in 0..64 {
                f();
            }
            calls += 64;
        }
        best = best.min(start.elapsed() / calls);
    }
    best
}

fn main() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let table = std::fs::read_to_string(format!("{dir}/tests/data/deadlines.tsv"))
        .expect("tests/data/deadlines.tsv");
    let rows: Vec<(Date, String)> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let anchor = cols.next().unwrap().parse().expect("anchor date");
            (anchor, cols.next().unwrap().to_string())
        })
        .collect();
    let article = std::fs::read_to_string(format!(
        "{dir}/tests/data/article-syria-russia-2025-10-15.ar.txt"
    ))
    .expect("seed article");
    let anchor = jiff::civil::date(2025, 10, 15);

    // `DEADLINE_BENCH=parse|find` runs one half only, for profiling.
    let only = std::env::var("DEADLINE_BENCH").unwrap_or_default();
    if only != "find" {
        parse_throughput(&rows);
    }
    if only != "parse" {
        find_time(&article, anchor);
    }
}

fn parse_throughput(rows: &[(Date, String)]) {
    let per_table = best_per_call(|| {
        for (anchor, expr) in rows {
            let _ = black_box(Deadline::parse(black_box(expr), *anchor));
        }
    });
    let per_expr = per_table.as_secs_f64() / rows.len() as f64;
    println!(
        "parse: {} expressions, {:.0} ns/expression, {:.2} million expressions/s",
        rows.len(),
        per_expr * 1e9,
        1e-6 / per_expr
    );
}

fn find_time(article: &str, anchor: Date) {
    let mentions = find(article, anchor).len();
    let per_find = best_per_call(|| {
        black_box(find(black_box(article), anchor));
    });
    println!(
        "find: seed article ({} bytes, {} mentions), {:.1} µs/call",
        article.len(),
        mentions,
        per_find.as_secs_f64() * 1e6
    );
}
