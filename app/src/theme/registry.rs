//! The registry: every module type the theme files may name, in one place.
//! Adding a module = one variant, one spec, one arm in each `match` below.

use leptos::prelude::*;

use crate::modules::{
    faq::{Faq, FaqSettings},
    feature_list::{FeatureList, FeatureListSettings},
    footer::{Footer, FooterSettings},
    header::{Header, HeaderSettings},
    hero::{Hero, HeroSettings},
    wechat_login::{WechatLogin, WechatLoginSettings},
};

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

/// A module type's schema: its name in the theme files and its placement rules.
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
}

pub const MODULES: &[ModuleSpec] = &[
    ModuleSpec {
        name: "header",
        zones: &[Zone::Header],
        limit: Some(1),
        accepts_blocks: true,
        as_block: false,
    },
    ModuleSpec {
        name: "footer",
        zones: &[Zone::Footer],
        limit: Some(1),
        accepts_blocks: false,
        as_block: false,
    },
    ModuleSpec {
        name: "hero",
        zones: &[Zone::Page],
        limit: Some(1),
        accepts_blocks: false,
        as_block: false,
    },
    ModuleSpec {
        name: "feature_list",
        zones: &[Zone::Page],
        limit: None,
        accepts_blocks: false,
        as_block: false,
    },
    ModuleSpec {
        name: "faq",
        zones: &[Zone::Page],
        limit: None,
        accepts_blocks: false,
        as_block: false,
    },
    ModuleSpec {
        name: "wechat_login",
        zones: &[Zone::Header],
        limit: Some(1),
        accepts_blocks: false,
        as_block: true,
    },
];

/// A placed module with its typed settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Module {
    Header(HeaderSettings),
    Footer(FooterSettings),
    Hero(HeroSettings),
    FeatureList(FeatureListSettings),
    Faq(FaqSettings),
    WechatLogin(WechatLoginSettings),
}

impl Module {
    /// The schema of a module type, `None` when no module has that name.
    pub fn spec(name: &str) -> Option<&'static ModuleSpec> {
        MODULES.iter().find(|spec| spec.name == name)
    }

    /// Names of every module type, for error messages.
    pub fn known_names() -> String {
        MODULES
            .iter()
            .map(|spec| spec.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The `type` this module is registered under.
    pub fn name(&self) -> &'static str {
        match self {
            Module::Header(_) => "header",
            Module::Footer(_) => "footer",
            Module::Hero(_) => "hero",
            Module::FeatureList(_) => "feature_list",
            Module::Faq(_) => "faq",
            Module::WechatLogin(_) => "wechat_login",
        }
    }

    /// Builds a module from a theme file's `type` and `settings`, checking every
    /// setting. `None` when the type is unknown.
    #[cfg(feature = "ssr")]
    pub fn from_settings(
        name: &str,
        settings: serde_json::Value,
    ) -> Option<Result<Module, super::settings::Invalid>> {
        Some(match name {
            "header" => parse(settings).map(Module::Header),
            "footer" => parse(settings).map(Module::Footer),
            "hero" => parse(settings).map(Module::Hero),
            "feature_list" => parse(settings).map(Module::FeatureList),
            "faq" => parse(settings).map(Module::Faq),
            "wechat_login" => parse(settings).map(Module::WechatLogin),
            _ => return None,
        })
    }

    /// The module's view; `blocks` fills its slot when it has one.
    pub fn render(self, blocks: AnyView) -> AnyView {
        match self {
            Module::Header(settings) => view! { <Header settings blocks/> }.into_any(),
            Module::Footer(settings) => view! { <Footer settings/> }.into_any(),
            Module::Hero(settings) => view! { <Hero settings/> }.into_any(),
            Module::FeatureList(settings) => view! { <FeatureList settings/> }.into_any(),
            Module::Faq(settings) => view! { <Faq settings/> }.into_any(),
            Module::WechatLogin(settings) => view! { <WechatLogin settings/> }.into_any(),
        }
    }
}

#[cfg(feature = "ssr")]
fn parse<S: super::settings::Settings>(
    value: serde_json::Value,
) -> Result<S, super::settings::Invalid> {
    let settings: S = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        super::settings::Invalid::new(path, err.into_inner().to_string())
    })?;
    settings.check()?;
    Ok(settings)
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_spec_has_a_module_and_back() {
        for spec in MODULES {
            let module = Module::from_settings(spec.name, json!({}))
                .unwrap_or_else(|| panic!("{} is in MODULES but not in from_settings", spec.name));
            // Some modules need settings to be valid; the name must still round-trip.
            if let Ok(module) = module {
                assert_eq!(module.name(), spec.name);
            }
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = MODULES.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MODULES.len());
    }

    #[test]
    fn unknown_type_is_none() {
        assert!(Module::from_settings("carousel", json!({})).is_none());
        assert!(Module::spec("carousel").is_none());
    }

    #[test]
    fn missing_settings_take_the_defaults() {
        let module = Module::from_settings("footer", json!({})).unwrap().unwrap();
        assert_eq!(module, Module::Footer(FooterSettings::default()));
    }

    #[test]
    fn a_misspelt_setting_is_refused_with_its_path() {
        let err = Module::from_settings("hero", json!({"headline": "x", "headlin": "y"}))
            .unwrap()
            .unwrap_err();
        assert!(err.reason.contains("unknown field `headlin`"), "{err:?}");
    }

    #[test]
    fn a_wrong_type_names_the_nested_path() {
        let err = Module::from_settings(
            "feature_list",
            json!({"items": [{"title": "a", "text": "b"}, {"title": 3}]}),
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(err.path, "items[1].title");
        assert!(err.reason.contains("invalid type"), "{err:?}");
    }

    #[test]
    fn a_broken_rule_names_the_path() {
        let err = Module::from_settings(
            "header",
            json!({"links": [{"label": "x", "href": "javascript:1"}]}),
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(err.path, "links[0].href");
    }
}
