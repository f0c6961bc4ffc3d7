//! The sandbox's two kinds of error answer: DeepSeek's own shape for the
//! API it imitates, and a plain `{"error","message"}` (message in Chinese)
//! for its control API and page.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// An error as DeepSeek answers it:
/// `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    kind: &'static str,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
        }
    }

    /// 400: the body is not JSON, or names no known model.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 422: a parameter has the wrong type or value.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            message,
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "Authentication Fails, Your api key is invalid",
        )
    }

    /// The error a status fault answers.
    pub fn for_status(status: u16) -> Self {
        match status {
            401 => Self::unauthorized(),
            402 => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                "unknown_error",
                "Insufficient Balance",
            ),
            429 => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_reached_error",
                "Rate Limit Reached",
            ),
            503 => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_overloaded_error",
                "Server Overloaded, please retry later",
            ),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Internal Server Error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {
                "message": self.message,
                "type": self.kind,
                "param": null,
                "code": "invalid_request_error",
            }})),
        )
            .into_response()
    }
}

/// A refused control request (`/faults`, `/pace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlError(pub String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad_request", "message": self.0})),
        )
            .into_response()
    }
}
