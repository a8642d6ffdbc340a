//! The harness's TCP proxy in front of a real cluster's listeners, through which a timed run
//! stages the scenario's network `cut`s (the model's: every message on a cut link is lost
//! for the cut's window, both ways).
//!
//! Each broker listens on internal ports and advertises the proxy's
//! (`advertised.listeners`), so after bootstrap every connection still goes through the
//! proxy. A link knows what it carries by the proxy port it was accepted on
//! ([`LinkKind`]): the clients' listener, the inter-broker listener (replica fetchers;
//! their source broker read from the first request's `client_id`, `broker-M-fetcher-F`),
//! or one KRaft controller port per (source node, destination node), written into each
//! node's own `controller.quorum.voters`. A client's link is told apart by the `client_id`
//! of its first request header (v1+: `api_key` i16, `api_version` i16, `correlation_id`
//! i32, `client_id` i16-length-prefixed).
//!
//! A cut *holds* the links it covers: the proxy stops reading and writing them, both ways,
//! and keeps the sockets open — a partition, where requests time out, not a reset
//! (connection refused or reset would make the clients fail fast, which a real cut does
//! not). New connections a cut covers are accepted and held likewise. When the cut heals,
//! every link it held is closed: the model drops what was sent during the cut, and a byte
//! stream cannot lose a request without losing its framing, so the clients reconnect, as
//! they do after their request timeout in the model. Links the cut never covered go on.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a proxy listener's links carry, by the port they were accepted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A client's connection to node `dst` (the advertised client listener).
    Client { dst: u32 },
    /// A broker's replica fetcher to node `dst` (the inter-broker listener).
    InterBroker { dst: u32 },
    /// Node `src`'s KRaft channel to node `dst`'s controller.
    Controller { src: u32, dst: u32 },
}

/// What a cut covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CutTarget {
    /// The client whose requests carry this `client_id`, from every broker.
    Client(String),
    /// Node N, from the other nodes and their controllers (its clients still reach it).
    Broker(u32),
}

/// One link's identity, once its first request has been read.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LinkId {
    kind: LinkKind,
    client_id: Option<String>,
}

impl LinkId {
    /// The node a link comes from, where the link says it.
    fn src_node(&self) -> Option<u32> {
        match self.kind {
            LinkKind::Controller { src, .. } => Some(src),
            LinkKind::InterBroker { .. } => {
                let id = self.client_id.as_deref()?;
                id.strip_prefix("broker-")?.split('-').next()?.parse().ok()
            }
            LinkKind::Client { .. } => None,
        }
    }

    fn covered_by(&self, cut: &CutTarget) -> bool {
        match (cut, self.kind) {
            (CutTarget::Client(name), LinkKind::Client { .. }) => self.client_id.as_deref() == Some(name),
            (CutTarget::Client(_), _) | (CutTarget::Broker(_), LinkKind::Client { .. }) => false,
            (CutTarget::Broker(n), LinkKind::InterBroker { dst } | LinkKind::Controller { dst, .. }) => {
                dst == *n || self.src_node() == Some(*n)
            }
        }
    }
}

/// The cuts in force, shared by every link.
#[derive(Clone, Default)]
pub struct Cuts(Arc<Mutex<Vec<CutTarget>>>);

impl Cuts {
    /// Cuts `t` off (until [`Cuts::heal`]).
    pub fn cut(&self, t: CutTarget) {
        let mut v = self.0.lock().unwrap();
        if !v.contains(&t) {
            v.push(t);
        }
    }

    /// Ends the cut of `t`.
    pub fn heal(&self, t: &CutTarget) {
        self.0.lock().unwrap().retain(|c| c != t);
    }

    fn covers(&self, id: &LinkId) -> bool {
        self.0.lock().unwrap().iter().any(|c| id.covered_by(c))
    }
}

/// How long a held or idle link sleeps between looks at the cuts.
const TICK: Duration = Duration::from_millis(20);

/// Listens on `listen` and forwards each link to `upstream`, under `cuts`; runs until the
/// process ends (one thread per listener, two per link).
pub fn serve(listen: TcpListener, upstream: SocketAddr, kind: LinkKind, cuts: Cuts) {
    std::thread::spawn(move || {
        for down in listen.incoming().flatten() {
            let cuts = cuts.clone();
            std::thread::spawn(move || link(down, upstream, kind, cuts));
        }
    });
}

/// One link: reads the first request (to know whose it is), holds it while a cut covers
/// it, connects upstream, then pumps both ways.
fn link(down: TcpStream, upstream: SocketAddr, kind: LinkKind, cuts: Cuts) {
    let _ = down.set_nodelay(true);
    let mut first = Vec::new();
    let client_id = match kind {
        LinkKind::Controller { .. } => None,
        _ => match first_request(&down, &mut first) {
            Some(id) => id,
            None => return,
        },
    };
    let id = LinkId { kind, client_id };
    let held = Arc::new(AtomicBool::new(false));
    while cuts.covers(&id) {
        held.store(true, Ordering::SeqCst);
        std::thread::sleep(TICK);
    }
    if held.load(Ordering::SeqCst) {
        let _ = down.shutdown(Shutdown::Both);
        return;
    }
    let Ok(mut up) = TcpStream::connect(upstream) else {
        let _ = down.shutdown(Shutdown::Both);
        return;
    };
    let _ = up.set_nodelay(true);
    if up.write_all(&first).is_err() {
        return;
    }
    let (Ok(down2), Ok(up2)) = (down.try_clone(), up.try_clone()) else {
        return;
    };
    let (id2, cuts2, held2) = (id.clone(), cuts.clone(), held.clone());
    std::thread::spawn(move || pump(up2, down2, &id2, &cuts2, &held2));
    pump(down, up, &id, &cuts, &held);
}

/// Reads the first request frame from `s` into `buf`; its `client_id` (`Some(None)` for a
/// null one), or `None` if the peer closed first.
fn first_request(mut s: &TcpStream, buf: &mut Vec<u8>) -> Option<Option<String>> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).ok()?;
    let n = i32::from_be_bytes(size).clamp(0, 1 << 20) as usize;
    let mut body = vec![0u8; n];
    s.read_exact(&mut body).ok()?;
    buf.extend_from_slice(&size);
    buf.extend_from_slice(&body);
    Some(client_id(&body))
}

/// The `client_id` of a request header (after the 4-byte size).
fn client_id(body: &[u8]) -> Option<String> {
    let len = i16::from_be_bytes(body.get(8..10)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?;
    Some(String::from_utf8_lossy(body.get(10..10 + len)?).into_owned())
}

/// Copies `from` to `to` while no cut covers the link; once one did, closes both when it
/// heals (`held` is shared by the link's two directions).
fn pump(mut from: TcpStream, mut to: TcpStream, id: &LinkId, cuts: &Cuts, held: &AtomicBool) {
    let _ = from.set_read_timeout(Some(TICK));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cuts.covers(id) {
            held.store(true, Ordering::SeqCst);
            std::thread::sleep(TICK);
            continue;
        }
        if held.load(Ordering::SeqCst) {
            break;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                if to.write_all(&buf[..k]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests;

pub mod control;
