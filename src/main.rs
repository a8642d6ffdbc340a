//! The `kafka-sim` command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use kafka_sim::{builtin, load, render};
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
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
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

fn run(args: RunArgs) -> ExitCode {
    let Some(name) = args.scenario else {
        return fail("no scenario given: use --scenario <demo1|demo2|demo3|PATH>, or `kafka-sim list`");
    };
    let scenario = match load::scenario(&name) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let run = match models::world::run(&scenario, args.seed) {
        Ok(r) => r,
        Err(e) => return fail(format!("{name}: {e}")),
    };
    match args.format {
        Format::Text => write_out(&render::text(&run)),
        Format::Json => write_out(&render::json_lines(&run)),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => run(cli.run),
        Some(Command::List) => {
            let mut s = String::new();
            for name in builtin::names() {
                let sc = load::builtin_scenario(name).expect("built-in");
                s.push_str(&format!("{name:<8} {}\n", sc.description.unwrap_or_default()));
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
