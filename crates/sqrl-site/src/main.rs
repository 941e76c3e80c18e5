//! `sqrl-site`: a complete small website with SQRL login, on an embedded SQLite database.
//!
//! `cargo run --release -p sqrl-site` serves <http://127.0.0.1:8080> with `sqrl-site.sqlite`.
//!
//! Flags ([`args`]) → a checked [`SiteConfig`] ([`config`], no IO) → [`run`]: bind, open,
//! serve.

mod args;
mod backends;
mod client_check;
mod clients;
mod config;
mod h2;
mod health;
mod keys;
mod metrics;
mod pages;
mod serve;
mod stop;
mod tls;

use std::process::ExitCode;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;
use clap::Parser;
use sqrl_axum::{SqrlHttp, TimedStore};
use sqrl_server::{Config, Endpoint, SqrlServer};

use crate::args::Args;
use crate::config::{SiteConfig, TlsMode};
use sqrl_axum::Origin;

/// A line on standard output (where the addresses go; whoever reads them may stop reading,
/// which is no reason to stop serving).
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The plain-HTTP side of an HTTPS site: every request is sent to the same path at the
/// https:// origin.
fn redirect_app(origin: String) -> axum::Router {
    axum::Router::new().fallback(move |uri: Uri| {
        let origin = origin.clone();
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let location = HeaderValue::from_str(&format!("{origin}{path}"))
                .or_else(|_| HeaderValue::from_str(&format!("{origin}/")))
                .unwrap_or(HeaderValue::from_static("/"));
            (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, location)],
            )
                .into_response()
        }
    })
}

/// Waits for the next whole second and returns it (Unix seconds). Codes carry their issue
/// time in seconds: a process whose flows live in memory refuses the codes of earlier
/// processes, and starting on a fresh second keeps a code from the last second of the
/// previous process from passing for one of this process.
async fn first_whole_second() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let wait = Duration::from_secs(1)
        .saturating_sub(Duration::from_nanos(u64::from(since_epoch.subsec_nanos())));
    tokio::time::sleep(wait).await;
    since_epoch.as_secs().saturating_add(1)
}

/// The SQRL layers of the site: the decisions, the driver on the backends, the HTTP layer.
fn sqrl_layer(
    config: &SiteConfig,
    origin: &Origin,
    backends: &backends::Backends,
    keys: &keys::Keys,
    codes_not_before: u64,
) -> SqrlHttp {
    let mut server_config = Config::new(&origin.host_port);
    server_config.origin = origin.url.clone();
    server_config.lifetimes = config.lifetimes;
    server_config.ask = config.ask;
    server_config.codes_not_before = codes_not_before;
    let server = Endpoint::new(server_config, &keys.nut, &keys.browser);
    // Every store call is timed for the metrics (`sqrl_store_seconds`).
    let (store, latency) = TimedStore::new(backends.store.clone());
    let driver =
        SqrlServer::new(server, std::sync::Arc::new(store)).with_scan_rule(config.scan_rule);
    SqrlHttp::builder(backends.attach(driver))
        .settings(config.http.clone())
        .store_latency(latency)
        .on_login(|event| {
            tracing::info!(account = %event.account, ip = %event.ip, browser = %event.browser, cps = event.via_cps, "login");
        })
        .build()
}

