//! The `kafka-sim` command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use kafka_sim::{builtin, graph, load, render, sweep, timeline};
use models::check::{self, Claim};
use models::partitioner::KeyHash;
use models::world::History;
use std::io::IsTerminal;
use std::io::Write;
use std::process::ExitCode;

#[path = "cli/compare.rs"]
mod compare_cmd;
use compare_cmd::{compare, CompareArgs};

/// A deterministic simulator of Apache Kafka semantics: replay a scenario under a seed and
/// read what each producer and consumer printed.
#[derive(Parser, Debug)]
#[command(
    name = "kafka-sim",
    version,
    args_conflicts_with_subcommands = true,
    allow_negative_numbers = true
)]
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
    /// `text` (default): what each process printed; `json`: one JSON object per history
    /// event; `stats`: one line of counts.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Check the run's history and print the verdict table instead; exit 1 when the claim
    /// is violated.
    #[arg(long)]
    check: bool,
    /// The guarantee claimed, for --check (default at-least-once): exactly-once-per-group,
    /// at-least-once, at-most-once.
    #[arg(long, value_parser = parse_claim)]
    expect: Option<Claim>,
    /// `full`: keep every event; `summary`: count the per-record events (send, append,
    /// produce, consume) instead of keeping them — for `--format stats` on long runs, whose
    /// memory is then the model's, not the history's.
    #[arg(long, value_enum, default_value_t = HistoryArg::Full)]
    history: HistoryArg,
    #[command(flatten)]
    bounds: Bounds,
}

/// The bounds of every run (`--max-events`).
#[derive(Args, Debug, Clone, Copy)]
struct Bounds {
    /// End a run with an error after this many engine events (the million-record
    /// `examples/large.toml` takes about 8 million).
    #[arg(long, default_value_t = 100_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_events: u64,
}

impl Bounds {
    fn limits(self) -> sim::Limits {
        sim::Limits {
            events: self.max_events,
            ..sim::Limits::default()
        }
    }
}

/// The most worker threads a sweep starts.
const MAX_JOBS: usize = 256;

#[derive(Copy, Clone, Debug, ValueEnum)]
enum HistoryArg {
    Full,
    Summary,
}

fn parse_claim(s: &str) -> Result<Claim, String> {
    Claim::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Claim::EVERY.iter().map(|c| c.name()).collect();
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

/// A sweep's summary: for people, or for `sweep-merge`.
#[derive(Copy, Clone, Debug, ValueEnum)]
enum SummaryFormat {
    Text,
    Json,
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

fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err("the scale is a number from 0 to 100".into());
    }
    Ok(v)
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    if s.trim() == "env" {
        return kafka_sim::shard_env::shard_from_env(|name| std::env::var(name).ok());
    }
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
    /// Run a scenario on the simulator and with real clients against a broker, and compare.
    #[command(allow_negative_numbers = true)]
    Compare(CompareArgs),
    /// Check a history in the JSON-lines format (`--format json`, a driver's, anyone's) and
    /// print the verdict table; exit 1 when the claim is violated, 2 when a line is malformed.
    Check {
        /// The history file (`.jsonl`).
        #[arg(long)]
        history: std::path::PathBuf,
        /// The claim (default at-least-once): exactly-once-per-group, at-least-once,
        /// at-most-once.
        #[arg(long, default_value = "at-least-once", value_parser = parse_claim)]
        expect: Claim,
    },
    /// Draw a run: lanes per consumer, ownership bars, rebalance marks, consumed records.
    #[command(allow_negative_numbers = true)]
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
        #[command(flatten)]
        bounds: Bounds,
    },
    /// Run a scenario under every seed of a range, in parallel, and summarise the outcomes.
    #[command(allow_negative_numbers = true)]
    Sweep {
        /// A built-in scenario or a path.
        #[arg(long, short)]
        scenario: String,
        /// Seeds `A..B` (B exclusive).
        #[arg(long, value_parser = parse_range)]
        seeds: (u64, u64),
        /// Worker threads (default: the machine's cores; at most 256).
        #[arg(long)]
        jobs: Option<usize>,
        /// Check every run against the claim and list the seeds that violate it.
        #[arg(long)]
        check: bool,
        /// The claim, for --check (default at-least-once).
        #[arg(long, value_parser = parse_claim)]
        expect: Option<Claim>,
        /// Only every N-th seed, starting at the K-th (0-based): `K/N`; or `env`: the shard a
        /// batch system or CI service names in the environment (Kubernetes Indexed Job,
        /// Slurm array, GitLab CI, CircleCI, Buildkite, or KAFKA_SIM_SHARD_INDEX/COUNT).
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(u64, u64)>,
        /// `text` or `json` (the form `sweep-merge` reads).
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
        #[command(flatten)]
        bounds: Bounds,
    },
    /// Merge the JSON summaries of a sweep's shards into the summary of the whole sweep.
    #[command(allow_negative_numbers = true)]
    SweepMerge {
        /// JSON summaries written by `sweep --format json`.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
    },
    /// Write a run's happens-before graph as Graphviz DOT.
    #[command(allow_negative_numbers = true)]
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
        #[command(flatten)]
        bounds: Bounds,
    },
    /// List the built-in scenarios.
    List,
    /// Which partition each key goes to, with a Kafka partitioner.
    #[command(allow_negative_numbers = true)]
    Partition {
        /// Number of partitions of the topic (1 to 2^31−1: Kafka's partition ids are int32).
        #[arg(long, short, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
        partitions: u32,
        /// murmur2 (Java, kafka-python, librdkafka murmur2_random), consistent (librdkafka's
        /// default CRC32) or fnv1a.
        #[arg(long, default_value = "murmur2")]
        partitioner: String,
        /// Keys (UTF-8).
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// The TCP proxy in front of a real cluster's listeners (started by
    /// `scripts/kafka-cluster.sh`), through which timed runs stage network cuts.
    #[command(hide = true)]
    ClusterProxy {
        /// The cluster's state directory.
        #[arg(long)]
        cluster: std::path::PathBuf,
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

fn simulate(name: &str, seed: u64, history: History, bounds: Bounds) -> Result<models::world::Run, ExitCode> {
    let scenario = load::scenario(name).map_err(fail)?;
    let prepared = models::world::Prepared::new(&scenario).map_err(|e| fail(format!("{name}: {e}")))?;
    // a long run shows how far its virtual time got, on a terminal only
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(prepared.stop().as_us() / 1000);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} virtual ms  {elapsed}")
                .expect("template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let run = prepared.run_observed(seed, history, bounds.limits(), &mut |t| {
        bar.set_position(t.as_us() / 1000)
    });
    bar.finish_and_clear();
    run.map_err(|s| fail(format!("{name}, seed {seed}: {s}")))
}

