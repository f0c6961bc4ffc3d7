//! A heading and a grid of features, each with an optional badge such as
//! "即将推出" so a page can say honestly what is not there yet.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::theme::{
    settings::{check_each, require_text, Invalid, Settings},
    ModuleSpec, ModuleType, Zone,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureListSettings {
    pub heading: String,
    pub intro: String,
    /// Columns on a wide screen, 1 to 4.
    pub columns: u8,
    pub items: Vec<Feature>,
}

impl Default for FeatureListSettings {
    fn default() -> Self {
        Self {
            heading: String::new(),
            intro: String::new(),
            columns: 3,
            items: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Feature {
    /// A short symbol or emoji shown before the title.
    pub icon: String,
    pub title: String,
    pub text: String,
    /// A small label such as "即将推出".
    pub badge: String,
}

impl Settings for FeatureListSettings {
    fn check(&self) -> Result<(), Invalid> {
        if !(1..=4).contains(&self.columns) {
            return Err(Invalid::new("columns", "must be between 1 and 4"));
        }
        check_each("items", &self.items, |item| {
            require_text("title", &item.title)?;
            require_text("text", &item.text)
        })
    }
}

/// The module: any number per page.
pub struct FeatureList;

impl ModuleType for FeatureList {
    type Settings = FeatureListSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("feature_list", &[Zone::Page]);

    fn view(settings: FeatureListSettings, _blocks: AnyView) -> impl IntoView + 'static {
        // A class, not a style attribute: the pages' Content-Security-Policy
        // allows styles from the stylesheet only.
        let class = format!("m-feature-list m-feature-list--cols-{}", settings.columns);
        view! {
            <div class=class>
                {(!settings.heading.is_empty())
                    .then(|| view! { <h2 class="m-feature-list__heading">{settings.heading}</h2> })}
                {(!settings.intro.is_empty())
                    .then(|| view! { <p class="m-feature-list__intro">{settings.intro}</p> })}
                <ul class="m-feature-list__items">
                    {settings
                        .items
                        .into_iter()
                        .map(|item| {
                            view! {
                                <li class="m-feature-list__item">
                                    <h3>
                                        {(!item.icon.is_empty())
                                            .then(|| {
                                                view! {
                                                    <span class="m-feature-list__icon" aria-hidden="true">
                                                        {item.icon}
                                                    </span>
                                                }
                                            })}
                                        {item.title}
                                        {(!item.badge.is_empty())
                                            .then(|| view! { <span class="m-feature-list__badge">{item.badge}</span> })}
                                    </h3>
                                    <p>{item.text}</p>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </div>
        }
    }

    fn example() -> FeatureListSettings {
        FeatureListSettings {
            heading: "文思能做什么".into(),
            intro: "从一句话的想法到一篇完整的文章。".into(),
            columns: 2,
            items: vec![
                Feature {
                    icon: "✍".into(),
                    title: "起草".into(),
                    text: "说说主题，DeepSeek 写出初稿。".into(),
                    badge: String::new(),
                },
                Feature {
                    icon: "📋".into(),
                    title: "带走".into(),
                    text: "复制到公众号编辑器，格式不乱。".into(),
                    badge: "即将推出".into(),
                },
            ],
        }
    }
}
