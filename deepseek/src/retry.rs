//! When and how long to wait before sending a request again.
//!
//! Only what DeepSeek's error page says to retry (429, 500, 503) and
//! connections that were never made are retried, and only before the first
//! token: once DeepSeek has written text, sending the request again would
//! bill and write the answer twice.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// The wait after the first failure; doubled after each further one.
    pub base_delay: Duration,
    /// No wait is longer, whatever `Retry-After` asks.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, waiting about 0.5 s then 1 s: enough to ride out a
    /// brief overload without keeping a visitor waiting long.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait after failed attempt number `attempt` (1-based): exponential,
    /// with "equal jitter" (half fixed, half random) so that many clients
    /// turned away together do not come back together. A `Retry-After`
    /// from the server is honoured as a minimum, within `max_delay`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay);
        let half = exponential / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..=half)
        };
        let backoff = half + jitter;
        retry_after
            .map_or(backoff, |asked| backoff.max(asked))
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_bounds() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for _ in 0..100 {
            let first = policy.delay(1, None);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let third = policy.delay(3, None);
            assert!((200..=400).contains(&third.as_millis()), "{third:?}");
            let late = policy.delay(30, None);
            assert!((500..=1000).contains(&late.as_millis()), "{late:?}");
        }
    }

    #[test]
    fn retry_after_is_a_floor_under_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
        };
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn a_zero_base_never_waits() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::ZERO,
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(policy.delay(2, None), Duration::ZERO);
    }
}
