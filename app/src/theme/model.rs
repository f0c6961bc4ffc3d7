use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Module;

/// Site-wide settings every module may read (`theme/settings.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiteSettings {
    /// The site's name, shown in the header and in page titles.
    pub name: String,
    /// One or two characters drawn as the logo mark.
    pub logo_text: String,
    /// Short line under the name in the footer.
    pub tagline: String,
    /// Copyright owner shown in the footer ("© {copyright}").
    pub copyright: String,
    /// ICP备案号. Sites served in mainland China must show it, linked to
    /// beian.miit.gov.cn; empty hides the line.
    pub icp: String,
}

impl Default for SiteSettings {
    fn default() -> Self {
        Self {
            name: "文思".into(),
            logo_text: "文".into(),
            tagline: String::new(),
            copyright: String::new(),
            icp: String::new(),
        }
    }
}

/// One placed module instance: a page section or a block inside a section.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// Unique within its file; given in the file or derived from the type.
    pub id: String,
    /// Where it is placed, for the log when it fails: the file and the
    /// position in it, e.g. `theme/pages/about.json: sections[2]`.
    pub place: String,
    pub module: Module,
    /// Module instances rendered in this section's slot (only for module
    /// types that accept blocks).
    pub blocks: Vec<Section>,
}

/// A page composed from sections (`theme/pages/<slug>.json`).
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// `index` is served at `/`, any other slug at `/<slug>`.
    pub slug: String,
    pub title: String,
    pub description: String,
    /// Shared by every render of the page (loaded once, never copied).
    pub sections: Arc<[Section]>,
}

impl Page {
    /// Whether a module on it is for operators only
    /// ([`ModuleSpec::admins_only`](super::ModuleSpec::admins_only)): then
    /// the whole page is shown to them only.
    pub fn admins_only(&self) -> bool {
        self.sections
            .iter()
            .any(|section| Module::spec(section.module.name()).is_some_and(|spec| spec.admins_only))
    }
}

/// What every page shares: site settings and the header and footer groups.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    pub site: SiteSettings,
    /// Shared by every render (loaded once, never copied).
    pub header: Arc<[Section]>,
    pub footer: Arc<[Section]>,
    /// The WeChat sandbox is on: every page says so.
    pub sandbox: bool,
    /// The DeepSeek sandbox writes the articles: every page says so too.
    pub deepseek_sandbox: bool,
    /// 微信一键登录 inside WeChat is on (`LOGIN_WECHAT_OAUTH`): the login
    /// dialog offers it there.
    pub wechat_oauth: bool,
}
