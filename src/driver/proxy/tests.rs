//! The proxy on loopback with plain sockets: an echo server upstream, Kafka-framed requests
//! with a `client_id` downstream.

use super::*;
use std::io::ErrorKind;

/// An upstream that echoes every byte back; its address.
fn echo_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let mut w = s;
                let _ = std::io::copy(&mut r, &mut w);
            });
        }
    });
    addr
}

/// A proxy listener of `kind` in front of an echo server; its address.
fn proxy(kind: LinkKind, cuts: &Cuts) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    serve(l, echo_server(), kind, cuts.clone());
    addr
}

/// A request frame: size, api_key 18 (ApiVersions), version 3, correlation 7, client_id.
fn frame(client_id: &str) -> Vec<u8> {
    let mut body = vec![0, 18, 0, 3, 0, 0, 0, 7];
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    body.extend_from_slice(b"payload");
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    s
}

/// Sends `bytes` and reads as many back: `Ok(true)` if they came back equal, `Ok(false)` on
/// a timeout (the link is held), `Err` when the link was closed.
fn round_trip(s: &mut TcpStream, bytes: &[u8]) -> Result<bool, ()> {
    s.write_all(bytes).map_err(|_| ())?;
    let mut back = vec![0u8; bytes.len()];
    match s.read_exact(&mut back) {
        Ok(()) => Ok(back == bytes),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
        Err(_) => Err(()),
    }
}

#[test]
fn a_link_forwards_both_ways() {
    let cuts = Cuts::default();
    let p = proxy(LinkKind::Client { dst: 1 }, &cuts);
    let mut s = connect(p);
    assert_eq!(round_trip(&mut s, &frame("producer-1")), Ok(true));
    assert_eq!(
        round_trip(&mut s, b"more bytes after the first request"),
        Ok(true)
    );
}

#[test]
fn a_client_cut_holds_that_clients_links_and_closes_them_when_it_heals() {
    let cuts = Cuts::default();
    let p = proxy(LinkKind::Client { dst: 1 }, &cuts);
    let mut a = connect(p);
    let mut b = connect(p);
    assert_eq!(round_trip(&mut a, &frame("a")), Ok(true));
    assert_eq!(round_trip(&mut b, &frame("b")), Ok(true));
    cuts.cut(CutTarget::Client("a".into()));
    std::thread::sleep(TICK * 3);
    assert_eq!(
        round_trip(&mut a, b"held"),
        Ok(false),
        "a cut link answers nothing"
    );
    assert_eq!(
        round_trip(&mut b, b"other"),
        Ok(true),
        "another client's link goes on"
    );
    let mut fresh = connect(p);
    assert_eq!(
        round_trip(&mut fresh, &frame("a")),
        Ok(false),
        "a new link of a is held too"
    );
    cuts.heal(&CutTarget::Client("a".into()));
    std::thread::sleep(TICK * 5);
    let mut rest = [0u8; 64];
    assert!(
        matches!(a.read(&mut rest), Ok(0) | Err(_)),
        "a held link is closed at the heal"
    );
    assert!(matches!(fresh.read(&mut rest), Ok(0) | Err(_)));
    let mut again = connect(p);
    assert_eq!(
        round_trip(&mut again, &frame("a")),
        Ok(true),
        "a reconnects after the heal"
    );
}

#[test]
fn a_broker_cut_holds_its_peer_links_not_its_clients() {
    let cuts = Cuts::default();
    let to1 = proxy(LinkKind::InterBroker { dst: 1 }, &cuts);
    let to3 = proxy(LinkKind::InterBroker { dst: 3 }, &cuts);
    let ctl_2_to_3 = proxy(LinkKind::Controller { src: 2, dst: 3 }, &cuts);
    let ctl_1_to_3 = proxy(LinkKind::Controller { src: 1, dst: 3 }, &cuts);
    let client_to2 = proxy(LinkKind::Client { dst: 2 }, &cuts);
    cuts.cut(CutTarget::Broker(2));
    std::thread::sleep(TICK * 2);
    let mut from2 = connect(to1);
    assert_eq!(round_trip(&mut from2, &frame("broker-2-fetcher-0")), Ok(false));
    let mut from3 = connect(to1);
    assert_eq!(round_trip(&mut from3, &frame("broker-3-fetcher-0")), Ok(true));
    let mut from1 = connect(to3);
    assert_eq!(round_trip(&mut from1, &frame("broker-1-fetcher-0")), Ok(true));
    let mut c = connect(ctl_2_to_3);
    assert_eq!(round_trip(&mut c, b"vote"), Ok(false));
    let mut c = connect(ctl_1_to_3);
    assert_eq!(round_trip(&mut c, b"vote"), Ok(true));
    let mut client = connect(client_to2);
    assert_eq!(round_trip(&mut client, &frame("producer-1")), Ok(true));
}

#[test]
fn a_client_id_is_read_from_the_request_header() {
    let f = frame("consumer-g-1");
    assert_eq!(client_id(&f[4..]).as_deref(), Some("consumer-g-1"));
    assert_eq!(
        client_id(&[0, 18, 0, 3, 0, 0, 0, 7, 0xff, 0xff]),
        None,
        "a null client_id"
    );
    assert_eq!(client_id(&[0, 18]), None, "a short header");
}
