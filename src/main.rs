//! The `tributary` command line: wiring only, the daemon lives in the library.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tributary::{App, Config};

#[derive(Parser)]
#[command(
    version,
    about = "Polls feeds and a seeds folder, dedups by content, serves one merged feed"
)]
struct Cli {
    /// The configuration file; relative paths inside it resolve against its folder.
    #[arg(
        long,
        global = true,
        env = "TRIBUTARY_CONFIG",
        default_value = "config.yaml"
    )]
    config: PathBuf,
    /// Listen on this address instead of server.listen (e.g. 0.0.0.0:8080).
    #[arg(long, global = true, env = "TRIBUTARY_LISTEN")]
    listen: Option<SocketAddr>,
    /// Keep the SQLite store at this path instead of storage.path.
    #[arg(long, global = true, env = "TRIBUTARY_DATA")]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: poll every source on its schedule and serve the merged feeds (default).
    Serve,
    /// Validate the configuration and exit: 0 when valid, 1 with the error otherwise.
    Check,
    /// Poll every source and the seeds folder once, store, and exit: 0 unless every one failed.
    ///
    /// For cron jobs and scripts. With --out, the rendered feeds (feed.atom, feed.rss,
    /// feed.json, index.html) are also written into that folder for static hosting.
    Once {
        /// Write feed.atom, feed.rss, feed.json and index.html into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show what tributary takes from one feed document (a file or an http(s) URL).
    ///
    /// A URL is fetched exactly as the daemon fetches it. The config is used for its fetch
    /// settings when it can be read, and is not required.
    Parse {
        /// A file path or an http(s) URL.
        target: String,
        /// Print JSON: {feed: {...}, entries: [...]}, dates as RFC 3339 UTC, missing values null.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    if let Some(Command::Parse { target, json }) = &cli.command {
        return parse(&cli.config, target, *json);
    }
    let mut config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(listen) = cli.listen {
        config.listen = listen;
    }
    if let Some(data) = cli.data {
        config.storage_path = data;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Check => {
            println!(
                "{}: valid ({} sources{})",
                cli.config.display(),
                config.sources.len(),
                if config.seeds.is_some() {
                    " and a seeds folder"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Command::Serve => serve(config),
        Command::Once { out } => once(config, out.as_deref()),
        Command::Parse { .. } => unreachable!("handled before the config is required"),
    }
}

fn parse(config_path: &std::path::Path, target: &str, json: bool) -> ExitCode {
    let fetcher = match Config::load(config_path) {
        Ok(config) => tributary::fetch::Fetcher::new(&config.fetch, &config.feed.base_url),
        Err(_) => tributary::fetch::Fetcher::new(
            &tributary::config::FetchSettings::default(),
            tributary::config::DEFAULT_BASE_URL,
        ),
    };
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    match runtime.block_on(tributary::inspect::inspect(target, &fetcher, json)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    runtime.block_on(async {
        let running = match App::open(config).await {
            Ok(app) => app.start().await,
            Err(error) => Err(error),
        };
        let running = match running {
            Ok(running) => running,
            Err(error) => {
                tracing::error!("{error}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_stop_signal().await;
        tracing::info!("stopping: finishing open requests and closing the store");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

fn once(config: Config, out: Option<&std::path::Path>) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    runtime.block_on(async {
        let app = match App::open(config).await {
            Ok(app) => app,
            Err(error) => {
                tracing::error!("{error}");
                return ExitCode::FAILURE;
            }
        };
        let (succeeded, failed) = app.poll_everything_once().await;
        let mut code = if succeeded == 0 && failed > 0 {
            tracing::error!("every source failed ({failed})");
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
        if let Some(dir) = out {
            match app.write_documents(dir) {
                Ok(paths) => {
                    for path in paths {
                        println!("{}", path.display());
                    }
                }
                Err(error) => {
                    tracing::error!("cannot write the feeds into {}: {error}", dir.display());
                    code = ExitCode::FAILURE;
                }
            }
        }
        app.close().await;
        code
    })
}

/// Ctrl-C, or SIGTERM as sent by `docker stop` and service managers.
async fn wait_for_stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler can be installed");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
