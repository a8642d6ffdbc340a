//! A picture of a run: virtual time left to right, one lane per consumer (grouped by consumer
//! group), the partitions each member owned as coloured bars, marks for joins, leaves,
//! crashes, restarts, revocations, losses, commits and stalls, and a dot for every record a
//! member consumed — red where the checker found an anomaly (a duplicate), with the record's
//! key, partition and offset in its title (a tooltip in a browser). Records the group lost
//! are red crosses on the group's header row.
//!
//! A cluster of several brokers adds a lane per broker: the partitions it leads as coloured
//! bars (from each `LeaderElected` to the next leader of that partition), crashes and
//! restarts, the controller fencing it, stalls, and truncations — with acknowledged records
//! the checker found lost (`lost-write`) as red crosses on the brokers' header row.
//!
//! Built with the `svg` crate; [`html`] wraps the same SVG in a self-contained page.

use models::check::{check, AnomalyKind, Claim};
use models::history::Event;
use models::query::{self, Ownership};
use models::types::{show_bytes, Tp};
use models::world::{ClientKind, Run};
use sim::{ActorId, Time};
use std::collections::{BTreeMap, BTreeSet};
use svg::node::element::{Circle, Group, Line, Path, Rectangle, Text, Title};
use svg::node::Text as TextNode;
use svg::{Document, Node};

const LEFT: f64 = 240.0;
const PLOT_W: f64 = 1000.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 100.0;
const GROUP_H: f64 = 26.0;
const LANE_GAP: f64 = 6.0;

struct Lane {
    name: String,
    group: String,
    actor: ActorId,
    /// The partitions it owned, in the order the ownerships ended.
    owned: Vec<Ownership>,
}

fn r2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Partition colours: hues with no red in them (red means an anomaly), lightness varied
/// for more than twelve partitions.
fn colour(i: usize, lightness: u32) -> String {
    const HUES: [u32; 12] = [210, 120, 45, 275, 180, 90, 30, 245, 150, 60, 300, 195];
    let l = lightness.saturating_sub(8 * ((i / HUES.len()) as u32 % 3));
    format!("hsl({},60%,{}%)", HUES[i % HUES.len()], l)
}

fn titled<T: Node>(mut node: T, title: String) -> T {
    node.append(Title::new(title));
    node
}

fn label(x: f64, y: f64, text: &str, size: u32, anchor: &str) -> Text {
    Text::new(text)
        .set("x", r2(x))
        .set("y", r2(y))
        .set("font-size", size)
        .set("font-family", "DejaVu Sans, Arial, sans-serif")
        .set("text-anchor", anchor)
}

/// The background of a lane (a client's or a broker's) starting at `y`.
fn lane_frame(y: f64, lane_h: f64) -> Rectangle {
    Rectangle::new()
        .set("x", LEFT)
        .set("y", r2(y))
        .set("width", PLOT_W)
        .set("height", r2(lane_h))
        .set("fill", "#fafafa")
        .set("stroke", "#dddddd")
}

