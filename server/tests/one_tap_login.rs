//! 微信一键登录 inside WeChat (网页授权 `snsapi_base`, `LOGIN_WECHAT_OAUTH`),
//! against the whole server and the sandbox's authorize page and API.

mod common;

use common::{new_browser, spawn, TestApp};
use reqwest::{redirect::Policy, StatusCode, Url};
use serde_json::{json, Value};

const ON: &[(&str, &str)] = &[("LOGIN_WECHAT_OAUTH", "1")];

/// A browser that stops at each redirect, as the tests follow them by hand.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// A sandbox user who follows the account (he scanned a login QR once).
async fn follower(app: &TestApp) -> String {
    let other = new_browser();
    let started: Value = other
        .post(app.url("/api/login/start"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user: Value = other
        .post(app.url("/sandbox/wechat/phone/api/users"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let openid = user["openid"].as_str().unwrap().to_owned();
    let scanned = other
        .post(app.url("/sandbox/wechat/phone/api/scan"))
        .json(&json!({ "url": started["qr_url"], "openid": openid }))
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.status(), 200);
    openid
}

/// `GET /api/login/oauth?to=…`: the authorize URL's query, and the
/// binding cookie's secret.
async fn begin_with_secret(
    app: &TestApp,
    browser: &reqwest::Client,
    to: &str,
) -> (Vec<(String, String)>, String) {
    let response = browser
        .get(app.url(&format!("/api/login/oauth?to={to}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("login_oauth=")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let authorize = Url::parse(&location(&response)).unwrap();
    assert_eq!(authorize.path(), "/sandbox/wechat/connect/oauth2/authorize");
    assert_eq!(authorize.fragment(), Some("wechat_redirect"));
    let secret = cookie["login_oauth=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (authorize.query_pairs().into_owned().collect(), secret)
}

async fn begin(app: &TestApp, browser: &reqwest::Client, to: &str) -> Vec<(String, String)> {
    begin_with_secret(app, browser, to).await.0
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> &'a str {
    &query.iter().find(|(key, _)| key == name).unwrap().1
}

/// The sandbox user `openid` allows (as `appid`): where WeChat sends the
/// browser back, with the code.
async fn allow(app: &TestApp, query: &[(String, String)], appid: &str, openid: &str) -> Url {
    let response = browser()
        .post(app.url("/sandbox/wechat/connect/oauth2/authorize"))
        .form(&[
            ("appid", appid),
            ("redirect_uri", param(query, "redirect_uri")),
            ("state", param(query, "state")),
            ("openid", openid),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        response.text().await.unwrap()
    );
    Url::parse(&location(&response)).unwrap()
}

async fn me(app: &TestApp, browser: &reqwest::Client) -> StatusCode {
    browser
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .status()
}

/// Logins counted for the operator page.
async fn logins(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM ops_events WHERE kind = 'login'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    n
}

#[tokio::test]
async fn one_tap_logs_a_follower_in_and_comes_back_to_the_page() {
    let app = spawn(ON).await;
    let openid = follower(&app).await;
    let phone = browser();
    let query = begin(&app, &phone, "/articles").await;
    assert_eq!(param(&query, "scope"), "snsapi_base");
    assert_eq!(param(&query, "appid"), common::APPID);
    // The sandbox's authorize page asks which simulated user allows.
    let page = phone
        .get(app.url(&format!(
            "/sandbox/wechat/connect/oauth2/authorize?{}",
            Url::parse_with_params("http://x/", &query).unwrap().query().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("允许"));

    let logins_before = logins(&app).await;
    let back = allow(&app, &query, common::APPID, &openid).await;
    let answer = phone.get(back.as_str()).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/articles");
    assert_eq!(me(&app, &phone).await, 200);
    // The operator page counts it with the session, in the same commit.
    assert_eq!(logins(&app).await, logins_before + 1);
    let (attempts,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM login_attempts WHERE id = $1 AND status = 'consumed' AND openid = $2",
    )
    .bind(param(&query, "state"))
    .bind(&openid)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn a_visitor_who_does_not_follow_is_shown_the_follow_qr() {
    let app = spawn(ON).await;
    let phone = browser();
    let query = begin(&app, &phone, "/about").await;
    let users = app.count("users").await;
    // An empty openid: a new sandbox user, who does not follow.
    let back = allow(&app, &query, common::APPID, "").await;
    let answer = phone.get(back.as_str()).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/about#login-follow");
    assert_eq!(me(&app, &phone).await, 401);
    assert_eq!(app.count("users").await, users);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn without_followers_only_a_visitor_who_does_not_follow_is_logged_in() {
    let app = spawn(&[
        ("LOGIN_WECHAT_OAUTH", "1"),
        ("LOGIN_OAUTH_FOLLOWERS_ONLY", "0"),
    ])
    .await;
    let phone = browser();
    let query = begin(&app, &phone, "/").await;
    let back = allow(&app, &query, common::APPID, "").await;
    let answer = phone.get(back.as_str()).send().await.unwrap();
    assert_eq!(location(&answer), "/");
    assert_eq!(me(&app, &phone).await, 200);
    let (following,): (i64,) = sqlx::query_as("SELECT following FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(following, 0, "recorded as not following");
}

/// A forged, foreign or reused `state`, and a reused `code` or one issued
/// for another appid: each a 400 page that changes nothing.
#[tokio::test]
async fn forged_or_reused_states_and_codes_are_refused_and_change_nothing() {
    let app = spawn(ON).await;
    let openid = follower(&app).await;

    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let cleared = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        let page = response.text().await.unwrap();
        assert!(page.contains("这个登录链接已经失效"), "{page}");
    };

    // The victim's browser starts; the attacker's browser (its own cookie)
    // tries to come back with the victim's state and a code of his own.
    let victim = browser();
    let (victim_query, victim_secret) = begin_with_secret(&app, &victim, "/").await;
    let attacker = browser();
    let attacker_query = begin(&app, &attacker, "/").await;
    let attacker_back = allow(&app, &attacker_query, common::APPID, &openid).await;
    let code = attacker_back
        .query_pairs()
        .find(|(key, _)| key == "code")
        .unwrap()
        .1
        .into_owned();
    let with = |state: &str, code: &str| {
        app.url(&format!(
            "/api/login/oauth/return?code={code}&state={state}&to=/"
        ))
    };
    refused(
        attacker
            .get(with(param(&victim_query, "state"), &code))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // No cookie at all, an unknown state, a state that is no attempt id.
    refused(
        browser()
            .get(with(param(&attacker_query, "state"), &code))
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(
        attacker
            .get(with(&"0".repeat(32), &code))
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(attacker.get(with("not-an-id", &code)).send().await.unwrap()).await;
    refused(
        attacker
            .get(app.url("/api/login/oauth/return"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(app.count("sessions").await, 0);

    // The real return works once; then the same state (with the old cookie
    // put back by hand) and the same code are refused.
    let victim_back = allow(&app, &victim_query, common::APPID, &openid).await;
    let first = victim.get(victim_back.as_str()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&app, &victim).await, 200);
    assert_eq!(app.count("sessions").await, 1);
    // Its cookie was cleared; replayed with the old one put back, the state
    // has served already.
    let replay = browser()
        .get(victim_back.as_str())
        .header("cookie", format!("login_oauth={victim_secret}"))
        .send()
        .await
        .unwrap();
    refused(replay).await;

    // A used code, with a fresh state of this browser.
    let again = begin(&app, &victim, "/").await;
    let used_code = victim_back
        .query_pairs()
        .find(|(key, _)| key == "code")
        .unwrap()
        .1
        .into_owned();
    refused(
        victim
            .get(with(param(&again, "state"), &used_code))
            .send()
            .await
            .unwrap(),
    )
    .await;

    // A code the sandbox issued to another appid.
    let other_app = allow(&app, &again, "wxOtherApp00000000", &openid).await;
    refused(victim.get(other_app.as_str()).send().await.unwrap()).await;

    assert_eq!(app.count("sessions").await, 1, "only the one real login");
    let (pending,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM login_attempts WHERE id = $1 AND status = 'pending'")
            .bind(param(&again, "state"))
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(pending, 1, "a refused code leaves the attempt waiting");
}

#[tokio::test]
async fn one_tap_is_off_unless_turned_on() {
    let app = spawn(&[]).await;
    let response = browser()
        .get(app.url("/api/login/oauth?to=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(app.count("login_attempts").await, 0);
}

/// The sandbox plays WeChat's refusals: a redirect_uri off the site, a bad
/// state, a wrong scope; a code exchange with missing or wrong parts;
/// user/info without a valid token.
#[tokio::test]
async fn the_sandbox_refuses_what_wechat_refuses() {
    let app = spawn(ON).await;
    let site = app.url("");
    let authorize = |query: String| {
        let url = app.url(&format!("/sandbox/wechat/connect/oauth2/authorize?{query}"));
        async move { browser().get(url).send().await.unwrap().status() }
    };
    let good = |redirect: &str, scope: &str, state: &str| {
        Url::parse_with_params(
            "http://x/",
            &[
                ("appid", common::APPID),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", scope),
                ("state", state),
            ],
        )
        .unwrap()
        .query()
        .unwrap()
        .to_owned()
    };
    let back = format!("{site}/api/login/oauth/return");
    assert_eq!(authorize(good(&back, "snsapi_base", "abc123")).await, 200);
    for query in [
        good("https://evil.example/steal", "snsapi_base", "abc"),
        good(&format!("{site}.evil.example/"), "snsapi_base", "abc"),
        good(&back, "snsapi_userinfo", "abc"),
        good(&back, "snsapi_base", "<script>"),
        good(&back, "snsapi_base", &"a".repeat(129)),
        String::new(),
    ] {
        assert_eq!(authorize(query.clone()).await, 400, "{query}");
    }

    let exchange = |query: &str| {
        let url = app.url(&format!("/sandbox/wechat/sns/oauth2/access_token?{query}"));
        async move {
            let answer: Value = browser()
                .get(url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["errcode"].as_i64().unwrap_or(0)
        }
    };
    let appid = common::APPID;
    assert_eq!(exchange("").await, 40002);
    assert_eq!(exchange("grant_type=authorization_code").await, 41002);
    assert_eq!(
        exchange("grant_type=authorization_code&appid=wxNope&secret=x&code=c").await,
        40013
    );
    assert_eq!(
        exchange(&format!(
            "grant_type=authorization_code&appid={appid}&secret=wrong&code=c"
        ))
        .await,
        40125
    );

    let info = |query: &str| {
        let url = app.url(&format!("/sandbox/wechat/cgi-bin/user/info?{query}"));
        async move {
            let answer: Value = browser()
                .get(url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["errcode"].as_i64().unwrap_or(0)
        }
    };
    assert_eq!(info("openid=o1").await, 41001);
    assert_eq!(info("access_token=forged&openid=o1").await, 40001);
}
