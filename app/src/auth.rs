//! Who is logged in: the `User` every module may read, the `CurrentUser`
//! context in the browser, and (server side) the extractors that let any
//! handler or server function require a login in one line.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A logged-in person, as the browser sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    /// Generated at first login (WeChat no longer shares nicknames);
    /// the user may change it.
    pub display_name: String,
}

impl User {
    /// The character shown in the round avatar placeholder.
    pub fn initial(&self) -> String {
        self.display_name
            .chars()
            .next()
            .map(String::from)
            .unwrap_or_default()
    }
}

/// The logged-in user for every module. On the server it comes from the
/// request; in the browser every island shares one signal, seeded from the
/// page (so a reload shows the right header at once) and updated in place
/// when someone logs in or out.
#[derive(Clone, Copy, Debug)]
pub struct CurrentUser(RwSignal<Option<User>>);

impl CurrentUser {
    pub fn new(user: Option<User>) -> Self {
        Self(RwSignal::new(user))
    }

    pub fn get(&self) -> Option<User> {
        self.0.get()
    }

    /// The user now, without subscribing to changes.
    pub fn get_untracked(&self) -> Option<User> {
        self.0.get_untracked()
    }

    pub fn set(&self, user: Option<User>) {
        self.0.set(user)
    }
}

/// The id of the `<script type="application/json">` holding the page's user.
pub const USER_SCRIPT_ID: &str = "current-user";

/// The user as JSON that is safe inside a `<script>` element.
pub fn user_json(user: &Option<User>) -> String {
    serde_json::to_string(user)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
}

/// The `CurrentUser` of this page.
pub fn use_current_user() -> CurrentUser {
    if let Some(user) = use_context::<CurrentUser>() {
        return user;
    }
    #[cfg(feature = "hydrate")]
    return browser::shared();
    #[cfg(not(feature = "hydrate"))]
    CurrentUser::new(None)
}

/// Islands hydrate apart from the app (which runs on the server only), so
/// they cannot share a context: they share this one signal instead.
#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::OnceCell;

    use leptos::prelude::*;

    use super::{CurrentUser, User, USER_SCRIPT_ID};

    thread_local! {
        static SHARED: OnceCell<ArcRwSignal<Option<User>>> = const { OnceCell::new() };
    }

    pub fn shared() -> CurrentUser {
        let signal = SHARED.with(|cell| cell.get_or_init(|| ArcRwSignal::new(page_user())).clone());
        CurrentUser(RwSignal::from(signal))
    }

    fn page_user() -> Option<User> {
        let text = document()
            .get_element_by_id(USER_SCRIPT_ID)?
            .text_content()?;
        serde_json::from_str(&text).ok().flatten()
    }
}

#[cfg(feature = "ssr")]
pub use server::{Admin, AuthUser, RequestUser};

#[cfg(feature = "ssr")]
mod server {
    use axum::{
        extract::FromRequestParts,
        http::{request::Parts, StatusCode},
        response::{IntoResponse, Response},
        Json,
    };

    use super::User;

    /// Put into each request's extensions by the server's session layer: the
    /// user its session cookie belongs to, if any.
    #[derive(Clone, Debug, Default)]
    pub struct RequestUser(pub Option<User>);

    impl RequestUser {
        pub fn of(parts: &Parts) -> Option<User> {
            parts
                .extensions
                .get::<RequestUser>()
                .and_then(|user| user.0.clone())
        }
    }

    /// Put into a request's extensions by the server when its user is one
    /// of the site's operators (`ADMIN_OPENIDS`) and the request is for a
    /// page only they may see. Without it such a page is the 404 page.
    #[derive(Clone, Copy, Debug)]
    pub struct Admin;

    impl Admin {
        pub fn of(parts: &Parts) -> bool {
            parts.extensions.get::<Admin>().is_some()
        }
    }

    /// Requires a logged-in user: `async fn handler(AuthUser(user): AuthUser)`
    /// in axum, `let AuthUser(user) = leptos_axum::extract().await?;` in a
    /// server function. Answers 401 otherwise.
    #[derive(Clone, Debug)]
    pub struct AuthUser(pub User);

    impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
        type Rejection = Response;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            RequestUser::of(parts).map(AuthUser).ok_or_else(|| {
                let body = serde_json::json!({
                    "error": "not_logged_in",
                    "message": "请先登录",
                });
                (StatusCode::UNAUTHORIZED, Json(body)).into_response()
            })
        }
    }
}
