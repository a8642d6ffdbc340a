//! The consumers' sections of the timeline: one per consumer group, headed by a row with the
//! records the group lost (red crosses), then a lane per member with the partitions it owned
//! (from `onPartitionsAssigned` to `onPartitionsRevoked`/`onPartitionsLost` or its end), the
//! marks of its life in the group, and a dot per record it consumed — red for a duplicate.

use super::draw::{colour, cross, header_row, label, lane_frame, list, r2, rule, titled};
use super::{Layout, GROUP_H, LANE_GAP, LEFT};
use models::check::{AnomalyKind, Report};
use models::history::Event;
use models::query::{self, Ownership};
use models::types::{show_bytes, Tp};
use models::world::{ClientKind, Run};
use sim::{ActorId, Time};
use std::collections::BTreeSet;
use svg::node::element::{Circle, Group, Path, Rectangle};
use svg::{Document, Node};

/// One consumer's lane.
pub(super) struct Lane {
    name: String,
    group: String,
    actor: ActorId,
    /// The partitions it owned, in the order the ownerships ended.
    owned: Vec<Ownership>,
}

/// The consumer groups, in order of first appearance.
pub(super) fn groups(run: &Run) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for c in run.clients.iter().filter(|c| c.kind == ClientKind::Consumer) {
        let g = c.group.clone().unwrap_or_default();
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
}

/// The consumers' lanes, grouped by group in the order of `groups`.
pub(super) fn lanes(run: &Run, groups: &[String]) -> Vec<Lane> {
    let owned = query::ownership(&run.trace);
    groups
        .iter()
        .flat_map(|g| {
            run.clients
                .iter()
                .filter(move |c| c.kind == ClientKind::Consumer && c.group.as_deref() == Some(g))
                .map(|c| Lane {
                    name: c.name.clone(),
                    group: g.clone(),
                    actor: c.actor,
                    owned: owned.iter().filter(|o| o.client == c.actor).cloned().collect(),
                })
        })
        .collect()
}

/// Every group's section from `y` on; returns the document and where the next section starts.
pub(super) fn sections(
    mut doc: Document,
    layout: &Layout,
    groups: &[String],
    lanes: &[Lane],
    report: &Report,
    mut y: f64,
) -> (Document, f64) {
    let duplicated: BTreeSet<(String, Tp, i64)> = report
        .of(AnomalyKind::Duplicate)
        .map(|a| {
            (
                a.group.as_deref().unwrap_or("").to_string(),
                a.tp,
                a.offset.unwrap_or(-1),
            )
        })
        .collect();
    for g in groups {
        doc = doc.add(group_header(layout, g, report, y));
        y += GROUP_H;
        for lane in lanes.iter().filter(|l| &l.group == g) {
            doc = doc.add(lane_group(layout, lane, y, &duplicated));
            y += layout.lane_h + LANE_GAP;
        }
    }
    (doc, y)
}

/// A group's header row, with the records it lost as red crosses where they were written.
fn group_header(layout: &Layout, g: &str, report: &Report, y: f64) -> Group {
    let (run, meta) = (layout.run, &layout.run.meta);
    let mut header = Group::new().set("class", "group");
    header = header
        .add(header_row(y, layout.width))
        .add(label(12.0, y + 17.0, &format!("group {g}"), 12, "start").set("font-weight", "bold"));
    for a in report
        .of(AnomalyKind::Lost)
        .filter(|a| a.group.as_deref() == Some(g))
    {
        let written = run
            .trace
            .entries()
            .iter()
            .find(|e| matches!(&e.record, Event::Appended { tp, offset, .. } if *tp == a.tp && Some(*offset) == a.offset))
            .map_or(layout.end, |e| e.time);
        header = header.add(titled(
            cross(layout.x(written), y + GROUP_H / 2.0, "lost-record"),
            format!("lost: {} — {}", meta.display(a.tp), a.detail),
        ));
    }
    header
}

/// Where a lane is drawn.
struct At<'a> {
    layout: &'a Layout<'a>,
    /// The lane's top.
    y: f64,
    /// Where marks start and end.
    top: f64,
    bottom: f64,
}

