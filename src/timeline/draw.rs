//! The drawing primitives every part of the timeline uses: rounding, partition colours,
//! labels, lane frames, crosses, ticks, tooltips.

use super::{LEFT, PLOT_W};
use models::types::{Metadata, Tp};
use svg::node::element::{Line, Path, Rectangle, Text, Title};
use svg::Node;

/// `v` rounded to two decimals, as every coordinate is written.
pub(super) fn r2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Partition colours: hues with no red in them (red means an anomaly), lightness varied
/// for more than twelve partitions.
pub(super) fn colour(i: usize, lightness: u32) -> String {
    const HUES: [u32; 12] = [210, 120, 45, 275, 180, 90, 30, 245, 150, 60, 300, 195];
    let l = lightness.saturating_sub(8 * ((i / HUES.len()) as u32 % 3));
    format!("hsl({},60%,{}%)", HUES[i % HUES.len()], l)
}

/// `node` with a tooltip.
pub(super) fn titled<T: Node>(mut node: T, title: String) -> T {
    node.append(Title::new(title));
    node
}

/// A text label at (`x`, `y`).
pub(super) fn label(x: f64, y: f64, text: &str, size: u32, anchor: &str) -> Text {
    Text::new(text)
        .set("x", r2(x))
        .set("y", r2(y))
        .set("font-size", size)
        .set("font-family", "DejaVu Sans, Arial, sans-serif")
        .set("text-anchor", anchor)
}

/// The background of a lane (a client's or a broker's) starting at `y`.
pub(super) fn lane_frame(y: f64, lane_h: f64) -> Rectangle {
    Rectangle::new()
        .set("x", LEFT)
        .set("y", r2(y))
        .set("width", PLOT_W)
        .set("height", r2(lane_h))
        .set("fill", "#fafafa")
        .set("stroke", "#dddddd")
}

/// The header row of a section (a consumer group, the brokers) across the whole width.
pub(super) fn header_row(y: f64, width: f64) -> Rectangle {
    Rectangle::new()
        .set("x", 0)
        .set("y", r2(y))
        .set("width", r2(width))
        .set("height", super::GROUP_H)
        .set("fill", "#f3f3f3")
}

/// A red cross centred at (`cx`, `cy`).
pub(super) fn cross(cx: f64, cy: f64, class: &str) -> Path {
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

/// A vertical line at `tx` from `top` to `bottom` (rounded).
pub(super) fn tick(tx: f64, top: f64, bottom: f64, colour: &str, class: &str) -> Line {
    rule(tx, r2(top), r2(bottom), colour, class)
}

/// A vertical line at `tx` from `y1` to `y2`, two wide.
pub(super) fn rule(tx: f64, y1: f64, y2: f64, colour: &str, class: &str) -> Line {
    Line::new()
        .set("x1", tx)
        .set("x2", tx)
        .set("y1", y1)
        .set("y2", y2)
        .set("stroke", colour.to_string())
        .set("stroke-width", 2)
        .set("class", class.to_string())
}

/// A step of the time axis: 1, 2 or 5 times a power of ten, about a tenth of the run.
pub(super) fn nice_step(total_ms: f64) -> f64 {
    let raw = total_ms / 10.0;
    let pow = 10f64.powf(raw.max(1.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow)
}

/// A time on the axis.
pub(super) fn fmt_ms(ms: f64) -> String {
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

/// Partitions for a tooltip, `nothing` for none.
pub(super) fn list(meta: &Metadata, tps: &[Tp]) -> String {
    if tps.is_empty() {
        return "nothing".into();
    }
    tps.iter()
        .map(|tp| meta.display(*tp).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
