//! An SVG chart of throughput against value size, one line per target and link, written by hand
//! (a plotting library would be most of the binary for two panels of lines).

use crate::report::BenchResult;
use crate::workload::fmt_size;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const W: f64 = 520.0;
const H: f64 = 360.0;
const PAD_L: f64 = 70.0;
const PAD_B: f64 = 50.0;
const PAD_T: f64 = 40.0;
const PAD_R: f64 = 20.0;
const COLORS: [&str; 6] = [
    "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];
const DASHES: [&str; 4] = ["", "8,4", "2,3", "10,3,2,3"];

/// `(target, series) -> size -> value`: one line each (colour by target, dash by series).
type Lines = BTreeMap<(String, String), BTreeMap<u64, f64>>;

/// One panel of a chart.
struct Panel {
    title: String,
    ylabel: &'static str,
    lines: Lines,
}

/// The operation of a workload label: `SET P16` → `SET`, `SET:GET 1:1 P1` → `SET:GET 1:1`.
fn op_of(workload: &str) -> &str {
    match workload.rsplit_once(" P") {
        Some((op, n)) if n.chars().all(|c| c.is_ascii_digit()) => op,
        _ => workload,
    }
}

/// The operations in `results`, SET and GET first, then the others (mixes, commands) in order.
fn ops(results: &[BenchResult]) -> Vec<String> {
    let mut v: Vec<String> = vec!["SET".into(), "GET".into()];
    for r in results {
        let op = op_of(&r.workload);
        if !v.iter().any(|o| o == op) {
            v.push(op.into());
        }
    }
    v
}

/// The points of `op`, `value` picked from each result; the best value per size (`better`).
fn lines_for(
    results: &[BenchResult],
    op: &str,
    series: impl Fn(&BenchResult) -> String,
    value: impl Fn(&BenchResult) -> f64,
    better: fn(f64, f64) -> f64,
) -> Lines {
    let mut lines: Lines = BTreeMap::new();
    for r in results {
        let v = value(r);
        if op_of(&r.workload) != op || v <= 0.0 || r.value_size == 0 || r.requests == 0 {
            continue;
        }
        let e = lines
            .entry((r.target.clone(), series(r)))
            .or_default()
            .entry(r.value_size)
            .or_insert(v);
        *e = better(*e, v);
    }
    lines
}

/// Payload MB/s against value size, log-log: a panel per operation (SET, GET, and each mix or
/// command in the results), one line per target and link.
pub fn svg(results: &[BenchResult], title: &str) -> String {
    let mut panels: Vec<Panel> = ops(results)
        .into_iter()
        .map(|op| Panel {
            lines: lines_for(results, &op, |r| r.link.clone(), |r| r.mb_per_sec, f64::max),
            title: op,
            ylabel: "MB/s (payload)",
        })
        .collect();
    // SET and GET stay as panels even when empty only if nothing else has data.
    if panels.iter().any(|p| !p.lines.is_empty()) {
        panels.retain(|p| !p.lines.is_empty());
    }
    chart(&panels, title)
}

/// Latency percentiles (p50, p99, p99.9) against value size, log-log: a panel per percentile,
/// one line per target and link and operation.
pub fn latency_svg(results: &[BenchResult], title: &str) -> String {
    type Pick = fn(&BenchResult) -> f64;
    let pct: [(&str, Pick); 3] = [
        ("p50", |r| r.p50_us),
        ("p99", |r| r.p99_us),
        ("p99.9", |r| r.p999_us),
    ];
    let panels: Vec<Panel> = pct
        .iter()
        .map(|(name, pick)| {
            let mut lines = Lines::new();
            for op in ops(results) {
                lines.extend(lines_for(
                    results,
                    &op,
                    |r| format!("{} {}", r.link, op_of(&r.workload)),
                    pick,
                    f64::min,
                ));
            }
            Panel {
                title: (*name).into(),
                ylabel: "latency (µs)",
                lines,
            }
        })
        .collect();
    chart(&panels, title)
}

/// Draws `panels` side by side on shared log-log axes, with one legend.
fn chart(panels: &[Panel], title: &str) -> String {
    let all = || {
        panels
            .iter()
            .flat_map(|p| p.lines.values().flat_map(|m| m.iter()))
    };
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (&x, &y) in all() {
        xmin = xmin.min((x as f64).log2());
        xmax = xmax.max((x as f64).log2());
        ymin = ymin.min(y.log10());
        ymax = ymax.max(y.log10());
    }
    if xmin > xmax {
        (xmin, xmax, ymin, ymax) = (0.0, 1.0, 0.0, 1.0);
    }
    let (xmin, xmax) = (xmin.floor(), xmax.ceil().max(xmin.floor() + 1.0));
    let (ymin, ymax) = (ymin.floor(), ymax.ceil().max(ymin.floor() + 1.0));
    let keys: Vec<(String, String)> = {
        let mut k: Vec<_> = panels
            .iter()
            .flat_map(|p| p.lines.keys().cloned())
            .collect();
        k.sort();
        k.dedup();
        k
    };
    let targets: Vec<&String> = {
        let mut t: Vec<_> = keys.iter().map(|k| &k.0).collect();
        t.dedup();
        t
    };
    let links: Vec<&String> = {
        let mut l: Vec<_> = keys.iter().map(|k| &k.1).collect();
        l.sort();
        l.dedup();
        l
    };
    let legend_h = 18.0 * keys.len() as f64 + 10.0;
    let total_w = panels.len().max(1) as f64 * W;
    let total_h = H + legend_h + 30.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="15">{}</text>"#,
        total_w / 2.0,
        esc(title)
    );
    for (pi, panel) in panels.iter().enumerate() {
        let (op, lines) = (esc(&panel.title), &panel.lines);
        let ox = pi as f64 * W;
        let px = |x: f64| ox + PAD_L + (x - xmin) / (xmax - xmin) * (W - PAD_L - PAD_R);
        let py = |y: f64| PAD_T + (ymax - y) / (ymax - ymin) * (H - PAD_T - PAD_B);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{op}</text>"#,
            px((xmin + xmax) / 2.0),
            PAD_T - 8.0
        );
        // Grid and ticks: every power of 4 in size, every decade in MB/s.
        let mut x = xmin;
        while x <= xmax {
            let gx = px(x);
            let _ = writeln!(
                s,
                r##"<line x1="{gx:.1}" y1="{}" x2="{gx:.1}" y2="{}" stroke="#ddd"/><text x="{gx:.1}" y="{}" text-anchor="middle">{}</text>"##,
                py(ymax),
                py(ymin),
                py(ymin) + 16.0,
                fmt_size(2f64.powf(x) as usize).replace(' ', "")
            );
            x += if xmax - xmin > 12.0 { 4.0 } else { 2.0 };
        }
        for d in (ymin as i32)..=(ymax as i32) {
            let gy = py(d as f64);
            let _ = writeln!(
                s,
                r##"<line x1="{}" y1="{gy:.1}" x2="{}" y2="{gy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                px(xmin),
                px(xmax),
                px(xmin) - 6.0,
                gy + 4.0,
                fmt_decade(d)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">value size</text>"#,
            px((xmin + xmax) / 2.0),
            H - 12.0
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">{}</text>"#,
            ox + 16.0,
            py((ymin + ymax) / 2.0),
            panel.ylabel
        );
        for ((target, link), pts) in lines {
            let color =
                COLORS[targets.iter().position(|t| *t == target).unwrap_or(0) % COLORS.len()];
            let dash = DASHES[links.iter().position(|l| *l == link).unwrap_or(0) % DASHES.len()];
            let path: Vec<String> = pts
                .iter()
                .map(|(&x, &y)| format!("{:.1},{:.1}", px((x as f64).log2()), py(y.log10())))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}" points="{}"/>"#,
                path.join(" ")
            );
            for p in &path {
                let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(s, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>"#);
            }
        }
    }
    for (i, (target, link)) in keys.iter().enumerate() {
        let y = H + 20.0 + 18.0 * i as f64;
        let color = COLORS[targets.iter().position(|t| *t == target).unwrap_or(0) % COLORS.len()];
        let dash = DASHES[links.iter().position(|l| *l == link).unwrap_or(0) % DASHES.len()];
        let _ = writeln!(
            s,
            r#"<line x1="{PAD_L}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{}" y="{}">{} over {}</text>"#,
            PAD_L + 40.0,
            PAD_L + 48.0,
            y + 4.0,
            esc(target),
            esc(link)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_decade(d: i32) -> String {
    if d >= 0 {
        format!("{}", 10u64.pow(d as u32))
    } else {
        format!("{}", 10f64.powi(d))
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_one_line_per_target_and_link() {
        let r = |target: &str, link: &str, wl: &str, size: u64, mb: f64| BenchResult {
            target: target.into(),
            link: link.into(),
            workload: wl.into(),
            value_size: size,
            pipeline: 1,
            connections: 1,
            threads: 1,
            requests: 10,
            seconds: 1.0,
            ops_per_sec: 10.0,
            mb_per_sec: mb,
            p50_us: 1.0,
            p90_us: 1.0,
            p99_us: 1.0,
            p999_us: 1.0,
            p9999_us: 1.0,
            max_us: 1.0,
            errors: 0,
            misses: 0,
            link_fraction: None,
            seed: 1,
            hgrm: String::new(),
        };
        let rs = [
            r("respd", "local", "GET P1", 1 << 20, 900.0),
            r("respd", "local", "GET P1", 128 << 20, 1500.0),
            r("redis", "1gbit", "SET P1", 1 << 20, 100.0),
        ];
        let s = svg(&rs, "t <1>");
        assert_eq!(s.matches("<polyline").count(), 2);
        assert!(s.contains("respd over local") && s.contains("t &lt;1&gt;"));
        assert!(s.trim_end().ends_with("</svg>"));
        // A mixed workload gets a panel of its own; SET's panel keeps only SET.
        let mixed = [
            r("respd", "local", "SET P1", 1 << 10, 10.0),
            r("respd", "local", "SET:GET 1:1 P1", 1 << 10, 20.0),
            r("respd", "local", "SET:GET 1:1 P1", 1 << 20, 200.0),
        ];
        let s = svg(&mixed, "m");
        assert!(s.contains(">SET:GET 1:1</text>"), "{s}");
        assert!(
            !s.contains(">GET</text>"),
            "an empty GET panel is not drawn"
        );
        let set_panel = s.split(">SET:GET 1:1</text>").next().unwrap_or("");
        assert_eq!(set_panel.matches("<circle").count(), 1);
        assert_eq!(s.matches("<circle").count(), 3);
        // Latency: three percentile panels, a line per target, link and operation.
        let l = latency_svg(&mixed, "lat");
        for p in [">p50</text>", ">p99</text>", ">p99.9</text>"] {
            assert!(l.contains(p), "{p}");
        }
        assert_eq!(l.matches("<polyline").count(), 6);
        assert!(l.contains("local SET:GET 1:1"));
    }
}
