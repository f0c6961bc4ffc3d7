//! The login's clean-up on PostgreSQL (`store::postgres::PgStore::clean`):
//! what is past its keeping time goes, a chunk at a time; what is not,
//! stays. SQLite's twin is `wechat_login::writer`'s unit test
//! `the_clean_up_goes_in_chunks`. PostgreSQL only.

mod common;

use std::{sync::Arc, time::Duration};

use server::{
    clock, db,
    notify::Listener,
    state::Shutdown,
    wechat_login::{hub::MemoryHub, push::Rules, session_cache::SessionCache, store::Stores},
};

const DAY: i64 = 86_400_000;

#[tokio::test]
async fn the_clean_up_removes_what_is_past_keeping_in_chunks_and_keeps_the_rest() {
    if common::skip_unless_postgres(
        "the_clean_up_removes_what_is_past_keeping_in_chunks_and_keeps_the_rest",
    ) {
        return;
    }
    let name = common::postgres::create_database().await;
    let pool = db::connect_postgres(&common::postgres::url_of(&name), 4)
        .await
        .unwrap();
    let (stop, shutdown) = Shutdown::new();
    let listener = Listener::start(&pool, shutdown.clone()).await.unwrap();
    let stores = Stores::postgres(
        pool.clone(),
        &listener,
        Arc::new(MemoryHub::new()),
        Arc::new(SessionCache::new(Duration::ZERO)),
        Rules {
            site: "文思".into(),
            confirm_mode: false,
        },
        shutdown,
    );

    let now = clock::now_ms();
    let old = now - 3 * DAY;
    let run = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query(sql).execute(&pool).await.unwrap() }
    };
    for i in 0..25 {
        sqlx::query("INSERT INTO wechat_events (dedup_key, received_at) VALUES ($1, $2)")
            .bind(format!("old-{i}"))
            .bind(old)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO push_nonces (timestamp, nonce, body_hash, received_at)
             VALUES ($1, $2, '\\x00', $3)",
        )
        .bind(old / 1000)
        .bind(i.to_string())
        .bind(old)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO push_nonces (timestamp, nonce, body_hash, received_at)
         VALUES ($1, 'fresh', '\\x00', $2)",
    )
    .bind(now / 1000)
    .bind(now)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO wechat_events (dedup_key, received_at) VALUES ('fresh', $1)")
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    for (id, expires_at) in [("old-attempt", old), ("fresh-attempt", now + 60_000)] {
        sqlx::query(
            "INSERT INTO login_attempts (id, binding_hash, status, client_ip, user_agent,
                 created_at, expires_at)
             VALUES ($1, '\\x00', 'pending', '127.0.0.1', 'test', $2, $2)",
        )
        .bind(id)
        .bind(expires_at)
        .execute(&pool)
        .await
        .unwrap();
    }
    run(
        "INSERT INTO users (openid, display_name, following, created_at)
         VALUES ('oFakeOpenidForTheCleanUp', '测试', 1, 0)",
    )
    .await;
    for (token, expires_at, revoked_at) in [
        ("\\x01", old, None),                     // expired
        ("\\x02", now + DAY, Some(old)),          // revoked long ago
        ("\\x03", now + DAY, Some(now - 60_000)), // revoked a minute ago: kept a day
        ("\\x04", now + DAY, None),               // alive
    ] {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, revoked_at)
             SELECT decode(substr($1, 3), 'hex'), id, 0, $2, $3 FROM users",
        )
        .bind(token)
        .bind(expires_at)
        .bind(revoked_at)
        .execute(&pool)
        .await
        .unwrap();
    }

    let mut chunks = Vec::new();
    loop {
        let (removed, more) = stores.login.clean(10).await.unwrap();
        chunks.push((
            removed.attempts,
            removed.sessions,
            removed.events,
            removed.stamps,
        ));
        if !more {
            break;
        }
    }
    assert_eq!(chunks, [(1, 2, 10, 10), (0, 0, 10, 10), (0, 0, 5, 5)]);

    let left = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(sql)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        left("SELECT id FROM login_attempts").await,
        ["fresh-attempt"]
    );
    assert_eq!(left("SELECT dedup_key FROM wechat_events").await, ["fresh"]);
    assert_eq!(left("SELECT nonce FROM push_nonces").await, ["fresh"]);
    assert_eq!(
        left("SELECT encode(token_hash, 'hex') FROM sessions ORDER BY 1").await,
        ["03", "04"]
    );

    let _ = stop.send(true);
    pool.close().await;
    common::postgres::drop_database(name);
}
