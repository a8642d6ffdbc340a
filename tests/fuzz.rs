//! Fuzzing the inputs: mutated built-in scenario files and random command lines.
//!
//! Every case must end — refused with one line of error in the user's words, or run to its
//! end or to the (small) event budget the test gives it — and nothing may panic. The cases
//! are drawn from a fixed seed, so a failure names a case that reproduces.
//!
//! CI runs `KAFKA_SIM_FUZZ_CASES` cases (default 1500 scenario files and a tenth as many
//! command lines); locally, for more:
//!
//! ```text
//! KAFKA_SIM_FUZZ_CASES=100000 cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! `KAFKA_SIM_FUZZ_SEED` picks another sequence of cases, `KAFKA_SIM_FUZZ_FROM` the first
//! case; `KAFKA_SIM_FUZZ_TRACE=1` prints each case's number before it runs (`=input`: and
//! its scenario file).

use kafka_sim::models::check::{check, Claim};
use kafka_sim::models::world::{run_limited, History};
use kafka_sim::{builtin, load, render, timeline};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// SplitMix64: a small seeded generator, so the cases need no dependency and never change.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "1.5",
    "-9223372036854775808",
    "9223372036854775807",
    "18446744073709551615",
    "99999999999999999999",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "4611686018427387904",
    "10000000000",
    "100000",
    "65",
    "1e308",
    "nan",
    "true",
    "\"12\"",
    "[]",
    "{}",
];

const STRINGS: &[&str] = &[
    "\"\"",
    "\"\\u0000\"",
    "\"\\u001b[31m\"",
    "\"a\\uFFFEb\"",
    "\"__consumer_offsets\"",
    "\"__x\"",
    "\"broker-1\"",
    "\"controller\"",
    "\"<svg>&amp;\"",
    "\"ünï\"",
    "\"demo1\"",
    "\"t\\tab\"",
    "5",
    "false",
];

/// One mutation of one line of a TOML text: a number or a string replaced, a line dropped
/// or duplicated, a table header repeated.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return String::new();
    }
    let i = rng.below(lines.len());
    match rng.below(8) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        2 => {
            let headers: Vec<String> = lines.iter().filter(|l| l.starts_with('[')).cloned().collect();
            if !headers.is_empty() {
                let h = rng.pick(&headers).clone();
                lines.insert(i, h);
            }
        }
        3 | 4 => {
            // a number: the first digit run of the line
            let l = &lines[i];
            if let Some(start) = l.find(|c: char| c.is_ascii_digit()) {
                let end = l[start..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(l.len(), |e| start + e);
                lines[i] = format!("{}{}{}", &l[..start], rng.pick(NUMBERS), &l[end..]);
            }
        }
        5 | 6 => {
            // a string: the first quoted run of the line
            let l = &lines[i];
            if let Some(start) = l.find('"') {
                if let Some(len) = l[start + 1..].find('"') {
                    let end = start + len + 2;
                    lines[i] = format!("{}{}{}", &l[..start], rng.pick(STRINGS), &l[end..]);
                }
            }
        }
        _ => {
            // a value after `=` replaced by any of the above
            let l = &lines[i];
            if let Some(eq) = l.find('=') {
                let v = if rng.below(2) == 0 {
                    rng.pick(NUMBERS)
                } else {
                    rng.pick(STRINGS)
                };
                lines[i] = format!("{}= {v}", &l[..eq]);
            }
        }
    }
    lines.join("\n") + "\n"
}

/// A refusal: one line, no Rust internals.
fn assert_user_words(case: u64, input: &str, e: &str) {
    let bad = e.contains('\n')
        || ["untagged enum", "struct ", "i128", "panicked"]
            .iter()
            .any(|w| e.contains(w));
    assert!(
        !bad,
        "case {case}: error not in one line of the user's words: {e}\ninput:\n{input}"
    );
}

fn limits() -> kafka_sim::sim::Limits {
    kafka_sim::sim::Limits {
        events: env_u64("KAFKA_SIM_FUZZ_EVENTS", 30_000),
        per_instant: 10_000,
    }
}

/// One scenario case: parse, and when it parses, run it within the budget and render it.
fn scenario_case(case: u64, rng: &mut Rng) -> bool {
    let (name, source) = *rng.pick(builtin::BUILTIN);
    let mut text = source.to_string();
    for _ in 0..1 + rng.below(3) {
        text = mutate(rng, &text);
    }
    if std::env::var_os("KAFKA_SIM_FUZZ_TRACE").is_some_and(|v| v == "input") {
        eprintln!("{text}");
    }
    let parsed = if rng.below(8) == 0 {
        load::parse_json(name, &text)
    } else {
        load::parse_toml(name, &text)
    };
    let scenario = match parsed {
        Ok(s) => s,
        Err(e) => {
            assert_user_words(case, &text, &e.0);
            return false;
        }
    };
    let full = rng.below(4) == 0;
    let history = if full { History::Full } else { History::Summary };
    let result = std::panic::catch_unwind(|| match run_limited(&scenario, case, history, limits()) {
        Ok(run) => {
            if full {
                render::text(&run);
                render::json_lines(&run);
                check(&run.trace, Claim::AtLeastOnce).table(&run.meta);
                let svg = timeline::svg(&run, "fuzz");
                assert!(
                    !svg.chars().any(|c| c.is_control() && !"\n\r\t".contains(c)),
                    "control characters in the SVG"
                );
            }
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    });
    match result {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            assert_user_words(case, &text, &e);
            true
        }
        Err(_) => panic!("case {case}: the run panicked; input:\n{text}"),
    }
}

