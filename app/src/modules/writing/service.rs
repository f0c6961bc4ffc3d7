//! What the writing module needs from the server (server side only): the
//! server implements [`WritingService`] (storage, generation jobs, DeepSeek,
//! limits) and provides it to every request as Leptos context; the server
//! functions in `api` only check the caller and delegate.

use std::sync::Arc;

use leptos::prelude::*;

use super::protocol::{
    ArticleDetail, ArticleSummary, Brief, GenerationRef, Quota, Regenerate, WritingError,
};
use crate::auth::User;

/// Every call names the logged-in user: an article of another user is
/// `NotFound`, never shown or changed.
#[async_trait::async_trait]
pub trait WritingService: Send + Sync + 'static {
    /// Creates an article and starts generating its first version.
    async fn start(&self, user: &User, brief: Brief) -> Result<GenerationRef, WritingError>;
    /// An outline (Markdown) for the brief, for the visitor to edit.
    async fn outline(&self, user: &User, brief: Brief) -> Result<String, WritingError>;
    async fn regenerate(
        &self,
        user: &User,
        id: &str,
        how: Regenerate,
    ) -> Result<GenerationRef, WritingError>;
    /// Stops a running generation, keeping what was written.
    async fn stop(&self, user: &User, id: &str) -> Result<(), WritingError>;
    /// The user's articles, newest first.
    async fn list(&self, user: &User) -> Result<Vec<ArticleSummary>, WritingError>;
    /// One article; `version` = `None` for the newest.
    async fn get(
        &self,
        user: &User,
        id: &str,
        version: Option<u32>,
    ) -> Result<ArticleDetail, WritingError>;
    /// Saves the visitor's edit of the newest version.
    async fn save(
        &self,
        user: &User,
        id: &str,
        title: String,
        body: String,
    ) -> Result<ArticleDetail, WritingError>;
    async fn delete(&self, user: &User, id: &str) -> Result<(), WritingError>;
    async fn quota(&self, user: &User) -> Result<Quota, WritingError>;
}

/// The service of this request, or `NotConfigured`.
pub fn use_writing_service() -> Result<Arc<dyn WritingService>, WritingError> {
    use_context::<Arc<dyn WritingService>>().ok_or(WritingError::NotConfigured)
}