fn nice_step(total_ms: f64) -> f64 {
    let raw = total_ms / 10.0;
    let pow = 10f64.powf(raw.max(1.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow)
}

fn fmt_ms(ms: f64) -> String {
    if ms == 0.0 {
        "0 s".to_string()
    } else if ms >= 1000.0 {
        let s = ms / 1000.0;
        if (s - s.round()).abs() < 1e-9 {
            format!("{} s", s.round())
        } else {
            format!("{s:.1} s")
        }
    } else {
        format!("{} ms", ms.round())
    }
}

/// The timeline of `run` as an SVG document (text).
pub fn svg(run: &Run, title: &str) -> String {
    let meta = &run.meta;
    let end = run.end.max(Time::ms(1));
    let x = |t: Time| r2(LEFT + t.as_us() as f64 / end.as_us() as f64 * PLOT_W);

    // lanes: consumers, grouped by group in order of first appearance
    let mut groups: Vec<String> = Vec::new();
    for c in run.clients.iter().filter(|c| c.kind == ClientKind::Consumer) {
        let g = c.group.clone().unwrap_or_default();
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let owned = query::ownership(&run.trace);
    let lanes: Vec<Lane> = groups
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
        .collect();
    let rows: Vec<Tp> = meta.all_partitions().collect();
    let row_of: BTreeMap<Tp, usize> = rows.iter().enumerate().map(|(i, tp)| (*tp, i)).collect();
    let row_h = (28.0 / rows.len().max(1) as f64).max(2.5);
    let lane_h = (row_h * rows.len() as f64 + 8.0).max(36.0);

    // anomalies
    let report = check(&run.trace, Claim::ExactlyOncePerGroup);
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

    let broker_rows = if run.brokers.len() > 1 {
        GROUP_H + run.brokers.len() as f64 * (lane_h + LANE_GAP)
    } else {
        0.0
    };
    let height =
        TOP + groups.len() as f64 * GROUP_H + lanes.len() as f64 * (lane_h + LANE_GAP) + broker_rows + 50.0;
    let width = LEFT + PLOT_W + RIGHT;
    let mut doc = Document::new()
        .set("xmlns", "http://www.w3.org/2000/svg")
        .set("width", r2(width))
        .set("height", r2(height))
        .set("viewBox", (0, 0, r2(width), r2(height)))
        .add(
            Rectangle::new()
                .set("width", "100%")
                .set("height", "100%")
                .set("fill", "white"),
        )
        .add(label(12.0, 24.0, title, 16, "start").set("font-weight", "bold"));

    // legend
    let mut legend = Group::new().set("class", "legend");
    let items: [(&str, &str); 8] = [
        ("#2a9d2a", "join"),
        ("#e08a00", "revoke"),
        ("#d00000", "lost / crash"),
        ("#777777", "leave"),
        ("#1f5fbf", "commit"),
        ("#7a3db8", "poll timeout"),
        ("#444444", "consumed record"),
        ("#d00000", "anomaly"),
    ];
    for (i, (colour, text)) in items.iter().enumerate() {
        let lx = 12.0 + i as f64 * 150.0;
        legend = legend
            .add(
                Rectangle::new()
                    .set("x", lx)
                    .set("y", 38)
                    .set("width", 10)
                    .set("height", 10)
                    .set("fill", *colour),
            )
            .add(label(lx + 14.0, 47.0, text, 11, "start"));
    }
    // partition colours (up to 24 listed)
    let mut parts =
        Group::new()
            .set("class", "partitions")
            .add(label(12.0, 66.0, "partitions:", 11, "start"));
    for (i, tp) in rows.iter().enumerate().take(24) {
        let px = 84.0 + i as f64 * 92.0;
        parts = parts
            .add(
                Rectangle::new()
                    .set("x", r2(px))
                    .set("y", 57)
                    .set("width", 10)
                    .set("height", 10)
                    .set("fill", colour(i, 72)),
            )
            .add(label(
                px + 14.0,
                66.0,
                &meta.display(*tp).to_string(),
                11,
                "start",
            ));
    }
    if rows.len() > 24 {
        parts = parts.add(label(
            84.0 + 24.0 * 92.0,
            66.0,
            &format!("… {} in all", rows.len()),
            11,
            "start",
        ));
    }
    doc = doc.add(legend).add(parts);

    // axis
    let step = nice_step(end.as_ms_f64());
    let axis_y = TOP - 10.0;
    let mut axis = Group::new().set("class", "axis");
    let mut t = 0.0;
    while t <= end.as_ms_f64() + 1e-9 {
        let tx = x(Time::us((t * 1000.0) as u64));
        axis = axis
            .add(
                Line::new()
                    .set("x1", tx)
                    .set("x2", tx)
                    .set("y1", axis_y)
                    .set("y2", height - 40.0)
                    .set("stroke", "#eeeeee"),
            )
            .add(label(tx, axis_y - 4.0, &fmt_ms(t), 10, "middle"));
        t += step;
    }
    doc = doc.add(axis);

    // per-lane data
    let mut y = TOP;
    for g in &groups {
        // group header, with lost records as red crosses
        let mut header = Group::new().set("class", "group");
        header = header
            .add(
                Rectangle::new()
                    .set("x", 0)
                    .set("y", r2(y))
                    .set("width", r2(width))
                    .set("height", GROUP_H)
                    .set("fill", "#f3f3f3"),
            )
            .add(label(12.0, y + 17.0, &format!("group {g}"), 12, "start").set("font-weight", "bold"));
        for a in report
            .of(AnomalyKind::Lost)
            .filter(|a| a.group.as_deref() == Some(g.as_str()))
        {
            let written = run
                .trace
                .entries()
                .iter()
                .find(|e| matches!(&e.record, Event::Appended { tp, offset, .. } if *tp == a.tp && Some(*offset) == a.offset))
                .map_or(end, |e| e.time);
            header = header.add(titled(
                cross(x(written), y + GROUP_H / 2.0, "lost-record"),
                format!("lost: {} — {}", meta.display(a.tp), a.detail),
            ));
        }
        doc = doc.add(header);
        y += GROUP_H;
        for lane in lanes.iter().filter(|l| &l.group == g) {
            doc = doc.add(lane_group(
                run,
                lane,
                y,
                lane_h,
                row_h,
                &row_of,
                &duplicated,
                &x,
                end,
            ));
            y += lane_h + LANE_GAP;
        }
    }
    if run.brokers.len() > 1 {
        doc = brokers(doc, run, y, width, lane_h, row_h, &row_of, &report, &x, end);
    }
    doc.to_string()
}

fn cross(cx: f64, cy: f64, class: &str) -> Path {
    Path::new()
        .set(
            "d",
            format!(
                "M{} {} L{} {} M{} {} L{} {}",
                cx - 4.0,
                cy - 4.0,
                cx + 4.0,
                cy + 4.0,
                cx - 4.0,
                cy + 4.0,
                cx + 4.0,
                cy - 4.0
            ),
        )
        .set("stroke", "#d00000")
        .set("stroke-width", 2)
        .set("class", class.to_string())
}

fn tick(tx: f64, top: f64, bottom: f64, colour: &str, class: &str) -> Line {
    Line::new()
        .set("x1", tx)
        .set("x2", tx)
        .set("y1", r2(top))
        .set("y2", r2(bottom))
        .set("stroke", colour.to_string())
        .set("stroke-width", 2)
        .set("class", class.to_string())
}

/// The brokers' section: leadership bars per partition, crashes, fencing, truncations.
#[allow(clippy::too_many_arguments)]
fn brokers(
    mut doc: Document,
    run: &Run,
    mut y: f64,
    width: f64,
    lane_h: f64,
    row_h: f64,
    row_of: &BTreeMap<Tp, usize>,
    report: &models::check::Report,
    x: &dyn Fn(Time) -> f64,
    end: Time,
) -> Document {
    let meta = &run.meta;
    let mut header = Group::new()
        .set("class", "brokers")
        .add(
            Rectangle::new()
                .set("x", 0)
                .set("y", r2(y))
                .set("width", r2(width))
                .set("height", GROUP_H)
                .set("fill", "#f3f3f3"),
        )
        .add(label(12.0, y + 17.0, "brokers", 12, "start").set("font-weight", "bold"));
    for a in report.of(AnomalyKind::LostWrite) {
        header = header.add(titled(
            cross(x(a.time), y + GROUP_H / 2.0, "lost-write"),
            format!("lost write: {} — {}", meta.display(a.tp), a.detail),
        ));
    }
    doc = doc.add(header);
    y += GROUP_H;
    // who led what, from the elections (the first leader from the start)
    let mut leader: BTreeMap<Tp, (ActorId, Time, i32)> = BTreeMap::new();
    let mut bars: Vec<(ActorId, Tp, Time, Time, i32)> = Vec::new();
    for e in run.trace.entries() {
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
        bars.push((a, tp, s, end, ep));
    }
    for (node, &actor) in run.brokers.iter().enumerate() {
        let name = run.trace.name(actor).to_string();
        let mut g = Group::new()
            .set("class", "broker-lane")
            .set("data-broker", name.as_str())
            .add(lane_frame(y, lane_h))
            .add(label(LEFT - 10.0, y + lane_h / 2.0 + 4.0, &name, 12, "end"));
        for (_, tp, s, e, ep) in bars.iter().filter(|b| b.0 == actor) {
            let i = row_of.get(tp).copied().unwrap_or(0);
            let rect = Rectangle::new()
                .set("class", "leads")
                .set("x", x(*s))
                .set("y", r2(y + 4.0 + i as f64 * row_h))
                .set("width", r2((x(*e) - x(*s)).max(1.0)))
                .set("height", r2((row_h - 0.5).max(1.5)))
                .set("fill", colour(i, 72));
            g = g.add(titled(
                rect,
                format!("leads {} in epoch {ep}, {s} – {e}", meta.display(*tp)),
            ));
        }
        let (top, bottom) = (y + 1.0, y + lane_h - 1.0);
        for e in run.trace.entries() {
            let tx = x(e.time);
            let node_id = node as u32 + 1;
            let mark: Option<(Box<dyn Node>, String)> = match &e.record {
                Event::Crashed if e.actor == actor => Some((
                    Box::new(tick(tx, top, bottom, "#d00000", "mark crash")),
                    "crash".into(),
                )),
                Event::Restarted if e.actor == actor => Some((
                    Box::new(tick(tx, top, bottom, "#2a9d2a", "mark restart")),
                    "restart (logs kept)".into(),
                )),
                Event::BrokerFenced { node } if *node == node_id => Some((
                    Box::new(tick(tx, top, bottom, "#777777", "mark fenced")),
                    "fenced by the controller".into(),
                )),
                Event::Stalled { until } if e.actor == actor => Some((
                    Box::new(
                        Rectangle::new()
                            .set("x", tx)
                            .set("y", r2(bottom - 4.0))
                            .set("width", r2((x(*until) - tx).max(1.0)))
                            .set("height", 3)
                            .set("fill", "#7a3db8")
                            .set("class", "mark stall"),
                    ),
                    format!("replica fetchers stalled until {until}"),
                )),
                Event::Partitioned { until } if e.actor == actor => Some((
                    Box::new(
                        Rectangle::new()
                            .set("x", tx)
                            .set("y", r2(top))
                            .set("width", r2((x(*until) - tx).max(1.0)))
                            .set("height", 3)
                            .set("fill", "#777777")
                            .set("class", "mark partitioned"),
                    ),
                    format!("cut off from the other brokers and the controller until {until}"),
                )),
                Event::Truncated { tp, offset, removed } if e.actor == actor && !meta.is_internal(*tp) => {
                    Some((
                        Box::new(cross(tx, (top + bottom) / 2.0, "mark truncate")),
                        format!(
                            "truncated {} to offset {offset}: {} records removed",
                            meta.display(*tp),
                            removed.len()
                        ),
                    ))
                }
                _ => None,
            };
            if let Some((node, title)) = mark {
                let mut t = Group::new();
                t.append(node);
                g = g.add(titled(t, format!("{title} at {}", e.time)));
            }
        }
        doc = doc.add(g);
        y += lane_h + LANE_GAP;
    }
    doc
}

#[allow(clippy::too_many_arguments)]
fn lane_group(
    run: &Run,
    lane: &Lane,
    y: f64,
    lane_h: f64,
    row_h: f64,
    row_of: &BTreeMap<Tp, usize>,
    duplicated: &BTreeSet<(String, Tp, i64)>,
    x: &dyn Fn(Time) -> f64,
    end: Time,
) -> Group {
    let meta = &run.meta;
    let mut g = Group::new()
        .set("class", "lane")
        .set("data-client", lane.name.as_str());
    let name = if lane.name.chars().count() > 30 {
        format!("{}…", lane.name.chars().take(29).collect::<String>())
    } else {
        lane.name.clone()
    };
    g = g.add(lane_frame(y, lane_h)).add(titled(
        label(LEFT - 10.0, y + lane_h / 2.0 + 4.0, &name, 12, "end"),
        lane.name.clone(),
    ));
    let row_y = |tp: Tp| y + 4.0 + row_of.get(&tp).copied().unwrap_or(0) as f64 * row_h;
    let events: Vec<(Time, &Event)> = run
        .trace
        .entries()
        .iter()
        .filter(|e| e.actor == lane.actor)
        .map(|e| (e.time, &e.record))
        .collect();

    // ownership bars
    let mut bars: Vec<(Tp, Time, Time, i32)> = lane
        .owned
        .iter()
        .map(|o| (o.tp, o.start, o.end_or(end), o.generation))
        .collect();
    bars.sort_by_key(|b| (b.1, b.0));
    for (tp, s, e, gen) in bars {
        let i = row_of.get(&tp).copied().unwrap_or(0);
        let rect = Rectangle::new()
            .set("class", "owned")
            .set("x", x(s))
            .set("y", r2(row_y(tp)))
            .set("width", r2((x(e) - x(s)).max(1.0)))
            .set("height", r2((row_h - 0.5).max(1.5)))
            .set("fill", colour(i, 72));
        g = g.add(titled(
            rect,
            format!("{} owned in generation {gen}, {} – {}", meta.display(tp), s, e),
        ));
    }

    // marks
    let top = y + 1.0;
    let bottom = y + lane_h - 1.0;
    for (t, e) in &events {
        let tx = x(*t);
        let mark: Option<(Box<dyn Node>, String)> = match e {
            Event::Joined {
                generation, leader, ..
            } => Some((
                Box::new(
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
                        .set("class", "mark join"),
                ),
                format!(
                    "join generation {generation}{}",
                    if *leader { " (leader)" } else { "" }
                ),
            )),
            Event::Revoked {
                partitions,
                generation,
                ..
            } => Some((
                Box::new(
                    Line::new()
                        .set("x1", tx)
                        .set("x2", tx)
                        .set("y1", top)
                        .set("y2", bottom)
                        .set("stroke", "#e08a00")
                        .set("stroke-width", 2)
                        .set("class", "mark revoke"),
                ),
                format!("revoke {} (generation {generation})", list(meta, partitions)),
            )),
            Event::Lost {
                partitions, reason, ..
            } => Some((
                Box::new(
                    Line::new()
                        .set("x1", tx)
                        .set("x2", tx)
                        .set("y1", top)
                        .set("y2", bottom)
                        .set("stroke", "#d00000")
                        .set("stroke-width", 2)
                        .set("stroke-dasharray", "3 2")
                        .set("class", "mark lost"),
                ),
                format!("lost {} ({reason})", list(meta, partitions)),
            )),
            Event::Left { .. } | Event::Closed => Some((
                Box::new(
                    Line::new()
                        .set("x1", tx)
                        .set("x2", tx)
                        .set("y1", top)
                        .set("y2", bottom)
                        .set("stroke", "#777777")
                        .set("stroke-width", 2)
                        .set("class", "mark leave"),
                ),
                "leave / close".into(),
            )),
            Event::Crashed => Some((
                Box::new(
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
                        .set("class", "mark crash"),
                ),
                "crash".into(),
            )),
            Event::Restarted => Some((
                Box::new(
                    Circle::new()
                        .set("cx", tx)
                        .set("cy", r2(y + lane_h / 2.0))
                        .set("r", 5)
                        .set("fill", "none")
                        .set("stroke", "#2a9d2a")
                        .set("stroke-width", 2)
                        .set("class", "mark restart"),
                ),
                "restart".into(),
            )),
            Event::Committed { offsets, .. } => Some((
                Box::new(
                    Line::new()
                        .set("x1", tx)
                        .set("x2", tx)
                        .set("y1", r2(bottom - 5.0))
                        .set("y2", r2(bottom))
                        .set("stroke", "#1f5fbf")
                        .set("stroke-width", 1.5)
                        .set("class", "mark commit"),
                ),
                format!(
                    "commit {}",
                    offsets
                        .iter()
                        .map(|(tp, o)| format!("{}@{o}", meta.display(*tp)))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            )),
            Event::PollTimeout { .. } => Some((
                Box::new(
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
                        .set("class", "mark poll-timeout"),
                ),
                "max.poll.interval.ms exceeded: left the group".into(),
            )),
            Event::Stalled { until } => Some((
                Box::new(
                    Rectangle::new()
                        .set("x", tx)
                        .set("y", r2(y))
                        .set("width", r2((x(*until) - tx).max(1.0)))
                        .set("height", r2(lane_h))
                        .set("fill", "#000000")
                        .set("fill-opacity", 0.08)
                        .set("class", "mark stall"),
                ),
                format!("stalled until {until}"),
            )),
            _ => None,
        };
        if let Some((node, text)) = mark {
            let mut holder = Group::new();
            holder.append(node);
            g = g.add(titled(holder, format!("{} at {t}", text)));
        }
    }

    // consumed records
    for (t, e) in &events {
        if let Event::Consumed {
            group,
            tp,
            offset,
            payload,
            ..
        } = e
        {
            let bad = duplicated.contains(&(group.to_string(), *tp, *offset));
            let i = row_of.get(tp).copied().unwrap_or(0);
            let dot = Circle::new()
                .set("class", if bad { "consume anomaly" } else { "consume" })
                .set("cx", x(*t))
                .set("cy", r2(row_y(*tp) + row_h / 2.0))
                .set("r", if bad { 3.0 } else { 2.0 })
                .set("fill", if bad { "#d00000".to_string() } else { colour(i, 30) });
            let what = if bad { "DUPLICATE " } else { "" };
            g = g.add(titled(
                dot,
                format!(
                    "{what}key={} {}@{offset} at {t}",
                    show_bytes(payload.key()),
                    meta.display(*tp)
                ),
            ));
        }
    }
    g
}

fn list(meta: &models::types::Metadata, tps: &[Tp]) -> String {
    if tps.is_empty() {
        return "nothing".into();
    }
    tps.iter()
        .map(|tp| meta.display(*tp).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The timeline in a self-contained HTML page (no external files).
pub fn html(run: &Run, title: &str) -> String {
    let svg = svg(run, title);
    let mut page =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    page.push_str(&TextNode::new(title).to_string());
    page.push_str(
        "</title>\n<style>\nbody { font-family: DejaVu Sans, Arial, sans-serif; margin: 16px; }\n\
         .consume:hover, .mark:hover { stroke: black; stroke-width: 2; }\n\
         p { color: #555; font-size: 13px; }\n</style>\n</head>\n<body>\n",
    );
    page.push_str("<p>Hover over a dot or a mark for details: record key, partition and offset; generation; reason.</p>\n");
    page.push_str(&svg);
    page.push_str("\n</body>\n</html>\n");
    page
}
