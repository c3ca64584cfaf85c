//! Languages of the interface. A leaf: the labels are data in
//! `assets/i18n/`, compiled in.

use serde::{Deserialize, Serialize};

/// A language synack speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// The language the environment asks for: `LC_ALL`, then `LC_MESSAGES`,
    /// then `LANG` (the first that is set and not empty); Chinese for `zh*`,
    /// English otherwise.
    #[must_use]
    pub fn from_env() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let locale = get("LC_ALL")
            .or_else(|| get("LC_MESSAGES"))
            .or_else(|| get("LANG"));
        Self::from_locale(locale.as_deref().unwrap_or(""))
    }

    /// `zh_CN.UTF-8`, `zh_TW`, `zh` → Chinese; anything else → English.
    #[must_use]
    pub fn from_locale(locale: &str) -> Self {
        if locale.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The other language (the `l` key).
    #[must_use]
    pub fn toggled(self) -> Self {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_names_choose_the_language() {
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::from_locale("ZH_tw"), Lang::Zh);
        assert_eq!(Lang::from_locale("en_US.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale("C"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
    }
}
