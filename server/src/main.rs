//! The `respd` binary: flags -> Config -> serve.

use anyhow::Context;

#[global_allocator]
static ALLOC: respd::alloc::Counting = respd::alloc::Counting;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// `respd --help`.
const HELP: &str = "\
respd: a Redis-compatible key-value server for large values

Usage: respd [CONFIG_FILE] [--config CONFIG_FILE] [--PARAMETER VALUE...]

  CONFIG_FILE           YAML file of Redis parameters (redis.conf names, Redis's value syntax,
                        e.g. `maxmemory: 4gb`); as redis-server, the first argument, or --config
  --PARAMETER VALUE     any Redis 7.0 parameter, overriding the file; several words form one
                        value (--save 900 1 300 10)
  -v, -V, --version     print the version and the release tag, then exit
  -h, --help            print this help

Common parameters:
  --port 6379  --bind \"127.0.0.1 -::1\"  --requirepass SECRET  --maxclients 10000
  --maxmemory 4gb  --maxmemory-policy allkeys-lru  --proto-max-bulk-len 512mb
  --loglevel notice|verbose|debug|warning  --logfile PATH  --timeout 0  --tcp-backlog 511
  --worker-threads N    respd's own: runtime threads (0: one per core but one, at least 2)

Precedence: embedded defaults < file < command line < CONFIG SET.
Environment: RESPD_LOG overrides loglevel with a tracing EnvFilter (e.g. RESPD_LOG=debug).
Exit status: 0 after SHUTDOWN, SIGTERM or SIGINT; 1 on a runtime failure (cannot listen) or a
second SIGINT; 2 for a bad command line or configuration.
";

/// What the command line asks for.
#[derive(Debug, Default)]
struct Args {
    help: bool,
    version: bool,
    /// `--completions SHELL`: print the shell's completion script (hidden: for packaging).
    completions: Option<String>,
    /// Configuration files, applied in order before any parameter.
    files: Vec<PathBuf>,
    /// `--name value` pairs, in order.
    params: Vec<(String, String)>,
}

