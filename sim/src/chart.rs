//! `chart.svg`: the run at a glance, from its [`Outcome`]. Pure: no I/O.
//!
//! Two panels over the time of day: the clearing price (line, right axis) over the energy traded
//! between neighbours (bars, left axis); and each interval's import stacked by where it came from
//! (neighbours, energy credits, the grid). Self-contained SVG: no fonts, scripts or links outside
//! it.

use std::fmt::Write as _;

use crate::outcome::{IntervalOutcome, Outcome};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 640.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 80.0;
const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;
/// Top and height of each panel's plot area.
const PRICE_PANEL: (f64, f64) = (60.0, 220.0);
const IMPORT_PANEL: (f64, f64) = (370.0, 200.0);

const TRADED_COLOUR: &str = "#4c9be8";
const PRICE_COLOUR: &str = "#d9480f";
const LOCAL_COLOUR: &str = "#2f9e44";
const CREDITS_COLOUR: &str = "#f2c94c";
const GRID_COLOUR: &str = "#868e96";

/// The chart as an SVG document.
pub fn svg(outcome: &Outcome) -> String {
    let intervals = &outcome.intervals;
    let slot = PLOT_WIDTH / intervals.len().max(1) as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(&format!(
            "cogrid simulation: {} homes, day {}, seed {}",
            outcome.homes_count, outcome.day, outcome.seed
        ))
    );

    // Panel 1: traded volume (bars) and clearing price (line).
    let (top, height) = PRICE_PANEL;
    let traded_max = nice_ceiling(kwh(intervals.iter().map(|i| i.traded_wh).max()));
    let price_max = nice_ceiling(
        intervals
            .iter()
            .filter_map(|i| i.clearing_price)
            .max()
            .map_or(0.0, |price| price as f64 / 1e6),
    );
    axes(
        &mut svg,
        top,
        height,
        traded_max,
        "traded between neighbours, kWh",
        Some((price_max, "clearing price, $/kWh")),
    );
    for (index, interval) in intervals.iter().enumerate() {
        let bar = scale(kwh(Some(interval.traded_wh)), traded_max, height);
        let _ = writeln!(
            svg,
            r#"<rect class="traded" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{TRADED_COLOUR}"/>"#,
            LEFT + index as f64 * slot + slot * 0.1,
            top + height - bar,
            slot * 0.8,
            bar
        );
    }
    let mut path = String::new();
    let mut drawing = false;
    for (index, interval) in intervals.iter().enumerate() {
        match interval.clearing_price.filter(|_| interval.traded_wh > 0) {
            Some(price) => {
                let x = LEFT + (index as f64 + 0.5) * slot;
                let y = top + height - scale(price as f64 / 1e6, price_max, height);
                let _ = write!(path, "{}{x:.2} {y:.2} ", if drawing { "L" } else { "M" });
                let _ = writeln!(
                    svg,
                    r#"<circle class="price" cx="{x:.2}" cy="{y:.2}" r="2" fill="{PRICE_COLOUR}"/>"#
                );
                drawing = true;
            }
            // No trade, no price: the line breaks rather than pretend one.
            None => drawing = false,
        }
    }
    if !path.is_empty() {
        let _ = writeln!(
            svg,
            r#"<path d="{}" fill="none" stroke="{PRICE_COLOUR}" stroke-width="1.5"/>"#,
            path.trim_end()
        );
    }
    legend(
        &mut svg,
        top - 14.0,
        &[
            (TRADED_COLOUR, "traded volume (left)"),
            (PRICE_COLOUR, "clearing price (right; gaps: no trade)"),
        ],
    );
    time_axis(&mut svg, outcome, top + height, slot);

    // Panel 2: each interval's import, by where it came from.
    let (top, height) = IMPORT_PANEL;
    let import_max = nice_ceiling(kwh(intervals.iter().map(|i| i.imported_wh).max()));
    axes(&mut svg, top, height, import_max, "import, kWh", None);
    for (index, interval) in intervals.iter().enumerate() {
        let x = LEFT + index as f64 * slot + slot * 0.1;
        let mut base = top + height;
        for (class, colour, wh) in [
            ("local", LOCAL_COLOUR, interval.traded_wh),
            ("credits", CREDITS_COLOUR, credits_wh(interval)),
            ("grid", GRID_COLOUR, interval.grid_import_wh),
        ] {
            let bar = scale(kwh(Some(wh)), import_max, height);
            base -= bar;
            let _ = writeln!(
                svg,
                r#"<rect class="{class}" x="{x:.2}" y="{base:.2}" width="{:.2}" height="{bar:.2}" fill="{colour}"/>"#,
                slot * 0.8
            );
        }
    }
    legend(
        &mut svg,
        top - 14.0,
        &[
            (LOCAL_COLOUR, "bought from neighbours"),
            (CREDITS_COLOUR, "covered from energy credits"),
            (GRID_COLOUR, "supplied by the grid"),
        ],
    );
    time_axis(&mut svg, outcome, top + height, slot);
    svg.push_str("</svg>\n");
    svg
}

/// Import neither bought nor grid supplied: covered from credits.
fn credits_wh(interval: &IntervalOutcome) -> u64 {
    interval
        .imported_wh
        .saturating_sub(interval.traded_wh + interval.grid_import_wh)
}

