//! Scenarios compiled into the binary, so `--scenario demo2` works from any directory.
//! Their sources are the files in `examples/`.

/// Pairs each name with its `examples/<name>.toml`, compiled in.
macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../examples/", $name, ".toml")))),*]
    };
}

/// `(name, TOML source)` of every built-in scenario, in listing order.
pub const BUILTIN: &[(&str, &str)] = builtin![
    "demo1",
    "demo2",
    "demo3",
    "crash-autocommit",
    "commit-before-processing",
    "commit-after-processing",
    "static-restart",
    "cooperative-scale-out",
    "eager-scale-out",
    "stall-poll-timeout",
    "slow-consumer",
    "network-cut",
    "rebalance-storm",
    "scale-in",
    "roundrobin-two-topics",
    "kip848-scale-out",
    "kip848-static-restart",
    "cooperative-scale-out-librdkafka",
    "acks1-leader-loss",
    "acks-all-minisr",
    "unclean-election",
    "idempotent-retry",
    "coordinator-failover",
    "retention-skip",
    "error-produce",
    "error-fetch",
    "error-group",
    "error-commit",
    "eos-pipeline",
    "zombie-fencing",
    "transaction-timeout",
    "txn-coordinator-failover",
    "hanging-transaction",
];

/// The TOML source of built-in scenario `name`.
pub fn source(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Names of the built-in scenarios.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}
