//! The hostile-input run (issue 8, "Done when"): fires bad input of every
//! kind at running servers, prints how many it tried of each, and proves
//! that none changed a login (users, sessions, attempts and their statuses,
//! recorded pushes and stamps are compared before and after each category)
//! nor harmed the server (a real login still goes through at the end).
//!
//! `scripts/test.sh` runs it with `-- --ignored --nocapture` so that its
//! table is in the test command's output (an ordinary `cargo test` hides
//! the output of passing tests). A few seconds.
//!
//! Each category is one `async fn` returning what it [`Tried`]; add one by
//! writing it and one line in [`hostile_input_run`].

mod common;

use std::{fmt::Write as _, future::Future};

use common::{
    fresh_nonce, new_browser, now_unix, scan_xml, spawn, text, TestApp, Wire, ACCOUNT, AES_KEY,
};
use wechat::callback::PushRequest;

const VICTIM: &str = "oVictimFakeOpenid000000000001";
const ATTACKER: &str = "oAttackerFakeOpenid0000000002";

/// What one category fired and how the server answered.
#[derive(Default)]
struct Tried {
    /// Requests sent.
    sent: usize,
    /// Answered with a 4xx.
    refused: usize,
    /// How many of each status came back (0: connection closed early).
    statuses: std::collections::BTreeMap<u16, usize>,
    /// Anything else, described (each one fails the run).
    unexpected: Vec<String>,
}

impl Tried {
    /// Counts one answer that must be a 4xx.
    fn expect_refused(&mut self, what: &str, status: u16, body: &str) {
        self.sent += 1;
        *self.statuses.entry(status).or_default() += 1;
        if (400..500).contains(&status) {
            self.refused += 1;
        } else {
            let body: String = body.chars().take(80).collect();
            self.unexpected.push(format!("{what}: {status} {body:?}"));
        }
    }
}

/// Everything a login is made of. Equal before and after an attack means
/// the attack changed no login.
#[derive(Debug, PartialEq, Eq)]
struct LoginState {
    users: Vec<(String, i64)>,
    sessions: i64,
    attempts: Vec<(String, String, Option<String>)>,
    pushes: i64,
    stamps: i64,
}

