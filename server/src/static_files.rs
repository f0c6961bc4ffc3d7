//! Static files (`/pkg/*`, favicon, …) served from memory.
//!
//! The site's static files are few and small, so they are read once at
//! start-up, compressed once, and served from memory: a request is a map
//! lookup, with no file system, no per-request compression, an ETag, and a
//! year of caching for fingerprinted files.
//!
//! Brotli comes precompressed from the build (cargo-leptos `--precompress`
//! writes `.br`). Gzip is made here at the best level: the build's `.gz`
//! (libflate) is about 15% larger, and gzip is what browsers ask for over
//! plain http.

use std::{collections::HashMap, io, io::Write, path::Path};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode},
    middleware::Next,
};
use bytes::Bytes;
use sha2::{Digest, Sha256};

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

impl StaticFiles {
    /// Reads every file under `root`. Files under `/{pkg_dir}/` are cached for
    /// a year when `fingerprinted` (cargo-leptos `hash-files`).
    pub fn load(root: &Path, pkg_dir: &str, fingerprinted: bool) -> io::Result<Self> {
        let mut files = HashMap::new();
        if root.is_dir() {
            let pkg_prefix = format!("/{}/", pkg_dir.trim_matches('/'));
            for path in walk(root)? {
                let name = path.to_string_lossy();
                if name.ends_with(".gz") || name.ends_with(".br") {
                    continue;
                }
                let Ok(relative) = path.strip_prefix(root) else {
                    continue;
                };
                let url = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
                let immutable = fingerprinted && url.starts_with(&pkg_prefix);
                files.insert(url, Asset::read(&path, immutable)?);
            }
        }
        Ok(Self { files })
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
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
    fn read(path: &Path, immutable: bool) -> io::Result<Self> {
        let identity = Bytes::from(std::fs::read(path)?);
        let sibling = |ext: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(ext);
            std::fs::read(name).ok().map(Bytes::from)
        };
        let (content_type, compressible) = content_type(path);
        let gzip = if compressible && identity.len() > 1024 {
            Some(gzip_bytes(&identity)?)
        } else {
            None
        };
        // A compressed copy only helps when it is smaller.
        let gzip = gzip.filter(|g| g.len() < identity.len());
        let brotli = sibling(".br").filter(|b| b.len() < identity.len());
        let digest = Sha256::digest(&identity);
        let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12])))
            .map_err(io::Error::other)?;
        Ok(Self {
            content_type,
            cache_control: if immutable { IMMUTABLE } else { REVALIDATE },
            etag,
            compressible,
            identity,
            gzip,
            brotli,
        })
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
fn content_type(path: &Path) -> (&'static str, bool) {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
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

fn gzip_bytes(data: &[u8]) -> io::Result<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data)?;
    Ok(Bytes::from(encoder.finish()?))
}

fn walk(dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
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
    fn a_missing_site_root_is_empty_not_an_error() {
        let files = StaticFiles::load(Path::new("/definitely/not/here"), "pkg", true).unwrap();
        assert!(files.is_empty());
    }
}
