//! The sandbox's WeChat users: an openid and whether they follow the
//! account (which decides between a `subscribe` and a `SCAN` push).

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use super::random;

/// Oldest users are dropped beyond this, so scripted runs stay small.
const MAX_USERS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxUser {
    pub openid: String,
    pub following: bool,
}

#[derive(Debug, Default)]
pub struct UserRegistry {
    by_openid: HashMap<String, SandboxUser>,
    /// Openids in creation order, oldest first.
    order: VecDeque<String>,
}

impl UserRegistry {
    /// A new user with a fresh openid, not following yet.
    pub fn create(&mut self) -> SandboxUser {
        let mut openid = random::openid();
        while self.by_openid.contains_key(&openid) {
            openid = random::openid();
        }
        self.add(openid)
    }

    /// The user with this openid; one is made (not following) if unknown, so
    /// tests may pick their own openids.
    pub fn get_or_create(&mut self, openid: &str) -> SandboxUser {
        match self.by_openid.get(openid) {
            Some(user) => user.clone(),
            None => self.add(openid.to_owned()),
        }
    }

    pub fn get(&self, openid: &str) -> Option<&SandboxUser> {
        self.by_openid.get(openid)
    }

    pub fn set_following(&mut self, openid: &str, following: bool) {
        if let Some(user) = self.by_openid.get_mut(openid) {
            user.following = following;
        }
    }

    /// The `limit` most recently created users, newest first.
    pub fn newest(&self, limit: usize) -> impl Iterator<Item = &SandboxUser> {
        self.order
            .iter()
            .rev()
            .filter_map(|openid| self.by_openid.get(openid))
            .take(limit)
    }

    fn add(&mut self, openid: String) -> SandboxUser {
        while self.order.len() >= MAX_USERS {
            if let Some(oldest) = self.order.pop_front() {
                self.by_openid.remove(&oldest);
            }
        }
        let user = SandboxUser {
            openid: openid.clone(),
            following: false,
        };
        self.order.push_back(openid.clone());
        self.by_openid.insert(openid, user.clone());
        user
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_created_listed_and_followed() {
        let mut users = UserRegistry::default();
        let first = users.create();
        let second = users.get_or_create("o_test_user");
        assert!(!first.following && !second.following);
        assert_eq!(users.get_or_create("o_test_user"), second);

        users.set_following(&first.openid, true);
        assert!(users.get(&first.openid).is_some_and(|u| u.following));
        let listed: Vec<_> = users.newest(10).map(|u| u.openid.as_str()).collect();
        assert_eq!(listed, ["o_test_user", first.openid.as_str()]);
        assert_eq!(users.newest(1).count(), 1);
    }

    #[test]
    fn the_oldest_users_go_first_beyond_the_ceiling() {
        let mut users = UserRegistry::default();
        let first = users.create();
        for _ in 0..MAX_USERS {
            users.create();
        }
        assert!(users.get(&first.openid).is_none());
        assert_eq!(users.newest(usize::MAX).count(), MAX_USERS);
    }
}
