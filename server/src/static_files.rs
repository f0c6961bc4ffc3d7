//! Static files (`/pkg/*`, favicon, …) served from memory.
//!
//! The site's static files are few and small, so they are taken once at
//! start-up — from the binary (a release built with `embed-site`, see
//! `embedded.rs`) or from the site folder cargo-leptos wrote — compressed
//! once, and served from memory: a request is a map lookup, with no file
//! system, no per-request compression, an ETag, and a year of caching for
//! fingerprinted files.
//!
//! Brotli comes precompressed from the build (cargo-leptos `--precompress`
//! writes `.br`). Gzip is made here at the best level: the build's `.gz`
//! (libflate) is about 15% larger, and gzip is what browsers ask for over
//! plain http.
//!
//! Measured against tower-http's `ServeDir` with the build's precompressed
//! files (`loadtest --only static`, bench/README.md: the same Brotli bytes,
//! 64 connections, in turns, one run on this 2-core machine with other
//! builds running): the stylesheet (3.2 KB) 49 618/s at 8 µs of server CPU
//! per request here against 11 572/s at 116 µs with `ServeDir`; the wasm
//! (127 KB) 10 720/s at 24 µs against 5 120/s at 232 µs. `ServeDir` opens,
//! stats and reads the file on a blocking thread for every request.

use std::{
    collections::HashMap,
    io,
    io::Write,
    path::{Path, PathBuf},
};

use app::assets::SiteAssets;
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode},
    middleware::Next,
};
use bytes::Bytes;
use leptos::config::LeptosOptions;
use sha2::{Digest, Sha256};

use crate::embedded;

pub struct StaticFiles {
    files: HashMap<String, Asset>,
}

struct Asset {
    content_type: &'static str,
    cache_control: &'static str,
    etag: HeaderValue,
    compressible: bool,
    identity: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
}

/// Cache headers: fingerprinted names change with their content, so they may
/// be kept for a year; anything else is revalidated with its ETag.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "public, max-age=0, must-revalidate";

/// The site's static files and the names its pages link.
pub struct Site {
    pub files: StaticFiles,
    pub assets: SiteAssets,
    /// Where the files came from, for the start-up log.
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("cannot read the static files in {root}: {source}")]
    Read { root: String, source: io::Error },
    #[error(
        "cannot read the hash file {path} (cargo-leptos writes it beside the binary): {source}"
    )]
    HashFile { path: String, source: io::Error },
    #[error("{what}: {source}")]
    Assets {
        what: String,
        source: app::assets::AssetsError,
    },
}

impl Site {
    /// The files embedded in the binary when it has them; otherwise those in
    /// `LEPTOS_SITE_ROOT`, named by the `hash.txt` beside the binary.
    pub fn load(options: &LeptosOptions) -> Result<Self, SiteError> {
        let pkg_dir = options.site_pkg_dir.as_ref();
        let output_name = options.output_name.as_ref();
        let (files, assets, source) = if embedded::SITE_EMBEDDED {
            let assets =
                match embedded::SITE_HASHES {
                    Some(text) => SiteAssets::from_hash_file(output_name, pkg_dir, text).map_err(
                        |source| SiteError::Assets {
                            what: "the embedded hash file".into(),
                            source,
                        },
                    )?,
                    None => SiteAssets::unhashed(output_name, pkg_dir),
                };
            let files = embedded::SITE
                .iter()
                .map(|(url, bytes)| ((*url).to_owned(), Bytes::from_static(bytes)));
            let files = StaticFiles::from_files(files, pkg_dir, assets.fingerprinted);
            (files, assets, "embedded in the binary".to_owned())
        } else {
            let assets = disk_assets(options)?;
            let root = PathBuf::from(options.site_root.as_ref());
            let files =
                StaticFiles::load(&root, pkg_dir, assets.fingerprinted).map_err(|source| {
                    SiteError::Read {
                        root: root.display().to_string(),
                        source,
                    }
                })?;
            (files, assets, root.display().to_string())
        };
        let mut site = Site {
            files,
            assets,
            source,
        };
        site.read_split_manifest()?;
        Ok(site)
    }

    /// The lazy islands' chunk list, from the manifest among the files.
    fn read_split_manifest(&mut self) -> Result<(), SiteError> {
        let Some(split) = &self.assets.split else {
            return Ok(());
        };
        let url = format!("/{}/{}", self.assets.pkg_dir, split.manifest_file);
        let Some(json) = self.files.contents(&url) else {
            if !self.files.is_empty() {
                tracing::warn!(%url, "the wasm split manifest is missing: lazy islands load without preloading");
            }
            return Ok(());
        };
        let json = String::from_utf8_lossy(json).into_owned();
        self.assets
            .read_split_manifest(&json)
            .map_err(|source| SiteError::Assets { what: url, source })
    }

