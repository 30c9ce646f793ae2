//! The project manager's review of a request: each required document, and
//! what the beneficiary must complete when the request is returned.

use crate::Bilingual;
use crate::eligibility::{RuleOutcome, Verdict, fact_definition};
use crate::policy::{DocumentKind, DocumentValidity};
use crate::vocabulary::vocabulary;
use chrono::NaiveDate;

vocabulary! {
    /// Where one required document stands in review.
    DocumentReview as "document review" {
        // Uploaded and valid by its dates; a person has not looked at it yet.
        Pending = "pending",
        Accepted = "accepted",
        // A person found it wrong (illegible, someone else's, not the asked paper); the reason says why.
        Rejected = "rejected",
        // Its dates made it invalid on the day of submission; decided automatically.
        ExpiredAtSubmission = "expired_at_submission",
    }
}

impl DocumentReview {
    /// The review a document starts with: its dates checked against the day of submission.
    pub fn on_receipt(
        kind: &DocumentKind,
        issued_on: Option<NaiveDate>,
        expires_on: Option<NaiveDate>,
        submitted_on: NaiveDate,
    ) -> Self {
        match kind.validity(issued_on, expires_on, submitted_on) {
            DocumentValidity::ExpiredAtSubmission | DocumentValidity::IssuedTooLongAgo => Self::ExpiredAtSubmission,
            // A missing date is for the reviewer to judge from the paper itself.
            DocumentValidity::Valid | DocumentValidity::DateMissing => Self::Pending,
        }
    }

    /// Blocks verifying the request.
    pub fn is_refusal(self) -> bool {
        matches!(self, Self::Rejected | Self::ExpiredAtSubmission)
    }
}

/// One document as the reviewer left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewedDocument {
    pub document: String,
    /// The policy's name for it, kept with the case.
    pub name: Bilingual,
    pub review: DocumentReview,
    /// The reviewer's words, for a rejection.
    pub reason: String,
}

/// Exactly what the beneficiary must complete: every refused document and
/// every fact an eligibility rule could not be judged without, in both languages.
pub fn missing_for_completion(documents: &[ReviewedDocument], eligibility: &[RuleOutcome]) -> Vec<Bilingual> {
    let mut missing = Vec::new();
    for reviewed in documents {
        let name = &reviewed.name;
        match reviewed.review {
            DocumentReview::Rejected => missing.push(Bilingual::new(
                format!("{}: {}", name.ar, reviewed.reason),
                format!("{}: {}", name.en, reviewed.reason),
            )),
            DocumentReview::ExpiredAtSubmission => missing.push(Bilingual::new(
                format!("{} منتهي الصلاحية وقت التقديم، يرجى إرفاق نسخة سارية", name.ar),
                format!("{} had expired when the request was submitted; please attach a valid one", name.en),
            )),
            DocumentReview::Pending | DocumentReview::Accepted => {}
        }
    }
    let mut choices: Vec<&Vec<String>> = Vec::new();
    for outcome in eligibility.iter().filter(|o| o.verdict == Verdict::Unknown) {
        for choice in &outcome.missing_facts {
            if !choices.contains(&choice) {
                choices.push(choice);
            }
        }
    }
    for choice in choices {
        let labels = |pick: fn((&'static str, &'static str)) -> &'static str, or: &str| {
            choice
                .iter()
                .map(|fact| fact_definition(fact).map_or(fact.as_str(), |d| pick(d.label)))
                .collect::<Vec<_>>()
                .join(or)
        };
        missing.push(Bilingual::new(
            format!("استكمال المعلومة: {}", labels(|l| l.0, " أو ")),
            format!("Please give: {}", labels(|l| l.1, ", or ")),
        ));
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyPack;

    fn hayat() -> PolicyPack {
        PolicyPack::from_toml(include_str!("../../../policies/hayat.toml")).unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn an_expired_document_is_flagged_on_receipt() {
        let pack = hayat();
        let id = pack.document("national_id").unwrap();
        let submitted = day("2026-11-23");
        assert_eq!(
            DocumentReview::on_receipt(id, None, Some(day("2026-11-22")), submitted),
            DocumentReview::ExpiredAtSubmission
        );
        assert_eq!(DocumentReview::on_receipt(id, None, Some(day("2026-11-23")), submitted), DocumentReview::Pending);
        assert_eq!(DocumentReview::on_receipt(id, None, None, submitted), DocumentReview::Pending);
    }

    #[test]
    fn review_names_round_trip() {
        for review in DocumentReview::ALL {
            assert_eq!(DocumentReview::parse(review.as_str()), Ok(*review));
        }
        assert!(DocumentReview::parse("lost").is_err());
    }

    #[test]
    fn completion_lists_refused_documents_and_unknown_facts_once() {
        let pack = hayat();
        let reviewed = |code: &str, review, reason: &str| ReviewedDocument {
            document: code.into(),
            name: pack.document(code).unwrap().name.clone(),
            review,
            reason: reason.into(),
        };
        let documents = vec![
            reviewed("national_id", DocumentReview::Accepted, ""),
            reviewed("medical_report", DocumentReview::Rejected, "غير مقروء / illegible"),
            reviewed("proof_of_income", DocumentReview::ExpiredAtSubmission, ""),
        ];
        let unknown = |rule: &str, facts: &[&[&str]]| RuleOutcome {
            rule: rule.into(),
            verdict: Verdict::Unknown,
            explanation: Bilingual::new("", ""),
            missing_facts: facts.iter().map(|choice| choice.iter().map(|f| f.to_string()).collect()).collect(),
        };
        let eligibility = vec![
            unknown("a", &[&["household.monthly_income"]]),
            unknown("b", &[&["household.monthly_income"], &["home.ownership", "home.landlord_consent"]]),
        ];
        let missing = missing_for_completion(&documents, &eligibility);
        assert_eq!(missing.len(), 4, "{missing:#?}");
        assert_eq!(missing[3].en, "Please give: Home ownership, or Landlord's consent");
        assert!(missing[0].ar.contains("غير مقروء") && missing[0].en.contains("illegible"));
        assert!(missing[1].en.contains("expired"));
        assert!(missing[2].en.starts_with("Please give") && missing[3].ar.starts_with("استكمال"));
    }
}