impl At<'_> {
    /// The top of `tp`'s row.
    fn row_y(&self, tp: Tp) -> f64 {
        self.y + 4.0 + self.layout.row(tp) as f64 * self.layout.row_h
    }
}

/// One consumer's lane at `y`: its name, ownership bars, marks and consumed records.
fn lane_group(layout: &Layout, lane: &Lane, y: f64, duplicated: &BTreeSet<(String, Tp, i64)>) -> Group {
    let lane_h = layout.lane_h;
    let at = At {
        layout,
        y,
        top: y + 1.0,
        bottom: y + lane_h - 1.0,
    };
    let name = if lane.name.chars().count() > 30 {
        format!("{}…", lane.name.chars().take(29).collect::<String>())
    } else {
        lane.name.clone()
    };
    let mut g = Group::new()
        .set("class", "lane")
        .set("data-client", lane.name.as_str())
        .add(lane_frame(y, lane_h))
        .add(titled(
            label(LEFT - 10.0, y + lane_h / 2.0 + 4.0, &name, 12, "end"),
            lane.name.clone(),
        ));
    let events: Vec<(Time, &Event)> = layout
        .run
        .trace
        .entries()
        .iter()
        .filter(|e| e.actor == lane.actor)
        .map(|e| (e.time, &e.record))
        .collect();
    g = ownership_bars(g, &at, lane);
    for (t, e) in &events {
        if let Some((node, text)) = mark(&at, at.layout.x(*t), e) {
            let mut holder = Group::new();
            holder.append(node);
            g = g.add(titled(holder, format!("{} at {t}", text)));
        }
    }
    consumed_dots(g, &at, &events, duplicated)
}

/// The partitions the member owned, as bars in their rows, in order of assignment.
fn ownership_bars(mut g: Group, at: &At, lane: &Lane) -> Group {
    let layout = at.layout;
    let mut bars: Vec<(Tp, Time, Time, i32)> = lane
        .owned
        .iter()
        .map(|o| (o.tp, o.start, o.end_or(layout.end), o.generation))
        .collect();
    bars.sort_by_key(|b| (b.1, b.0));
    for (tp, s, e, gen) in bars {
        let rect = Rectangle::new()
            .set("class", "owned")
            .set("x", layout.x(s))
            .set("y", r2(at.row_y(tp)))
            .set("width", r2((layout.x(e) - layout.x(s)).max(1.0)))
            .set("height", r2((layout.row_h - 0.5).max(1.5)))
            .set("fill", colour(layout.row(tp), 72));
        g = g.add(titled(
            rect,
            format!(
                "{} owned in generation {gen}, {} – {}",
                layout.run.meta.display(tp),
                s,
                e
            ),
        ));
    }
    g
}

