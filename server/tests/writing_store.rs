//! The writing module's store through its trait, on the engine the suite
//! runs on (`WENSI_TEST_DB`): the same behaviour from SQLite's writer jobs
//! and from PostgreSQL's transactions — the daily limit under parallel
//! reservations, appends that land once where the text ends, the end of a
//! generation, edits, versions, the restart sweep; on PostgreSQL also the
//! notifications each write sends, a U+0000 that must not lose text, the
//! places several processes share and the generations only a gone
//! process's restart sweep takes.

mod common;

use std::{sync::Arc, time::Duration};

use app::modules::writing::protocol::{GenerationStatus, Regenerate, Usage};
use server::{
    db::{self, Database, Engine},
    db_writer::{self, DbWriter},
    notify::{self, Heard, Listener},
    on_engine,
    state::Shutdown,
    writing::{
        generation::Ending,
        leases::{Leases, Place, LEASE},
        store::{
            postgres::PostgresArticles, sqlite::SqliteArticles, Append, ArticleStore, Finish,
            NewArticle, Quota, Regenerated,
        },
    },
};

/// A store on a fresh database with users 1 and 2; dropping it drops a
/// PostgreSQL database.
struct Fixture {
    store: Arc<dyn ArticleStore>,
    database: Database,
    _dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            common::postgres::drop_database(name);
        }
    }
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg_name) = match common::engine() {
        Engine::Sqlite => (format!("sqlite://{}/w.db", dir.path().display()), None),
        Engine::Postgres => {
            let name = common::postgres::create_database().await;
            (common::postgres::url_of(&name), Some(name))
        }
    };
    let database = db::open(&url, 8).await.unwrap();
    let store: Arc<dyn ArticleStore> = match &database {
        Database::Sqlite(pool) => {
            let writer = DbWriter::spawn(&dir.path().join("w.db"), db_writer::BUSY_TIMEOUT);
            Arc::new(SqliteArticles::new(pool.clone(), Arc::new(writer.unwrap())))
        }
        // A process with no lease: its versions count as left by a
        // process that is gone.
        Database::Postgres(pool) => Arc::new(PostgresArticles::new(pool.clone(), "gone".into())),
    };
    for id in [1_i64, 2] {
        on_engine!(&database, pool => sqlx::query(
            "INSERT INTO users (id, openid, display_name, created_at) VALUES ($1, $2, '读者', 0)",
        )
        .bind(id)
        .bind(format!("o{id}"))
        .execute(pool)
        .await
        .map(|_| ())
        .unwrap());
    }
    Fixture {
        store,
        database,
        _dir: dir,
        pg_name,
    }
}

impl Fixture {
    async fn start(&self, id: &str, user: i64) {
        let counted = self
            .store
            .start_article(new_article(id, user), quota(user, 0, 0), 1)
            .await
            .unwrap();
        assert!(counted.is_some());
    }

    async fn body(&self, id: &str, number: i64) -> (String, GenerationStatus) {
        let row = self.store.version(id, number).await.unwrap().unwrap();
        let status = row.status();
        (row.body, status)
    }
}

fn quota(user: i64, since: i64, limit: u32) -> Quota {
    Quota { user, since, limit }
}

fn new_article(id: &str, user: i64) -> NewArticle {
    NewArticle {
        id: id.into(),
        user,
        title: "春茶".into(),
        kind: "博客".into(),
        brief: "{}".into(),
    }
}

fn piece(article: &str, at: usize, text: &str) -> Append {
    Append {
        article: article.into(),
        version: 1,
        text_at: at,
        reasoning_at: 0,
        text: text.into(),
        reasoning: String::new(),
        status: GenerationStatus::Running,
    }
}

fn ending(status: GenerationStatus, text: &str) -> Ending {
    Ending {
        status,
        text: text.into(),
        reasoning: "想想".into(),
        problem: None,
        usage: Some(Usage {
            prompt_tokens: 10,
            completion_tokens: 20,
            ..Usage::default()
        }),
        elapsed_ms: 1234,
    }
}

