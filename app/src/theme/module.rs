//! What a module file declares about itself: its schema, its settings type
//! and its view (Shopify's section file with its `{% schema %}`).

use leptos::prelude::*;

use super::settings::Settings;

/// One kind of module that theme files can place, declared in its own file:
///
/// ```ignore
/// pub struct Hero;
///
/// impl ModuleType for Hero {
///     type Settings = HeroSettings;
///     const SPEC: ModuleSpec = ModuleSpec::new("hero", &[Zone::Page]).limit(1);
///
///     fn view(settings: HeroSettings, _blocks: AnyView) -> impl IntoView + 'static {
///         view! { <div class="m-hero">…</div> }
///     }
///
///     fn example() -> HeroSettings { … }
/// }
/// ```
///
/// and listed once in `crate::modules` (see the `modules!` list there).
pub trait ModuleType {
    /// The settings a theme file gives it, checked when the server starts.
    type Settings: Settings + Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static;

    /// Its `type` in theme files and where it may be placed.
    const SPEC: ModuleSpec;

    /// Its view, rendered on the server inside a frame that turns a failure
    /// (an `Err` or a panic) into a small note. `blocks` fills its slot when
    /// its spec accepts blocks, and is empty otherwise.
    fn view(settings: Self::Settings, blocks: AnyView) -> impl IntoView + 'static;

    /// Settings that show what the module does: every module is rendered
    /// with them by the registry's tests, so they must pass `check`.
    fn example() -> Self::Settings;
}

/// Where a module may be placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// `theme/header.json`, shared by every page.
    Header,
    /// `theme/footer.json`, shared by every page.
    Footer,
    /// `theme/pages/*.json`.
    Page,
}

impl Zone {
    pub fn describe(self) -> &'static str {
        match self {
            Zone::Header => "the header group",
            Zone::Footer => "the footer group",
            Zone::Page => "a page",
        }
    }
}

/// A module type's schema: its name in the theme files and its placement
/// rules, written as `ModuleSpec::new("faq", &[Zone::Page])` plus whichever
/// of `.limit(n)`, `.accepts_blocks()`, `.as_block()` and `.admins_only()`
/// apply.
#[derive(Debug)]
pub struct ModuleSpec {
    /// The `type` in a theme file.
    pub name: &'static str,
    /// The files it may be placed in.
    pub zones: &'static [Zone],
    /// At most this many instances in one file (sections and blocks together).
    pub limit: Option<usize>,
    /// It has a slot that shows `blocks`.
    pub accepts_blocks: bool,
    /// It may itself be placed as a block inside another module.
    pub as_block: bool,
    /// The page that places it is shown to the site's operators
    /// (`ADMIN_OPENIDS`) only; everyone else gets the 404 page.
    pub admins_only: bool,
}

impl ModuleSpec {
    /// Any number of instances, no slot, not a block.
    pub const fn new(name: &'static str, zones: &'static [Zone]) -> Self {
        Self {
            name,
            zones,
            limit: None,
            accepts_blocks: false,
            as_block: false,
            admins_only: false,
        }
    }

    /// At most `limit` instances in one file.
    pub const fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// It shows `blocks` in a slot.
    pub const fn accepts_blocks(mut self) -> Self {
        self.accepts_blocks = true;
        self
    }

    /// It may be placed as a block inside a module that accepts blocks.
    pub const fn as_block(mut self) -> Self {
        self.as_block = true;
        self
    }

    /// The page that places it is for the site's operators only: anyone
    /// else (logged out, or not in `ADMIN_OPENIDS`) gets the 404 page, the
    /// whole page and not just the module. It cannot be placed on the home
    /// page.
    pub const fn admins_only(mut self) -> Self {
        self.admins_only = true;
        self
    }
}
