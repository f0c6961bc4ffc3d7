//! The writing module, server side: a visitor's brief becomes an article
//! that DeepSeek writes into the page and the database keeps. The browser
//! side is `app::modules::writing`; its calls (server functions) reach the
//! [`WritingService`] implemented here, its event stream is [`events`].
//! Design: `docs/writing.md`.
//!
//! - [`brief`] checks the brief, [`outline`] reads an outline into
//!   sections, [`prompts`] says what DeepSeek is asked;
//! - [`limits`]: per-user daily and concurrent generations, the site-wide
//!   cap on DeepSeek requests;
//! - [`generation`]: a running generation's text in memory, the registry
//!   of running ones; [`job`] runs one; [`flush`] stores their text in
//!   batches; [`hub`] tells followers to look again;
//! - [`store`]: what is kept, per engine; [`position`]: where a follower
//!   is;
//! - [`leases`] and [`cluster`]: several processes on PostgreSQL (places
//!   shared by the cluster, the hub and stops across processes, the
//!   heartbeat);
//! - [`service`]: the `WritingService` calls; [`events`]: the event
//!   stream route; [`streams`]: open streams per user.

pub mod brief;
pub mod cluster;
pub mod events;
pub mod flush;
pub mod generation;
pub mod hub;
pub mod job;
pub mod leases;
pub mod limits;
pub mod outline;
pub mod position;
pub mod prompts;
pub mod service;
pub mod store;
pub mod streams;

use std::{sync::Arc, time::Duration};

use sqlx::{PgPool, SqlitePool};

use self::{
    generation::Generations,
    hub::{ArticleHub, MemoryHub},
    leases::Leases,
    limits::Limits,
    store::{postgres::PostgresArticles, sqlite::SqliteArticles, ArticleStore, StoreError},
    streams::StreamLimits,
};
use crate::{
    clock, config::Config, db_writer::DbWriter, notify::Listener, ops::OpsEvents, state::Shutdown,
};
pub use app::modules::writing::service::WritingService;

/// Everything the calls, the jobs and the event streams share.
pub struct Core {
    pub store: Arc<dyn ArticleStore>,
    pub hub: Arc<dyn ArticleHub>,
    /// This process's lease among several (PostgreSQL).
    pub leases: Option<Arc<Leases>>,
    pub generations: Generations,
    pub limits: Limits,
    pub deepseek: deepseek::Client,
    pub streams: StreamLimits,
    /// DeepSeek failures and outlines, counted for the operator page.
    pub ops: Arc<OpsEvents>,
    pub shutdown: Shutdown,
    /// An outline is made while the visitor's request waits: it must come
    /// before the request timeout.
    pub outline_timeout: Duration,
}

/// The writing module's server: provided to pages and server functions as
/// `Arc<dyn WritingService>`, and the state of the event stream route.
pub struct Writing {
    core: Arc<Core>,
}