#[tokio::test]
async fn the_daily_limit_holds_under_parallel_reservations() {
    let f = fixture().await;
    // Sixteen requests of one user at once, three allowed: on PostgreSQL
    // each in its own transaction on its own connection.
    let tries: Vec<_> = (0..16)
        .map(|i| {
            let store = f.store.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    store
                        .reserve_generation(quota(1, 1_000, 3), 1_000 + i)
                        .await
                } else {
                    store
                        .start_article(
                            new_article(&format!("a{i}"), 1),
                            quota(1, 1_000, 3),
                            1_000 + i,
                        )
                        .await
                }
            })
        })
        .collect();
    let mut taken = Vec::new();
    for t in tries {
        if let Some(id) = t.await.unwrap().unwrap() {
            taken.push(id);
        }
    }
    assert_eq!(taken.len(), 3, "exactly the limit");
    assert_eq!(f.store.used_since(1, 1_000).await.unwrap(), 3);
    let started = f.store.list(1).await.unwrap().len();
    assert!(started <= 3, "no article beyond the limit: {started}");
    assert!(
        f.store
            .reserve_generation(quota(2, 1_000, 3), 1_000)
            .await
            .unwrap()
            .is_some(),
        "per user"
    );
    assert!(
        f.store
            .reserve_generation(quota(1, 2_000, 3), 2_000)
            .await
            .unwrap()
            .is_some(),
        "a new day"
    );
    assert!(
        f.store
            .reserve_generation(quota(1, 0, 0), 2_000)
            .await
            .unwrap()
            .is_some(),
        "0: no limit"
    );
    f.store.give_back_generation(taken[0]).await.unwrap();
    assert_eq!(f.store.used_since(1, 1_000).await.unwrap(), 4);
    assert_eq!(f.store.forget_generations(1_999).await.unwrap(), 3);
    assert_eq!(f.store.used_since(1, 0).await.unwrap(), 2);
}

#[tokio::test]
async fn appends_land_once_where_the_text_ends_and_the_end_is_one_write() {
    let f = fixture().await;
    f.start("a", 1).await;
    let batch = Arc::new(vec![piece("a", 0, "春天"), piece("a", 6, "喝茶")]);
    assert_eq!(f.store.append(batch).await.unwrap().stored, 2);
    let again = Arc::new(vec![piece("a", 6, "喝茶")]);
    assert_eq!(
        f.store.append(again).await.unwrap().stored,
        0,
        "already there"
    );
    assert_eq!(
        f.body("a", 1).await,
        ("春天喝茶".to_owned(), GenerationStatus::Running)
    );
    assert_eq!(f.store.list(1).await.unwrap()[0].chars, 4);

    let end = Finish {
        article: "a".into(),
        version: 1,
        end: ending(GenerationStatus::Done, "# 春茶好\n\n春天喝茶。"),
        title: Some("春茶好".into()),
        give_back: None,
    };
    f.store.finish(Arc::new(end)).await.unwrap();
    let late = Arc::new(vec![piece("a", 12, "晚了")]);
    assert_eq!(f.store.append(late).await.unwrap().stored, 0, "finished");
    let row = f.store.version("a", 1).await.unwrap().unwrap();
    assert_eq!(row.body, "# 春茶好\n\n春天喝茶。");
    assert_eq!(row.reasoning, "想想");
    assert_eq!(row.usage().unwrap().completion_tokens, 20);
    assert_eq!(row.elapsed_ms, 1234);
    let article = f.store.article("a", 1).await.unwrap().unwrap();
    assert_eq!(article.title, "春茶好");
    assert!(
        f.store.article("a", 2).await.unwrap().is_none(),
        "not user 2's"
    );
    assert_eq!(f.store.list(1).await.unwrap()[0].chars, 12);
    // Counted for the operator page in the same write.
    let (done,): (i64,) = on_engine!(&f.database, pool => sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM ops_events WHERE kind = 'generation:done'",
    )
    .fetch_one(pool)
    .await
    .unwrap());
    assert_eq!(done, 1);
}

