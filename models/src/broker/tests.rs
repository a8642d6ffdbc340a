//! The broker actor through the engine: its dispatch consults the fault-injection rules
//! before the API handlers run.

use super::interceptor::{ApiKey, InjectRule};
use super::*;
use crate::coordinator::GroupConfig;
use crate::protocol::ErrorCode;
use sim::{NetConfig, Sim};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

type Seen = Rc<RefCell<Vec<(Time, Msg)>>>;

/// Sends its next request to the broker at each `Start`, notes every answer.
struct Client {
    broker: ActorId,
    requests: VecDeque<Msg>,
    seen: Seen,
}

impl Actor<Msg, Event> for Client {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Event>, _: ActorId, msg: Msg) {
        match msg {
            Msg::Start => {
                let req = self.requests.pop_front().expect("a request");
                ctx.send(self.broker, req);
            }
            answer => self.seen.borrow_mut().push((ctx.now(), answer)),
        }
    }
}

/// One broker with `inject`, one client sending `requests` at `at` ms each.
fn run(inject: Vec<InjectRule>, requests: Vec<(u64, Msg)>) -> Vec<(Time, Msg)> {
    let (meta, cluster) = testkit::cluster(1);
    let cfg = BrokerConfig {
        node: 1,
        group: GroupConfig {
            initial_rebalance_delay_us: 0,
        },
        controller: None,
        heartbeat_interval: Time::ms(2000),
        replica_lag_max: Time::ms(30_000),
        replica_fetch_wait: Time::ms(500),
        replica_socket_timeout: Time::ms(30_000),
        min_isr: vec![1, 1],
        retention: vec![None],
        retention_check: Time::ms(300_000),
        inject,
    };
    let net = NetConfig {
        base: Time::ms(1),
        jitter: Time::ZERO,
    };
    let mut sim: Sim<Msg, Event> = Sim::new(0, net);
    let broker = sim.add_actor("broker-1", Box::new(Broker::new(meta, cluster, cfg)));
    let seen = Seen::default();
    let times: Vec<u64> = requests.iter().map(|(at, _)| *at).collect();
    let requests = requests.into_iter().map(|(_, m)| m).collect();
    let client = Client {
        broker,
        requests,
        seen: seen.clone(),
    };
    let client = sim.add_actor("client", Box::new(client));
    sim.schedule(Time::ZERO, broker, Msg::Start);
    for at in times {
        sim.schedule(Time::ms(at), client, Msg::Start);
    }
    sim.run_until(Time::ms(10_000));
    seen.take()
}

fn offset_fetch(tag: u64) -> Msg {
    Msg::OffsetFetchReq {
        group: "g".into(),
        partitions: vec![testkit::TP],
        tag,
    }
}

#[test]
fn an_injected_error_answers_instead_of_the_handler_then_requests_pass() {
    let load = ErrorCode::CoordinatorLoadInProgress;
    let rule = InjectRule::error(ApiKey::OffsetFetch, load);
    let seen = run(vec![rule], vec![(10, offset_fetch(1)), (20, offset_fetch(2))]);
    assert!(matches!(
        &seen[..],
        [
            (_, Msg::OffsetFetchResp { tag: 1, offsets: Err(ErrorCode::CoordinatorLoadInProgress) }),
            (_, Msg::OffsetFetchResp { tag: 2, offsets: Ok(o) }),
        ] if o == &vec![(testkit::TP, None)]
    ));
}

#[test]
fn a_delayed_request_is_handled_after_the_delay() {
    let rule = InjectRule::delay(ApiKey::OffsetFetch, Time::ms(250));
    let seen = run(vec![rule], vec![(10, offset_fetch(1)), (20, offset_fetch(2))]);
    let at: Vec<(u64, Time)> = seen
        .iter()
        .map(|(t, m)| match m {
            Msg::OffsetFetchResp { tag, offsets: Ok(_) } => (*tag, *t),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    // sent at 10 ms, arrives at 11, held 250 ms, answered at 262; the second is not held
    assert_eq!(at, vec![(2, Time::ms(22)), (1, Time::ms(262))]);
}

#[test]
fn without_rules_requests_are_handled_at_once() {
    let seen = run(Vec::new(), vec![(10, offset_fetch(1))]);
    assert!(matches!(seen[..], [(t, Msg::OffsetFetchResp { tag: 1, offsets: Ok(_) })] if t == Time::ms(12)));
}
