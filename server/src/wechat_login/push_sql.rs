//! The SQL of the record of WeChat pushes: those handled (`wechat_events`,
//! so a retry changes nothing twice and gets the same reply) and the signed
//! stamps seen (`push_nonces`, so a signature is not reused with another
//! body). Run inside the group-commit transaction, before a push's effects.

use rusqlite::{params, Connection, OptionalExtension};

/// Claims a WeChat push for handling. False when it was handled before (a
/// retry): its stored reply, if any, is then in [`handled_reply`].
pub fn claim_event(db: &Connection, key: &str, now: i64) -> rusqlite::Result<bool> {
    let changed = db
        .prepare_cached(
            "INSERT INTO wechat_events (dedup_key, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )?
        .execute(params![key, now])?;
    Ok(changed == 1)
}

pub fn handled_reply(db: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    Ok(db
        .prepare_cached("SELECT reply FROM wechat_events WHERE dedup_key = ?")?
        .query_row([key], |row| row.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

pub fn save_reply(db: &Connection, key: &str, reply: &str) -> rusqlite::Result<()> {
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
) -> rusqlite::Result<StampSeen> {
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
