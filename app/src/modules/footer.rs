//! The site footer: links, a note, the copyright and the ICP备案 line.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::theme::{
    settings::{check_each, Invalid, Link, Settings},
    ModuleSpec, ModuleType, SiteSettings, Zone,
};

/// Where every ICP备案号 must link to (MIIT's registry).
const ICP_REGISTRY: &str = "https://beian.miit.gov.cn/";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FooterSettings {
    pub links: Vec<Link>,
    /// A short line of text above the copyright.
    pub note: String,
    /// Show the site's ICP备案号 (when the site settings have one).
    pub show_icp: bool,
}

impl Default for FooterSettings {
    fn default() -> Self {
        Self {
            links: Vec::new(),
            note: String::new(),
            show_icp: true,
        }
    }
}

impl Settings for FooterSettings {
    fn check(&self) -> Result<(), Invalid> {
        check_each("links", &self.links, Link::check)
    }
}

/// The module: the footer group's one footer.
pub struct Footer;

impl ModuleType for Footer {
    type Settings = FooterSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("footer", &[Zone::Footer]).limit(1);

    fn view(settings: FooterSettings, _blocks: AnyView) -> impl IntoView + 'static {
        let site = use_context::<SiteSettings>().unwrap_or_default();
        let copyright = if site.copyright.is_empty() {
            site.name.clone()
        } else {
            site.copyright.clone()
        };
        let icp = (settings.show_icp && !site.icp.is_empty()).then(|| {
            view! {
                <a class="m-footer__icp" href=ICP_REGISTRY target="_blank" rel="noopener noreferrer">
                    {site.icp.clone()}
                </a>
            }
        });
        view! {
            <div class="m-footer">
                {(!settings.links.is_empty())
                    .then(|| {
                        view! {
                            <nav class="m-footer__links" aria-label="页脚链接">
                                {settings
                                    .links
                                    .into_iter()
                                    .map(|link| view! { <a href=link.href>{link.label}</a> })
                                    .collect_view()}
                            </nav>
                        }
                    })}
                {(!settings.note.is_empty()).then(|| view! { <p class="m-footer__note">{settings.note}</p> })}
                <p class="m-footer__legal">
                    <span>"© " {copyright}</span>
                    {(!site.tagline.is_empty()).then(|| view! { <span>{site.tagline.clone()}</span> })}
                    {icp}
                </p>
            </div>
        }
    }

    fn example() -> FooterSettings {
        FooterSettings {
            links: vec![Link {
                label: "关于".into(),
                href: "/about".into(),
            }],
            note: "用 DeepSeek 认真写中文。".into(),
            show_icp: true,
        }
    }
}
