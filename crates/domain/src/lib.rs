//! Masar's domain: the words of DOMAIN.md as types. Pure: no I/O, no
//! transport, no database; every service asks this crate instead of
//! re-implementing a rule.

pub mod address;
pub mod assignment;
pub mod calendar;
pub mod case;
pub mod committee;
pub mod delivery;
pub mod directory;
pub mod eligibility;
pub mod identity;
pub mod input;
pub mod people;
pub mod policy;
pub mod research;
pub mod review;
pub mod roster;
pub mod satisfaction;
pub mod text;
pub mod visits;
pub mod vocabulary;
pub mod working_days;

pub use address::{Address, AddressAsked, AddressForm, read_address};
pub use calendar::{DualDate, HijriDate, InvalidDate};
pub use case::{CaseStatus, Stage, TransitionRefused};
pub use directory::{Association, Directory, DirectoryError, StaffMember};
pub use eligibility::{Condition, FactValue, Facts, RuleOutcome, Verdict};
pub use identity::{InvalidMobile, InvalidNationalId, NationalId, SaudiMobile};
pub use input::{TextKind, TextRule, clean_text, clean_texts};
pub use policy::{DocumentValidity, PolicyPack};
pub use review::{DocumentReview, ReviewedDocument, missing_for_completion};
pub use satisfaction::{FEWEST_RATINGS_SHOWN, Published, Rating, Satisfaction, published_months};
pub use text::{Bilingual, FieldError, Language};
pub use vocabulary::{AccountStanding, ActorRole, Channel, InquiryStatus, Recommendation, UnknownTerm, Vote};
