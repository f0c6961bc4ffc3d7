//! The operator page's figures ([`OpsService`]): the last 30 days from
//! `ops_events` (plus the counts not written yet) and `users`, and the
//! site right now from memory and the database. Read only when an operator
//! opens the page: a handful of indexed queries, nothing on anyone else's
//! path.

use std::{collections::BTreeMap, sync::Arc};

use app::modules::admin::{Now, OpsFigures, OpsService, Series, TokenAge, WritingFigures, DAYS};

use super::events::{
    day_of, day_start_ms, OpsEvents, COMPLETION_TOKENS, FOLLOW_VIA_QR, GENERATION, LOGIN, OUTLINE,
    PROMPT_TOKENS,
};
use crate::{
    clock, db::Database, on_engine, wechat_login::streams::StreamLimits, writing::Writing,
};

pub struct OpsPage {
    pub db: Database,
    pub events: Arc<OpsEvents>,
    pub login_streams: Arc<StreamLimits>,
    pub writing: Option<Arc<Writing>>,
    /// The AppID whose access token the page reports.
    pub appid: String,
}

#[async_trait::async_trait]
impl OpsService for OpsPage {
    async fn figures(&self) -> Result<OpsFigures, String> {
        self.read(clock::now_ms())
            .await
            .map_err(|err| format!("the operator page cannot read its figures: {err}"))
    }
}

impl OpsPage {
    async fn read(&self, now: i64) -> sqlx::Result<OpsFigures> {
        let today = day_of(now);
        let first = today - (DAYS as i64 - 1);
        let mut counts = Counts::new(first);

        // Portable SQL, run on whichever engine the site uses.
        let rows: Vec<(i64, String, i64)> = on_engine!(&self.db, db => {
            sqlx::query_as("SELECT day, kind, count FROM ops_events WHERE day BETWEEN $1 AND $2")
                .bind(first)
                .bind(today)
                .fetch_all(db)
                .await?
        });
        for (day, kind, count) in rows {
            counts.add(day, &kind, u64::try_from(count).unwrap_or(0));
        }
        for (day, kind, count) in self.events.pending() {
            counts.add(day, &kind, count);
        }

        let mut new_users = vec![0; DAYS];
        let rows: Vec<(i64, i64)> = on_engine!(&self.db, db => {
            sqlx::query_as(
                "SELECT (created_at + 28800000) / 86400000 AS day, COUNT(*) FROM users
                 WHERE created_at >= $1 GROUP BY day",
            )
            .bind(day_start_ms(first))
            .fetch_all(db)
            .await?
        });
        for (day, count) in rows {
            if let Some(i) = counts.index(day) {
                new_users[i] = u64::try_from(count).unwrap_or(0);
            }
        }

        let (waiting_logins,): (i64,) = on_engine!(&self.db, db => {
            sqlx::query_as(
                "SELECT COUNT(*) FROM login_attempts WHERE status != 'consumed' AND expires_at > $1",
            )
            .bind(now)
            .fetch_one(db)
            .await?
        });
        let token: Option<(i64, Option<i64>)> = on_engine!(&self.db, db => {
            sqlx::query_as(
                "SELECT expires_at, fetched_at FROM wechat_access_token WHERE appid = $1",
            )
            .bind(&self.appid)
            .fetch_optional(db)
            .await?
        });

        let writing = self.writing.as_ref().map(|_| WritingFigures {
            generations: counts.sum(|kind| kind.starts_with(GENERATION)),
            failed: counts.of(&format!("{GENERATION}failed")),
            outlines: counts.of(OUTLINE),
            tokens: counts.sum(|kind| kind == PROMPT_TOKENS || kind == COMPLETION_TOKENS),
        });
        let core = self.writing.as_ref().map(|writing| writing.core());
        Ok(OpsFigures {
            days: (first..=today)
                .map(|day| {
                    clock::beijing(day_start_ms(day))
                        .get(5..10)
                        .unwrap_or("")
                        .to_owned()
                })
                .collect(),
            logins: counts.of(LOGIN),
            new_users,
            follows_via_qr: counts.of(FOLLOW_VIA_QR),
            writing,
            wechat_errors: counts.failures(&["wechat:", "callback:"]),
            deepseek_errors: counts.failures(&["deepseek:"]),
            now: Now {
                waiting_logins: u64::try_from(waiting_logins).unwrap_or(0),
                login_streams: u64::from(self.login_streams.open_count()),
                article_streams: core.map(|core| u64::from(core.streams.open_count())),
                running_generations: core.map(|core| core.generations.len() as u64),
                queued_generations: core.map(|core| u64::from(core.limits.waiting())),
                token: token_age(token, now.div_euclid(1000)),
            },
            read_at: clock::beijing(now),
        })
    }
}

