//! The writing module's limits: how much each visitor may generate, and how
//! many DeepSeek requests the whole site makes at once.

use super::{number, ConfigError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WritingConfig {
    /// `WRITING_DAILY_LIMIT`: generations (articles, outlines, regenerations,
    /// continuations: each DeepSeek request a visitor starts) per user per
    /// Beijing day; 0 lifts the limit.
    pub daily_limit: u32,
    /// `WRITING_USER_CONCURRENT`: generations one user may have running (or
    /// waiting for DeepSeek) at once.
    pub user_concurrent: u32,
    /// `WRITING_SITE_CONCURRENT`: DeepSeek requests the whole site makes at
    /// once (DeepSeek limits concurrency per account); more wait in line.
    pub site_concurrent: u32,
    /// `WRITING_STREAMS_PER_USER`: article event streams one user may have
    /// open at once (tabs following an article).
    pub streams_per_user: u32,
}

pub const DEFAULT_DAILY_LIMIT: u32 = 20;
pub const DEFAULT_USER_CONCURRENT: u32 = 2;
/// Well under DeepSeek's per-account concurrency, leaving room for other
/// programs on the same key.
pub const DEFAULT_SITE_CONCURRENT: u32 = 50;
pub const DEFAULT_STREAMS_PER_USER: u32 = 16;

pub(super) fn writing_config(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<WritingConfig, ConfigError> {
    Ok(WritingConfig {
        daily_limit: number(
            get,
            "WRITING_DAILY_LIMIT",
            DEFAULT_DAILY_LIMIT.into(),
            0..=100_000,
        )? as u32,
        user_concurrent: number(
            get,
            "WRITING_USER_CONCURRENT",
            DEFAULT_USER_CONCURRENT.into(),
            1..=100,
        )? as u32,
        site_concurrent: number(
            get,
            "WRITING_SITE_CONCURRENT",
            DEFAULT_SITE_CONCURRENT.into(),
            1..=100_000,
        )? as u32,
        streams_per_user: number(
            get,
            "WRITING_STREAMS_PER_USER",
            DEFAULT_STREAMS_PER_USER.into(),
            1..=1_000,
        )? as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<WritingConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        writing_config(&|name: &str| map.get(name).cloned())
    }

    #[test]
    fn defaults_and_settings() {
        assert_eq!(
            config(&[]).unwrap(),
            WritingConfig {
                daily_limit: 20,
                user_concurrent: 2,
                site_concurrent: 50,
                streams_per_user: 16,
            }
        );
        let set = config(&[
            ("WRITING_DAILY_LIMIT", "0"),
            ("WRITING_USER_CONCURRENT", "5"),
            ("WRITING_SITE_CONCURRENT", "2000"),
            ("WRITING_STREAMS_PER_USER", "3"),
        ])
        .unwrap();
        assert_eq!(
            (
                set.daily_limit,
                set.user_concurrent,
                set.site_concurrent,
                set.streams_per_user
            ),
            (0, 5, 2000, 3)
        );
    }

    #[test]
    fn wrong_values_name_the_setting() {
        for (name, value) in [
            ("WRITING_DAILY_LIMIT", "-1"),
            ("WRITING_DAILY_LIMIT", "many"),
            ("WRITING_USER_CONCURRENT", "0"),
            ("WRITING_SITE_CONCURRENT", "0"),
            ("WRITING_SITE_CONCURRENT", "100001"),
            ("WRITING_STREAMS_PER_USER", "0"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{name}={value}");
        }
    }
}
