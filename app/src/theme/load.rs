//! Reads and checks the theme files when the server starts. Any mistake stops
//! the start with the file, the place in it and the reason.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fs,
    path::{Path, PathBuf},
};

use serde::{de::DeserializeOwned, Deserialize};

use super::{Layout, Module, ModuleSpec, Page, Section, SiteSettings, Zone};

/// Every page and group of the site, checked.
#[derive(Clone, Debug)]
pub struct Theme {
    pub layout: Layout,
    pub pages: BTreeMap<String, Page>,
}

impl Theme {
    pub fn page(&self, slug: &str) -> Option<&Page> {
        self.pages.get(slug)
    }
}

/// Why the theme could not be loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}: {place}: {reason}", file.display())]
pub struct LoadError {
    pub file: PathBuf,
    /// Where in the file, e.g. `sections[1].settings.headline`; empty for the
    /// whole file.
    pub place: String,
    pub reason: String,
}

/// Slugs that would hide a route of the server itself.
const RESERVED_SLUGS: &[&str] = &["api", "pkg", "sandbox", "wechat", "healthz"];

/// Loads `settings.json`, `header.json`, `footer.json` and `pages/*.json`
/// from `dir`.
pub fn load(dir: &Path) -> Result<Theme, LoadError> {
    let site: SiteSettings = read_json(&dir.join("settings.json"))?;
    let header = read_group(&dir.join("header.json"), Zone::Header)?;
    let footer = read_group(&dir.join("footer.json"), Zone::Footer)?;

    let pages_dir = dir.join("pages");
    let mut pages = BTreeMap::new();
    for file in page_files(&pages_dir)? {
        let page = read_page(&file)?;
        pages.insert(page.slug.clone(), page);
    }
    if !pages.contains_key("index") {
        return Err(LoadError {
            file: pages_dir.join("index.json"),
            place: String::new(),
            reason: "missing: the home page (/) is pages/index.json".into(),
        });
    }

    Ok(Theme {
        layout: Layout {
            site,
            header: header.into(),
            footer: footer.into(),
            sandbox: false,
            deepseek_sandbox: false,
            wechat_oauth: false,
        },
        pages,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    #[serde(default)]
    sections: Vec<SectionFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageFile {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sections: Vec<SectionFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    settings: Option<serde_json::Value>,
    #[serde(default)]
    blocks: Vec<SectionFile>,
}

fn read_group(file: &Path, zone: Zone) -> Result<Vec<Section>, LoadError> {
    let group: GroupFile = read_json(file)?;
    Placement::new(file, zone).sections(group.sections)
}

fn read_page(file: &Path) -> Result<Page, LoadError> {
    parse_page(file, &read_text(file)?)
}

/// Checks one page file's text; `file` names the page (its stem is the URL)
/// and the errors. Public so tests can feed it anything.
pub fn parse_page(file: &Path, text: &str) -> Result<Page, LoadError> {
    let slug = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let fail = |reason: String| LoadError {
        file: file.to_owned(),
        place: String::new(),
        reason,
    };
    let slug_ok = !slug.is_empty()
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if !slug_ok {
        return Err(fail(format!(
            "\"{slug}\" cannot be a page name: use lowercase letters, digits and \"-\" (the file name is the URL)"
        )));
    }
    if RESERVED_SLUGS.contains(&slug.as_str()) {
        return Err(fail(format!(
            "\"{slug}\" is used by the server itself ({}); choose another file name",
            RESERVED_SLUGS.join(", ")
        )));
    }

    let page: PageFile = parse_json(file, text)?;
    if page.title.trim().is_empty() {
        return Err(LoadError {
            file: file.to_owned(),
            place: "title".into(),
            reason: "must not be empty".into(),
        });
    }
    let sections = Placement::new(file, Zone::Page).sections(page.sections)?;
    let page = Page {
        slug,
        title: page.title,
        description: page.description,
        sections: sections.into(),
    };
    if page.slug == "index" && page.admins_only() {
        return Err(fail(
            "a module for operators only (such as \"admin\") makes its whole page a 404 for everyone else: \
             place it on a page of its own (e.g. pages/admin.json), not on the home page"
                .into(),
        ));
    }
    Ok(page)
}

fn page_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = fs::read_dir(dir).map_err(|err| LoadError {
        file: dir.to_owned(),
        place: String::new(),
        reason: format!("cannot read the pages folder: {err}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn read_json<T: DeserializeOwned>(file: &Path) -> Result<T, LoadError> {
    parse_json(file, &read_text(file)?)
}

fn read_text(file: &Path) -> Result<String, LoadError> {
    fs::read_to_string(file).map_err(|err| LoadError {
        file: file.to_owned(),
        place: String::new(),
        reason: format!("cannot read the file: {err}"),
    })
}

fn parse_json<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, LoadError> {
    let mut json = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut json).map_err(|err| {
        let place = err.path().to_string();
        LoadError {
            file: file.to_owned(),
            place: if place == "." { String::new() } else { place },
            reason: err.into_inner().to_string(),
        }
    })
}

/// Checks the placement rules of one file while turning its raw sections into
/// modules: known types, allowed zones, blocks, limits and unique ids.
struct Placement<'a> {
    file: &'a Path,
    zone: Zone,
    counts: HashMap<&'static str, usize>,
    ids: HashSet<String>,
}

impl<'a> Placement<'a> {
    fn new(file: &'a Path, zone: Zone) -> Self {
        Self {
            file,
            zone,
            counts: HashMap::new(),
            ids: HashSet::new(),
        }
    }

    fn sections(mut self, raw: Vec<SectionFile>) -> Result<Vec<Section>, LoadError> {
        raw.into_iter()
            .enumerate()
            .map(|(i, section)| self.section(section, format!("sections[{i}]"), None))
            .collect()
    }

    fn fail(&self, place: String, reason: String) -> LoadError {
        LoadError {
            file: self.file.to_owned(),
            place,
            reason,
        }
    }

    fn section(
        &mut self,
        raw: SectionFile,
        place: String,
        parent: Option<&ModuleSpec>,
    ) -> Result<Section, LoadError> {
        let spec = Module::spec(&raw.kind).ok_or_else(|| {
            self.fail(
                format!("{place}.type"),
                format!(
                    "unknown module type \"{}\" (known types: {})",
                    raw.kind,
                    Module::known_names()
                ),
            )
        })?;

        if !spec.zones.contains(&self.zone) {
            let allowed: Vec<_> = spec.zones.iter().map(|z| z.describe()).collect();
            return Err(self.fail(
                format!("{place}.type"),
                format!(
                    "\"{}\" cannot be placed in {}; it belongs in {}",
                    spec.name,
                    self.zone.describe(),
                    allowed.join(" or ")
                ),
            ));
        }
        if let Some(parent) = parent {
            if !spec.as_block {
                return Err(self.fail(
                    format!("{place}.type"),
                    format!(
                        "\"{}\" cannot be a block inside \"{}\"",
                        spec.name, parent.name
                    ),
                ));
            }
        }
        if !raw.blocks.is_empty() && !spec.accepts_blocks {
            return Err(self.fail(
                format!("{place}.blocks"),
                format!("\"{}\" has no slot for blocks", spec.name),
            ));
        }

        let count = self.counts.entry(spec.name).or_default();
        *count += 1;
        let count = *count;
        if let Some(limit) = spec.limit {
            if count > limit {
                return Err(self.fail(
                    place,
                    format!(
                        "at most {limit} \"{}\" module(s) may be placed in one file",
                        spec.name
                    ),
                ));
            }
        }

        let id = match raw.id {
            Some(id) => id,
            None if count == 1 => spec.name.to_owned(),
            None => format!("{}-{count}", spec.name),
        };
        let id_ok = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(self.fail(
                format!("{place}.id"),
                format!("\"{id}\" is not a valid id: use letters, digits, \"-\" and \"_\""),
            ));
        }
        if !self.ids.insert(id.clone()) {
            return Err(self.fail(
                format!("{place}.id"),
                format!("the id \"{id}\" is used twice in this file"),
            ));
        }

        let settings = raw.settings.unwrap_or_else(|| serde_json::json!({}));
        let module = Module::from_settings(spec.name, settings)
            .unwrap_or_else(|| unreachable!("every spec has a module"))
            .map_err(|invalid| {
                let path = if invalid.path.is_empty() {
                    format!("{place}.settings")
                } else if invalid.path.starts_with('[') {
                    format!("{place}.settings{}", invalid.path)
                } else {
                    format!("{place}.settings.{}", invalid.path)
                };
                self.fail(path, invalid.reason)
            })?;

        let blocks = raw
            .blocks
            .into_iter()
            .enumerate()
            .map(|(i, block)| self.section(block, format!("{place}.blocks[{i}]"), Some(spec)))
            .collect::<Result<_, _>>()?;

        Ok(Section {
            id,
            module,
            blocks,
            place: format!("{}: {place}", self.file.display()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A theme folder in a fresh temporary directory.
    struct Fixture(tempfile::TempDir);

    impl Fixture {
        fn new() -> Self {
            let fixture = Fixture(tempfile::tempdir().unwrap());
            fs::create_dir(fixture.path().join("pages")).unwrap();
            fixture.write("settings.json", &json!({"name": "测试站"}).to_string());
            fixture.write(
                "header.json",
                &json!({"sections": [{"type": "header", "settings": {"links": [{"label": "关于", "href": "/about"}]}}]}).to_string(),
            );
            fixture.write(
                "footer.json",
                &json!({"sections": [{"type": "footer"}]}).to_string(),
            );
            fixture.write(
                "pages/index.json",
                &json!({"title": "首页", "sections": [
                    {"type": "hero", "settings": {"headline": "你好"}},
                    {"type": "faq", "settings": {"items": [{"question": "q", "answer": "a"}]}}
                ]})
                .to_string(),
            );
            fixture
        }

        fn path(&self) -> &Path {
            self.0.path()
        }

        fn write(&self, name: &str, text: &str) {
            fs::write(self.path().join(name), text).unwrap();
        }

        fn page(&self, sections: serde_json::Value) {
            self.write(
                "pages/index.json",
                &json!({"title": "首页", "sections": sections}).to_string(),
            );
        }

        fn error(&self) -> LoadError {
            load(self.path()).unwrap_err()
        }
    }

    #[test]
    fn a_valid_theme_loads_in_file_order() {
        let fixture = Fixture::new();
        let theme = load(fixture.path()).unwrap();
        assert_eq!(theme.layout.site.name, "测试站");
        let index = theme.page("index").unwrap();
        let names: Vec<_> = index.sections.iter().map(|s| s.module.name()).collect();
        assert_eq!(names, ["hero", "faq"]);
        assert_eq!(index.sections[0].id, "hero");
        assert_eq!(theme.layout.header[0].module.name(), "header");
    }

    #[test]
    fn an_unknown_type_names_file_place_and_known_types() {
        let fixture = Fixture::new();
        fixture
            .page(json!([{"type": "hero", "settings": {"headline": "x"}}, {"type": "carousel"}]));
        let err = fixture.error();
        assert_eq!(err.file, fixture.path().join("pages/index.json"));
        assert_eq!(err.place, "sections[1].type");
        assert!(
            err.reason.contains("unknown module type \"carousel\""),
            "{err}"
        );
        assert!(err.reason.contains("feature_list"), "{err}");
        assert!(
            err.to_string()
                .contains("pages/index.json: sections[1].type: unknown"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_setting_names_its_path() {
        let fixture = Fixture::new();
        fixture.page(json!([{"type": "hero", "settings": {"headline": ""}}]));
        let err = fixture.error();
        assert_eq!(err.place, "sections[0].settings.headline");
        assert_eq!(err.reason, "must not be empty");
    }

    #[test]
    fn a_broken_limit_is_refused() {
        let fixture = Fixture::new();
        fixture.page(json!([
            {"type": "hero", "settings": {"headline": "a"}},
            {"type": "hero", "settings": {"headline": "b"}}
        ]));
        let err = fixture.error();
        assert_eq!(err.place, "sections[1]");
        assert!(err.reason.contains("at most 1 \"hero\""), "{err}");
    }

    #[test]
    fn a_module_outside_its_zone_is_refused() {
        let fixture = Fixture::new();
        fixture.page(json!([{"type": "header"}]));
        let err = fixture.error();
        assert_eq!(err.place, "sections[0].type");
        assert!(err.reason.contains("cannot be placed in a page"), "{err}");
    }

    #[test]
    fn a_page_for_operators_only_is_marked_and_not_the_home_page() {
        let fixture = Fixture::new();
        fixture.write(
            "pages/admin.json",
            &json!({"title": "运营", "sections": [{"type": "admin"}]}).to_string(),
        );
        let theme = load(fixture.path()).unwrap();
        assert!(theme.page("admin").unwrap().admins_only());
        assert!(!theme.page("index").unwrap().admins_only());
        fixture.page(json!([{"type": "admin"}]));
        let err = fixture.error();
        assert_eq!(err.file, fixture.path().join("pages/index.json"));
        assert!(err.reason.contains("operators only"), "{err}");
    }

    #[test]
    fn blocks_need_a_slot() {
        let fixture = Fixture::new();
        fixture.page(json!([{"type": "faq", "blocks": [{"type": "hero"}]}]));
        let err = fixture.error();
        assert_eq!(err.place, "sections[0].blocks");
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let fixture = Fixture::new();
        fixture.page(json!([{"type": "faq", "id": "q"}, {"type": "faq", "id": "q"}]));
        assert_eq!(fixture.error().place, "sections[1].id");
    }

    #[test]
    fn repeated_modules_get_distinct_ids() {
        let fixture = Fixture::new();
        fixture.page(json!([{"type": "faq"}, {"type": "faq"}]));
        let theme = load(fixture.path()).unwrap();
        let ids: Vec<_> = theme
            .page("index")
            .unwrap()
            .sections
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids, ["faq", "faq-2"]);
    }

    #[test]
    fn broken_json_gives_line_and_column() {
        let fixture = Fixture::new();
        fixture.write(
            "pages/index.json",
            "{\"title\": \"首页\",\n \"sections\": [,]}",
        );
        let err = fixture.error();
        assert!(err.reason.contains("line 2"), "{err}");
    }

    #[test]
    fn an_unknown_top_level_field_is_refused() {
        let fixture = Fixture::new();
        fixture.write(
            "pages/about.json",
            &json!({"title": "关于", "section": []}).to_string(),
        );
        let err = fixture.error();
        assert_eq!(err.file, fixture.path().join("pages/about.json"));
        assert!(err.reason.contains("unknown field `section`"), "{err}");
    }

    #[test]
    fn page_names_are_urls() {
        let fixture = Fixture::new();
        fixture.write("pages/About Us.json", &json!({"title": "关于"}).to_string());
        assert!(fixture.error().reason.contains("cannot be a page name"));

        let fixture = Fixture::new();
        fixture.write("pages/api.json", &json!({"title": "x"}).to_string());
        assert!(fixture.error().reason.contains("used by the server itself"));
    }

    #[test]
    fn the_home_page_is_required() {
        let fixture = Fixture::new();
        fs::remove_file(fixture.path().join("pages/index.json")).unwrap();
        assert!(fixture.error().reason.contains("home page"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let fixture = Fixture::new();
        fs::remove_file(fixture.path().join("footer.json")).unwrap();
        let err = fixture.error();
        assert_eq!(err.file, fixture.path().join("footer.json"));
        assert!(err.reason.contains("cannot read the file"), "{err}");
    }

    #[test]
    fn the_shipped_theme_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../theme");
        let theme = load(&dir).unwrap_or_else(|err| panic!("{err}"));
        assert!(theme.page("index").is_some());
        assert!(theme.page("about").is_some());
    }
}