#[derive(Debug, thiserror::Error)]
pub enum WritingStartError {
    #[error("the DeepSeek client: {0}")]
    Client(#[from] deepseek::Error),
    #[error("cannot mark the generations of the previous run interrupted: {0}")]
    Database(#[from] StoreError),
    #[error("cannot join the processes writing articles: {0}")]
    Lease(#[from] sqlx::Error),
}

/// Where the writing module keeps its articles.
pub enum Backend {
    /// One process: SQLite, written through the site's database writer.
    Sqlite {
        db: SqlitePool,
        writer: Arc<DbWriter>,
    },
    /// Any number of processes on one PostgreSQL database, hearing each
    /// other through the process's `listener`.
    Postgres { db: PgPool, listener: Arc<Listener> },
}

/// How long the daily limit looks back, with a margin.
const GENERATIONS_KEPT: Duration = Duration::from_secs(2 * 86_400);
const FORGET_EVERY: Duration = Duration::from_secs(6 * 3_600);

impl Writing {
    /// The writing module, if DeepSeek (or its sandbox) is configured.
    /// Versions the previous process left queued or running are marked
    /// interrupted first (what they had is kept), so nothing looks as if it
    /// were still being written — on PostgreSQL only those of processes
    /// that are gone (see [`cluster`]).
    pub async fn start(
        config: &Config,
        site_url: &str,
        backend: Backend,
        shutdown: Shutdown,
        streams_max: u32,
        ops: Arc<OpsEvents>,
    ) -> Result<Option<Arc<Self>>, WritingStartError> {
        let Ok(client_config) = config.deepseek.client_config(site_url) else {
            return Ok(None);
        };
        let deepseek = deepseek::Client::new(client_config)?;
        let (store, limits, cluster): (Arc<dyn ArticleStore>, _, _) = match backend {
            Backend::Sqlite { db, writer } => (
                Arc::new(SqliteArticles::new(db, writer)),
                Limits::new(config.writing.clone()),
                None,
            ),
            Backend::Postgres { db, listener } => {
                let leases = Leases::join(db.clone()).await?;
                (
                    Arc::new(PostgresArticles::new(db, leases.process().to_owned())),
                    Limits::clustered(config.writing.clone(), leases.clone()),
                    Some((leases, listener)),
                )
            }
        };
        let interrupted = store.interrupt_unfinished(job::INTERRUPTED).await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "writing: generations cut off by the previous stop are marked interrupted (their text is kept)"
            );
        }
        let request_timeout = config.http.request_timeout;
        let hub = Arc::new(MemoryHub::new());
        let core = Arc::new(Core {
            store,
            hub: hub.clone(),
            leases: cluster.as_ref().map(|(leases, _)| leases.clone()),
            generations: Generations::default(),
            limits,
            deepseek,
            streams: StreamLimits::new(config.writing.streams_per_user, streams_max),
            ops,
            shutdown: shutdown.clone(),
            outline_timeout: request_timeout
                .saturating_sub(Duration::from_secs(2))
                .max(Duration::from_secs(1)),
        });
        if let Some((leases, listener)) = cluster {
            cluster::listen(&core, hub, &listener);
            cluster::heartbeat(core.clone(), leases, shutdown.clone());
        }
        flush::spawn(core.clone(), shutdown.clone());
        forget_old_generations(core.clone(), shutdown);
        Ok(Some(Arc::new(Self { core })))
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Waits (up to `timeout`) for the running generations to store their
    /// end after the server began to stop; whether they all did. On
    /// PostgreSQL the process then leaves the cluster: its places come
    /// back at once.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let idle = self.core.generations.wait_empty(timeout).await;
        if let Some(leases) = &self.core.leases {
            if let Err(error) = leases.leave().await {
                tracing::warn!(%error, "writing: cannot leave the cluster; this process's places come back when its lease expires");
            }
        }
        idle
    }
}

/// Now and then, forgets the generations the daily limit no longer looks
/// at.
fn forget_old_generations(core: Arc<Core>, shutdown: Shutdown) {
    tokio::spawn(async move {
        let stopped = shutdown.stopped();
        tokio::pin!(stopped);
        let mut ticks = tokio::time::interval(FORGET_EVERY);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = &mut stopped => return,
            }
            let before = clock::now_ms() - GENERATIONS_KEPT.as_millis() as i64;
            if let Err(error) = core.store.forget_generations(before).await {
                tracing::warn!(%error, "writing: cannot forget old generations; trying again later");
            }
        }
    });
}

/// Article ids are 128 random bits in lower-case hex.
pub fn new_article_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

pub fn is_article_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An error inside the server: the visitor gets a reference, the log the
/// details under it.
pub fn server_error(
    error: impl std::fmt::Display,
) -> app::modules::writing::protocol::WritingError {
    let reference = crate::telemetry::error_reference();
    tracing::error!(%reference, %error, "writing: a call failed");
    app::modules::writing::protocol::WritingError::Server { reference }
}

/// An article id for logs: enough to find it, not enough to open it.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
