//! Golden digests: every built-in scenario's outputs for seeds 0..=20, as a committed digest
//! per (scenario, seed). A change that alters any output fails here and must update
//! `tests/golden/digests.tsv` in the same commit, saying why:
//!
//! ```sh
//! KAFKA_SIM_BLESS=1 cargo test --test golden
//! ```
//!
//! Each row holds the FNV-1a 64 digests of the run's JSON lines (`--format json`), its text
//! (`--format text`) and its `--check` tables under every claim.

use const_fnv1a_hash::fnv1a_hash_64;
use kafka_sim::{builtin, load, render};
use models::check::{check, Claim};
use std::fmt::Write;

const SEEDS: std::ops::RangeInclusive<u64> = 0..=20;
const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/digests.tsv");

fn digest(s: &str) -> String {
    format!("{:016x}", fnv1a_hash_64(s.as_bytes(), None))
}

fn rows(name: &str) -> String {
    let scenario = load::builtin_scenario(name).expect("built-in");
    let mut out = String::new();
    for seed in SEEDS {
        let run = models::world::run(&scenario, seed).expect("built-ins run");
        let tables: String = Claim::ALL
            .iter()
            .map(|c| check(&run.trace, *c).table(&run.meta))
            .collect();
        writeln!(
            out,
            "{name}\t{seed}\t{}\t{}\t{}",
            digest(&render::json_lines(&run)),
            digest(&render::text(&run)),
            digest(&tables)
        )
        .unwrap();
    }
    out
}

/// Every row, the scenarios shared out over two threads (the runs are independent; the rows
/// are joined in listing order).
fn current() -> String {
    let names = builtin::names();
    let (even, odd): (Vec<_>, Vec<_>) = names.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let work = |part: Vec<(usize, &&str)>| -> Vec<(usize, String)> {
        part.into_iter().map(|(i, n)| (i, rows(n))).collect()
    };
    let mut all = std::thread::scope(|s| {
        let other = s.spawn(|| work(odd));
        let mut mine = work(even);
        mine.extend(other.join().expect("golden thread"));
        mine
    });
    all.sort_by_key(|(i, _)| *i);
    let mut out = String::from("# scenario\tseed\tjson\ttext\tcheck\n");
    for (_, rows) in all {
        out.push_str(&rows);
    }
    out
}

#[test]
fn built_in_outputs_match_their_golden_digests() {
    let now = current();
    if std::env::var_os("KAFKA_SIM_BLESS").is_some() {
        std::fs::write(FILE, &now).expect("write digests");
        return;
    }
    let golden = std::fs::read_to_string(FILE).expect("tests/golden/digests.tsv");
    let differ: Vec<String> = golden
        .lines()
        .zip(now.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  golden {a}\n  now    {b}"))
        .collect();
    assert!(
        differ.is_empty() && golden.lines().count() == now.lines().count(),
        "{} of {} rows differ (rerun with KAFKA_SIM_BLESS=1 if the change is deliberate):\n{}",
        differ.len(),
        now.lines().count() - 1,
        differ.join("\n")
    );
}
