//! The end of a login: a confirmed attempt redeemed for a session (after a
//! scan), or a one-tap login WeChat vouched for (网页授权), each one write
//! transaction of [`LoginTx`] steps, whichever engine.

use app::{auth::User, modules::wechat_login::status::LoginStatus};

use super::{login_tx::LoginTx, names};
use crate::ops::events;

/// A confirmed attempt to redeem for a session.
pub struct Completion {
    pub attempt: String,
    pub user_id: i64,
    pub token_hash: Vec<u8>,
    pub expires_at: i64,
}

/// A one-tap login WeChat vouched for (网页授权): its attempt, who, and
/// the session to create.
pub struct Authorized {
    pub attempt: String,
    pub openid: String,
    /// Whether he follows the 服务号 (`cgi-bin/user/info`).
    pub follows: bool,
    pub token_hash: Vec<u8>,
    pub expires_at: i64,
}

/// How a completion went.
pub enum Completed {
    /// The session exists; its user.
    LoggedIn(User),
    /// Another request redeemed the attempt first.
    AlreadyConsumed,
    /// The attempt's user is gone.
    NoUser,
}

/// Marks a confirmed attempt consumed and creates its session, once.
pub async fn complete<T: LoginTx>(
    db: &mut T,
    completion: &Completion,
    now: i64,
) -> Result<Completed, T::Error> {
    // Read first: a job either writes everything or nothing.
    let Some(user) = db.find_user(completion.user_id).await? else {
        return Ok(Completed::NoUser);
    };
    if !db.record_completion(&completion.attempt, now).await? {
        return Ok(Completed::AlreadyConsumed);
    }
    db.create_session(
        &completion.token_hash,
        completion.user_id,
        now,
        completion.expires_at,
    )
    .await?;
    // For the operator page, in the same commit.
    db.count(events::LOGIN, now).await?;
    Ok(Completed::LoggedIn(user))
}

/// Logs in the visitor of a one-tap login, once per attempt: its attempt
/// goes from pending through confirmed to consumed at once, so its `state`
/// serves once.
pub async fn authorized<T: LoginTx>(
    db: &mut T,
    authorized: &Authorized,
    now: i64,
) -> Result<Completed, T::Error> {
    // Read first: a job either writes everything or nothing.
    let pending = db
        .find_attempt(&authorized.attempt)
        .await?
        .is_some_and(|attempt| attempt.status_at(now) == LoginStatus::Pending);
    if !pending {
        return Ok(Completed::AlreadyConsumed);
    }
    let name = names::generate();
    let user = if authorized.follows {
        db.upsert_follower(&authorized.openid, &name, now).await?
    } else {
        db.upsert_visitor(&authorized.openid, &name, now).await?
    };
    let id = &authorized.attempt;
    let scanned = db
        .record_scan(id, user.id, &authorized.openid, None, now)
        .await?;
    if scanned.is_none() || !db.record_completion(id, now).await? {
        return Ok(Completed::AlreadyConsumed);
    }
    db.create_session(&authorized.token_hash, user.id, now, authorized.expires_at)
        .await?;
    // A one-tap login is a login too (operator page).
    db.count(events::LOGIN, now).await?;
    Ok(Completed::LoggedIn(user))
}