async fn login_state(app: &TestApp) -> LoginState {
    LoginState {
        users: sqlx::query_as("SELECT openid, following FROM users ORDER BY openid")
            .fetch_all(&app.db)
            .await
            .unwrap(),
        sessions: app.count("sessions").await,
        attempts: sqlx::query_as("SELECT id, status, openid FROM login_attempts ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap(),
        pushes: app.count("wechat_events").await,
        stamps: app.count("push_nonces").await,
    }
}

/// One printed line per category.
struct Row {
    category: &'static str,
    server: &'static str,
    tried: Tried,
    changed: bool,
}

#[derive(Default)]
struct Run {
    rows: Vec<Row>,
}

impl Run {
    /// Runs one category against `app`, comparing the logins around it.
    async fn category(
        &mut self,
        category: &'static str,
        server: &'static str,
        app: &TestApp,
        attack: impl Future<Output = Tried>,
    ) {
        let before = login_state(app).await;
        let tried = attack.await;
        let after = login_state(app).await;
        self.rows.push(Row {
            category,
            server,
            tried,
            changed: before != after,
        });
    }

    fn table(&self) -> String {
        let mut out = String::from(
            "\nhostile-input run\n\
             | category | server | tried | refused (4xx) | answers | logins changed |\n\
             |---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            let answers: Vec<String> = row
                .tried
                .statuses
                .iter()
                .map(|(status, n)| match status {
                    0 => format!("closed×{n}"),
                    _ => format!("{status}×{n}"),
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.category,
                row.server,
                row.tried.sent,
                row.tried.refused,
                answers.join(" "),
                if row.changed { "YES" } else { "none" }
            );
            for problem in row.tried.unexpected.iter().take(3) {
                let _ = writeln!(out, "|   unexpected: {problem} | | | | | |");
            }
            if row.tried.unexpected.len() > 3 {
                let more = row.tried.unexpected.len() - 3;
                let _ = writeln!(out, "|   … {more} more unexpected answers | | | | | |");
            }
        }
        out
    }
}

/// A whole login, as a browser and WeChat do it; the logged-in user's name.
async fn real_login(app: &TestApp, openid: &str) -> Result<String, String> {
    let browser = new_browser();
    let started = browser
        .post(app.url("/api/login/start"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: serde_json::Value = started.json().await.map_err(|e| e.to_string())?;
    let id = body["id"].as_str().ok_or("no attempt id")?.to_owned();
    let (status, reply) = app.scan(openid, &id, false).await;
    if status != 200 || !reply.contains("登录成功") {
        return Err(format!("the scan answered {status} {reply}"));
    }
    let done = browser
        .post(app.url(&format!("/api/login/{id}/complete")))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if done.status() != 200 {
        return Err(format!("complete answered {}", done.status()));
    }
    let me: serde_json::Value = browser
        .get(app.url("/api/me"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    me["user"]["display_name"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("/api/me answered {me}"))
}

/// A login waiting for its scan: the attacker's target.
async fn attacker_attempt(app: &TestApp) -> String {
    let response = new_browser()
        .post(app.url("/api/login/start"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Bodies an attacker would like to have accepted: a scan of his attempt
/// by the victim (new follower or not), a 确认, a follow, an unfollow.
fn wanted_bodies(attempt: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 5 {
            0 => scan_xml(VICTIM, attempt, false, now_unix() + i as i64),
            1 => scan_xml(VICTIM, attempt, true, now_unix() + i as i64),
            2 => text(VICTIM, "确认", &format!("9{i}")),
            3 => wechat::message::event_xml(ACCOUNT, VICTIM, now_unix(), "unsubscribe", None, None),
            _ => wechat::message::event_xml(ACCOUNT, ATTACKER, now_unix(), "subscribe", None, None),
        })
        .collect()
}

/// Wrong signatures, missing or malformed parameters, another account's
/// Token: nothing signed with ours.
async fn forged(app: &TestApp, attempt: &str) -> Tried {
    let mut tried = Tried::default();
    let now = now_unix().to_string();
    for (i, body) in wanted_bodies(attempt, 100).into_iter().enumerate() {
        let nonce = fresh_nonce();
        let query: Vec<(String, String)> = match i % 4 {
            0 => vec![
                ("signature".into(), format!("{i:040x}")),
                ("timestamp".into(), now.clone()),
                ("nonce".into(), nonce),
            ],
            1 => vec![
                (
                    "signature".into(),
                    wechat::signature::sign(&["not-our-token", &now, &nonce]),
                ),
                ("timestamp".into(), now.clone()),
                ("nonce".into(), nonce),
            ],
            2 => vec![("timestamp".into(), now.clone()), ("nonce".into(), nonce)],
            _ => vec![
                ("signature".into(), "%00'; DROP TABLE users; --".into()),
                ("timestamp".into(), "-1e99".into()),
                ("nonce".into(), "\u{0}".repeat(3)),
            ],
        };
        let (status, answer) = app.deliver_raw(&PushRequest { query, body }).await;
        tried.expect_refused("forged", status, &answer);
    }
    tried
}

/// The signed query of a genuine push (the victim's own scan, as an access
/// log shows it after the fact) reused with the bodies the attacker wants.
async fn replayed(app: &TestApp, attempt: &str, genuine: &PushRequest) -> Tried {
    let mut tried = Tried::default();
    for body in wanted_bodies(attempt, 100) {
        let replay = PushRequest {
            query: genuine.query.clone(),
            body,
        };
        let (status, answer) = app.deliver_raw(&replay).await;
        tried.expect_refused("replayed", status, &answer);
    }
    tried
}

/// Validly signed, but stamped outside the 300 s window (past and future).
async fn stale(app: &TestApp, attempt: &str) -> Tried {
    let mut tried = Tried::default();
    let skews = [
        -301,
        -600,
        -3_600,
        -86_400,
        -86_400 * 3_650,
        301,
        3_600,
        86_400,
    ];
    for (i, body) in wanted_bodies(attempt, 80).into_iter().enumerate() {
        let timestamp = (now_unix() + skews[i % skews.len()]).max(0).to_string();
        let request = app.signed(&body, Wire::Plain, &timestamp, &fresh_nonce());
        let (status, answer) = app.deliver_raw(&request).await;
        tried.expect_refused("stale", status, &answer);
    }
    tried
}

/// To a server with an EncodingAESKey: validly signed plain bodies, and
/// compatible-mode bodies with `encrypt_type` (and `msg_signature`) left out.
async fn downgraded(app: &TestApp, attempt: &str) -> Tried {
    let mut tried = Tried::default();
    let now = now_unix().to_string();
    for (i, body) in wanted_bodies(attempt, 100).into_iter().enumerate() {
        let request = if i % 2 == 0 {
            app.signed(&body, Wire::Plain, &now, &fresh_nonce())
        } else {
            let mut request = app.signed(&body, Wire::Compatible, &now, &fresh_nonce());
            request
                .query
                .retain(|(name, _)| name != "encrypt_type" && name != "msg_signature");
            request
        };
        let (status, answer) = app.deliver_raw(&request).await;
        tried.expect_refused("downgraded", status, &answer);
    }
    tried
}

/// Validly signed and fresh, but too big, too deep, too many fields or not
/// XML at all.
async fn oversized(app: &TestApp, attempt: &str) -> Tried {
    let mut tried = Tried::default();
    let scan = scan_xml(VICTIM, attempt, false, now_unix());
    let mut bodies: Vec<String> = [64 * 1024 + 1, 200_000, 1 << 20, 4 << 20]
        .iter()
        .map(|&size| scan.replace("</xml>", &format!("<Pad>{}</Pad></xml>", "a".repeat(size))))
        .collect();
    bodies.push(format!("<xml>{}</xml>", "<a>".repeat(10_000)));
    bodies.push(format!(
        "<xml>{}</xml>",
        (0..5_000)
            .map(|i| format!("<F{i}>x</F{i}>"))
            .collect::<String>()
    ));
    bodies.push(
        "<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><xml>&b;</xml>".into(),
    );
    bodies.push(String::from_utf8_lossy(&[0xff; 512]).into_owned());
    for body in bodies {
        let request = app.signed(&body, Wire::Plain, &now_unix().to_string(), &fresh_nonce());
        match reqwest::Client::new()
            .post(app.url("/wechat/callback"))
            .query(&request.query)
            .body(request.body)
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                let answer = response.text().await.unwrap_or_default();
                tried.expect_refused("oversized", status, &answer);
            }
            // The server may close the connection while a huge body is
            // still being written, after its 413.
            Err(err) if err.is_request() || err.is_body() => {
                tried.sent += 1;
                tried.refused += 1;
                *tried.statuses.entry(0).or_default() += 1;
            }
            Err(err) => {
                tried.sent += 1;
                tried.unexpected.push(format!("oversized: {err}"));
            }
        }
    }
    tried
}

#[tokio::test]
#[ignore = "run by scripts/test.sh with -- --ignored --nocapture, to print its table"]
async fn hostile_input_run() {
    let plain = spawn(&[]).await;
    let aes = spawn(&[("WECHAT_ENCODING_AES_KEY", AES_KEY)]).await;
    // Something to protect: a finished login and a waiting one on each.
    for app in [&plain, &aes] {
        real_login(app, VICTIM)
            .await
            .expect("a login before the run");
        app.start().await;
    }

    // The attacker's own login on each server, which his pushes aim at.
    let (on_plain, on_aes) = (attacker_attempt(&plain).await, attacker_attempt(&aes).await);

    let mut run = Run::default();
    run.category("forged pushes", "plain", &plain, forged(&plain, &on_plain))
        .await;
    run.category("stale pushes", "plain", &plain, stale(&plain, &on_plain))
        .await;
    run.category(
        "oversized pushes",
        "plain",
        &plain,
        oversized(&plain, &on_plain),
    )
    .await;
    run.category("forged pushes", "AES", &aes, forged(&aes, &on_aes))
        .await;
    run.category("stale pushes", "AES", &aes, stale(&aes, &on_aes))
        .await;
    run.category("downgraded pushes", "AES", &aes, downgraded(&aes, &on_aes))
        .await;
    // The victim's genuine push, whose signed query the attacker then reads
    // in an access log.
    let own = plain.start().await;
    let genuine = plain.signed(
        &scan_xml(VICTIM, &own, true, now_unix()),
        Wire::Plain,
        &now_unix().to_string(),
        &fresh_nonce(),
    );
    let (status, reply) = plain.deliver(&genuine).await;
    assert!(
        status == 200 && reply.contains("登录成功"),
        "{status} {reply}"
    );
    run.category(
        "replayed pushes",
        "plain",
        &plain,
        replayed(&plain, &on_plain, &genuine),
    )
    .await;

    let mut harmed = Vec::new();
    for (name, app) in [("plain", &plain), ("AES", &aes)] {
        match real_login(app, "oAfterTheRunFakeOpenid0000001").await {
            Ok(_) => {}
            Err(err) => harmed.push(format!("{name}: {err}")),
        }
        let health = reqwest::get(app.url("/healthz")).await.unwrap();
        if health.status() != 200 {
            harmed.push(format!("{name}: /healthz answered {}", health.status()));
        }
    }

    let mut table = run.table();
    let total: usize = run.rows.iter().map(|r| r.tried.sent).sum();
    let _ = writeln!(
        table,
        "{total} hostile requests; afterwards both servers answered a real login (start, scan, complete, /api/me) and /healthz: {}",
        if harmed.is_empty() { "yes" } else { "NO" }
    );
    println!("{table}");

    for row in &run.rows {
        assert!(row.tried.unexpected.is_empty(), "{table}");
        assert_eq!(row.tried.refused, row.tried.sent, "{table}");
        assert!(!row.changed, "{} changed a login\n{table}", row.category);
    }
    assert!(harmed.is_empty(), "{harmed:?}\n{table}");
    assert!(total >= 500, "{table}");
}
