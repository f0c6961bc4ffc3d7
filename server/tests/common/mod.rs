//! Starts the whole server on a random port with a fresh database, in
//! sandbox mode, and plays WeChat against it.

#![allow(dead_code)]

pub mod writing;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{SystemTime, UNIX_EPOCH},
};

use server::{
    config::Config, db::Engine, db_writer::DbWriter, startup::Application,
    wechat_login::store::LoginStore,
};
use wechat::{
    callback::{open_reply, push_request, PushMode, PushRequest},
    message::{event_xml, text_xml},
    MessageCrypto,
};

pub const TOKEN: &str = "faketoken123";
pub const APPID: &str = "wx0000000000000000";
/// 43 characters, obviously fake.
pub const AES_KEY: &str = "FakeAesKeyForTestsOnly000000000000000000000";
pub const ACCOUNT: &str = "gh_test00000001";

pub struct TestApp {
    pub base: String,
    /// A browser: keeps cookies.
    pub browser: reqwest::Client,
    /// The server's database, for a test's own checks: portable SQL with
    /// `$1` placeholders (SQLite reads them too), whichever engine runs.
    pub db: sqlx::AnyPool,
    /// The server's `DATABASE_URL`.
    pub database_url: String,
    /// The PostgreSQL database this test made, dropped with it (`None` on
    /// SQLite, and for a second server beside another on its database).
    owned_database: Option<String>,
    pub aes: bool,
    /// The login's store, to stop SQLite's writer as a crash would.
    pub writer: Arc<dyn LoginStore>,
    /// SQLite's database writer (its counts); none on PostgreSQL.
    pub db_writer: Option<Arc<DbWriter>>,
    dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    settings: Vec<(String, String)>,
    site_root: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(name) = self.owned_database.take() {
            postgres::drop_database(name);
        }
    }
}

/// The engine the integration tests run on: SQLite unless
/// `WENSI_TEST_DB=postgres` (the test command runs the suite on both).
pub fn engine() -> Engine {
    match std::env::var("WENSI_TEST_DB").as_deref() {
        Ok("postgres") => Engine::Postgres,
        Ok("sqlite") | Ok("") | Err(_) => Engine::Sqlite,
        Ok(other) => panic!("WENSI_TEST_DB={other}: use sqlite or postgres"),
    }
}

/// Says why a test that needs PostgreSQL (several server processes on one
/// database) does not run, and returns true, on SQLite.
pub fn skip_unless_postgres(test: &str) -> bool {
    if engine() == Engine::Postgres {
        return false;
    }
    println!("{test}: needs PostgreSQL (WENSI_TEST_DB=postgres); skipped on SQLite");
    true
}

/// A fresh database per test on the PostgreSQL at `WENSI_TEST_PG_URL`.
pub mod postgres {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Where the test databases are made; `scripts/setup.sh` makes this
    /// role on the local PostgreSQL. An obviously test-only password.
    pub const DEFAULT_ADMIN_URL: &str =
        "postgres://wensi_test:wensi-test-only@127.0.0.1:5432/postgres";

    pub fn admin_url() -> String {
        std::env::var("WENSI_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into())
    }

    /// `admin_url` with another database name.
    pub fn url_of(name: &str) -> String {
        let admin = admin_url();
        let (server, _) = admin
            .rsplit_once('/')
            .expect("WENSI_TEST_PG_URL ends with /database");
        format!("{server}/{name}")
    }

    /// Makes an empty database and returns its name.
    pub async fn create_database() -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "wensi_t_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            super::now_unix()
        );
        let mut admin = admin().await;
        forget_stale(&mut admin).await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database ({e}): is PostgreSQL running? scripts/setup.sh starts it"));
        name
    }

    /// Drops test databases over an hour old: a test that panicked before
    /// its `Drop` (or a killed run) leaves its database behind. Once per
    /// test process.
    async fn forget_stale(admin: &mut sqlx::PgConnection) {
        static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
        ONCE.get_or_init(|| async {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE datname LIKE 'wensi\\_t\\_%'",
            )
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
            let hour_ago = super::now_unix() - 3600;
            for name in names {
                let made: i64 = name
                    .rsplit('_')
                    .next()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(i64::MAX);
                if made < hour_ago {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut *admin)
                        .await;
                }
            }
        })
        .await;
    }

    async fn admin() -> sqlx::PgConnection {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&admin_url())
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at WENSI_TEST_PG_URL ({e}): scripts/setup.sh starts it"))
    }

    /// Drops `name`, ending its connections (called from `Drop`, so on a
    /// thread of its own with its own runtime). Waits at most
    /// `DROP_WAIT`: while it waits, the test's runtime (which also runs the
    /// server) is blocked, and a connection the server had half opened
    /// then stays in PostgreSQL's authentication until its timeout (a
    /// minute), which `DROP DATABASE` waits for. Past the wait the drop
    /// finishes on its own (or, if the test process ends first, a later
    /// run drops the database as stale).
    pub fn drop_database(name: String) {
        const DROP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
        let (done, dropped) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = admin().await;
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            });
            let _ = done.send(());
        });
        let _ = dropped.recv_timeout(DROP_WAIT);
    }
}

