//! `server move-to-postgres`: a SQLite site's users, sessions and articles
//! arrive in an empty PostgreSQL database whole, the password of the target
//! is never printed, and a database that already has data is refused
//! untouched (PostgreSQL only).

mod common;

use std::process::{Command, Output};

use sqlx::Row;

/// The article's text: Chinese, an emoji, a NUL (which PostgreSQL's text
/// cannot hold) and a quote.
const BODY: &str = "# 标题\n\n第一段 🙂 带一个\0空字符和 'quote'。";

async fn sqlite_site(dir: &std::path::Path) -> String {
    let url = format!("sqlite://{}/site.db", dir.display());
    let db = server::db::connect(&url).await.unwrap();
    for statement in [
        "INSERT INTO users (id, openid, display_name, following, created_at) VALUES
            (1, 'oFakeOpenid0001', '读者一', 1, 1000), (7, 'oFakeOpenid0007', '读者七', 0, 2000)",
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES
            (X'00FF10', 7, 3000, 9999999999999)",
        "INSERT INTO wechat_access_token (appid, token, expires_at, fetched_at) VALUES
            ('wx0000000000000000', 'fake-access-token', 9999999999999, 3)",
        "INSERT INTO articles (id, user_id, title, title_set, kind, brief, latest, created_at, updated_at)
            VALUES ('a1b2', 7, '我的文章', 1, 'article', '{}', 2, 4000, 5000)",
        "INSERT INTO writing_generations (id, user_id, started_at) VALUES (1, 7, 4000), (2, 7, 4500)",
        "INSERT INTO ops_events (day, kind, count) VALUES (20000, 'login', 3), (20001, 'tokens:prompt', 1234)",
        "INSERT INTO login_attempts (id, binding_hash, client_ip, user_agent, created_at, expires_at)
            VALUES ('attempt-that-expires', X'01', '127.0.0.1', 'test', 1, 2)",
    ] {
        sqlx::query(statement).execute(&db).await.unwrap();
    }
    for (number, status, body) in [(1, "stopped", "旧的版本"), (2, "done", BODY)] {
        sqlx::query(
            "INSERT INTO article_versions (article_id, number, status, body, body_bytes, body_chars,
                 prompt_tokens, created_at, updated_at)
             VALUES ('a1b2', $1, $2, $3, $4, $5, 42, 4000, 5000)",
        )
        .bind(number)
        .bind(status)
        .bind(body)
        .bind(body.len() as i64)
        .bind(body.chars().count() as i64)
        .execute(&db)
        .await
        .unwrap();
    }
    db.close().await;
    url
}

fn move_to(source: &str, target: &str, dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("move-to-postgres")
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", source)
        .env("NEW_DATABASE_URL", target)
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_sqlite_site_moves_whole_and_only_into_an_empty_database() {
    if common::skip_unless_postgres("move_to_postgres") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = sqlite_site(dir.path()).await;
    let name = common::postgres::create_database().await;
    let target = common::postgres::url_of(&name);

    let out = move_to(&source, &target, dir.path());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("users 2") && printed.contains("article_versions 2"),
        "{printed}"
    );
    assert!(
        !printed.contains("wensi-test-only"),
        "the password was printed: {printed}"
    );

    let pg = sqlx::PgPool::connect(&target).await.unwrap();
    let users: Vec<(i64, String, String, i64)> =
        sqlx::query_as("SELECT id, openid, display_name, following FROM users ORDER BY id")
            .fetch_all(&pg)
            .await
            .unwrap();
    assert_eq!(
        users,
        [
            (1, "oFakeOpenid0001".into(), "读者一".into(), 1),
            (7, "oFakeOpenid0007".into(), "读者七".into(), 0)
        ]
    );
    let session = sqlx::query("SELECT token_hash, user_id FROM sessions")
        .fetch_one(&pg)
        .await
        .unwrap();
    assert_eq!(session.get::<Vec<u8>, _>(0), [0x00, 0xFF, 0x10]);
    assert_eq!(session.get::<i64, _>(1), 7);
    let versions: Vec<(i64, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT number, status, body, prompt_tokens FROM article_versions ORDER BY number",
    )
    .fetch_all(&pg)
    .await
    .unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].2, "旧的版本");
    assert_eq!(versions[1].1, "done");
    assert_eq!(
        versions[1].2,
        BODY.replace('\0', "\u{FFFD}"),
        "the text arrives whole"
    );
    assert_eq!(versions[1].3, Some(42));
    let token: String = sqlx::query_scalar("SELECT token FROM wechat_access_token")
        .fetch_one(&pg)
        .await
        .unwrap();
    assert_eq!(token, "fake-access-token");
    let counted: i64 = sqlx::query_scalar("SELECT sum(count)::BIGINT FROM ops_events")
        .fetch_one(&pg)
        .await
        .unwrap();
    assert_eq!(counted, 1237);
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM login_attempts")
        .fetch_one(&pg)
        .await
        .unwrap();
    assert_eq!(
        attempts, 0,
        "login attempts expire within minutes: not moved"
    );

    // New rows get ids after the moved ones.
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO users (openid, display_name, created_at) VALUES ('oNew', '新读者', 1) RETURNING id",
    )
    .fetch_one(&pg)
    .await
    .unwrap();
    assert_eq!(next, 8);
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO writing_generations (user_id, started_at) VALUES (7, 6000) RETURNING id",
    )
    .fetch_one(&pg)
    .await
    .unwrap();
    assert_eq!(next, 3);

    // Again: the target has data now, so it is refused and left as it is.
    let out = move_to(&source, &target, dir.path());
    let printed = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(printed.contains("已经有数据"), "{printed}");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pg)
        .await
        .unwrap();
    assert_eq!(users, 3);
    pg.close().await;
    common::postgres::drop_database(name);
}

#[tokio::test]
async fn wrong_or_missing_addresses_are_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    // Not PostgreSQL as the target; not SQLite as the source; no source file.
    for (source, target, words) in [
        (
            "sqlite://site.db".to_owned(),
            "sqlite://other.db".to_owned(),
            "NEW_DATABASE_URL 必须是 PostgreSQL",
        ),
        (
            "postgres://x:fake-pw@127.0.0.1/a".to_owned(),
            "postgres://x:fake-pw@127.0.0.1/b".to_owned(),
            "必须是现在网站用的 SQLite",
        ),
        (
            format!("sqlite://{}/none.db", dir.path().display()),
            "postgres://x:fake-pw@127.0.0.1/b".to_owned(),
            "不存在",
        ),
    ] {
        let out = move_to(&source, &target, dir.path());
        let printed = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{printed}");
        assert!(printed.contains(words), "{printed}");
        assert!(!printed.contains("fake-pw"), "{printed}");
    }
}
