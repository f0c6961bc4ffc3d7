//! 网页授权 (OAuth2, `snsapi_base`) as WeChat plays it, so the in-WeChat
//! one-tap login runs with no account:
//!
//! - `GET /connect/oauth2/authorize`: where the site sends its visitor
//!   (`open.weixin.qq.com` in real life). Real WeChat asks nothing for
//!   `snsapi_base` — it knows who is in it; the sandbox has many simulated
//!   users, so its page asks which one is "in WeChat" and whether he allows.
//! - `POST /connect/oauth2/authorize`: he allowed: back to `redirect_uri`
//!   with a `code` and the site's `state`.
//! - `GET /sns/oauth2/access_token`: the site exchanges the code for the
//!   openid — once (40163 after), within 5 minutes (42003), and only with
//!   the appid it was issued for (40029).
//! - `GET /cgi-bin/user/info`: whether that user follows the account.
//!
//! Like WeChat's 网页授权域名, `redirect_uri` must be on the site itself.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::{header, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Form, Json, Router,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::{
    lock, now_ms, random, tokens::TokenState, wechat_error::WechatError, Sandbox, MOUNT_PATH,
};

/// WeChat's lifetime of a 网页授权 code.
pub const CODE_LIFETIME_MS: i64 = 5 * 60 * 1000;
/// Codes kept at most, oldest forgotten first.
const MAX_CODES: usize = 10_000;
/// WeChat takes a `state` of at most 128 bytes of `a-zA-Z0-9`.
const MAX_STATE: usize = 128;

pub fn routes() -> Router<Arc<Sandbox>> {
    Router::new()
        .route("/connect/oauth2/authorize", get(ask).post(allow))
        .route("/sns/oauth2/access_token", get(access_token))
        .route("/cgi-bin/user/info", get(user_info))
}

/// A code handed out, until it is used or forgotten.
#[derive(Debug, Clone)]
struct Code {
    appid: String,
    openid: String,
    issued_at: i64,
    used: bool,
}

#[derive(Debug, Default)]
pub struct OauthCodes {
    by_code: HashMap<String, Code>,
}

impl OauthCodes {
    fn issue(&mut self, appid: &str, openid: &str, now: i64) -> String {
        if self.by_code.len() >= MAX_CODES {
            self.by_code
                .retain(|_, code| now - code.issued_at < CODE_LIFETIME_MS);
        }
        let code = random::url_safe_text(32);
        self.by_code.insert(
            code.clone(),
            Code {
                appid: appid.to_owned(),
                openid: openid.to_owned(),
                issued_at: now,
                used: false,
            },
        );
        code
    }

    /// The openid behind `code` for `appid`, once.
    fn redeem(&mut self, code: &str, appid: &str, now: i64) -> Result<String, WechatError> {
        let entry = self
            .by_code
            .get_mut(code)
            .filter(|entry| entry.appid == appid)
            .ok_or_else(|| WechatError::new(40029))?;
        if entry.used {
            return Err(WechatError::new(40163));
        }
        if now - entry.issued_at >= CODE_LIFETIME_MS {
            return Err(WechatError::new(42003));
        }
        entry.used = true;
        Ok(entry.openid.clone())
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    appid: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
}

/// An authorize request that WeChat would serve.
struct Authorize {
    appid: String,
    redirect_uri: String,
    state: String,
}

impl Sandbox {
    fn check_authorize(&self, query: AuthorizeQuery) -> Result<Authorize, String> {
        let appid = query
            .appid
            .filter(|appid| !appid.is_empty() && appid.len() <= 64)
            .ok_or("缺少 appid")?;
        if query.response_type.as_deref() != Some("code") {
            return Err("response_type 应为 code".into());
        }
        if query.scope.as_deref() != Some("snsapi_base") {
            return Err("沙箱只模拟 scope=snsapi_base".into());
        }
        let redirect_uri = query.redirect_uri.unwrap_or_default();
        // The 网页授权域名: the site itself, nothing else.
        if !redirect_uri.starts_with(&format!("{}/", self.site_url)) || redirect_uri.len() > 2048 {
            return Err("redirect_uri 域名与后台配置不一致（10003）".into());
        }
        let state = query.state.unwrap_or_default();
        if state.len() > MAX_STATE || !state.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("state 只能是 128 个以内的字母和数字".into());
        }
        Ok(Authorize {
            appid,
            redirect_uri,
            state,
        })
    }
}

