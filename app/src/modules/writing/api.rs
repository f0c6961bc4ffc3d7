//! The writing module's calls (Leptos server functions, JSON over POST at
//! `/api/writing/*`: the arguments are one JSON object named by the
//! parameters, e.g. `{"id": "…", "how": "fresh"}`; `input = Json`). Each requires a logged-in user and delegates to the
//! server's [`WritingService`](super::service::WritingService); an error
//! answer carries the `WritingError` (JSON) and its HTTP status.

use leptos::{prelude::*, server_fn::codec::Json};

use super::protocol::{
    ArticleDetail, ArticleSummary, Brief, GenerationRef, Quota, Regenerate, WritingError,
};

#[cfg(feature = "ssr")]
mod server {
    use std::sync::Arc;

    use super::WritingError;
    use crate::auth::{AuthUser, User};
    use crate::modules::writing::service::{use_writing_service, WritingService};

    /// The caller and the service, or why not.
    pub async fn caller() -> Result<(User, Arc<dyn WritingService>), WritingError> {
        let user = match leptos_axum::extract::<AuthUser>().await {
            Ok(AuthUser(user)) => user,
            Err(_) => return Err(fail(WritingError::NotLoggedIn)),
        };
        let service = use_writing_service().map_err(fail)?;
        Ok((user, service))
    }

    /// Sets the answer's status from the error.
    pub fn fail(error: WritingError) -> WritingError {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = axum::http::StatusCode::from_u16(error.status()) {
                response.set_status(status);
            }
        }
        error
    }

    pub fn answer<T>(result: Result<T, WritingError>) -> Result<T, WritingError> {
        result.map_err(fail)
    }
}

#[server(prefix = "/api/writing", endpoint = "start", input = Json)]
pub async fn start_article(brief: Brief) -> Result<GenerationRef, WritingError> {
    let (user, service) = server::caller().await?;
    server::answer(service.start(&user, brief).await)
}

#[server(prefix = "/api/writing", endpoint = "outline", input = Json)]
pub async fn draft_outline(brief: Brief) -> Result<String, WritingError> {
    let (user, service) = server::caller().await?;
    server::answer(service.outline(&user, brief).await)
}

#[server(prefix = "/api/writing", endpoint = "regenerate", input = Json)]
pub async fn regenerate_article(
    id: String,
    how: Regenerate,
) -> Result<GenerationRef, WritingError> {
    let (user, service) = server::caller().await?;
    server::answer(service.regenerate(&user, &id, how).await)
}

#[server(prefix = "/api/writing", endpoint = "stop", input = Json)]
pub async fn stop_generation(id: String) -> Result<(), WritingError> {
    let (user, service) = server::caller().await?;
    server::answer(service.stop(&user, &id).await)
}

#[server(prefix = "/api/writing", endpoint = "list", input = Json)]
pub async fn list_articles() -> Result<Vec<ArticleSummary>, WritingError> {
    let (user, service) = server::caller().await?;
    server::answer(service.list(&user).await)
}

#[server(prefix = "/api/writing", endpoint = "get", input = Json)]
pub async fn get_article(id: String, version: Option<u32>) -> Result<ArticleDetail, WritingError> {
    let (user, service) = server::caller().await?;
    server::answer(service.get(&user, &id, version).await)
}

#[server(prefix = "/api/writing", endpoint = "save", input = Json)]
pub async fn save_article(
    id: String,
    title: String,
    body: String,
) -> Result<ArticleDetail, WritingError> {
    let (user, service) = server::caller().await?;
    server::answer(service.save(&user, &id, title, body).await)
}

#[server(prefix = "/api/writing", endpoint = "delete", input = Json)]
pub async fn delete_article(id: String) -> Result<(), WritingError> {
    let (user, service) = server::caller().await?;
    server::answer(service.delete(&user, &id).await)
}

#[server(prefix = "/api/writing", endpoint = "quota", input = Json)]
pub async fn writing_quota() -> Result<Quota, WritingError> {
    let (user, service) = server::caller().await?;
    server::answer(service.quota(&user).await)
}
