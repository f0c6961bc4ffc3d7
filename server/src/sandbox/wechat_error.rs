//! The mock API's one error type: WeChat's `{"errcode","errmsg"}` answer,
//! sent with HTTP 200 as WeChat does, the errmsg ending in a request id.

use axum::{
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use super::random;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatError {
    pub errcode: i64,
    /// WeChat's text for the code, with an optional hint; never a secret.
    pub errmsg: String,
}

impl WechatError {
    pub fn new(errcode: i64) -> Self {
        Self {
            errcode,
            errmsg: errmsg(errcode).to_owned(),
        }
    }

    /// 40164 as WeChat words it, naming the calling address: "invalid ip
    /// 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist".
    pub fn not_whitelisted(caller: std::net::IpAddr) -> Self {
        let (v4, v6) = match caller {
            std::net::IpAddr::V4(v4) => (v4.to_string(), v4.to_ipv6_mapped().to_string()),
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (v4.to_string(), v6.to_string()),
                None => (v6.to_string(), v6.to_string()),
            },
        };
        Self {
            errcode: 40164,
            errmsg: format!("invalid ip {v4} ipv6 {v6}, not in whitelist"),
        }
    }

    /// The code's text followed by `hint: […]`, as WeChat words argument
    /// errors.
    pub fn with_hint(errcode: i64, hint: &str) -> Self {
        Self {
            errcode,
            errmsg: format!("{} hint: [{hint}]", errmsg(errcode)),
        }
    }
}

impl IntoResponse for WechatError {
    fn into_response(self) -> Response {
        let errmsg = format!("{} rid: {}", self.errmsg, random::rid());
        Json(json!({ "errcode": self.errcode, "errmsg": errmsg })).into_response()
    }
}

/// WeChat's own English errmsg for the codes the sandbox answers (and the
/// usual ones a test may inject).
pub fn errmsg(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system error",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        // Argument errors of qrcode/create: a bad action_name, scene or
        // expire_seconds (WeChat answers these with 40097 too).
        40097 => "invalid args",
        40125 => "invalid appsecret",
        40164 => "invalid ip, not in whitelist",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        42001 => "access_token expired",
        43001 => "require GET method",
        43002 => "require POST method",
        44002 => "empty post data",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit  mustslower  retry next minute",
        47001 => "data format error",
        48001 => "api unauthorized",
        _ => "sandbox injected error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_http_200_with_errcode_and_a_request_id() {
        let response = WechatError::with_hint(40097, "scene_str").into_response();
        assert_eq!(response.status(), 200);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["errcode"], 40097);
        let errmsg = value["errmsg"].as_str().unwrap();
        assert!(
            errmsg.starts_with("invalid args hint: [scene_str] rid: "),
            "{errmsg}"
        );
    }

    #[test]
    fn known_codes_have_wechat_words() {
        assert_eq!(
            WechatError::new(45009).errmsg,
            "reach max api daily quota limit"
        );
        assert_eq!(
            WechatError::new(40001).errmsg,
            "invalid credential, access_token is invalid or not latest"
        );
        assert_eq!(WechatError::new(12345).errmsg, "sandbox injected error");
    }
}
