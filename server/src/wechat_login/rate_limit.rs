//! Limits how many QR codes may be asked for: each costs WeChat quota, and
//! when the daily quota runs out (45009) nobody can log in until midnight.
//!
//! Two limits, both `governor` (GCRA) limiters in memory:
//! - per client network (`LOGIN_START_PER_MINUTE`): one person cannot spend
//!   the quota; IPv6 counts per /64 ([`super::client::network_of`]);
//! - for the whole site (`LOGIN_START_SITE_PER_MINUTE`): many addresses
//!   together cannot spend it either.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::{PoisonError, RwLock},
    time::Duration,
};

use governor::{
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::{keyed::DefaultKeyedStateStore, InMemoryState, NotKeyed},
    Quota, RateLimiter,
};

type Keyed<C> =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;
type Direct<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The most networks remembered at once. An entry is a 17-byte key and an
/// 8-byte state plus the map's own bytes, about 40 bytes (an estimate, not
/// a measurement), so a few MB at most.
/// Networks whose allowance is full again are forgotten first; if all of
/// them are still counting (a flood from 100 000 networks within a minute)
/// the table starts afresh, and the site-wide limit still holds the quota.
const MAX_TRACKED: usize = 100_000;

/// Why a start was refused, and how long to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// This network asked for too many.
    Address(Duration),
    /// The whole site did.
    Site(Duration),
}

pub struct StartLimits<C: Clock = DefaultClock> {
    quota: Option<Quota>,
    per_network: RwLock<Option<Keyed<C>>>,
    site: Option<Direct<C>>,
    clock: C,
}

impl StartLimits<DefaultClock> {
    /// `per_minute` per network and `site_per_minute` in all, each in bursts
    /// of up to that many; 0 lifts a limit.
    pub fn new(per_minute: u32, site_per_minute: u32) -> Self {
        Self::with_clock(per_minute, site_per_minute, DefaultClock::default())
    }
}

impl<C: Clock + Clone> StartLimits<C> {
    pub fn with_clock(per_minute: u32, site_per_minute: u32, clock: C) -> Self {
        let quota = NonZeroU32::new(per_minute).map(Quota::per_minute);
        Self {
            quota,
            per_network: RwLock::new(quota.map(|q| Self::keyed(q, &clock))),
            site: NonZeroU32::new(site_per_minute)
                .map(|n| RateLimiter::direct_with_clock(Quota::per_minute(n), clock.clone())),
            clock,
        }
    }

    fn keyed(quota: Quota, clock: &C) -> Keyed<C> {
        RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone())
    }

    /// `Ok` to go ahead, or why not. `network` is what the client counts as
    /// ([`super::client::ClientInfo::network`]).
    pub fn check(&self, network: IpAddr) -> Result<(), Refused> {
        self.check_network(network)?;
        if let Some(site) = &self.site {
            site.check()
                .map_err(|not_until| Refused::Site(not_until.wait_time_from(self.clock.now())))?;
        }
        Ok(())
    }

    fn check_network(&self, network: IpAddr) -> Result<(), Refused> {
        let Some(quota) = self.quota else {
            return Ok(());
        };
        if self.tracked() >= MAX_TRACKED {
            self.make_room(quota);
        }
        let limiter = self
            .per_network
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        limiter.as_ref().map_or(Ok(()), |limiter| {
            limiter
                .check_key(&network)
                .map_err(|not_until| Refused::Address(not_until.wait_time_from(self.clock.now())))
        })
    }

    /// Forgets networks whose allowance is full again; starts afresh if
    /// that is not enough.
    fn make_room(&self, quota: Quota) {
        let mut limiter = self
            .per_network
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(current) = limiter.as_ref() else {
            return;
        };
        if current.len() < MAX_TRACKED {
            return; // another request made room meanwhile
        }
        current.retain_recent();
        current.shrink_to_fit();
        if current.len() >= MAX_TRACKED {
            tracing::warn!(
                networks = current.len(),
                "login start limiter: too many networks within a minute; forgetting them all \
                 (the site-wide limit still applies)"
            );
            *limiter = Some(Self::keyed(quota, &self.clock));
        }
    }

    /// Networks currently remembered.
    pub fn tracked(&self) -> usize {
        self.per_network
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |l| l.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn limits(per_minute: u32, site: u32) -> (StartLimits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (
            StartLimits::with_clock(per_minute, site, clock.clone()),
            clock,
        )
    }

    #[test]
    fn allows_a_burst_then_refuses_with_a_wait() {
        let (limits, clock) = limits(3, 0);
        for _ in 0..3 {
            assert!(limits.check(A).is_ok());
        }
        let Err(Refused::Address(wait)) = limits.check(A) else {
            panic!("the fourth start in a minute went through");
        };
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limits.check(B).is_ok(), "addresses are separate");
        clock.advance(Duration::from_secs(20));
        assert!(limits.check(A).is_ok(), "refills");
    }

    #[test]
    fn the_site_limit_holds_whoever_asks() {
        let (limits, clock) = limits(10, 5);
        for i in 0..5u8 {
            let address = IpAddr::from([198, 51, 100, i]);
            assert!(limits.check(address).is_ok());
        }
        let refused = limits.check(IpAddr::from([198, 51, 100, 99]));
        let Err(Refused::Site(wait)) = refused else {
            panic!("the site limit let a sixth start through: {refused:?}");
        };
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(12),
            "{wait:?}"
        );
        clock.advance(Duration::from_secs(12));
        assert!(limits.check(IpAddr::from([198, 51, 100, 99])).is_ok());
    }

    #[test]
    fn zero_is_unlimited() {
        let (limits, _) = limits(0, 0);
        for _ in 0..1000 {
            assert!(limits.check(A).is_ok());
        }
        assert_eq!(limits.tracked(), 0);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_addresses() {
        let (limits, clock) = limits(2, 0);
        // Each address spends its whole allowance: none can be forgotten
        // for a minute.
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let address = IpAddr::from(i.to_be_bytes());
            let _ = limits.check(address);
            let _ = limits.check(address);
            assert!(limits.tracked() <= MAX_TRACKED);
        }
        // A minute later everyone's allowance is full: all forgotten on the
        // next clean-up, and a refused address is limited again.
        clock.advance(Duration::from_secs(61));
        assert!(limits.check(A).is_ok());
        assert!(limits.check(A).is_ok());
        assert!(matches!(limits.check(A), Err(Refused::Address(_))));
    }
}
