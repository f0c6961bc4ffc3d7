//! The page system, modelled on Shopify's Online Store 2.0 themes.
//!
//! Pages are data: `theme/pages/<slug>.json` lists the sections (module
//! instances) of a page in order, and `theme/header.json` /
//! `theme/footer.json` are the groups shared by every page. A section may carry
//! `blocks`, module instances shown in a slot of their parent (the way the
//! login button sits on the right of the header).
//!
//! Each module type declares itself ([`ModuleType`]); the registry
//! ([`Module`], listed in `crate::modules`) is the one place that knows them
//! all. Modules never import each other.

mod contain;
mod model;
mod module;
pub(crate) mod registry;
mod render;
pub mod settings;

#[cfg(feature = "ssr")]
pub mod load;

pub use crate::modules::{Module, MODULES};
pub use model::{Layout, Page, Section, SiteSettings};
pub use module::{ModuleSpec, ModuleType, Zone};
pub(crate) use registry::modules;
#[cfg(all(test, feature = "ssr"))]
pub(crate) use render::stream_html;
pub use render::{ModuleFrame, SectionId, Sections};