fn run(args: RunArgs) -> ExitCode {
    let Some(name) = args.scenario else {
        return fail("no scenario given: use --scenario <demo1|demo2|demo3|PATH>, or `kafka-sim list`");
    };
    if args.expect.is_some() && !args.check {
        return fail("--expect names the claim --check judges: add --check");
    }
    if args.check && matches!(args.format, Some(Format::Json | Format::Stats)) {
        return fail("--check prints a verdict table: leave out --format");
    }
    let format = args.format.unwrap_or(Format::Text);
    let history = match args.history {
        HistoryArg::Full => History::Full,
        HistoryArg::Summary if args.check || !matches!(format, Format::Stats) => {
            return fail("--history summary keeps no per-record events: use it with --format stats only");
        }
        HistoryArg::Summary => History::Summary,
    };
    let run = match simulate(&name, args.seed, history, args.bounds) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if args.check {
        let report = check::check(&run.trace, args.expect.unwrap_or(Claim::AtLeastOnce));
        let header = format!("check: scenario {name}, seed {}\n", args.seed);
        let code = write_out(&(header + &report.table(&run.meta)));
        return if report.passed() { code } else { ExitCode::from(1) };
    }
    match format {
        Format::Text => write_out(&render::text(&run)),
        Format::Json => write_out(&render::json_lines(&run)),
        Format::Stats => write_out(&render::stats(&run)),
    }
}

fn check_history(path: &std::path::Path, claim: Claim) -> ExitCode {
    let run = match kafka_sim::history_file::read(path) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let report = check::check(&run.trace, claim);
    let header = format!("check: history {}\n", path.display());
    let code = write_out(&(header + &report.table(&run.meta)));
    if report.passed() {
        code
    } else {
        ExitCode::from(1)
    }
}

fn print_summary(summary: &sweep::Summary, format: SummaryFormat) -> ExitCode {
    let out = match format {
        SummaryFormat::Text => summary.text(),
        SummaryFormat::Json => serde_json::to_string(summary).expect("serialisable") + "\n",
    };
    let code = write_out(&out);
    if summary.passed() {
        code
    } else {
        ExitCode::from(1)
    }
}

/// clap's error on one line (its usage and "--help" lines left out), or its help text.
fn parse_cli() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        let text = e.render().to_string();
        let parts: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
            .collect();
        let line = parts.join(" ");
        eprintln!("{} (see kafka-sim --help)", line.trim_end_matches('.'));
        ExitCode::from(2)
    })
}