#[tokio::test]
async fn versions_edits_deletion_and_the_restart_sweep() {
    let f = fixture().await;
    f.start("a", 1).await;
    let q = quota(1, 0, 0);
    assert_eq!(
        f.store
            .regenerate("a", 1, Regenerate::Fresh, q, 2)
            .await
            .unwrap(),
        Regenerated::Busy,
        "v1 still queued"
    );
    assert_eq!(f.store.used_since(1, 0).await.unwrap(), 1, "given back");
    assert_eq!(
        f.store
            .save("a", 1, "我的".into(), "改过".into())
            .await
            .unwrap(),
        None,
        "being written"
    );
    assert_eq!(f.store.interrupt_unfinished("重启了").await.unwrap(), 1);
    let Regenerated::Queued { version, .. } = f
        .store
        .regenerate("a", 1, Regenerate::Fresh, q, 4)
        .await
        .unwrap()
    else {
        panic!("a new version")
    };
    assert_eq!(version, 2);
    assert_eq!(
        f.store
            .regenerate("a", 1, Regenerate::Fresh, q, 4)
            .await
            .unwrap(),
        Regenerated::Busy,
        "not the newest"
    );
    assert_eq!(
        f.store
            .regenerate("a", 2, Regenerate::Continue, q, 5)
            .await
            .unwrap(),
        Regenerated::Busy,
        "queued: nothing to continue"
    );
    assert_eq!(
        f.store
            .regenerate("a", 2, Regenerate::Fresh, quota(1, 0, 2), 5)
            .await
            .unwrap(),
        Regenerated::DailyLimit
    );
    let infos = f.store.version_infos("a").await.unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!(
        f.store
            .latest_version("a", 1)
            .await
            .unwrap()
            .unwrap()
            .number,
        2
    );
    assert!(f.store.latest_version("a", 2).await.unwrap().is_none());
    f.store.interrupt_unfinished("重启了").await.unwrap();
    assert!(matches!(
        f.store
            .regenerate("a", 2, Regenerate::Continue, q, 6)
            .await
            .unwrap(),
        Regenerated::Queued { version: 2, .. }
    ));
    f.store.interrupt_unfinished("重启了").await.unwrap();
    assert_eq!(
        f.store
            .save("a", 2, "我的".into(), "改过".into())
            .await
            .unwrap(),
        Some(1)
    );
    let listed = f.store.list(1).await.unwrap();
    assert_eq!((listed[0].title.as_str(), listed[0].chars), ("我的", 2));
    assert!(f.store.list(2).await.unwrap().is_empty());
    assert!(!f.store.delete("a", 2).await.unwrap(), "not user 2's");
    assert!(f.store.delete("a", 1).await.unwrap());
    assert!(
        f.store.version("a", 1).await.unwrap().is_none(),
        "versions go too"
    );
}

/// PostgreSQL's text cannot hold U+0000: a model that sends one must not
/// make the batch fail (and its text be lost).
#[tokio::test]
async fn a_nul_in_the_text_is_stored_as_a_replacement_character() {
    let f = fixture().await;
    f.start("a", 1).await;
    let batch = Arc::new(vec![piece("a", 0, "春\0天")]);
    assert_eq!(f.store.append(batch).await.unwrap().stored, 1);
    let (body, _) = f.body("a", 1).await;
    assert!(body == "春\u{FFFD}天" || body == "春\0天", "{body:?}");
    let end = Finish {
        article: "a".into(),
        version: 1,
        end: ending(GenerationStatus::Done, "# 标\0题\n\n正\0文"),
        title: Some("标\0题".into()),
        give_back: None,
    };
    f.store.finish(Arc::new(end)).await.unwrap();
    let (body, status) = f.body("a", 1).await;
    assert_eq!(status, GenerationStatus::Done);
    assert_eq!(
        body.replace('\0', "\u{FFFD}"),
        "# 标\u{FFFD}题\n\n正\u{FFFD}文"
    );
}

/// On PostgreSQL each write a follower waits for announces its article in
/// the same transaction.
#[tokio::test]
async fn every_write_a_follower_waits_for_is_announced() {
    if common::skip_unless_postgres("every_write_a_follower_waits_for_is_announced") {
        return;
    }
    let f = fixture().await;
    let Database::Postgres(pool) = &f.database else {
        unreachable!()
    };
    let (_stop, shutdown) = Shutdown::new();
    let listener = Listener::start(pool, shutdown).await.unwrap();
    let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel();
    listener.on(
        notify::ARTICLE,
        Arc::new(move |what: Heard<'_>| {
            if let Heard::Changed(id) = what {
                let _ = heard.send(id.to_owned());
            }
        }),
    );
    f.start("a", 1).await;
    f.start("b", 1).await;
    let batch = Arc::new(vec![piece("a", 0, "春"), piece("b", 0, "夏")]);
    f.store.append(batch).await.unwrap();
    let mut both = vec![next(&mut hearing).await, next(&mut hearing).await];
    both.sort();
    assert_eq!(both, ["a", "b"]);
    let stale = Arc::new(vec![piece("a", 0, "春")]);
    f.store.append(stale).await.unwrap();
    let end = Finish {
        article: "a".into(),
        version: 1,
        end: ending(GenerationStatus::Done, "春"),
        title: None,
        give_back: None,
    };
    f.store.finish(Arc::new(end)).await.unwrap();
    assert_eq!(
        next(&mut hearing).await,
        "a",
        "the end (a stale piece said nothing)"
    );
    assert!(matches!(
        f.store
            .regenerate("a", 1, Regenerate::Fresh, quota(1, 0, 0), 2)
            .await
            .unwrap(),
        Regenerated::Queued { .. }
    ));
    assert_eq!(next(&mut hearing).await, "a", "a new version");
    assert!(f.store.delete("b", 1).await.unwrap());
    assert_eq!(next(&mut hearing).await, "b", "deleted");
}

