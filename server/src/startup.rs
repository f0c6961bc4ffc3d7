//! Builds the application from its configuration and runs it.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use app::{modules::admin::OpsService, shell, App, Shell};
use axum::{
    body::Body,
    extract::{Request, State},
    http::StatusCode,
    response::Response,
    Router,
};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::{net::TcpListener, sync::watch};
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer};

use crate::{
    config::{Config, ConfigError, DeepseekMode},
    cross_site,
    db::{self, Database, DbError},
    db_writer::{self, DbWriter, WriteError},
    deepseek_sandbox::{self, DeepseekSandbox},
    error_page, health,
    notify::Listener,
    ops::{events::CountsStore, OpsEvents, OpsPage},
    page_cache::{self, PageCache},
    sandbox::{self, Sandbox, SandboxConfig},
    security_headers, serve,
    state::{AppState, Shared, Shutdown},
    static_files::{self, Site, SiteError, StaticFiles},
    telemetry,
    wechat_login::{
        self,
        hub::{LoginHub, MemoryHub},
        push::Rules,
        rate_limit::StartLimits,
        session_cache::SessionCache,
        store::{LoginStore, Stores},
        streams::StreamLimits,
        wechat_link::{local_url, LinkError, WechatLink},
    },
    writing::{self, Writing, WritingService, WritingStartError},
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("the theme is broken: {0}")]
    Theme(#[from] app::theme::load::LoadError),
    #[error("database: {0}")]
    Database(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Wechat(#[from] LinkError),
    #[error("cannot listen for the other server processes' notifications on PostgreSQL: {0}")]
    Listen(sqlx::Error),
    #[error("DATABASE_URL must name a database file (an in-memory database cannot be shared)")]
    InMemoryDatabase,
    #[error("cannot open the database for the database writer: {0}")]
    Writer(#[from] WriteError),
    #[error("writing: {0}")]
    Writing(#[from] WritingStartError),
    #[error("{0}")]
    StaticFiles(#[from] SiteError),
}

/// A server bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    stop: watch::Sender<bool>,
    login: Arc<dyn LoginStore>,
    /// SQLite's group-commit writer; none on PostgreSQL.
    db_writer: Option<Arc<DbWriter>>,
    writing: Option<Arc<Writing>>,
    /// Writes the operator page's counts; ends after its last write once
    /// the server stops.
    ops_writer: tokio::task::JoinHandle<()>,
    header_read_timeout: Duration,
}

/// How long a stopping server waits for running generations to store
/// their end (each marks itself interrupted, keeping its text).
const GENERATIONS_STOP_WAIT: Duration = Duration::from_secs(10);

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        // One line that says which WeChat runs, before anything else.
        match config.wechat.mode() {
            (true, line) => tracing::warn!("{line}"),
            (false, line) => tracing::info!("{line}"),
        }
        let mut theme = app::theme::load::load(&config.theme_dir)?;
        theme.layout.sandbox = config.wechat.sandbox;
        theme.layout.deepseek_sandbox = config.deepseek.is_sandbox();
        theme.layout.wechat_oauth = config.login.wechat_oauth;

        let database = db::open(&config.database_url, config.database_max_connections).await?;

        let site = Site::load(&config.leptos)?;
        if site.files.is_empty() {
            tracing::warn!(source = %site.source, "no static files: pages will not hydrate (build with cargo leptos)");
        } else {
            tracing::info!(source = %site.source, files = site.files.len(), "static files");
            for url in site.missing_links() {
                tracing::warn!(%url, source = %site.source, "pages link a file that is not among the static files: they will not hydrate (a site folder from another build?)");
            }
        }

        let addr = config.leptos.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;

        let wechat = WechatLink::new(&config.wechat, address, database.clone())?;
        let sandbox = config.wechat.sandbox.then(|| {
            let site_url = local_url(address);
            Sandbox::new(SandboxConfig {
                appid: config.wechat.appid.clone(),
                secret: config.wechat.secret.clone(),
                token: config.wechat.token.clone(),
                encoding_aes_key: config.wechat.encoding_aes_key.clone(),
                callback_url: format!("{site_url}/wechat/callback"),
                site_url,
            })
        });

        let deepseek_sandbox = match config.deepseek.mode {
            DeepseekMode::Sandbox { tokens_per_second } => {
                Some(Arc::new(DeepseekSandbox::new(tokens_per_second)))
            }
            _ => None,
        };
        if config.deepseek.is_configured() {
            tracing::info!("writing: {}", config.deepseek.mode.describe());
        } else {
            tracing::warn!(
                "writing is not configured: set DEEPSEEK_API_KEY (or DEEPSEEK_SANDBOX=1 to try the site without a key); the rest of the site runs"
            );
        }

        let (stop, shutdown) = Shutdown::new();
        let hub: Arc<dyn LoginHub> = Arc::new(MemoryHub::new());
        let sessions = Arc::new(SessionCache::new(config.login.session_cache));
        let rules = Rules {
            site: theme.layout.site.name.clone(),
            confirm_mode: config.login.confirm_mode,
        };
        let login = &config.login;
        let streams_max = streams_within_file_limit(login.streams_max);
        let ops = Arc::new(OpsEvents::new());
        let (stores, db_writer, ops_writer, writing) = match &database {
            Database::Sqlite(db) => {
                let db_file = db::file_of(db).ok_or(StartupError::InMemoryDatabase)?;
                let db_writer = Arc::new(DbWriter::spawn(&db_file, db_writer::BUSY_TIMEOUT)?);
                let stores = Stores::sqlite(db.clone(), db_writer.clone(), hub.clone(), rules);
                let ops_writer = ops
                    .clone()
                    .spawn_writer(CountsStore::Sqlite(db_writer.clone()), shutdown.clone());
                let writing = Writing::start(
                    &config,
                    &local_url(address),
                    writing::Backend::Sqlite {
                        db: db.clone(),
                        writer: db_writer.clone(),
                    },
                    shutdown.clone(),
                    streams_max,
                    ops.clone(),
                )
                .await?;
                (stores, Some(db_writer), ops_writer, writing)
            }
            Database::Postgres(pool) => {
                // One connection hears what every server process changed.
                let listener = Listener::start(pool, shutdown.clone())
                    .await
                    .map_err(StartupError::Listen)?;
                let stores = Stores::postgres(
                    pool.clone(),
                    &listener,
                    hub.clone(),
                    sessions.clone(),
                    rules,
                    shutdown.clone(),
                );
                let ops_writer = ops
                    .clone()
                    .spawn_writer(CountsStore::Postgres(pool.clone()), shutdown.clone());
                let writing = Writing::start(
                    &config,
                    &local_url(address),
                    writing::Backend::Postgres {
                        db: pool.clone(),
                        listener,
                    },
                    shutdown.clone(),
                    streams_max,
                    ops.clone(),
                )
                .await?;
                (stores, None, ops_writer, writing)
            }
        };
        wechat_login::cleanup::spawn(stores.login.clone(), shutdown.clone());
        let state = AppState::new(Shared {
            hub,
            login: stores.login.clone(),
            session_store: stores.sessions,
            start_limits: Arc::new(StartLimits::new(
                login.start_per_minute,
                login.start_site_per_minute,
            )),
            stream_limits: Arc::new(StreamLimits::new(
                login.streams_per_attempt,
                login.streams_per_address,
                streams_max,
            )),
            writing: writing.clone(),
            ops,
            wechat: Arc::new(wechat),
            leptos: config.leptos.clone(),
            shell: Shell::new(&config.leptos, site.assets),
            config: Arc::new(config),
            database,
            theme: Arc::new(theme),
            shutdown,
            sessions,
        });
        let header_read_timeout = state.config.http.header_read_timeout;
        let router = router(
            state,
            Arc::new(site.files),
            sandbox.map(Arc::new),
            deepseek_sandbox,
        );
        Ok(Self {
            listener,
            address,
            router,
            stop,
            login: stores.login,
            db_writer,
            writing,
            ops_writer,
            header_read_timeout,
        })
    }

    /// Where the server listens (the real port when configured with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The login's store (tests stop SQLite's writer to see `/healthz`
    /// fail).
    pub fn writer(&self) -> Arc<dyn LoginStore> {
        self.login.clone()
    }

    /// SQLite's database writer (benchmarks read its counts); none on
    /// PostgreSQL.
    pub fn db_writer(&self) -> Option<Arc<DbWriter>> {
        self.db_writer.clone()
    }

    /// Runs until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Runs until `signal` resolves, then lets open requests finish.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = self.stop;
        serve::serve(
            self.listener,
            self.router,
            self.header_read_timeout,
            signal,
            move || {
                // Event streams and background tasks end now.
                let _ = stop.send(true);
            },
        )
        .await?;
        // Running generations store their end (interrupted, with their
        // text), then whatever is still queued is written before the
        // process ends.
        if let Some(writing) = &self.writing {
            if !writing.wait_idle(GENERATIONS_STOP_WAIT).await {
                tracing::warn!("writing: some generations did not store their end in time; the next start marks them interrupted");
            }
        }
        // The operator page's last counts (its task saw the stop too).
        let _ = self.ops_writer.await;
        if let Some(db_writer) = &self.db_writer {
            db_writer.stop().await;
        }
        Ok(())
    }
}

/// The largest request body a browser route takes: an article saved at
/// its limit (50 000 字, 3 bytes each, or 6 escaped in JSON) fits.
const MAX_BROWSER_BODY: usize = 1024 * 1024;

/// File descriptors kept for everything but event streams: the WeChat
/// callback, pages, the database, the logs.
const FDS_KEPT_FREE: u64 = 512;

/// `LOGIN_STREAMS_MAX`, lowered if needed so that open event streams always
/// leave [`FDS_KEPT_FREE`] file descriptors. The soft limit is first raised
/// to the hard one (what Go's runtime does for every server too).
fn streams_within_file_limit(configured: u32) -> u32 {
    let Ok(limit) = rlimit::increase_nofile_limit(u64::MAX) else {
        return configured;
    };
    let fits = u32::try_from(limit.saturating_sub(FDS_KEPT_FREE).max(1)).unwrap_or(u32::MAX);
    if configured == 0 {
        return fits;
    }
    if configured > fits {
        tracing::warn!(
            file_limit = limit,
            "LOGIN_STREAMS_MAX lowered to {fits} so that event streams leave file descriptors for the WeChat callback"
        );
        return fits;
    }
    configured
}

/// One router per area, merged here.
fn router(
    state: AppState,
    static_files: Arc<StaticFiles>,
    sandbox: Option<Arc<Sandbox>>,
    deepseek_sandbox: Option<Arc<DeepseekSandbox>>,
) -> Router {
    let theme = state.theme.clone();
    // Pages and server functions alike find the writing module's service
    // here (the app's `use_writing_service`); without DeepSeek there is none
    // and the module's calls answer NotConfigured.
    let writing: Option<Arc<dyn WritingService>> = state
        .writing
        .as_ref()
        .map(|writing| -> Arc<dyn WritingService> { writing.clone() });
    // The operator page's figures (the `admin` module reads them only for
    // a request the session layer marked as an operator's).
    let ops: Arc<dyn OpsService> = Arc::new(OpsPage {
        db: state.database.clone(),
        events: state.ops.clone(),
        login_streams: state.stream_limits.clone(),
        writing: state.writing.clone(),
        appid: state.config.wechat.appid.clone(),
    });
    let context = move || {
        provide_context(theme.clone());
        provide_context(ops.clone());
        if let Some(writing) = &writing {
            provide_context(writing.clone());
        }
        security_headers::page_policy();
    };
    // One `Arc`: axum clones the handler (and with it this closure) several
    // times per request; it used to hold the asset names and the Leptos
    // options, copied each time (bench/README.md).
    let page_shell = state.shell.clone();
    let app = move || shell(&page_shell);

    // In real mode the sandbox's pages do not exist (the app renders its
    // 404 there too).
    let sandbox_on = sandbox.is_some();
    let routes = generate_route_list(App)
        .into_iter()
        .filter(|route| sandbox_on || !route.path().starts_with(sandbox::MOUNT_PATH))
        .collect();

    // Anonymous visitors share a theme page rendered within the last second.
    let page_cache = Arc::new(PageCache::new(state.theme.pages.keys().map(String::as_str)));
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, context.clone(), app.clone())
        .layer(axum::middleware::from_fn_with_state(
            page_cache,
            page_cache::serve,
        ));
    let not_found = leptos_axum::render_app_to_stream_with_context(context, app);

    // What browsers use: pages and the login API know who is logged in;
    // none of it takes a state-changing request from another site.
    let mut browser = Router::new()
        .merge(pages)
        .merge(wechat_login::browser_routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            wechat_login::resolve_user,
        ));
    if let Some(sandbox) = sandbox {
        browser = browser.nest(sandbox::MOUNT_PATH, sandbox::routes(sandbox));
    }
    let browser = browser
        // Server functions read their whole body: no browser request of
        // this site is bigger than an article saved (50 000 字).
        .layer(RequestBodyLimitLayer::new(MAX_BROWSER_BODY))
        .layer(axum::middleware::from_fn(cross_site::refuse_cross_site));

    // Everything that answers at once gets the request timeout. WeChat's
    // callback is another site by nature: no cross-site check.
    let answered = Router::new()
        .merge(browser)
        .merge(wechat_login::wechat_routes())
        .merge(health::routes())
        .fallback(
            move |State(state): State<AppState>, request: Request<Body>| {
                let not_found = not_found.clone();
                async move { page_not_found(&state, request, not_found).await }
            },
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.http.request_timeout,
        ));

    // Event streams live until their login or generation ends: no request
    // timeout. An article's knows who is logged in.
    let mut streaming = wechat_login::stream_routes().merge(writing::events::routes().layer(
        axum::middleware::from_fn_with_state(state.clone(), wechat_login::resolve_user),
    ));
    // The DeepSeek sandbox streams an article for as long as DeepSeek would.
    if let Some(deepseek_sandbox) = deepseek_sandbox {
        streaming = streaming.nest(
            deepseek_sandbox::MOUNT_PATH,
            deepseek_sandbox::routes(deepseek_sandbox),
        );
    }
    Router::new()
        .merge(answered)
        .merge(streaming.layer(axum::middleware::from_fn(cross_site::refuse_cross_site)))
        // A panic outside any module becomes the 500 page.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error_page::catch_panics,
        ))
        // One log line per request, with its id (inside the id's layer).
        .layer(telemetry::request_log())
        .layer(axum::middleware::from_fn_with_state(
            state.config.trust_proxy_headers,
            telemetry::request_id,
        ))
        // Static files are answered before routing: `/favicon.svg` would
        // otherwise be taken for a page called "favicon.svg". Nor are they
        // logged or given an id.
        .layer(axum::middleware::from_fn_with_state(
            static_files,
            static_files::serve,
        ))
        .layer(axum::middleware::from_fn(security_headers::apply))
        .with_state(state)
}

/// The site's 404 page, rendered through the same header and footer as
/// every page.
async fn page_not_found<F, Fut>(
    state: &AppState,
    mut request: Request<Body>,
    not_found: F,
) -> Response
where
    F: Fn(Request<Body>) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    // The 404 page shows the same header, logged in or not.
    wechat_login::attach_user(state, &mut request).await;
    not_found(request).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
