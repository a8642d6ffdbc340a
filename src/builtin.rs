//! Scenarios compiled into the binary, so `--scenario demo2` works from any directory.
//! Their sources are the files in `examples/`.

/// `(name, TOML source)` of every built-in scenario, in listing order.
pub const BUILTIN: &[(&str, &str)] = &[
    ("demo1", include_str!("../examples/demo1.toml")),
    ("demo2", include_str!("../examples/demo2.toml")),
    ("demo3", include_str!("../examples/demo3.toml")),
    (
        "crash-autocommit",
        include_str!("../examples/crash-autocommit.toml"),
    ),
    (
        "commit-before-processing",
        include_str!("../examples/commit-before-processing.toml"),
    ),
    (
        "commit-after-processing",
        include_str!("../examples/commit-after-processing.toml"),
    ),
    ("static-restart", include_str!("../examples/static-restart.toml")),
    (
        "cooperative-scale-out",
        include_str!("../examples/cooperative-scale-out.toml"),
    ),
    (
        "eager-scale-out",
        include_str!("../examples/eager-scale-out.toml"),
    ),
    (
        "stall-poll-timeout",
        include_str!("../examples/stall-poll-timeout.toml"),
    ),
    ("slow-consumer", include_str!("../examples/slow-consumer.toml")),
    ("network-cut", include_str!("../examples/network-cut.toml")),
    (
        "rebalance-storm",
        include_str!("../examples/rebalance-storm.toml"),
    ),
    ("scale-in", include_str!("../examples/scale-in.toml")),
    (
        "roundrobin-two-topics",
        include_str!("../examples/roundrobin-two-topics.toml"),
    ),
    (
        "kip848-scale-out",
        include_str!("../examples/kip848-scale-out.toml"),
    ),
];

/// The TOML source of built-in scenario `name`.
pub fn source(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Names of the built-in scenarios.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}
