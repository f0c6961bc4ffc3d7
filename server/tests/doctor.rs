//! `server doctor` against the sandboxes of a running site: all green, then
//! each injected fault (and each wrong value) gives its own Chinese advice.
//!
//! The site runs in sandbox mode; the doctor runs in real mode with fake
//! credentials, pointed at the site's `/sandbox/wechat` and
//! `/sandbox/deepseek` (WECHAT_API_BASE, DEEPSEEK_BASE_URL) and at the site
//! itself (PUBLIC_URL). The sandbox accepts only its own AppSecret, so the
//! test gives the site a known one after parsing its settings: a value no
//! setting can give (sandbox mode refuses WECHAT_APPSECRET), for the test's
//! site only.

mod common;

use std::{collections::HashMap, process::Command};

use common::{TestApp, AES_KEY, APPID, TOKEN};
use secrecy::SecretString;
use serde_json::{json, Value};
use server::doctor::{self, Report, Status};

const SECRET: &str = "fake-secret-for-doctor-tests";
const DEEPSEEK_KEY: &str = "sk-fake-key-for-tests";
const ADMIN: &str = "oAdminForDoctorTests00000000";

async fn site() -> TestApp {
    let app = common::spawn_with(
        &[
            ("WECHAT_ENCODING_AES_KEY", AES_KEY),
            ("DEEPSEEK_SANDBOX", "1"),
            ("DEEPSEEK_SANDBOX_TOKENS_PER_SECOND", "0"),
        ],
        |config| config.wechat.secret = SecretString::from(SECRET),
    )
    .await;
    // The operator has logged in once.
    let id = app.start().await;
    app.scan(ADMIN, &id, false).await;
    assert_eq!(app.complete(&id).await.status(), 200);
    app
}