/// Reads the command line as redis-server does: an optional configuration file first, then
/// `--name value...` in any order; `--config FILE` may stand anywhere.
fn parse_args(argv: impl IntoIterator<Item = String>) -> anyhow::Result<Args> {
    let mut args = Args::default();
    let mut it = argv.into_iter().peekable();
    let mut first = true;
    while let Some(a) = it.next() {
        let was_first = std::mem::replace(&mut first, false);
        match a.as_str() {
            "-h" | "--help" => args.help = true,
            "-v" | "-V" | "--version" => args.version = true,
            "--completions" => match it.next() {
                Some(sh) => args.completions = Some(sh),
                None => anyhow::bail!("missing shell after '--completions' (bash, zsh or fish)"),
            },
            "-c" | "--config" => match it.next() {
                Some(f) => args.files.push(PathBuf::from(f)),
                None => anyhow::bail!("missing file name after '{a}'"),
            },
            _ => {
                if let Some(key) = a.strip_prefix("--") {
                    // Every word up to the next `--name` is part of the value, as redis-server.
                    let mut words = Vec::new();
                    while let Some(w) = it.next_if(|w| !w.starts_with("--")) {
                        words.push(w);
                    }
                    if words.is_empty() {
                        anyhow::bail!("missing value for '--{key}'");
                    }
                    args.params.push((key.to_string(), words.join(" ")));
                } else if was_first && !a.starts_with('-') {
                    args.files.push(PathBuf::from(a));
                } else {
                    anyhow::bail!(
                        "unexpected argument '{a}': parameters are given as --name value \
                         (respd --help)"
                    );
                }
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    respd::alloc::mark_installed();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("respd: {e:#}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("{}", version_string());
        return ExitCode::SUCCESS;
    }
    if let Some(sh) = &args.completions {
        return match respd::config::completion::script(sh) {
            Some(s) => {
                print!("{s}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("respd: no completion for shell '{sh}' (bash, zsh or fish)");
                ExitCode::from(2)
            }
        };
    }
    let config = match load_config(&args) {
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
    match &args.files[..] {
        [] => tracing::info!("configuration: embedded defaults and the command line"),
        files => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            tracing::info!("configuration loaded from {}", names.join(", "));
        }
    }
    // Said only now: logging was not set up while the file and flags were read.
    for why in config.unimplemented_in_use() {
        tracing::warn!("{why}");
    }
    let mut config = config;
    adjust_open_files_limit(&mut config);
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Once: to the log, and to stderr only when the log goes elsewhere (a file).
            tracing::error!("{e:#}");
            if logs_to_file() {
                eprintln!("respd: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Embedded defaults, then the files, then `--name value` parameters.
fn load_config(args: &Args) -> anyhow::Result<respd::Config> {
    let mut config = respd::Config::default();
    for path in &args.files {
        config.apply_file(path)?;
    }
    for (key, value) in &args.params {
        config.set_checked(key, value, " on the command line")?;
    }
    Ok(config)
}

static LOG_TO_FILE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn logs_to_file() -> bool {
    LOG_TO_FILE.load(std::sync::atomic::Ordering::Relaxed)
}

/// The tracing filter of a Redis log level: Redis's four levels on tracing's lower four, so
/// `verbose` (connections accepted and closed, idle clients dropped) differs from `notice`.
fn level_filter(l: respd::config::LogLevel) -> &'static str {
    use respd::config::LogLevel;
    match l {
        LogLevel::Debug => "trace",
        LogLevel::Verbose => "debug",
        LogLevel::Notice => "info",
        LogLevel::Warning => "warn",
    }
}

/// Whether standard output is the journal's stream: systemd sets `JOURNAL_STREAM` to the
/// `device:inode` of the socket it gives a service as stdout (systemd.exec(5)).
fn stdout_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    // SAFETY: fstat writes only into the struct it is given.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(1, &mut st) } != 0 {
        return false;
    }
    dev.parse::<u64>().ok() == Some(st.st_dev) && ino.parse::<u64>().ok() == Some(st.st_ino)
}

/// journald's line format: a `<priority>` prefix (sd-daemon(3)) and no timestamp of our own,
/// since the journal stamps each line. respd's INFO is Redis's notice (5), DEBUG verbose (6).
struct JournalFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JournalFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut w: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let p = match *event.metadata().level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 5,
            tracing::Level::DEBUG => 6,
            tracing::Level::TRACE => 7,
        };
        write!(w, "<{p}>")?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Logs to standard output (journald's format under systemd), or appended to `logfile` when
/// set. The level filter sits behind a reload handle, so `CONFIG SET loglevel` takes effect.
fn init_logging(config: &respd::Config) -> anyhow::Result<()> {
    use respd::config::params;
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{fmt, reload, EnvFilter};
    let filter = EnvFilter::try_from_env("RESPD_LOG")
        .unwrap_or_else(|_| EnvFilter::new(level_filter(config.get(params::LOGLEVEL))));
    let (filter, handle) = reload::Layer::new(filter);
    respd::config::on_loglevel_change(move |l| {
        if let Err(e) = handle.reload(EnvFilter::new(level_filter(l))) {
            tracing::warn!("loglevel not changed: {e}");
        }
    });
    let logfile = config.get(params::LOGFILE);
    let registry = tracing_subscriber::registry().with(filter);
    match Some(&*logfile).filter(|f| !f.is_empty()) {
        Some(path) => {
            LOG_TO_FILE.store(true, std::sync::atomic::Ordering::Relaxed);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open logfile '{path}'"))?;
            let layer = fmt::layer()
                .with_target(false)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file));
            registry.with(layer).init();
        }
        None if stdout_is_journal() => {
            registry
                .with(fmt::layer().event_format(JournalFormat))
                .init();
        }
        None => {
            // Colour only for a person at a terminal: a redirected log gets plain text.
            let layer = fmt::layer().with_target(false).with_ansi(
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            );
            registry.with(layer).init();
        }
    }
    Ok(())
}

/// Descriptors a server needs besides its clients' (listeners, log file, the files of later
/// features), as Redis's `CONFIG_MIN_RESERVED_FDS`.
const RESERVED_FDS: u64 = 32;

/// Raises the soft open-files limit to `maxclients` + 32 when it is lower, up to the hard limit;
/// when even that is not enough, lowers `maxclients` to fit, with Redis's warnings. Without it a
/// storm of connections would end in `accept` failing with EMFILE instead of Redis's
/// "max number of clients reached".
fn adjust_open_files_limit(config: &mut respd::Config) {
    let maxclients = u64::try_from(config.get(respd::config::params::MAXCLIENTS)).unwrap_or(0);
    let want = maxclients + RESERVED_FDS;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        tracing::warn!(
            "Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max \
             clients configuration accordingly.",
            std::io::Error::last_os_error()
        );
        let _ = config.set("maxclients", &(1024 - RESERVED_FDS).to_string());
        return;
    }
    let old = lim.rlim_cur;
    if old >= want {
        return;
    }
    let best = want.min(lim.rlim_max);
    let raised = libc::rlimit {
        rlim_cur: best,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit reads only the struct it is given.
    let err = (unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0)
        .then(std::io::Error::last_os_error);
    let now = if err.is_none() { best } else { old };
    if now >= want {
        tracing::info!(
            "Increased maximum number of open files to {now} (it was originally set to {old})."
        );
        return;
    }
    let reduced = now.saturating_sub(RESERVED_FDS).max(1);
    tracing::warn!(
        "You requested maxclients of {maxclients} requiring at least {want} max file descriptors."
    );
    tracing::warn!(
        "Server can't set maximum open files to {want} because of OS error: {}.",
        err.map_or_else(|| "the hard limit is lower".to_string(), |e| e.to_string())
    );
    tracing::warn!(
        "Current maximum open files is {now}. maxclients has been reduced to {reduced} to \
         compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
    );
    let _ = config.set("maxclients", &reduced.to_string());
}

/// Runtime threads: `worker-threads`, else one per core but one (that core is left to the
/// kernel's network stack and co-located clients), and never fewer than two by default: a Lua
/// script holds the thread it runs on, and only a second one can answer other clients `-BUSY`
/// and take the `SCRIPT KILL` that stops a runaway script. What two workers cost small requests
/// on 2 cores against one is not settled (docs/server.md, "Threads").
fn worker_threads(config: &respd::Config) -> usize {
    match config.get(respd::config::params::WORKER_THREADS).max(0) as usize {
        0 => std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1))
            .max(2),
        1 => {
            tracing::warn!(
                "worker-threads 1: a script running past busy-reply-threshold holds the only \
                 worker, so no client can get -BUSY or send SCRIPT KILL until it ends"
            );
            1
        }
        n => n,
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
    let rt = builder
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let out = rt.block_on(serve_async(config));
    match out {
        // Stopped during the load, or the load failed: the loader thread may still run; do not
        // wait for it.
        Ok(Served::StoppedLoading) | Err(_) => rt.shutdown_background(),
        // Dropped as before: a command still running holds the drop until the stop watchdog's
        // grace has passed.
        Ok(Served::Stopped) => drop(rt),
    }
    out.map(|_| ())
}

/// How serving ended.
enum Served {
    Stopped,
    StoppedLoading,
}

async fn serve_async(config: respd::Config) -> anyhow::Result<Served> {
    // As Redis: bind first, then load, answering -LOADING meanwhile (cmd::persist::refusal), so
    // a client or a supervisor sees a server that is starting rather than a refused connection.
    // The AOF's replay runs its commands through the dispatcher as a session of its own, which
    // the -LOADING check lets through.
    let settings = respd::persist::Settings::from_config(&config);
    let users = config.users.clone();
    let srv = respd::Shared::new(config);
    // As Redis: a bad ACL file or `user` line stops the start.
    respd::cmd::acl::load_at_start(&srv, &users)
        .map_err(|e| anyhow::anyhow!("Aborting respd startup because of ACL errors: {e}"))?;
    let aof_on = srv.config().get(respd::config::params::APPENDONLY);
    if respd::state::tls::enabled(srv.config()) {
        // As Redis: TLS that cannot be set up (no certificate, a bad key) stops the start.
        if let Err(e) = srv.tls.configure(srv.config()) {
            tracing::error!("{e}");
            anyhow::bail!("Failed to configure TLS. Check logs for more info.");
        }
    }
    let listeners = respd::server::bind_all(srv.config())
        .await
        .context("cannot listen")?;
    let addrs: Vec<_> = listeners
        .iter()
        .filter_map(|l| l.tcp.local_addr().ok())
        .collect();
    for a in &addrs {
        tracing::info!("listening on {a}");
    }
    let source = if aof_on {
        None
    } else {
        respd::persist::source_at_start(&settings)
    };
    let loading = aof_on || source.is_some();
    if loading {
        // Before the listener serves: no client may see the keyspace half-loaded.
        srv.persist.loading.start(0);
    }
    stop_watchdog(srv.clone()).context("cannot watch for signals")?;
    let server = tokio::spawn(respd::server::run_listeners(
        listeners,
        srv.clone(),
        std::future::pending(),
    ));
    if loading {
        let loader = {
            let srv = srv.clone();
            tokio::task::spawn_blocking(move || match source {
                Some(source) => load_data(&srv, &source, &settings),
                None => load_aof(&srv, &settings),
            })
        };
        let mut stop = srv.shutdown.subscribe();
        tokio::select! {
            done = loader => done.context("the loader failed")??,
            _ = stop.wait_for(|s| *s) => {
                tracing::info!("stopped while loading");
                let _ = server.await;
                return Ok(Served::StoppedLoading);
            }
        }
        // The libraries the dump or the AOF base held, compiled (those an AOF's FUNCTION
        // commands did not bring in already).
        if let Err(e) = respd::cmd::script::load_saved(&srv) {
            tracing::error!("Fatal error loading the DB: function library: {e}. Exiting.");
            anyhow::bail!("cannot load the function libraries: {e}");
        }
        srv.persist.loading.finish();
    }
    for a in &addrs {
        tracing::info!("{} ready to accept connections on {a}", version_string());
    }
    respd::server::notify_systemd_ready();
    let _ = server.await;
    // What was appended reaches the file, fsynced, before the process ends (as Redis's
    // prepareForShutdown).
    srv.aof.disable();
    tracing::info!("respd stopped");
    Ok(Served::Stopped)
}

/// With `appendonly yes`: loads the AOF (or, when its directory has no manifest, `dump.rdb`,
/// which then becomes the AOF's base, as Redis 7.0 does), then starts appending.
fn load_aof(
    srv: &std::sync::Arc<respd::Shared>,
    settings: &respd::persist::Settings,
) -> anyhow::Result<()> {
    let aof = respd::persist::aof::AofSettings::from_config(srv.config());
    let started = std::time::Instant::now();
    let mut replayer = respd::cmd::propagate::Replayer::new(srv);
    let loaded = match respd::persist::aof::load(&aof, &srv.ks, &srv.persist.loading, &mut |argv| {
        replayer.run(argv)
    }) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("Fatal error loading the AOF: {e}. Exiting.");
            return Err(anyhow::Error::new(e).context("cannot load the append only file"));
        }
    };
    drop(replayer);
    if loaded.manifest.is_some() {
        tracing::info!(
            "DB loaded from append only file: {:.3} seconds ({} keys from the base, {} commands)",
            started.elapsed().as_secs_f64(),
            loaded.keys_from_base,
            loaded.commands
        );
    } else if let Some(source) = respd::persist::source_at_start(settings) {
        load_data(srv, &source, settings)?;
    }
    srv.aof
        .start(aof, &srv.ks, loaded.manifest)
        .context("cannot open the append only file")
}

