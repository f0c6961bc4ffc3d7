//! Controlling the sandbox: faults and pace, as JSON for tests and as
//! forms for the sandbox page (which works without JavaScript).
//!
//! - `GET /faults` → `{"armed": {...} | null}`; `POST /faults` with
//!   `{"fault", "times"?, "delay_ms"?}`; `DELETE /faults`.
//! - `GET /stats` → `{"chat_requests", "faults_served", "tokens_per_second",
//!   "open_answers", "most_open_answers", "stamps"}` (tests count retries
//!   with `chat_requests`, concurrent requests with `most_open_answers`).
//! - `PUT /pace` with `{"tokens_per_second", "stamps"?}` (0 = no pause;
//!   `stamps: true` makes each answer token `<index>:<send time>|`, for
//!   benchmarks that measure the delay to the browser).
//! - Forms: `POST /faults/form`, `POST /faults/clear`, `POST /pace/form`,
//!   each answering with a redirect back to the page.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post, put},
    Form, Json, Router,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    error::ControlError,
    faults::{FaultKind, FaultRequest},
    DeepseekSandbox, MOUNT_PATH,
};

/// The fastest pace accepted (tokens per second).
const MAX_PACE: u32 = 10_000;

pub fn routes() -> Router<Arc<DeepseekSandbox>> {
    Router::new()
        .route(
            "/faults",
            get(list_faults).post(arm_fault).delete(clear_faults),
        )
        .route("/faults/form", post(arm_fault_form))
        .route("/faults/clear", post(clear_faults_form))
        .route("/stats", get(stats))
        .route("/pace", put(set_pace))
        .route("/pace/form", post(set_pace_form))
}

async fn list_faults(State(sandbox): State<Arc<DeepseekSandbox>>) -> impl IntoResponse {
    Json(json!({ "armed": sandbox.armed() }))
}

async fn arm_fault(
    State(sandbox): State<Arc<DeepseekSandbox>>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let request: FaultRequest = serde_json::from_slice(&body)
        .map_err(|e| ControlError(format!("请求不是有效的故障设置（JSON）：{e}")))?;
    let armed = sandbox
        .arm(request)
        .map_err(|reason| ControlError(reason.to_owned()))?;
    Ok(Json(armed).into_response())
}

async fn clear_faults(State(sandbox): State<Arc<DeepseekSandbox>>) -> StatusCode {
    sandbox.clear_faults();
    StatusCode::NO_CONTENT
}

async fn stats(State(sandbox): State<Arc<DeepseekSandbox>>) -> impl IntoResponse {
    Json(sandbox.stats())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pace {
    tokens_per_second: u32,
    /// Benchmarks: answer tokens become send-time stamps.
    #[serde(default)]
    stamps: Option<bool>,
}

async fn set_pace(
    State(sandbox): State<Arc<DeepseekSandbox>>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let pace: Pace = serde_json::from_slice(&body)
        .map_err(|e| ControlError(format!("请求应为 {{\"tokens_per_second\": 数字}}：{e}")))?;
    apply_pace(&sandbox, pace.tokens_per_second)?;
    if let Some(on) = pace.stamps {
        sandbox.set_stamps(on);
    }
    Ok(Json(sandbox.stats()).into_response())
}

fn apply_pace(sandbox: &DeepseekSandbox, value: u32) -> Result<(), ControlError> {
    if value > MAX_PACE {
        return Err(ControlError(
            "速度最多每秒 10000 个 token（0 表示不停顿）".into(),
        ));
    }
    sandbox.set_tokens_per_second(value);
    Ok(())
}

/// The page's form: every field arrives as text; empty means "not given".
#[derive(Deserialize)]
struct FaultForm {
    fault: String,
    #[serde(default)]
    times: String,
    #[serde(default)]
    delay_ms: String,
}

async fn arm_fault_form(
    State(sandbox): State<Arc<DeepseekSandbox>>,
    Form(form): Form<FaultForm>,
) -> Result<Redirect, ControlError> {
    let fault = FaultKind::ALL
        .into_iter()
        .find(|kind| kind.name() == form.fault)
        .ok_or_else(|| ControlError("没有这种故障".into()))?;
    let number = |text: &str, what: &str| -> Result<Option<u64>, ControlError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| ControlError(format!("{what}应为整数")))
    };
    let times = number(&form.times, "次数")?.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let delay_ms = match fault {
        FaultKind::SlowFirstToken | FaultKind::StallMidway => number(&form.delay_ms, "等待毫秒数")?,
        _ => None,
    };
    sandbox
        .arm(FaultRequest {
            fault,
            times,
            delay_ms,
        })
        .map_err(|reason| ControlError(reason.to_owned()))?;
    Ok(Redirect::to(MOUNT_PATH))
}

async fn clear_faults_form(State(sandbox): State<Arc<DeepseekSandbox>>) -> Redirect {
    sandbox.clear_faults();
    Redirect::to(MOUNT_PATH)
}

#[derive(Deserialize)]
struct PaceForm {
    tokens_per_second: String,
}

async fn set_pace_form(
    State(sandbox): State<Arc<DeepseekSandbox>>,
    Form(form): Form<PaceForm>,
) -> Result<Redirect, ControlError> {
    let value = form
        .tokens_per_second
        .trim()
        .parse()
        .map_err(|_| ControlError("速度应为 0–10000 的整数".into()))?;
    apply_pace(&sandbox, value)?;
    Ok(Redirect::to(MOUNT_PATH))
}
