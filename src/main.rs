//! The `kafka-sim` command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use kafka_sim::{builtin, graph, load, render, sweep, timeline};
use models::check::{self, Claim};
use models::partitioner::KeyHash;
use models::world::History;
use std::io::IsTerminal;
use std::io::Write;
use std::process::ExitCode;

/// A deterministic simulator of Apache Kafka semantics: replay a scenario under a seed and
/// read what each producer and consumer printed.
#[derive(Parser, Debug)]
#[command(name = "kafka-sim", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// A built-in scenario (see `kafka-sim list`) or a path to a .toml or .json file.
    #[arg(long, short)]
    scenario: Option<String>,
    /// The seed every random choice of the run derives from.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `text`: what each process printed; `json`: one JSON object per history event.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Check the run's history and print the verdict table instead; exit 1 when the claim
    /// is violated.
    #[arg(long)]
    check: bool,
    /// The guarantee claimed, for --check: exactly-once-per-group, at-least-once,
    /// at-most-once.
    #[arg(long, default_value = "at-least-once", value_parser = parse_claim)]
    expect: Claim,
    /// `full`: keep every event; `summary`: count the per-record events (send, append,
    /// produce, consume) instead of keeping them — for `--format stats` on long runs, whose
    /// memory is then the model's, not the history's.
    #[arg(long, value_enum, default_value_t = HistoryArg::Full)]
    history: HistoryArg,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum HistoryArg {
    Full,
    Summary,
}

