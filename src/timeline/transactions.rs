//! The transactions' section of the timeline (KIP-98), for a run with transactional
//! producers: a header row, then a lane per transactional producer with a span per
//! transaction, from `beginTransaction()` to how it ended — committed (green), aborted
//! (grey), its producer fenced (orange: a newer instance, or the coordinator aborting it at
//! `transaction.timeout.ms`), or still open when the run ended (amber, to the end) — and a
//! tick where `sendOffsetsToTransaction()` put a group's offsets into it. A span's tooltip
//! gives the `transactional.id`, the epoch, the records sent in it and its times.

use super::draw::{header_row, label, lane_frame, r2, tick, titled};
use super::{Layout, GROUP_H, LANE_GAP, LEFT};
use models::history::{Event, TxnStep};
use models::world::Run;
use sim::{ActorId, Time};
use svg::node::element::{Group, Rectangle};
use svg::Document;

/// The height of a transactional producer's lane.
pub(super) const TXN_LANE_H: f64 = 22.0;

/// How a transaction ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// `commitTransaction()` returned.
    Committed,
    /// `abortTransaction()` returned.
    Aborted,
    /// Its producer was fenced before it ended.
    Fenced,
    /// The run ended first.
    Open,
}

impl End {
    fn class(self) -> &'static str {
        match self {
            End::Committed => "txn committed",
            End::Aborted => "txn aborted",
            End::Fenced => "txn fenced",
            End::Open => "txn open",
        }
    }

    fn fill(self) -> &'static str {
        match self {
            End::Committed => "#6cbf6c",
            End::Aborted => "#b0b0b0",
            End::Fenced => "#f08c2e",
            End::Open => "#f2c94c",
        }
    }

    fn word(self) -> &'static str {
        match self {
            End::Committed => "committed",
            End::Aborted => "aborted",
            End::Fenced => "fenced",
            End::Open => "open at the end",
        }
    }
}

/// One transaction of one producer.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Span {
    pub from: Time,
    pub to: Time,
    pub end: End,
    pub transactional_id: String,
    pub epoch: i32,
    /// Records its producer sent while it was open.
    pub records: usize,
    /// When its offsets were sent, with the group.
    pub offsets: Vec<(Time, String)>,
}

/// A transactional producer's lane: its name and its transactions in order.
pub(super) struct Lane {
    name: String,
    spans: Vec<Span>,
}

/// The lanes of the producers that wrote a transaction step, in the order of their first.
pub(super) fn lanes(run: &Run) -> Vec<Lane> {
    let mut actors: Vec<ActorId> = Vec::new();
    for e in run.trace.entries() {
        if matches!(e.record, Event::Txn(_)) && !actors.contains(&e.actor) {
            actors.push(e.actor);
        }
    }
    actors
        .into_iter()
        .map(|a| Lane {
            name: run.trace.name(a).to_string(),
            spans: spans(run, a),
        })
        .collect()
}

/// Producer `actor`'s transactions, read off its history.
pub(super) fn spans(run: &Run, actor: ActorId) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut open: Option<Span> = None;
    for e in run.trace.entries().iter().filter(|e| e.actor == actor) {
        match &e.record {
            Event::Txn(t) => match &t.step {
                TxnStep::Begin => {
                    if let Some(mut s) = open.take() {
                        // a begin without an end: the producer went on (a restart)
                        s.to = e.time;
                        s.end = End::Open;
                        out.push(s);
                    }
                    open = Some(Span {
                        from: e.time,
                        to: e.time,
                        end: End::Open,
                        transactional_id: t.transactional_id.to_string(),
                        epoch: t.epoch,
                        records: 0,
                        offsets: Vec::new(),
                    });
                }
                TxnStep::OffsetsSent { group, .. } => {
                    if let Some(s) = open.as_mut() {
                        s.offsets.push((e.time, group.to_string()));
                    }
                }
                step => {
                    if let Some(mut s) = open.take() {
                        s.to = e.time;
                        s.end = match step {
                            TxnStep::Committed => End::Committed,
                            TxnStep::Aborted => End::Aborted,
                            _ => End::Fenced,
                        };
                        out.push(s);
                    }
                }
            },
            Event::Send { .. } => {
                if let Some(s) = open.as_mut() {
                    s.records += 1;
                }
            }
            _ => {}
        }
    }
    if let Some(mut s) = open {
        s.to = run.end;
        out.push(s);
    }
    out
}

/// The section's height for `lanes` lanes (nothing without transactions).
pub(super) fn height(lanes: usize) -> f64 {
    if lanes == 0 {
        0.0
    } else {
        GROUP_H + lanes as f64 * (TXN_LANE_H + LANE_GAP)
    }
}

/// The transactions' section from `y` on; returns the document and where the next starts.
pub(super) fn section(mut doc: Document, layout: &Layout, lanes: &[Lane], mut y: f64) -> (Document, f64) {
    if lanes.is_empty() {
        return (doc, y);
    }
    doc = doc.add(
        Group::new()
            .set("class", "transactions")
            .add(header_row(y, layout.width))
            .add(label(12.0, y + 17.0, "transactions", 12, "start").set("font-weight", "bold"))
            .add(label(
                LEFT,
                y + 17.0,
                "green committed · grey aborted · orange fenced · amber open · tick: offsets sent",
                11,
                "start",
            )),
    );
    y += GROUP_H;
    for lane in lanes {
        doc = doc.add(draw_lane(layout, lane, y));
        y += TXN_LANE_H + LANE_GAP;
    }
    (doc, y)
}

fn draw_lane(layout: &Layout, lane: &Lane, y: f64) -> Group {
    let mut g = Group::new()
        .set("class", "txn-lane")
        .set("data-producer", lane.name.as_str())
        .add(lane_frame(y, TXN_LANE_H))
        .add(label(
            LEFT - 10.0,
            y + TXN_LANE_H / 2.0 + 4.0,
            &lane.name,
            12,
            "end",
        ));
    for s in &lane.spans {
        let x = layout.x(s.from);
        let rect = Rectangle::new()
            .set("class", s.end.class())
            .set("x", x)
            .set("y", r2(y + 4.0))
            .set("width", r2((layout.x(s.to) - x).max(1.0)))
            .set("height", r2(TXN_LANE_H - 8.0))
            .set("fill", s.end.fill())
            .set("stroke", "#555555")
            .set("stroke-width", 0.5);
        g = g.add(titled(
            rect,
            format!(
                "transaction of {} (epoch {}): {}, {} records, {} – {}",
                s.transactional_id,
                s.epoch,
                s.end.word(),
                s.records,
                s.from,
                s.to
            ),
        ));
        for (t, group) in &s.offsets {
            g = g.add(titled(
                tick(
                    layout.x(*t),
                    y + 2.0,
                    y + TXN_LANE_H - 2.0,
                    "#1f4e9c",
                    "mark txn-offsets",
                ),
                format!("offsets of group {group} sent to the transaction at {t}"),
            ));
        }
    }
    g
}
