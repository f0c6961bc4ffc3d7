//! The page system, modelled on Shopify's Online Store 2.0 themes.
//!
//! Pages are data: `theme/pages/<slug>.json` lists the sections (module
//! instances) of a page in order, and `theme/header.json` /
//! `theme/footer.json` are the groups shared by every page. A section may carry
//! `blocks`, module instances shown in a slot of their parent (the way the
//! login button sits on the right of the header).
//!
//! The registry ([`Module`]) is the one place that knows every module type;
//! modules never import each other.

mod model;
mod registry;
mod render;
pub mod settings;

#[cfg(feature = "ssr")]
pub mod load;

pub use model::{Layout, Page, Section, SiteSettings};
pub use registry::{Module, ModuleSpec, Zone, MODULES};
pub use render::{ModuleFrame, SectionId, Sections};
