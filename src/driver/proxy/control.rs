//! The proxy process of a real cluster (`kafka-sim cluster-proxy --cluster DIR`, started by
//! `scripts/kafka-cluster.sh` before the nodes) and its control channel: one line per
//! command on a loopback port — `cut client ID`, `cut broker N`, `heal client ID`,
//! `heal broker N` — each answered `ok` once in force.
//!
//! The ports, from the cluster's base port `p` (its `port` file; 25 consecutive ports):
//! `p+N-1` the proxy's client port of node N (advertised, the bootstrap list), `p+2+N`
//! node N's own controller listener, `p+5+N` its own client listener, `p+8+N` its own
//! inter-broker listener, `p+11+N` the proxy's inter-broker port of node N (advertised),
//! `p+15+3(M-1)+(N-1)` the proxy's controller port from node M to node N (M ≠ N, in node M's
//! `controller.quorum.voters`), `p+24` the control port.

use super::{serve, CutTarget, Cuts, LinkKind};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;

/// The cluster's node count (`scripts/kafka-cluster.sh`).
const NODES: u32 = 3;

/// Offset of the control port from the base port.
pub const CONTROL: u16 = 24;

/// Every proxy listener of a cluster at base port `p`: (listen port, upstream port, kind).
pub fn layout(p: u16) -> Vec<(u16, u16, LinkKind)> {
    let mut out = Vec::new();
    for n in 1..=NODES {
        let k = n as u16;
        out.push((p + k - 1, p + 5 + k, LinkKind::Client { dst: n }));
        out.push((p + 11 + k, p + 8 + k, LinkKind::InterBroker { dst: n }));
        for m in (1..=NODES).filter(|&m| m != n) {
            let listen = p + 15 + 3 * (m as u16 - 1) + (k - 1);
            out.push((listen, p + 2 + k, LinkKind::Controller { src: m, dst: n }));
        }
    }
    out
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The cluster's base port, from `dir/port`.
pub fn base_port(dir: &Path) -> Result<u16, String> {
    let text =
        std::fs::read_to_string(dir.join("port")).map_err(|e| format!("{}/port: {e}", dir.display()))?;
    text.trim()
        .parse()
        .map_err(|_| format!("{}/port holds no port number", dir.display()))
}

/// Runs the proxy of the cluster in `dir` until the process is killed; an error line if a
/// port cannot be bound.
pub fn run(dir: &Path) -> Result<(), String> {
    let p = base_port(dir)?;
    let cuts = Cuts::default();
    for (listen, up, kind) in layout(p) {
        let l = TcpListener::bind(addr(listen)).map_err(|e| format!("proxy port {listen}: {e}"))?;
        serve(l, addr(up), kind, cuts.clone());
    }
    let control =
        TcpListener::bind(addr(p + CONTROL)).map_err(|e| format!("control port {}: {e}", p + CONTROL))?;
    for s in control.incoming().flatten() {
        let cuts = cuts.clone();
        std::thread::spawn(move || serve_control(s, &cuts));
    }
    Ok(())
}

/// One control connection: a command per line, `ok` or `error: …` per line back.
fn serve_control(s: TcpStream, cuts: &Cuts) {
    let Ok(mut w) = s.try_clone() else { return };
    for line in BufReader::new(s).lines().map_while(Result::ok) {
        let answer = match parse(&line) {
            Ok((true, t)) => {
                cuts.cut(t);
                "ok".to_string()
            }
            Ok((false, t)) => {
                cuts.heal(&t);
                "ok".to_string()
            }
            Err(e) => format!("error: {e}"),
        };
        if writeln!(w, "{answer}").is_err() {
            return;
        }
    }
}

/// `cut|heal client ID|broker N` as (whether a cut, its target).
fn parse(line: &str) -> Result<(bool, CutTarget), String> {
    let mut words = line.split_whitespace();
    let cut = match words.next() {
        Some("cut") => true,
        Some("heal") => false,
        _ => return Err(format!("unknown command {line:?}")),
    };
    let target = match (words.next(), words.next()) {
        (Some("client"), Some(id)) => CutTarget::Client(id.to_string()),
        (Some("broker"), Some(n)) => {
            CutTarget::Broker(n.parse().map_err(|_| format!("no node number in {line:?}"))?)
        }
        _ => return Err(format!("expected client ID or broker N in {line:?}")),
    };
    Ok((cut, target))
}

/// Sends one command to the proxy of the cluster in `dir` and waits for its answer.
pub fn send(dir: &Path, command: &str) -> Result<(), String> {
    let p = base_port(dir)?;
    let s = TcpStream::connect(addr(p + CONTROL))
        .map_err(|e| format!("the cluster's proxy (control port {}): {e}", p + CONTROL))?;
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    writeln!(w, "{command}").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    BufReader::new(s)
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    match answer.trim() {
        "ok" => Ok(()),
        other => Err(format!("proxy: {command}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_uses_25_distinct_ports_and_no_internal_one_twice() {
        let l = layout(30000);
        assert_eq!(l.len(), 3 * 2 + 6);
        let mut ports: Vec<u16> = l.iter().map(|x| x.0).collect();
        ports.extend([
            30003,
            30004,
            30005,
            30006,
            30007,
            30008,
            30009,
            30010,
            30011,
            30000 + CONTROL,
        ]);
        let n = ports.len();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), n);
        assert!(ports.iter().all(|&p| (30000..30025).contains(&p)));
        assert!(l.contains(&(30000, 30006, LinkKind::Client { dst: 1 })));
        assert!(l.contains(&(30013, 30010, LinkKind::InterBroker { dst: 2 })));
        assert!(l.contains(&(30015 + 3 + 2, 30005, LinkKind::Controller { src: 2, dst: 3 })));
    }

    #[test]
    fn control_commands_parse_and_bad_ones_are_named() {
        assert_eq!(parse("cut broker 1"), Ok((true, CutTarget::Broker(1))));
        assert_eq!(
            parse("heal client c-1"),
            Ok((false, CutTarget::Client("c-1".into())))
        );
        assert!(parse("cut broker x").unwrap_err().contains("no node number"));
        assert!(parse("drop").unwrap_err().contains("unknown command"));
    }
}
