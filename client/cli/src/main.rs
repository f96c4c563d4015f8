//! respd-cli: site data in and out of respd (or Redis) from a shell.
//!
//! Exit codes: 0 success, 1 other errors, 2 usage, 3 key not found, 4 wrong type, 5 connection.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use respd_client::{Client, Error, Subscription, Target};

/// Values above this size get a progress bar (on a terminal).
const BAR_MIN: u64 = 4 << 20;

#[derive(Parser)]
#[command(
    name = "respd-cli",
    version,
    about = "Store and fetch site data (files, NumPy arrays) in respd or Redis"
)]
struct Args {
    /// Server URL (redis://[user:pass@]host:port/db, rediss://, or a comma-separated cluster list);
    /// default: RESPD_URL, then the site config file, then redis://127.0.0.1:6379.
    #[arg(long, global = true)]
    url: Option<String>,
    /// Split values above this many bytes (default: the server's proto-max-bulk-len).
    #[arg(long, global = true)]
    chunk_size: Option<usize>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check the server answers: prints PONG.
    Ping,
    /// Store a file's bytes (`-` for stdin) at KEY, chunked above the server's limit.
    Put { key: String, file: String },
    /// Write the bytes at KEY to a file (`-` for stdout), byte-exact.
    Get { key: String, file: String },
    /// Say what KEY holds (dtype and shape for a .npy value).
    Info { key: String },
    /// List the keys starting with PREFIX.
    Ls { prefix: String },
    /// Delete every key starting with PREFIX.
    Rm {
        prefix: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Publish a file's bytes (`-` for stdin) on CHANNEL.
    Publish { channel: String, file: String },
    /// Print messages from CHANNELs as `channel<TAB>payload` lines.
    Subscribe {
        #[arg(required = true)]
        channels: Vec<String>,
        /// Exit after this many messages.
        #[arg(long)]
        count: Option<u64>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("respd-cli: error: {e:#}");
            let code = match e.downcast_ref::<Error>() {
                Some(Error::NotFound(_)) => 3,
                Some(Error::WrongType { .. }) => 4,
                Some(Error::Connection(_)) => 5,
                _ => 1,
            };
            ExitCode::from(code)
        }
    }
}

fn bar(total: u64, what: &str) -> Option<ProgressBar> {
    if total < BAR_MIN || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    b.set_style(style);
    b.set_message(what.to_string());
    Some(b)
}

fn read_input(file: &str) -> anyhow::Result<Vec<u8>> {
    if file == "-" {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .context("reading stdin")?;
        Ok(v)
    } else {
        std::fs::read(file).with_context(|| format!("reading {file}"))
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut target = Target::resolve(args.url.as_deref())?;
    if let Some(n) = args.chunk_size {
        anyhow::ensure!(n > 0, "--chunk-size must be positive");
        target.chunk_size = Some(n);
    }
    if let Cmd::Subscribe { channels, count } = &args.cmd {
        let chans: Vec<&[u8]> = channels.iter().map(|c| c.as_bytes()).collect();
        let mut sub = Subscription::open(&target, &chans)?;
        let mut out = std::io::stdout().lock();
        let mut seen = 0u64;
        while count.is_none_or(|c| seen < c) {
            if let Some(m) = sub.next(None)? {
                out.write_all(&m.channel)?;
                out.write_all(b"\t")?;
                out.write_all(&m.payload)?;
                out.write_all(b"\n")?;
                out.flush()?;
                seen += 1;
            }
        }
        return Ok(());
    }
    let mut c = Client::open(target)?;
    match args.cmd {
        Cmd::Ping => println!("{}", c.ping()?),
        Cmd::Put { key, file } => {
            let data = read_input(&file)?;
            let b = bar(data.len() as u64, "put");
            c.put_with(key.as_bytes(), &data, &mut |n| {
                if let Some(b) = &b {
                    b.set_position(n)
                }
            })?;
            if let Some(b) = b {
                b.finish();
            }
        }
        Cmd::Get { key, file } => {
            let info = c.info(key.as_bytes())?;
            let size = match info {
                respd_client::KeyInfo::Other { ref redis_type, .. } if redis_type != "string" => {
                    return Err(Error::WrongType {
                        key,
                        expected: "string".into(),
                        found: redis_type.clone(),
                    }
                    .into())
                }
                respd_client::KeyInfo::Array { size, .. }
                | respd_client::KeyInfo::Bundle { size, .. }
                | respd_client::KeyInfo::Chunked { size, .. }
                | respd_client::KeyInfo::Other { size, .. } => size,
            };
            let b = bar(size, "get");
            let data = c.get_with(key.as_bytes(), &mut |n| {
                if let Some(b) = &b {
                    b.set_position(n)
                }
            })?;
            if let Some(b) = b {
                b.finish();
            }
            if file == "-" {
                let mut out = std::io::stdout().lock();
                out.write_all(&data)?;
                out.flush()?;
            } else {
                std::fs::write(&file, &data).with_context(|| format!("writing {file}"))?;
            }
        }
        Cmd::Info { key } => println!("{}", c.info(key.as_bytes())?),
        Cmd::Ls { prefix } => {
            let mut out = std::io::stdout().lock();
            for k in c.list(prefix.as_bytes())? {
                out.write_all(&k)?;
                out.write_all(b"\n")?;
            }
        }
        Cmd::Rm { prefix, yes } => {
            let keys = c.list(prefix.as_bytes())?;
            if keys.is_empty() {
                eprintln!("no keys start with {prefix:?}");
                return Ok(());
            }
            if !yes {
                anyhow::ensure!(
                    std::io::stdin().is_terminal(),
                    "refusing to delete {} keys without --yes (stdin is not a terminal)",
                    keys.len()
                );
                eprint!(
                    "delete {} keys starting with {prefix:?}? [y/N] ",
                    keys.len()
                );
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    anyhow::bail!("not confirmed; nothing deleted");
                }
            }
            let n = c.delete_prefix(prefix.as_bytes())?;
            eprintln!("deleted {} keys ({n} including chunks)", keys.len());
        }
        Cmd::Publish { channel, file } => {
            let data = read_input(&file)?;
            let n = c.publish(channel.as_bytes(), &data)?;
            println!("{n}");
        }
        Cmd::Subscribe { .. } => unreachable!("handled above"),
    }
    Ok(())
}