pub fn new_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36")
        .build()
        .unwrap()
}

pub async fn spawn(settings: &[(&str, &str)]) -> TestApp {
    spawn_with_site_root(settings, "target/site").await
}

/// Like [`spawn`], serving the static files under `site_root`.
pub async fn spawn_with_site_root(settings: &[(&str, &str)], site_root: &str) -> TestApp {
    launch_with(settings, site_root, |_| {}).await
}

/// Like [`spawn`], with the parsed configuration changed by `tweak` before
/// the server is built (a test-chosen value no setting can give).
pub async fn spawn_with(settings: &[(&str, &str)], tweak: impl FnOnce(&mut Config)) -> TestApp {
    launch_with(settings, "target/site", tweak).await
}

async fn launch_with(
    settings: &[(&str, &str)],
    site_root: &str,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let database = match engine() {
        Engine::Sqlite => Database::Owned(format!("sqlite://{}/site.db", dir.path().display())),
        Engine::Postgres => Database::OwnedPostgres(postgres::create_database().await),
    };
    launch(dir, database, settings, site_root.to_owned(), tweak).await
}

/// Which database a server starts on.
enum Database {
    /// This test's own (SQLite: a file in the test's folder).
    Owned(String),
    /// This test's own PostgreSQL database (its name), dropped with it.
    OwnedPostgres(String),
    /// Another server's (the URL): not dropped with this one.
    Beside(String),
}

/// Starts the server on `database`; `dir` holds what the test keeps.
async fn launch(
    dir: tempfile::TempDir,
    database: Database,
    settings: Vec<(String, String)>,
    site_root: String,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let (database_url, owned_database) = match database {
        Database::Owned(url) | Database::Beside(url) => (url, None),
        Database::OwnedPostgres(name) => (postgres::url_of(&name), Some(name)),
    };
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url),
        // Tests run side by side on one PostgreSQL (100 connections).
        ("DATABASE_MAX_CONNECTIONS".into(), "4".into()),
        ("THEME_DIR".into(), theme_dir().display().to_string()),
        ("WECHAT_APPID".into(), APPID.into()),
        ("WECHAT_SANDBOX".into(), "1".into()),
        ("WECHAT_TOKEN".into(), TOKEN.into()),
        // Tests start many logins from one address: the limits are lifted
        // here and tested on their own.
        ("LOGIN_START_PER_MINUTE".into(), "0".into()),
        ("LOGIN_START_SITE_PER_MINUTE".into(), "0".into()),
    ]);
    for (name, value) in &settings {
        vars.insert(name.clone(), value.clone());
    }
    let aes = vars.contains_key("WECHAT_ENCODING_AES_KEY");
    let mut config =
        Config::from_lookup(|name| vars.get(name).cloned()).expect("test settings are valid");
    config.leptos.site_addr = "127.0.0.1:0".parse().unwrap();
    config.leptos.site_root = site_root.as_str().into();
    tweak(&mut config);
    let app = Application::build(config).await.expect("the server starts");
    let base = format!("http://{}", app.address());
    let writer = app.writer();
    let db_writer = app.db_writer();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    sqlx::any::install_default_drivers();
    let db = sqlx::pool::PoolOptions::<sqlx::Any>::new()
        .max_connections(2)
        .connect(&vars["DATABASE_URL"])
        .await
        .unwrap();
    TestApp {
        base,
        browser: new_browser(),
        db,
        database_url: vars["DATABASE_URL"].clone(),
        owned_database,
        aes,
        writer,
        db_writer,
        dir: Some(dir),
        stop: Some(stop),
        server: Some(server),
        settings,
        site_root,
    }
}

impl TestApp {
    /// Stops the server as an operator would (SIGTERM: open requests
    /// finish, running work stores what it has) and waits until it has.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// Stops the server and starts a new one on the same database, with
    /// the same settings plus `more`.
    pub async fn restart(mut self, more: &[(&str, &str)]) -> TestApp {
        self.stop().await;
        let mut settings = self.settings.clone();
        settings.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let dir = self.dir.take().unwrap();
        // The new server takes over the database (and its dropping).
        let database = match self.owned_database.take() {
            Some(name) => Database::OwnedPostgres(name),
            None => Database::Owned(self.database_url.clone()),
        };
        launch(dir, database, settings, self.site_root.clone(), |_| {}).await
    }

    /// Starts a second server process on this one's database, with the
    /// same settings plus `more` (several servers behind one address, on
    /// PostgreSQL). It leaves the database to this one.
    pub async fn spawn_beside(&self, more: &[(&str, &str)]) -> TestApp {
        assert_eq!(
            engine(),
            Engine::Postgres,
            "several servers share a database only on PostgreSQL"
        );
        let mut settings = self.settings.clone();
        settings.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        launch(
            tempfile::tempdir().unwrap(),
            Database::Beside(self.database_url.clone()),
            settings,
            self.site_root.clone(),
            |_| {},
        )
        .await
    }

