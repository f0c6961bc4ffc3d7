//! Files carried inside the binary (see `build.rs`): the default theme,
//! always; the site's static files and their hash file, in a release built
//! with the `embed-site` feature. Migrations are inside as well, by
//! `sqlx::migrate!` (`db.rs`).

use std::{io, path::Path};

// `THEME`, `SITE`, `SITE_HASHES`, `SITE_EMBEDDED`, written by build.rs.
include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

#[derive(Debug, thiserror::Error)]
pub enum InitThemeError {
    #[error("{0} 里已经有文件：主题只写进新的或空的目录，不会覆盖你改过的文件")]
    NotEmpty(String),
    #[error("无法写入 {path}：{source}")]
    Write { path: String, source: io::Error },
}

/// Writes the default theme into `dir` (created if missing), which must be
/// empty. Returns how many files were written.
pub fn write_default_theme(dir: &Path) -> Result<usize, InitThemeError> {
    let write_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| InitThemeError::Write { path, source }
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(InitThemeError::NotEmpty(dir.display().to_string()));
            }
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(write_error(dir)(err)),
    }
    for (name, contents) in THEME {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_error(parent))?;
        }
        std::fs::write(&path, contents).map_err(write_error(&path))?;
    }
    Ok(THEME.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_theme_is_the_repository_theme() {
        let repo_theme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../theme");
        assert!(THEME.iter().any(|(name, _)| *name == "pages/index.json"));
        for (name, contents) in THEME {
            let on_disk = std::fs::read(repo_theme.join(name)).unwrap();
            assert_eq!(&on_disk, contents, "{name}");
        }
    }

    #[test]
    fn writes_a_theme_that_loads() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("my-theme");
        let written = write_default_theme(&target).unwrap();
        assert_eq!(written, THEME.len());
        let theme = app::theme::load::load(&target).unwrap();
        assert!(theme.page("index").is_some());
    }

    #[test]
    fn never_writes_over_a_folder_with_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("settings.json"), "{\"mine\": true}").unwrap();
        let err = write_default_theme(dir.path()).unwrap_err();
        assert!(matches!(err, InitThemeError::NotEmpty(_)), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("settings.json")).unwrap(),
            "{\"mine\": true}"
        );
    }
}
