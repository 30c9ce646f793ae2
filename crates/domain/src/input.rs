//! Text people type, bounded and cleaned before anything keeps it. Every
//! free-text field has a rule: how long it may be, and what it may hold.
//! Text is put in Unicode NFC; invisible characters that only hide what a
//! text is (zero-width spaces, the byte-order mark, soft hyphens, direction
//! marks) are dropped; control characters (NUL, terminal escapes) and the
//! bidi controls that reorder what a reader sees (the right-to-left
//! override) are refused; a name must hold letters.

use crate::{Bilingual, FieldError};
use unicode_normalization::UnicodeNormalization;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// A person's name: letters, marks, spaces, hyphens, apostrophes, dots.
    Name,
    /// One line: white space collapsed.
    Line,
    /// Free text: line breaks kept.
    Paragraph,
}

/// Types a supporting document may be (content type, name), as its content
/// says, not its name: what uploads accept and downloads are served as.
pub const DOCUMENT_TYPES: &[(&str, &str)] =
    &[("application/pdf", "PDF"), ("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WebP")];

/// The bound and the kind of a free-text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub kind: TextKind,
    /// In characters, after cleaning.
    pub max_chars: usize,
}

impl TextRule {
    pub const PERSON_NAME: TextRule = TextRule { kind: TextKind::Name, max_chars: 100 };
    /// A code, a username, a short reason.
    pub const LINE: TextRule = TextRule { kind: TextKind::Line, max_chars: 200 };
    /// A staff note, a researcher's findings, a question or its answer.
    pub const NOTE: TextRule = TextRule { kind: TextKind::Paragraph, max_chars: 2000 };
    /// The applicant's description of their need.
    pub const DESCRIPTION: TextRule = TextRule { kind: TextKind::Paragraph, max_chars: 4000 };
    /// An answer to one of the policy's questions.
    pub const FACT: TextRule = TextRule { kind: TextKind::Paragraph, max_chars: 1000 };
}

/// Dropped wherever they appear: they change nothing a reader sees but what the text is.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{200E}' | '\u{200F}' | '\u{180E}')
}

/// Embeddings, overrides and isolates (and the Arabic letter mark): they reorder a line.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}')
}

/// Harakat, tanween, shadda, sukun, the dagger alef and Quranic marks.
pub(crate) fn is_arabic_mark(c: char) -> bool {
    matches!(c, '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}')
}

const TATWEEL: char = '\u{0640}';

fn problem(field: &str, ar: impl Into<String>, en: impl Into<String>) -> FieldError {
    FieldError::new(field, Bilingual::new(ar, en))
}

