//! The script, wasm and stylesheet every page links, by the names
//! cargo-leptos gave them.
//!
//! With `hash-files`, cargo-leptos fingerprints the names
//! (`site.<hash>.js`) and writes the hashes to `hash.txt` beside the server
//! binary. Leptos's own `HydrationScripts` and `HashedStylesheet` read that
//! file beside the running binary on every page: the binary cannot run
//! without it, and the reads were 27% of a page's CPU time (14 system calls,
//! bench/README.md). Here the server reads the names once at start-up — from
//! the files embedded in the binary, or from `hash.txt` — and the shell
//! writes the tags from them.
//!
//! `island_script.js` is Leptos 0.8's island loader (MIT licence), copied
//! unchanged; a test checks that the tags stay the same as Leptos's.

use std::{collections::HashMap, sync::Arc};

use leptos::{oco::Oco, prelude::*, WasmSplitManifest};

/// The names of the files the pages link, under `/{pkg_dir}/`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteAssets {
    pub pkg_dir: String,
    /// The wasm-bindgen script, without `.js`.
    pub js: String,
    /// The wasm module, without `.wasm`.
    pub wasm: String,
    /// The stylesheet, without `.css`.
    pub css: String,
    /// Whether the names are fingerprinted (so they may be cached forever).
    pub fingerprinted: bool,
    /// The lazy islands' wasm chunks of a `--split` build.
    pub split: Option<SplitChunks>,
}

/// What a page needs to preload the chunks of the lazy islands it renders.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SplitChunks {
    /// The `__wasm_split.<hash>.js` loader.
    pub loader: String,
    /// The manifest's file name, `__wasm_split_manifest.<hash>.json`.
    pub manifest_file: String,
    /// Lazy function → the chunks (names without `.wasm`) it needs; read
    /// from the manifest with [`SiteAssets::read_split_manifest`].
    pub preloads: HashMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssetsError {
    #[error("the hash file has no line for the {0} file")]
    Missing(&'static str),
    #[error("the wasm split manifest is not valid JSON: {0}")]
    Manifest(String),
}

impl SiteAssets {
    /// Names without fingerprints, as Leptos writes them: `site.js`,
    /// `site.css`, and `site.wasm` (`site_bg.wasm` when the build was not
    /// made by cargo-leptos, which names its output).
    pub fn unhashed(output_name: &str, pkg_dir: &str) -> Self {
        let wasm = if option_env!("LEPTOS_OUTPUT_NAME").is_none() {
            format!("{output_name}_bg")
        } else {
            output_name.to_owned()
        };
        Self {
            pkg_dir: pkg_dir.trim_matches('/').to_owned(),
            js: output_name.to_owned(),
            wasm,
            css: output_name.to_owned(),
            fingerprinted: false,
            split: None,
        }
    }

    /// The names from the text of cargo-leptos's `hash.txt`: lines
    /// `js: <hash>`, `wasm: …`, `css: …`, and after a `--split` build
    /// `manifest: …` and `split: …`.
    pub fn from_hash_file(
        output_name: &str,
        pkg_dir: &str,
        text: &str,
    ) -> Result<Self, AssetsError> {
        let hashes: HashMap<&str, &str> = text
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(kind, hash)| (kind.trim(), hash.trim()))
            .filter(|(_, hash)| !hash.is_empty())
            .collect();
        let name = |kind: &'static str| {
            hashes
                .get(kind)
                .map(|hash| format!("{output_name}.{hash}"))
                .ok_or(AssetsError::Missing(kind))
        };
        let split = match (hashes.get("split"), hashes.get("manifest")) {
            (Some(split), Some(manifest)) => Some(SplitChunks {
                loader: format!("__wasm_split.{split}.js"),
                manifest_file: format!("__wasm_split_manifest.{manifest}.json"),
                preloads: HashMap::new(),
            }),
            _ => None,
        };
        Ok(Self {
            pkg_dir: pkg_dir.trim_matches('/').to_owned(),
            js: name("js")?,
            wasm: name("wasm")?,
            css: name("css")?,
            fingerprinted: true,
            split,
        })
    }

    /// Takes the preloads from the text of the split manifest.
    pub fn read_split_manifest(&mut self, json: &str) -> Result<(), AssetsError> {
        if let Some(split) = &mut self.split {
            split.preloads =
                serde_json::from_str(json).map_err(|e| AssetsError::Manifest(e.to_string()))?;
        }
        Ok(())
    }

    /// `/pkg/site.<hash>.css`
    pub fn css_href(&self) -> String {
        format!("/{}/{}.css", self.pkg_dir, self.css)
    }
}

