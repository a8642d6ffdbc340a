//! The built-in producer applications: a scenario's scripted producer, and the companion
//! producer of a consumer process.
//!
//! Reproduces what the demos' producer processes do: `send()` each record of the scenario's
//! `messages` list (or of its `generate` templates), one every `interval_ms`, the first as
//! soon as the client is bootstrapped, then `flush()` and close. The companion sends nothing
//! of its own: it only carries the records an application in a consumer of the same process
//! hands over (`Msg::AppProduce`, consume–transform–produce) and never closes by itself.

use super::app::{Next, OutRecord, ProducerApp, ProducerCtx};
use crate::types::Payload;
use sim::Time;

/// Where a producer's records come from.
#[derive(Clone, Debug)]
pub enum Records {
    /// An explicit list: payload and optional explicit partition.
    List(Vec<(Payload, Option<u32>)>),
    /// `count` records; `{i}` in the templates is replaced by the record number (0-based).
    Generated {
        /// Number of records.
        count: u32,
        /// Key template; `None` = null keys.
        key: Option<String>,
        /// Value template.
        value: String,
    },
}

impl Records {
    /// Number of records.
    pub fn len(&self) -> u32 {
        match self {
            Records::List(v) => v.len() as u32,
            Records::Generated { count, .. } => *count,
        }
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records a scenario's producer sends: its `messages`, or its `generate` templates.
    pub fn from_spec(p: &crate::scenario::ProducerSpec) -> Records {
        match &p.generate {
            Some(g) => Records::Generated {
                count: g.count,
                key: g.key.clone(),
                value: g.value.clone(),
            },
            None => Records::List(
                p.messages
                    .iter()
                    .map(|m| {
                        let (key, value) = (m.key.as_deref(), m.value.as_deref());
                        (
                            Payload::new(key.map(str::as_bytes), value.map(str::as_bytes)),
                            m.partition,
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Record `i` (0-based): its payload, and its explicit partition if it has one.
    pub fn get(&self, i: u32) -> (Payload, Option<u32>) {
        match self {
            Records::List(v) => v[i as usize].clone(),
            Records::Generated { key, value, .. } => {
                // key and value written one after the other into a buffer on the stack (on
                // the heap only when they are long)
                let mut buf = StackBuf::default();
                let key_len = key.as_deref().map(|k| fill(k, i, &mut buf));
                fill(value, i, &mut buf);
                let (k, v) = buf.bytes().split_at(key_len.unwrap_or(0));
                (Payload::new(key_len.map(|_| k), Some(v)), None)
            }
        }
    }
}

/// Bytes gathered on the stack, moved to the heap past 128.
struct StackBuf {
    stack: [u8; 128],
    len: usize,
    heap: Vec<u8>,
}

impl Default for StackBuf {
    fn default() -> Self {
        StackBuf {
            stack: [0; 128],
            len: 0,
            heap: Vec::new(),
        }
    }
}

impl StackBuf {
    fn push(&mut self, b: &[u8]) {
        if self.heap.is_empty() && self.len + b.len() <= self.stack.len() {
            self.stack[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.stack[..self.len]);
            }
            self.heap.extend_from_slice(b);
        }
    }

    fn bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        }
    }
}

/// Writes `template` with every `{i}` replaced by `i` (in decimal); returns the bytes written.
fn fill(template: &str, i: u32, out: &mut StackBuf) -> usize {
    let mut digits = [0u8; 10];
    let mut d = digits.len();
    let mut n = i;
    loop {
        d -= 1;
        digits[d] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &digits[d..];
    let t = template.as_bytes();
    let (mut from, mut at, mut written) = (0, 0, 0);
    while at + 3 <= t.len() {
        if &t[at..at + 3] == b"{i}" {
            out.push(&t[from..at]);
            out.push(digits);
            written += at - from + digits.len();
            at += 3;
            from = at;
        } else {
            at += 1;
        }
    }
    out.push(&t[from..]);
    written + t.len() - from
}

/// A scenario's producer: its records, one every `interval`, then done.
#[derive(Clone, Debug)]
pub struct ScriptedProducer {
    records: Records,
    interval: Time,
    /// Records sent so far.
    sent: u32,
    /// When the next record is due (`None`: at once), and whether the producer was told.
    due: Option<(Time, bool)>,
}

impl ScriptedProducer {
    /// Sends `records`, the first at once, then one every `interval`.
    pub fn new(records: Records, interval: Time) -> ScriptedProducer {
        ScriptedProducer {
            records,
            interval,
            sent: 0,
            due: None,
        }
    }
}

impl ProducerApp for ScriptedProducer {
    fn next(&mut self, ctx: &mut ProducerCtx) -> Next {
        if self.sent == self.records.len() {
            return Next::Done;
        }
        match &mut self.due {
            // after each record the producer waits for the interval (a timer, even of 0 ms)
            Some((at, told)) if !*told || ctx.now() < *at => {
                *told = true;
                Next::At(*at)
            }
            _ => {
                let (payload, partition) = self.records.get(self.sent);
                self.sent += 1;
                self.due = Some((ctx.now() + self.interval, false));
                Next::Send(OutRecord {
                    topic: None,
                    payload,
                    partition,
                })
            }
        }
    }
}

/// The producer of a consumer process: sends only the records handed over to it.
#[derive(Copy, Clone, Debug, Default)]
pub struct Companion;

impl ProducerApp for Companion {
    fn next(&mut self, _ctx: &mut ProducerCtx) -> Next {
        Next::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(key: Option<&str>, value: &str) -> Records {
        Records::Generated {
            count: 1_000_000,
            key: key.map(str::to_string),
            value: value.to_string(),
        }
    }

    #[test]
    fn generated_records_fill_every_placeholder() {
        let (p, part) = generated(Some("k{i}-{i}"), "value {i}!").get(4_294_967_295);
        assert_eq!(part, None);
        assert_eq!(p.key(), Some(&b"k4294967295-4294967295"[..]));
        assert_eq!(p.value(), Some(&b"value 4294967295!"[..]));
        let (p, _) = generated(None, "v").get(7);
        assert_eq!((p.key(), p.value()), (None, Some(&b"v"[..])));
        let (p, _) = generated(Some(""), "{i}").get(0);
        assert_eq!((p.key(), p.value()), (Some(&b""[..]), Some(&b"0"[..])));
        // longer than the stack buffer: the same bytes, from the heap
        let long = "x".repeat(200) + "{i}";
        let (p, _) = generated(Some(&long), &long).get(12);
        let want = "x".repeat(200) + "12";
        assert_eq!(
            (p.key(), p.value()),
            (Some(want.as_bytes()), Some(want.as_bytes()))
        );
    }

    fn script(n: u32, interval_ms: u64) -> ScriptedProducer {
        let records = Records::List(
            (0..n)
                .map(|i| {
                    (
                        Payload::new(None, Some(format!("v{i}").as_bytes())),
                        (i == 1).then_some(2),
                    )
                })
                .collect(),
        );
        ScriptedProducer::new(records, Time::ms(interval_ms))
    }

    /// Asks `app` at `now`: the answer, and its record's value if it sends.
    fn ask(app: &mut ScriptedProducer, now_ms: u64) -> Next {
        app.next(&mut ProducerCtx::new(Time::ms(now_ms)))
    }

    fn value(next: &Next) -> (&[u8], Option<u32>) {
        match next {
            Next::Send(r) => (r.payload.value().expect("value"), r.partition),
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn scripted_records_go_out_one_per_interval_then_done() {
        let mut app = script(3, 100);
        assert_eq!(value(&ask(&mut app, 5)), (&b"v0"[..], None));
        assert_eq!(ask(&mut app, 5), Next::At(Time::ms(105)));
        // asked early, it waits for its time
        assert_eq!(ask(&mut app, 50), Next::At(Time::ms(105)));
        assert_eq!(value(&ask(&mut app, 105)), (&b"v1"[..], Some(2)));
        assert_eq!(ask(&mut app, 105), Next::At(Time::ms(205)));
        assert_eq!(value(&ask(&mut app, 205)), (&b"v2"[..], None));
        assert_eq!(ask(&mut app, 205), Next::Done);
        assert_eq!(ask(&mut app, 900), Next::Done);
    }

    #[test]
    fn scripted_records_without_interval_still_wait_for_a_timer() {
        let mut app = script(2, 0);
        assert_eq!(value(&ask(&mut app, 0)), (&b"v0"[..], None));
        assert_eq!(ask(&mut app, 0), Next::At(Time::ZERO));
        assert_eq!(value(&ask(&mut app, 0)), (&b"v1"[..], Some(2)));
        assert_eq!(ask(&mut app, 0), Next::Done);
        assert_eq!(ask(&mut script(0, 10), 0), Next::Done);
    }

    #[test]
    fn the_companion_only_waits() {
        let mut c = Companion;
        assert_eq!(c.next(&mut ProducerCtx::new(Time::ms(3))), Next::Wait);
    }
}
