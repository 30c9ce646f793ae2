//! The closed word lists of the domain. Each has one string form, used on
//! the wire, in the database and in events.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}'")]
pub struct UnknownTerm {
    pub kind: &'static str,
    pub value: String,
}

/// Declares an enum with its wire names and `parse`/`as_str`/`ALL`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident as $kind:literal { $($(#[$variant_meta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$variant_meta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Result<Self, $crate::vocabulary::UnknownTerm> {
                match value.trim() {
                    $($text => Ok(Self::$variant),)+
                    other => Err($crate::vocabulary::UnknownTerm { kind: $kind, value: other.to_owned() }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary! {
    /// How a request, inquiry or message reached the association.
    Channel as "channel" {
        Interview = "interview",
        Phone = "phone",
        SocialMedia = "social_media",
        Letter = "letter",
        HelpRequest = "help_request",
        Volunteering = "volunteering",
        Website = "website",
        MobileApp = "mobile_app",
    }
}

impl Channel {
    /// The channels a beneficiary uses alone; on the others reception records what they bring.
    pub fn is_online(self) -> bool {
        matches!(self, Self::Website | Self::MobileApp)
    }
}

vocabulary! {
    /// Who acts on a case.
    ActorRole as "role" {
        Beneficiary = "beneficiary",
        ReceptionOfficer = "reception_officer",
        ProjectManager = "project_manager",
        SocialResearcher = "social_researcher",
        CommitteeMember = "committee_member",
        BranchManager = "branch_manager",
        AssociationAdmin = "association_admin",
        // Referral roles for beneficiaries to whom the procedure is unclear: Nuzul's, then Hayat's.
        SocialResearchOfficer = "social_research_officer",
        HealthAdministrationManager = "health_administration_manager",
        System = "system",
    }
}

vocabulary! {
    /// Where a beneficiary's account stands: a claim to a national ID until
    /// its holder proves it is theirs, and how they proved it.
    AccountStanding as "account standing" {
        /// A claim: the account sees only what it filed itself.
        Unverified = "unverified",
        /// Its one-time password went to the number the registry holds (entered by staff, or proven before).
        ByRegistryMobile = "registry_mobile",
        /// Staff saw the person and their ID card.
        InPerson = "in_person",
        /// An external identity check (Nafath-style) confirmed the national ID.
        ByIdentityProvider = "identity_provider",
        /// A claim staff turned down: it cannot sign in.
        Closed = "closed",
    }
}

impl AccountStanding {
    /// The account's holder is the person whose national ID it names: it sees every case of theirs.
    pub fn is_verified(self) -> bool {
        matches!(self, Self::ByRegistryMobile | Self::InPerson | Self::ByIdentityProvider)
    }
}

impl ActorRole {
    /// Who supervises the handling of cases: the project manager, the branch
    /// manager and the association admin (the verification queue, a case's audit trail).
    pub const SUPERVISORS: [ActorRole; 3] = [Self::ProjectManager, Self::BranchManager, Self::AssociationAdmin];
    /// Reception and the supervisors: who follow every case of their scope
    /// (the list of requests, a case's messages).
    pub const CASE_DESK: [ActorRole; 4] =
        [Self::ReceptionOfficer, Self::ProjectManager, Self::BranchManager, Self::AssociationAdmin];
    /// Whose step needs a case's documents: the project manager confirms them,
    /// the assigned researcher, the committee and the supervisors weigh them.
    pub const CASE_FILE_READERS: [ActorRole; 5] = [
        Self::ProjectManager,
        Self::SocialResearcher,
        Self::CommitteeMember,
        Self::BranchManager,
        Self::AssociationAdmin,
    ];
    /// Who receive beneficiaries and act for them (filing, registering, recording inquiries).
    pub const FRONT_DESK: [ActorRole; 3] = [Self::ReceptionOfficer, Self::BranchManager, Self::AssociationAdmin];
    /// Who look after the association's beneficiaries: the case desk and the referral roles.
    pub const REGISTRY_KEEPERS: [ActorRole; 6] = [
        Self::ReceptionOfficer,
        Self::ProjectManager,
        Self::BranchManager,
        Self::AssociationAdmin,
        Self::SocialResearchOfficer,
        Self::HealthAdministrationManager,
    ];

    /// Roles whose work is tied to one branch; the others see the whole association.
    pub fn is_branch_bound(self) -> bool {
        matches!(self, Self::ReceptionOfficer | Self::ProjectManager | Self::SocialResearcher | Self::BranchManager)
    }

    /// People who work for the association (not the beneficiary, not the system itself).
    pub fn is_staff(self) -> bool {
        !matches!(self, Self::Beneficiary | Self::System)
    }
}

vocabulary! {
    /// Where a beneficiary's inquiry stands: answered at once, or referred to
    /// the association's referral role when the procedure is unclear to them.
    InquiryStatus as "inquiry status" {
        Open = "open",
        Referred = "referred",
        Answered = "answered",
    }
}

impl InquiryStatus {
    /// Open inquiries may be referred or answered; referred ones answered; answered ones are closed.
    pub fn can_become(self, next: Self) -> bool {
        matches!((self, next), (Self::Open, Self::Referred | Self::Answered) | (Self::Referred, Self::Answered))
    }
}

vocabulary! {
    /// A social researcher's recommendation: to the committee (approve or
    /// reject), or back to the beneficiary for more documents.
    Recommendation as "recommendation" {
        Approve = "approve",
        Reject = "reject",
        MoreDocuments = "more_documents",
    }
}

vocabulary! {
    /// A committee member's vote on an agenda item.
    Vote as "vote" {
        Approve = "approve",
        Reject = "reject",
        Defer = "defer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_round_trips_through_its_wire_name() {
        for channel in Channel::ALL {
            assert_eq!(Channel::parse(channel.as_str()), Ok(*channel));
        }
        for role in ActorRole::ALL {
            assert_eq!(ActorRole::parse(role.as_str()), Ok(*role));
        }
        assert!(InquiryStatus::Open.can_become(InquiryStatus::Referred));
        assert!(InquiryStatus::Referred.can_become(InquiryStatus::Answered));
        assert!(!InquiryStatus::Answered.can_become(InquiryStatus::Referred));
        assert!(!InquiryStatus::Referred.can_become(InquiryStatus::Referred));
        let err = Channel::parse("pigeon").unwrap_err();
        assert_eq!(err.to_string(), "unknown channel 'pigeon'");
    }
}
