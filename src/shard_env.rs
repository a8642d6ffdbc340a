//! A sweep's shard read from the environment of the system that fans the work out
//! (`sweep --shard env`).
//!
//! Batch systems and CI services start N copies of one command and tell each copy which it
//! is through environment variables. Each system has its own names and its own base:
//!
//! | system | index | count | base |
//! |---|---|---|---|
//! | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` | `JOB_COMPLETIONS` (set it in the manifest to `spec.completions`: Kubernetes sets only the index) | 0 |
//! | Slurm job array | `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` | `SLURM_ARRAY_TASK_COUNT` | `SLURM_ARRAY_TASK_MIN` |
//! | GitLab CI `parallel:` | `CI_NODE_INDEX` | `CI_NODE_TOTAL` | 1 |
//! | CircleCI `parallelism` | `CIRCLE_NODE_INDEX` | `CIRCLE_NODE_TOTAL` | 0 |
//! | Buildkite `parallelism` | `BUILDKITE_PARALLEL_JOB` | `BUILDKITE_PARALLEL_JOB_COUNT` | 0 |
//! | anything else (a GitHub Actions matrix, a shell loop) | `KAFKA_SIM_SHARD_INDEX` | `KAFKA_SIM_SHARD_COUNT` | 0 |
//!
//! The answer is `K/N` with `0 <= K < N`, the same shard `--shard K/N` names. Exactly one
//! system's variables must be present: none, two systems at once, a half-set pair, or an
//! index outside its count is an error naming the variables, never a silent whole sweep.
//! A Slurm array with a step (`--array=0-15:2`) is refused: its task ids are not dense.

/// One system's pair of variables.
struct Source {
    system: &'static str,
    index: &'static str,
    count: &'static str,
    /// Where the index starts: a number, or a variable holding it.
    base: Base,
}