async fn next(hearing: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(5), hearing.recv())
        .await
        .expect("announced")
        .unwrap()
}

fn pg(f: &Fixture) -> sqlx::PgPool {
    match &f.database {
        Database::Postgres(pool) => pool.clone(),
        Database::Sqlite(_) => unreachable!("PostgreSQL only"),
    }
}

/// Two processes (A and B) share a user's places and the site's DeepSeek
/// places; a crashed process's places stop counting when its lease
/// expires.
#[tokio::test]
async fn places_hold_across_processes_and_come_back_after_a_crash() {
    if common::skip_unless_postgres("places_hold_across_processes_and_come_back_after_a_crash") {
        return;
    }
    let f = fixture().await;
    let pool = pg(&f);
    let a = Leases::join(pool.clone()).await.unwrap();
    let b = Leases::join(pool.clone()).await.unwrap();
    let _a1 = a.take(Place::User(1), 2).await.unwrap().expect("A: first");
    let b1 = b.take(Place::User(1), 2).await.unwrap().expect("B: second");
    assert!(
        a.take(Place::User(1), 2).await.unwrap().is_none(),
        "A: a third"
    );
    assert!(
        b.take(Place::User(1), 2).await.unwrap().is_none(),
        "B: a third"
    );
    assert!(
        b.take(Place::User(2), 2).await.unwrap().is_some(),
        "per user"
    );
    assert_eq!(a.count(Place::User(1)).await.unwrap(), 2);

    // Sixteen requests at once, half on each process, three places.
    let tries: Vec<_> = (0..16)
        .map(|i| {
            let leases = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { leases.take(Place::User(5), 3).await.unwrap() })
        })
        .collect();
    let mut taken = Vec::new();
    for t in tries {
        taken.extend(t.await.unwrap());
    }
    assert_eq!(taken.len(), 3, "the limit holds for the cluster");
    drop(taken);

    // The site's DeepSeek cap: B waits until A gives one back.
    let a_request = a.take(Place::Deepseek, 2).await.unwrap().unwrap();
    let _b_request = b.take(Place::Deepseek, 2).await.unwrap().unwrap();
    let mut waiting = Box::pin(b.deepseek(2));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut waiting)
            .await
            .is_err(),
        "no third DeepSeek request in the cluster"
    );
    drop(a_request);
    let _third = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("B takes the place A gave back");

    // B crashes: no heartbeat. Once its lease has expired its places do
    // not count, and the next heartbeat forgets it with them.
    std::mem::forget(b1);
    sqlx::query("UPDATE writing_processes SET expires_at = $1 WHERE id = $2")
        .bind(server::clock::now_ms() - 2 * LEASE.as_millis() as i64)
        .bind(b.process())
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(a.count(Place::User(1)).await.unwrap(), 1);
    assert!(
        a.take(Place::User(1), 2).await.unwrap().is_some(),
        "B's place is back"
    );
    a.renew().await.unwrap();
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM writing_leases WHERE process = $1")
        .bind(b.process())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "a long-gone process's places are deleted");
    // B comes back (the database was away longer than its lease): its
    // row was forgotten, its next place makes it again.
    let b_again = b.take(Place::User(9), 2).await.unwrap();
    assert!(b_again.is_some(), "B joins again");
    // A graceful stop gives everything back at once.
    a.leave().await.unwrap();
    assert_eq!(a.count(Place::User(1)).await.unwrap(), 0);
}

