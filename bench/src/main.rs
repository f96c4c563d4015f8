//! respd-bench: a load generator for RESP servers (respd, redis-server, anything else).
//!
//! # Layout
//! - [`workload`]: the seeded command stream (mix, keys, sizes) from flags or YAML.
//! - [`conn`]: a lean RESP connection (vectored writes, large bulks read in place).
//! - [`driver`]: worker threads, pipelining, fixed-rate scheduling, one histogram per worker.
//! - [`report`] and [`plot`]: conditions, table, JSON, markdown, SVG.
//! - [`lab`]: servers on free ports and shaped links between network namespaces.
//! - [`matrix`]: several targets and links in one run (`compare`, `suite`).

mod conn;
mod driver;
mod floor;
mod lab;
mod matrix;
mod plot;
mod report;
mod storm;
mod workload;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use report::{BenchResult, Conditions};
use std::path::PathBuf;
use std::process::ExitCode;
use workload::{KeyPattern, Workload};

#[derive(Parser)]
#[command(
    version,
    about = "A load generator for RESP servers",
    args_conflicts_with_subcommands = true,
    // -h is the host, as in redis-benchmark; help stays on --help.
    disable_help_flag = true,
    after_help = "redis-benchmark's common flags mean the same here: -h host, -p port, -a password, \
--user, -c connections, -n requests, -d value size, -P pipeline, -t tests (set,get), -q quiet, \
--csv, --threads. Differences: -d also takes sizes with units and ranges (1KiB-4KiB); -n \
counts the requests measured after the warm-up (--warmup, 1 s); -t knows set and get only \
(--command runs any other command); redis-benchmark's -r N is --keys N (uniform random keys by \
default); -a also comes from REDISCLI_AUTH, as in redis-cli."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Drive a running server (the default).
    Run(RunArgs),
    /// Start respd (this workspace's) and redis-server, run the workloads on both in turn,
    /// print respd/redis ratios. `--link 1gbit,10gbit` runs them over shaped links (root).
    Compare(CompareArgs),
    /// The CI throughput report (ci/throughput): local, 1 Gbit and 10 Gbit, respd and redis.
    Suite(SuiteArgs),
    /// A connection storm: N clients connect at once and PING; prints the time until every one
    /// has its PONG and the SYNs the kernel dropped meanwhile.
    Storm(StormArgs),
    /// The floor: a trivial server on 127.0.0.1 that answers GET from preloaded buffers (the
    /// large one for keys starting with --large-prefix) and +OK to anything else, storing
    /// nothing; a mix run against it shows what the machine allows.
    Floor(FloorArgs),
    /// Write a shell completion script (bash, zsh, fish) or the man page (man) to stdout.
    #[command(hide = true)]
    Generate { what: String },
}

#[derive(Args)]
struct FloorArgs {
    #[arg(short = 'p', long, default_value_t = 6379)]
    port: u16,
    /// GETs of keys with this prefix get the large buffer.
    #[arg(long, default_value = "big:")]
    large_prefix: String,
    /// Size of the large buffer.
    #[arg(long, default_value = "128MiB")]
    large: String,
    /// Size of the buffer every other GET gets.
    #[arg(long, default_value = "1KiB")]
    small: String,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Args)]
