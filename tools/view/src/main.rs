//! respd-view: serve the web view of a respd or Redis server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use respd_client::Target;
use respd_view::Store;

/// A web page showing the arrays, images, histograms and keys a respd or Redis server holds.
#[derive(Parser, Debug)]
#[command(name = "respd-view", version)]
struct Args {
    /// Server URL (`redis://[:password@]host:port/db`, `rediss://` for TLS); default:
    /// RESPD_URL, else the client config file, else redis://127.0.0.1:6379.
    #[arg(long)]
    url: Option<String>,
    /// Address the page is served on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Refuse to read values larger than this many bytes.
    #[arg(long, default_value_t = 1 << 30)]
    max_bytes: u64,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print a shell completion script (bash, zsh, fish) or the man page (man).
    Generate {
        /// bash, zsh, fish or man.
        what: String,
    },
}

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
            clap_complete::generate(shell, &mut cmd, "respd-view", out);
        }
    }
    Ok(())
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let target = Target::resolve(args.url.as_deref())?;
    let shown = respd_view::web::masked(&target.nodes.join(","));
    let store = Arc::new(Store::new(target, args.max_bytes));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to learn the port of --listen 127.0.0.1:0.
    println!("respd-view: http://{addr}/ showing {shown}");
    tracing::info!(%addr, server = %shown, "serving");
    axum::serve(listener, respd_view::web::router(store))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let r = match &args.cmd {
        Some(Cmd::Generate { what }) => generate(what),
        None => tokio::runtime::Runtime::new()
            .context("starting the runtime")
            .and_then(|rt| rt.block_on(serve(args))),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("respd-view: {e:#}");
            ExitCode::FAILURE
        }
    }
}
