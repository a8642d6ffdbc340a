//! The brokers' section of the timeline, for a cluster of several: a header row with the
//! acknowledged records the checker found lost (`lost-write`), then a lane per broker with
//! the partitions it led (from each `LeaderElected` of a newer leader epoch to the next),
//! its crashes and restarts, the controller fencing it, replica-fetcher stalls, network
//! partitions, and log truncations.

use super::draw::{colour, cross, header_row, label, lane_frame, r2, tick, titled};
use super::{Layout, GROUP_H, LANE_GAP, LEFT};
use models::check::{AnomalyKind, Report};
use models::history::Event;
use models::types::Tp;
use sim::{ActorId, Time, TraceEntry};
use std::collections::BTreeMap;
use svg::node::element::{Group, Rectangle};
use svg::{Document, Node};

/// One leadership: broker, partition, from, to, leader epoch.
type Leads = (ActorId, Tp, Time, Time, i32);

/// The brokers' section from `y` on.
pub(super) fn section(mut doc: Document, layout: &Layout, report: &Report, mut y: f64) -> Document {
    doc = doc.add(header(layout, report, y));
    y += GROUP_H;
    let bars = leaderships(layout);
    for (node, &actor) in layout.run.brokers.iter().enumerate() {
        doc = doc.add(lane(layout, &bars, node as u32 + 1, actor, y));
        y += layout.lane_h + LANE_GAP;
    }
    doc
}

/// The header row, with lost writes as red crosses when they were acknowledged.
fn header(layout: &Layout, report: &Report, y: f64) -> Group {
    let mut header = Group::new()
        .set("class", "brokers")
        .add(header_row(y, layout.width))
        .add(label(12.0, y + 17.0, "brokers", 12, "start").set("font-weight", "bold"));
    for a in report.of(AnomalyKind::LostWrite) {
        header = header.add(titled(
            cross(layout.x(a.time), y + GROUP_H / 2.0, "lost-write"),
            format!("lost write: {} — {}", layout.run.meta.display(a.tp), a.detail),
        ));
    }
    header
}

/// Who led what, from the elections (the first leader from the start): those that ended, in
/// the order they ended, then those lasting to the end, by partition.
fn leaderships(layout: &Layout) -> Vec<Leads> {
    let meta = &layout.run.meta;
    let mut leader: BTreeMap<Tp, (ActorId, Time, i32)> = BTreeMap::new();
    let mut bars: Vec<Leads> = Vec::new();
    for e in layout.run.trace.entries() {
        if let Event::LeaderElected { tp, epoch, .. } = e.record {
            if meta.is_internal(tp) || leader.get(&tp).is_some_and(|l| l.2 >= epoch) {
                continue;
            }
            if let Some((a, s, ep)) = leader.insert(tp, (e.actor, e.time, epoch)) {
                bars.push((a, tp, s, e.time, ep));
            }
        }
    }
    for (tp, (a, s, ep)) in leader {
        bars.push((a, tp, s, layout.end, ep));
    }
    bars
}

/// Broker `node` (`actor`)'s lane at `y`: what it led, and its marks.
fn lane(layout: &Layout, bars: &[Leads], node: u32, actor: ActorId, y: f64) -> Group {
    let (meta, lane_h, row_h) = (&layout.run.meta, layout.lane_h, layout.row_h);
    let name = layout.run.trace.name(actor).to_string();
    let mut g = Group::new()
        .set("class", "broker-lane")
        .set("data-broker", name.as_str())
        .add(lane_frame(y, lane_h))
        .add(label(LEFT - 10.0, y + lane_h / 2.0 + 4.0, &name, 12, "end"));
    for (_, tp, s, e, ep) in bars.iter().filter(|b| b.0 == actor) {
        let i = layout.row(*tp);
        let rect = Rectangle::new()
            .set("class", "leads")
            .set("x", layout.x(*s))
            .set("y", r2(y + 4.0 + i as f64 * row_h))
            .set("width", r2((layout.x(*e) - layout.x(*s)).max(1.0)))
            .set("height", r2((row_h - 0.5).max(1.5)))
            .set("fill", colour(i, 72));
        g = g.add(titled(
            rect,
            format!("leads {} in epoch {ep}, {s} – {e}", meta.display(*tp)),
        ));
    }
    let (top, bottom) = (y + 1.0, y + lane_h - 1.0);
    for e in layout.run.trace.entries() {
        if let Some((mark, title)) = mark(layout, e, node, actor, (top, bottom)) {
            let mut t = Group::new();
            t.append(mark);
            g = g.add(titled(t, format!("{title} at {}", e.time)));
        }
    }
    g
}

/// The mark of an entry on broker `node`'s lane, with its tooltip, if it has one.
fn mark(
    layout: &Layout,
    e: &TraceEntry<Event>,
    node: u32,
    actor: ActorId,
    (top, bottom): (f64, f64),
) -> Option<(Box<dyn Node>, String)> {
    let tx = layout.x(e.time);
    let band = |until: Time, y: f64, fill: &str, class: &str| {
        Rectangle::new()
            .set("x", tx)
            .set("y", r2(y))
            .set("width", r2((layout.x(until) - tx).max(1.0)))
            .set("height", 3)
            .set("fill", fill.to_string())
            .set("class", class.to_string())
    };
    let mine = e.actor == actor;
    Some(match &e.record {
        Event::Crashed if mine => (
            Box::new(tick(tx, top, bottom, "#d00000", "mark crash")),
            "crash".into(),
        ),
        Event::Restarted if mine => (
            Box::new(tick(tx, top, bottom, "#2a9d2a", "mark restart")),
            "restart (logs kept)".into(),
        ),
        Event::BrokerFenced { node: fenced } if *fenced == node => (
            Box::new(tick(tx, top, bottom, "#777777", "mark fenced")),
            "fenced by the controller".into(),
        ),
        Event::Stalled { until } if mine => (
            Box::new(band(*until, bottom - 4.0, "#7a3db8", "mark stall")),
            format!("replica fetchers stalled until {until}"),
        ),
        Event::Partitioned { until } if mine => (
            Box::new(band(*until, top, "#777777", "mark partitioned")),
            format!("cut off from the other brokers and the controller until {until}"),
        ),
        Event::Truncated { tp, offset, removed } if mine && !layout.run.meta.is_internal(*tp) => (
            Box::new(cross(tx, (top + bottom) / 2.0, "mark truncate")),
            format!(
                "truncated {} to offset {offset}: {} records removed",
                layout.run.meta.display(*tp),
                removed.len()
            ),
        ),
        _ => return None,
    })
}
