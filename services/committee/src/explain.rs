//! A decision explained, vote by vote, in Arabic and English, from the
//! evidence the committee decided on.

use masar_domain::{Bilingual, CaseStatus, Vote};
use masar_proto::committee::v1 as api;

pub(crate) fn decision_words(decision: &str) -> (&'static str, &'static str) {
    match CaseStatus::parse(decision) {
        Ok(CaseStatus::Approved) => ("الموافقة", "approved"),
        Ok(CaseStatus::Rejected) => ("الرفض", "rejected"),
        _ => ("التأجيل لاستكمال الدراسة", "deferred for more research"),
    }
}

pub(crate) fn vote_words(vote: &str) -> (&'static str, &'static str) {
    match Vote::parse(vote) {
        Ok(Vote::Approve) => ("موافقة", "approve"),
        Ok(Vote::Reject) => ("رفض", "reject"),
        _ => ("تأجيل", "defer"),
    }
}

pub(crate) fn recommendation_words(recommendation: &str) -> (&'static str, &'static str) {
    match recommendation {
        "approve" => ("الموافقة", "approving"),
        "reject" => ("الرفض", "rejecting"),
        _ => ("طلب مستندات", "more documents"),
    }
}

/// What was decided, by how many of the votes, each vote with its note, what
/// research found and proposed, the reasons, and the policy version.
pub fn explain(evidence: &api::Evidence) -> Bilingual {
    let (decided_ar, decided_en) = decision_words(&evidence.decision);
    let wanted = match CaseStatus::parse(&evidence.decision) {
        Ok(CaseStatus::Approved) => "approve",
        Ok(CaseStatus::Rejected) => "reject",
        _ => "defer",
    };
    let (for_it, cast) = (evidence.votes.iter().filter(|v| v.vote == wanted).count(), evidence.votes.len());
    let mut ar = format!("القرار {decided_ar} في الجولة {}، بـ{for_it} من {cast} أصوات.", evidence.round);
    let mut en = format!("{} in round {}, by {for_it} of {cast} votes.", capitalised(decided_en), evidence.round);
    for vote in &evidence.votes {
        let (v_ar, v_en) = vote_words(&vote.vote);
        let note = |text: &str| if vote.note.is_empty() { String::new() } else { format!(" ({text})") };
        ar.push_str(&format!(" {}: {v_ar}{}.", vote.member, note(&vote.note)));
        en.push_str(&format!(" {}: {v_en}{}.", vote.member, note(&vote.note)));
    }
    for recusal in &evidence.recusals {
        ar.push_str(&format!(" تنحّى {}: {}.", recusal.member, recusal.reason));
        en.push_str(&format!(" {} was recused: {}.", recusal.member, recusal.reason));
    }
    if let Some(research) = &evidence.research {
        for rule in &research.eligibility {
            let (v_ar, v_en) = match rule.verdict.as_str() {
                "met" => ("مستوفى", "met"),
                "not_met" => ("غير مستوفى", "not met"),
                _ => ("غير محسوم", "unclear"),
            };
            ar.push_str(&format!(" {}: {v_ar}.", rule.explanation_ar.trim_end_matches('.')));
            en.push_str(&format!(" {}: {v_en}.", rule.explanation_en.trim_end_matches('.')));
        }
        let (r_ar, r_en) = recommendation_words(&research.recommendation);
        if let Some(total) = research.total_percent {
            ar.push_str(&format!(" البحث الاجتماعي: المجموع {total} من 100 في فئة «{}».", research.band_ar));
            en.push_str(&format!(" Social research: a total of {total} of 100, in the band '{}'.", research.band_en));
        }
        // Sentences end once: the researcher's own full stops are dropped where another follows.
        let justification = research.justification.trim_end_matches(['.', ' ']);
        ar.push_str(&format!(" أوصى الباحث بـ{r_ar}: {justification}"));
        en.push_str(&format!(" The researcher recommended {r_en}: {justification}"));
        if !research.departure_reason.is_empty() {
            let departure = research.departure_reason.trim_end_matches(['.', ' ']);
            ar.push_str(&format!(" (خلافاً للفئة: {departure})"));
            en.push_str(&format!(" (departing from the band: {departure})"));
        }
        ar.push('.');
        en.push('.');
    }
    if !evidence.reasons.is_empty() {
        ar.push_str(&format!(" الأسباب: {}.", evidence.reasons.join("؛ ")));
        en.push_str(&format!(" Reasons: {}.", evidence.reasons.join("; ")));
    }
    if evidence.quorum > 0 {
        let (m_ar, m_en) = majority_words(&evidence.majority);
        ar.push_str(&format!(" النصاب {} أعضاء، ويقرر {m_ar}.", evidence.quorum));
        en.push_str(&format!(" Quorum {} members; {m_en} decide.", evidence.quorum));
    }
    ar.push_str(&format!(" نسخة السياسة {}.", evidence.policy_version));
    en.push_str(&format!(" Policy version {}.", evidence.policy_version));
    Bilingual::new(ar, en)
}

/// Which votes decide, as a sentence says it.
pub(crate) fn majority_words(majority: &str) -> (&'static str, &'static str) {
    if majority == "absolute" {
        ("أكثر من نصف الأصوات", "more than half of the votes")
    } else {
        ("أكثر الأصوات", "the most votes")
    }
}

pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_is_explained_vote_by_vote_in_both_languages() {
        let vote = |member: &str, vote: &str, note: &str| api::Vote {
            member: member.into(),
            vote: vote.into(),
            note: note.into(),
        };
        let evidence = api::Evidence {
            round: 2,
            policy_version: 4,
            decision: "approved".into(),
            votes: vec![vote("m1", "approve", "urgent"), vote("m2", "approve", ""), vote("m3", "reject", "")],
            research: Some(masar_proto::research::v1::ResearchFile {
                recommendation: "approve".into(),
                justification: "The roof may fall.".into(),
                total_percent: Some(88),
                band_ar: "حاجة ماسة".into(),
                band_en: "Urgent need".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let explained = explain(&evidence);
        assert!(
            explained.en.starts_with("Approved in round 2, by 2 of 3 votes. m1: approve (urgent)."),
            "{}",
            explained.en
        );
        assert!(explained.en.contains("a total of 88 of 100, in the band 'Urgent need'"), "{}", explained.en);
        assert!(explained.en.ends_with("Policy version 4."), "{}", explained.en);
        assert!(!explained.en.contains(".."), "{}", explained.en);
        assert!(explained.ar.contains("بـ2 من 3 أصوات") && explained.ar.contains("حاجة ماسة"), "{}", explained.ar);
    }
}