fn parse_claim(s: &str) -> Result<Claim, String> {
    Claim::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Claim::ALL.iter().map(|c| c.name()).collect();
        format!("unknown claim (one of: {})", names.join(", "))
    })
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
    /// One line of counts (events, history entries, records), for benchmarks.
    Stats,
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or("expected A..B (B exclusive), e.g. 0..100000")?;
    let a: u64 = a.trim().parse().map_err(|_| format!("{a:?} is not a seed"))?;
    let b: u64 = b.trim().parse().map_err(|_| format!("{b:?} is not a seed"))?;
    if a >= b {
        return Err("the range is empty".into());
    }
    Ok((a, b))
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 0/4")?;
    let k: u64 = k.trim().parse().map_err(|_| format!("{k:?} is not a number"))?;
    let n: u64 = n.trim().parse().map_err(|_| format!("{n:?} is not a number"))?;
    if n == 0 || k >= n {
        return Err("K/N needs 0 <= K < N".into());
    }
    Ok((k, n))
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario on the simulator and on a real broker (through rdkafka) and compare.
    Compare {
        /// A built-in scenario or a path.
        #[arg(long, short)]
        scenario: String,
        /// The seed of the simulated run.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// `HOST:PORT` of a Kafka broker, or `mock` for librdkafka's in-process mock cluster.
        #[arg(long)]
        brokers: String,
        /// The claim both histories are checked against.
        #[arg(long, default_value = "at-least-once", value_parser = parse_claim)]
        expect: Claim,
        /// Override the real producers' partitioner (e.g. `consistent_random`).
        #[arg(long)]
        partitioner: Option<String>,
        /// Real seconds per virtual second for the pauses between client starts and sends.
        #[arg(long, default_value_t = 0.01)]
        scale: f64,
        /// Seconds to wait for the broker to answer.
        #[arg(long, default_value_t = 10)]
        connect_timeout: u64,
    },
    /// Draw a run: lanes per consumer, ownership bars, rebalance marks, consumed records.
    Timeline {
        /// A built-in scenario or a path.
        #[arg(long, short)]
        scenario: String,
        /// The seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output file: `.svg`, or `.html` for a self-contained page.
        #[arg(long, short)]
        output: std::path::PathBuf,
    },
    /// Run a scenario under every seed of a range, in parallel, and summarise the outcomes.
    Sweep {
        /// A built-in scenario or a path.
        #[arg(long, short)]
        scenario: String,
        /// Seeds `A..B` (B exclusive).
        #[arg(long, value_parser = parse_range)]
        seeds: (u64, u64),
        /// Worker threads (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Check every run against the claim and list the seeds that violate it.
        #[arg(long)]
        check: bool,
        /// The claim, for --check.
        #[arg(long, default_value = "at-least-once", value_parser = parse_claim)]
        expect: Claim,
        /// Only every N-th seed, starting at the K-th (0-based): `K/N`.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(u64, u64)>,
        /// `text` or `json` (the form `sweep-merge` reads).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Merge the JSON summaries of a sweep's shards into the summary of the whole sweep.
    SweepMerge {
        /// JSON summaries written by `sweep --format json`.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write a run's happens-before graph as Graphviz DOT.
    Graph {
        /// A built-in scenario or a path.
        #[arg(long, short)]
        scenario: String,
        /// The seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// List the built-in scenarios.
    List,
    /// Which partition each key goes to, with a Kafka partitioner.
    Partition {
        /// Number of partitions of the topic.
        #[arg(long, short)]
        partitions: u32,
        /// murmur2 (Java, kafka-python, librdkafka murmur2_random), consistent (librdkafka's
        /// default CRC32) or fnv1a.
        #[arg(long, default_value = "murmur2")]
        partitioner: String,
        /// Keys (UTF-8).
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn write_out(s: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // a closed pipe (`| head`) is not an error worth a panic
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(format!("cannot write output: {e}")),
    }
}

fn simulate(name: &str, seed: u64, history: History) -> Result<models::world::Run, ExitCode> {
    let scenario = load::scenario(name).map_err(fail)?;
    models::world::run_with(&scenario, seed, history).map_err(|e| fail(format!("{name}: {e}")))
}

fn run(args: RunArgs) -> ExitCode {
    let Some(name) = args.scenario else {
        return fail("no scenario given: use --scenario <demo1|demo2|demo3|PATH>, or `kafka-sim list`");
    };
    let history = match args.history {
        HistoryArg::Full => History::Full,
        HistoryArg::Summary if args.check || !matches!(args.format, Format::Stats) => {
            return fail("--history summary keeps no per-record events: use it with --format stats only");
        }
        HistoryArg::Summary => History::Summary,
    };
    let run = match simulate(&name, args.seed, history) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if args.check {
        let report = check::check(&run.trace, args.expect);
        let header = format!("check: scenario {name}, seed {}\n", args.seed);
        let code = write_out(&(header + &report.table(&run.meta)));
        return if report.passed() { code } else { ExitCode::from(1) };
    }
    match args.format {
        Format::Text => write_out(&render::text(&run)),
        Format::Json => write_out(&render::json_lines(&run)),
        Format::Stats => write_out(&render::stats(&run)),
    }
}

#[cfg(feature = "rdkafka")]
fn compare(
    scenario: &str,
    seed: u64,
    brokers: &str,
    expect: Claim,
    partitioner: Option<String>,
    scale: f64,
    connect_timeout: u64,
) -> ExitCode {
    use kafka_sim::adapter::{self, AdapterError, Options, Target};
    let sc = match load::scenario(scenario) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let sim_run = match models::world::run(&sc, seed) {
        Ok(r) => r,
        Err(e) => return fail(format!("{scenario}: {e}")),
    };
    let target = Target::parse(brokers);
    let opts = Options {
        connect_timeout: std::time::Duration::from_secs(connect_timeout),
        scale,
        partitioner,
        ..Options::default()
    };
    let real = match adapter::run(&sc, seed, &target, &opts) {
        Ok(r) => r,
        Err(e @ (AdapterError::Unreachable(_) | AdapterError::Unsupported(_))) => return fail(e),
        Err(e) => return fail(format!("the real run failed: {e}")),
    };
    let c = kafka_sim::compare::compare(&sim_run, &real, expect, &target.label());
    let header = format!(
        "compare: scenario {scenario}, simulator seed {seed} vs {}\n\n",
        target.label()
    );
    let verdict = if c.matches() { "MATCH" } else { "MISMATCH" };
    let code = write_out(&format!("{header}{}\nresult: {verdict}\n", c.table));
    if c.matches() {
        code
    } else {
        ExitCode::from(1)
    }
}

#[cfg(not(feature = "rdkafka"))]
fn compare(_: &str, _: u64, _: &str, _: Claim, _: Option<String>, _: f64, _: u64) -> ExitCode {
    fail("this kafka-sim was built without the rdkafka feature; build it with `cargo build --release --features rdkafka`")
}

fn print_summary(summary: &sweep::Summary, format: Format) -> ExitCode {
    let out = match format {
        Format::Text | Format::Stats => summary.text(),
        Format::Json => serde_json::to_string(summary).expect("serialisable") + "\n",
    };
    let code = write_out(&out);
    if summary.passed() {
        code
    } else {
        ExitCode::from(1)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => run(cli.run),
        Some(Command::Compare {
            scenario,
            seed,
            brokers,
            expect,
            partitioner,
            scale,
            connect_timeout,
        }) => compare(
            &scenario,
            seed,
            &brokers,
            expect,
            partitioner,
            scale,
            connect_timeout,
        ),
        Some(Command::Timeline {
            scenario,
            seed,
            output,
        }) => {
            let run = match simulate(&scenario, seed, History::Full) {
                Ok(r) => r,
                Err(code) => return code,
            };
            let title = format!("kafka-sim: {scenario}, seed {seed}");
            let body = match output.extension().and_then(|e| e.to_str()) {
                Some("svg") => timeline::svg(&run, &title),
                Some("html" | "htm") => timeline::html(&run, &title),
                _ => {
                    return fail(format!(
                        "{}: the output must end in .svg or .html",
                        output.display()
                    ))
                }
            };
            match std::fs::write(&output, body) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(format!("{}: cannot write: {e}", output.display())),
            }
        }
        Some(Command::Sweep {
            scenario,
            seeds,
            jobs,
            check,
            expect,
            shard,
            format,
        }) => {
            let sc = match load::scenario(&scenario) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            if jobs == 0 {
                return fail("--jobs must be at least 1");
            }
            let total = sweep::shard_seeds(seeds.0, seeds.1, shard).len() as u64;
            let bar = if std::io::stderr().is_terminal() {
                let bar = indicatif::ProgressBar::new(total);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{bar:40} {pos}/{len} seeds  {per_sec}  eta {eta}",
                    )
                    .expect("template"),
                );
                bar
            } else {
                indicatif::ProgressBar::hidden()
            };
            let claim = check.then_some(expect);
            let tick = || bar.inc(1);
            let summary = sweep::sweep(&scenario, &sc, seeds.0, seeds.1, shard, claim, jobs, &tick);
            bar.finish_and_clear();
            print_summary(&summary, format)
        }
        Some(Command::SweepMerge { files, format }) => {
            let mut merged = sweep::Summary::default();
            for f in &files {
                let text = match std::fs::read_to_string(f) {
                    Ok(t) => t,
                    Err(e) => return fail(format!("{}: cannot read: {e}", f.display())),
                };
                let part: sweep::Summary = match serde_json::from_str(&text) {
                    Ok(p) => p,
                    Err(e) => return fail(format!("{}: not a sweep summary: {e}", f.display())),
                };
                if !merged.scenario.is_empty()
                    && (merged.scenario != part.scenario
                        || merged.seeds != part.seeds
                        || merged.claim != part.claim)
                {
                    return fail(format!(
                        "{}: a shard of another sweep ({} {})",
                        f.display(),
                        part.scenario,
                        part.seeds
                    ));
                }
                merged.merge(part);
            }
            print_summary(&merged, format)
        }
        Some(Command::Graph {
            scenario,
            seed,
            output,
        }) => {
            let run = match simulate(&scenario, seed, History::Full) {
                Ok(r) => r,
                Err(code) => return code,
            };
            let dot = graph::dot(&run);
            match output {
                None => write_out(&dot),
                Some(path) => match std::fs::write(&path, dot) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => fail(format!("{}: cannot write: {e}", path.display())),
                },
            }
        }
        Some(Command::List) => {
            let mut s = String::new();
            let width = builtin::names().iter().map(|n| n.len()).max().unwrap_or(0);
            for name in builtin::names() {
                let sc = load::builtin_scenario(name).expect("built-in");
                s.push_str(&format!(
                    "{name:<width$}  {}\n",
                    sc.description.unwrap_or_default()
                ));
            }
            write_out(&s)
        }
        Some(Command::Partition {
            partitions,
            partitioner,
            keys,
        }) => {
            if partitions == 0 {
                return fail("--partitions must be at least 1");
            }
            let name = partitioner.strip_suffix("_random").unwrap_or(&partitioner);
            let Some(hash) = KeyHash::parse(name) else {
                return fail(format!(
                    "unknown partitioner {partitioner:?} (murmur2, consistent, fnv1a)"
                ));
            };
            let mut s = String::new();
            for k in keys {
                s.push_str(&format!("{k} {}\n", hash.partition(k.as_bytes(), partitions)));
            }
            write_out(&s)
        }
    }
}
