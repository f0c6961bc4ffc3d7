//! What every module's settings have in common.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// A module's typed settings. Fields default (`#[serde(default)]`) so a page
/// file names only what it changes, and unknown fields are refused
/// (`#[serde(deny_unknown_fields)]`) so a typo stops the server instead of
/// being ignored.
pub trait Settings: Default + Serialize + DeserializeOwned {
    /// Rules the types cannot express (non-empty text, ranges, link targets).
    fn check(&self) -> Result<(), Invalid> {
        Ok(())
    }
}

/// A setting that parses but breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Path below `settings`, e.g. `items[2].title`.
    pub path: String,
    pub reason: String,
}

impl Invalid {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Prefixes the path with the field or index that contains it.
    pub fn within(mut self, parent: &str) -> Self {
        self.path = if self.path.starts_with('[') {
            format!("{parent}{}", self.path)
        } else {
            format!("{parent}.{}", self.path)
        };
        self
    }
}

/// Fails with "must not be empty" when `value` is blank.
pub fn require_text(path: &str, value: &str) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::new(path, "must not be empty"));
    }
    Ok(())
}

/// Checks every item of a list, naming the failing index.
pub fn check_each<T>(
    path: &str,
    items: &[T],
    check: impl Fn(&T) -> Result<(), Invalid>,
) -> Result<(), Invalid> {
    for (index, item) in items.iter().enumerate() {
        check(item).map_err(|e| e.within(&format!("{path}[{index}]")))?;
    }
    Ok(())
}

/// A link shown by a module (navigation, buttons, footer links).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Link {
    pub label: String,
    pub href: String,
}

impl Link {
    pub fn check(&self) -> Result<(), Invalid> {
        require_text("label", &self.label)?;
        let href = self.href.as_str();
        let allowed = ["/", "#", "https://", "http://", "mailto:"];
        if href.starts_with("//") || !allowed.iter().any(|p| href.starts_with(p)) {
            return Err(Invalid::new(
                "href",
                format!(
                    "\"{href}\" is not a link this site accepts: use a path (\"/about\"), \
                     an anchor (\"#login\"), an http(s) URL or mailto:"
                ),
            ));
        }
        Ok(())
    }

    /// Links to other sites open in a new tab.
    pub fn is_external(&self) -> bool {
        self.href.starts_with("http://") || self.href.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_accepts_paths_anchors_and_urls() {
        for href in [
            "/",
            "/about",
            "#login",
            "https://example.com",
            "mailto:a@example.com",
        ] {
            let link = Link {
                label: "x".into(),
                href: href.into(),
            };
            assert_eq!(link.check(), Ok(()), "{href}");
        }
    }

    #[test]
    fn link_refuses_scripts_and_protocol_relative_urls() {
        for href in ["javascript:alert(1)", "//evil.example", "about", ""] {
            let link = Link {
                label: "x".into(),
                href: href.into(),
            };
            let err = link.check().unwrap_err();
            assert_eq!(err.path, "href", "{href}");
        }
    }

    #[test]
    fn link_needs_a_label() {
        let link = Link {
            label: "  ".into(),
            href: "/".into(),
        };
        assert_eq!(link.check().unwrap_err().path, "label");
    }

    #[test]
    fn check_each_names_the_failing_index() {
        let links = vec![
            Link {
                label: "ok".into(),
                href: "/".into(),
            },
            Link {
                label: "bad".into(),
                href: "ftp://x".into(),
            },
        ];
        let err = check_each("links", &links, Link::check).unwrap_err();
        assert_eq!(err.path, "links[1].href");
    }
}
