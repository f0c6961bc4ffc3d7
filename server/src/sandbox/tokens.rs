//! The access tokens the sandbox has issued, with WeChat's rules:
//!
//! - `cgi-bin/token` issues a new token every call; the previous one keeps
//!   working for five more minutes (WeChat's overlap, so holders can switch);
//! - `cgi-bin/stable_token` hands back the current stable token while it is
//!   valid; `force_refresh` replaces it at once. The two kinds are
//!   independent of each other.

use std::collections::HashMap;

use super::random;

/// WeChat's access-token lifetime.
pub const LIFETIME_MS: i64 = 7_200_000;
/// How long a classic token stays valid after a newer one was issued.
const CLASSIC_OVERLAP_MS: i64 = 300_000;
/// How long an expired token is remembered, to answer 42001 ("expired")
/// rather than 40001 ("invalid") as WeChat does, before it is forgotten.
const RETENTION_MS: i64 = 3_600_000;

/// A token as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub token: String,
    /// Seconds left.
    pub expires_in: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Valid,
    /// Known but past its lifetime (or replaced).
    Expired,
    /// Never issued, or forgotten.
    Unknown,
}

#[derive(Debug, Default)]
pub struct TokenRegistry {
    /// Every remembered token → when it stops working (ms since the epoch).
    expires_at: HashMap<String, i64>,
    classic: Option<String>,
    stable: Option<String>,
}

impl TokenRegistry {
    /// `GET cgi-bin/token`: always a new token.
    pub fn fetch_classic(&mut self, now: i64) -> Issued {
        self.prune(now);
        if let Some(previous) = self.classic.take() {
            self.shorten(&previous, now + CLASSIC_OVERLAP_MS);
        }
        let issued = self.issue(now);
        self.classic = Some(issued.token.clone());
        issued
    }

    /// `POST cgi-bin/stable_token`.
    pub fn fetch_stable(&mut self, now: i64, force_refresh: bool) -> Issued {
        self.prune(now);
        if let Some(current) = &self.stable {
            let expires_at = self.expires_at.get(current).copied().unwrap_or(now);
            if !force_refresh && expires_at > now {
                return Issued {
                    token: current.clone(),
                    expires_in: (expires_at - now) / 1000,
                };
            }
            let current = current.clone();
            self.shorten(&current, now);
        }
        let issued = self.issue(now);
        self.stable = Some(issued.token.clone());
        issued
    }

    pub fn state(&self, token: &str, now: i64) -> TokenState {
        match self.expires_at.get(token) {
            Some(&expires_at) if expires_at > now => TokenState::Valid,
            Some(_) => TokenState::Expired,
            None => TokenState::Unknown,
        }
    }

    /// Forgets tokens expired for more than an hour.
    pub fn prune(&mut self, now: i64) {
        self.expires_at
            .retain(|_, expires_at| *expires_at + RETENTION_MS > now);
        for current in [&mut self.classic, &mut self.stable] {
            if current
                .as_ref()
                .is_some_and(|token| !self.expires_at.contains_key(token))
            {
                *current = None;
            }
        }
    }

    fn issue(&mut self, now: i64) -> Issued {
        let token = random::access_token();
        self.expires_at.insert(token.clone(), now + LIFETIME_MS);
        Issued {
            token,
            expires_in: LIFETIME_MS / 1000,
        }
    }

    fn shorten(&mut self, token: &str, until: i64) {
        if let Some(expires_at) = self.expires_at.get_mut(token) {
            *expires_at = (*expires_at).min(until);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.expires_at.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn stable_token_is_reused_until_forced() {
        let mut tokens = TokenRegistry::default();
        let first = tokens.fetch_stable(NOW, false);
        assert_eq!(first.expires_in, 7200);
        let again = tokens.fetch_stable(NOW + 10_000, false);
        assert_eq!(again.token, first.token);
        assert_eq!(again.expires_in, 7190);

        let forced = tokens.fetch_stable(NOW + 20_000, true);
        assert_ne!(forced.token, first.token);
        assert_eq!(forced.expires_in, 7200);
        assert_eq!(
            tokens.state(&first.token, NOW + 20_000),
            TokenState::Expired
        );
        assert_eq!(tokens.state(&forced.token, NOW + 20_000), TokenState::Valid);
    }

    #[test]
    fn an_expired_stable_token_is_replaced() {
        let mut tokens = TokenRegistry::default();
        let first = tokens.fetch_stable(NOW, false);
        let later = NOW + LIFETIME_MS + 1;
        assert_eq!(tokens.state(&first.token, later), TokenState::Expired);
        assert_ne!(tokens.fetch_stable(later, false).token, first.token);
    }

    #[test]
    fn classic_fetch_leaves_the_old_token_five_minutes() {
        let mut tokens = TokenRegistry::default();
        let old = tokens.fetch_classic(NOW);
        let new = tokens.fetch_classic(NOW + 1000);
        assert_ne!(old.token, new.token);
        assert_eq!(
            tokens.state(&old.token, NOW + 1000 + CLASSIC_OVERLAP_MS - 1),
            TokenState::Valid
        );
        assert_eq!(
            tokens.state(&old.token, NOW + 1000 + CLASSIC_OVERLAP_MS),
            TokenState::Expired
        );
        assert_eq!(
            tokens.state(&new.token, NOW + 1000 + CLASSIC_OVERLAP_MS),
            TokenState::Valid
        );
    }

    #[test]
    fn kinds_do_not_disturb_each_other() {
        let mut tokens = TokenRegistry::default();
        let stable = tokens.fetch_stable(NOW, false);
        tokens.fetch_classic(NOW);
        tokens.fetch_classic(NOW + CLASSIC_OVERLAP_MS * 2);
        assert_eq!(tokens.fetch_stable(NOW + 1, false).token, stable.token);
    }

    #[test]
    fn old_tokens_are_forgotten_after_an_hour() {
        let mut tokens = TokenRegistry::default();
        let first = tokens.fetch_classic(NOW);
        for i in 1..100 {
            tokens.fetch_classic(NOW + i);
        }
        assert_eq!(tokens.state("never-issued", NOW), TokenState::Unknown);
        tokens.prune(NOW + CLASSIC_OVERLAP_MS + RETENTION_MS + 100);
        assert_eq!(tokens.len(), 1, "only the current classic token remains");
        assert_eq!(
            tokens.state(&first.token, NOW + RETENTION_MS * 2),
            TokenState::Unknown
        );
    }
}
