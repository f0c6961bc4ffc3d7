//! Running the site: the operator page's counts ([`events`]) and figures
//! ([`figures`]). Who may see the page is `ADMIN_OPENIDS`
//! (`config::OpsConfig`); the page itself is the app's `admin` module.
//!
//! What counting costs (`events::tests::count_in_cost`, debug build, this
//! 2-core machine under load, 2026-11-22): the count inside a writer
//! transaction adds 9–10 µs of CPU to it (17 → 27 µs with
//! `synchronous=OFF`); a commit with the site's `synchronous=FULL` takes
//! 3.7 ms here, and the count is lost in its noise (±0.1 ms). No request
//! waits for an extra commit: failures are counted in memory.

pub mod events;
pub mod figures;

pub use events::OpsEvents;
pub use figures::OpsPage;
