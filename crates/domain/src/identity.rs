//! Saudi national ID / iqama numbers and mobile numbers.

use std::fmt;

/// Folds Arabic-Indic (٠-٩) and Eastern Arabic-Indic (۰-۹) digits to ASCII.
pub fn fold_digits(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            other => other,
        })
        .collect()
}

/// A national ID (starts with 1, citizens) or iqama (starts with 2, residents):
/// ten digits with a Luhn check digit.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidNationalId {
    #[error("a national ID has exactly 10 digits")]
    Length,
    #[error("a national ID starts with 1 (citizen) or 2 (resident)")]
    Prefix,
    #[error("the national ID's check digit does not match")]
    Checksum,
}

impl NationalId {
    pub fn parse(input: &str) -> Result<Self, InvalidNationalId> {
        let digits: String = fold_digits(input.trim());
        if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidNationalId::Length);
        }
        if !matches!(digits.as_bytes()[0], b'1' | b'2') {
            return Err(InvalidNationalId::Prefix);
        }
        if !luhn_valid(&digits) {
            return Err(InvalidNationalId::Checksum);
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first digit and the last three only: safe for staff screens and events.
    pub fn masked(&self) -> String {
        format!("{}******{}", &self.0[..1], &self.0[7..])
    }

    /// A stored number, masked; empty if it does not parse (never shown in clear).
    pub fn mask(stored: &str) -> String {
        Self::parse(stored).map(|id| id.masked()).unwrap_or_default()
    }
}

/// Never prints the number in clear, so a stray `{:?}` cannot leak it.
impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId({})", self.masked())
    }
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl InvalidNationalId {
    pub fn explain(&self) -> crate::Bilingual {
        match self {
            Self::Length => {
                crate::Bilingual::new("رقم الهوية يتكون من 10 أرقام", "A national ID has exactly 10 digits")
            }
            Self::Prefix => crate::Bilingual::new(
                "رقم الهوية يبدأ بالرقم 1 للمواطن أو 2 للمقيم",
                "A national ID starts with 1 (citizen) or 2 (resident)",
            ),
            Self::Checksum => crate::Bilingual::new(
                "رقم الهوية غير صحيح، يرجى التحقق منه",
                "The national ID is not valid; please check it",
            ),
        }
    }
}

/// A Saudi mobile number, kept as +9665XXXXXXXX.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SaudiMobile(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Saudi mobile number (expected 05XXXXXXXX)")]
pub struct InvalidMobile;

impl InvalidMobile {
    pub fn explain(&self) -> crate::Bilingual {
        crate::Bilingual::new(
            "رقم الجوال غير صحيح، الصيغة المتوقعة 05XXXXXXXX",
            "Not a Saudi mobile number (expected 05XXXXXXXX)",
        )
    }
}

impl SaudiMobile {
    /// Accepts 05…, 5…, 9665…, 009665… and +9665…, with spaces or dashes.
    pub fn parse(input: &str) -> Result<Self, InvalidMobile> {
        let folded = fold_digits(input.trim());
        let compact: String = folded.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        let national = compact
            .strip_prefix("+966")
            .or_else(|| compact.strip_prefix("00966"))
            .or_else(|| compact.strip_prefix("966"))
            .or_else(|| compact.strip_prefix('0'))
            .unwrap_or(&compact);
        if national.len() != 9 || !national.bytes().all(|b| b.is_ascii_digit()) || !is_mobile_prefix(national) {
            return Err(InvalidMobile);
        }
        Ok(Self(format!("+966{national}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// +9665******67: enough for a person to recognise their number.
    pub fn masked(&self) -> String {
        format!("{}******{}", &self.0[..5], &self.0[11..])
    }

    /// A stored number, masked; empty if it does not parse (never shown in clear).
    pub fn mask(stored: &str) -> String {
        Self::parse(stored).map(|m| m.masked()).unwrap_or_default()
    }
}

impl fmt::Debug for SaudiMobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SaudiMobile({})", self.masked())
    }
}

/// Mobile ranges: 50, 51, 53, 54, 55, 56, 58, 59, 570–578, 5790–5791 (52 is not mobile).
fn is_mobile_prefix(national: &str) -> bool {
    let b = national.as_bytes();
    if b[0] != b'5' {
        return false;
    }
    match b[1] {
        b'0' | b'1' | b'3' | b'4' | b'5' | b'6' | b'8' | b'9' => true,
        b'7' => match b[2] {
            b'0'..=b'8' => true,
            b'9' => matches!(b[3], b'0' | b'1'),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_id_accepts_valid_and_folds_arabic_digits() {
        assert_eq!(NationalId::parse("1000000008").unwrap().as_str(), "1000000008");
        assert_eq!(NationalId::parse("١٠٠٠٠٠٠٠٠٨").unwrap().as_str(), "1000000008");
        assert!(NationalId::parse("2000000006").unwrap().as_str().starts_with('2'));
    }

    #[test]
    fn national_id_refusals_say_why() {
        assert_eq!(NationalId::parse("1000000000"), Err(InvalidNationalId::Checksum));
        assert_eq!(NationalId::parse("3000000004"), Err(InvalidNationalId::Prefix));
        assert_eq!(NationalId::parse("100000008"), Err(InvalidNationalId::Length));
        assert_eq!(NationalId::parse("10000000a8"), Err(InvalidNationalId::Length));
    }

    #[test]
    fn national_id_never_debug_prints_in_clear() {
        let id = NationalId::parse("1000000008").unwrap();
        assert_eq!(id.masked(), "1******008");
        assert!(!format!("{id:?}").contains("1000000008"));
    }

    #[test]
    fn mobile_normalises_every_accepted_form() {
        for input in ["0551234567", "551234567", "966551234567", "00966551234567", "+966 55 123 4567", "٠٥٥١٢٣٤٥٦٧"]
        {
            assert_eq!(SaudiMobile::parse(input).unwrap().as_str(), "+966551234567", "{input}");
        }
        assert_eq!(SaudiMobile::parse("0579012345").unwrap().as_str(), "+966579012345");
    }

    #[test]
    fn mobile_refuses_non_mobile_ranges() {
        for input in ["0521234567", "0579212345", "055123456", "0441234567", "phone"] {
            assert_eq!(SaudiMobile::parse(input), Err(InvalidMobile), "{input}");
        }
    }

    #[test]
    fn mobile_masks_the_middle() {
        let mobile = SaudiMobile::parse("0551234567").unwrap();
        assert_eq!(mobile.masked(), "+9665******67");
        assert!(!format!("{mobile:?}").contains("1234567"));
    }
}
