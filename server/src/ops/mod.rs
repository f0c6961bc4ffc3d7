//! Running the site: the operator page's counts ([`events`]) and figures
//! ([`figures`]). Who may see the page is `ADMIN_OPENIDS`
//! (`config::OpsConfig`); the page itself is the app's `admin` module.

pub mod events;
pub mod figures;

pub use events::OpsEvents;
pub use figures::OpsPage;
