//! What a WeChat push means for logins: a scan of our QR code logs its
//! browser in (or, in confirm mode, asks for a 确认), a 确认 confirms, a
//! plain follow is welcomed, an unfollow is recorded.
//!
//! Each push is handled in one transaction that first claims its dedup key,
//! so WeChat's retries change nothing twice and get the same answer.

use app::modules::wechat_login::protocol::LoginStatus;
use sqlx::SqliteConnection;
use wechat::{Message, MessageKind};

use super::{names, replies, secrets, store};
use crate::{clock, state::AppState};

/// The passive reply: a text, or nothing (WeChat's "success").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Text(String),
    Nothing,
}

/// A reply and, when an attempt changed, the news for its browser.
struct Outcome {
    reply: Reply,
    changed: Option<(String, LoginStatus)>,
}

impl Outcome {
    fn say(text: String) -> Self {
        Self {
            reply: Reply::Text(text),
            changed: None,
        }
    }

    fn nothing() -> Self {
        Self {
            reply: Reply::Nothing,
            changed: None,
        }
    }
}

pub async fn handle(state: &AppState, message: &Message) -> sqlx::Result<Reply> {
    let now = clock::now_ms();
    let key = message.dedup_key();
    // IMMEDIATE takes the write lock up front: two pushes at once queue
    // instead of failing to upgrade a read lock.
    let mut tx = state.db.begin_with("BEGIN IMMEDIATE").await?;
    if !store::claim_event(&mut tx, &key, now).await? {
        let reply = store::handled_reply(&mut tx, &key).await?;
        tx.rollback().await?;
        tracing::debug!("a WeChat retry of a push already handled");
        return Ok(reply.map_or(Reply::Nothing, Reply::Text));
    }

    let outcome = decide(state, &mut tx, message, now).await?;
    if let Reply::Text(text) = &outcome.reply {
        store::save_reply(&mut tx, &key, text).await?;
    }
    tx.commit().await?;

    if let Some((attempt, status)) = outcome.changed {
        tracing::info!(attempt = %short(&attempt), status = status.as_str(), "login scanned");
        state.hub.publish(&attempt, status);
    }
    Ok(outcome.reply)
}

async fn decide(
    state: &AppState,
    db: &mut SqliteConnection,
    message: &Message,
    now: i64,
) -> sqlx::Result<Outcome> {
    let openid = message.from_user.as_str();
    let site = state.theme.layout.site.name.as_str();
    match &message.kind {
        MessageKind::Subscribe {
            scene: Some(scene), ..
        }
        | MessageKind::Scan { scene, .. }
            if secrets::is_attempt_id(scene) =>
        {
            scan(state, db, openid, scene, now).await
        }
        MessageKind::Subscribe { .. } => {
            store::upsert_follower(db, openid, &names::generate(), now).await?;
            Ok(Outcome::say(replies::welcome(site)))
        }
        MessageKind::Unsubscribe => {
            store::mark_unfollowed(db, openid, now).await?;
            Ok(Outcome::nothing())
        }
        MessageKind::Text { content, .. } if content.trim() == replies::CONFIRM_WORD => {
            confirm(state, db, openid, now).await
        }
        // Scans of codes that are not login codes, other texts, menu clicks…:
        // not the login's business.
        _ => Ok(Outcome::nothing()),
    }
}

async fn scan(
    state: &AppState,
    db: &mut SqliteConnection,
    openid: &str,
    attempt_id: &str,
    now: i64,
) -> sqlx::Result<Outcome> {
    let site = state.theme.layout.site.name.as_str();
    let user = store::upsert_follower(db, openid, &names::generate(), now).await?;
    let Some(attempt) = store::find_attempt(&mut *db, attempt_id).await? else {
        return Ok(Outcome::say(replies::unknown_code()));
    };
    let same_person = attempt.openid.as_deref() == Some(openid);

    Ok(match attempt.status_at(now) {
        LoginStatus::Expired => Outcome::say(replies::expired()),
        LoginStatus::Pending => {
            let status = if state.config.login.confirm_mode {
                LoginStatus::AwaitingConfirmation
            } else {
                LoginStatus::Confirmed
            };
            store::mark_scanned(db, &attempt.id, &user, openid, status, now).await?;
            let reply = if status == LoginStatus::Confirmed {
                replies::logged_in(site, &user)
            } else {
                confirm_prompt(site, &attempt, now)
            };
            Outcome {
                reply: Reply::Text(reply),
                changed: Some((attempt.id, status)),
            }
        }
        LoginStatus::AwaitingConfirmation if same_person => {
            Outcome::say(confirm_prompt(site, &attempt, now))
        }
        LoginStatus::Confirmed | LoginStatus::Consumed if same_person => {
            Outcome::say(replies::already_logged_in())
        }
        _ => Outcome::say(replies::taken_by_someone_else()),
    })
}

async fn confirm(
    state: &AppState,
    db: &mut SqliteConnection,
    openid: &str,
    now: i64,
) -> sqlx::Result<Outcome> {
    let Some(attempt) = store::find_awaiting_confirmation(db, openid, now).await? else {
        return Ok(Outcome::say(replies::nothing_to_confirm()));
    };
    if !store::mark_confirmed(db, &attempt.id, now).await? {
        return Ok(Outcome::say(replies::nothing_to_confirm()));
    }
    let user = match attempt.user_id {
        Some(id) => store::find_user(&mut *db, id).await?,
        None => None,
    };
    let site = state.theme.layout.site.name.as_str();
    let reply = match user {
        Some(user) => replies::logged_in(site, &user),
        None => replies::already_logged_in(),
    };
    Ok(Outcome {
        reply: Reply::Text(reply),
        changed: Some((attempt.id, LoginStatus::Confirmed)),
    })
}

fn confirm_prompt(site: &str, attempt: &store::Attempt, now: i64) -> String {
    let minutes_left = ((attempt.expires_at - now) as f64 / 60_000.0)
        .ceil()
        .max(1.0) as i64;
    replies::confirm_prompt(
        site,
        &clock::beijing(attempt.created_at),
        &attempt.client_ip,
        &attempt.user_agent,
        minutes_left,
    )
}

/// Enough of an attempt id to follow it in logs without making it usable.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
