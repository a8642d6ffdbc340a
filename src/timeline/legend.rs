//! The timeline's key and axis: what each mark's colour means, each partition's colour, and
//! the time axis with its grid lines.

use super::draw::{colour, fmt_ms, label, nice_step, r2};
use super::{Layout, TOP};
use sim::Time;
use svg::node::element::{Group, Line, Rectangle};

/// The colours of the marks.
pub(super) fn legend() -> Group {
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
    legend
}

/// The partitions' colours (up to 24 listed).
pub(super) fn partitions(layout: &Layout) -> Group {
    let rows = &layout.rows;
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
                &layout.run.meta.display(*tp).to_string(),
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
    parts
}

/// The time axis: a labelled grid line every step.
pub(super) fn axis(layout: &Layout) -> Group {
    let end = layout.end;
    let step = nice_step(end.as_ms_f64());
    let axis_y = TOP - 10.0;
    let mut axis = Group::new().set("class", "axis");
    let mut t = 0.0;
    while t <= end.as_ms_f64() + 1e-9 {
        let tx = layout.x(Time::us((t * 1000.0) as u64));
        axis = axis
            .add(
                Line::new()
                    .set("x1", tx)
                    .set("x2", tx)
                    .set("y1", axis_y)
                    .set("y2", layout.height - 40.0)
                    .set("stroke", "#eeeeee"),
            )
            .add(label(tx, axis_y - 4.0, &fmt_ms(t), 10, "middle"));
        t += step;
    }
    axis
}