/// The settings of a real site whose WeChat and DeepSeek are `app`'s
/// sandboxes (fake values throughout).
fn settings(app: &TestApp) -> HashMap<String, String> {
    let address = app.base.trim_start_matches("http://");
    [
        ("WECHAT_APPID", APPID.to_owned()),
        ("WECHAT_APPSECRET", SECRET.to_owned()),
        ("WECHAT_TOKEN", TOKEN.to_owned()),
        ("WECHAT_ENCODING_AES_KEY", AES_KEY.to_owned()),
        ("WECHAT_API_BASE", app.url("/sandbox/wechat")),
        ("DEEPSEEK_API_KEY", DEEPSEEK_KEY.to_owned()),
        ("DEEPSEEK_BASE_URL", app.url("/sandbox/deepseek")),
        ("PUBLIC_URL", app.base.clone()),
        ("DATABASE_URL", app.database_url.clone()),
        ("THEME_DIR", common::theme_dir().display().to_string()),
        ("LEPTOS_SITE_ADDR", address.to_owned()),
        ("ADMIN_OPENIDS", ADMIN.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn run(settings: &HashMap<String, String>) -> Report {
    doctor::run(|name| settings.get(name).cloned()).await
}

async fn run_with(app: &TestApp, change: &[(&str, Option<&str>)]) -> Report {
    let mut settings = settings(app);
    for (name, value) in change {
        match value {
            Some(value) => settings.insert(name.to_string(), value.to_string()),
            None => settings.remove(*name),
        };
    }
    run(&settings).await
}

async fn wechat_fault(app: &TestApp, fault: Value) {
    let response = reqwest::Client::new()
        .post(app.url("/sandbox/wechat/phone/api/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{fault}");
}

async fn deepseek_fault(app: &TestApp, fault: Value) {
    let response = reqwest::Client::new()
        .post(app.url("/sandbox/deepseek/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{fault}");
}

async fn clear_faults(app: &TestApp) {
    let client = reqwest::Client::new();
    for path in [
        "/sandbox/wechat/phone/api/faults",
        "/sandbox/deepseek/faults",
    ] {
        client.delete(app.url(path)).send().await.unwrap();
    }
}

/// The finding about `topic` has `status`, and its summary and advice say
/// each of `words`.
fn expect(report: &Report, topic: &str, status: Status, words: &[&str]) {
    let finding = report
        .find(topic)
        .unwrap_or_else(|| panic!("no finding about {topic}:\n{}", report.render(false)));
    assert_eq!(finding.status, status, "{topic}:\n{}", report.render(false));
    let text = format!(
        "{} {}",
        finding.summary,
        finding.advice.as_deref().unwrap_or_default()
    );
    for word in words {
        assert!(text.contains(word), "{topic}: no “{word}” in: {text}");
    }
}

#[tokio::test]
async fn all_green_against_the_sandboxes() {
    let app = site().await;
    let report = run(&settings(&app)).await;
    let text = report.render(false);
    assert!(!report.failed(), "{text}");
    for topic in [
        "设置",
        "主题",
        "数据库",
        "网站进程",
        "微信凭据",
        "带参数二维码",
        "消息加密",
        "文章生成（DeepSeek）",
        "管理员",
    ] {
        expect(&report, topic, Status::Ok, &[]);
    }
    expect(&report, "微信凭据", Status::Ok, &[APPID]);
    expect(
        &report,
        "文章生成（DeepSeek）",
        Status::Ok,
        &["CNY 100.00", "deepseek-flash"],
    );
    // The site answers the signed echo with its Token; only, 127.0.0.1 is
    // not where WeChat can reach it, which the doctor says.
    expect(
        &report,
        "回调地址",
        Status::Warn,
        &["Token 一致", "本机或内网"],
    );
    let console = report.console.as_ref().unwrap();
    assert_eq!(
        console.url.as_deref(),
        Some(format!("{}/wechat/callback", app.base).as_str())
    );
    // Secrets only for a terminal.
    assert!(
        !text.contains(TOKEN) && !text.contains(AES_KEY) && !text.contains(SECRET),
        "{text}"
    );
    assert!(!text.contains(DEEPSEEK_KEY), "{text}");
    let shown = report.render(true);
    assert!(shown.contains(TOKEN) && shown.contains(AES_KEY), "{shown}");
    assert!(
        !shown.contains(SECRET) && !shown.contains(DEEPSEEK_KEY),
        "{shown}"
    );
}

#[tokio::test]
async fn each_wechat_fault_gets_its_advice() {
    let app = site().await;
    for (fault, topic, words) in [
        (
            json!({"api": "token", "errcode": 40164}),
            "微信凭据",
            &["127.0.0.1", "IP 白名单", "40164"][..],
        ),
        (
            json!({"api": "token", "errcode": 40125}),
            "微信凭据",
            &["AppSecret 不对", "WECHAT_APPSECRET"],
        ),
        (
            json!({"api": "token", "errcode": 40013}),
            "微信凭据",
            &["AppID 不对", "WECHAT_APPID", APPID],
        ),
        (
            json!({"api": "token", "errcode": -1}),
            "微信凭据",
            &["繁忙", "再运行"],
        ),
        (
            json!({"api": "token", "errcode": 45009}),
            "微信凭据",
            &["次数已用完"],
        ),
        (
            json!({"api": "qrcode_create", "errcode": 48001}),
            "带参数二维码",
            &["48001", "已认证的服务号"],
        ),
        (
            json!({"api": "qrcode_create", "errcode": 45009}),
            "带参数二维码",
            &["次数已用完"],
        ),
    ] {
        wechat_fault(&app, fault.clone()).await;
        let report = run(&settings(&app)).await;
        assert!(report.failed(), "{fault}");
        expect(&report, topic, Status::Fail, words);
        if topic == "微信凭据" {
            expect(&report, "带参数二维码", Status::Skipped, &["微信凭据"]);
        }
        // The rest is unaffected.
        expect(&report, "文章生成（DeepSeek）", Status::Ok, &[]);
        clear_faults(&app).await;
    }
}

#[tokio::test]
async fn wrong_values_are_named() {
    let app = site().await;
    // A secret the sandbox does not know: WeChat's 40125, no fault injected.
    let report = run_with(&app, &[("WECHAT_APPSECRET", Some("fake-wrong-secret"))]).await;
    expect(&report, "微信凭据", Status::Fail, &["AppSecret 不对"]);
    let report = run_with(&app, &[("WECHAT_APPID", Some("wx1111111111111111"))]).await;
    expect(
        &report,
        "微信凭据",
        Status::Fail,
        &["AppID 不对", "wx1111111111111111"],
    );

    // A Token the running site does not hold: its signed echo is refused.
    let report = run_with(&app, &[("WECHAT_TOKEN", Some("faketoken999"))]).await;
    expect(
        &report,
        "回调地址",
        Status::Fail,
        &["不认这个 Token", "重启网站"],
    );

    // A setting that does not parse: said, the rest skipped, the database
    // still checked.
    let report = run_with(&app, &[("WECHAT_TOKEN", Some("has space"))]).await;
    expect(&report, "设置", Status::Fail, &["WECHAT_TOKEN"]);
    expect(&report, "数据库", Status::Ok, &[]);
    expect(&report, "微信", Status::Skipped, &[]);
    assert!(!report.render(false).contains("has space"));

    // Plain mode works but is worth a word; no PUBLIC_URL, no callback check.
    let report = run_with(
        &app,
        &[
            ("WECHAT_ENCODING_AES_KEY", None),
            ("WECHAT_ALLOW_PLAIN_MODE", Some("1")),
            ("PUBLIC_URL", None),
        ],
    )
    .await;
    assert!(!report.failed(), "{}", report.render(false));
    expect(
        &report,
        "消息加密",
        Status::Warn,
        &["明文模式", "安全模式", "WECHAT_ENCODING_AES_KEY"],
    );
    expect(&report, "回调地址", Status::Warn, &["PUBLIC_URL"]);

    // An admin who never logged in here; no admins at all.
    let report = run_with(
        &app,
        &[("ADMIN_OPENIDS", Some("oNobodyLoggedInHere000000000"))],
    )
    .await;
    expect(
        &report,
        "管理员",
        Status::Warn,
        &["oNobodyLoggedInHere000000000", ADMIN],
    );
    let report = run_with(&app, &[("ADMIN_OPENIDS", None)]).await;
    expect(
        &report,
        "管理员",
        Status::Warn,
        &["ADMIN_OPENIDS", "/admin", ADMIN],
    );

    let report = run_with(&app, &[("DEEPSEEK_MODEL", Some("deepseek-flsh"))]).await;
    expect(
        &report,
        "文章生成（DeepSeek）",
        Status::Warn,
        &["deepseek-flsh", "DEEPSEEK_MODEL"],
    );

    // The sandboxes themselves are worth a word, not an error.
    let sandbox: HashMap<String, String> = [
        ("WECHAT_SANDBOX", "1"),
        ("DEEPSEEK_SANDBOX", "1"),
        ("DATABASE_URL", app.database_url.as_str()),
        ("LEPTOS_SITE_ADDR", app.base.trim_start_matches("http://")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([(
        "THEME_DIR".to_owned(),
        common::theme_dir().display().to_string(),
    )])
    .collect();
    let report = run(&sandbox).await;
    assert!(!report.failed(), "{}", report.render(false));
    expect(
        &report,
        "微信凭据",
        Status::Warn,
        &["沙箱模式", "WECHAT_APPID"],
    );
    expect(
        &report,
        "文章生成（DeepSeek）",
        Status::Warn,
        &["沙箱", "DEEPSEEK_API_KEY"],
    );
}

#[tokio::test]
async fn each_deepseek_fault_gets_its_advice() {
    let app = site().await;
    for (fault, status, words) in [
        (
            json!({"fault": "unauthorized"}),
            Status::Fail,
            &["401", "DEEPSEEK_API_KEY"][..],
        ),
        (
            json!({"fault": "insufficient_balance"}),
            Status::Fail,
            &["余额不足", "充值", "CNY 0.00"],
        ),
        (
            json!({"fault": "overloaded"}),
            Status::Fail,
            &["暂时不可用", "再运行"],
        ),
    ] {
        deepseek_fault(&app, fault.clone()).await;
        let report = run(&settings(&app)).await;
        expect(&report, "文章生成（DeepSeek）", status, words);
        expect(&report, "微信凭据", Status::Ok, &[]);
        clear_faults(&app).await;
    }
    let report = run_with(
        &app,
        &[("DEEPSEEK_API_KEY", None), ("DEEPSEEK_BASE_URL", None)],
    )
    .await;
    assert!(!report.failed(), "{}", report.render(false));
    expect(
        &report,
        "文章生成（DeepSeek）",
        Status::Warn,
        &["DEEPSEEK_API_KEY"],
    );
}

#[tokio::test]
async fn a_stopped_site_and_unreachable_services_are_said_plainly() {
    let app = site().await;
    let settings = settings(&app);
    drop(app);
    // Give the server a moment to stop listening.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let report = run(&settings).await;
    assert!(report.failed());
    expect(
        &report,
        "网站进程",
        Status::Warn,
        &["没有", "systemctl start wensi"],
    );
    expect(
        &report,
        "微信凭据",
        Status::Fail,
        &["连不上微信服务器", "防火墙"],
    );
    expect(&report, "回调地址", Status::Fail, &["访问不到", "反向代理"]);
    expect(
        &report,
        "文章生成（DeepSeek）",
        Status::Fail,
        &["连不上 DeepSeek"],
    );
}

/// Runs `server doctor` as an operator would, with exactly `settings` in
/// its environment, from an empty folder (no .env); its output is a pipe.
async fn command(settings: HashMap<String, String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("doctor")
            .env_clear()
            .envs(&settings)
            // Baked in by cargo-leptos; a plain cargo build asks for it.
            .env("LEPTOS_OUTPUT_NAME", "site")
            .current_dir(dir.path())
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The command itself: exit code 0 when nothing is broken, 1 when
/// something is; the secrets stay out of a redirected output.
#[tokio::test]
async fn the_command_exits_non_zero_when_something_is_broken() {
    let app = site().await;
    let output = command(settings(&app)).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("[正常] 微信凭据"), "{stdout}");
    assert!(stdout.contains("[注意] 回调地址"), "{stdout}");
    assert!(stdout.contains("不显示"), "{stdout}");
    for secret in [TOKEN, AES_KEY, SECRET, DEEPSEEK_KEY] {
        assert!(!stdout.contains(secret), "{secret} in {stdout}");
    }
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    wechat_fault(&app, json!({"api": "token", "errcode": 40164})).await;
    let output = command(settings(&app)).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("[错误] 微信凭据：本服务器的出口 IP 127.0.0.1"),
        "{stdout}"
    );
    assert!(stdout.contains("怎么办：到 微信公众平台"), "{stdout}");
}

#[tokio::test]
async fn postgres_is_checked_and_its_password_never_shown() {
    if common::skip_unless_postgres("postgres_is_checked_and_its_password_never_shown") {
        return;
    }
    let name = common::postgres::create_database().await;
    let url = common::postgres::url_of(&name);
    let settings = |url: &str| -> HashMap<String, String> {
        [
            ("WECHAT_SANDBOX", "1"),
            ("DATABASE_URL", url),
            ("LEPTOS_SITE_ADDR", "127.0.0.1:9"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    };

    // An empty database: fine, the site makes its tables at its start.
    let report = run(&settings(&url)).await;
    expect(
        &report,
        "数据库",
        Status::Ok,
        &["PostgreSQL", &name, "还是空的"],
    );

    // After the site's migrations: all applied.
    server::db::connect_postgres(&url, 2).await.unwrap();
    let report = run(&settings(&url)).await;
    expect(&report, "数据库", Status::Ok, &[&name, "迁移都已执行"]);

    // A wrong password: refused, said plainly, and the password appears
    // nowhere in what the doctor prints.
    let wrong = url.replacen("wensi-test-only", "not-the-password-fake", 1);
    let report = run(&settings(&wrong)).await;
    expect(&report, "数据库", Status::Fail, &["连不上", "pg_hba.conf"]);
    let printed = report.render(false);
    assert!(!printed.contains("not-the-password-fake"), "{printed}");
    assert!(!printed.contains("wensi-test-only"), "{printed}");

    common::postgres::drop_database(name);
}
