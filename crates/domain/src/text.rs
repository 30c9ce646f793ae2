//! Text a beneficiary sees comes in Arabic and English.

use serde::{Deserialize, Serialize};

/// A message in both of the beneficiary's languages (empty by default).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bilingual {
    pub ar: String,
    pub en: String,
}

impl Bilingual {
    pub fn new(ar: impl Into<String>, en: impl Into<String>) -> Self {
        Self { ar: ar.into(), en: en.into() }
    }

    pub fn in_language(&self, language: Language) -> &str {
        match language {
            Language::Arabic => &self.ar,
            Language::English => &self.en,
        }
    }
}

/// The beneficiary's preferred language; Arabic unless they chose English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Arabic,
    English,
}

impl Language {
    /// Reads "ar"/"en" (and longer tags such as "en-US"); anything else is Arabic.
    pub fn from_tag(tag: &str) -> Self {
        if tag.trim().to_ascii_lowercase().starts_with("en") { Self::English } else { Self::Arabic }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Self::Arabic => "ar",
            Self::English => "en",
        }
    }
}

/// A problem with one input field, explained in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: Bilingual,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: Bilingual) -> Self {
        Self { field: field.into(), message }
    }

    pub fn required(field: &str) -> Self {
        Self::new(field, Bilingual::new("هذا الحقل مطلوب", "This field is required"))
    }
}