enum Base {
    Fixed(u64),
    Var(&'static str),
}

const SOURCES: [Source; 6] = [
    Source {
        system: "kafka-sim",
        index: "KAFKA_SIM_SHARD_INDEX",
        count: "KAFKA_SIM_SHARD_COUNT",
        base: Base::Fixed(0),
    },
    Source {
        system: "Kubernetes Indexed Job",
        index: "JOB_COMPLETION_INDEX",
        count: "JOB_COMPLETIONS",
        base: Base::Fixed(0),
    },
    Source {
        system: "Slurm job array",
        index: "SLURM_ARRAY_TASK_ID",
        count: "SLURM_ARRAY_TASK_COUNT",
        base: Base::Var("SLURM_ARRAY_TASK_MIN"),
    },
    Source {
        system: "GitLab CI parallel",
        index: "CI_NODE_INDEX",
        count: "CI_NODE_TOTAL",
        base: Base::Fixed(1),
    },
    Source {
        system: "CircleCI parallelism",
        index: "CIRCLE_NODE_INDEX",
        count: "CIRCLE_NODE_TOTAL",
        base: Base::Fixed(0),
    },
    Source {
        system: "Buildkite parallelism",
        index: "BUILDKITE_PARALLEL_JOB",
        count: "BUILDKITE_PARALLEL_JOB_COUNT",
        base: Base::Fixed(0),
    },
];

/// The shard `(K, N)` the environment names; `var` looks a variable up (`std::env::var` in
/// the command line, a map in tests).
pub fn shard_from_env(var: impl Fn(&str) -> Option<String>) -> Result<(u64, u64), String> {
    let present: Vec<&Source> = SOURCES
        .iter()
        .filter(|s| var(s.index).is_some() || var(s.count).is_some())
        .collect();
    match present.as_slice() {
        [] => Err(format!(
            "no shard in the environment (looked for {})",
            SOURCES
                .iter()
                .map(|s| format!("{}/{}", s.index, s.count))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        [one] => read(one, &var),
        many => Err(format!(
            "the environment names shards of several systems ({}); unset all but one",
            many.iter().map(|s| s.system).collect::<Vec<_>>().join(", ")
        )),
    }
}

fn read(s: &Source, var: &impl Fn(&str) -> Option<String>) -> Result<(u64, u64), String> {
    let number = |name: &str| -> Result<u64, String> {
        let v = var(name).ok_or_else(|| format!("{} sets {} but not {name}", s.system, other(s, name)))?;
        v.trim()
            .parse::<u64>()
            .map_err(|_| format!("{name}={v:?} is not a whole number"))
    };
    let index = number(s.index)?;
    let count = number(s.count)?;
    let base = match s.base {
        Base::Fixed(b) => b,
        Base::Var(name) => match var(name) {
            Some(_) => number(name)?,
            None => 0,
        },
    };
    if let Some(step) = var("SLURM_ARRAY_TASK_STEP").filter(|_| s.index == "SLURM_ARRAY_TASK_ID") {
        if step.trim() != "1" {
            return Err(format!(
                "SLURM_ARRAY_TASK_STEP={step:?}: an array with a step has gaps in its task ids; use --array=A-B"
            ));
        }
    }
    if count == 0 {
        return Err(format!("{}=0: there must be at least one shard", s.count));
    }
    let k = index.checked_sub(base).filter(|k| *k < count).ok_or_else(|| {
        format!(
            "{}={index} is outside the {count} shards of {} (indices from {base})",
            s.index, s.system
        )
    })?;
    Ok((k, count))
}

/// The variable of the pair that is not `name`.
fn other<'a>(s: &'a Source, name: &str) -> &'a str {
    if name == s.index {
        s.count
    } else {
        s.index
    }
}

#[cfg(test)]
mod tests {
    use super::shard_from_env;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> Result<(u64, u64), String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        shard_from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn each_system_gives_a_zero_based_shard() {
        assert_eq!(
            env(&[("JOB_COMPLETION_INDEX", "3"), ("JOB_COMPLETIONS", "4")]),
            Ok((3, 4))
        );
        assert_eq!(
            env(&[
                ("SLURM_ARRAY_TASK_ID", "7"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "5")
            ]),
            Ok((2, 4))
        );
        assert_eq!(
            env(&[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "2")]),
            Ok((0, 2))
        );
        assert_eq!(env(&[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "3")]), Ok((0, 3)));
        assert_eq!(env(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "3")]), Ok((2, 3)));
        assert_eq!(
            env(&[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "2")]),
            Ok((0, 2))
        );
        assert_eq!(
            env(&[
                ("BUILDKITE_PARALLEL_JOB", "5"),
                ("BUILDKITE_PARALLEL_JOB_COUNT", "6")
            ]),
            Ok((5, 6))
        );
        assert_eq!(
            env(&[("KAFKA_SIM_SHARD_INDEX", "0"), ("KAFKA_SIM_SHARD_COUNT", "1")]),
            Ok((0, 1))
        );
    }

    #[test]
    fn what_cannot_be_a_shard_is_named() {
        let err = |pairs: &[(&str, &str)]| env(pairs).unwrap_err();
        assert!(err(&[]).contains("no shard in the environment"));
        assert!(err(&[("JOB_COMPLETION_INDEX", "0")])
            .contains("sets JOB_COMPLETION_INDEX but not JOB_COMPLETIONS"));
        assert!(err(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "3")]).contains("outside the 3 shards"));
        assert!(err(&[("CI_NODE_INDEX", "4"), ("CI_NODE_TOTAL", "3")]).contains("CI_NODE_INDEX=4"));
        assert!(err(&[("CIRCLE_NODE_INDEX", "x"), ("CIRCLE_NODE_TOTAL", "3")]).contains("not a whole number"));
        assert!(err(&[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "0")]).contains("at least one shard"));
        assert!(err(&[
            ("JOB_COMPLETION_INDEX", "0"),
            ("JOB_COMPLETIONS", "2"),
            ("CI_NODE_INDEX", "1"),
            ("CI_NODE_TOTAL", "2")
        ])
        .contains("several systems (Kubernetes Indexed Job, GitLab CI parallel)"));
        assert!(err(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_STEP", "2")
        ])
        .contains("has gaps"));
        assert!(err(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "2")
        ])
        .contains("outside"));
    }
}
