//! Beneficiaries as people: matching names written many ways, and the
//! passwords of their accounts.

use crate::input::is_arabic_mark;
use crate::{Bilingual, FieldError};
use unicode_normalization::UnicodeNormalization;

/// A name reduced for matching: NFKC, without tashkeel or tatweel, with the
/// letters people write interchangeably folded (أ إ آ ٱ → ا, ى → ي, ة → ه),
/// lower case, one space between parts. "عبدُالله  الأحمد" and "عبدالله الاحمد" match.
pub fn name_key(name: &str) -> String {
    let folded: String = name
        .nfkc()
        .filter(|c| !is_arabic_mark(*c) && *c != '\u{0640}')
        .map(|c| match c {
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ى' => 'ي',
            'ة' => 'ه',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The shortest password a beneficiary may choose.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password taken (in bytes): hashing is slow on purpose, so length is bounded.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a new password is refused, if it is: long enough, letters and digits,
/// not the one-time password it replaces.
pub fn new_password_problem(new_password: &str, current_password: &str) -> Option<FieldError> {
    let message = if new_password.chars().count() < MIN_PASSWORD_CHARS {
        Bilingual::new(
            format!("كلمة المرور {MIN_PASSWORD_CHARS} أحرف على الأقل"),
            format!("A password has at least {MIN_PASSWORD_CHARS} characters"),
        )
    } else if new_password.len() > MAX_PASSWORD_BYTES {
        Bilingual::new("كلمة المرور أطول من المسموح", format!("A password has at most {MAX_PASSWORD_BYTES} bytes"))
    } else if new_password.chars().any(char::is_control) {
        Bilingual::new("كلمة المرور تحتوي على رموز تحكم", "A password cannot hold control characters")
    } else if !new_password.chars().any(char::is_alphabetic) || !new_password.chars().any(|c| c.is_ascii_digit()) {
        Bilingual::new("كلمة المرور تجمع بين حروف وأرقام", "A password mixes letters and digits")
    } else if new_password == current_password {
        Bilingual::new("اختر كلمة مرور غير كلمة المرور المؤقتة", "Choose a password other than the one-time password")
    } else {
        return None;
    };
    Some(FieldError::new("new_password", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_written_differently_match() {
        assert_eq!(name_key("عبدُالله  الأحمد"), name_key("عبدالله الاحمد"));
        assert_eq!(name_key("فاطمة"), name_key("فاطمه"));
        assert_eq!(name_key("مصطفى"), name_key("مصطفي"));
        assert_eq!(name_key("إبراهيم آل سعود"), "ابراهيم ال سعود");
        assert_eq!(name_key("محمـــد"), "محمد");
        assert_eq!(name_key(" Aisha   RAHMAN "), "aisha rahman");
        // Presentation forms (e.g. pasted from a PDF) fold to the plain letters.
        assert_eq!(name_key("\u{FEE3}\u{FEA4}\u{FEE4}\u{FEAA}"), "محمد");
        assert_ne!(name_key("محمد"), name_key("أحمد"));
    }

    #[test]
    fn new_passwords_are_checked() {
        assert!(new_password_problem("short1", "x").is_some());
        assert!(new_password_problem("onlyletters", "x").is_some());
        assert!(new_password_problem("12345678", "x").is_some());
        assert!(new_password_problem("Temp2345x", "Temp2345x").is_some());
        assert_eq!(new_password_problem("kalimat2026", "Temp2345x"), None);
    }
}
