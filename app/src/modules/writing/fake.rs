//! For the views' tests: a writing service that answers from memory, and a
//! page render with a visitor, a service and an address.

use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use leptos_router::{components::Router, location::RequestUrl};

use super::{
    protocol::{
        ArticleDetail, ArticleSummary, Brief, GenerationRef, GenerationStatus, Length, Quota,
        Regenerate, VersionInfo, WritingError,
    },
    service::WritingService,
};
use crate::{
    auth::{CurrentUser, User},
    theme::stream_html,
};

/// Articles of user 1 only; everyone else has none.
#[derive(Default)]
pub struct FakeService {
    pub articles: Mutex<Vec<ArticleDetail>>,
}

pub const OWNER: i64 = 1;

pub fn owner() -> User {
    User {
        id: OWNER,
        display_name: "测试用户".into(),
    }
}

pub fn stranger() -> User {
    User {
        id: 2,
        display_name: "路人".into(),
    }
}

/// An article of the owner with this body.
pub fn article(id: &str, body: &str, status: GenerationStatus) -> ArticleDetail {
    ArticleDetail {
        id: id.into(),
        title: "春天的茶".into(),
        brief: Brief {
            topic: "春天的茶".into(),
            kind: "博客".into(),
            length: Length::Short,
            ..Brief::default()
        },
        version: 1,
        versions: vec![VersionInfo {
            number: 1,
            status,
            chars: body.chars().count() as u32,
            created_at: "2026-11-22T06:05:09Z".into(),
        }],
        status,
        body: body.into(),
        reasoning: String::new(),
        problem: None,
        usage: None,
        elapsed_ms: 42_000,
        stream_from: "1.0.0".into(),
        updated_at: "2026-11-22T06:05:09Z".into(),
    }
}

impl FakeService {
    pub fn with(articles: Vec<ArticleDetail>) -> Arc<Self> {
        Arc::new(Self {
            articles: Mutex::new(articles),
        })
    }

    fn find(&self, user: &User, id: &str) -> Result<ArticleDetail, WritingError> {
        if user.id != OWNER {
            return Err(WritingError::NotFound);
        }
        self.articles
            .lock()
            .unwrap()
            .iter()
            .find(|a| a.id == id)
            .cloned()
            .ok_or(WritingError::NotFound)
    }
}

#[async_trait::async_trait]
impl WritingService for FakeService {
    async fn start(&self, _: &User, _: Brief) -> Result<GenerationRef, WritingError> {
        Err(WritingError::SiteBusy)
    }
    async fn outline(&self, _: &User, _: Brief) -> Result<String, WritingError> {
        Err(WritingError::SiteBusy)
    }
    async fn regenerate(
        &self,
        _: &User,
        _: &str,
        _: Regenerate,
    ) -> Result<GenerationRef, WritingError> {
        Err(WritingError::SiteBusy)
    }
    async fn stop(&self, _: &User, _: &str) -> Result<(), WritingError> {
        Ok(())
    }
    async fn list(&self, user: &User) -> Result<Vec<ArticleSummary>, WritingError> {
        if user.id != OWNER {
            return Ok(Vec::new());
        }
        Ok(self
            .articles
            .lock()
            .unwrap()
            .iter()
            .map(|a| ArticleSummary {
                id: a.id.clone(),
                title: a.title.clone(),
                kind: a.brief.kind.clone(),
                status: a.status,
                chars: a.body.chars().count() as u32,
                updated_at: a.updated_at.clone(),
            })
            .collect())
    }
    async fn get(
        &self,
        user: &User,
        id: &str,
        _: Option<u32>,
    ) -> Result<ArticleDetail, WritingError> {
        self.find(user, id)
    }
    async fn save(
        &self,
        user: &User,
        id: &str,
        _: String,
        _: String,
    ) -> Result<ArticleDetail, WritingError> {
        self.find(user, id)
    }
    async fn delete(&self, user: &User, id: &str) -> Result<(), WritingError> {
        self.find(user, id).map(|_| ())
    }
    async fn quota(&self, _: &User) -> Result<Quota, WritingError> {
        Ok(Quota {
            used_today: 3,
            daily_limit: 20,
            running: 0,
            concurrent_limit: 2,
        })
    }
}

/// A rendered page: its HTML and the status it answered with.
pub struct Rendered {
    pub html: String,
    pub status: Option<u16>,
    pub cache_control: Option<String>,
}

/// Renders `view` as the server does for `url`, with this visitor and
/// service (none: not configured).
pub async fn render(
    url: &str,
    user: Option<User>,
    service: Option<Arc<dyn WritingService>>,
    view: impl FnOnce() -> AnyView + Send + 'static,
) -> Rendered {
    let response = leptos_axum::ResponseOptions::default();
    let options = response.clone();
    let url = url.to_owned();
    let html = stream_html(move || {
        provide_context(RequestUrl::new(&url));
        provide_context(CurrentUser::new(user));
        provide_context(options);
        if let Some(service) = service {
            provide_context(service);
        }
        view! { <Router>{view()}</Router> }.into_any()
    })
    .await;
    let parts = response.0.read().unwrap();
    let status = parts.status.map(|s| s.as_u16());
    let cache_control = parts
        .headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    drop(parts);
    Rendered {
        html,
        status,
        cache_control,
    }
}
