//! The registry: every module type the theme files may name. Each module
//! declares itself in its own file ([`ModuleType`]); `crate::modules` lists
//! them with the [`modules!`] macro, one line each, which generates the
//! `Module` enum and the code that dispatches to each type.

#[cfg(feature = "ssr")]
use super::settings::{Invalid, Settings};
use super::{Module, ModuleSpec, MODULES};

/// Declares every module type, one line each: `file::Type`, where `file` is
/// the module's file (or folder) under `app/src/modules/` and `Type` is the
/// type in it that implements [`ModuleType`](super::ModuleType). A line may
/// carry a `#[cfg(…)]` (the modules only tests may place).
///
/// For the list `hero::Hero, faq::Faq` it generates:
/// - `pub mod hero; pub mod faq;`
/// - `pub enum Module { Hero(HeroSettings), Faq(FaqSettings) }`, a placed
///   module with its settings;
/// - `pub const MODULES: &[ModuleSpec]`, every schema;
/// - `Module::name`, `Module::from_settings` (server only), `Module::render`
///   and `Module::examples`, each a `match` over the list.
macro_rules! modules {
    ($( $(#[$only:meta])* $file:ident :: $ty:ident ),* $(,)?) => {
        $( $(#[$only])* pub mod $file; )*

        /// A placed module with its typed settings: one variant per module type.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Module {
            $( $(#[$only])* $ty(<$file::$ty as $crate::theme::ModuleType>::Settings), )*
        }

        /// The schema of every module type, in the order listed.
        pub const MODULES: &[$crate::theme::ModuleSpec] = &[
            $( $(#[$only])* <$file::$ty as $crate::theme::ModuleType>::SPEC, )*
        ];

        impl Module {
            /// The `type` this module is registered under.
            pub fn name(&self) -> &'static str {
                match self {
                    $( $(#[$only])* Module::$ty(_) => <$file::$ty as $crate::theme::ModuleType>::SPEC.name, )*
                }
            }

            /// Builds a module from a theme file's `type` and `settings`,
            /// checking every setting. `None` when the type is unknown.
            #[cfg(feature = "ssr")]
            pub fn from_settings(
                name: &str,
                settings: serde_json::Value,
            ) -> Option<Result<Module, $crate::theme::settings::Invalid>> {
                $(
                    $(#[$only])*
                    if name == <$file::$ty as $crate::theme::ModuleType>::SPEC.name {
                        return Some($crate::theme::registry::parse(settings).map(Module::$ty));
                    }
                )*
                None
            }

            /// The module's view; `blocks` fills its slot when it has one.
            pub fn render(self, blocks: leptos::prelude::AnyView) -> leptos::prelude::AnyView {
                use leptos::prelude::IntoAny;
                match self {
                    $(
                        $(#[$only])*
                        Module::$ty(settings) => {
                            <$file::$ty as $crate::theme::ModuleType>::view(settings, blocks).into_any()
                        }
                    )*
                }
            }

            /// Every module type with its example settings, for the tests.
            pub fn examples() -> Vec<Module> {
                vec![ $( $(#[$only])* Module::$ty(<$file::$ty as $crate::theme::ModuleType>::example()), )* ]
            }

            /// The settings as a theme file would hold them.
            #[cfg(test)]
            pub fn settings_json(&self) -> serde_json::Value {
                match self {
                    $( $(#[$only])* Module::$ty(settings) => serde_json::to_value(settings).unwrap(), )*
                }
            }
        }
    };
}
pub(crate) use modules;

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
}

/// Reads and checks one module's settings; the error names the path of the
/// bad setting below `settings`.
#[cfg(feature = "ssr")]
pub(crate) fn parse<S: Settings>(value: serde_json::Value) -> Result<S, Invalid> {
    let settings: S = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Invalid::new(path, err.into_inner().to_string())
    })?;
    settings.check()?;
    Ok(settings)
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use leptos::prelude::*;
    use leptos_router::{components::Router, location::RequestUrl};
    use serde_json::json;

    use super::*;
    use crate::{
        modules::footer::FooterSettings,
        theme::{stream_html, ModuleFrame},
    };

    /// Every module type, rendered from its example settings after a trip
    /// through JSON (as a theme file gives them).
    #[tokio::test]
    async fn every_module_renders_its_example() {
        let examples = Module::examples();
        assert_eq!(examples.len(), MODULES.len());
        for (example, spec) in examples.into_iter().zip(MODULES) {
            assert_eq!(example.name(), spec.name);
            let module = Module::from_settings(spec.name, example.settings_json())
                .unwrap_or_else(|| panic!("{} is in MODULES but not in from_settings", spec.name))
                .unwrap_or_else(|err| panic!("{}'s example is invalid: {err:?}", spec.name));
            assert_eq!(module, example, "{} does not survive JSON", spec.name);
            let page = stream_html(|| {
                // Links inside the site need the router, which needs the URL.
                provide_context(RequestUrl::new("/"));
                view! {
                    <Router>
                        <ModuleFrame name=spec.name id="example".into() place="example".into()>
                            {module.render(view! { <span>"block"</span> }.into_any())}
                        </ModuleFrame>
                    </Router>
                }
                .into_any()
            })
            .await;
            assert!(
                page.contains(&format!(r#"data-module="{}""#, spec.name)),
                "{page}"
            );
            assert!(!page.contains("module-failed"), "{}: {page}", spec.name);
            assert_eq!(
                page.contains("<span>block</span>"),
                spec.accepts_blocks,
                "{}: blocks shown exactly when the spec accepts them: {page}",
                spec.name
            );
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
