//! Puts files inside the server binary (read by `src/embedded.rs`):
//!
//! - always, the default theme (`theme/`), which `server init-theme DIR`
//!   writes out for the site's owner to edit;
//! - with the `embed-site` feature, the site cargo-leptos built (`target/site`:
//!   the fingerprinted script, wasm and stylesheet with their `.br` copies,
//!   and `public/`) and its `hash.txt`, so the release binary needs no folder
//!   beside it. `scripts/test.sh` and `scripts/package.sh` build with
//!   `cargo leptos build --release --precompress --split --bin-features embed-site`:
//!   with `hash-files` on, cargo-leptos 0.3.10 finishes the whole site
//!   (wasm, hashes, `--precompress`) before it starts building the server,
//!   so these are the files of the same build.
//!
//! rust-embed and include_dir were not used: both need this file anyway to
//! tell cargo to rebuild when a file is added (the fingerprinted names change
//! with every front-end build), and neither reaches `hash.txt`, which
//! cargo-leptos writes beside the binary, outside the site folder.

use std::{
    env,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .expect("the server crate sits in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=build.rs");
    // `sqlx::migrate!` reads the migration folders at compile time; a new
    // file there must rebuild the binary that carries them.
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("migrations").display()
    );

    let mut code = String::new();

    let theme = workspace.join("theme");
    println!("cargo:rerun-if-changed={}", theme.display());
    code.push_str("/// The default theme: (path inside the theme folder, contents).\n");
    table(&mut code, "THEME", &theme, "", |_| true);

    if env::var_os("CARGO_FEATURE_EMBED_SITE").is_some() {
        // cargo-leptos passes its `site-root` (relative to the workspace).
        println!("cargo:rerun-if-env-changed=LEPTOS_SITE_ROOT");
        println!("cargo:rerun-if-env-changed=LEPTOS_HASH_FILES");
        println!("cargo:rerun-if-env-changed=LEPTOS_HASH_FILE_NAME");
        let site = workspace.join(env::var("LEPTOS_SITE_ROOT").unwrap_or("target/site".into()));
        let built = fs::read_dir(&site).is_ok_and(|mut entries| entries.next().is_some());
        if !built {
            panic!(
                "the `embed-site` feature embeds the site cargo-leptos built, and {} is empty or missing: \
                 build with `cargo leptos build --release --precompress --split --bin-features embed-site`",
                site.display()
            );
        }
        println!("cargo:rerun-if-changed={}", site.display());
        code.push_str("/// The site's static files: (URL path, contents).\n");
        // Not kept: the build's `.gz` (static_files.rs makes smaller ones)
        // and wasm-bindgen's TypeScript declarations (`.d.ts`), which no
        // browser asks for.
        table(&mut code, "SITE", &site, "/", |name| {
            !name.ends_with(".gz") && !name.ends_with(".ts") && !name.ends_with(".ts.br")
        });

        // cargo-leptos writes the hash file beside the binary: the profile's
        // folder, three levels above this build script's OUT_DIR.
        let hashed = env::var("LEPTOS_HASH_FILES").map_or(true, |v| v == "true");
        let profile_dir = out_dir
            .ancestors()
            .nth(3)
            .expect("OUT_DIR is target/<profile>/build/<crate>/out");
        let hash_file =
            profile_dir.join(env::var("LEPTOS_HASH_FILE_NAME").unwrap_or("hash.txt".into()));
        if hashed {
            if !hash_file.is_file() {
                panic!(
                    "the `embed-site` feature needs cargo-leptos's hash file, and {} is missing: \
                     build with `cargo leptos build --release --precompress --split --bin-features embed-site`",
                    hash_file.display()
                );
            }
            println!("cargo:rerun-if-changed={}", hash_file.display());
            writeln!(
                code,
                "/// cargo-leptos's `hash.txt` of the embedded site.\npub const SITE_HASHES: Option<&str> = Some(include_str!({:?}));",
                path_str(&hash_file)
            )
            .unwrap();
        } else {
            code.push_str("pub const SITE_HASHES: Option<&str> = None;\n");
        }
        code.push_str("pub const SITE_EMBEDDED: bool = true;\n");
    } else {
        code.push_str(
            "pub const SITE: &[(&str, &[u8])] = &[];\npub const SITE_HASHES: Option<&str> = None;\npub const SITE_EMBEDDED: bool = false;\n",
        );
    }

    fs::write(out_dir.join("embedded.rs"), code).expect("OUT_DIR is writable");
}

/// `pub const NAME: &[(&str, &[u8])]` with every file under `root` that
/// `keep` accepts, named `prefix` + its path relative to `root`.
fn table(code: &mut String, name: &str, root: &Path, prefix: &str, keep: impl Fn(&str) -> bool) {
    let mut files = Vec::new();
    walk(root, &mut files);
    files.sort();
    writeln!(code, "pub const {name}: &[(&str, &[u8])] = &[").unwrap();
    for file in files {
        let relative = file
            .strip_prefix(root)
            .expect("walked from root")
            .components()
            .map(|c| c.as_os_str().to_str().expect("file names are UTF-8"))
            .collect::<Vec<_>>()
            .join("/");
        if keep(&relative) {
            writeln!(
                code,
                "    ({:?}, include_bytes!({:?})),",
                format!("{prefix}{relative}"),
                path_str(&file)
            )
            .unwrap();
        }
    }
    code.push_str("];\n");
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a readable folder").path();
        if path.is_dir() {
            walk(&path, found);
        } else {
            found.push(path);
        }
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("paths are UTF-8")
}
