//! 微信一键登录 inside WeChat (`LOGIN_WECHAT_OAUTH`): 网页授权, OAuth2
//! `snsapi_base` on the same 服务号.
//!
//! 1. `GET /api/login/oauth?to=/page`: a new login attempt whose id is the
//!    OAuth `state`, bound to this browser by a secret in a `Lax` cookie
//!    (the browser comes back from another site); then WeChat's authorize
//!    URL.
//! 2. WeChat sends the browser back to `GET /api/login/oauth/return` with a
//!    `code` and the `state`. The state must be this browser's pending
//!    attempt (the cookie's secret hashes to its binding, compared in
//!    constant time); the code is exchanged once (`sns/oauth2/access_token`,
//!    WeChat refuses a used code, an old one, or one of another appid) for
//!    the openid. With `LOGIN_OAUTH_FOLLOWERS_ONLY` (the default) a visitor
//!    who does not follow (`cgi-bin/user/info` `subscribe=0`) goes back to
//!    the page with the dialog open (`#login-follow`), which inside WeChat
//!    says to follow first and shows the long-press QR. Otherwise the attempt goes from pending
//!    to consumed in one write with the new session, so a state serves once.
//!
//! Every refusal is a page with plain words and a way back; nothing changes.
//! Page navigations, not `fetch` calls: the answers are redirects and HTML,
//! not the JSON of the other login routes.

use std::time::Duration;

use app::modules::wechat_login::status::LoginStatus;
use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use reqwest::Url;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{
    attempt::NewAttempt,
    client::ClientInfo,
    cookies::LoginCookie,
    push::short,
    rate_limit::Refused,
    secrets,
    store::{Authorized, Completed},
};
use crate::{clock, sandbox::MOUNT_PATH, state::AppState};

/// WeChat's authorize page (real 服务号).
const WECHAT_AUTHORIZE: &str = "https://open.weixin.qq.com/connect/oauth2/authorize";
/// How long the visitor has to come back from WeChat: its codes live 5 min.
const WINDOW: Duration = Duration::from_secs(300);
/// The longest page path taken as the place to come back to.
const MAX_RETURN_PATH: usize = 512;
/// WeChat's codes are short; anything longer is not one.
const MAX_CODE: usize = 128;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/login/oauth", get(begin))
        .route("/api/login/oauth/return", get(come_back))
}

#[derive(Deserialize)]
struct Begin {
    to: Option<String>,
}

/// `GET /api/login/oauth?to=/page`: off to WeChat's authorize page.
async fn begin(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    query: Result<Query<Begin>, QueryRejection>,
) -> Response {
    if !state.config.login.wechat_oauth {
        return refused(StatusCode::NOT_FOUND, "这个网站没有开启微信一键登录。", "/");
    }
    let to = return_path(query.ok().and_then(|Query(q)| q.to).as_deref());
    if let Err(refused_start) = state.start_limits.check(client.network()) {
        let wait = match refused_start {
            Refused::Address(wait) | Refused::Site(wait) => wait.as_secs().max(1),
        };
        return refused(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("登录太频繁了，请 {wait} 秒后再试。"),
            &to,
        );
    }
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| !host.is_empty() && !host.contains(['/', '\\', '@']))
    else {
        return refused(StatusCode::BAD_REQUEST, "请求缺少 Host。", &to);
    };
    let site = format!("{}://{host}", if client.https { "https" } else { "http" });

    let secret = secrets::new_secret();
    let id = secrets::new_attempt_id();
    let now = clock::now_ms();
    let stored = state
        .login
        .insert_attempt(NewAttempt {
            id: id.clone(),
            binding_hash: secrets::hash(&secret),
            client_ip: client.address.to_string(),
            user_agent: client.user_agent.clone(),
            created_at: now,
            expires_at: now + WINDOW.as_millis() as i64,
        })
        .await;
    if let Err(err) = stored {
        tracing::error!(error = %err, "one-tap login: the attempt could not be stored");
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "服务器暂时无法处理，请稍后再试。",
            &to,
        );
    }

    let Ok(redirect_uri) = Url::parse_with_params(
        &format!("{site}/api/login/oauth/return"),
        &[("to", to.as_str())],
    ) else {
        return refused(StatusCode::BAD_REQUEST, "请求的地址不对。", &to);
    };
    let authorize = if state.config.wechat.sandbox {
        format!("{site}{MOUNT_PATH}/connect/oauth2/authorize")
    } else {
        WECHAT_AUTHORIZE.to_owned()
    };
    let Ok(mut authorize) = Url::parse_with_params(
        &authorize,
        &[
            ("appid", state.wechat.appid()),
            ("redirect_uri", redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", "snsapi_base"),
            ("state", id.as_str()),
        ],
    ) else {
        return refused(StatusCode::BAD_REQUEST, "请求的地址不对。", &to);
    };
    // WeChat's documented ending of the authorize URL.
    authorize.set_fragment(Some("wechat_redirect"));
    tracing::info!(attempt = %short(&id), "one-tap login: off to WeChat");
    let cookie = LoginCookie::OauthBinding.set(&secret, client.https, Some(WINDOW));
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to(authorize.as_str()),
    )
        .into_response()
}

#[derive(Deserialize)]
struct Back {
    code: Option<String>,
    state: Option<String>,
    to: Option<String>,
}

