//! What every handler can reach.

use std::sync::Arc;

use app::theme::load::Theme;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::watch;

use crate::{
    config::Config,
    ops::OpsEvents,
    wechat_login::{
        hub::LoginHub,
        rate_limit::StartLimits,
        session_cache::SessionCache,
        store::{LoginStore, SessionStore},
        streams::StreamLimits,
        wechat_link::WechatLink,
    },
    writing::Writing,
};

/// Cloned for every request (axum hands each handler its own copy), so it is
/// one `Arc`: a clone is one atomic increment instead of one per field, which
/// was a tenth of the CPU time of serving a static file (bench/README.md).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    /// What the document around every page needs: the names of the site's
    /// script, wasm and stylesheet (read once).
    pub shell: Arc<app::Shell>,
    /// The database, whichever engine.
    pub database: crate::db::Database,
    pub theme: Arc<Theme>,
    pub wechat: Arc<WechatLink>,
    /// Tells waiting browsers about their login.
    pub hub: Arc<dyn LoginHub>,
    /// The login's attempts, pushes and users (SQLite: through the
    /// group-commit writer).
    pub login: Arc<dyn LoginStore>,
    /// Sessions: who a cookie belongs to, and revocations.
    pub session_store: Arc<dyn SessionStore>,
    /// QR codes per client network and for the whole site
    /// (`LOGIN_START_PER_MINUTE`, `LOGIN_START_SITE_PER_MINUTE`).
    pub start_limits: Arc<StartLimits>,
    /// Open login event streams (`LOGIN_STREAMS_*`).
    pub stream_limits: Arc<StreamLimits>,
    /// The writing module; `None` without DeepSeek (and its sandbox).
    pub writing: Option<Arc<Writing>>,
    /// Failures counted for the operator page, written once a minute.
    pub ops: Arc<OpsEvents>,
    pub shutdown: Shutdown,
    /// Sessions seen within `SESSION_CACHE_SECONDS`.
    pub sessions: Arc<SessionCache>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Tells long-lived responses (event streams) and background tasks that the
/// server is stopping, so a graceful shutdown does not wait for them forever.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (sender, receiver) = watch::channel(false);
        (sender, Self(receiver))
    }

    /// Resolves once the server has begun to stop.
    pub async fn stopped(mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}
