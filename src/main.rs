//! The `kafka-sim` command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use kafka_sim::{builtin, graph, load, render};
use models::check::{self, Claim};
use models::partitioner::KeyHash;
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
}

#[derive(Subcommand, Debug)]
enum Command {
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

fn simulate(name: &str, seed: u64) -> Result<models::world::Run, ExitCode> {
    let scenario = load::scenario(name).map_err(fail)?;
    models::world::run(&scenario, seed).map_err(|e| fail(format!("{name}: {e}")))
}

fn run(args: RunArgs) -> ExitCode {
    let Some(name) = args.scenario else {
        return fail("no scenario given: use --scenario <demo1|demo2|demo3|PATH>, or `kafka-sim list`");
    };
    let run = match simulate(&name, args.seed) {
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
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => run(cli.run),
        Some(Command::Graph {
            scenario,
            seed,
            output,
        }) => {
            let run = match simulate(&scenario, seed) {
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