/// The stored token (`expires_at`, `fetched_at`, Unix seconds) at `now`.
fn token_age(token: Option<(i64, Option<i64>)>, now: i64) -> TokenAge {
    match token {
        None => TokenAge::None,
        Some((expires_at, fetched_at)) if expires_at > now => TokenAge::Valid {
            age_seconds: fetched_at.map(|at| (now - at).max(0)),
            expires_in_seconds: expires_at - now,
        },
        Some((expires_at, _)) => TokenAge::Expired {
            seconds_ago: now - expires_at,
        },
    }
}

/// Counts per kind and day of the charts' window.
struct Counts {
    first: i64,
    kinds: BTreeMap<String, Vec<u64>>,
}

impl Counts {
    fn new(first: i64) -> Self {
        Self {
            first,
            kinds: BTreeMap::new(),
        }
    }

    fn index(&self, day: i64) -> Option<usize> {
        let i = usize::try_from(day - self.first).ok()?;
        (i < DAYS).then_some(i)
    }

    fn add(&mut self, day: i64, kind: &str, count: u64) {
        let Some(i) = self.index(day) else { return };
        let days = self
            .kinds
            .entry(kind.to_owned())
            .or_insert_with(|| vec![0; DAYS]);
        days[i] = days[i].saturating_add(count);
    }

    fn of(&self, kind: &str) -> Vec<u64> {
        self.kinds
            .get(kind)
            .cloned()
            .unwrap_or_else(|| vec![0; DAYS])
    }

    fn sum(&self, matches: impl Fn(&str) -> bool) -> Vec<u64> {
        let mut total = vec![0u64; DAYS];
        for (_, days) in self.kinds.iter().filter(|(kind, _)| matches(kind)) {
            for (sum, count) in total.iter_mut().zip(days) {
                *sum = sum.saturating_add(*count);
            }
        }
        total
    }

    /// The kinds under `prefixes` that happened, the most frequent first.
    fn failures(&self, prefixes: &[&str]) -> Vec<Series> {
        let mut series: Vec<Series> = self
            .kinds
            .iter()
            .filter(|(kind, days)| {
                prefixes.iter().any(|p| kind.starts_with(p)) && days.iter().any(|n| *n > 0)
            })
            .map(|(kind, days)| Series {
                kind: kind.clone(),
                per_day: days.clone(),
            })
            .collect();
        series.sort_by_key(|s| std::cmp::Reverse(s.per_day.iter().sum::<u64>()));
        series
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outside_the_window_are_left_out() {
        let mut counts = Counts::new(100);
        counts.add(99, LOGIN, 5);
        counts.add(100, LOGIN, 1);
        counts.add(129, LOGIN, 2);
        counts.add(130, LOGIN, 7);
        let logins = counts.of(LOGIN);
        assert_eq!(logins.len(), DAYS);
        assert_eq!((logins[0], logins[DAYS - 1]), (1, 2));
        assert_eq!(logins.iter().sum::<u64>(), 3);
    }

    #[test]
    fn failures_are_grouped_by_service_most_frequent_first() {
        let mut counts = Counts::new(0);
        counts.add(1, "wechat:40164", 1);
        counts.add(2, "callback:bad_signature", 9);
        counts.add(2, "deepseek:timeout", 3);
        counts.add(2, LOGIN, 3);
        let wechat = counts.failures(&["wechat:", "callback:"]);
        let kinds: Vec<&str> = wechat.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["callback:bad_signature", "wechat:40164"]);
        assert_eq!(counts.failures(&["deepseek:"]).len(), 1);
    }

    #[test]
    fn the_token_is_valid_expired_or_missing() {
        assert_eq!(token_age(None, 1_000), TokenAge::None);
        assert_eq!(
            token_age(Some((8_200, Some(1_000))), 1_600),
            TokenAge::Valid {
                age_seconds: Some(600),
                expires_in_seconds: 6_600
            }
        );
        assert_eq!(
            token_age(Some((1_000, None)), 1_060),
            TokenAge::Expired { seconds_ago: 60 }
        );
    }
}