/// Loads what the start should load; a file that cannot be read stops the start, naming the
/// file and the offset, as redis-server does (never a half-loaded keyspace served).
fn load_data(
    srv: &respd::Shared,
    source: &respd::persist::Source,
    settings: &respd::persist::Settings,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    match respd::persist::load_source(source, &srv.ks, &srv.persist, settings) {
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
/// list). A signal runs Redis's shutdown: the final save when `save` rules are set (as
/// `shutdown-on-sigterm`/`-sigint` say), and if that save fails the server logs it and goes on
/// running, as Redis 7.0 does. Then it asks the server to stop, and exits the process if that
/// has not happened after [`STOP_GRACE`]. A second SIGINT exits at once with status 1, as Redis
/// does, even during the save.
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
                loop {
                    use respd::config::params::{SHUTDOWN_ON_SIGINT, SHUTDOWN_ON_SIGTERM};
                    let (name, how) = tokio::select! {
                        _ = term.recv() => ("SIGTERM", SHUTDOWN_ON_SIGTERM),
                        _ = int.recv() => ("SIGINT", SHUTDOWN_ON_SIGINT),
                        _ = stop.wait_for(|s| *s) => break,
                    };
                    if srv.persist.loading.is_active() {
                        tracing::warn!("{name} received during loading: scheduling shutdown");
                    } else {
                        tracing::warn!("{name} received: scheduling shutdown");
                    }
                    let (save, nosave, force) = signal_shutdown_flags(&srv.config().get(how));
                    let s = srv.clone();
                    let done = tokio::task::spawn_blocking(move || {
                        wait_for_bgsave(&s);
                        respd::cmd::server::prepare_for_shutdown(&s, save, nosave, force)
                    });
                    tokio::select! {
                        ok = done => if ok.unwrap_or(true) { break },
                        _ = int.recv() => {
                            tracing::warn!("SIGINT received again: exiting now");
                            std::process::exit(1);
                        }
                    }
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

/// `shutdown-on-sigterm` / `shutdown-on-sigint` ("default", or any of "save", "nosave", "now",
/// "force"): whether to save, not to save, and to exit even if the save fails.
fn signal_shutdown_flags(v: &str) -> (bool, bool, bool) {
    let has = |w: &str| v.split_whitespace().any(|x| x.eq_ignore_ascii_case(w));
    (has("save"), has("nosave"), has("force"))
}

/// Redis kills its saving child before the final save; a background save here is a thread that
/// cannot be killed, so the final save waits for it (its file is then replaced by a newer one).
fn wait_for_bgsave(srv: &respd::Shared) {
    use std::sync::atomic::Ordering::Relaxed;
    if srv.persist.saving.load(Relaxed) {
        tracing::warn!("There is a background save in progress: waiting for it to end.");
        while srv.persist.saving.load(Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// The version, and the release tag the binary was built from (`RESPD_TAG` at build time).
/// Read here, not in the library: a new tag then recompiles this file alone (rpm/build builds
/// twice, once per tag), not the library and every binary over it.
fn version_string() -> String {
    let tag = option_env!("RESPD_TAG").unwrap_or("untagged");
    format!("respd {} (tag {})", env!("CARGO_PKG_VERSION"), tag)
}
