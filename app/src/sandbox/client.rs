//! Calls to the phone API from the browser. The one function that touches
//! the network is compiled for the browser only; on the server it is never
//! called (every call starts in an event handler or an effect).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{ErrorBody, PushAnswer};

/// Where the phone API answers (only in sandbox mode).
const API: &str = "/sandbox/wechat/phone/api";

/// Why a call gave no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// 404: the sandbox is not mounted, so sandbox mode is off.
    SandboxOff,
    /// The API refused, in its own words.
    Refused(String),
    /// No answer at all.
    Network(String),
}

impl CallError {
    pub fn message(&self) -> String {
        match self {
            Self::SandboxOff => "沙箱模式未开启".to_owned(),
            Self::Refused(message) => message.clone(),
            Self::Network(detail) => format!("连不上服务器：{detail}"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Method {
    Get,
    Post,
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, CallError> {
    let (status, body) = send(Method::Get, path, None).await?;
    read(status, &body)
}

pub async fn post<T: DeserializeOwned>(path: &str, body: Value) -> Result<T, CallError> {
    let (status, body) = send(Method::Post, path, Some(body)).await?;
    read(status, &body)
}

/// A scan, message or unfollow. A 502 still carries the answer: the push
/// left the phone, and the site's callback failed it.
pub async fn push(path: &str, body: Value) -> Result<PushAnswer, CallError> {
    let (status, text) = send(Method::Post, path, Some(body)).await?;
    if status == 502 {
        return serde_json::from_str(&text).map_err(|err| CallError::Refused(err.to_string()));
    }
    read(status, &text)
}

fn read<T: DeserializeOwned>(status: u16, body: &str) -> Result<T, CallError> {
    match status {
        200..=299 => serde_json::from_str(body)
            .map_err(|err| CallError::Refused(format!("无法读取回答：{err}"))),
        404 if serde_json::from_str::<ErrorBody>(body).is_err() => Err(CallError::SandboxOff),
        _ => Err(CallError::Refused(
            serde_json::from_str::<ErrorBody>(body)
                .map(|error| error.message)
                .unwrap_or_else(|_| format!("HTTP {status}")),
        )),
    }
}

#[cfg(feature = "hydrate")]
async fn send(method: Method, path: &str, body: Option<Value>) -> Result<(u16, String), CallError> {
    use gloo_net::http::Request;

    let url = format!("{API}/{path}");
    let builder = match method {
        Method::Get => Request::get(&url),
        Method::Post => Request::post(&url),
    };
    let request = match body {
        Some(body) => builder.json(&body),
        None => builder.build(),
    }
    .map_err(|err| CallError::Network(err.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|err| CallError::Network(err.to_string()))?;
    let text = response
        .text()
        .await
        .map_err(|err| CallError::Network(err.to_string()))?;
    Ok((response.status(), text))
}

#[cfg(not(feature = "hydrate"))]
async fn send(method: Method, path: &str, body: Option<Value>) -> Result<(u16, String), CallError> {
    let _ = (method, body);
    Err(CallError::Network(format!(
        "{API}/{path} is only called from the browser"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_become_failures() {
        assert_eq!(read::<Value>(200, "[]"), Ok(Value::Array(vec![])));
        assert_eq!(
            read::<Value>(404, "<html>not found</html>"),
            Err(CallError::SandboxOff)
        );
        assert_eq!(
            read::<Value>(
                404,
                r#"{"error":"unknown_ticket","message":"没有这个二维码"}"#
            ),
            Err(CallError::Refused("没有这个二维码".into()))
        );
        assert_eq!(
            read::<Value>(500, "oops"),
            Err(CallError::Refused("HTTP 500".into()))
        );
    }
}
