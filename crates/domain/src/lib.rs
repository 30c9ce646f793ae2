//! Masar's domain: the words of DOMAIN.md as types. Pure: no I/O, no
//! transport, no database; every service asks this crate instead of
//! re-implementing a rule.

pub mod case;
pub mod directory;
pub mod identity;
pub mod text;
pub mod vocabulary;

pub use case::{CaseStatus, Stage, TransitionRefused};
pub use directory::{Association, Branch, Directory, DirectoryError, ServiceType, StaffMember};
pub use identity::{InvalidMobile, InvalidNationalId, NationalId, SaudiMobile};
pub use text::{Bilingual, FieldError, Language};
pub use vocabulary::{ActorRole, Channel, Recommendation, UnknownTerm, Vote};
