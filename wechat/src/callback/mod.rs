//! The callback URL's protocol, framework-free: the server side
//! ([`CallbackVerifier`]) and WeChat's side ([`push_request`],
//! [`open_reply`]) used by the sandbox and tests.

mod error;
mod push;
mod query;
mod verifier;

pub use error::CallbackError;
pub use push::{open_reply, push_request, PushMode, PushRequest};
pub use query::CallbackQuery;
pub use verifier::{CallbackVerifier, Echo, Inbound, Stamp, MAX_CLOCK_SKEW_SECS};

#[cfg(test)]
mod tests;
