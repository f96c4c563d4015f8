//! respd-cli: site data in and out of respd (or Redis) from a shell.
//!
//! Exit codes: 0 success (also on a closed stdout pipe), 1 other errors, 2 usage, 3 key not found,
//! 4 wrong type, 5 connection.

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
    about = "Store and fetch site data (files, NumPy arrays) in respd or Redis",
    // -h is the host, as in redis-cli; help stays on --help.
    disable_help_flag = true,
    after_help = "Where to connect: -u/--url, else RESPD_URL, else the site config file \
(RESPD_CONFIG), else redis://127.0.0.1:6379; -h, -p, -n, -a and --user then replace those \
parts, as redis-cli's flags do. The password may also come from REDISCLI_AUTH.\n\n\
Exit codes: 0 success (also when the reader of stdout goes away), 1 other errors, 2 usage, \
3 key not found, 4 wrong type, 5 connection."
)]
struct Args {
    /// Server URL (redis://[user:pass@]host:port/db, rediss://, or a comma-separated cluster list).
    #[arg(short = 'u', long, global = true, value_name = "URL")]
    url: Option<String>,
    /// Server host name (as redis-cli -h).
    #[arg(short = 'h', long, global = true)]
    host: Option<String>,
    /// Server port (as redis-cli -p).
    #[arg(short = 'p', long, global = true)]
    port: Option<u16>,
    /// Database number (as redis-cli -n).
    #[arg(short = 'n', long = "db", global = true, value_name = "DB")]
    db: Option<u32>,
    /// Password (as redis-cli -a; REDISCLI_AUTH is read when it is not given).
    #[arg(short = 'a', long = "pass", global = true, value_name = "PASSWORD")]
    pass: Option<String>,
    /// ACL user name (as redis-cli --user).
    #[arg(long, global = true)]
    user: Option<String>,
    /// Split values above this many bytes (default: the server's proto-max-bulk-len).
    #[arg(long, global = true, value_name = "BYTES")]
    chunk_size: Option<usize>,
    /// Print help.
    #[arg(long, global = true, action = clap::ArgAction::Help)]
    help: Option<bool>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check the server answers: prints PONG.
    Ping,
    /// Store a file's bytes (`-` for stdin) at KEY, chunked above the server's limit.
    Put {
        /// The key to store at.
        key: String,
        /// The file to read, `-` for stdin.
        file: String,
        /// Expire the value after this many seconds.
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
    },
    /// Write the bytes at KEY to a file (`-` for stdout), byte-exact.
    Get {
        /// The key to read.
        key: String,
        /// The file to write, `-` for stdout.
        file: String,
    },
    /// Say what KEY holds (dtype and shape for a .npy value).
    Info {
        /// The key to describe.
        key: String,
    },
    /// List the keys starting with PREFIX.
    Ls {
        /// The prefix (taken literally: glob characters match themselves).
        prefix: String,
    },
    /// Delete every key starting with PREFIX.
    Rm {
        /// The prefix (taken literally: glob characters match themselves).
        prefix: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Publish a file's bytes (`-` for stdin) on CHANNEL.
    Publish {
        /// The channel.
        channel: String,
        /// The file to read, `-` for stdin.
        file: String,
    },
    /// Write a shell completion script or the man page to stdout (the RPM installs them).
    #[command(hide = true)]
    Generate {
        /// bash, zsh, fish or man.
        what: String,
    },
    /// Print messages from CHANNELs as `channel<TAB>payload` lines.
    Subscribe {
        /// The channels to listen on.
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
        // `get KEY - | head`: the reader went away; nothing is wrong on our side.
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("respd-cli: error: {e:#}");
            let code = match e.downcast_ref::<Error>() {
                Some(Error::NotFound(_)) => 3,
                Some(Error::WrongType { .. }) => 4,
                Some(Error::Connection { .. }) => 5,
                _ => 1,
            };
            ExitCode::from(code)
        }
    }
}

fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The target: URL, RESPD_URL, site file or default, then redis-cli's flags over its parts.
fn target(args: &Args) -> anyhow::Result<Target> {
    let pass = args.pass.clone().or_else(|| {
        std::env::var("REDISCLI_AUTH")
            .ok()
            .filter(|p| !p.is_empty())
    });
    let flags = args.host.is_some()
        || args.port.is_some()
        || args.db.is_some()
        || pass.is_some()
        || args.user.is_some();
    let mut target = if args.url.is_none() && (args.host.is_some() || args.port.is_some()) {
        let host = args.host.as_deref().unwrap_or("127.0.0.1");
        Target::from_url(&format!("redis://{host}:{}", args.port.unwrap_or(6379)))?
    } else {
        Target::resolve(args.url.as_deref())?
    };
    if flags {
        for n in &mut target.nodes {
            *n = url_with(
                n,
                args.host.as_deref(),
                args.port,
                args.db,
                args.user.as_deref(),
                pass.as_deref(),
            );
        }
        // Check the result parses as the library will.
        target.nodes = Target::from_url(&target.nodes.join(","))?.nodes;
    }
    if let Some(n) = args.chunk_size {
        anyhow::ensure!(n > 0, "--chunk-size must be positive");
        target.chunk_size = Some(n);
    }
    Ok(target)
}

