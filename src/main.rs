//! The `tributary` command line: arguments and logging only; the commands live in the
//! library's `cli` module, the daemon in `app`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tributary::config::Overrides;
use tributary::{Config, cli};

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
    /// Show what the article extractor (full_text) takes from one web page (a file or an
    /// http(s) URL): its title and text.
    ///
    /// A URL is fetched as the daemon fetches article links, with the address rule of
    /// fetch.allow_private_addresses. The config is used for its fetch settings when it can be
    /// read, and is not required.
    Extract {
        /// A file path or an http(s) URL.
        target: String,
        /// The page's address, for a file: its relative links are resolved against it.
        #[arg(long)]
        url: Option<String>,
        /// Print JSON: {title, text, html, url}; text is plain, paragraphs separated by blank
        /// lines; html is sanitized, with absolute links.
        #[arg(long)]
        json: bool,
    },
    /// Propose html: (or json:) recipes for a page without a feed (a file or an http(s) URL):
    /// the best three, ready to paste into config.yaml, each with its first entries.
    ///
    /// A URL is fetched exactly as the daemon fetches a source. The config is used for its
    /// fetch settings when it can be read, and is not required.
    Suggest {
        /// A file path or an http(s) URL.
        target: String,
        /// Print JSON: [{kind, recipe: [[field, selector]], items, preview: [...]}].
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
        storage_path: cli.data,
        storage_url: cli.database_url,
        base_url: cli.base_url,
    };
    let command = cli.command.unwrap_or(Command::Serve);
    let runtime = tokio::runtime::Runtime::new().expect("the tokio runtime starts");
    runtime.block_on(run(command, &cli.config, overrides))
}

async fn run(command: Command, config_path: &Path, overrides: Overrides) -> ExitCode {
    // These work without a valid config.
    match &command {
        Command::Parse { target, json } => {
            return cli::parse::run(config_path, target, *json).await;
        }
        Command::Extract { target, url, json } => {
            return cli::extract::run(config_path, target, url.as_deref(), *json).await;
        }
        Command::Suggest { target, json } => {
            return cli::suggest::run(config_path, target, *json).await;
        }
        Command::Healthcheck => return cli::healthcheck(config_path, &overrides).await,
        _ => {}
    }
    let config = match Config::load_with(config_path, &overrides) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Check => cli::check(config_path, &config),
        Command::Serve => cli::serve(config, overrides).await,
        Command::Sources => cli::sources::run(&config).await,
        Command::Once { out } => cli::once(config, overrides, out.as_deref()).await,
        Command::Parse { .. }
        | Command::Extract { .. }
        | Command::Suggest { .. }
        | Command::Healthcheck => {
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
