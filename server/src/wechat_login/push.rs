//! What a WeChat push means for logins: a scan of our QR code logs its
//! browser in (or, in confirm mode, asks for a 确认 with the code its
//! browser shows), a 确认 with that code confirms, a plain follow is
//! welcomed, an unfollow is recorded.
//!
//! Each push is handled in one write transaction (on SQLite shared with the
//! pushes that arrived with it, see `crate::db_writer`; on PostgreSQL its
//! own, so the same push delivered to two processes is handled once) that
//! first records its signed stamp (a stamp seen before with another body is
//! refused: a reused signature), then claims its dedup key, so WeChat's
//! retries change nothing twice and get the same answer. The steps are
//! [`LoginTx`]'s, whichever engine.

use app::modules::wechat_login::status::LoginStatus;
use wechat::{Message, MessageKind, Stamp};

use super::{attempt::Attempt, login_tx::LoginTx, names, push_sql::StampSeen, replies, secrets};
use crate::{clock, ops::events};

/// A push that passed the verifier, and what identifies its request.
#[derive(Clone, Debug)]
pub struct Push {
    pub message: Message,
    /// The signed `(timestamp, nonce)` of its request.
    pub stamp: Stamp,
    /// SHA-256 of the request's raw body.
    pub body_hash: [u8; 32],
}

/// How a push was taken.
pub enum Taken {
    /// Handled now, or a retry of one handled before (same reply).
    Handled(Outcome),
    /// Its signed stamp came before with another body: the signature is
    /// reused. Refused; nothing changed.
    StampReused,
}

/// How a push went, as its store answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Handled (or a retry of one handled): the passive reply.
    Reply(Reply),
    /// Its signed stamp came before with another body: refused, nothing
    /// changed.
    StampReused,
}

/// At most this many attempts may wait for one WeChat user's 确认: each
/// needs a code of its own.
const MAX_WAITING: usize = 20;

/// The passive reply: a text, or nothing (WeChat's "success").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Text(String),
    Nothing,
}

/// What the handling of a push depends on besides the database.
#[derive(Clone, Debug)]
pub struct Rules {
    /// The site's name, for the replies.
    pub site: String,
    /// `LOGIN_CONFIRM_MODE`: a scan waits for a 确认.
    pub confirm_mode: bool,
}

