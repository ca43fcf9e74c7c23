//! The `tributary` command line: wiring only, the daemon lives in the library.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use tributary::config::Overrides;
use tributary::{App, Config};

#[derive(Parser)]
#[command(
    version,
    about = "Polls feeds and a seeds folder, dedups by content, serves one merged feed",
    after_help = "Edits of the config file apply while the daemon runs (also on SIGHUP); \
                  SIGTERM or Ctrl-C stop it cleanly. RUST_LOG filters the log, e.g. \
                  RUST_LOG=tributary=debug."
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
    /// Keep the store in this PostgreSQL database instead (storage.url), e.g.
    /// postgres://user:password@host:5432/tributary; several replicas may share it.
    #[arg(long, global = true, env = "TRIBUTARY_DATABASE_URL")]
    database_url: Option<String>,
    /// The URL readers reach the daemon at, instead of feed.base_url.
    #[arg(long, global = true, env = "TRIBUTARY_BASE_URL")]
    base_url: Option<String>,
    /// Log lines for people (text) or for log collectors (json, one object per line).
    #[arg(
        long,
        global = true,
        env = "TRIBUTARY_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: poll every source on its schedule and serve the merged feeds (default).
    Serve,
    /// Validate the configuration and exit: 0 when valid, 1 with the error otherwise.
    Check,
    /// List the configured sources with what the store remembers of each.
    Sources,
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
    /// Ask the running daemon's /healthz: exit 0 when it answers 200 within 5 seconds, 1
    /// otherwise. For container health checks, where there is no curl.
    Healthcheck,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);

    let overrides = Overrides {
        listen: cli.listen,
        storage_path: cli.data.clone(),
        storage_url: cli.database_url.clone(),
        base_url: cli.base_url.clone(),
    };
    let command = cli.command.unwrap_or(Command::Serve);
    match &command {
        Command::Parse { target, json } => return parse(&cli.config, target, *json),
        Command::Healthcheck => return healthcheck(&cli.config, &overrides),
        _ => {}
    }
    let config = match Config::load_with(&cli.config, &overrides) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Check => {
            println!(
                "{}: valid ({} sources{})",
                cli.config.display(),
                config.sources().len(),
                if config.seeds.is_some() {
                    " and a seeds folder"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Command::Serve => serve(config, overrides),
        Command::Sources => sources(config),
        Command::Once { out } => once(config, overrides, out.as_deref()),
        Command::Parse { .. } | Command::Healthcheck => {
            unreachable!("handled before the config is required")
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn parse(config_path: &Path, target: &str, json: bool) -> ExitCode {
    let fetcher = match Config::load(config_path) {
        Ok(config) => tributary::fetch::Fetcher::new(&config.fetch, &config.feed.base_url),
        Err(_) => tributary::fetch::Fetcher::new(
            &tributary::config::FetchSettings::default(),
            tributary::config::DEFAULT_BASE_URL,
        ),
    };
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    match runtime.block_on(tributary::inspect::inspect(target, &fetcher, json)) {
        Ok(report) => print_report(&format!("{report}\n")),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config, overrides: Overrides) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    runtime.block_on(async {
        let stopped = stop_signal();
        let running = match App::open(config, overrides).await {
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
        stopped.await;
        tracing::info!(
            "stopping: letting polls under way finish (at most {}s), then closing the store",
            tributary::app::SHUTDOWN_GRACE.as_secs()
        );
        running.shutdown().await;
        tracing::info!("stopped");
        ExitCode::SUCCESS
    })
}

fn sources(config: Config) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    runtime.block_on(async {
        // A listing makes no store: before the first poll there is nothing in one to show.
        let report = if config.storage_url.is_none() && !config.storage_path.exists() {
            eprintln!(
                "note: no store at {} yet: nothing has been polled",
                config.storage_path.display()
            );
            tributary::listing::sources_report(&config, None).await
        } else {
            let policy = tributary::store::Policy::default();
            match tributary::store::Store::open_configured(&config, policy).await {
                Ok(store) => {
                    let report = tributary::listing::sources_report(&config, Some(&store)).await;
                    store.close().await;
                    report
                }
                Err(error) => Err(error),
            }
        };
        match report {
            Ok(report) => print_report(&report),
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Where the daemon listens, as a client reaches it: an unspecified address (0.0.0.0) means
/// this machine.
fn healthcheck(config_path: &Path, overrides: &Overrides) -> ExitCode {
    let listen = overrides.listen.unwrap_or_else(|| {
        Config::load(config_path).map_or_else(|_| tributary::config::default_listen(), |c| c.listen)
    });
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => "[::1]".to_string(),
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        ip if ip.is_ipv6() => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let url = format!("http://{host}:{}/healthz", listen.port());
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    let answer = runtime.block_on(async {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?
            .get(&url)
            .send()
            .await
    });
    match answer {
        Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
        Ok(response) => {
            eprintln!("{url}: {}", response.status());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{url}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn once(config: Config, overrides: Overrides, out: Option<&Path>) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    runtime.block_on(async {
        let app = match App::open(config, overrides).await {
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

/// Ctrl-C, or SIGTERM as sent by `docker stop` and service managers, listened for from this
/// call on: the future completes at the first. Call it before the daemon starts polling: until
/// a handler is installed SIGTERM kills the process outright, and a stop in the first moments
/// cut off the polls under way (a CI run of `sigterm_during_a_poll_lets_it_finish…` did).
fn stop_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).expect("a SIGINT handler installs");
        let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler installs");
        async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes a report to standard output. A reader that stops early (`| head`) closes the pipe:
/// that ends the report, quietly; any other failure to write is an error.
fn print_report(report: &str) -> ExitCode {
    use std::io::Write;
    match std::io::stdout().lock().write_all(report.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot write the report to standard output: {error}");
            ExitCode::FAILURE
        }
    }
}
