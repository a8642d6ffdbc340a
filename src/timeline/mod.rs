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
//! A run with transactional producers adds a lane per such producer with a span per
//! transaction, coloured by how it ended (`transactions.rs`).
//!
//! Built with the `svg` crate; [`html`] wraps the same SVG in a self-contained page. The parts:
//! the key and the axis (`legend.rs`), the consumer groups' sections (`consumers.rs`), the
//! brokers' (`brokers.rs`), and the drawing primitives they share (`draw.rs`).

mod brokers;
mod consumers;
mod draw;
mod legend;
mod transactions;

use draw::{label, r2};
use models::check::{check, Claim};
use models::types::Tp;
use models::world::Run;
use sim::Time;
use std::collections::BTreeMap;
use svg::node::element::Rectangle;
use svg::node::Text as TextNode;
use svg::Document;

const LEFT: f64 = 240.0;
const PLOT_W: f64 = 1000.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 100.0;
const GROUP_H: f64 = 26.0;
const LANE_GAP: f64 = 6.0;

/// The geometry every part of the picture shares.
struct Layout<'a> {
    run: &'a Run,
    /// The end of the time axis (at least 1 ms).
    end: Time,
    /// One row per partition, in every lane.
    rows: Vec<Tp>,
    row_of: BTreeMap<Tp, usize>,
    row_h: f64,
    lane_h: f64,
    width: f64,
    height: f64,
}

impl<'a> Layout<'a> {
    /// The layout of `run` with `groups` consumer groups holding `lanes` consumers and
    /// `txn_lanes` transactional producers.
    fn new(run: &'a Run, groups: usize, lanes: usize, txn_lanes: usize) -> Self {
        let rows: Vec<Tp> = run.meta.all_partitions().collect();
        let row_of: BTreeMap<Tp, usize> = rows.iter().enumerate().map(|(i, tp)| (*tp, i)).collect();
        let row_h = (28.0 / rows.len().max(1) as f64).max(2.5);
        let lane_h = (row_h * rows.len() as f64 + 8.0).max(36.0);
        let broker_rows = if run.brokers.len() > 1 {
            GROUP_H + run.brokers.len() as f64 * (lane_h + LANE_GAP)
        } else {
            0.0
        };
        let height = TOP
            + groups as f64 * GROUP_H
            + lanes as f64 * (lane_h + LANE_GAP)
            + transactions::height(txn_lanes)
            + broker_rows
            + 50.0;
        Layout {
            run,
            end: run.end.max(Time::ms(1)),
            rows,
            row_of,
            row_h,
            lane_h,
            width: LEFT + PLOT_W + RIGHT,
            height,
        }
    }

    /// Where time `t` is.
    fn x(&self, t: Time) -> f64 {
        r2(LEFT + t.as_us() as f64 / self.end.as_us() as f64 * PLOT_W)
    }

    /// The row of `tp`.
    fn row(&self, tp: Tp) -> usize {
        self.row_of.get(&tp).copied().unwrap_or(0)
    }
}

/// The timeline of `run` as an SVG document (text).
pub fn svg(run: &Run, title: &str) -> String {
    // lanes: consumers, grouped by group in order of first appearance
    let groups = consumers::groups(run);
    let lanes = consumers::lanes(run, &groups);
    let txn_lanes = transactions::lanes(run);
    let layout = Layout::new(run, groups.len(), lanes.len(), txn_lanes.len());
    let report = check(&run.trace, Claim::ExactlyOncePerGroup);
    let (width, height) = (layout.width, layout.height);
    let doc = Document::new()
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
        .add(label(12.0, 24.0, title, 16, "start").set("font-weight", "bold"))
        .add(legend::legend())
        .add(legend::partitions(&layout))
        .add(legend::axis(&layout));
    let (doc, y) = consumers::sections(doc, &layout, &groups, &lanes, &report, TOP);
    let (mut doc, y) = transactions::section(doc, &layout, &txn_lanes, y);
    if run.brokers.len() > 1 {
        doc = brokers::section(doc, &layout, &report, y);
    }
    doc.to_string()
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