/// The restart sweep (at start-up and at every heartbeat) marks
/// interrupted only what processes that are gone left running.
#[tokio::test]
async fn only_the_generations_of_processes_that_are_gone_are_interrupted() {
    if common::skip_unless_postgres(
        "only_the_generations_of_processes_that_are_gone_are_interrupted",
    ) {
        return;
    }
    let f = fixture().await;
    let pool = pg(&f);
    let live = Leases::join(pool.clone()).await.unwrap();
    let mine = PostgresArticles::new(pool.clone(), live.process().to_owned());
    mine.start_article(new_article("mine", 1), quota(1, 0, 0), 1)
        .await
        .unwrap();
    f.start("left", 1).await;
    assert_eq!(mine.interrupt_unfinished("重启了").await.unwrap(), 1);
    assert_eq!(f.body("left", 1).await.1, GenerationStatus::Interrupted);
    assert_eq!(
        f.body("mine", 1).await.1,
        GenerationStatus::Queued,
        "a live process's"
    );
    live.leave().await.unwrap();
    assert_eq!(f.store.interrupt_unfinished("重启了").await.unwrap(), 1);
    assert_eq!(f.body("mine", 1).await.1, GenerationStatus::Interrupted);
}

/// A stop pressed on another process is stored, announced, and handed to
/// the owner with its next batch.
#[tokio::test]
async fn a_stop_pressed_elsewhere_reaches_the_owner() {
    let f = fixture().await;
    f.start("a", 1).await;
    let asked = f.store.request_stop("a", 2).await.unwrap();
    assert!(!asked, "not user 2's");
    let asked = f.store.request_stop("a", 1).await.unwrap();
    if common::engine() == Engine::Sqlite {
        assert!(!asked, "one process: stops are in memory");
        return;
    }
    assert!(asked);
    assert_eq!(
        f.store
            .stop_requested(vec!["a".into(), "b".into()])
            .await
            .unwrap(),
        ["a"]
    );
    let batch = Arc::new(vec![piece("a", 0, "春")]);
    assert_eq!(f.store.append(batch).await.unwrap().stop, ["a"]);
    let end = Finish {
        article: "a".into(),
        version: 1,
        end: ending(GenerationStatus::Stopped, "春"),
        title: None,
        give_back: None,
    };
    f.store.finish(Arc::new(end)).await.unwrap();
    assert!(!f.store.request_stop("a", 1).await.unwrap(), "finished");
    assert!(f
        .store
        .stop_requested(vec!["a".into()])
        .await
        .unwrap()
        .is_empty());
}

/// Figures, not a check: `cargo test -p server --release --test writing_store
/// -- --ignored --nocapture appends_at_scale` (with `WENSI_TEST_DB=postgres`
/// for PostgreSQL). N generations each get a piece of 60 bytes (20 字, a
/// quarter of a second at DeepSeek's pace) per batch, as the flusher sends
/// them, until each text is 12 KB (200 batches): the time of one batch as
/// the texts grow.
#[tokio::test]
#[ignore]
async fn appends_at_scale() {
    for n in [100_usize, 1_000] {
        let f = fixture().await;
        let ids: Vec<String> = (0..n).map(|i| format!("a{i:04}")).collect();
        for id in &ids {
            f.start(id, 1).await;
        }
        let piece_text = "春天喝茶，绿茶清香。".repeat(2);
        let mut at = 0;
        let mut took = Vec::new();
        for _ in 0..200 {
            let batch: Vec<Append> = ids.iter().map(|id| piece(id, at, &piece_text)).collect();
            let started = std::time::Instant::now();
            let stored = f.store.append(Arc::new(batch)).await.unwrap().stored;
            took.push(started.elapsed());
            assert_eq!(stored, n);
            at += piece_text.len();
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut sorted = took.clone();
        sorted.sort();
        println!(
            "{:?} {n} generations: batch p50 {:.1} ms, p99 {:.1} ms; first 10 batches {:.1} ms, last 10 {:.1} ms (mean); {:.0} pieces/s",
            common::engine(),
            ms(sorted[sorted.len() / 2]),
            ms(sorted[sorted.len() * 99 / 100]),
            took[..10].iter().map(|d| ms(*d)).sum::<f64>() / 10.0,
            took[took.len() - 10..].iter().map(|d| ms(*d)).sum::<f64>() / 10.0,
            (n * took.len()) as f64 / took.iter().sum::<Duration>().as_secs_f64(),
        );
    }
}