    /// The linked files that are not among the static files (a site folder
    /// from another build): pages would load unstyled and never hydrate.
    pub fn missing_links(&self) -> Vec<String> {
        let a = &self.assets;
        [
            format!("/{}/{}.js", a.pkg_dir, a.js),
            format!("/{}/{}.wasm", a.pkg_dir, a.wasm),
            a.css_href(),
        ]
        .into_iter()
        .filter(|url| self.files.contents(url).is_none())
        .collect()
    }
}

/// The names in the hash file beside the binary (`cargo leptos build`);
/// without one (`cargo leptos watch` does not fingerprint), plain names.
fn disk_assets(options: &LeptosOptions) -> Result<SiteAssets, SiteError> {
    let pkg_dir = options.site_pkg_dir.as_ref();
    let output_name = options.output_name.as_ref();
    let path = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_default()
        .join(options.hash_file.as_ref());
    if !options.hash_files {
        return Ok(SiteAssets::unhashed(output_name, pkg_dir));
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            tracing::debug!(path = %path.display(), "no hash file: the site's files are not fingerprinted");
            return Ok(SiteAssets::unhashed(output_name, pkg_dir));
        }
        Err(source) => {
            return Err(SiteError::HashFile {
                path: path.display().to_string(),
                source,
            })
        }
    };
    SiteAssets::from_hash_file(output_name, pkg_dir, &text).map_err(|source| SiteError::Assets {
        what: path.display().to_string(),
        source,
    })
}

impl StaticFiles {
    /// Reads every file under `root`. Files under `/{pkg_dir}/` are cached for
    /// a year when `fingerprinted` (cargo-leptos `hash-files`).
    pub fn load(root: &Path, pkg_dir: &str, fingerprinted: bool) -> io::Result<Self> {
        let mut files = Vec::new();
        if root.is_dir() {
            for path in walk(root)? {
                let Ok(relative) = path.strip_prefix(root) else {
                    continue;
                };
                let url = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
                files.push((url, Bytes::from(std::fs::read(&path)?)));
            }
        }
        Ok(Self::from_files(files, pkg_dir, fingerprinted))
    }

    /// The files at their URL paths; a `.br` beside a file is its Brotli
    /// copy, a `.gz` is ignored (a smaller one is made here).
    pub fn from_files(
        files: impl IntoIterator<Item = (String, Bytes)>,
        pkg_dir: &str,
        fingerprinted: bool,
    ) -> Self {
        let all: HashMap<String, Bytes> = files.into_iter().collect();
        let pkg_prefix = format!("/{}/", pkg_dir.trim_matches('/'));
        let files = all
            .iter()
            .filter(|(url, _)| !url.ends_with(".gz") && !url.ends_with(".br"))
            .map(|(url, identity)| {
                let immutable = fingerprinted && url.starts_with(&pkg_prefix);
                let brotli = all.get(&format!("{url}.br")).cloned();
                let asset = Asset::new(url, identity.clone(), brotli, immutable);
                (url.clone(), asset)
            })
            .collect();
        Self { files }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The (uncompressed) contents of the file at `path`.
    pub fn contents(&self, path: &str) -> Option<&Bytes> {
        self.files.get(path).map(|asset| &asset.identity)
    }

    /// The response for `path`, or `None` when no such file exists (or the
    /// method is not GET/HEAD), so the caller can answer 404 its own way.
    pub fn response(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Response<Body>> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let asset = self.files.get(path)?;
        Some(asset.response(method == Method::HEAD, headers))
    }
}

/// Middleware: a request for a static file gets it; any other goes on.
pub async fn serve(
    State(files): State<std::sync::Arc<StaticFiles>>,
    request: Request,
    next: Next,
) -> Response<Body> {
    match files.response(request.method(), request.uri().path(), request.headers()) {
        Some(response) => response,
        None => next.run(request).await,
    }
}

impl Asset {
    fn new(url: &str, identity: Bytes, brotli: Option<Bytes>, immutable: bool) -> Self {
        let (content_type, compressible) = content_type(url);
        // A compressed copy only helps when it is smaller.
        let gzip = (compressible && identity.len() > 1024)
            .then(|| gzip_bytes(&identity))
            .flatten()
            .filter(|g| g.len() < identity.len());
        let brotli = brotli.filter(|b| b.len() < identity.len());
        let digest = Sha256::digest(&identity);
        let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12])))
            .expect("hex digits are a valid header value");
        Self {
            content_type,
            cache_control: if immutable { IMMUTABLE } else { REVALIDATE },
            etag,
            compressible,
            identity,
            gzip,
            brotli,
        }
    }

    fn response(&self, head_only: bool, request: &HeaderMap) -> Response<Body> {
        // Header values from static strings: no copy, no check per request.
        let mut response = Response::builder()
            .header(
                header::CACHE_CONTROL,
                HeaderValue::from_static(self.cache_control),
            )
            .header(header::ETAG, self.etag.clone())
            .header(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
        if self.compressible {
            response = response.header(header::VARY, HeaderValue::from_static("accept-encoding"));
        }

        let not_modified = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| {
                tags.split(',')
                    .any(|tag| tag.trim() == self.etag || tag.trim() == "*")
            });
        if not_modified {
            return response
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .unwrap_or_default();
        }

        let accepts = |coding: &str| accepts_encoding(request, coding);
        let (body, encoding) = match (&self.brotli, &self.gzip) {
            (Some(br), _) if accepts("br") => (br, Some("br")),
            (_, Some(gz)) if accepts("gzip") => (gz, Some("gzip")),
            _ => (&self.identity, None),
        };
        if let Some(encoding) = encoding {
            response =
                response.header(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
            .status(StatusCode::OK)
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            )
            .header(header::CONTENT_LENGTH, body.len())
            .body(if head_only {
                Body::empty()
            } else {
                Body::from(body.clone())
            })
            .unwrap_or_default()
    }
}