/// `raw` cleaned by `rule`, or why `field` is refused. Empty stays empty:
/// whether a field is required is the caller's to say.
pub fn clean_text(field: &str, raw: &str, rule: TextRule) -> Result<String, FieldError> {
    let too_long = || {
        problem(
            field,
            format!("النص أطول من المسموح: {} حرفاً على الأكثر", rule.max_chars),
            format!("Too long: at most {} characters", rule.max_chars),
        )
    };
    // Refused before any work on it: a text far beyond the bound.
    if raw.len() > rule.max_chars * 8 {
        return Err(too_long());
    }
    let mut kept = String::with_capacity(raw.len());
    for c in raw.replace("\r\n", "\n").nfc() {
        match c {
            _ if is_invisible(c) => {}
            _ if is_bidi_control(c) => {
                return Err(problem(
                    field,
                    "يحتوي النص على رموز تغيّر اتجاهه، وهي غير مسموحة",
                    "Contains text-direction control characters, which are not allowed",
                ));
            }
            '\n' | '\r' if rule.kind == TextKind::Paragraph => kept.push('\n'),
            '\t' | '\n' | '\r' => kept.push(' '),
            _ if c.is_control() => {
                return Err(problem(
                    field,
                    "يحتوي النص على رموز تحكم غير مسموحة",
                    "Contains control characters, which are not allowed",
                ));
            }
            _ => kept.push(c),
        }
    }
    let cleaned = match rule.kind {
        TextKind::Paragraph => kept.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_owned(),
        TextKind::Line | TextKind::Name => kept.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    if cleaned.chars().count() > rule.max_chars {
        return Err(too_long());
    }
    if rule.kind == TextKind::Name && !cleaned.is_empty() {
        let allowed = |c: char| c.is_alphabetic() || is_arabic_mark(c) || matches!(c, ' ' | '-' | '\'' | '’' | '.');
        if !cleaned.chars().all(allowed) {
            return Err(problem(
                field,
                "الاسم يحتوي على رموز غير مسموحة: الحروف والمسافات والشرطة فقط",
                "A name may hold only letters, spaces, hyphens and apostrophes",
            ));
        }
        if !cleaned.chars().any(|c| c.is_alphabetic() && c != TATWEEL && !is_arabic_mark(c)) {
            return Err(problem(field, "الاسم يجب أن يحتوي على حروف", "A name must contain letters"));
        }
    }
    Ok(cleaned)
}

/// `raw` cleaned by `rule`, gathering problems instead of stopping at the
/// first: one that is refused, or required and empty, goes on `problems` at
/// `field` (and comes back empty), so a form reports every field at once.
pub fn read_field(field: &str, raw: &str, rule: TextRule, required: bool, problems: &mut Vec<FieldError>) -> String {
    let cleaned = clean_text(field, raw, rule).map_err(|problem| problems.push(problem)).unwrap_or_default();
    if required && cleaned.is_empty() && !problems.iter().any(|p| p.field == field) {
        problems.push(FieldError::required(field));
    }
    cleaned
}

/// Cleans each of `texts` (reasons, items), dropping the empty ones.
pub fn clean_texts(field: &str, texts: &[String], rule: TextRule, most: usize) -> Result<Vec<String>, FieldError> {
    if texts.len() > most {
        return Err(problem(field, format!("{most} عناصر على الأكثر"), format!("At most {most} items")));
    }
    let mut cleaned = Vec::with_capacity(texts.len());
    for text in texts {
        let text = clean_text(field, text, rule)?;
        if !text.is_empty() {
            cleaned.push(text);
        }
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(raw: &str) -> Result<String, FieldError> {
        clean_text("applicant.full_name", raw, TextRule::PERSON_NAME)
    }

    #[test]
    fn names_are_normalised_and_must_hold_letters() {
        assert_eq!(name("  عبدُالله \t الأحمد ").unwrap(), "عبدُالله الأحمد");
        assert_eq!(name("Mary-Jane O’Neil").unwrap(), "Mary-Jane O’Neil");
        assert_eq!(name("سا\u{200B}رة\u{FEFF}").unwrap(), "سارة", "invisible characters dropped");
        // NFC: a decomposed letter is stored composed.
        assert_eq!(name("Jose\u{0301}").unwrap(), "José");
        for empty_of_letters in ["\u{200B}\u{200B}", "\u{FEFF}\u{0640}\u{0640}", "ـــ", "- . '"] {
            let refused = name(empty_of_letters);
            assert!(refused.is_err() || refused.as_deref() == Ok(""), "{empty_of_letters:?}: {refused:?}");
        }
        assert_eq!(name("\u{FEFF}\u{0640}").unwrap_err().message.en, "A name must contain letters");
        for wrong in ["Ali\u{0000}", "Ali\u{1b}[31m", "\u{202E}ilA", "Ali1", "<script>"] {
            assert!(name(wrong).is_err(), "{wrong:?} accepted");
        }
        assert!(name(&"ا".repeat(101)).is_err());
        assert!(name(&"ا".repeat(100_000)).is_err());
    }

    #[test]
    fn paragraphs_keep_their_lines_and_refuse_what_hides_or_moves_text() {
        let note = clean_text("note", "  السقف يتسرب.\r\nالجدار متصدع.  \n", TextRule::NOTE).unwrap();
        assert_eq!(note, "السقف يتسرب.\nالجدار متصدع.");
        assert_eq!(clean_text("note", "a\u{1b}[2Jb", TextRule::NOTE).unwrap_err().field, "note");
        assert!(clean_text("note", "ok \u{2067}hidden\u{2069}", TextRule::NOTE).is_err());
        assert!(clean_text("facts.x", &"x".repeat(200_000), TextRule::FACT).is_err());
        assert_eq!(clean_text("line", "a\nb", TextRule::LINE).unwrap(), "a b");
        assert_eq!(clean_texts("reasons", &["  a ".into(), " ".into()], TextRule::LINE, 5).unwrap(), ["a"]);
        assert!(clean_texts("reasons", &vec!["a".to_owned(); 6], TextRule::LINE, 5).is_err());
    }
}
