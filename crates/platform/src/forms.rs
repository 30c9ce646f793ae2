//! Reading the fields every front end sends (an association, a channel, an
//! applicant, a note) into the domain's types, each bad field one located
//! error; and who acts, when staff may act for a beneficiary.

use crate::grpc::internal;
use crate::identity::{Caller, Staff};
use crate::policies::PolicyBook;
use chrono::NaiveDate;
use masar_domain::{
    ActorRole, Bilingual, Channel, FieldError, Language, NationalId, PolicyPack, SaudiMobile, TextRule, clean_text,
};
use masar_proto::events::v1 as events;
use masar_proto::intake::v1 as api;
use rand::Rng;
use tonic::Status;

/// Who acts: front-desk staff assisting a beneficiary (`Some`), or the
/// beneficiary themself (`None`: signed in, or not yet registered).
pub fn submitter(caller: Option<&Caller>) -> Result<Option<Staff>, Status> {
    match caller {
        Some(Caller::Staff(staff)) => {
            staff.require_role(&ActorRole::FRONT_DESK)?;
            Ok(Some(staff.clone()))
        }
        _ => Ok(None),
    }
}

/// The association's policy in force on a day; `None` for an unknown (or empty) association.
pub async fn policy_in_force(
    policies: &PolicyBook,
    association: &str,
    on: NaiveDate,
) -> Result<Option<PolicyPack>, Status> {
    policies.in_force(association.trim(), on).await.map_err(internal)
}

/// An association is named, and has a policy in force.
pub fn check_association(association: &str, pack: Option<&PolicyPack>, errors: &mut Vec<FieldError>) {
    if association.trim().is_empty() {
        errors.push(FieldError::required("association"));
    } else if pack.is_none() {
        errors.push(FieldError::new("association", Bilingual::new("الجمعية غير معروفة", "Unknown association")));
    }
}

/// The branch is one of the association's.
pub fn check_branch(pack: Option<&PolicyPack>, branch: &str, errors: &mut Vec<FieldError>) {
    if pack.is_some_and(|p| p.branch(branch.trim()).is_none()) {
        errors.push(FieldError::new(
            "branch",
            Bilingual::new("الفرع غير معروف لهذه الجمعية", "Unknown branch of this association"),
        ));
    }
}

/// The channel, if it is one the association uses.
pub fn read_channel(pack: Option<&PolicyPack>, text: &str, errors: &mut Vec<FieldError>) -> Option<Channel> {
    match Channel::parse(text) {
        Ok(channel) if pack.is_none_or(|p| p.channels.contains(&channel)) => Some(channel),
        Ok(_) => {
            errors.push(FieldError::new(
                "channel",
                Bilingual::new("الجمعية لا تستخدم هذه القناة", "The association does not use this channel"),
            ));
            None
        }
        Err(_) => {
            errors.push(FieldError::new("channel", Bilingual::new("قناة التواصل غير معروفة", "Unknown channel")));
            None
        }
    }
}

/// An applicant's identity, validated.
pub struct ValidApplicant {
    pub national_id: NationalId,
    pub full_name: String,
    pub mobile: SaudiMobile,
    pub language: Language,
}

/// Reads the applicant, adding one error per bad field.
pub fn read_applicant(applicant: Option<&api::Applicant>, errors: &mut Vec<FieldError>) -> Option<ValidApplicant> {
    let applicant = applicant.cloned().unwrap_or_default();
    let national_id = NationalId::parse(&applicant.national_id)
        .map_err(|e| errors.push(FieldError::new("applicant.national_id", e.explain())))
        .ok();
    let mobile = SaudiMobile::parse(&applicant.mobile)
        .map_err(|e| errors.push(FieldError::new("applicant.mobile", e.explain())))
        .ok();
    let full_name = clean_text("applicant.full_name", &applicant.full_name, TextRule::PERSON_NAME)
        .map_err(|problem| errors.push(problem))
        .unwrap_or_default();
    if full_name.is_empty() && !errors.iter().any(|e| e.field == "applicant.full_name") {
        errors.push(FieldError::required("applicant.full_name"));
    }
    Some(ValidApplicant {
        national_id: national_id?,
        full_name: Some(full_name).filter(|n| !n.is_empty())?,
        mobile: mobile?,
        language: Language::from_tag(&applicant.preferred_language),
    })
}

/// `length` characters drawn from `alphabet`.
pub fn readable_code(length: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..length).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

/// Who acted, as recorded with uploads and attestations: the staff username, or "beneficiary".
pub fn acted_by(staff: &Option<Staff>) -> String {
    staff.as_ref().map_or_else(|| ActorRole::Beneficiary.to_string(), |s| s.username.clone())
}

pub fn actor_of(staff: &Option<Staff>) -> events::Actor {
    match staff {
        Some(staff) => staff.event_actor(),
        None => events::Actor { role: ActorRole::Beneficiary.as_str().into(), username: String::new() },
    }
}

/// The role an action is recorded under: the staff member's, or the beneficiary's own.
pub fn acting_role(staff: &Option<Staff>) -> ActorRole {
    staff.as_ref().map_or(ActorRole::Beneficiary, |s| s.role)
}

/// A required free text, bounded and cleaned.
pub fn read_text(field: &str, text: &str, errors: &mut Vec<FieldError>) -> String {
    masar_domain::input::read_field(field, text, TextRule::NOTE, true, errors)
}

/// An optional free text, bounded and cleaned (see `masar_domain::input`).
pub fn read_optional_text(field: &str, text: &str, errors: &mut Vec<FieldError>) -> String {
    masar_domain::input::read_field(field, text, TextRule::NOTE, false, errors)
}
