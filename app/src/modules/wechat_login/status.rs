//! Where a login attempt stands: the one status of an attempt, for the
//! database, the server and the browser, with every change it may go
//! through.
//!
//! ```text
//!             scan (plain flow)                 complete
//!   pending ─────────────────────▶ confirmed ─────────────▶ consumed
//!      │                               ▲
//!      │ scan (confirm mode)           │ 确认 + code
//!      └──────▶ awaiting_confirmation ─┘
//!
//!   pending, awaiting_confirmation, confirmed ──(time)──▶ expired
//! ```
//!
//! The database records the four changes drawn with arrows ([`Change`]);
//! `expired` is never stored: it follows from the attempt's times
//! ([`LoginStatus::at`]), so an attempt nobody touches expires without a
//! write. The browser receives the status as the words of the login
//! contract (`docs/login-contract.md`): `pending`, `awaiting_confirmation`,
//! `confirmed`, `expired`, `consumed`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The status of a login attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginStatus {
    /// The QR code is waiting to be scanned.
    Pending,
    /// Scanned in confirm mode: waiting for the WeChat user to reply 确认
    /// and the code the browser shows.
    AwaitingConfirmation,
    /// WeChat confirmed the scan: the browser that started the attempt may
    /// complete the login.
    Confirmed,
    /// Too late: the code (or the unfinished login) timed out. Never stored.
    Expired,
    /// The login was completed (in the browser that started it).
    Consumed,
}

/// How long a browser has to complete a login WeChat confirmed, measured
/// from the confirmation (a server restart or a flaky network in between
/// must not lose it).
pub const COMPLETE_WINDOW: Duration = Duration::from_secs(300);

/// A change of status the database records: each goes from one status to
/// another and nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// WeChat delivered a scan of the code, plain flow.
    Scanned,
    /// WeChat delivered a scan of the code, confirm mode: a 确认 is awaited.
    ScannedAwaitingConfirmation,
    /// The WeChat user replied 确认 with the browser's code.
    Confirmed,
    /// The browser completed the login: its session exists.
    Completed,
}

impl Change {
    pub const ALL: [Change; 4] = [
        Change::Scanned,
        Change::ScannedAwaitingConfirmation,
        Change::Confirmed,
        Change::Completed,
    ];

    /// The only status this change applies to.
    pub const fn from(self) -> LoginStatus {
        match self {
            Self::Scanned | Self::ScannedAwaitingConfirmation => LoginStatus::Pending,
            Self::Confirmed => LoginStatus::AwaitingConfirmation,
            Self::Completed => LoginStatus::Confirmed,
        }
    }

    /// The status it leads to.
    pub const fn to(self) -> LoginStatus {
        match self {
            Self::Scanned | Self::Confirmed => LoginStatus::Confirmed,
            Self::ScannedAwaitingConfirmation => LoginStatus::AwaitingConfirmation,
            Self::Completed => LoginStatus::Consumed,
        }
    }

    /// The change a scan makes: straight to `confirmed`, or in confirm mode
    /// to `awaiting_confirmation`.
    pub const fn scan(confirm_mode: bool) -> Self {
        if confirm_mode {
            Self::ScannedAwaitingConfirmation
        } else {
            Self::Scanned
        }
    }
}

impl LoginStatus {
    pub const ALL: [LoginStatus; 5] = [
        Self::Pending,
        Self::AwaitingConfirmation,
        Self::Confirmed,
        Self::Expired,
        Self::Consumed,
    ];

    /// The contract's word for it (also what the database stores).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Confirmed => "confirmed",
            Self::Expired => "expired",
            Self::Consumed => "consumed",
        }
    }

    /// The status a word names.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == word)
    }

    /// After this status nothing more will happen to the attempt (as far as
    /// its browser waits for: `confirmed` only awaits the browser itself).
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Confirmed | Self::Expired | Self::Consumed)
    }

    /// Whether the database can hold it: every status but `expired`.
    pub const fn is_stored(self) -> bool {
        !matches!(self, Self::Expired)
    }

    /// What an attempt stored with this status is at `now` (milliseconds,
    /// as `expires_at` and `confirmed_at`): a waiting code expires at
    /// `expires_at`; a confirmed login may be completed for
    /// [`COMPLETE_WINDOW`] after its confirmation, even past `expires_at`.
    pub fn at(self, now: i64, expires_at: i64, confirmed_at: Option<i64>) -> LoginStatus {
        match self.expires_at(expires_at, confirmed_at) {
            Some(deadline) if now >= deadline => Self::Expired,
            _ => self,
        }
    }

    /// When an attempt stored with this status expires by itself, if it
    /// does.
    pub fn expires_at(self, expires_at: i64, confirmed_at: Option<i64>) -> Option<i64> {
        match self {
            Self::Pending | Self::AwaitingConfirmation => Some(expires_at),
            Self::Confirmed => Some(
                confirmed_at
                    .unwrap_or(expires_at)
                    .saturating_add(COMPLETE_WINDOW.as_millis() as i64),
            ),
            Self::Expired | Self::Consumed => None,
        }
    }
}

/// The status in the database, as its contract word (`login_attempts.status`,
/// whose CHECK lists the stored ones), for every driver of the server:
/// sqlx on SQLite (request handlers) and on PostgreSQL, rusqlite (SQLite's
/// group-commit thread).
#[cfg(feature = "sql")]
mod sql {
    use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
    use sqlx::{
        encode::IsNull,
        error::BoxDynError,
        postgres::PgTypeInfo,
        sqlite::SqliteTypeInfo,
        Decode, Encode, Postgres, Sqlite, Type,
    };

