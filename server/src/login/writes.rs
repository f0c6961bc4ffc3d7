//! The SQL of the login's writes: pushes (users, attempts, the record of
//! handled pushes and of signed stamps), new attempts, completions and the
//! clean-up. Run by the writer thread (see `writer`) on its own connection,
//! inside its batch transaction. Synchronous (rusqlite), so a statement is a function call
//! rather than a round trip to a connection thread; the reads of the
//! request handlers stay in `store`.

use app::{auth::User, modules::wechat_login::protocol::LoginStatus};
use rusqlite::{params, Connection, OptionalExtension, Row};

use wechat::callback::MAX_CLOCK_SKEW_SECS;

use super::store::{Attempt, ATTEMPT_COLUMNS, COMPLETE_WINDOW};

pub type Result<T> = rusqlite::Result<T>;

fn attempt(row: &Row) -> Result<Attempt> {
    Ok(Attempt {
        id: row.get(0)?,
        binding_hash: row.get(1)?,
        status: row.get(2)?,
        openid: row.get(3)?,
        user_id: row.get(4)?,
        client_ip: row.get(5)?,
        user_agent: row.get(6)?,
        created_at: row.get(7)?,
        expires_at: row.get(8)?,
        confirmed_at: row.get(9)?,
        confirm_code: row.get(10)?,
    })
}

fn user(row: &Row) -> Result<User> {
    Ok(User {
        id: row.get(0)?,
        display_name: row.get(1)?,
    })
}

pub fn insert_attempt(
    db: &Connection,
    id: &str,
    binding_hash: &[u8],
    client_ip: &str,
    user_agent: &str,
    created_at: i64,
    expires_at: i64,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO login_attempts (id, binding_hash, client_ip, user_agent, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![id, binding_hash, client_ip, user_agent, created_at, expires_at])?;
    Ok(())
}

pub fn find_attempt(db: &Connection, id: &str) -> Result<Option<Attempt>> {
    db.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM login_attempts WHERE id = ?"
    ))?
    .query_row([id], attempt)
    .optional()
}

/// The attempts `openid` scanned that still wait for a 确认, newest first.
pub fn awaiting_confirmation(db: &Connection, openid: &str, now: i64) -> Result<Vec<Attempt>> {
    db.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM login_attempts
         WHERE openid = ? AND status = 'awaiting_confirmation' AND expires_at > ?
         ORDER BY created_at DESC"
    ))?
    .query_map(params![openid, now], attempt)?
    .collect()
}

/// Records a scan: `confirmed` at once, or `awaiting_confirmation` (with
/// the code to reply) in confirm mode. Only a pending attempt changes.
pub fn mark_scanned(
    db: &Connection,
    id: &str,
    user: &User,
    openid: &str,
    status: LoginStatus,
    confirm_code: Option<&str>,
    now: i64,
) -> Result<bool> {
    let confirmed_at = (status == LoginStatus::Confirmed).then_some(now);
    let changed = db
        .prepare_cached(
            "UPDATE login_attempts
             SET status = ?, openid = ?, user_id = ?, scanned_at = ?, confirmed_at = ?,
                 confirm_code = ?
             WHERE id = ? AND status = 'pending'",
        )?
        .execute(params![
            status.as_str(),
            openid,
            user.id,
            now,
            confirmed_at,
            confirm_code,
            id
        ])?;
    Ok(changed == 1)
}

/// The WeChat user replied 确认.
pub fn mark_confirmed(db: &Connection, id: &str, now: i64) -> Result<bool> {
    let changed = db
        .prepare_cached(
            "UPDATE login_attempts SET status = 'confirmed', confirmed_at = ?
             WHERE id = ? AND status = 'awaiting_confirmation'",
        )?
        .execute(params![now, id])?;
    Ok(changed == 1)
}

/// Redeems a confirmed attempt. True only for the one caller that did it.
pub fn mark_consumed(db: &Connection, id: &str, now: i64) -> Result<bool> {
    let changed = db
        .prepare_cached(
            "UPDATE login_attempts SET status = 'consumed', consumed_at = ?
             WHERE id = ? AND status = 'confirmed'",
        )?
        .execute(params![now, id])?;
    Ok(changed == 1)
}

/// The user of `openid`, created (with `new_name`) on first sight; marked as
/// following, since they just scanned or followed.
pub fn upsert_follower(db: &Connection, openid: &str, new_name: &str, now: i64) -> Result<User> {
    db.prepare_cached(
        "INSERT INTO users (openid, display_name, following, created_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (openid) DO UPDATE SET following = 1, unsubscribed_at = NULL
         RETURNING id, display_name",
    )?
    .query_row(params![openid, new_name, now], user)
}

pub fn mark_unfollowed(db: &Connection, openid: &str, now: i64) -> Result<()> {
    db.prepare_cached("UPDATE users SET following = 0, unsubscribed_at = ? WHERE openid = ?")?
        .execute(params![now, openid])?;
    Ok(())
}

pub fn find_user(db: &Connection, id: i64) -> Result<Option<User>> {
    db.prepare_cached("SELECT id, display_name FROM users WHERE id = ?")?
        .query_row([id], user)
        .optional()
}

