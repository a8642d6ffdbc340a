//! The control handle of a real three-node cluster (`scripts/kafka-cluster.sh`): its state
//! directory, through which a timed run crashes (SIGKILL), restarts, pauses (SIGSTOP) and
//! resumes (SIGCONT) a node at a fault's time. The scenario's `broker-N` is node N.

use super::DriverError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How many nodes `scripts/kafka-cluster.sh` runs.
pub const NODES: u32 = 3;

/// A running cluster, named by its state directory (`kafka-cluster.sh dir` prints it).
#[derive(Clone, Debug)]
pub struct Cluster {
    dir: PathBuf,
    script: PathBuf,
}

impl Cluster {
    /// The cluster whose state directory is `dir`; an error unless it holds a started
    /// cluster's port file.
    pub fn open(dir: &Path) -> Result<Cluster, DriverError> {
        let port = dir.join("port");
        if !port.is_file() {
            return Err(DriverError::Unsupported(format!(
                "{} is no cluster's state directory (no port file; `scripts/kafka-cluster.sh start` makes one, `scripts/kafka-cluster.sh dir` prints its path)",
                dir.display()
            )));
        }
        let script = std::env::var_os("KAFKA_SIM_CLUSTER_SCRIPT")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kafka-cluster.sh"))
            });
        Ok(Cluster {
            dir: dir.to_path_buf(),
            script,
        })
    }

    /// `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, from the port file.
    pub fn bootstrap(&self) -> Result<String, DriverError> {
        let text = std::fs::read_to_string(self.dir.join("port"))
            .map_err(|e| DriverError::Failed(format!("{}: {e}", self.dir.display())))?;
        let p: u32 = text
            .trim()
            .parse()
            .map_err(|_| DriverError::Failed(format!("{}/port holds no port number", self.dir.display())))?;
        Ok((0..NODES)
            .map(|k| format!("127.0.0.1:{}", p + k))
            .collect::<Vec<_>>()
            .join(","))
    }

    /// Runs `kafka-cluster.sh action node` against this cluster; its error line on failure.
    pub fn control(&self, action: &str, node: u32) -> Result<(), DriverError> {
        let out = Command::new(&self.script)
            .args([action, &node.to_string()])
            .env("KAFKA_SIM_CLUSTER_DIR", &self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| DriverError::Failed(format!("cannot start {}: {e}", self.script.display())))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        Err(DriverError::Failed(format!(
            "kafka-cluster.sh {action} {node}: {}",
            err.lines().last().unwrap_or("failed")
        )))
    }

    /// Sends `cut|heal client ID|broker N` to the cluster's proxy ([`super::proxy::control`]).
    pub fn proxy(&self, command: &str) -> Result<(), DriverError> {
        super::proxy::control::send(&self.dir, command).map_err(DriverError::Failed)
    }

    /// Each node running again (a node a run crashed or paused and did not bring back, so
    /// the next run starts from a whole cluster).
    pub fn heal(&self) {
        for n in 1..=NODES {
            let _ = self.control("resume", n);
            let _ = self.control("restart", n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_a_port_file_is_no_cluster() {
        let dir = std::env::temp_dir().join(format!("ksim-no-cluster-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = Cluster::open(&dir).unwrap_err();
        assert!(e.to_string().contains("no port file"), "{e}");
        std::fs::write(dir.join("port"), "31000\n").unwrap();
        let c = Cluster::open(&dir).unwrap();
        assert_eq!(
            c.bootstrap().unwrap(),
            "127.0.0.1:31000,127.0.0.1:31001,127.0.0.1:31002"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
