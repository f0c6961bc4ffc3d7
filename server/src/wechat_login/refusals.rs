//! Refused callback requests are logged at most once per interval per
//! cause, with the number left out since the last line: a flood of forged
//! or replayed pushes must not flood the log (nor hide the one line an
//! operator needs among thousands).

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// One line per cause per this interval.
pub const INTERVAL: Duration = Duration::from_secs(60);

pub struct RefusalLog {
    interval: Duration,
    /// Per cause: when it was last logged and how many were left out since.
    /// A handful of causes: a list beats a map.
    causes: Mutex<Vec<(&'static str, Instant, u64)>>,
}

impl RefusalLog {
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval,
            causes: Mutex::new(Vec::new()),
        }
    }

    /// Whether a refusal for `cause` at `now` is to be logged; if so, how
    /// many of the same cause were left out since its last line.
    pub fn admit(&self, cause: &'static str, now: Instant) -> Option<u64> {
        let mut causes = self.causes.lock().unwrap_or_else(PoisonError::into_inner);
        match causes.iter_mut().find(|(name, _, _)| *name == cause) {
            None => {
                causes.push((cause, now, 0));
                Some(0)
            }
            Some((_, last, left_out)) if now.duration_since(*last) >= self.interval => {
                *last = now;
                Some(std::mem::take(left_out))
            }
            Some((_, _, left_out)) => {
                *left_out += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_cause_per_interval_with_the_count_left_out() {
        let log = RefusalLog::new(Duration::from_secs(60));
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(log.admit("stale_timestamp", at(0)), Some(0));
        for s in 1..=30 {
            assert_eq!(log.admit("stale_timestamp", at(s)), None);
        }
        // Another cause has its own line.
        assert_eq!(log.admit("bad_signature", at(5)), Some(0));
        assert_eq!(log.admit("stale_timestamp", at(60)), Some(30));
        assert_eq!(log.admit("stale_timestamp", at(61)), None);
        assert_eq!(log.admit("stale_timestamp", at(200)), Some(1));
    }
}
