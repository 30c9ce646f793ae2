//! Beneficiaries as people: matching names written many ways, the
//! passwords of their accounts, and whose an account may be.

use crate::input::is_arabic_mark;
use crate::{AccountStanding, Bilingual, FieldError};
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

/// The number the registry holds for a national ID, and whether it is known
/// to be the person's: entered by staff, or proven by a verified account.
#[derive(Debug, Clone, Copy)]
pub struct RegistryContact<'a> {
    pub mobile: &'a str,
    pub confirmed: bool,
}

/// An account already opened for the national ID.
#[derive(Debug, Clone, Copy)]
pub struct ExistingAccount<'a> {
    pub standing: AccountStanding,
    /// The number its credentials went to.
    pub mobile: &'a str,
}

/// What registering an account for a national ID opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim<'a> {
    /// An account whose credentials go to the registry's confirmed number:
    /// whoever signs in with them holds that number, so it is verified.
    Verified { credentials_to: &'a str },
    /// A claim to the ID: credentials to the number typed, and the account
    /// sees only what it files until its holder proves who they are.
    Unverified { credentials_to: &'a str },
    /// Nothing: a verified account holds the ID.
    HeldByVerified,
    /// Nothing: that number already has an account for the ID (open, or turned down).
    AlreadyClaimed,
}

/// What a registration for a national ID may open. Where the registry's
/// number is confirmed the credentials go there, whatever number was typed;
/// otherwise to the number typed, as an unverified claim, beside any other.
pub fn claim<'a>(registry: RegistryContact<'a>, typed_mobile: &'a str, accounts: &[ExistingAccount]) -> Claim<'a> {
    if accounts.iter().any(|a| a.standing.is_verified()) {
        return Claim::HeldByVerified;
    }
    let credentials_to = if registry.confirmed { registry.mobile } else { typed_mobile };
    if accounts.iter().any(|a| a.mobile == credentials_to) {
        return Claim::AlreadyClaimed;
    }
    if registry.confirmed { Claim::Verified { credentials_to } } else { Claim::Unverified { credentials_to } }
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

    #[test]
    fn an_online_claim_proves_nothing_unless_the_registry_number_is_confirmed() {
        const REGISTRY: &str = "+966551112233";
        const TYPED: &str = "+966559998877";
        let provisional = RegistryContact { mobile: TYPED, confirmed: false };
        let confirmed = RegistryContact { mobile: REGISTRY, confirmed: true };
        let account = |standing, mobile| ExistingAccount { standing, mobile };

        // Nobody vouches for a number typed online: a claim, credentials to it.
        assert_eq!(claim(provisional, TYPED, &[]), Claim::Unverified { credentials_to: TYPED });
        // A confirmed registry number gets the credentials, whatever was typed.
        assert_eq!(claim(confirmed, TYPED, &[]), Claim::Verified { credentials_to: REGISTRY });
        // A second claimant with another number competes with the first.
        let first = [account(AccountStanding::Unverified, "+966550000001")];
        assert_eq!(claim(provisional, TYPED, &first), Claim::Unverified { credentials_to: TYPED });
        // The same number twice, or after staff turned its claim down, opens nothing.
        assert_eq!(claim(provisional, TYPED, &[account(AccountStanding::Unverified, TYPED)]), Claim::AlreadyClaimed);
        assert_eq!(claim(provisional, TYPED, &[account(AccountStanding::Closed, TYPED)]), Claim::AlreadyClaimed);
        assert_eq!(claim(confirmed, TYPED, &[account(AccountStanding::Unverified, REGISTRY)]), Claim::AlreadyClaimed);
        // A verified holder's ID cannot be claimed again.
        for standing in
            [AccountStanding::ByRegistryMobile, AccountStanding::InPerson, AccountStanding::ByIdentityProvider]
        {
            assert_eq!(claim(provisional, TYPED, &[account(standing, "+966550000001")]), Claim::HeldByVerified);
        }
    }
}
