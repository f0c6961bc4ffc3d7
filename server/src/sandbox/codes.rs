//! The temporary QR codes created through `cgi-bin/qrcode/create`.
//!
//! An expired code is kept for an hour: a phone may still scan it, and the
//! site must then tell the WeChat user it expired. After that it is
//! forgotten, so a long run (a benchmark creates 10 000+ codes) stays small.

use std::collections::{HashMap, VecDeque};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Serialize;

use super::random;

/// How long an expired code is still known.
const RETENTION_MS: i64 = 3_600_000;
/// Pruning walks every code: do it at most this often.
const PRUNE_EVERY_MS: i64 = 10_000;
/// A hard ceiling whatever the expiries, oldest dropped first.
const MAX_CODES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QrCode {
    pub ticket: String,
    pub scene: String,
    /// What the QR image encodes.
    pub url: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

impl QrCode {
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at_ms
    }
}

#[derive(Debug, Default)]
pub struct CodeRegistry {
    by_ticket: HashMap<String, QrCode>,
    /// Tickets in creation order, oldest first.
    order: VecDeque<String>,
    last_prune_ms: i64,
}

impl CodeRegistry {
    pub fn insert(&mut self, code: QrCode, now: i64) {
        if now - self.last_prune_ms >= PRUNE_EVERY_MS {
            self.prune(now);
        }
        while self.order.len() >= MAX_CODES {
            if let Some(oldest) = self.order.pop_front() {
                self.by_ticket.remove(&oldest);
            }
        }
        self.order.push_back(code.ticket.clone());
        self.by_ticket.insert(code.ticket.clone(), code);
    }

    pub fn get(&self, ticket: &str) -> Option<&QrCode> {
        self.by_ticket.get(ticket)
    }

    /// The `limit` most recently created codes, newest first.
    pub fn newest(&self, limit: usize) -> impl Iterator<Item = &QrCode> {
        self.order
            .iter()
            .rev()
            .filter_map(|ticket| self.by_ticket.get(ticket))
            .take(limit)
    }

    /// Forgets codes expired for more than an hour.
    pub fn prune(&mut self, now: i64) {
        self.last_prune_ms = now;
        self.by_ticket
            .retain(|_, code| code.expires_at_ms + RETENTION_MS > now);
        let by_ticket = &self.by_ticket;
        self.order.retain(|ticket| by_ticket.contains_key(ticket));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_ticket.len()
    }
}

/// Makes the ticket of a new code. Like WeChat's, a ticket stays scannable
/// when the sandbox restarts (its memory is gone): it carries the scene and
/// times itself, after a random part so tickets never repeat. A scene too
/// long for that gets a plain random ticket, known to this process only.
pub fn new_ticket(scene: &str, created_at_ms: i64, expires_at_ms: i64) -> String {
    let ticket = format!(
        "gQ{created_at_ms:012x}{expires_at_ms:012x}{}{}",
        random::url_safe_text(10),
        URL_SAFE_NO_PAD.encode(scene)
    );
    if random::is_url_safe_id(&ticket) {
        ticket
    } else {
        random::ticket()
    }
}

/// The code a ticket from [`new_ticket`] describes, for tickets this process
/// did not issue (it restarted since).
pub fn decode_ticket(ticket: &str, site_url: &str) -> Option<QrCode> {
    let rest = ticket.strip_prefix("gQ")?;
    let created_at_ms = i64::from_str_radix(rest.get(..12)?, 16).ok()?;
    let expires_at_ms = i64::from_str_radix(rest.get(12..24)?, 16).ok()?;
    let scene = URL_SAFE_NO_PAD.decode(rest.get(34..)?).ok()?;
    let scene = String::from_utf8(scene)
        .ok()
        .filter(|s| (1..=64).contains(&s.chars().count()))?;
    Some(QrCode {
        ticket: ticket.to_owned(),
        scene,
        url: format!("{site_url}{}/q/{ticket}", super::MOUNT_PATH),
        created_at_ms,
        expires_at_ms,
    })
}

