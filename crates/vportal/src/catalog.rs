//! The prompt catalogue (`prompts/catalog.toml`), embedded at build time: the text of every prompt per language.

use std::collections::HashMap;

use portal_core::PromptId;
use serde::Deserialize;

/// The catalogue's source, as committed in `prompts/catalog.toml`.
pub const CATALOG_TOML: &str = include_str!("../../../prompts/catalog.toml");

/// The language every prompt has; others fall back to it prompt by prompt.
pub const FALLBACK_LANGUAGE: &str = "en";

/// Prompt texts by id and language.
#[derive(Debug)]
pub struct Catalog {
    texts: HashMap<PromptId, HashMap<String, String>>,
}

#[derive(Deserialize)]
struct CatalogFile {
    prompts: HashMap<String, HashMap<String, String>>,
}

/// What is wrong with a catalogue.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Not valid TOML of the catalogue's shape.
    #[error("prompt catalogue: {0}")]
    Syntax(#[from] toml::de::Error),
    /// A prompt the conversation uses has no text in the fallback language.
    #[error("prompt catalogue: no English text for `{0}`")]
    Missing(PromptId),
}

impl Catalog {
    /// The embedded catalogue.
    pub fn embedded() -> Catalog {
        Catalog::parse(CATALOG_TOML)
            .expect("the committed catalogue is complete (checked by tests)")
    }

    /// Parses a catalogue and checks every prompt has fallback text. Ids no prompt uses are ignored.
    pub fn parse(source: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = toml::from_str(source)?;
        let mut texts = HashMap::new();
        for (id, by_language) in file.prompts {
            if let Some(prompt) = PromptId::from_id(&id) {
                texts.insert(prompt, by_language);
            }
        }
        for prompt in PromptId::ALL {
            if !texts
                .get(prompt)
                .is_some_and(|by_language| by_language.contains_key(FALLBACK_LANGUAGE))
            {
                return Err(CatalogError::Missing(*prompt));
            }
        }
        Ok(Catalog { texts })
    }

    /// The text of `prompt` in `language`, or in English when that language lacks it.
    pub fn text(&self, prompt: PromptId, language: &str) -> &str {
        let by_language = &self.texts[&prompt];
        by_language
            .get(language)
            .or_else(|| by_language.get(FALLBACK_LANGUAGE))
            .map(String::as_str)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogue_has_every_prompt_and_falls_back_to_english() {
        let catalog = Catalog::embedded();
        assert!(
            catalog
                .text(PromptId::Welcome, "en")
                .starts_with("Welcome to your voice portal.")
        );
        assert_eq!(
            catalog.text(PromptId::Goodbye, "xx"),
            catalog.text(PromptId::Goodbye, "en")
        );
    }

    #[test]
    fn a_catalogue_missing_a_prompt_is_refused() {
        let error = Catalog::parse("[prompts.welcome]\nen = \"hi\"\n").unwrap_err();
        assert!(matches!(error, CatalogError::Missing(_)), "{error}");
        assert!(Catalog::parse("not toml [").is_err());
    }
}
