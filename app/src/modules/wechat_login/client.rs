//! The browser's side of the login routes (hydrate only): plain `fetch`
//! calls, and an `EventSource` that follows an attempt, falling back to
//! polling only when event streams cannot get through.

use std::{cell::RefCell, rc::Rc, time::Duration};

use gloo_net::http::{Request, Response};
use leptos::prelude::{set_interval_with_handle, IntervalHandle};
use serde::de::DeserializeOwned;
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{EventSource, MessageEvent};

use super::protocol::{ErrorBody, StartedLogin, StatusUpdate, UserBody};
use crate::auth::User;

/// A call that got no answer: the network.
fn offline() -> ErrorBody {
    ErrorBody {
        error: "network".into(),
        message: "网络连接失败，请检查网络后重试。".into(),
        reference: None,
        retry_after: None,
    }
}

async fn read<T: DeserializeOwned>(
    response: Result<Response, gloo_net::Error>,
) -> Result<T, ErrorBody> {
    let response = response.map_err(|_| offline())?;
    if response.ok() {
        response.json::<T>().await.map_err(|_| offline())
    } else {
        Err(response
            .json::<ErrorBody>()
            .await
            .unwrap_or_else(|_| ErrorBody {
                error: "server_error".into(),
                message: "服务器暂时无法处理请求，请稍后重试。".into(),
                reference: None,
                retry_after: None,
            }))
    }
}

pub async fn start() -> Result<StartedLogin, ErrorBody> {
    read(Request::post("/api/login/start").send().await).await
}

pub async fn complete(id: &str) -> Result<User, ErrorBody> {
    let body: UserBody = read(
        Request::post(&format!("/api/login/{id}/complete"))
            .send()
            .await,
    )
    .await?;
    Ok(body.user)
}

pub async fn me() -> Result<User, ErrorBody> {
    let body: UserBody = read(Request::get("/api/me").send().await).await?;
    Ok(body.user)
}

pub async fn logout() -> Result<(), ErrorBody> {
    let response = Request::post("/api/logout")
        .send()
        .await
        .map_err(|_| offline())?;
    if response.ok() {
        Ok(())
    } else {
        Err(offline())
    }
}

async fn status(id: &str) -> Result<StatusUpdate, ErrorBody> {
    read(Request::get(&format!("/api/login/{id}")).send().await).await
}

/// What a watcher reports.
pub enum News {
    Status(StatusUpdate),
    /// The attempt can no longer be followed (gone, or not this browser's).
    Lost(ErrorBody),
}

/// Follows one attempt while it is held; dropping it stops everything.
pub struct Watcher {
    source: EventSource,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
    polling: Rc<RefCell<Option<IntervalHandle>>>,
}

const POLL_EVERY: Duration = Duration::from_secs(2);

impl Watcher {
    pub fn new(id: &str, report: impl Fn(News) + 'static) -> Result<Self, ErrorBody> {
        let report: Rc<dyn Fn(News)> = Rc::new(report);
        let source = EventSource::new(&format!("/api/login/{id}/events")).map_err(|_| offline())?;

        let on_message = {
            let report = report.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let update = event
                    .data()
                    .as_string()
                    .and_then(|text| serde_json::from_str::<StatusUpdate>(&text).ok());
                if let Some(update) = update {
                    report(News::Status(update));
                }
            })
        };
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

        // A dropped connection is retried by the browser itself (the stream
        // resends the current status). Only a stream that cannot be opened
        // at all (CLOSED) makes us poll instead.
        let polling: Rc<RefCell<Option<IntervalHandle>>> = Rc::default();
        let on_error = {
            let source = source.clone();
            let polling = polling.clone();
            let id = id.to_owned();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                if source.ready_state() != EventSource::CLOSED || polling.borrow().is_some() {
                    return;
                }
                let report = report.clone();
                let id = id.clone();
                let handle = set_interval_with_handle(
                    move || {
                        let report = report.clone();
                        let id = id.clone();
                        leptos::task::spawn_local(async move {
                            match status(&id).await {
                                Ok(status) => report(News::Status(status)),
                                Err(failure) if failure.error == "network" => {}
                                Err(failure) => report(News::Lost(failure)),
                            }
                        });
                    },
                    POLL_EVERY,
                );
                *polling.borrow_mut() = handle.ok();
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        Ok(Self {
            source,
            _on_message: on_message,
            _on_error: on_error,
            polling,
        })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.source.close();
        self.source.set_onmessage(None);
        self.source.set_onerror(None);
        if let Some(handle) = self.polling.borrow_mut().take() {
            handle.clear();
        }
    }
}