/// The ticket inside what a phone scanned: a QR URL (`…/q/{ticket}`), the
/// phone page's own link (`…?ticket={ticket}`), or a bare ticket.
pub fn ticket_from_url(scanned: &str) -> Option<String> {
    let scanned = scanned.trim();
    let candidate = if let Some((_, rest)) = scanned.rsplit_once("/q/") {
        rest.split(['?', '#', '/']).next().unwrap_or_default()
    } else if let Some((_, query)) = scanned.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("ticket="))
            .unwrap_or_default()
    } else {
        scanned
    };
    random::is_url_safe_id(candidate).then(|| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn code(ticket: &str, created: i64, lifetime: i64) -> QrCode {
        QrCode {
            ticket: ticket.into(),
            scene: format!("scene-{ticket}"),
            url: format!("http://127.0.0.1/sandbox/wechat/q/{ticket}"),
            created_at_ms: created,
            expires_at_ms: created + lifetime,
        }
    }

    #[test]
    fn newest_first_and_limited() {
        let mut codes = CodeRegistry::default();
        for i in 0..5 {
            codes.insert(code(&format!("t{i}"), NOW + i, 60_000), NOW + i);
        }
        let tickets: Vec<_> = codes.newest(3).map(|c| c.ticket.as_str()).collect();
        assert_eq!(tickets, ["t4", "t3", "t2"]);
        assert_eq!(codes.get("t1").map(|c| c.scene.as_str()), Some("scene-t1"));
        assert!(codes.get("nope").is_none());
    }

    #[test]
    fn expired_codes_stay_an_hour_then_go() {
        let mut codes = CodeRegistry::default();
        codes.insert(code("short", NOW, 1_000), NOW);
        codes.insert(code("long", NOW, 2 * RETENTION_MS), NOW);
        let short = codes.get("short").cloned();
        assert!(short.as_ref().is_some_and(|c| c.is_expired(NOW + 1_000)));
        assert!(short.is_some_and(|c| !c.is_expired(NOW + 999)));

        codes.prune(NOW + RETENTION_MS);
        assert!(codes.get("short").is_some());
        codes.prune(NOW + 1_000 + RETENTION_MS);
        assert!(codes.get("short").is_none());
        assert_eq!(codes.len(), 1);
        assert_eq!(codes.newest(50).count(), 1);
    }

    #[test]
    fn inserting_prunes_now_and_then() {
        let mut codes = CodeRegistry::default();
        for i in 0..1_000 {
            codes.insert(code(&format!("old{i}"), NOW, 1_000), NOW);
        }
        let later = NOW + 1_000 + RETENTION_MS + PRUNE_EVERY_MS;
        codes.insert(code("new", later, 1_000), later);
        assert_eq!(codes.len(), 1);
    }

    #[test]
    fn tickets_describe_their_code_across_restarts() {
        let scene = "0123456789abcdef0123456789abcdef";
        let ticket = new_ticket(scene, NOW, NOW + 300_000);
        assert!(random::is_url_safe_id(&ticket), "{ticket}");
        assert_ne!(
            ticket,
            new_ticket(scene, NOW, NOW + 300_000),
            "tickets never repeat"
        );
        let code = decode_ticket(&ticket, "http://127.0.0.1:3000").unwrap();
        assert_eq!(code.scene, scene);
        assert_eq!(
            (code.created_at_ms, code.expires_at_ms),
            (NOW, NOW + 300_000)
        );
        assert_eq!(
            code.url,
            format!("http://127.0.0.1:3000/sandbox/wechat/q/{ticket}")
        );
        assert!(decode_ticket("gQnot-a-real-one", "http://x").is_none());
        assert!(decode_ticket(&random::ticket(), "http://x").is_none());
    }

    #[test]
    fn tickets_are_read_from_what_was_scanned() {
        let cases = [
            (
                "http://127.0.0.1:3000/sandbox/wechat/q/gQabc_-1",
                Some("gQabc_-1"),
            ),
            (
                "https://site.example/sandbox/wechat/q/gQabc?x=1#f",
                Some("gQabc"),
            ),
            (
                "http://127.0.0.1:3000/sandbox/wechat/phone?ticket=gQxyz",
                Some("gQxyz"),
            ),
            ("/sandbox/wechat/phone?a=b&ticket=gQxyz#top", Some("gQxyz")),
            ("  gQbare  ", Some("gQbare")),
            ("http://127.0.0.1:3000/sandbox/wechat/q/", None),
            ("http://127.0.0.1:3000/other?x=1", None),
            ("not a ticket", None),
            ("", None),
        ];
        for (scanned, expected) in cases {
            assert_eq!(ticket_from_url(scanned).as_deref(), expected, "{scanned}");
        }
    }
}
