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

/// `(target, link) -> size -> best MB/s` for one operation.
type Lines = BTreeMap<(String, String), BTreeMap<u64, f64>>;

fn lines_for(results: &[BenchResult], op: &str) -> Lines {
    let mut lines: Lines = BTreeMap::new();
    for r in results {
        if !r.workload.starts_with(op) || r.mb_per_sec <= 0.0 || r.value_size == 0 {
            continue;
        }
        let e = lines
            .entry((r.target.clone(), r.link.clone()))
            .or_default()
            .entry(r.value_size)
            .or_insert(0.0);
        *e = e.max(r.mb_per_sec);
    }
    lines
}

/// The chart: a SET panel and a GET panel, log-log.
pub fn svg(results: &[BenchResult], title: &str) -> String {
    let panels = [
        ("SET", lines_for(results, "SET")),
        ("GET", lines_for(results, "GET")),
    ];
    let all = || {
        panels
            .iter()
            .flat_map(|(_, l)| l.values().flat_map(|m| m.iter()))
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
        let mut k: Vec<_> = panels.iter().flat_map(|(_, l)| l.keys().cloned()).collect();
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
    let total_w = 2.0 * W;
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
    for (pi, (op, lines)) in panels.iter().enumerate() {
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
            r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">MB/s (payload)</text>"#,
            ox + 16.0,
            py((ymin + ymax) / 2.0)
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
    }
}
