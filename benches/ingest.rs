//! Throughput of ingest: one 5,000-word article (the seed article and the
//! short test articles, mixed and repeated) through `ingest::extract`.
//!
//! Run with `cargo bench --bench ingest`. Plain `Instant` timing, no
//! framework: the figure is the best of twenty rounds of 200 ms.

use std::hint::black_box;
use std::time::{Duration, Instant};

use followup::ingest::{Options, extract};
use jiff::civil::date;

const ROUNDS: usize = 20;
const ROUND_TIME: Duration = Duration::from_millis(200);

fn article() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ingest");
    let mut parts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt" || x == "ar"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    parts.sort();
    let mut text = String::new();
    let mut i = 0;
    while text.split_whitespace().count() < 5_000 {
        text.push_str(&parts[i % parts.len()]);
        text.push('\n');
        i += 1;
    }
    text
}

fn main() {
    let text = article();
    let words = text.split_whitespace().count();
    let options = Options::default();
    let today = date(2025, 10, 15);
    let run = || black_box(extract(black_box(&text), None, today, &options));
    let found = run().candidates.len();
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut calls = 0u32;
        while start.elapsed() < ROUND_TIME {
            run();
            calls += 1;
        }
        best = best.min(start.elapsed() / calls);
    }
    println!("ingest: {words} words, {found} candidates, best {best:?} per article");
}