/// A reply and, when an attempt changed, the news for its browser (to be
/// published once the change is committed).
pub struct Outcome {
    pub reply: Reply,
    pub changed: Option<(String, LoginStatus)>,
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

/// Handles one push inside the caller's write transaction: records its
/// stamp first, then claims its dedup key, so a retry of a push already
/// handled changes nothing and gets the same reply, and a reused signature
/// with another body changes nothing at all.
pub async fn apply<T: LoginTx>(
    rules: &Rules,
    db: &mut T,
    push: &Push,
    now: i64,
) -> Result<Taken, T::Error> {
    let stamp = &push.stamp;
    let seen = db
        .remember_stamp(stamp.timestamp, &stamp.nonce, &push.body_hash, now)
        .await?;
    if seen == StampSeen::OtherBody {
        return Ok(Taken::StampReused);
    }
    let message = &push.message;
    let key = message.dedup_key();
    if !db.claim_event(&key, now).await? {
        let reply = db.handled_reply(&key).await?;
        tracing::debug!("a WeChat retry of a push already handled");
        return Ok(Taken::Handled(Outcome {
            reply: reply.map_or(Reply::Nothing, Reply::Text),
            changed: None,
        }));
    }

    let outcome = decide(rules, db, message, now).await?;
    if let Reply::Text(text) = &outcome.reply {
        db.save_reply(&key, text).await?;
    }
    Ok(Taken::Handled(outcome))
}

async fn decide<T: LoginTx>(
    rules: &Rules,
    db: &mut T,
    message: &Message,
    now: i64,
) -> Result<Outcome, T::Error> {
    let openid = message.from_user.as_str();
    let site = rules.site.as_str();
    match &message.kind {
        MessageKind::Subscribe {
            scene: Some(scene), ..
        } if secrets::is_attempt_id(scene) => {
            // A follower won by the login QR code, for the operator page
            // (a retry of this push was stopped by its dedup key above).
            db.count(events::FOLLOW_VIA_QR, now).await?;
            scan(rules, db, openid, scene, now).await
        }
        MessageKind::Scan { scene, .. } if secrets::is_attempt_id(scene) => {
            scan(rules, db, openid, scene, now).await
        }
        MessageKind::Subscribe { .. } => {
            db.upsert_follower(openid, &names::generate(), now).await?;
            Ok(Outcome::say(replies::welcome(site)))
        }
        MessageKind::Unsubscribe => {
            db.mark_unfollowed(openid, now).await?;
            Ok(Outcome::nothing())
        }
        MessageKind::Text { content, .. } => match replies::read_confirmation(content) {
            Some(said) => confirm(rules, db, openid, said, now).await,
            None => Ok(Outcome::nothing()),
        },
        // Scans of codes that are not login codes, other texts, menu clicks…:
        // not the login's business.
        _ => Ok(Outcome::nothing()),
    }
}

async fn scan<T: LoginTx>(
    rules: &Rules,
    db: &mut T,
    openid: &str,
    attempt_id: &str,
    now: i64,
) -> Result<Outcome, T::Error> {
    let site = rules.site.as_str();
    // The user's row first: two scans by one WeChat user wait for each
    // other here (PostgreSQL), so they never pick the same confirm code.
    let user = db.upsert_follower(openid, &names::generate(), now).await?;
    let Some(attempt) = db.find_attempt(attempt_id).await? else {
        return Ok(Outcome::say(replies::unknown_code()));
    };
    let same_person = attempt.openid.as_deref() == Some(openid);

    Ok(match attempt.status_at(now) {
        LoginStatus::Expired => Outcome::say(replies::expired()),
        LoginStatus::Pending => {
            let code = if rules.confirm_mode {
                let taken: Vec<String> = db
                    .awaiting_confirmation(openid, now)
                    .await?
                    .into_iter()
                    .filter_map(|a| a.confirm_code)
                    .collect();
                if taken.len() >= MAX_WAITING {
                    return Ok(Outcome::say(replies::too_many_waiting()));
                }
                Some(secrets::new_confirm_code(|code| {
                    taken.iter().any(|t| t == code)
                }))
            } else {
                None
            };
            // Read as pending in this very transaction: it still is.
            let Some(status) = db
                .record_scan(&attempt.id, user.id, openid, code.as_deref(), now)
                .await?
            else {
                return Ok(Outcome::say(replies::taken_by_someone_else()));
            };
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

/// A 确认 (with or without a code) from `openid`. Only an attempt whose
/// code matches is confirmed. A bare 确认 confirms none, even with a single
/// attempt waiting: that one may be a hijacker's QR code the user was
/// tricked into scanning, and only the code, read on the page that is
/// logging in, says which login the user means.
async fn confirm<T: LoginTx>(
    rules: &Rules,
    db: &mut T,
    openid: &str,
    said: replies::Confirmation,
    now: i64,
) -> Result<Outcome, T::Error> {
    let waiting = db.awaiting_confirmation(openid, now).await?;
    let code = match said {
        _ if waiting.is_empty() => {
            // Digits alone may mean anything: only a 确认 gets an answer.
            return Ok(if said.has_word() {
                Outcome::say(replies::nothing_to_confirm())
            } else {
                Outcome::nothing()
            });
        }
        replies::Confirmation::Bare => return Ok(Outcome::say(replies::code_needed())),
        replies::Confirmation::Code { code, .. } => code,
    };
    let Some(attempt) = waiting
        .into_iter()
        .find(|a| a.confirm_code.as_deref() == Some(code.as_str()))
    else {
        return Ok(Outcome::say(replies::wrong_code()));
    };
    if !db.record_confirmation(&attempt.id, now).await? {
        return Ok(Outcome::say(replies::nothing_to_confirm()));
    }
    let user = match attempt.user_id {
        Some(id) => db.find_user(id).await?,
        None => None,
    };
    let site = rules.site.as_str();
    let reply = match user {
        Some(user) => replies::logged_in(site, &user),
        None => replies::already_logged_in(),
    };
    Ok(Outcome {
        reply: Reply::Text(reply),
        changed: Some((attempt.id, LoginStatus::Confirmed)),
    })
}

fn confirm_prompt(site: &str, attempt: &Attempt, now: i64) -> String {
    let minutes_left = ((attempt.expires_at - now) as f64 / 60_000.0)
        .ceil()
        .max(1.0) as i64;
    replies::confirm_prompt(
        site,
        &clock::beijing(attempt.created_at),
        &attempt.client_ip,
        &replies::describe_browser(&attempt.user_agent),
        minutes_left,
    )
}

/// Enough of an attempt id to follow it in logs without making it usable.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
