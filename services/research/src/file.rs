//! The research file: the pack's criteria for the case with the scores so
//! far, the bands, the visits and the recommendation, as the researcher,
//! supervisors and (carried with the recommendation) the committee read it.

use crate::store::{Assignment, CriterionScore, StoredAppointment, Visit};
use masar_domain::PolicyPack;
use masar_domain::research::CaseCriterion;
use masar_proto::research::v1 as api;
use std::collections::HashMap;

/// The scores as the domain judges them, by criterion.
pub fn score_values(scores: &[CriterionScore]) -> HashMap<String, u32> {
    scores.iter().map(|s| (s.criterion.clone(), s.score)).collect()
}

pub fn research_file(
    assignment: &Assignment,
    pack: &PolicyPack,
    scores: &[CriterionScore],
    visits: &[Visit],
    appointments: &[StoredAppointment],
    verified: api::VerifiedOn,
) -> api::ResearchFile {
    let mut file = api::ResearchFile {
        request_id: assignment.request_id.to_string(),
        association: assignment.association.clone(),
        branch: assignment.branch.clone(),
        service_type: assignment.service_type.clone(),
        researcher: assignment.researcher.clone(),
        status: assignment.status.to_string(),
        policy_version: assignment.policy_version,
        visits: visits
            .iter()
            .map(|v| api::FieldVisit {
                researcher: v.researcher.clone(),
                visited_at: Some(masar_proto::timestamp(v.recorded_at)),
                findings: v.findings.clone(),
                outcome: v.outcome.to_string(),
                visited_on: v.visited_on.map(|d| d.to_string()).unwrap_or_default(),
                people_met: v
                    .people_met
                    .iter()
                    .map(|p| api::PersonMet {
                        kind: p.kind.to_string(),
                        name: p.name.clone(),
                        relation: p.relation.clone(),
                        contact: p.contact.clone(),
                    })
                    .collect(),
            })
            .collect(),
        recommendation: assignment.recommendation.clone(),
        justification: assignment.justification.clone(),
        service: assignment.proposal.service.clone(),
        amount_sar: assignment.proposal.amount_sar,
        reasons: assignment.proposal.reasons.clone(),
        departure_reason: assignment.proposal.departure_reason.clone(),
        recommended_at: assignment.recommended_at.map(masar_proto::timestamp),
        documents_requested: assignment.proposal.documents_requested.clone(),
        committee_questions: assignment.committee_questions.clone(),
        documents: verified.documents,
        eligibility: verified.eligibility,
        version: assignment.version,
        appointments: appointments
            .iter()
            .map(|a| api::VisitAppointment {
                appointment_id: a.appointment_id.to_string(),
                on: a.appointment.on.to_string(),
                at: a.appointment.at.format("%H:%M").to_string(),
                place: a.appointment.place.clone(),
                status: a.status.to_string(),
                change_reason: a.change_reason.clone(),
                scheduled_at: Some(masar_proto::timestamp(a.scheduled_at)),
            })
            .collect(),
        ..Default::default()
    };
    let Some(research) = &pack.research else { return file };
    let by_criterion: HashMap<&str, &CriterionScore> = scores.iter().map(|s| (s.criterion.as_str(), s)).collect();
    file.criteria = research
        .for_service(&assignment.service_type)
        .into_iter()
        .map(|CaseCriterion { group, criterion }| {
            let scored = by_criterion.get(criterion.code.as_str());
            api::CriterionScore {
                group: group.code.clone(),
                group_ar: group.name.ar.clone(),
                group_en: group.name.en.clone(),
                criterion: criterion.code.clone(),
                label_ar: criterion.label.ar.clone(),
                label_en: criterion.label.en.clone(),
                guidance_ar: criterion.guidance.ar.clone(),
                guidance_en: criterion.guidance.en.clone(),
                scale_min: criterion.scale.0,
                scale_max: criterion.scale.1,
                weight: criterion.weight,
                score: scored.map(|s| s.score),
                note: scored.map(|s| s.note.clone()).unwrap_or_default(),
            }
        })
        .collect();
    file.bands = research
        .bands
        .iter()
        .map(|b| api::ScoreBand {
            from_percent: b.from,
            suggests: b.suggests.to_string(),
            label_ar: b.label.ar.clone(),
            label_en: b.label.en.clone(),
        })
        .collect();
    if let Ok(Some(assessment)) = research.assess(&assignment.service_type, &score_values(scores)) {
        file.total_percent = Some(assessment.total);
        file.suggested = assessment.band.suggests.to_string();
        file.band_ar = assessment.band.label.ar.clone();
        file.band_en = assessment.band.label.en.clone();
    }
    file.service_label_ar = research.approval.service.ar.clone();
    file.service_label_en = research.approval.service.en.clone();
    file.amount_label_ar = research.approval.amount.ar.clone();
    file.amount_label_en = research.approval.amount.en.clone();
    file
}

/// The file as the committee receives it: who the researcher met by kind
/// and relation, without their names or telephone numbers, and the visits'
/// appointments without their place or the beneficiary's words. The
/// committee weighs what was found and never contacts anyone, and what it
/// keeps (hashed, with each decision) holds no personal data.
pub fn for_the_committee(mut file: api::ResearchFile) -> api::ResearchFile {
    for visit in &mut file.visits {
        for person in &mut visit.people_met {
            person.name.clear();
            person.contact.clear();
        }
    }
    for appointment in &mut file.appointments {
        appointment.place.clear();
        appointment.change_reason.clear();
    }
    file
}
