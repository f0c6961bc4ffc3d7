//! Every module the theme files can place. Each lives in its own file (or
//! folder) that declares its schema, settings and view
//! ([`ModuleType`](crate::theme::ModuleType)), with its CSS in
//! `style/modules/<name>.css` (every rule under `.m-<name>`). Modules never
//! import each other; they share only `crate::theme`, `crate::auth` and the
//! site settings.
//!
//! Adding a module: its file, and one line here.

/// What the writing module's views (`writer`, `article_list`) share: its
/// data, calls, Markdown renderer. Not a module of its own.
pub mod writing;

crate::theme::modules! {
    header::Header,
    footer::Footer,
    hero::Hero,
    feature_list::FeatureList,
    faq::Faq,
    wechat_login::WechatLogin,
    writer::Writer,
    article_list::ArticleList,
    admin::Admin,
    // Only the tests can place it (feature `test-modules`): it panics and
    // fails on purpose, to prove that a broken module stays in its frame.
    #[cfg(feature = "test-modules")]
    test_probe::TestProbe,
}