fn sweep_command(
    scenario: &str,
    seeds: (u64, u64),
    shard: Option<(u64, u64)>,
    claim: Option<Claim>,
    jobs: Option<usize>,
    bounds: Bounds,
    format: SummaryFormat,
) -> ExitCode {
    let jobs = jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_JOBS)
    });
    if jobs == 0 || jobs > MAX_JOBS {
        return fail(format!("--jobs must be between 1 and {MAX_JOBS} ({jobs} given)"));
    }
    let total = sweep::shard_len(seeds.0, seeds.1, shard);
    if total > sweep::MAX_SEEDS {
        return fail(format!(
            "--seeds {}..{}: {total} runs; a sweep runs at most {} (split it with --shard)",
            seeds.0,
            seeds.1,
            sweep::MAX_SEEDS
        ));
    }
    let sc = match load::scenario(scenario) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {per_sec}  eta {eta}")
                .expect("template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let tick = || bar.inc(1);
    let plan = sweep::Plan {
        from: seeds.0,
        to: seeds.1,
        shard,
        claim,
        limits: bounds.limits(),
    };
    let summary = sweep::sweep(scenario, &sc, plan, jobs, &tick);
    bar.finish_and_clear();
    match summary {
        Ok(summary) => print_summary(&summary, format),
        Err(e) => fail(format!("{scenario}: {e}")),
    }
}

fn sweep_merge(files: &[std::path::PathBuf], format: SummaryFormat) -> ExitCode {
    let mut merged = sweep::Summary::default();
    for f in files {
        let text = match load::read_bounded(&f.display().to_string(), f) {
            Ok(t) => t,
            Err(e) => return fail(e),
        };
        let part: sweep::Summary = match serde_json::from_str(&text) {
            Ok(p) => p,
            Err(e) => return fail(format!("{}: not a sweep summary: {e}", f.display())),
        };
        if let Err(e) = merged.merge_shard(part) {
            return fail(format!("{}: {e}", f.display()));
        }
    }
    let missing = merged.missing_shards();
    if !missing.is_empty() {
        return fail(format!(
            "shards missing: {} (of the sweep of {} over seeds {})",
            missing.join(", "),
            merged.scenario,
            merged.seeds
        ));
    }
    print_summary(&merged.whole(), format)
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match cli.command {
        None => run(cli.run),
        Some(Command::Compare(args)) => compare(args),
        Some(Command::Timeline {
            scenario,
            seed,
            output,
            bounds,
        }) => timeline_command(&scenario, seed, &output, bounds),
        Some(Command::Sweep {
            scenario,
            seeds,
            jobs,
            check,
            expect,
            shard,
            format,
            bounds,
        }) => {
            if expect.is_some() && !check {
                return fail("--expect names the claim --check judges: add --check");
            }
            let claim = check.then(|| expect.unwrap_or(Claim::AtLeastOnce));
            sweep_command(&scenario, seeds, shard, claim, jobs, bounds, format)
        }
        Some(Command::Check { history, expect }) => check_history(&history, expect),
        Some(Command::SweepMerge { files, format }) => sweep_merge(&files, format),
        Some(Command::Graph {
            scenario,
            seed,
            output,
            bounds,
        }) => graph_command(&scenario, seed, output.as_deref(), bounds),
        Some(Command::List) => list_command(),
        Some(Command::Partition {
            partitions,
            partitioner,
            keys,
        }) => partition_command(partitions, &partitioner, keys),
        Some(Command::ClusterProxy { cluster }) => match kafka_sim::driver::proxy::control::run(&cluster) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
    }
}

fn timeline_command(scenario: &str, seed: u64, output: &std::path::Path, bounds: Bounds) -> ExitCode {
    let run = match simulate(scenario, seed, History::Full, bounds) {
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
    match std::fs::write(output, body) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{}: cannot write: {e}", output.display())),
    }
}

fn graph_command(scenario: &str, seed: u64, output: Option<&std::path::Path>, bounds: Bounds) -> ExitCode {
    let run = match simulate(scenario, seed, History::Full, bounds) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let dot = graph::dot(&run);
    match output {
        None => write_out(&dot),
        Some(path) => match std::fs::write(path, dot) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("{}: cannot write: {e}", path.display())),
        },
    }
}

fn list_command() -> ExitCode {
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

fn partition_command(partitions: u32, partitioner: &str, keys: Vec<String>) -> ExitCode {
    if partitions == 0 {
        return fail("--partitions must be at least 1");
    }
    let name = partitioner.strip_suffix("_random").unwrap_or(partitioner);
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
