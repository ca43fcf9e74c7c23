//! The command line's commands, one function each, returning the process's exit code: `serve`
//! (the daemon), `check`, `once`, `healthcheck`, and the reports `parse`, `extract`,
//! `suggest` and `sources`. The binary parses arguments and calls one of these; it holds no logic of its
//! own.

pub mod extract;
pub mod parse;
pub mod sources;
pub mod suggest;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use url::Url;

use crate::App;
use crate::app::SHUTDOWN_GRACE;
use crate::config::{self, Config, FetchSettings, Overrides};
use crate::fetch::{FetchError, FetchOutcome, Fetcher, SourceHeaders, Validators};
use crate::parse::WebSubLinks;

/// How long `healthcheck` waits for the daemon's answer.
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the daemon until SIGTERM or Ctrl-C, then stops it cleanly.
pub async fn serve(config: Config, overrides: Overrides) -> ExitCode {
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
        SHUTDOWN_GRACE.as_secs()
    );
    running.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Says that the config at `path` is valid, and what it configures.
pub fn check(path: &Path, config: &Config) -> ExitCode {
    println!(
        "{}: valid ({} sources{})",
        path.display(),
        config.sources().len(),
        if config.seeds.is_some() {
            " and a seeds folder"
        } else {
            ""
        }
    );
    ExitCode::SUCCESS
}

/// Polls every source and the seeds folder once and stores what they hold; with `out`, writes
/// the rendered feeds there too. Fails when every source failed.
pub async fn once(config: Config, overrides: Overrides, out: Option<&Path>) -> ExitCode {
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
}

/// Asks the running daemon's /healthz, at the address `overrides` or the config at
/// `config_path` give (the default one when neither does), for container health checks.
pub async fn healthcheck(config_path: &Path, overrides: &Overrides) -> ExitCode {
    let listen = overrides.listen.unwrap_or_else(|| {
        Config::load(config_path).map_or_else(|_| config::default_listen(), |c| c.listen)
    });
    let url = format!("http://{}/healthz", reachable(listen));
    let answer = async {
        reqwest::Client::builder()
            .timeout(HEALTHCHECK_TIMEOUT)
            .build()?
            .get(&url)
            .send()
            .await
    };
    match answer.await {
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

/// Where the daemon listening on `listen` is reached from this machine: an unspecified address
/// (0.0.0.0, ::) means this machine.
fn reachable(listen: SocketAddr) -> String {
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => "[::1]".to_string(),
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        ip if ip.is_ipv6() => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("{host}:{}", listen.port())
}

/// Ctrl-C, or SIGTERM as sent by `docker stop` and service managers, listened for from this
/// call on: the future completes at the first. Call it before the daemon starts polling: until
/// a handler is installed SIGTERM kills the process outright, cutting off the polls under way.
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
    match std::io::stdout().lock().write_all(report.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot write the report to standard output: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a report, or the error that kept it from being made.
/// The fetcher the config at `config_path` sets up, or the default one when it cannot be read:
/// the reports that fetch work without a config.
fn fetcher_for(config_path: &Path) -> Fetcher {
    match Config::load(config_path) {
        Ok(config) => Fetcher::new(&config.fetch, &config.feed.base_url),
        Err(_) => Fetcher::new(&FetchSettings::default(), config::DEFAULT_BASE_URL),
    }
}

/// A document named on the command line, as bytes with where they came from.
struct Loaded {
    bytes: Vec<u8>,
    content_type: Option<String>,
    /// Where relative links resolve: the URL after redirects, or the file's `file:` URL.
    url: Url,
    /// The WebSub hubs and self URL the response's `Link` header names (a file has none).
    links: WebSubLinks,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read it: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{url}: {source}")]
    Fetch { url: String, source: FetchError },
}

/// Fetches `target` exactly as the daemon fetches a source, unconditionally, when it is an
/// http(s) URL; reads it as if served without a Content-Type when it is a file.
async fn load(target: &str, fetcher: &Fetcher) -> Result<Loaded, LoadError> {
    let Some(url) = web_url(target) else {
        let path = Path::new(target);
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: target.to_string(),
            source,
        })?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let url = Url::from_file_path(&absolute)
            .unwrap_or_else(|()| Url::parse("file:///").expect("a valid URL"));
        return Ok(Loaded {
            bytes,
            content_type: None,
            url,
            links: WebSubLinks::default(),
        });
    };
    let fetch_error = |source| LoadError::Fetch {
        url: target.to_string(),
        source,
    };
    let fetched = fetcher
        .fetch(&url, &Validators::default(), SourceHeaders::NONE)
        .await
        .map_err(fetch_error)?;
    match fetched {
        FetchOutcome::Fetched(fetched) => Ok(Loaded {
            links: WebSubLinks::from_headers(&fetched.links, &fetched.final_url),
            bytes: fetched.body,
            content_type: fetched.content_type,
            url: fetched.final_url,
        }),
        // Only a confused server answers 304 to an unconditional request.
        FetchOutcome::NotModified => Err(fetch_error(FetchError::Status {
            status: reqwest::StatusCode::NOT_MODIFIED,
            retry_after: None,
        })),
    }
}

/// `target` as an http(s) URL; `None` for anything else (a file path).
fn web_url(target: &str) -> Option<Url> {
    Url::parse(target)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
}

fn print_or_fail(report: Result<String, impl std::fmt::Display>) -> ExitCode {
    match report {
        Ok(report) => print_report(&report),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
