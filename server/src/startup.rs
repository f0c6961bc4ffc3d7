//! Builds the application from its configuration and runs it.

use std::{future::Future, net::SocketAddr, sync::Arc};

use app::{shell, App};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue},
    response::Response,
    serve::ListenerExt,
    Router,
};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::{net::TcpListener, sync::watch};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{
    config::{Config, ConfigError},
    db::{self, DbError},
    error_page, health,
    login::{
        self,
        hub::{LoginHub, MemoryHub},
        inbox::Rules,
        rate_limit::RateLimiter,
        writer::{WriteError, Writer},
    },
    page_cache::{self, PageCache},
    sandbox::{self, Sandbox, SandboxConfig},
    state::{AppState, Shared, Shutdown},
    static_files::{self, StaticFiles},
    wechat_link::{local_url, LinkError, WechatLink},
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
    #[error("DATABASE_URL must name a database file (an in-memory database cannot be shared)")]
    InMemoryDatabase,
    #[error("cannot open the database for the login writer: {0}")]
    Writer(#[from] WriteError),
    #[error("cannot read the static files in {root}: {source}")]
    StaticFiles {
        root: String,
        source: std::io::Error,
    },
}

/// A server bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    stop: watch::Sender<bool>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let mut theme = app::theme::load::load(&config.theme_dir)?;
        theme.layout.sandbox = config.wechat.sandbox;

        let db = db::connect(&config.database_url).await?;

        let site_root = std::path::PathBuf::from(config.leptos.site_root.as_ref());
        let static_files = StaticFiles::load(
            &site_root,
            &config.leptos.site_pkg_dir,
            config.leptos.hash_files,
        )
        .map_err(|source| StartupError::StaticFiles {
            root: site_root.display().to_string(),
            source,
        })?;
        if static_files.is_empty() {
            tracing::warn!(root = %site_root.display(), "no static files: pages will not hydrate (build with cargo leptos)");
        }

        let addr = config.leptos.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;

        let wechat = WechatLink::new(&config.wechat, address, db.clone())?;
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

        let (stop, shutdown) = Shutdown::new();
        login::cleanup::spawn(db.clone(), shutdown.clone());
        let hub: Arc<dyn LoginHub> = Arc::new(MemoryHub::new());
        let db_file = db::file_of(&db).ok_or(StartupError::InMemoryDatabase)?;
        let writer = Writer::spawn(
            &db_file,
            db::BUSY_TIMEOUT,
            hub.clone(),
            Rules {
                site: theme.layout.site.name.clone(),
                confirm_mode: config.login.confirm_mode,
            },
        )?;
        let state = AppState::new(Shared {
            hub,
            writer: Arc::new(writer),
            start_limiter: Arc::new(RateLimiter::new(config.login.start_per_minute)),
            wechat: Arc::new(wechat),
            leptos: config.leptos.clone(),
            config: Arc::new(config),
            db,
            theme: Arc::new(theme),
            shutdown,
        });
        let router = router(state, Arc::new(static_files), sandbox.map(Arc::new));
        Ok(Self {
            listener,
            address,
            router,
            stop,
        })
    }

    /// Where the server listens (the real port when configured with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
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
        let listener = self.listener.tap_io(|stream| {
            // Without it, small responses wait for the client's delayed ACK
            // (Nagle's algorithm): ~40 ms per static file.
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {err}");
            }
        });
        axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            signal.await;
            tracing::info!("stopping: finishing open requests");
            let _ = stop.send(true);
        })
        .await
    }
}

/// One router per area, merged here.
fn router(
    state: AppState,
    static_files: Arc<StaticFiles>,
    sandbox: Option<Arc<Sandbox>>,
) -> Router {
    let theme = state.theme.clone();
    let context = move || provide_context(theme.clone());
    let leptos = state.leptos.clone();
    let app = move || shell(leptos.clone());

    // Anonymous visitors share a theme page rendered within the last second.
    let page_cache = Arc::new(PageCache::new(state.theme.pages.keys().map(String::as_str)));
    let pages = Router::new()
        .leptos_routes_with_context(
            &state,
            generate_route_list(App),
            context.clone(),
            app.clone(),
        )
        .layer(axum::middleware::from_fn_with_state(
            page_cache,
            page_cache::serve,
        ));
    let not_found = leptos_axum::render_app_to_stream_with_context(context, app);

    // Pages and browser API routes know who is logged in.
    let with_user = Router::new()
        .merge(pages)
        .merge(login::browser_routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            login::resolve_user,
        ));
    let mut router = Router::new()
        .merge(with_user)
        .merge(login::wechat_routes())
        .merge(health::routes());
    if let Some(sandbox) = sandbox {
        router = router.nest("/sandbox/wechat", sandbox::routes(sandbox));
    }
    router
        .fallback(
            move |State(state): State<AppState>, request: Request<Body>| {
                let not_found = not_found.clone();
                async move { page_not_found(&state, request, not_found).await }
            },
        )
        // A panic outside any module becomes the 500 page.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error_page::catch_panics,
        ))
        // Static files are answered before routing: `/favicon.svg` would
        // otherwise be taken for a page called "favicon.svg".
        .layer(axum::middleware::from_fn_with_state(
            static_files,
            static_files::serve,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
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
    login::attach_user(state, &mut request).await;
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