    use super::LoginStatus;

    fn not_stored() -> String {
        "the status expired is never stored: it follows from the attempt's times".to_owned()
    }

    fn unknown(word: &str) -> String {
        format!("unknown login status {word:?} in the database")
    }

    impl ToSql for LoginStatus {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            if !self.is_stored() {
                return Err(rusqlite::Error::ToSqlConversionFailure(not_stored().into()));
            }
            Ok(ToSqlOutput::from(self.as_str()))
        }
    }

    impl FromSql for LoginStatus {
        fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
            let word = value.as_str()?;
            LoginStatus::parse(word)
                .filter(|status| status.is_stored())
                .ok_or_else(|| FromSqlError::Other(unknown(word).into()))
        }
    }

    impl Type<Sqlite> for LoginStatus {
        fn type_info() -> SqliteTypeInfo {
            <str as Type<Sqlite>>::type_info()
        }

        fn compatible(ty: &SqliteTypeInfo) -> bool {
            <str as Type<Sqlite>>::compatible(ty)
        }
    }

    impl<'q> Encode<'q, Sqlite> for LoginStatus {
        fn encode_by_ref(
            &self,
            buf: &mut <Sqlite as sqlx::Database>::ArgumentBuffer<'q>,
        ) -> Result<IsNull, BoxDynError> {
            if !self.is_stored() {
                return Err(not_stored().into());
            }
            <&str as Encode<'q, Sqlite>>::encode(self.as_str(), buf)
        }
    }

    impl<'r> Decode<'r, Sqlite> for LoginStatus {
        fn decode(value: <Sqlite as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
            let word = <&str as Decode<'r, Sqlite>>::decode(value)?;
            LoginStatus::parse(word)
                .filter(|status| status.is_stored())
                .ok_or_else(|| unknown(word).into())
        }
    }

    impl Type<Postgres> for LoginStatus {
        fn type_info() -> PgTypeInfo {
            <str as Type<Postgres>>::type_info()
        }

        fn compatible(ty: &PgTypeInfo) -> bool {
            <str as Type<Postgres>>::compatible(ty)
        }
    }

    impl<'q> Encode<'q, Postgres> for LoginStatus {
        fn encode_by_ref(
            &self,
            buf: &mut <Postgres as sqlx::Database>::ArgumentBuffer<'q>,
        ) -> Result<IsNull, BoxDynError> {
            if !self.is_stored() {
                return Err(not_stored().into());
            }
            <&str as Encode<'q, Postgres>>::encode(self.as_str(), buf)
        }
    }

    impl<'r> Decode<'r, Postgres> for LoginStatus {
        fn decode(value: <Postgres as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
            let word = <&str as Decode<'r, Postgres>>::decode(value)?;
            LoginStatus::parse(word)
                .filter(|status| status.is_stored())
                .ok_or_else(|| unknown(word).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LoginStatus::*;

    #[test]
    fn words_round_trip() {
        for status in LoginStatus::ALL {
            assert_eq!(LoginStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(LoginStatus::parse("Pending"), None);
    }

    #[test]
    fn the_changes_are_the_arrows_of_the_diagram() {
        let arrows: Vec<(LoginStatus, LoginStatus)> =
            Change::ALL.iter().map(|c| (c.from(), c.to())).collect();
        assert_eq!(
            arrows,
            [
                (Pending, Confirmed),
                (Pending, AwaitingConfirmation),
                (AwaitingConfirmation, Confirmed),
                (Confirmed, Consumed),
            ]
        );
        for change in Change::ALL {
            assert!(change.from().is_stored() && change.to().is_stored());
        }
        assert_eq!(Change::scan(false).to(), Confirmed);
        assert_eq!(Change::scan(true).to(), AwaitingConfirmation);
    }

    #[test]
    fn nothing_leaves_the_ends_and_nothing_goes_back() {
        for change in Change::ALL {
            assert!(!matches!(change.from(), Consumed | Expired), "{change:?}");
            assert_ne!(change.to(), Pending, "{change:?}");
        }
        // Only time ends a waiting or confirmed attempt without a change.
        for status in [Pending, AwaitingConfirmation, Confirmed] {
            assert!(status.expires_at(1000, None).is_some(), "{status:?}");
        }
        assert_eq!(Consumed.expires_at(1000, Some(1)), None);
    }

    #[test]
    fn expiry_follows_from_the_times() {
        assert_eq!(Pending.at(999, 1000, None), Pending);
        assert_eq!(Pending.at(1000, 1000, None), Expired);
        assert_eq!(
            AwaitingConfirmation.at(10, 1000, None),
            AwaitingConfirmation
        );
        assert_eq!(AwaitingConfirmation.at(1000, 1000, None), Expired);
        assert_eq!(Consumed.at(i64::MAX, 1000, Some(5)), Consumed);
    }

    #[test]
    fn a_confirmed_login_may_be_completed_for_a_while_after_the_code_expired() {
        let window = COMPLETE_WINDOW.as_millis() as i64;
        assert_eq!(Confirmed.at(1500, 1000, Some(990)), Confirmed);
        assert_eq!(Confirmed.at(990 + window - 1, 1000, Some(990)), Confirmed);
        assert_eq!(Confirmed.at(990 + window, 1000, Some(990)), Expired);
    }

    #[test]
    fn only_the_ends_are_terminal() {
        assert!(!Pending.is_terminal());
        assert!(!AwaitingConfirmation.is_terminal());
        assert!(Confirmed.is_terminal());
        assert!(Expired.is_terminal());
        assert!(Consumed.is_terminal());
    }
}
