//! SQLite and PostgreSQL side by side in one run (`--only engines
//! --postgres URL`): verified callbacks per second with durable writes, and
//! scan-to-browser latency with the browsers waiting on one server process
//! while the scans reach another (PostgreSQL; on SQLite one process does
//! both, as it must).
//!
//! Each engine gets fresh servers and a fresh database: SQLite a file in a
//! temporary folder, PostgreSQL a database made on the server `--postgres`
//! names (its role needs CREATEDB) and dropped afterwards.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::{
    callbacks,
    login::{self, Signer, Target},
    say,
    server::{Server, ServerSpec},
    stats::{count, Latencies},
    Options, Report, Row,
};

#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

/// A database made for one engine's runs, dropped with it.
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create(admin: &str) -> Result<Self, String> {
        let name = format!("loadtest_{}", std::process::id());
        let mut conn = PgConnection::connect(admin)
            .await
            .map_err(|e| format!("--postgres: cannot connect ({e})"))?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("--postgres: {e}"))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("--postgres: cannot create a database ({e})"))?;
        let _ = conn.close().await;
        let (server, _) = admin
            .rsplit_once('/')
            .ok_or("--postgres: the URL must end with /database")?;
        Ok(Self {
            admin: admin.to_owned(),
            url: format!("{server}/{name}"),
            name,
        })
    }

    async fn drop(self) {
        if let Ok(mut conn) = PgConnection::connect(&self.admin).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

pub async fn phase(o: &Options, report: &mut Report) -> Result<(), String> {
    let admin = o
        .postgres
        .as_deref()
        .ok_or("the engines phase needs --postgres URL (a role that may create databases)")?;
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let database = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(PgDatabase::create(admin).await?),
        };
        let result = runs(o, engine, database.as_ref().map(|d| d.url.as_str()), report).await;
        if let Some(database) = database {
            database.drop().await;
        }
        result?;
    }
    Ok(())
}

async fn runs(
    o: &Options,
    engine: Engine,
    database: Option<&str>,
    report: &mut Report,
) -> Result<(), String> {
    let spec = ServerSpec {
        binary: &o.server,
        site_root: &o.site_root,
        theme_dir: &o.theme_dir,
        aes: false,
        env: &o.env,
        wrapper: &[],
        database,
    };
    let name = engine.name();
    say(format!("{name}: starting the server"));
    let first = Server::start(&spec).await?;
    // PostgreSQL: a second process on the same database receives the scans.
    let second = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => {
            say(format!("{name}: starting a second server process"));
            Some(Server::start(&spec).await?)
        }
    };
    let browsers_at = target(&first);
    let scans_to = target(second.as_ref().unwrap_or(&first));
    let across = if second.is_some() {
        ", scans to another process"
    } else {
        ""
    };
    let signer = Signer::plain();
    // The first start fetches the access token; the rest use the stored one.
    login::start_browsers(&browsers_at, 1, 1, &mut Latencies::default()).await?;

    say(format!(
        "{name}: {} verified callbacks, durable",
        o.callbacks
    ));
    let browsers = login::start_browsers(
        &browsers_at,
        o.callbacks,
        o.start_conns,
        &mut Latencies::default(),
    )
    .await?;
    let scanner = second.as_ref().unwrap_or(&first);
    let mut run = callbacks::throughput_run(
        &scans_to,
        &first.database_url,
        &signer,
        &browsers,
        o.callback_conns,
        200,
        &|| scanner.cpu(),
    )
    .await?;
    report.problems.append(&mut run.problems);
    let mut row = Row::new(
        format!("verified callbacks, durable, {name}"),
        format!(
            "{} scans, {} connections{across}",
            count(run.sent as f64),
            o.callback_conns
        ),
    )
    .times(&mut run.times);
    row.result = format!("{}/s, all stored", count(run.per_second));
    row.target = "≥ 3 000/s".into();
    row.met = Some(run.per_second >= 3000.0);
    report.rows.push(row);
    if let Some(cpu) = run.cpu_per_callback {
        report.notes.push(format!(
            "{name}: the receiving server spent {:.0} µs of CPU per callback",
            cpu.as_secs_f64() * 1e6
        ));
    }

    say(format!(
        "{name}: scan → browser with {} waiting{across}",
        o.cross
    ));
    let browsers = login::start_browsers(
        &browsers_at,
        o.cross,
        o.start_conns,
        &mut Latencies::default(),
    )
    .await?;
    let rss = || first.rss_kib();
    let mut run = login::sse_run(
        &browsers_at,
        &scans_to,
        &rss,
        &signer,
        browsers,
        o.rate,
        o.callback_conns.max(128),
    )
    .await?;
    report.problems.append(&mut run.problems);
    let p99 = run.latency.percentile(99.0);
    let mut row = Row::new(
        format!("scan → browser, SSE, {name}"),
        format!(
            "{} waiting, scans at {}/s{across}",
            count(o.cross as f64),
            count(o.rate)
        ),
    )
    .times(&mut run.latency);
    row.result = format!(
        "{} of {} confirmed",
        count(run.confirmed as f64),
        count(o.cross as f64)
    );
    row.target = "p99 ≤ 20 ms".into();
    row.met = Some(p99 <= Duration::from_millis(20));
    report.rows.push(row);
    Ok(())
}

fn target(server: &Server) -> Target {
    Target {
        addr: server.addr,
        host: server.host.clone(),
    }
}