/// A panel's frame, grid lines, left axis and, when given, a right axis.
fn axes(
    svg: &mut String,
    top: f64,
    height: f64,
    max: f64,
    label: &str,
    right: Option<(f64, &str)>,
) {
    // Axes end at 1, 2 or 5 times a power of ten: five steps of 1 for a 5, four of 0.25 or
    // 0.5 otherwise, so that every label is a round number.
    let mantissa = max / 10f64.powf(max.log10().floor());
    let ticks: u32 = if (mantissa - 5.0).abs() < 1e-9 { 5 } else { 4 };
    let bottom = top + height;
    for tick in 0..=ticks {
        let y = bottom - height * f64::from(tick) / f64::from(ticks);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="#dee2e6"/>"##,
            LEFT + PLOT_WIDTH
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.2}" y="{:.2}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            number(max * f64::from(tick) / f64::from(ticks))
        );
        if let Some((right_max, _)) = right {
            let _ = writeln!(
                svg,
                r#"<text x="{:.2}" y="{:.2}" text-anchor="start">{}</text>"#,
                LEFT + PLOT_WIDTH + 6.0,
                y + 4.0,
                number(right_max * f64::from(tick) / f64::from(ticks))
            );
        }
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{top}" width="{PLOT_WIDTH}" height="{height}" fill="none" stroke="black"/>"#
    );
    let middle = top + height / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="20" y="{middle:.2}" text-anchor="middle" transform="rotate(-90 20 {middle:.2})">{}</text>"#,
        escape(label)
    );
    if let Some((_, right_label)) = right {
        let x = WIDTH - 20.0;
        let _ = writeln!(
            svg,
            r#"<text x="{x}" y="{middle:.2}" text-anchor="middle" transform="rotate(90 {x} {middle:.2})">{}</text>"#,
            escape(right_label)
        );
    }
}

/// Ticks at whole hours of the day (every third hour on long runs) under a panel.
fn time_axis(svg: &mut String, outcome: &Outcome, bottom: f64, slot: f64) {
    let hours = outcome.intervals.len() as u64 * outcome.interval_seconds / 3600;
    let every = if hours > 6 { 3 } else { 1 };
    for (index, interval) in outcome.intervals.iter().enumerate() {
        let start = interval.t * outcome.interval_seconds;
        let hour = start % 86_400 / 3600;
        if !start.is_multiple_of(3600) || !hour.is_multiple_of(every) {
            continue;
        }
        let x = LEFT + index as f64 * slot;
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.2}" y1="{bottom}" x2="{x:.2}" y2="{:.2}" stroke="black"/>"#,
            bottom + 5.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{x:.2}" y="{:.2}" text-anchor="middle">{hour:02}:00</text>"#,
            bottom + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.2}" y="{:.2}" text-anchor="middle">time of day (UTC), interval start</text>"#,
        LEFT + PLOT_WIDTH / 2.0,
        bottom + 34.0
    );
}

fn legend(svg: &mut String, y: f64, entries: &[(&str, &str)]) {
    let mut x = LEFT;
    for (colour, label) in entries {
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.2}" y="{:.2}" width="12" height="12" fill="{colour}"/>"#,
            y - 10.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.2}" y="{y:.2}">{}</text>"#,
            x + 16.0,
            escape(label)
        );
        // Sans-serif at 12 px averages about 6.5 px a character.
        x += 16.0 + label.len() as f64 * 6.5 + 24.0;
    }
}

fn kwh(wh: Option<u64>) -> f64 {
    wh.map_or(0.0, |wh| wh as f64 / 1000.0)
}

/// `value`'s height in a panel of `height` whose axis ends at `max`.
fn scale(value: f64, max: f64, height: f64) -> f64 {
    if max > 0.0 { value / max * height } else { 0.0 }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `value` (1 for nothing), so that
/// the axis ticks are round numbers.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= value * (1.0 - 1e-12))
        .unwrap_or(10.0 * power)
}

fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::outcome;

    /// Checks that every element is closed, in order, and returns the elements' names.
    fn balanced(svg: &str) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("an unterminated tag") + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(
                    open.pop().as_deref(),
                    Some(name.trim()),
                    "misnested </{name}>"
                );
                continue;
            }
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(!name.is_empty(), "a tag without a name: <{tag}>");
            names.push(name.clone());
            if !tag.ends_with('/') {
                open.push(name);
            }
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
        names
    }

    #[test]
    fn the_chart_is_well_formed_with_a_bar_per_interval() {
        let outcome = outcome();
        let svg = svg(&outcome);
        let names = balanced(&svg);
        assert_eq!(names.first().map(String::as_str), Some("svg"));
        assert!(!names.iter().any(|name| name == "script" || name == "image"));
        assert!(!svg.contains("@import") && !svg.contains("href"));
        let intervals = outcome.intervals.len();
        for class in ["traded", "local", "credits", "grid"] {
            assert_eq!(
                svg.matches(&format!(r#"class="{class}""#)).count(),
                intervals,
                "{class}"
            );
        }
        // A point per interval with a trade (two of four).
        assert_eq!(svg.matches(r#"class="price""#).count(), 2);
        for label in [
            "clearing price, $/kWh",
            "traded between neighbours, kWh",
            "import, kWh",
            "time of day (UTC)",
            "supplied by the grid",
        ] {
            assert!(svg.contains(label), "{label}");
        }
    }

    #[test]
    fn bars_scale_to_the_axis() {
        let outcome = outcome();
        let svg = svg(&outcome);
        // The largest trade, 3 kWh, on a 5 kWh axis of 220 px: 132 px.
        assert!(svg.contains(r#"height="132.00""#), "{svg}");
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(0.2), 0.2);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(101.0), 200.0);
    }

    #[test]
    fn an_empty_run_still_draws_its_axes() {
        let mut outcome = outcome();
        outcome.intervals.clear();
        balanced(&svg(&outcome));
    }
}
