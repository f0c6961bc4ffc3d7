//! This machine's side: the theme loads, the site answers where it
//! listens, and the operator page has its operators.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
    ConnectOptions,
};

use super::report::Finding;
use crate::{
    config::Config,
    db::{Database, Engine},
    on_engine,
    wechat_login::wechat_link::local_url,
};

pub fn theme(dir: &Path) -> Finding {
    const TOPIC: &str = "主题";
    match app::theme::load::load(dir) {
        Ok(theme) => Finding::ok(
            TOPIC,
            format!("{} 能加载（{} 个页面）", dir.display(), theme.pages.len()),
        ),
        Err(err) => Finding::fail(
            TOPIC,
            format!("主题文件有误，网站会拒绝启动：{err}"),
            "按提示改正那个文件；拿不准时用 server init-theme 新目录 写出一份默认主题对照",
        ),
    }
}

/// `GET /healthz` where the site listens on this machine.
pub async fn running(config: &Config, http: &reqwest::Client) -> Finding {
    const TOPIC: &str = "网站进程";
    let base = local_url(config.leptos.site_addr);
    let answer = http
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => {
            Finding::ok(TOPIC, format!("网站正在 {base} 运行，/healthz 正常"))
        }
        Ok(response) if response.status().as_u16() == 503 => Finding::fail(
            TOPIC,
            format!("网站在 {base} 运行，但 /healthz 报告异常（数据库不应答，或写入线程停了）"),
            "看网站的日志（journalctl -u wensi -e）找原因，然后重启网站",
        ),
        Ok(response) => Finding::warn(
            TOPIC,
            format!("{base}/healthz 答 {}：那里运行的可能不是本网站", response.status()),
            "检查 LEPTOS_SITE_ADDR",
        ),
        Err(_) => Finding::warn(
            TOPIC,
            format!("网站没有在 {base} 运行"),
            "启动它（systemctl start wensi，或直接运行 ./server）；回调地址的检查要网站在运行才能通过",
        ),
    }
}

/// `ADMIN_OPENIDS`: set, and each one a user of this site. `database_ok`:
/// the database check could open it (else it is not read here either).
pub async fn admins(config: &Config, database_ok: bool) -> Finding {
    const TOPIC: &str = "管理员";
    let admins = &config.ops.admin_openids;
    let users = if database_ok {
        known_users(&config.database_url, admins).await
    } else {
        Vec::new()
    };
    let recent = || {
        let mut recent: Vec<&UserRow> = users.iter().filter(|u| u.last_login.is_some()).collect();
        recent.sort_by_key(|u| std::cmp::Reverse(u.last_login));
        recent.dedup_by_key(|u| &u.openid);
        recent
            .iter()
            .take(5)
            .map(|u| {
                format!(
                    "{}（{}，最后登录 {}）",
                    u.openid,
                    u.display_name,
                    crate::clock::beijing(u.last_login.unwrap_or_default())
                )
            })
            .collect::<Vec<_>>()
    };
    if admins.is_empty() {
        let recent = recent();
        let tail = if recent.is_empty() {
            "先用微信登录本站一次，再运行 server doctor：这里会列出最近登录的用户和他们的 openid"
                .to_owned()
        } else {
            format!(
                "最近登录的用户（名字就是网页右上角显示的）：{}",
                recent.join("；")
            )
        };
        return Finding::warn(
            TOPIC,
            "没有设置 ADMIN_OPENIDS：运营页面 /admin 谁都打不开（都是 404）",
            format!("把你自己的 openid 设为 ADMIN_OPENIDS（多个用逗号隔开），重启网站。{tail}"),
        );
    }
    if !database_ok {
        return Finding::ok(
            TOPIC,
            format!(
                "ADMIN_OPENIDS 有 {} 位（数据库打不开，没有核对他们是否登录过）",
                admins.len()
            ),
        );
    }
    let (known, unknown): (Vec<&String>, Vec<&String>) = admins
        .iter()
        .partition(|openid| users.iter().any(|u| &&u.openid == openid));
    let names = known
        .iter()
        .filter_map(|openid| users.iter().find(|u| &&u.openid == openid))
        .map(|u| u.display_name.as_str())
        .collect::<Vec<_>>()
        .join("、");
    if unknown.is_empty() {
        return Finding::ok(
            TOPIC,
            format!(
                "{} 位，都在本站登录过：{names}；他们登录后能打开 /admin",
                known.len()
            ),
        );
    }
    let unknown = unknown
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("、");
    let recent = recent();
    Finding::warn(
        TOPIC,
        format!("ADMIN_OPENIDS 里的 {unknown} 还没有在本站登录过"),
        format!(
            "openid 是每个公众号各自的：要用本服务号下的 openid（扫本站的登录二维码登录一次就有了）。{}",
            if recent.is_empty() {
                String::new()
            } else {
                format!("最近登录的用户：{}", recent.join("；"))
            }
        ),
    )
}

struct UserRow {
    openid: String,
    display_name: String,
    last_login: Option<i64>,
}

/// The admins who are users here and the five users who logged in last,
/// each with their latest login, read-only; none when unreadable.
async fn known_users(url: &str, admins: &[String]) -> Vec<UserRow> {
    // Opened as it is: no migration, no file created (the doctor changes
    // nothing).
    let database = match Engine::of_url(url) {
        Some(Engine::Sqlite) => {
            let Ok(options) = SqliteConnectOptions::from_str(url) else {
                return Vec::new();
            };
            let options = options
                .create_if_missing(false)
                .busy_timeout(Duration::from_secs(5))
                .disable_statement_logging();
            match SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
            {
                Ok(pool) => Database::Sqlite(pool),
                Err(_) => return Vec::new(),
            }
        }
        Some(Engine::Postgres) => {
            let Ok(options) = PgConnectOptions::from_str(url) else {
                return Vec::new();
            };
            match PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options.disable_statement_logging())
                .await
            {
                Ok(pool) => Database::Postgres(pool),
                Err(_) => return Vec::new(),
            }
        }
        None => return Vec::new(),
    };
    const LAST_LOGIN: &str = "SELECT * FROM (SELECT u.openid, u.display_name,
            (SELECT max(s.created_at) FROM sessions s WHERE s.user_id = u.id) AS last_login
         FROM users u) AS known";
    let mut rows: Vec<(String, String, Option<i64>)> = on_engine!(&database, db => {
        sqlx::query_as(&format!(
            "{LAST_LOGIN} WHERE last_login IS NOT NULL ORDER BY last_login DESC LIMIT 5"
        ))
        .fetch_all(db)
        .await
        .unwrap_or_default()
    });
    for openid in admins {
        let row: Option<(String, String, Option<i64>)> = on_engine!(&database, db => {
            sqlx::query_as(&format!("{LAST_LOGIN} WHERE openid = $1"))
                .bind(openid)
                .fetch_optional(db)
                .await
                .ok()
                .flatten()
        });
        rows.extend(row);
    }
    database.close().await;
    rows.into_iter()
        .map(|(openid, display_name, last_login)| UserRow {
            openid,
            display_name,
            last_login,
        })
        .collect()
}