/// `GET /api/login/oauth/return?code&state&to`: WeChat vouches for the
/// visitor; logged in, or shown why not.
async fn come_back(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    query: Result<Query<Back>, QueryRejection>,
) -> Response {
    let Back {
        code,
        state: id,
        to,
    } = query.map(|Query(q)| q).unwrap_or(Back {
        code: None,
        state: None,
        to: None,
    });
    let to = return_path(to.as_deref());
    // The binding serves once, whatever happens next.
    let https = client.https;
    let clear = move || [(header::SET_COOKIE, LoginCookie::OauthBinding.clear(https))];
    if !state.config.login.wechat_oauth {
        return refused(StatusCode::NOT_FOUND, "这个网站没有开启微信一键登录。", &to);
    }
    let expired = || {
        (
            clear(),
            refused(
                StatusCode::BAD_REQUEST,
                "这个登录链接已经失效（只能用一次，5 分钟内有效，只在发起它的浏览器里有效）。请回到页面重新登录。",
                &to,
            ),
        )
            .into_response()
    };

    // The state: a pending attempt this browser started.
    let (Some(id), Some(code)) = (id, code) else {
        return expired();
    };
    if !secrets::is_attempt_id(&id)
        || code.is_empty()
        || code.len() > MAX_CODE
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return expired();
    }
    let Ok(Some(secret)) = LoginCookie::OauthBinding.read(&headers, client.https) else {
        return expired();
    };
    let attempt = match state.login.find_attempt(&id).await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => return expired(),
        Err(err) => {
            tracing::error!(error = %err, "one-tap login: the attempt could not be read");
            return (clear(), busy(&to)).into_response();
        }
    };
    let ours: bool = secrets::hash(&secret).ct_eq(&attempt.binding_hash).into();
    let now = clock::now_ms();
    if !ours || attempt.status_at(now) != LoginStatus::Pending {
        return expired();
    }

    // The code: once, for this appid, within 5 minutes (WeChat checks).
    let openid = match state.wechat.oauth_identity(&code).await {
        Ok(identity) => identity.openid,
        Err(err) => {
            state.ops.wechat_error(&err);
            let refused_code = matches!(err.code(), Some(40029 | 40163 | 42003));
            tracing::warn!(attempt = %short(&id), errcode = ?err.code(), error = %err, "one-tap login: WeChat refused the code");
            return if refused_code {
                expired()
            } else {
                (clear(), busy(&to)).into_response()
            };
        }
    };
    let follows = match state.wechat.follower(&openid).await {
        Ok(follower) => follower.follows(),
        Err(err) => {
            state.ops.wechat_error(&err);
            tracing::error!(attempt = %short(&id), errcode = ?err.code(), error = %err, "one-tap login: user/info failed");
            return (clear(), busy(&to)).into_response();
        }
    };
    if !follows && state.config.login.oauth_followers_only {
        // The owner wants followers: the dialog's long-press QR follows and
        // logs in at once.
        tracing::info!(attempt = %short(&id), "one-tap login: not following, shown the QR");
        return (clear(), Redirect::to(&format!("{to}#login-follow"))).into_response();
    }

    let token = secrets::new_secret();
    let ttl = state.config.login.session_ttl;
    let done = state
        .login
        .authorized(Authorized {
            attempt: id.clone(),
            openid,
            follows,
            token_hash: secrets::hash(&token),
            expires_at: now + ttl.as_millis() as i64,
        })
        .await;
    let user = match done {
        Ok(Completed::LoggedIn(user)) => user,
        Ok(Completed::AlreadyConsumed | Completed::NoUser) => return expired(),
        Err(err) => {
            tracing::error!(error = %err, "one-tap login: the login could not be stored");
            return (clear(), busy(&to)).into_response();
        }
    };
    tracing::info!(attempt = %short(&id), user = user.id, "logged in (one tap)");
    // As after a scan: a new login ends the session this browser held.
    for old in LoginCookie::Session.read_all(&headers, client.https) {
        let old = secrets::hash(&old);
        match state.session_store.revoke(&old, now).await {
            Ok(()) => state.sessions.revoked(&old),
            Err(err) => {
                tracing::warn!(error = %err, "one-tap login: an old session could not be revoked")
            }
        }
    }
    let mut response = Redirect::to(&to).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        LoginCookie::OauthBinding.clear(client.https),
    );
    headers.append(
        header::SET_COOKIE,
        LoginCookie::Session.set(&token, client.https, Some(ttl)),
    );
    response
}

/// A path of this site to come back to; anything else (another site, a
/// scheme, a backslash trick) is the home page.
fn return_path(to: Option<&str>) -> String {
    match to {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && path.len() <= MAX_RETURN_PATH
                && !path.contains(['\\', '#'])
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn busy(to: &str) -> Response {
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "微信或服务器暂时没有回应，请稍后再试；也可以回到页面，长按二维码登录。",
        to,
    )
}

/// A small page that says what happened and leads back.
fn refused(status: StatusCode, message: &str, to: &str) -> Response {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>微信登录</title>\n</head>\n<body>\n<h1>没有登录成功</h1>\n\
         <p data-testid=\"oauth-refused\">{}</p>\n<p><a href=\"{}#login\">回到页面重新登录</a></p>\n</body>\n</html>\n",
        escape(message),
        escape(to)
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

#[cfg(test)]
mod tests {
    use super::return_path;

    #[test]
    fn only_this_sites_paths_are_returned_to() {
        assert_eq!(return_path(Some("/articles?page=2")), "/articles?page=2");
        for hostile in [
            None,
            Some(""),
            Some("https://evil.example/"),
            Some("//evil.example/"),
            Some("/\\evil.example"),
            Some("javascript:alert(1)"),
            Some("/a#b"),
            Some("/a\nSet-Cookie: x=1"),
        ] {
            assert_eq!(return_path(hostile), "/", "{hostile:?}");
        }
        assert_eq!(return_path(Some(&format!("/{}", "a".repeat(600)))), "/");
    }
}
