//! Where the applicant lives, for the researcher's visit: the city, the
//! district, the street or the short national address (the Saudi Post code
//! of four letters and four digits, e.g. `RRRD2929`), and optionally the
//! spot on a map. A pack says whether its form asks for it.

use crate::input::{TextRule, clean_text};
use crate::text::{Bilingual, FieldError};
use crate::vocabulary::vocabulary;
use serde::{Deserialize, Serialize};

vocabulary! {
    /// Whether a pack's form asks for the address.
    AddressAsked as "address rule" {
        NotAsked = "not_asked",
        Optional = "optional",
        Required = "required",
    }
}

/// An address as the form sends it (every part may be empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct AddressForm<'a> {
    pub city: &'a str,
    pub district: &'a str,
    pub street: &'a str,
    pub short_address: &'a str,
    /// Both or neither.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl AddressForm<'_> {
    fn is_empty(&self) -> bool {
        [self.city, self.district, self.street, self.short_address].iter().all(|t| t.trim().is_empty())
            && self.latitude.is_none()
            && self.longitude.is_none()
    }
}

/// A validated address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub city: String,
    pub district: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub street: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub short_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

/// The Kingdom's extent, with a margin: a point outside it is a typing slip.
const LATITUDES: std::ops::RangeInclusive<f64> = 16.0..=33.0;
const LONGITUDES: std::ops::RangeInclusive<f64> = 34.0..=56.5;

fn problem(field: &str, ar: &str, en: &str) -> FieldError {
    FieldError::new(format!("address.{field}"), Bilingual::new(ar, en))
}

/// Reads the form's address as the pack asks for it: every problem is a
/// field error at `address.<part>`. `None` when it is not asked, or optional
/// and left out.
pub fn read_address(asked: AddressAsked, form: AddressForm<'_>) -> Result<Option<Address>, Vec<FieldError>> {
    if asked == AddressAsked::NotAsked || (asked == AddressAsked::Optional && form.is_empty()) {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let mut text = |part: &str, raw: &str| {
        clean_text(&format!("address.{part}"), raw, TextRule::LINE).unwrap_or_else(|problem| {
            errors.push(problem);
            String::new()
        })
    };
    let (city, district, street) =
        (text("city", form.city), text("district", form.district), text("street", form.street));
    let short_address: String =
        form.short_address.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    for (part, value) in [("city", &city), ("district", &district)] {
        if value.is_empty() && !errors.iter().any(|e| e.field == format!("address.{part}")) {
            errors.push(FieldError::required(&format!("address.{part}")));
        }
    }
    let is_short_address = short_address.len() == 8
        && short_address[..4].bytes().all(|b| b.is_ascii_uppercase())
        && short_address[4..].bytes().all(|b| b.is_ascii_digit());
    if !short_address.is_empty() && !is_short_address {
        errors.push(problem(
            "short_address",
            "العنوان المختصر أربعة أحرف وأربعة أرقام، مثل RRRD2929",
            "The short national address is four letters and four digits, e.g. RRRD2929",
        ));
    }
    if street.is_empty() && short_address.is_empty() && !errors.iter().any(|e| e.field == "address.street") {
        errors.push(problem(
            "street",
            "اذكر الشارع أو العنوان الوطني المختصر",
            "Give the street, or the short national address",
        ));
    }
    let location = match (form.latitude, form.longitude) {
        (None, None) => None,
        (Some(latitude), Some(longitude)) if LATITUDES.contains(&latitude) && LONGITUDES.contains(&longitude) => {
            Some(Location { latitude, longitude })
        }
        (Some(_), Some(_)) => {
            errors.push(problem("location", "الموقع خارج المملكة", "The location is outside the Kingdom"));
            None
        }
        _ => {
            errors.push(problem("location", "الموقع خط عرض وخط طول معاً", "A location is a latitude and a longitude"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Some(Address { city, district, street, short_address, location }))
}

impl Address {
    /// What staff who do not visit see: the city and district, nothing that finds the door.
    pub fn masked(&self) -> Address {
        Address { street: String::new(), short_address: String::new(), location: None, ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn an_address_is_read_as_the_pack_asks() {
        let form =
            AddressForm { city: " جدة ", district: "الصفا", short_address: "jesa 1234", ..Default::default() };
        let read = read_address(AddressAsked::Required, form).unwrap().unwrap();
        assert_eq!((read.city.as_str(), read.short_address.as_str()), ("جدة", "JESA1234"));
        assert_eq!(read_address(AddressAsked::NotAsked, form).unwrap(), None);
        assert_eq!(read_address(AddressAsked::Optional, AddressForm::default()).unwrap(), None);
        let missing = read_address(AddressAsked::Required, AddressForm::default()).unwrap_err();
        assert_eq!(fields(missing), ["address.city", "address.district", "address.street"]);
        let bad = AddressForm { short_address: "12345678", latitude: Some(51.5), longitude: Some(-0.1), ..form };
        assert_eq!(
            fields(read_address(AddressAsked::Optional, bad).unwrap_err()),
            ["address.short_address", "address.location"]
        );
        let half = AddressForm { latitude: Some(21.5), ..form };
        assert_eq!(fields(read_address(AddressAsked::Required, half).unwrap_err()), ["address.location"]);
        let pinned = AddressForm {
            street: "شارع الأمير سلطان", latitude: Some(21.58), longitude: Some(39.17), ..form
        };
        let read = read_address(AddressAsked::Required, pinned).unwrap().unwrap();
        assert_eq!(read.location, Some(Location { latitude: 21.58, longitude: 39.17 }));
        assert_eq!(
            read.masked(),
            Address { street: String::new(), short_address: String::new(), location: None, ..read.clone() }
        );
    }
}