/// `url` with the given parts replaced (`scheme://[user[:pass]@]host:port[/db][?query]`).
fn url_with(
    url: &str,
    host: Option<&str>,
    port: Option<u16>,
    db: Option<u32>,
    user: Option<&str>,
    pass: Option<&str>,
) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let (auth, rest) = rest
        .rsplit_once('@')
        .map_or((None, rest), |(a, r)| (Some(a), r));
    let (rest, query) = rest
        .split_once('?')
        .map_or((rest, None), |(r, q)| (r, Some(q)));
    let (hostport, path) = rest
        .split_once('/')
        .map_or((rest, None), |(h, p)| (h, Some(p)));
    let (old_host, old_port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, Some(p)),
        _ => (hostport, None),
    };
    let (old_user, old_pass) = match auth {
        Some(a) => a
            .split_once(':')
            .map_or((Some(a), None), |(u, p)| (Some(u), Some(p))),
        None => (None, None),
    };
    let user = user
        .map(enc)
        .or(old_user.map(str::to_string))
        .filter(|u| !u.is_empty());
    let pass = pass.map(enc).or(old_pass.map(str::to_string));
    let mut out = format!("{scheme}://");
    match (user, pass) {
        (Some(u), Some(p)) => out.push_str(&format!("{u}:{p}@")),
        (None, Some(p)) => out.push_str(&format!(":{p}@")),
        (Some(u), None) => out.push_str(&format!("{u}@")),
        (None, None) => {}
    }
    out.push_str(host.unwrap_or(old_host));
    match (port, old_port) {
        (Some(p), _) => out.push_str(&format!(":{p}")),
        (None, Some(p)) => out.push_str(&format!(":{p}")),
        (None, None) => {}
    }
    match (db, path) {
        (Some(d), _) => out.push_str(&format!("/{d}")),
        (None, Some(p)) if !p.is_empty() => out.push_str(&format!("/{p}")),
        _ => {}
    }
    if let Some(q) = query {
        out.push_str(&format!("?{q}"));
    }
    out
}

/// Percent-encodes what may not stand in a URL's user or password part.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

/// A completion script or the man page, from the clap definition.
fn generate(what: &str) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let mut cmd = Args::command();
    let out = &mut std::io::stdout();
    match what {
        "man" => clap_mangen::Man::new(cmd).render(out)?,
        shell => {
            let shell: clap_complete::Shell = shell
                .parse()
                .map_err(|_| anyhow::anyhow!("generate: bash, zsh, fish or man, not {shell}"))?;
            clap_complete::generate(shell, &mut cmd, "respd-cli", out);
        }
    }
    Ok(())
}

fn run(args: Args) -> anyhow::Result<()> {
    if let Cmd::Generate { what } = &args.cmd {
        return generate(what);
    }
    let target = target(&args)?;
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
        Cmd::Put { key, file, ttl } => {
            let data = read_input(&file)?;
            let b = bar(data.len() as u64, "put");
            let ttl = ttl.map(std::time::Duration::from_secs);
            c.put_expiring(key.as_bytes(), &data, ttl, &mut |n| {
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
        Cmd::Subscribe { .. } | Cmd::Generate { .. } => unreachable!("handled above"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::url_with;

    #[test]
    fn redis_cli_flags_replace_url_parts() {
        let u = "redis://old:pw@10.0.0.1:6380/3?protocol=resp3";
        assert_eq!(url_with(u, None, None, None, None, None), u);
        assert_eq!(
            url_with(u, Some("h"), Some(7000), Some(5), None, None),
            "redis://old:pw@h:7000/5?protocol=resp3"
        );
        assert_eq!(
            url_with(
                "redis://127.0.0.1:6379",
                None,
                None,
                None,
                Some("ann"),
                Some("p@ss w")
            ),
            "redis://ann:p%40ss%20w@127.0.0.1:6379"
        );
        assert_eq!(
            url_with(
                "redis://127.0.0.1:6379/0",
                None,
                None,
                Some(2),
                None,
                Some("x")
            ),
            "redis://:x@127.0.0.1:6379/2"
        );
        assert_eq!(
            url_with("rediss://[::1]:6379", None, Some(1), None, None, None),
            "rediss://[::1]:1"
        );
    }
}
