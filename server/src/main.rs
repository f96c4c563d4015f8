//! The `respd` binary: flags -> Config -> serve.

use anyhow::Context;

#[global_allocator]
static ALLOC: respd::alloc::Counting = respd::alloc::Counting;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// A Redis-compatible key-value server.
#[derive(Parser, Debug)]
#[command(name = "respd", disable_version_flag = true)]
struct Flags {
    /// YAML configuration file (keys are Redis parameter names).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Print the version and release tag, then exit.
    #[arg(long, short = 'v')]
    version: bool,
    /// Any Redis parameter as `--name value` (`--port 6380 --bind 127.0.0.1 --requirepass x`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    params: Vec<String>,
}

fn main() -> ExitCode {
    respd::alloc::mark_installed();
    let flags = Flags::parse();
    if flags.version {
        println!("{}", respd::version_string());
        return ExitCode::SUCCESS;
    }
    let config = match load_config(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("respd: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_logging(&config) {
        eprintln!("respd: {e:#}");
        return ExitCode::from(2);
    }
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("respd: {e:#}");
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Embedded defaults, then the file, then `--name value` flags.
fn load_config(flags: &Flags) -> anyhow::Result<respd::Config> {
    let mut config = respd::Config::default();
    if let Some(path) = &flags.config {
        config.apply_file(path)?;
    }
    let mut it = flags.params.iter();
    while let Some(name) = it.next() {
        let Some(key) = name.strip_prefix("--") else {
            anyhow::bail!("unexpected argument '{name}': parameters are given as --name value");
        };
        let Some(value) = it.next() else {
            anyhow::bail!("missing value for '--{key}'");
        };
        config.set_checked(key, value, " on the command line")?;
    }
    Ok(config)
}

/// Logs to standard output (journald under systemd), or appended to `logfile` when set.
fn init_logging(config: &respd::Config) -> anyhow::Result<()> {
    let level = match config.get("loglevel").unwrap_or("notice") {
        "debug" => "debug",
        "verbose" | "notice" => "info",
        "warning" => "warn",
        _ => "error",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RESPD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match config.get("logfile").filter(|f| !f.is_empty()) {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open logfile '{path}'"))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => builder.init(),
    }
    Ok(())
}

/// Worker threads: `worker-threads`, or by default one per core but one, which is left to the
/// kernel's network stack and co-located clients (on 2 cores this measured ~1.5x faster than 2).
fn worker_threads(config: &respd::Config) -> usize {
    match config.num("worker-threads") {
        0 => std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1))
            .max(1),
        n => n as usize,
    }
}

fn serve(config: respd::Config) -> anyhow::Result<()> {
    let threads = worker_threads(&config);
    // One worker: tokio's single-threaded scheduler, which runs ready connections in the order
    // they became ready and pays no cross-thread bookkeeping (docs/server.md has the figures).
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    builder
        .enable_all()
        .build()
        .context("cannot start the runtime")?
        .block_on(serve_async(config))
}

async fn serve_async(config: respd::Config) -> anyhow::Result<()> {
    // The dump is loaded before binding: no client can see a half-loaded keyspace (simpler than
    // answering -LOADING meanwhile, and the same to a client, which just connects later).
    let settings = respd::persist::Settings::from_config(&config);
    let srv = respd::Shared::new(config);
    load_dump(&srv, &settings)?;
    let bind_config = srv.config().clone();
    let listeners = respd::bind(&bind_config).await.context("cannot listen")?;
    for l in &listeners {
        if let Ok(a) = l.local_addr() {
            tracing::info!(
                "{} ready to accept connections on {a}",
                respd::version_string()
            );
        }
    }
    respd::server::notify_systemd_ready();
    stop_watchdog(srv.clone()).context("cannot watch for signals")?;
    respd::run(listeners, srv, std::future::pending()).await;
    tracing::info!("respd stopped");
    Ok(())
}

/// Loads `dir/dbfilename` if it exists; a file that cannot be read stops the start, naming the
/// file and the offset, as redis-server does (never a half-loaded keyspace served).
fn load_dump(srv: &respd::Shared, settings: &respd::persist::Settings) -> anyhow::Result<()> {
    let path = settings.path();
    if !path.exists() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    match respd::persist::load(&path, &srv.ks, &settings.limits) {
        Ok(l) => {
            tracing::info!(
                "DB loaded from disk: {:.3} seconds, {} keys loaded, {} expired keys skipped",
                started.elapsed().as_secs_f64(),
                l.keys,
                l.expired_skipped
            );
            Ok(())
        }
        Err(e) => {
            tracing::error!("Fatal error loading the DB: {e}. Exiting.");
            Err(anyhow::Error::new(e).context("cannot load the dump"))
        }
    }
}

/// How long a stop may take, from SIGTERM, SIGINT or SHUTDOWN, before the process exits anyway.
/// Connections get 5 s of it to finish the replies in flight (`respd::run`); the rest covers a
/// command that is still running, which no signal can interrupt.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Watches for the signals on a thread of its own, so that a stop is seen even while every
/// runtime thread is busy in one long command (a KEYS over millions of keys, a SORT of a huge
/// list): it asks the server to stop, and exits the process if that has not happened after
/// [`STOP_GRACE`]. A second SIGINT exits at once with status 1, as Redis does.
fn stop_watchdog(srv: std::sync::Arc<respd::Shared>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Installed here, before the thread starts, so that no signal arrives unhandled.
    let (mut term, mut int) = {
        let _in = rt.enter();
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    std::thread::Builder::new()
        .name("respd-stop".into())
        .spawn(move || {
            rt.block_on(async move {
                let mut stop = srv.shutdown.subscribe();
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = int.recv() => tracing::info!("SIGINT received"),
                    _ = stop.wait_for(|s| *s) => {}
                }
                srv.request_shutdown();
                tokio::select! {
                    _ = tokio::time::sleep(STOP_GRACE) => {
                        tracing::warn!(
                            "still running {} s after the stop was asked (a command has not \
                             finished): exiting now",
                            STOP_GRACE.as_secs()
                        );
                        std::process::exit(0);
                    }
                    _ = int.recv() => {
                        tracing::warn!("SIGINT received again: exiting now");
                        std::process::exit(1);
                    }
                }
            })
        })?;
    Ok(())
}