/// The island loader and its preload hints, as Leptos's
/// `<HydrationScripts islands=true />` writes them. The names are shared,
/// not copied, by every render (`Arc`).
#[component]
pub fn IslandScripts(assets: Arc<SiteAssets>) -> impl IntoView {
    let SiteAssets {
        pkg_dir,
        js,
        wasm,
        split,
        ..
    } = &*assets;
    // Pages that render a lazy island preload its chunks (see
    // leptos_integration_utils).
    if let Some(split) = split {
        provide_context(WasmSplitManifest(ArcStoredValue::new((
            format!("/{pkg_dir}"),
            split.preloads.clone(),
            split.loader.clone(),
        ))));
    }
    // In islands mode only islands hydrate; the rest of the page is HTML.
    if let Some(context) = Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    let nonce = leptos::nonce::use_nonce();
    let script = include_str!("island_script.js");
    let (root, defer, priority) = ("", false, None::<&str>);
    view! {
        <link
            rel="modulepreload"
            href=format!("{root}/{pkg_dir}/{js}.js")
            crossorigin=nonce.clone()
            fetchpriority=priority
        />
        <link
            rel="preload"
            href=format!("{root}/{pkg_dir}/{wasm}.wasm")
            r#as="fetch"
            r#type="application/wasm"
            crossorigin=nonce
                .as_ref()
                .map(|n| Oco::Counted(n.as_inner().clone()))
                .unwrap_or(Oco::Borrowed(""))
            fetchpriority=priority
        />
        <script type="module" nonce=nonce>
            {format!("{script}({root:?}, {pkg_dir:?}, {js:?}, {wasm:?}, {defer});")}
        </script>
    }
}

/// The site's stylesheet, as Leptos's `<HashedStylesheet id="leptos" />`
/// writes it.
#[component]
pub fn SiteStylesheet(assets: Arc<SiteAssets>) -> impl IntoView {
    view! { <link id="leptos" rel="stylesheet" href=assets.css_href() /> }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASHES: &str = "js: AAAAAAAAAAAAAAAAAAAAAA\nwasm: BBBBBBBBBBBBBBBBBBBBBB\ncss: CCCCCCCCCCCCCCCCCCCCCC\nmanifest: DDDDDDDDDDDDDDDDDDDDDD\nsplit: EEEEEEEEEEEEEEEEEEEEEE\n";

    #[test]
    fn reads_cargo_leptos_hash_file() {
        let mut assets = SiteAssets::from_hash_file("site", "/pkg/", HASHES).unwrap();
        assert_eq!(assets.pkg_dir, "pkg");
        assert_eq!(assets.js, "site.AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(assets.wasm, "site.BBBBBBBBBBBBBBBBBBBBBB");
        assert_eq!(assets.css_href(), "/pkg/site.CCCCCCCCCCCCCCCCCCCCCC.css");
        assert!(assets.fingerprinted);
        let split = assets.split.clone().unwrap();
        assert_eq!(split.loader, "__wasm_split.EEEEEEEEEEEEEEEEEEEEEE.js");
        assert_eq!(
            split.manifest_file,
            "__wasm_split_manifest.DDDDDDDDDDDDDDDDDDDDDD.json"
        );
        assets
            .read_split_manifest(r#"{"phone": ["chunk_1.FFFF"]}"#)
            .unwrap();
        assert_eq!(
            assets.split.unwrap().preloads["phone"],
            vec!["chunk_1.FFFF".to_owned()]
        );
    }

    #[test]
    fn a_hash_file_without_a_kind_is_refused() {
        let err = SiteAssets::from_hash_file("site", "pkg", "js: A\nwasm: B\n").unwrap_err();
        assert_eq!(err, AssetsError::Missing("css"));
        let mut assets = SiteAssets::from_hash_file("site", "pkg", HASHES).unwrap();
        assert!(assets.read_split_manifest("not json").is_err());
    }

    /// Leptos's `HydrationScripts` (unhashed: it then reads no file) and
    /// ours write the same tags; after a Leptos upgrade that changes its
    /// loader, this fails until `island_script.js` is copied again.
    /// Rendering to HTML needs `ssr` (on in `cargo test`, where the server
    /// turns it on; `cargo test -p app` alone leaves it off).
    #[cfg(feature = "ssr")]
    #[test]
    fn the_tags_are_the_same_as_leptos_writes() {
        let mut options = leptos::config::LeptosOptions::builder()
            .output_name("site")
            .build();
        options.hash_files = false;
        let assets = Arc::new(SiteAssets::unhashed("site", "pkg"));
        let owner = Owner::new();
        let (ours, theirs) = owner.with(|| {
            let ours = view! { <IslandScripts assets=assets.clone() /> }.to_html();
            let theirs =
                view! { <HydrationScripts options=options.clone() islands=true /> }.to_html();
            (ours, theirs)
        });
        assert_eq!(ours, theirs);
        assert!(ours.contains("/pkg/site.js"), "{ours}");

        let (ours, theirs) = owner.with(|| {
            let ours = view! { <SiteStylesheet assets /> }.to_html();
            let theirs = view! { <leptos_meta::HashedStylesheet options id="leptos" /> }.to_html();
            (ours, theirs)
        });
        assert_eq!(ours, theirs);
        assert!(ours.contains(r#"href="/pkg/site.css""#), "{ours}");
    }
}