/// The mark of a consumer's event at `tx`, with its tooltip, for the events that have one.
fn mark(at: &At, tx: f64, e: &Event) -> Option<(Box<dyn Node>, String)> {
    let meta = &at.layout.run.meta;
    let (top, bottom) = (at.top, at.bottom);
    Some(match e {
        Event::Joined {
            generation, leader, ..
        } => (
            Box::new(join(tx, top)),
            format!(
                "join generation {generation}{}",
                if *leader { " (leader)" } else { "" }
            ),
        ),
        Event::Revoked {
            partitions,
            generation,
            ..
        } => (
            Box::new(rule(tx, top, bottom, "#e08a00", "mark revoke")),
            format!("revoke {} (generation {generation})", list(meta, partitions)),
        ),
        Event::Lost {
            partitions, reason, ..
        } => (
            Box::new(rule(tx, top, bottom, "#d00000", "mark lost").set("stroke-dasharray", "3 2")),
            format!("lost {} ({reason})", list(meta, partitions)),
        ),
        Event::Left { .. } | Event::Closed => (
            Box::new(rule(tx, top, bottom, "#777777", "mark leave")),
            "leave / close".into(),
        ),
        Event::Crashed => (Box::new(crash(tx, top, bottom)), "crash".into()),
        Event::Restarted => (
            Box::new(restart(tx, r2(at.y + at.layout.lane_h / 2.0))),
            "restart".into(),
        ),
        Event::Committed { offsets, .. } => (
            Box::new(
                rule(tx, r2(bottom - 5.0), r2(bottom), "#1f5fbf", "mark commit").set("stroke-width", 1.5),
            ),
            format!(
                "commit {}",
                offsets
                    .iter()
                    .map(|(tp, o)| format!("{}@{o}", meta.display(*tp)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        Event::PollTimeout { .. } => (
            Box::new(poll_timeout(tx, top)),
            "max.poll.interval.ms exceeded: left the group".into(),
        ),
        Event::Stalled { until } => (Box::new(stall(at, tx, *until)), format!("stalled until {until}")),
        _ => return None,
    })
}

/// A join: a green triangle at the top of the lane.
fn join(tx: f64, top: f64) -> Path {
    Path::new()
        .set(
            "d",
            format!(
                "M{} {} L{} {} L{} {} Z",
                tx - 4.0,
                top + 7.0,
                tx + 4.0,
                top + 7.0,
                tx,
                top
            ),
        )
        .set("fill", "#2a9d2a")
        .set("class", "mark join")
}

/// A crash: a red cross over the whole lane.
fn crash(tx: f64, top: f64, bottom: f64) -> Path {
    Path::new()
        .set(
            "d",
            format!(
                "M{} {} L{} {} M{} {} L{} {}",
                tx - 6.0,
                top + 2.0,
                tx + 6.0,
                bottom - 2.0,
                tx - 6.0,
                bottom - 2.0,
                tx + 6.0,
                top + 2.0
            ),
        )
        .set("stroke", "#d00000")
        .set("stroke-width", 3)
        .set("class", "mark crash")
}

/// A restart: a green ring in the middle of the lane.
fn restart(tx: f64, cy: f64) -> Circle {
    Circle::new()
        .set("cx", tx)
        .set("cy", cy)
        .set("r", 5)
        .set("fill", "none")
        .set("stroke", "#2a9d2a")
        .set("stroke-width", 2)
        .set("class", "mark restart")
}

/// `max.poll.interval.ms` exceeded: a purple diamond at the top of the lane.
fn poll_timeout(tx: f64, top: f64) -> Path {
    Path::new()
        .set(
            "d",
            format!(
                "M{} {} L{} {} L{} {} L{} {} Z",
                tx,
                top,
                tx + 5.0,
                top + 5.0,
                tx,
                top + 10.0,
                tx - 5.0,
                top + 5.0
            ),
        )
        .set("fill", "#7a3db8")
        .set("class", "mark poll-timeout")
}

/// A stall: the lane shaded until `until`.
fn stall(at: &At, tx: f64, until: Time) -> Rectangle {
    Rectangle::new()
        .set("x", tx)
        .set("y", r2(at.y))
        .set("width", r2((at.layout.x(until) - tx).max(1.0)))
        .set("height", r2(at.layout.lane_h))
        .set("fill", "#000000")
        .set("fill-opacity", 0.08)
        .set("class", "mark stall")
}

/// A dot per record consumed, in its partition's row; red (and larger) for a duplicate.
fn consumed_dots(
    mut g: Group,
    at: &At,
    events: &[(Time, &Event)],
    duplicated: &BTreeSet<(String, Tp, i64)>,
) -> Group {
    let layout = at.layout;
    for (t, e) in events {
        if let Event::Consumed {
            group,
            tp,
            offset,
            payload,
            ..
        } = e
        {
            let bad = duplicated.contains(&(group.to_string(), *tp, *offset));
            let dot = Circle::new()
                .set("class", if bad { "consume anomaly" } else { "consume" })
                .set("cx", layout.x(*t))
                .set("cy", r2(at.row_y(*tp) + layout.row_h / 2.0))
                .set("r", if bad { 3.0 } else { 2.0 })
                .set(
                    "fill",
                    if bad {
                        "#d00000".to_string()
                    } else {
                        colour(layout.row(*tp), 30)
                    },
                );
            let what = if bad { "DUPLICATE " } else { "" };
            g = g.add(titled(
                dot,
                format!(
                    "{what}key={} {}@{offset} at {t}",
                    show_bytes(payload.key()),
                    layout.run.meta.display(*tp)
                ),
            ));
        }
    }
    g
}