/// Whether `Accept-Encoding` allows `coding` (present, and not `q=0`).
fn accepts_encoding(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case(coding) && !refused
        })
}

/// The MIME type, and whether compressing the file is worthwhile.
fn content_type(url: &str) -> (&'static str, bool) {
    let name = url.rsplit('/').next().unwrap_or_default();
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match extension {
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "wasm" => ("application/wasm", true),
        "css" => ("text/css; charset=utf-8", true),
        "html" => ("text/html; charset=utf-8", true),
        "json" | "map" => ("application/json", true),
        "svg" => ("image/svg+xml", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "ico" => ("image/x-icon", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "webp" => ("image/webp", false),
        "woff2" => ("font/woff2", false),
        _ => ("application/octet-stream", false),
    }
}

fn gzip_bytes(data: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

fn walk(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(walk(&path)?);
        } else {
            found.push(path);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> (tempfile::TempDir, StaticFiles) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        let js = "console.log('hello');\n".repeat(200);
        std::fs::write(dir.path().join("pkg/site.abc123.js"), &js).unwrap();
        std::fs::write(dir.path().join("pkg/site.abc123.js.br"), b"brotli-bytes").unwrap();
        std::fs::write(dir.path().join("favicon.svg"), "<svg/>").unwrap();
        let files = StaticFiles::load(dir.path(), "pkg", true).unwrap();
        (dir, files)
    }

    fn get(files: &StaticFiles, path: &str, headers: &[(&str, &str)]) -> Option<Response<Body>> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        files.response(&Method::GET, path, &map)
    }

    #[test]
    fn compressed_siblings_are_attached_not_served_alone() {
        let (_dir, files) = site();
        assert_eq!(files.len(), 2);
        assert!(get(&files, "/pkg/site.abc123.js.br", &[]).is_none());
    }

    #[test]
    fn brotli_is_preferred_then_gzip_then_identity() {
        let (_dir, files) = site();
        let br = get(
            &files,
            "/pkg/site.abc123.js",
            &[("accept-encoding", "gzip, deflate, br")],
        )
        .unwrap();
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        let gz = get(
            &files,
            "/pkg/site.abc123.js",
            &[("accept-encoding", "gzip, br;q=0")],
        )
        .unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let plain = get(&files, "/pkg/site.abc123.js", &[]).unwrap();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(
            plain.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(plain.headers()[header::VARY], "accept-encoding");
    }

    #[test]
    fn fingerprinted_files_are_cached_for_a_year_others_revalidate() {
        let (_dir, files) = site();
        let js = get(&files, "/pkg/site.abc123.js", &[]).unwrap();
        assert_eq!(js.headers()[header::CACHE_CONTROL], IMMUTABLE);
        let icon = get(&files, "/favicon.svg", &[]).unwrap();
        assert_eq!(icon.headers()[header::CACHE_CONTROL], REVALIDATE);
    }

    #[test]
    fn a_matching_etag_gets_304() {
        let (_dir, files) = site();
        let first = get(&files, "/favicon.svg", &[]).unwrap();
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = get(&files, "/favicon.svg", &[("if-none-match", &etag)]).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn unknown_paths_and_other_methods_fall_through() {
        let (_dir, files) = site();
        assert!(get(&files, "/nope.js", &[]).is_none());
        assert!(files
            .response(&Method::POST, "/favicon.svg", &HeaderMap::new())
            .is_none());
    }

    #[test]
    fn files_from_memory_are_served_like_files_from_disk() {
        let js = "console.log('hello');\n".repeat(200);
        let files = StaticFiles::from_files(
            [
                ("/pkg/site.abc.js".to_owned(), Bytes::from(js.clone())),
                ("/pkg/site.abc.js.br".to_owned(), Bytes::from_static(b"br")),
                ("/pkg/site.abc.js.gz".to_owned(), Bytes::from_static(b"gz")),
            ],
            "pkg",
            true,
        );
        assert_eq!(files.len(), 1);
        assert_eq!(files.contents("/pkg/site.abc.js").unwrap(), &js);
        let br = get(&files, "/pkg/site.abc.js", &[("accept-encoding", "br")]).unwrap();
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(br.headers()[header::CACHE_CONTROL], IMMUTABLE);
        // The build's gzip is not used: a smaller one is made.
        let gz = get(&files, "/pkg/site.abc.js", &[("accept-encoding", "gzip")]).unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        assert_ne!(gz.headers()[header::CONTENT_LENGTH], "2");
    }

    /// A site folder as `cargo leptos build --split` leaves it, and its
    /// hash file (given by absolute path: Leptos joins it to the binary's
    /// folder, and an absolute path replaces that).
    fn built_site(dir: &Path) -> LeptosOptions {
        let pkg = dir.join("site/pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        for name in [
            "site.JS.js",
            "site.WASM.wasm",
            "site.CSS.css",
            "__wasm_split.SPLIT.js",
        ] {
            std::fs::write(pkg.join(name), name).unwrap();
        }
        std::fs::write(
            pkg.join("__wasm_split_manifest.MANIFEST.json"),
            r#"{"phone": ["chunk_1.CHUNK"]}"#,
        )
        .unwrap();
        let hash_file = dir.join("hash.txt");
        std::fs::write(
            &hash_file,
            "js: JS\nwasm: WASM\ncss: CSS\nmanifest: MANIFEST\nsplit: SPLIT\n",
        )
        .unwrap();
        let mut options = LeptosOptions::builder()
            .output_name("site")
            .site_root(dir.join("site").display().to_string())
            .build();
        options.hash_files = true;
        options.hash_file = hash_file.display().to_string().into();
        options
    }

    #[test]
    fn a_built_site_on_disk_is_named_by_its_hash_file() {
        let dir = tempfile::tempdir().unwrap();
        let options = built_site(dir.path());
        let site = Site::load(&options).unwrap();
        assert_eq!(site.assets.js, "site.JS");
        assert_eq!(site.assets.css_href(), "/pkg/site.CSS.css");
        assert_eq!(
            site.assets.split.as_ref().unwrap().preloads["phone"],
            vec!["chunk_1.CHUNK".to_owned()]
        );
        assert!(site.missing_links().is_empty());
        let css = get(&site.files, "/pkg/site.CSS.css", &[]).unwrap();
        assert_eq!(css.headers()[header::CACHE_CONTROL], IMMUTABLE);
    }

    #[test]
    fn without_a_hash_file_names_are_plain_and_revalidated() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = built_site(dir.path());
        std::fs::remove_file(dir.path().join("hash.txt")).unwrap();
        let site = Site::load(&options).unwrap();
        assert!(!site.assets.fingerprinted);
        // `cargo leptos watch` makes no fingerprints: never cache for a year.
        let js = get(&site.files, "/pkg/site.JS.js", &[]).unwrap();
        assert_eq!(js.headers()[header::CACHE_CONTROL], REVALIDATE);
        // And the page's links that are not there are reported.
        assert_eq!(site.missing_links().len(), 3);

        options.hash_files = false;
        assert_eq!(Site::load(&options).unwrap().assets.js, "site");
    }

    #[test]
    fn a_broken_hash_file_or_manifest_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let options = built_site(dir.path());
        std::fs::write(dir.path().join("hash.txt"), "js: JS\n").unwrap();
        assert!(matches!(
            Site::load(&options),
            Err(SiteError::Assets { .. })
        ));
        let options = built_site(dir.path());
        std::fs::write(
            dir.path()
                .join("site/pkg/__wasm_split_manifest.MANIFEST.json"),
            "{ broken",
        )
        .unwrap();
        assert!(matches!(
            Site::load(&options),
            Err(SiteError::Assets { .. })
        ));
    }

    #[test]
    fn a_missing_site_root_is_empty_not_an_error() {
        let files = StaticFiles::load(Path::new("/definitely/not/here"), "pkg", true).unwrap();
        assert!(files.is_empty());
    }
}