    /// The database file (for a test that plays a crash on it; SQLite).
    pub fn database(&self) -> PathBuf {
        self.dir.as_ref().unwrap().path().join("site.db")
    }
}

pub fn theme_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../theme")
}

/// What WeChat would push: how it is wrapped on the wire.
#[derive(Clone, Copy, Debug)]
pub enum Wire {
    Plain,
    Compatible,
    Safe,
}

/// The current Unix time in seconds, as WeChat stamps its requests.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A nonce no other request of this test process used.
pub fn fresh_nonce() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}{:06}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A GET from the default browser.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.browser.get(self.url(path)).send().await.unwrap()
    }

    /// A POST (no body) from the default browser.
    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.browser.post(self.url(path)).send().await.unwrap()
    }

    /// `POST /api/login/{id}/complete` from the default browser.
    pub async fn complete(&self, id: &str) -> reqwest::Response {
        self.post(&format!("/api/login/{id}/complete")).await
    }

    /// `POST /api/login/start` from the default browser; the attempt id.
    pub async fn start(&self) -> String {
        let response = self.post("/api/login/start").await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let body: serde_json::Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn status(&self, id: &str) -> String {
        let body: serde_json::Value = self
            .get(&format!("/api/login/{id}"))
            .await
            .json()
            .await
            .unwrap();
        body["status"].as_str().unwrap().to_owned()
    }

    /// Delivers a push as WeChat would, stamped now with a fresh nonce; the
    /// HTTP status and the reply text (decrypted, `Content` only; "success"
    /// when there is none).
    pub async fn push(&self, xml: &str, wire: Wire) -> (u16, String) {
        let request = self.signed(xml, wire, &now_unix().to_string(), &fresh_nonce());
        self.deliver(&request).await
    }

    /// The request WeChat would send for `xml` with this stamp, signed with
    /// the server's Token (and encrypted with its key, except `Wire::Plain`).
    pub fn signed(&self, xml: &str, wire: Wire, timestamp: &str, nonce: &str) -> PushRequest {
        let crypto = self.crypto();
        let mode = match wire {
            Wire::Plain => PushMode::Plain,
            Wire::Compatible => PushMode::Compatible,
            Wire::Safe => PushMode::Safe,
        };
        push_request(
            TOKEN,
            crypto.as_ref(),
            mode,
            xml,
            timestamp,
            nonce,
            "openid-unused",
        )
    }

    pub fn crypto(&self) -> Option<MessageCrypto> {
        self.aes
            .then(|| MessageCrypto::new(AES_KEY, APPID).unwrap())
    }

    /// POSTs `request` to the callback: the status and, for a 200, the
    /// reply text as WeChat reads it (else the raw body).
    pub async fn deliver(&self, request: &PushRequest) -> (u16, String) {
        let (status, body) = self.deliver_raw(request).await;
        if status != 200 {
            return (status, body);
        }
        let reply = open_reply(TOKEN, self.crypto().as_ref(), &body).unwrap();
        (status, reply_content(&reply))
    }

    /// POSTs `request` to the callback: the status and the raw body.
    pub async fn deliver_raw(&self, request: &PushRequest) -> (u16, String) {
        let response = reqwest::Client::new()
            .post(self.url("/wechat/callback"))
            .query(&request.query)
            .header("content-type", "text/xml")
            .body(request.body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// The status JSON of an attempt, as its browser reads it.
    pub async fn status_json(&self, id: &str) -> serde_json::Value {
        self.get(&format!("/api/login/{id}"))
            .await
            .json()
            .await
            .unwrap()
    }

    /// A scan as WeChat pushes it: encrypted (safe mode) when the server
    /// has an EncodingAESKey, plain otherwise.
    pub async fn scan(&self, openid: &str, scene: &str, already_following: bool) -> (u16, String) {
        let wire = if self.aes { Wire::Safe } else { Wire::Plain };
        self.push(
            &scan_xml(openid, scene, already_following, now_unix()),
            wire,
        )
        .await
    }

    pub async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&self.db)
            .await
            .unwrap();
        n
    }
}

pub fn scan_xml(openid: &str, scene: &str, already_following: bool, create_time: i64) -> String {
    if already_following {
        event_xml(
            ACCOUNT,
            openid,
            create_time,
            "SCAN",
            Some(scene),
            Some("fake-ticket"),
        )
    } else {
        event_xml(
            ACCOUNT,
            openid,
            create_time,
            "subscribe",
            Some(&format!("qrscene_{scene}")),
            Some("fake-ticket"),
        )
    }
}

pub fn text(openid: &str, content: &str, msg_id: &str) -> String {
    text_xml(ACCOUNT, openid, 1_700_000_100, content, Some(msg_id))
}

/// The Content of a passive text reply, or the body itself.
pub fn reply_content(reply: &str) -> String {
    match wechat::message::parse_fields(reply.as_bytes()) {
        Ok(fields) => fields
            .get("Content")
            .map(str::to_owned)
            .unwrap_or_else(|| reply.to_owned()),
        Err(_) => reply.to_owned(),
    }
}
