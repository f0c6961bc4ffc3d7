//! Every module the theme files can place. Each lives in its own file (or
//! folder) with its settings, its component and its CSS scope
//! (`style/modules/<name>.css`, every rule under `.m-<name>`). Modules never
//! import each other; they share only `crate::theme` types and site context.

pub mod faq;
pub mod feature_list;
pub mod footer;
pub mod header;
pub mod hero;
pub mod wechat_login;
pub mod writing;
