//! The opening band of a page: a headline, a line of text and up to two
//! buttons.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::theme::{
    settings::{require_text, Invalid, Link, Settings},
    ModuleSpec, ModuleType, Zone,
};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeroSettings {
    /// Small line above the headline.
    pub eyebrow: String,
    pub headline: String,
    pub text: String,
    /// The main button.
    pub primary: Option<Link>,
    /// A quieter second button.
    pub secondary: Option<Link>,
}

impl Settings for HeroSettings {
    fn check(&self) -> Result<(), Invalid> {
        require_text("headline", &self.headline)?;
        if let Some(link) = &self.primary {
            link.check().map_err(|e| e.within("primary"))?;
        }
        if let Some(link) = &self.secondary {
            link.check().map_err(|e| e.within("secondary"))?;
        }
        Ok(())
    }
}

/// The module: a page's opening band, at most one per page.
pub struct Hero;

impl ModuleType for Hero {
    type Settings = HeroSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("hero", &[Zone::Page]).limit(1);

    fn view(settings: HeroSettings, _blocks: AnyView) -> impl IntoView + 'static {
        let HeroSettings {
            eyebrow,
            headline,
            text,
            primary,
            secondary,
        } = settings;
        let has_buttons = primary.is_some() || secondary.is_some();
        view! {
            <div class="m-hero">
                {(!eyebrow.is_empty()).then(|| view! { <p class="m-hero__eyebrow">{eyebrow}</p> })}
                <h1 class="m-hero__headline">{headline}</h1>
                {(!text.is_empty()).then(|| view! { <p class="m-hero__text">{text}</p> })}
                {has_buttons
                    .then(|| {
                        view! {
                            <div class="m-hero__actions">
                                {primary
                                    .map(|link| {
                                        view! {
                                            <a class="m-hero__button m-hero__button--primary" href=link.href>
                                                {link.label}
                                            </a>
                                        }
                                    })}
                                {secondary
                                    .map(|link| {
                                        view! {
                                            <a class="m-hero__button" href=link.href>
                                                {link.label}
                                            </a>
                                        }
                                    })}
                            </div>
                        }
                    })}
            </div>
        }
    }

    fn example() -> HeroSettings {
        HeroSettings {
            eyebrow: "DeepSeek 写作助手".into(),
            headline: "把想法写成好文章".into(),
            text: "说说你想写什么，剩下的交给文思。".into(),
            primary: Some(Link {
                label: "微信登录".into(),
                href: "#login".into(),
            }),
            secondary: Some(Link {
                label: "了解更多".into(),
                href: "/about".into(),
            }),
        }
    }
}
