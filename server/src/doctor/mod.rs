//! `server doctor`: finds the setup mistakes that keep the site from
//! working, and says in plain words what to do about each.
//!
//! It reads the settings as the site does (environment and `.env`) and
//! checks, in order: the settings; the theme; the database (writable, its
//! migrations); the site answering on this machine; the WeChat credentials
//! (an access token through `stable_token`), the permission to make
//! parametric QR codes, safe mode, the callback URL as WeChat will call it
//! (`PUBLIC_URL`); DeepSeek's key, balance and model; the operators of
//! `/admin`. It prints what to enter in the WeChat console, the Token and
//! EncodingAESKey included when (and only when) the output is a terminal.
//!
//! It changes nothing, except that the QR check makes one code that expires
//! after 60 s (one of the day's QR quota). It writes no log lines: nothing
//! it shows, secrets included, lands in the journal. The exit code is
//! non-zero when something is broken.

mod database;
mod deepseek;
mod report;
mod site;
mod wechat;

pub use report::{ConsoleValues, Finding, Report, Status};

use crate::config::{self, Config};

const SETTINGS: &str = "设置";

/// Runs every check with the settings `var` gives (the process environment,
/// or a map in tests).
pub async fn run(var: impl Fn(&str) -> Option<String>) -> Report {
    let mut report = Report::default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();

    let config = Config::from_lookup(&var);
    let database_url = match &config {
        Ok(config) => Ok(config.database_url.clone()),
        Err(_) => config::database_url_from_lookup(&var),
    };
    let config = match config {
        Ok(config) => {
            report.push(Finding::ok(SETTINGS, describe(&config)));
            Some(config)
        }
        Err(err) => {
            report.push(Finding::fail(
                SETTINGS,
                format!("{} 有误：{}", err.name, err.reason),
                "改好 .env（或环境变量）里的这一项，再运行 server doctor。网站在设置有误时会拒绝启动",
            ));
            None
        }
    };

    if let Some(config) = &config {
        report.push(site::theme(&config.theme_dir));
    }
    let database = match &database_url {
        Ok(url) => database::check(url).await,
        Err(_) => Finding::skipped("数据库", "先改好 DATABASE_URL"),
    };
    let database_ok = database.status == Status::Ok;
    report.push(database);

    let Some(config) = config else {
        for topic in ["网站进程", "微信", "文章生成（DeepSeek）", "管理员"] {
            report.push(Finding::skipped(topic, "先改好上面的设置"));
        }
        return report;
    };
    report.push(site::running(&config, &http).await);
    let wechat = wechat::check(&config, &http).await;
    report.findings.extend(wechat.findings);
    report.console = wechat.console;
    report.push(deepseek::check(&config.deepseek).await);
    report.push(site::admins(&config, database_ok).await);
    report
}

/// One line on what the settings make of the site.
fn describe(config: &Config) -> String {
    let wechat = if config.wechat.sandbox {
        "微信：沙箱".to_owned()
    } else if config.wechat.encoding_aes_key.is_some() {
        format!("微信：服务号 {}（安全模式）", config.wechat.appid)
    } else {
        format!("微信：服务号 {}（明文模式）", config.wechat.appid)
    };
    let deepseek = match &config.deepseek.mode {
        config::DeepseekMode::Real { base_url, .. } => {
            format!("DeepSeek：{base_url}，模型 {}", config.deepseek.model)
        }
        config::DeepseekMode::Sandbox { .. } => "DeepSeek：沙箱".to_owned(),
        config::DeepseekMode::NotConfigured => "DeepSeek：未配置".to_owned(),
    };
    format!(
        "都能读懂。{wechat}；{deepseek}；数据库 {}；监听 {}",
        crate::db::display_url(&config.database_url),
        config.leptos.site_addr
    )
}