pub fn create_session(
    db: &Connection,
    token_hash: &[u8],
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
    )?
    .execute(params![token_hash, user_id, now, expires_at])?;
    Ok(())
}

/// Claims a WeChat push for handling. False when it was handled before (a
/// retry): its stored reply, if any, is then in `handled_reply`.
pub fn claim_event(db: &Connection, key: &str, now: i64) -> Result<bool> {
    let changed = db
        .prepare_cached(
            "INSERT INTO wechat_events (dedup_key, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )?
        .execute(params![key, now])?;
    Ok(changed == 1)
}

pub fn handled_reply(db: &Connection, key: &str) -> Result<Option<String>> {
    Ok(db
        .prepare_cached("SELECT reply FROM wechat_events WHERE dedup_key = ?")?
        .query_row([key], |row| row.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

pub fn save_reply(db: &Connection, key: &str, reply: &str) -> Result<()> {
    db.prepare_cached("UPDATE wechat_events SET reply = ? WHERE dedup_key = ?")?
        .execute(params![reply, key])?;
    Ok(())
}

/// What the record of signed stamps says about a request's stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StampSeen {
    /// First time: now remembered with this body's digest.
    New,
    /// Seen before with the same body: a retry.
    SameBody,
    /// Seen before with another body: a reused signature.
    OtherBody,
}

/// Checks and records a signed `(timestamp, nonce)` with the digest of its
/// body, in the caller's transaction (so a refused or rolled-back request
/// leaves nothing behind).
pub fn remember_stamp(
    db: &Connection,
    timestamp: i64,
    nonce: &str,
    body_hash: &[u8],
    now: i64,
) -> Result<StampSeen> {
    let inserted = db
        .prepare_cached(
            "INSERT INTO push_nonces (timestamp, nonce, body_hash, received_at) VALUES (?, ?, ?, ?)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![timestamp, nonce, body_hash, now])?;
    if inserted == 1 {
        return Ok(StampSeen::New);
    }
    let known: Vec<u8> = db
        .prepare_cached("SELECT body_hash FROM push_nonces WHERE timestamp = ? AND nonce = ?")?
        .query_row(params![timestamp, nonce], |row| row.get(0))?;
    Ok(if known == body_hash {
        StampSeen::SameBody
    } else {
        StampSeen::OtherBody
    })
}

/// What one clean-up chunk removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub attempts: u64,
    pub sessions: u64,
    pub events: u64,
    pub stamps: u64,
}

impl Removed {
    pub fn total(&self) -> u64 {
        self.attempts + self.sessions + self.events + self.stamps
    }

    pub fn add(&mut self, other: Removed) {
        self.attempts += other.attempts;
        self.sessions += other.sessions;
        self.events += other.events;
        self.stamps += other.stamps;
    }
}

/// Deletes at most `limit` rows of each kind nobody can use any more:
/// attempts a day past their end, sessions past expiry or revoked a day ago,
/// pushes handled over a day ago (WeChat retries within seconds), stamps
/// older than the freshness window (a request with such a stamp is refused
/// as stale anyway). Small chunks keep each transaction of the writer short,
/// so the pushes queued behind it are answered in time. Also says whether
/// more may be left (some kind filled its chunk).
pub fn delete_stale(db: &Connection, now: i64, limit: u64) -> Result<(Removed, bool)> {
    const DAY: i64 = 86_400_000;
    let complete_window = COMPLETE_WINDOW.as_millis() as i64;
    let delete = |sql: &str, before: i64| -> Result<u64> {
        Ok(db.prepare_cached(sql)?.execute(params![before, limit])? as u64)
    };
    let attempts = delete(
        "DELETE FROM login_attempts WHERE rowid IN
         (SELECT rowid FROM login_attempts WHERE expires_at < ? LIMIT ?)",
        now - complete_window - DAY,
    )?;
    let expired = delete(
        "DELETE FROM sessions WHERE rowid IN
         (SELECT rowid FROM sessions WHERE expires_at < ? LIMIT ?)",
        now,
    )?;
    let revoked = delete(
        "DELETE FROM sessions WHERE rowid IN
         (SELECT rowid FROM sessions WHERE revoked_at < ? LIMIT ?)",
        now - DAY,
    )?;
    let events = delete(
        "DELETE FROM wechat_events WHERE rowid IN
         (SELECT rowid FROM wechat_events WHERE received_at < ? LIMIT ?)",
        now - DAY,
    )?;
    // A minute beyond the window, for a clock that steps back.
    let stamps = delete(
        "DELETE FROM push_nonces WHERE (timestamp, nonce) IN
         (SELECT timestamp, nonce FROM push_nonces WHERE timestamp < ? LIMIT ?)",
        now / 1000 - MAX_CLOCK_SKEW_SECS - 60,
    )?;
    let more = [attempts, expired, revoked, events, stamps]
        .iter()
        .any(|&n| n >= limit);
    let removed = Removed {
        attempts,
        sessions: expired + revoked,
        events,
        stamps,
    };
    Ok((removed, more))
}