/// Binds, opens the backends and serves until SIGTERM or Ctrl-C, then drains.
async fn run(config: SiteConfig) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let origin = config.origin.resolve(local)?;
    let mut notes = Vec::new();
    let tls_config = match &config.tls {
        TlsMode::Files { cert, key } => Some(tls::server_config(cert, key)?),
        TlsMode::SelfSigned(dir) => {
            let files = tls::local_ca(dir, &origin.host)?;
            notes.push(tls::trust_instructions(&files, &origin.url));
            Some(tls::server_config(&files.cert, &files.key)?)
        }
        TlsMode::Off => None,
    };
    let redirect_listener = match config.http_redirect_bind {
        Some(bind) => Some(
            tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|e| format!("cannot listen on {bind}: {e}"))?,
        ),
        None => None,
    };
    let metrics_listener = match config.metrics_bind {
        Some(bind) => Some(metrics::bind(bind).await?),
        None => None,
    };
    let backends = backends::open(&config.backends, config.lifetimes).await?;
    let keys = keys::load_or_create(&*backends.store, backends.sqlite_path.as_deref()).await?;
    let codes_not_before = if backends.flows_in_memory {
        first_whole_second().await
    } else {
        0
    };
    let sqrl = sqrl_layer(&config, &origin, &backends, &keys, codes_not_before);
    // Housekeeping: forget the flows whose every phase has ended.
    sqrl.spawn_housekeeping().map_err(|e| e.to_string())?;

    let check = config
        .check_clients
        .then(|| client_check::ClientCheck::new(sqrl.path()));
    let report = check.as_ref().map(|_| client_check::REPORT_PATH);
    let mut app = pages::router(sqrl.clone(), report)
        .merge(sqrl.router())
        .merge(health::router(sqrl.clone()));
    let provider = sqrl_axum::oidc::OidcProvider::new(sqrl.clone(), backends.oidc.clone())
        .await
        .map_err(|e| format!("cannot start the OpenID Connect provider: {e}"))?;
    provider.spawn_housekeeping().map_err(|e| e.to_string())?;
    app = app.merge(provider.router());
    if let Some(settings) = config.forward_auth.clone() {
        app = app.merge(sqrl_axum::forward_auth::ForwardAuth::new(sqrl.clone(), settings).router());
    }
    if let Some(check) = check {
        say(&format!(
            "sqrl-site grading SQRL clients: the report is at {}{}",
            origin.url,
            client_check::REPORT_PATH
        ));
        app = client_check::wrap(check, app);
    }
    // The descriptor limit is raised to the hard limit whether or not the cap is given.
    let fd_limit = serve::fd_limit();
    let limits = config.listener.limits(fd_limit);
    if limits.max_connections > serve::connections_that_fit(fd_limit) && fd_limit.is_some() {
        tracing::warn!(
            max_connections = limits.max_connections,
            fd_limit,
            "--max-connections leaves few file descriptors for the database and the log: \
             when they run out, accepting waits until connections close"
        );
    }
    let caps = serve::Caps::new(limits.clone());
    let scheme = if config.tls.is_on() { "https" } else { "http" };
    say(&format!(
        "sqrl-site listening on {scheme}://{local}  (public origin {}, {})",
        origin.url, backends.describe
    ));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let redirect = match redirect_listener {
        Some(listener) => {
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            say(&format!(
                "sqrl-site redirecting http://{bound} to {}",
                origin.url
            ));
            let site = serve::Site {
                app: redirect_app(origin.url.clone()),
                tls: None,
                caps: caps.clone(),
            };
            Some(tokio::spawn(serve::serve(
                listener,
                site,
                shutdown.clone(),
                config.shutdown_timeout,
            )))
        }
        None => None,
    };
    if let Some(listener) = metrics_listener {
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        say(&format!("sqrl-site metrics on http://{bound}/metrics"));
        tokio::spawn(metrics::serve(listener, sqrl.clone(), shutdown.clone()));
    }
    for note in notes {
        say(&note);
    }
    tracing::info!(
        max_connections = limits.max_connections,
        max_connections_per_client = limits.max_per_client,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        body_timeout_s = limits.body_timeout.as_secs_f64(),
        "serving"
    );
    let grace = config.shutdown_timeout;
    let draining = sqrl.clone();
    tokio::spawn(async move {
        let signal = stop::signal().await;
        tracing::info!(
            signal,
            shutdown_timeout_s = grace.as_secs_f64(),
            "stopping: no new connections, status streams told to reconnect, \
             requests in flight finishing"
        );
        draining.drain();
        let _ = stop.send(true);
    });
    let site = serve::Site {
        app,
        tls: tls_config.map(tokio_rustls::TlsAcceptor::from),
        caps,
    };
    let mut finished = serve::serve(listener, site, shutdown, grace).await;
    if let Some(redirect) = redirect {
        finished &= redirect.await.unwrap_or(false);
    }
    if finished {
        tracing::info!("stopped: every request finished");
    } else {
        tracing::warn!(
            shutdown_timeout_s = grace.as_secs_f64(),
            "stopped with connections still open after --shutdown-timeout"
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if let Some(command) = args.command.take() {
        return match clients::run(command, &args.database) {
            Ok(out) => {
                say(&out);
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("sqrl-site: {message}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match SiteConfig::from_args(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("sqrl-site: {message}");
            return ExitCode::FAILURE;
        }
    };
    // RUST_LOG picks what is logged (e.g. `RUST_LOG=debug`, `RUST_LOG=sqrl_server=debug`);
    // without it, info and above.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a terminal only: escape codes make a log file hard to read and grep.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sqrl-site: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The site runs as a task on the workers, not on this thread: the accept loop then wakes
    // no second thread for every connection.
    let site = runtime.block_on(async {
        tokio::spawn(run(config))
            .await
            .unwrap_or_else(|e| Err(format!("stopped: {e}")))
    });
    match site {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sqrl-site: {message}");
            ExitCode::FAILURE
        }
    }
}
