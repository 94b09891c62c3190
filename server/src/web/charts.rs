//! Charts as inline SVG, drawn on the server: they need no script and
//! scale with the page. Every text is escaped here; templates insert the
//! result as it is.

use std::fmt::Write;

/// Text for SVG (and HTML) content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One bar: its label, its value (for the length), the text shown at its
/// end, and the CSS class that colours it.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
    pub class: &'static str,
}

const WIDTH: f64 = 540.0;
const LABEL_W: f64 = 190.0;
const ROW_H: f64 = 30.0;

fn open(out: &mut String, id: &str, title: &str, height: f64) {
    let _ = write!(
        out,
        r#"<svg class="chart" id="{id}" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{id}-title" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title>"#,
        escape(title)
    );
}

/// Labels longer than this are cut (the full text is in the bar's title).
fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let mut s: String = label.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

/// Horizontal bars, longest = `max` (or the largest value), with an
/// optional marker line (a target) at `marker`.
pub fn bars(
    id: &str,
    title: &str,
    rows: &[Bar],
    max: Option<f64>,
    marker: Option<(f64, &str)>,
) -> String {
    let height = ROW_H * rows.len().max(1) as f64 + 30.0;
    let mut out = String::new();
    open(&mut out, id, title, height);
    let top = rows
        .iter()
        .map(|r| r.value)
        .fold(max.unwrap_or(0.0), f64::max)
        .max(marker.map_or(0.0, |m| m.0));
    let span = WIDTH - LABEL_W - 64.0;
    let x = |v: f64| {
        if top > 0.0 {
            LABEL_W + span * (v.max(0.0) / top)
        } else {
            LABEL_W
        }
    };
    for (i, r) in rows.iter().enumerate() {
        let y = 10.0 + ROW_H * i as f64;
        let w = x(r.value) - LABEL_W;
        let _ = write!(
            out,
            r#"<g class="bar {class}"><title>{full}: {text}</title><text x="{lx}" y="{ty}" text-anchor="end" class="label">{label}</text><rect x="{LABEL_W}" y="{y}" width="{w:.1}" height="{h}" rx="2"></rect><text x="{vx:.1}" y="{ty}" class="value">{text}</text></g>"#,
            class = r.class,
            full = escape(&r.label),
            label = escape(&short(&r.label, 20)),
            text = escape(&r.text),
            lx = LABEL_W - 6.0,
            ty = y + ROW_H * 0.55,
            h = ROW_H - 8.0,
            vx = LABEL_W + w + 5.0,
        );
    }
    if let Some((m, label)) = marker {
        let mx = x(m);
        let _ = write!(
            out,
            r#"<g class="marker"><line x1="{mx:.1}" x2="{mx:.1}" y1="4" y2="{y2}"></line><text x="{mx:.1}" y="{ty}" text-anchor="middle">{}</text></g>"#,
            escape(label),
            y2 = height - 16.0,
            ty = height - 4.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// A Pareto chart: bars of counts, most first, and the cumulative share
/// as a line against the right-hand 0–100 % axis.
pub fn pareto(id: &str, title: &str, rows: &[(String, i64)]) -> String {
    let height = 300.0;
    let (left, right, top, bottom) = (40.0, WIDTH - 50.0, 14.0, height - 95.0);
    let mut out = String::new();
    open(&mut out, id, title, height);
    let total: i64 = rows.iter().map(|r| r.1.max(0)).sum();
    let most = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let n = rows.len().max(1) as f64;
    let slot = (right - left) / n;
    let bar = (slot * 0.76).min(60.0);
    let y = |share: f64| bottom - (bottom - top) * share;
    let _ = write!(
        out,
        r#"<g class="axis"><line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"></line><text x="{rx}" y="{ty}" class="value">100%</text><text x="{rx}" y="{bottom}" class="value">0%</text><text x="{lx}" y="{ty}" text-anchor="end" class="value">{most}</text></g>"#,
        rx = right + 4.0,
        lx = left - 4.0,
        ty = top + 4.0,
        most = most as i64,
    );
    let mut cumulative = 0i64;
    let mut line = String::new();
    for (i, (label, count)) in rows.iter().enumerate() {
        let x0 = left + slot * i as f64;
        let h = (bottom - top) * (*count as f64 / most);
        cumulative += count.max(&0);
        let share = if total > 0 {
            cumulative as f64 / total as f64
        } else {
            0.0
        };
        let cx = x0 + slot / 2.0;
        let _ = write!(
            line,
            "{}{cx:.1},{:.1}",
            if i == 0 { "" } else { " " },
            y(share)
        );
        let _ = write!(
            out,
            r#"<g class="bar failed"><title>{full}: {count} ({pct:.0}%)</title><rect x="{bx:.1}" y="{by:.1}" width="{bw:.1}" height="{h:.1}"></rect><text transform="translate({cx:.1},{ly}) rotate(-40)" text-anchor="end" class="label">{label}</text></g>"#,
            full = escape(label),
            pct = share * 100.0,
            bx = x0 + (slot - bar) / 2.0,
            by = bottom - h,
            bw = bar,
            ly = bottom + 12.0,
            label = escape(&short(label, 14)),
        );
    }
    if !line.is_empty() {
        let _ = write!(
            out,
            r#"<polyline class="cumulative" points="{line}"></polyline>"#
        );
    }
    out.push_str("</svg>");
    out
}

/// A line over quarters (missing values break nothing: no point is drawn),
/// with the target as a dashed line; values in hundredths out of 10000.
pub fn trend(
    id: &str,
    title: &str,
    points: &[(String, Option<i64>)],
    target: i64,
    target_label: &str,
) -> String {
    let height = 220.0;
    let (left, right, top, bottom) = (44.0, WIDTH - 20.0, 12.0, height - 30.0);
    let mut out = String::new();
    open(&mut out, id, title, height);
    let n = points.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (right - left) * (i as f64 / n);
    let y = |v: i64| bottom - (bottom - top) * (v.clamp(0, 10_000) as f64 / 10_000.0);
    let _ = write!(
        out,
        r#"<g class="axis"><line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"></line><text x="{lx}" y="{t}" text-anchor="end" class="value">100</text><text x="{lx}" y="{bottom}" text-anchor="end" class="value">0</text></g><g class="marker"><line x1="{left}" x2="{right}" y1="{ty:.1}" y2="{ty:.1}"></line><text x="{right}" y="{tl:.1}" text-anchor="end">{}</text></g>"#,
        escape(target_label),
        lx = left - 4.0,
        t = top + 4.0,
        ty = y(target),
        tl = y(target) - 4.0,
    );
    let mut line = String::new();
    for (i, (label, v)) in points.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="label">{}</text>"#,
            x(i),
            height - 8.0,
            escape(label)
        );
        if let Some(v) = v {
            let _ = write!(
                line,
                "{}{:.1},{:.1}",
                if line.is_empty() { "" } else { " " },
                x(i),
                y(*v)
            );
            let _ = write!(
                out,
                r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="4"><title>{}: {}</title></circle>"#,
                x(i),
                y(*v),
                escape(label),
                super::points(*v)
            );
        }
    }
    if !line.is_empty() {
        let _ = write!(out, r#"<polyline class="line" points="{line}"></polyline>"#);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(svg: &str) -> Vec<f64> {
        svg.split("<rect ")
            .skip(1)
            .map(|r| {
                let w = r.split("width=\"").nth(1).expect("width");
                w.split('"').next().expect("value").parse().expect("number")
            })
            .collect()
    }

    #[test]
    fn texts_are_escaped() {
        let svg = bars(
            "c",
            "<b>&",
            &[Bar {
                label: "\"><script>".into(),
                value: 1.0,
                text: "1".into(),
                class: "meets",
            }],
            None,
            None,
        );
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;b&gt;&amp;"));
        assert!(svg.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn bar_lengths_are_proportional() {
        let rows: Vec<Bar> = [4.0, 2.0, 0.0]
            .iter()
            .map(|v| Bar {
                label: "x".into(),
                value: *v,
                text: v.to_string(),
                class: "meets",
            })
            .collect();
        let w = widths(&bars("c", "t", &rows, None, None));
        assert_eq!(w.len(), 3);
        assert!((w[0] - 2.0 * w[1]).abs() < 0.2, "{w:?}");
        assert_eq!(w[2], 0.0);
        // A fixed scale: 50 of 100 is half the room.
        let half = widths(&bars("c", "t", &rows[1..2], Some(4.0), None));
        assert!((half[0] * 2.0 - w[0]).abs() < 0.2);
    }

    #[test]
    fn pareto_line_ends_at_the_full_share() {
        let svg = pareto(
            "p",
            "t",
            &[("a".into(), 6), ("b".into(), 3), ("c".into(), 1)],
        );
        let pts = svg
            .split("points=\"")
            .nth(1)
            .expect("line")
            .split('"')
            .next()
            .expect("points");
        let ys: Vec<f64> = pts
            .split(' ')
            .map(|p| p.split(',').nth(1).expect("y").parse().expect("y"))
            .collect();
        assert_eq!(ys.len(), 3);
        assert!(ys.windows(2).all(|w| w[1] <= w[0]), "rises: {ys:?}");
        // 100 % is the top of the plot (y = 14).
        assert!((ys[2] - 14.0).abs() < 0.01, "{ys:?}");
        assert!(svg.contains("(60%)"));
    }

    #[test]
    fn trend_skips_quarters_without_a_score() {
        let svg = trend(
            "t",
            "t",
            &[
                ("Q1".into(), Some(5000)),
                ("Q2".into(), None),
                ("Q3".into(), Some(10000)),
            ],
            8000,
            "target",
        );
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("Q2"));
    }
}
