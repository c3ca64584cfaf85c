//! The defaults file: `$XDG_CONFIG_HOME/synack/config.toml` (else
//! `~/.config/synack/config.toml`), with the settings a teacher sets once
//! for a classroom (language, theme, pace, rows kept). A flag on the command
//! line always wins over the file.
//!
//! ```toml
//! lang = "zh"          # en | zh
//! theme = "contrast"   # dark | light | contrast
//! pace = 1.5           # seconds between a demo's steps on screen
//! max_rows = 50000     # rows the screen keeps
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::i18n::{Lang, Theme};

/// What the defaults file sets; `None` where it says nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Defaults {
    pub lang: Option<Lang>,
    pub theme: Option<Theme>,
    pub pace: Option<f64>,
    pub max_rows: Option<u64>,
}

/// The file as written: unknown keys are refused (a misspelt key would
/// otherwise be ignored without a word).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    lang: Option<String>,
    theme: Option<String>,
    pace: Option<f64>,
    max_rows: Option<u64>,
}

/// What is wrong with a defaults file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the defaults file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the defaults file {path} is not valid: {why}. It takes lang = \"en\"|\"zh\", theme = \"dark\"|\"light\"|\"contrast\", pace = SECONDS, max_rows = N; fix or remove it"
    )]
    Invalid { path: String, why: String },
}

/// Where the defaults file is looked for: `$XDG_CONFIG_HOME/synack/config.toml`,
/// else `$HOME/.config/synack/config.toml`; `None` without either.
#[must_use]
pub fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("synack").join("config.toml"))
}

/// Reads the defaults file at `path`: `Ok(None)` when there is none, or
/// when a directory on its way is closed to this user (another user's home:
/// `HOME` kept across `setpriv` or `sudo -E`), so none of its own.
///
/// # Errors
/// It exists but cannot be read, or says something synack does not take.
pub fn load(path: &Path) -> Result<Option<Defaults>, ConfigError> {
    use std::io::ErrorKind;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e)
            if e.kind() == ErrorKind::PermissionDenied
                && std::fs::metadata(path)
                    .is_err_and(|m| m.kind() == ErrorKind::PermissionDenied) =>
        {
            return Ok(None);
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    parse(&text).map(Some).map_err(|why| ConfigError::Invalid {
        path: path.display().to_string(),
        why,
    })
}

/// Parses a defaults file's text.
///
/// # Errors
/// What is wrong, in a sentence (TOML's own message names the line).
pub fn parse(text: &str) -> Result<Defaults, String> {
    let f: File = toml::from_str(text).map_err(|e| e.message().to_owned() + &line_of(text, &e))?;
    let lang = match f.lang.as_deref() {
        None => None,
        Some("en") => Some(Lang::En),
        Some("zh") => Some(Lang::Zh),
        Some(other) => return Err(format!("lang = \"{other}\" (it takes \"en\" or \"zh\")")),
    };
    let theme = match f.theme.as_deref() {
        None => None,
        Some("dark") => Some(Theme::Dark),
        Some("light") => Some(Theme::Light),
        Some("contrast") => Some(Theme::Contrast),
        Some(other) => {
            return Err(format!(
                "theme = \"{other}\" (it takes \"dark\", \"light\" or \"contrast\")"
            ));
        }
    };
    if let Some(p) = f.pace {
        if !p.is_finite() || !(0.0..=3600.0).contains(&p) {
            return Err(format!("pace = {p} (seconds, from 0 to 3600)"));
        }
    }
    if f.max_rows == Some(0) {
        return Err("max_rows = 0 (the screen keeps at least one row)".to_owned());
    }
    Ok(Defaults {
        lang,
        theme,
        pace: f.pace,
        max_rows: f.max_rows,
    })
}

/// " (line N)" for a TOML error that has a place.
fn line_of(text: &str, e: &toml::de::Error) -> String {
    e.span().map_or_else(String::new, |s| {
        let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
        format!(" (line {line})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_read() {
        let d = parse("lang = \"zh\"\ntheme = \"contrast\"\npace = 1.5\nmax_rows = 500\n").unwrap();
        assert_eq!(
            d,
            Defaults {
                lang: Some(Lang::Zh),
                theme: Some(Theme::Contrast),
                pace: Some(1.5),
                max_rows: Some(500),
            }
        );
        assert_eq!(parse("").unwrap(), Defaults::default());
    }

    #[test]
    fn what_is_wrong_is_said_with_its_line() {
        let e = parse("lang = \"en\"\nlanguage = \"zh\"\n").unwrap_err();
        assert!(e.contains("language") && e.contains("line 2"), "{e}");
        let e = parse("theme = \"blue\"").unwrap_err();
        assert!(e.contains("blue") && e.contains("contrast"), "{e}");
        let e = parse("lang = \"fr\"").unwrap_err();
        assert!(e.contains("\"en\" or \"zh\""), "{e}");
        let e = parse("pace = -1").unwrap_err();
        assert!(e.contains("pace"), "{e}");
        let e = parse("max_rows = 0").unwrap_err();
        assert!(e.contains("max_rows"), "{e}");
        let e = parse("pace = \"fast\"").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn a_missing_file_is_no_defaults_and_a_bad_one_names_itself() {
        let dir = std::env::temp_dir().join(format!("synack-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.toml");
        assert!(load(&file).unwrap().is_none());
        std::fs::write(&file, "theme = 3\n").unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains(&file.display().to_string()), "{e}");
        std::fs::write(&file, "theme = \"light\"\n").unwrap();
        assert_eq!(load(&file).unwrap().unwrap().theme, Some(Theme::Light));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