struct StormArgs {
    /// Server host (as redis-benchmark -h; -H is accepted too).
    #[arg(short = 'h', short_alias = 'H', long, default_value = "127.0.0.1")]
    host: String,
    #[arg(short = 'p', long, default_value_t = 6379)]
    port: u16,
    /// Connections opened at once.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    connections: usize,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

/// Workload settings; each given flag overrides the YAML file's value in every workload.
#[derive(Args, Clone, Default)]
struct WorkloadArgs {
    /// YAML file with one workload, or `workloads: [...]`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Command template instead of the SET/GET mix: `__key__`, `__data__` are filled in.
    #[arg(long)]
    command: Option<String>,
    /// SET:GET ratio, e.g. 1:0, 0:1, 1:10.
    #[arg(long)]
    ratio: Option<String>,
    /// Tests to run, as redis-benchmark -t: `set`, `get` or `set,get` (one workload each, in
    /// this order; instead of --ratio).
    #[arg(short = 't', long, value_delimiter = ',', conflicts_with_all = ["ratio", "command"])]
    tests: Vec<String>,
    /// Number of keys.
    #[arg(long)]
    keys: Option<u64>,
    #[arg(long, value_enum)]
    key_pattern: Option<KeyPattern>,
    #[arg(long)]
    key_prefix: Option<String>,
    /// Value size (3, 1KiB, 128MiB) or range (1KiB-4KiB).
    #[arg(short = 'd', long)]
    size: Option<String>,
    /// Pipeline depth.
    #[arg(short = 'P', long)]
    pipeline: Option<usize>,
    /// Connections.
    #[arg(short = 'c', long)]
    connections: Option<usize>,
    /// Worker threads (as redis-benchmark --threads; -t selects tests, as there).
    #[arg(long)]
    threads: Option<usize>,
    /// Seconds to measure.
    #[arg(long)]
    duration: Option<f64>,
    /// Measure exactly this many requests instead of a duration.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// With --duration: go on until at least this many requests were measured.
    #[arg(long)]
    min_requests: Option<u64>,
    /// Seconds of load before measuring.
    #[arg(long)]
    warmup: Option<f64>,
    #[arg(long)]
    seed: Option<u64>,
    /// Fixed request rate (requests/s); latency counts from each request's scheduled time.
    #[arg(long)]
    rate: Option<f64>,
    /// Do not SET the key space before a workload that reads.
    #[arg(long)]
    no_prefill: bool,
}

impl WorkloadArgs {
    fn workloads(&self) -> Result<Vec<Workload>> {
        let mut ws = match &self.config {
            Some(p) => workload::load_yaml(p)?,
            None => vec![Workload::default()],
        };
        for w in &mut ws {
            macro_rules! set {
                ($($f:ident),*) => { $( if let Some(v) = &self.$f { w.$f = v.clone(); } )* };
            }
            set!(
                ratio,
                keys,
                key_pattern,
                key_prefix,
                size,
                pipeline,
                connections,
                threads
            );
            set!(duration, min_requests, warmup, seed, rate);
            if let Some(c) = &self.command {
                w.command = Some(c.clone());
            }
            if let Some(n) = self.requests {
                w.requests = n;
            }
            if self.no_prefill {
                w.prefill = false;
            }
        }
        if self.tests.is_empty() {
            return Ok(ws);
        }
        let mut out = Vec::new();
        for t in &self.tests {
            let ratio = match t.to_ascii_lowercase().as_str() {
                "set" => "1:0",
                "get" => "0:1",
                other => bail!(
                    "-t {other}: respd-bench runs set and get; use --command for other commands"
                ),
            };
            for w in &ws {
                out.push(Workload {
                    ratio: ratio.into(),
                    ..w.clone()
                });
            }
        }
        Ok(out)
    }
}

#[derive(Args, Clone, Default)]
struct Output {
    /// Write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the results as CSV to FILE; without FILE, print CSV instead of the table (as
    /// redis-benchmark --csv).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    csv: Option<PathBuf>,
    /// Write each result's latency histogram into DIR, as HdrHistogram's percentile
    /// distribution (`.hgrm`, microseconds; plot with HdrHistogram's plotFiles page).
    #[arg(long, value_name = "DIR")]
    hist: Option<PathBuf>,
    /// Write an SVG chart of MB/s against value size (a panel per operation).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Write an SVG chart of latency percentiles (p50, p99, p99.9) against value size.
    #[arg(long)]
    latency_plot: Option<PathBuf>,
    /// No progress bar (as redis-benchmark -q).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Args, Clone, Default)]
struct RunArgs {
    /// Server host (as redis-benchmark -h; -H is accepted too).
    #[arg(short = 'h', short_alias = 'H', long, default_value = "127.0.0.1")]
    host: String,
    #[arg(short = 'p', long, default_value_t = 6379)]
    port: u16,
    /// Password: every connection sends AUTH first (as redis-benchmark's -a; else
    /// REDISCLI_AUTH from the environment, as redis-cli).
    #[arg(short = 'a', long = "pass")]
    password: Option<String>,
    /// ACL user to log in as, with -a.
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// The target's name in reports.
    #[arg(long, default_value = "server")]
    target: String,
    /// The link's name in reports.
    #[arg(long, default_value = "local")]
    link: String,
    #[command(flatten)]
    workload: WorkloadArgs,
    #[command(flatten)]
    out: Output,
}

#[derive(Args)]
struct CompareArgs {
    /// Links, comma-separated: local, 1gbit, 10gbit, NNNmbit (shaped links need root).
    #[arg(long, default_value = "local", value_delimiter = ',')]
    link: Vec<String>,
    /// Runs per target and workload (alternating order); the median is reported.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Seconds of bulk TCP transfer measuring each link's limit (0: skip).
    #[arg(long, default_value_t = 3.0)]
    limit_secs: f64,
    #[command(flatten)]
    servers: ServerArgs,
    #[command(flatten)]
    workload: WorkloadArgs,
    #[command(flatten)]
    out: Output,
}

#[derive(Args)]
struct ServerArgs {
    /// respd binary (default: beside this binary, else target/release/respd, built if missing).
    #[arg(long)]
    respd: Option<PathBuf>,
    /// redis-server binary.
    #[arg(long, default_value = "redis-server")]
    redis_server: PathBuf,
}

#[derive(Args)]
struct SuiteArgs {
    /// Short runs (under 5 minutes in all).
    #[arg(long)]
    quick: bool,
    /// Where report.json, report.md, report.csv, throughput.svg, latency.svg and hist/ (one
    /// `.hgrm` latency distribution per result) go.
    #[arg(long, default_value = "target/throughput")]
    out: PathBuf,
    /// Links, comma-separated.
    #[arg(long, default_value = "local,1gbit,10gbit", value_delimiter = ',')]
    link: Vec<String>,
    /// Also sweep value sizes from 1 KiB to 512 MiB (default in the full run).
    #[arg(long)]
    sweep: Option<bool>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    #[command(flatten)]
    servers: ServerArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        None => run(cli.run),
        Some(Cmd::Run(a)) => run(a),
        Some(Cmd::Compare(a)) => compare(a),
        Some(Cmd::Suite(a)) => suite(a),
        Some(Cmd::Storm(a)) => storm(a),
        Some(Cmd::Floor(a)) => floor::serve(
            a.port,
            &a.large_prefix,
            workload::parse_size(&a.large).unwrap_or(128 << 20),
            workload::parse_size(&a.small).unwrap_or(1024),
        )
        .map(|()| ExitCode::SUCCESS),
        Some(Cmd::Generate { what }) => generate(&what),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("respd-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn emit(
    out: &Output,
    cond: &Conditions,
    links: &[report::LinkLimit],
    results: &[BenchResult],
) -> Result<()> {
    if out.csv.as_deref() == Some(std::path::Path::new("-")) {
        print!("{}", report::csv(results));
    } else {
        print!("{}", report::conditions_text(cond, links));
        println!();
        print!("{}", report::table(results));
        let errors: u64 = results.iter().map(|r| r.errors).sum();
        println!(
            "\n{} result(s), {} request(s) measured, {errors} error(s)",
            results.len(),
            results.iter().map(|r| r.requests).sum::<u64>()
        );
    }
    if let Some(p) = out.csv.as_ref().filter(|p| p.as_os_str() != "-") {
        std::fs::write(p, report::csv(results))?;
    }
    if let Some(p) = &out.json {
        report::write_json(p, cond, links, results)?;
    }
    if let Some(d) = &out.hist {
        report::write_hists(d, results)?;
    }
    if let Some(p) = &out.plot {
        std::fs::write(
            p,
            plot::svg(results, "respd-bench: payload MB/s against value size"),
        )?;
    }
    if let Some(p) = &out.latency_plot {
        std::fs::write(
            p,
            plot::latency_svg(results, "respd-bench: latency against value size"),
        )?;
    }
    Ok(())
}

fn run(a: RunArgs) -> Result<ExitCode> {
    let addr = format!("{}:{}", a.host, a.port);
    if let Some(p) = a
        .password
        .clone()
        .or_else(|| std::env::var("REDISCLI_AUTH").ok())
    {
        conn::set_auth(a.user.clone(), p);
    }
    let ws = a.workload.workloads()?;
    let mut cond = Conditions::here(ws.first().map_or(1, |w| w.seed));
    if let Ok(info) =
        conn::Conn::connect(&addr, 0).and_then(|mut c| c.call_text(&[b"INFO", b"server"]))
    {
        let v = conn::info_field(&info, "redis_version").unwrap_or_default();
        cond.targets
            .push(format!("{}: {addr}, redis_version {v}", a.target));
    }
    let mut results = Vec::new();
    let plans = ws.iter().map(Workload::plan).collect::<Result<Vec<_>>>()?;
    // Runs of the same non-empty group go together.
    let mut rest = &plans[..];
    while let Some(first) = rest.first() {
        let n = match first.w.group.as_str() {
            "" => 1,
            g => rest.iter().take_while(|p| p.w.group == g).count(),
        };
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        let measured = if let [plan] = batch {
            vec![driver::run(plan, &addr, !a.out.quiet)?]
        } else {
            run_together(batch, &addr)?
        };
        for (plan, m) in batch.iter().zip(measured) {
            if let Some(e) = &m.first_error {
                eprintln!("{}: {} error replies, first: {e}", plan.label(), m.errors);
            }
            results.push(BenchResult::new(&a.target, &a.link, plan, &m));
        }
    }
    emit(&a.out, &cond, &[], &results)?;
    Ok(exit_code(&results))
}

/// Workloads of one group: every prefill first, then all of them at once, each on its own
/// threads and histogram.
fn run_together(batch: &[workload::Plan], addr: &str) -> Result<Vec<driver::Measured>> {
    for plan in batch {
        driver::prefill_only(plan, addr)?;
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = batch
            .iter()
            .map(|plan| {
                let mut plan = plan.clone();
                plan.w.prefill = false;
                s.spawn(move || driver::run(&plan, addr, false))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a workload's thread panicked"))?
            })
            .collect()
    })
}

/// Failure when any request got an error reply: a run whose requests all failed measured nothing.
fn exit_code(results: &[BenchResult]) -> ExitCode {
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    if errors == 0 {
        return ExitCode::SUCCESS;
    }
    eprintln!("respd-bench: {errors} request(s) got an error reply");
    ExitCode::FAILURE
}

/// A completion script or the man page, from the clap definition.
fn generate(what: &str) -> Result<ExitCode> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let out = &mut std::io::stdout();
    match what {
        "man" => clap_mangen::Man::new(cmd).render(out)?,
        shell => {
            let Ok(shell) = shell.parse::<clap_complete::Shell>() else {
                bail!("generate: bash, zsh, fish or man, not {shell}");
            };
            clap_complete::generate(shell, &mut cmd, "respd-bench", out);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn storm(a: StormArgs) -> Result<ExitCode> {
    let addr = format!("{}:{}", a.host, a.port);
    let s = storm::run(&addr, a.connections, std::time::Duration::from_secs(300))?;
    println!(
        "storm {addr}: {} connections, {} answered PONG, {:.3} s, {} listen overflows",
        s.connections, s.answered, s.secs, s.listen_overflows
    );
    Ok(if s.answered == s.connections {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn compare(a: CompareArgs) -> Result<ExitCode> {
    let m = matrix::Matrix {
        links: a.link,
        targets: vec!["respd".into(), "redis".into()],
        workloads: a.workload.workloads()?,
        rounds: a.rounds,
        limit_secs: a.limit_secs,
        respd: a.servers.respd,
        redis: a.servers.redis_server,
        progress: !a.out.quiet,
    };
    let o = m.run()?;
    emit(&a.out, &o.conditions, &o.links, &o.results)?;
    println!("\n{}", report::ratios(&o.results, "respd", "redis"));
    Ok(exit_code(&o.results))
}

fn suite(a: SuiteArgs) -> Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let workloads = matrix::suite_workloads(a.quick, a.sweep.unwrap_or(!a.quick));
    let targets: Vec<String> = vec!["respd".into(), "redis".into()];
    // The size sweep runs on loopback only: over shaped links it would take far too long.
    let (sweep, base): (Vec<Workload>, Vec<Workload>) = workloads
        .into_iter()
        .partition(|w| matches!(w.size.as_str(), "1KiB" | "16KiB" | "256KiB" | "512MiB"));
    let mut m = matrix::Matrix {
        links: a.link.clone(),
        targets: targets.clone(),
        workloads: base.clone(),
        rounds: 1,
        limit_secs: if a.quick { 2.0 } else { 4.0 },
        respd: a.servers.respd.clone(),
        redis: a.servers.redis_server.clone(),
        progress: false,
    };
    let mut o = m.run()?;
    let mut problems = matrix::check(&o, &base, &targets, None);
    if !sweep.is_empty() && a.link.iter().any(|l| l == "local") {
        m.links = vec!["local".into()];
        m.workloads = sweep.clone();
        m.limit_secs = 0.0;
        let s = m.run()?;
        o.results.extend(s.results);
        problems.extend(matrix::check(&o, &sweep, &targets, Some("local")));
    }
    std::fs::create_dir_all(&a.out)?;
    let mode = if a.quick { "quick" } else { "full" };
    o.conditions.note = format!(
        "{}ci/throughput {mode}: {:.0} s",
        if o.conditions.note.is_empty() {
            String::new()
        } else {
            format!("{}; ", o.conditions.note)
        },
        t0.elapsed().as_secs_f64()
    );
    report::write_json(
        &a.out.join("report.json"),
        &o.conditions,
        &o.links,
        &o.results,
    )?;
    std::fs::write(
        a.out.join("throughput.svg"),
        plot::svg(
            &o.results,
            "respd and redis-server: payload MB/s against value size",
        ),
    )?;
    std::fs::write(
        a.out.join("latency.svg"),
        plot::latency_svg(
            &o.results,
            "respd and redis-server: latency against value size",
        ),
    )?;
    std::fs::write(a.out.join("report.csv"), report::csv(&o.results))?;
    report::write_hists(&a.out.join("hist"), &o.results)?;
    let md = format!(
        "# Throughput ({mode})\n\n```\n{}```\n\n{}\n## respd / redis\n\n{}",
        report::conditions_text(&o.conditions, &o.links),
        report::markdown(&o.results),
        report::ratios(&o.results, "respd", "redis")
    );
    std::fs::write(a.out.join("report.md"), &md)?;
    println!("{md}");
    if o.links.iter().all(|l| l.link == "local") && a.link.len() > 1 {
        println!("note: remote links were skipped ({})", o.conditions.note);
    }
    if problems.is_empty() {
        println!(
            "throughput: {} figures present and positive, 0 failed",
            o.results.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            println!("problem: {p}");
        }
        bail!("{} problem(s) in the throughput report", problems.len())
    }
}
