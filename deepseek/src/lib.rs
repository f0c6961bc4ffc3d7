//! DeepSeek API client: chat completions in DeepSeek's OpenAI-compatible
//! format, streamed as typed events or read whole, plus the account
//! balance and the model list. No web framework inside; the site's writing
//! module and its DeepSeek sandbox build on it.
//!
//! ```no_run
//! # async fn example() -> Result<(), deepseek::Error> {
//! use deepseek::{ChatEvent, ChatRequest, Client, ClientConfig, Message, Thinking};
//! use futures_util::StreamExt;
//! use secrecy::SecretString;
//!
//! let client = Client::new(ClientConfig::new(SecretString::from("sk-…")))?;
//! let request = ChatRequest::new(vec![Message::user("写一篇关于春茶的短文")])
//!     .thinking(Thinking::Enabled);
//! let mut stream = client.chat_stream(&request).await?;
//! while let Some(event) = stream.next().await {
//!     match event? {
//!         ChatEvent::Reasoning(text) | ChatEvent::Text(text) => print!("{text}"),
//!         ChatEvent::Finished(reason) => println!("\n({})", reason.as_str()),
//!         ChatEvent::Usage(usage) => println!("{} tokens", usage.total_tokens),
//!         ChatEvent::Done => {}
//!     }
//! }
//! # Ok(()) }
//! ```

mod client;
mod config;
mod deadline;
mod decode;
mod error;
mod request;
mod response;
mod retry;

pub use client::{ChatStream, Client};
pub use config::{
    ClientConfig, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_FIRST_TOKEN_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MODEL, DEFAULT_SHORT_CALL_TIMEOUT,
};
pub use decode::MAX_LINE_BYTES;
pub use error::{Error, Timeout};
pub use request::{
    ChatRequest, Message, ReasoningEffort, Role, Thinking, MAX_OUTPUT_TOKENS, MAX_STOP_SEQUENCES,
    MAX_USER_ID_BYTES,
};
pub use response::{Balance, BalanceInfo, ChatEvent, Completion, FinishReason, ModelInfo, Usage};
pub use retry::RetryPolicy;