/// A random command line.
fn command_line(rng: &mut Rng, dir: &std::path::Path) -> Vec<String> {
    let scenario = rng
        .pick(&[
            "demo1",
            "demo2",
            "demo3",
            "crash-autocommit",
            "nope",
            "/dev/zero",
            "/",
            "",
        ])
        .to_string();
    let seed = rng.pick(&[
        "0",
        "7",
        "18446744073709551615",
        "-1",
        "x",
        "18446744073709551616",
    ]);
    let budget = *rng.pick(&["20000", "1", "0", "x"]);
    let bounded = ["--max-events", budget];
    let mut args: Vec<String> = match rng.below(8) {
        0 => vec!["list".into()],
        1 => {
            let mut a = vec!["partition".into(), "-p".into()];
            a.push(rng.pick(&["0", "1", "4", "4294967296", "-3"]).to_string());
            a.push(rng.pick(&["msg1_key", "", "\u{1b}"]).to_string());
            a
        }
        2 => {
            let out = dir.join(rng.pick(&["t.svg", "t.html", "t.png"]));
            let mut a: Vec<String> = vec!["timeline".into(), "-s".into(), scenario, "-o".into()];
            a.push(out.to_string_lossy().into_owned());
            a.extend(bounded.iter().map(|s| s.to_string()));
            a
        }
        3 | 4 => {
            let mut a: Vec<String> = vec!["sweep".into(), "-s".into(), scenario, "--seeds".into()];
            a.push(
                rng.pick(&["0..3", "5..5", "0..18446744073709551615", "3..1", "a..b", "0..2"])
                    .to_string(),
            );
            if rng.below(2) == 0 {
                a.extend(["--jobs".into(), rng.pick(&["0", "1", "2", "100000"]).to_string()]);
            }
            if rng.below(2) == 0 {
                a.extend([
                    "--shard".into(),
                    rng.pick(&["0/2", "2/2", "1/0", "x"]).to_string(),
                ]);
            }
            a.extend(bounded.iter().map(|s| s.to_string()));
            a
        }
        _ => {
            let mut a: Vec<String> = vec!["--scenario".into(), scenario, "--seed".into(), seed.to_string()];
            a.extend(bounded.iter().map(|s| s.to_string()));
            a
        }
    };
    for _ in 0..rng.below(3) {
        let extras: [&[&str]; 8] = [
            &["--check"],
            &["--format", "json"],
            &["--format", "stats"],
            &["--format", "xml"],
            &["--expect", "at-most-once"],
            &["--expect", "nothing"],
            &["--history", "summary"],
            &["--bogus"],
        ];
        let extra = *rng.pick(&extras);
        args.extend(extra.iter().map(|s| s.to_string()));
    }
    args
}

/// Runs the binary, killing it (and failing) after `limit`.
fn run_bounded(args: &[String], limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-sim"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.code(), err);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("{args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn mutated_scenarios_and_command_lines_end_with_a_result_or_one_line() {
    let cases = env_u64("KAFKA_SIM_FUZZ_CASES", 1500);
    let seed = env_u64("KAFKA_SIM_FUZZ_SEED", 19);
    let start = Instant::now();
    let mut ran = 0;
    let trace = std::env::var_os("KAFKA_SIM_FUZZ_TRACE").is_some();
    let first = env_u64("KAFKA_SIM_FUZZ_FROM", 0);
    for case in first..cases {
        if trace {
            eprintln!("case {case}");
        }
        let mut rng = Rng(seed ^ case.wrapping_mul(0xA076_1D64_78BD_642F));
        if scenario_case(case, &mut rng) {
            ran += 1;
        }
    }
    let scenarios_took = start.elapsed();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz");
    std::fs::create_dir_all(&dir).unwrap();
    let lines = (cases / 10).max(1);
    for case in 0..lines {
        let mut rng = Rng(seed ^ !case.wrapping_mul(0xE703_7ED1_A0B4_28DB));
        let args = command_line(&mut rng, &dir);
        let (code, err) = run_bounded(&args, Duration::from_secs(60));
        match code {
            Some(0 | 1) => {}
            Some(2) => {
                let help = args.iter().any(|a| a == "--help");
                assert!(help || err.lines().count() == 1, "{args:?}: {err}");
                assert!(!err.contains("panicked"), "{args:?}: {err}");
            }
            other => panic!("{args:?}: exit {other:?}: {err}"),
        }
    }
    eprintln!(
        "fuzz: {} scenario files ({ran} ran, {} refused) in {:.1} s, {lines} command lines in {:.1} s",
        cases - first,
        cases - first - ran,
        scenarios_took.as_secs_f64(),
        (start.elapsed() - scenarios_took).as_secs_f64()
    );
}
