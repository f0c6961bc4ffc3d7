//! The site header: logo and name, navigation links, and a slot on the right
//! for blocks (the login button goes there).

use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::theme::{
    settings::{check_each, Invalid, Link, Settings},
    ModuleSpec, ModuleType, SiteSettings, Zone,
};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderSettings {
    /// Navigation links, left to right.
    pub links: Vec<Link>,
    /// The header stays at the top of the window while scrolling.
    pub sticky: bool,
}

impl Settings for HeaderSettings {
    fn check(&self) -> Result<(), Invalid> {
        check_each("links", &self.links, Link::check)
    }
}

/// The module: the header group's one header, with a slot for blocks.
pub struct Header;

impl ModuleType for Header {
    type Settings = HeaderSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("header", &[Zone::Header])
        .limit(1)
        .accepts_blocks();

    fn view(settings: HeaderSettings, blocks: AnyView) -> impl IntoView + 'static {
        let site = use_context::<SiteSettings>().unwrap_or_default();
        view! {
            <div class="m-header" class:m-header--sticky=settings.sticky>
                <A href="/" attr:class="m-header__brand">
                    <span class="m-header__logo" aria-hidden="true">{site.logo_text}</span>
                    <span class="m-header__name">{site.name}</span>
                </A>
                <nav class="m-header__nav" aria-label="主导航">
                    {settings
                        .links
                        .into_iter()
                        .map(|link| {
                            if link.is_external() {
                                view! {
                                    <a href=link.href target="_blank" rel="noopener noreferrer">
                                        {link.label}
                                    </a>
                                }
                                    .into_any()
                            } else {
                                view! { <A href=link.href>{link.label}</A> }.into_any()
                            }
                        })
                        .collect_view()}
                </nav>
                <div class="m-header__slot">{blocks}</div>
            </div>
        }
    }

    fn example() -> HeaderSettings {
        HeaderSettings {
            links: vec![
                Link {
                    label: "首页".into(),
                    href: "/".into(),
                },
                Link {
                    label: "帮助".into(),
                    href: "https://example.com/help".into(),
                },
            ],
            sticky: true,
        }
    }
}