/// `GET /connect/oauth2/authorize`: which simulated user allows?
async fn ask(
    State(sandbox): State<Arc<Sandbox>>,
    query: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Response {
    let request = match query {
        Ok(Query(query)) => sandbox.check_authorize(query),
        Err(_) => Err("参数不对".into()),
    };
    let request = match request {
        Ok(request) => request,
        Err(why) => return page(StatusCode::BAD_REQUEST, &format!("<p>{}</p>", escape(&why))),
    };
    let users: String = lock(&sandbox.users)
        .newest(20)
        .map(|user| {
            let follows = if user.following {
                "已关注"
            } else {
                "未关注"
            };
            format!(
                "<option value=\"{0}\">{0}（{1}）</option>",
                escape(&user.openid),
                follows
            )
        })
        .collect();
    let body = format!(
        r#"<h1>网页授权（沙箱）</h1>
<p>网站 <code>{site}</code> 想获取你的身份（OpenID），用来登录。真实的微信对 snsapi_base 不询问，直接跳回；沙箱里有很多模拟用户，所以先选一个。</p>
<form method="post" action="{mount}/connect/oauth2/authorize">
<input type="hidden" name="appid" value="{appid}">
<input type="hidden" name="redirect_uri" value="{redirect}">
<input type="hidden" name="state" value="{state}">
<label for="openid">微信里的用户</label>
<select id="openid" name="openid" data-testid="oauth-user">
<option value="">新用户（未关注）</option>
{users}
</select>
<p><button type="submit" data-testid="oauth-allow">允许</button></p>
</form>"#,
        site = escape(&sandbox.site_url),
        mount = MOUNT_PATH,
        appid = escape(&request.appid),
        redirect = escape(&request.redirect_uri),
        state = escape(&request.state),
    );
    page(StatusCode::OK, &body)
}

#[derive(Deserialize)]
struct Allowed {
    appid: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    openid: Option<String>,
}

/// `POST /connect/oauth2/authorize`: the chosen user allowed: back to the
/// site with a fresh code.
async fn allow(State(sandbox): State<Arc<Sandbox>>, Form(form): Form<Allowed>) -> Response {
    let request = sandbox.check_authorize(AuthorizeQuery {
        appid: form.appid,
        redirect_uri: form.redirect_uri,
        response_type: Some("code".into()),
        scope: Some("snsapi_base".into()),
        state: form.state,
    });
    let request = match request {
        Ok(request) => request,
        Err(why) => return page(StatusCode::BAD_REQUEST, &format!("<p>{}</p>", escape(&why))),
    };
    let user = match form.openid.as_deref().filter(|openid| !openid.is_empty()) {
        Some(openid) if random::is_url_safe_id(openid) => {
            lock(&sandbox.users).get_or_create(openid)
        }
        Some(_) => return page(StatusCode::BAD_REQUEST, "<p>openid 格式不对</p>"),
        None => lock(&sandbox.users).create(),
    };
    let code = lock(&sandbox.oauth_codes).issue(&request.appid, &user.openid, now_ms());
    let separator = if request.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    Redirect::to(&format!(
        "{}{separator}code={code}&state={}",
        request.redirect_uri, request.state
    ))
    .into_response()
}

#[derive(Deserialize)]
struct CodeExchange {
    appid: Option<String>,
    secret: Option<String>,
    code: Option<String>,
    grant_type: Option<String>,
}

#[derive(Serialize)]
struct OauthAnswer {
    access_token: String,
    expires_in: i64,
    refresh_token: String,
    openid: String,
    scope: &'static str,
}

/// `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`
async fn access_token(
    State(sandbox): State<Arc<Sandbox>>,
    query: Result<Query<CodeExchange>, QueryRejection>,
) -> Result<Json<OauthAnswer>, WechatError> {
    let Query(exchange) = query.map_err(|_| WechatError::new(47001))?;
    if exchange.grant_type.as_deref() != Some("authorization_code") {
        return Err(WechatError::new(40002));
    }
    let appid = match exchange.appid.as_deref() {
        None | Some("") => return Err(WechatError::new(41002)),
        Some(appid) if appid != sandbox.appid => return Err(WechatError::new(40013)),
        Some(appid) => appid,
    };
    match exchange.secret.as_deref() {
        None | Some("") => return Err(WechatError::new(41004)),
        Some(secret) if secret != sandbox.secret.expose_secret() => {
            return Err(WechatError::new(40125))
        }
        Some(_) => {}
    }
    let code = exchange
        .code
        .filter(|code| !code.is_empty())
        .ok_or_else(|| WechatError::new(41008))?;
    let openid = lock(&sandbox.oauth_codes).redeem(&code, appid, now_ms())?;
    Ok(Json(OauthAnswer {
        access_token: random::access_token(),
        expires_in: 7200,
        refresh_token: random::access_token(),
        openid,
        scope: "snsapi_base",
    }))
}

#[derive(Deserialize)]
struct UserInfoQuery {
    access_token: Option<String>,
    openid: Option<String>,
}

/// `GET /cgi-bin/user/info?access_token&openid`: follows or not.
async fn user_info(
    State(sandbox): State<Arc<Sandbox>>,
    query: Result<Query<UserInfoQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, WechatError> {
    let Query(query) = query.map_err(|_| WechatError::new(47001))?;
    let token = query
        .access_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| WechatError::new(41001))?;
    match lock(&sandbox.tokens).state(&token, now_ms()) {
        TokenState::Valid => {}
        TokenState::Expired => return Err(WechatError::new(42001)),
        TokenState::Unknown => return Err(WechatError::new(40001)),
    }
    let openid = query
        .openid
        .filter(|openid| !openid.is_empty())
        .ok_or_else(|| WechatError::new(41009))?;
    let user = lock(&sandbox.users)
        .get(&openid)
        .cloned()
        .ok_or_else(|| WechatError::new(40003))?;
    Ok(Json(serde_json::json!({
        "subscribe": u8::from(user.following),
        "openid": user.openid,
    })))
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>网页授权 · 微信沙箱</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            // The site's default for non-page answers forbids forms.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        Html(html),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_answered_once_within_five_minutes_for_its_appid() {
        let mut codes = OauthCodes::default();
        let code = codes.issue("wxSandbox", "oAlice", 0);
        assert_eq!(
            codes.redeem(&code, "wxOther", 1).unwrap_err().errcode,
            40029
        );
        assert_eq!(
            codes.redeem("unknown", "wxSandbox", 1).unwrap_err().errcode,
            40029
        );
        assert_eq!(codes.redeem(&code, "wxSandbox", 1).unwrap(), "oAlice");
        assert_eq!(
            codes.redeem(&code, "wxSandbox", 2).unwrap_err().errcode,
            40163
        );
        let late = codes.issue("wxSandbox", "oBob", 0);
        assert_eq!(
            codes
                .redeem(&late, "wxSandbox", CODE_LIFETIME_MS)
                .unwrap_err()
                .errcode,
            42003
        );
    }
}
