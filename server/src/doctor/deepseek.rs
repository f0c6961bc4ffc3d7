//! DeepSeek: the key works, the account can pay, the model exists. Asks
//! `GET /user/balance` and `GET /models`, which cost nothing.

use std::time::Duration;

use deepseek::{Balance, Error, RetryPolicy};

use super::report::Finding;
use crate::config::{DeepseekConfig, DeepseekMode};

const TOPIC: &str = "文章生成（DeepSeek）";
const PLATFORM: &str = "DeepSeek 开放平台（platform.deepseek.com）";

pub async fn check(config: &DeepseekConfig) -> Finding {
    let base_url = match &config.mode {
        DeepseekMode::NotConfigured => {
            return Finding::warn(
                TOPIC,
                "没有配置 DEEPSEEK_API_KEY：网站其余部分照常运行，但访客不能写文章",
                format!("到 {PLATFORM} → API keys 创建一个 key，设为 DEEPSEEK_API_KEY，重启网站"),
            )
        }
        DeepseekMode::Sandbox { .. } => {
            return Finding::warn(
                TOPIC,
                "DeepSeek 沙箱（DEEPSEEK_SANDBOX=1）：文章由本机模拟生成，不是真的 DeepSeek",
                "只用于试用和测试。上线前去掉 DEEPSEEK_SANDBOX，设置 DEEPSEEK_API_KEY",
            )
        }
        DeepseekMode::Real { base_url, .. } => base_url.clone(),
    };
    // Unreachable (the mode is real), kept total.
    let Ok(mut client_config) = config.client_config("") else {
        return Finding::skipped(TOPIC, "没有配置");
    };
    client_config.retry = RetryPolicy::never();
    client_config.short_call_timeout = Duration::from_secs(15);
    let client = match deepseek::Client::new(client_config) {
        Ok(client) => client,
        Err(err) => {
            return Finding::fail(
                TOPIC,
                format!("无法建立 HTTP 客户端：{err}"),
                "这是程序或系统的问题，请把这行发给开发者",
            )
        }
    };
    let balance = match client.balance().await {
        Ok(balance) => balance,
        Err(err) => return failure(&err, &base_url),
    };
    if !balance.is_available {
        return Finding::fail(
            TOPIC,
            format!(
                "密钥有效，但账户余额不足（{}）：访客写文章会失败",
                amounts(&balance)
            ),
            format!("到 {PLATFORM} 充值"),
        );
    }
    let summary = format!("密钥有效，账户可用，余额 {}", amounts(&balance));
    match client.models().await {
        Ok(models) if models.iter().any(|m| m.id == config.model) => Finding::ok(
            TOPIC,
            format!("{summary}；模型 {} 可用", config.model),
        ),
        Ok(models) => Finding::warn(
            TOPIC,
            format!(
                "{summary}；但 DeepSeek 的模型列表（{}）里没有 DEEPSEEK_MODEL={}",
                models
                    .iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join("、"),
                config.model
            ),
            "旧的模型名（如 deepseek-chat）不在列表里也还能用；如果是拼错了，改正 DEEPSEEK_MODEL 或去掉它（用默认模型）",
        ),
        Err(err) => failure(&err, &base_url),
    }
}

fn amounts(balance: &Balance) -> String {
    if balance.balance_infos.is_empty() {
        return "未知".into();
    }
    balance
        .balance_infos
        .iter()
        .map(|info| format!("{} {}", info.currency, info.total_balance))
        .collect::<Vec<_>>()
        .join("、")
}

fn failure(err: &Error, base_url: &str) -> Finding {
    let fail = |summary: String, advice: String| Finding::fail(TOPIC, summary, advice);
    match err {
        Error::Unauthorized => fail(
            "DeepSeek 不认这个 DEEPSEEK_API_KEY（401）".into(),
            format!("到 {PLATFORM} → API keys 核对它（key 只在创建时完整显示一次，找不到就新建一个），改好后重启网站"),
        ),
        Error::InsufficientBalance => fail(
            "DeepSeek 账户余额不足（402）".into(),
            format!("到 {PLATFORM} 充值"),
        ),
        Error::RateLimited | Error::ServerError | Error::Overloaded => fail(
            format!("DeepSeek 暂时不可用：{err}"),
            "DeepSeek 那边的问题，过几分钟再运行 server doctor".into(),
        ),
        Error::Connect(_) | Error::Timeout(_) => fail(
            format!("连不上 DeepSeek（{base_url}）：{err}"),
            "检查这台服务器能否访问外网：DNS、出站防火墙（要能连 443 端口）；设置了 DEEPSEEK_BASE_URL 的话核对它".into(),
        ),
        _ => fail(
            format!("{base_url} 的回答不像 DeepSeek：{err}"),
            "检查 DEEPSEEK_BASE_URL：不设置时就是 DeepSeek 官方地址 https://api.deepseek.com".into(),
        ),
    }
}
