//! Social research as a pack defines it: the criteria a researcher assesses
//! a case against (in groups, each with its scale, weight and guidance), the
//! score bands that suggest a recommendation, and the judgement of a
//! researcher's scores against them.

use crate::input::{TextRule, clean_texts, read_field};
use crate::policy::Checker;
use crate::text::{Bilingual, FieldError};
use crate::vocabulary::Recommendation;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// The highest a criterion's scale may reach (scores are small whole numbers).
pub const HIGHEST_SCALE: u32 = 100;

/// A pack's social-research criteria.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResearchCriteria {
    pub groups: Vec<CriteriaGroup>,
    /// Ascending by `from`, the first from 0: each band covers the totals up to the next.
    pub bands: Vec<ScoreBand>,
    /// What an approval proposes, in the association's words (Nuzul: the works and their estimated cost).
    pub approval: ApprovalTerms,
    /// Whom assignment prefers for some cases, where the pack says.
    pub preference: Option<ResearcherPreference>,
}

/// A pack's preference when a researcher is chosen: for the cases `when`
/// meets (a household headed by a woman, say), a researcher of `gender`
/// where one can take the case; otherwise whoever can.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResearcherPreference {
    pub gender: crate::roster::Gender,
    pub when: crate::eligibility::Condition,
    /// Why, as the assignment's reason says it.
    pub reason: Bilingual,
}

impl ResearchCriteria {
    /// The gender a case's researcher is preferred of, and why, if the pack's preference meets its facts.
    pub fn preferred_researcher(&self, facts: &crate::eligibility::Facts) -> Option<crate::roster::Preference> {
        self.preference
            .as_ref()
            .filter(|p| p.when.evaluate(facts) == crate::eligibility::Verdict::Met)
            .map(|p| crate::roster::Preference { gender: p.gender, reason: p.reason.clone() })
    }
}

/// A group of criteria, e.g. housing condition or income and expenses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriteriaGroup {
    pub code: String,
    pub name: Bilingual,
    /// Empty: the group applies to every service type.
    pub service_types: Vec<String>,
    pub criteria: Vec<Criterion>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub code: String,
    pub label: Bilingual,
    /// How to score it: what each end of the scale means.
    pub guidance: Bilingual,
    /// The lowest score (no need) and the highest (the greatest need).
    pub scale: (u32, u32),
    pub weight: u32,
}

/// Totals from `from` (a percentage of the greatest need) up to the next band suggest `suggests`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreBand {
    pub from: u32,
    pub suggests: Recommendation,
    pub label: Bilingual,
}

/// The labels of what an approval proposes: the service, and its amount in riyals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalTerms {
    pub service: Bilingual,
    pub amount: Bilingual,
}

/// A criterion of a case's service type, with the group it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct CaseCriterion<'a> {
    pub group: &'a CriteriaGroup,
    pub criterion: &'a Criterion,
}

/// A complete set of scores judged: the weighted total and the band it falls in.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment<'a> {
    /// 0 (no need on any criterion) to 100 (the greatest need on every one).
    pub total: u32,
    pub band: &'a ScoreBand,
}

impl ResearchCriteria {
    /// The criteria a case of this service type is scored on, in the pack's order.
    pub fn for_service(&self, service_type: &str) -> Vec<CaseCriterion<'_>> {
        self.groups
            .iter()
            .filter(|g| g.service_types.is_empty() || g.service_types.iter().any(|s| s == service_type))
            .flat_map(|group| group.criteria.iter().map(move |criterion| CaseCriterion { group, criterion }))
            .collect()
    }

    /// Checks scores entered for a case (`scores[i]` located); nothing is
    /// kept unless all of them are right.
    pub fn check_scores(&self, service_type: &str, scores: &[(&str, u32)]) -> Vec<FieldError> {
        let criteria = self.for_service(service_type);
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        for (i, (code, score)) in scores.iter().enumerate() {
            let Some(found) = criteria.iter().find(|c| c.criterion.code == *code) else {
                problems.push(FieldError::new(
                    format!("scores[{i}].criterion"),
                    Bilingual::new(
                        format!("المعيار '{code}' ليس من معايير البحث الاجتماعي لهذه الخدمة"),
                        format!("'{code}' is not a social-research criterion of this service"),
                    ),
                ));
                continue;
            };
            if !seen.insert(*code) {
                problems.push(FieldError::new(
                    format!("scores[{i}].criterion"),
                    Bilingual::new(format!("المعيار '{code}' مكرر"), format!("the criterion '{code}' is given twice")),
                ));
            }
            let (lowest, highest) = found.criterion.scale;
            if !(lowest..=highest).contains(score) {
                let label = &found.criterion.label;
                problems.push(FieldError::new(
                    format!("scores[{i}].score"),
                    Bilingual::new(
                        format!("درجة «{}» من {lowest} إلى {highest}", label.ar),
                        format!("the score of '{}' is from {lowest} to {highest}", label.en),
                    ),
                ));
            }
        }
        problems
    }

    /// The weighted total of a complete set of scores, and its band; or the
    /// criteria still unscored.
    pub fn assess<'a>(
        &'a self,
        service_type: &str,
        scores: &HashMap<String, u32>,
    ) -> Result<Option<Assessment<'a>>, Vec<&'a Criterion>> {
        let criteria = self.for_service(service_type);
        let missing: Vec<&Criterion> =
            criteria.iter().map(|c| c.criterion).filter(|c| !scores.contains_key(&c.code)).collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        if criteria.is_empty() {
            return Ok(None);
        }
        let (mut weighted, mut weights) = (0.0, 0.0);
        for CaseCriterion { criterion, .. } in &criteria {
            let (lowest, highest) = criterion.scale;
            let score = scores[&criterion.code].clamp(lowest, highest);
            weighted += f64::from(criterion.weight) * f64::from(score - lowest) / f64::from(highest - lowest);
            weights += f64::from(criterion.weight);
        }
        let total = (100.0 * weighted / weights).round() as u32;
        Ok(Some(Assessment { total, band: self.band(total) }))
    }

    /// The band a total falls in.
    pub fn band(&self, total: u32) -> &ScoreBand {
        self.bands.iter().rev().find(|b| b.from <= total).unwrap_or(&self.bands[0])
    }
}

/// The refusal of a recommendation while criteria are unscored, naming them.
pub fn unscored(missing: &[&Criterion]) -> FieldError {
    let names =
        |pick: fn(&Bilingual) -> &str, sep: &str| missing.iter().map(|c| pick(&c.label)).collect::<Vec<_>>().join(sep);
    FieldError::new(
        "scores",
        Bilingual::new(
            format!("قيّم كل معايير البحث الاجتماعي قبل التوصية؛ لم تُقيّم: {}", names(|b| &b.ar, "، ")),
            format!(
                "Score every social-research criterion before recommending; not scored: {}",
                names(|b| &b.en, ", ")
            ),
        ),
    )
}

/// The most reasons a rejection may give.
pub const MOST_REASONS: usize = 10;

/// What a researcher recommends, as they entered it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecommendationEntered<'a> {
    pub recommendation: &'a str,
    pub justification: &'a str,
    pub service: &'a str,
    pub amount_sar: u64,
    pub reasons: &'a [String],
    pub departure_reason: &'a str,
    /// More documents: exactly what the beneficiary is to bring.
    pub documents_requested: &'a [String],
}

/// What a recommendation proposes beside approve or reject, as stored and
/// carried to the committee.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Proposal {
    /// Approve: the service to give and its amount in riyals.
    pub service: String,
    pub amount_sar: u64,
    /// Reject: why.
    pub reasons: Vec<String>,
    /// Why the recommendation is not the one the total's band suggests.
    pub departure_reason: String,
    /// The weighted total when recommended; none when the version has no criteria.
    pub total: Option<u32>,
    /// More documents: what the beneficiary is asked to bring.
    pub documents_requested: Vec<String>,
}

/// A recommendation accepted: what it is, why, and what it proposes.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommended {
    pub recommendation: Recommendation,
    pub justification: String,
    pub proposal: Proposal,
}

/// Checks a recommendation against the case's criteria and scores: every
/// criterion scored, the service and amount of an approval or the reasons of
/// a rejection, and a reason to depart from the band the total falls in.
/// Every problem is reported at once, each at its field.
pub fn check_recommendation(
    criteria: Option<&ResearchCriteria>,
    service_type: &str,
    scores: &HashMap<String, u32>,
    entered: RecommendationEntered<'_>,
) -> Result<Recommended, Vec<FieldError>> {
    let mut problems = Vec::new();
    let justification = read_field("justification", entered.justification, TextRule::NOTE, true, &mut problems);
    let recommendation = Recommendation::parse(entered.recommendation).ok();
    let approving = recommendation == Some(Recommendation::Approve);
    let service = read_field("service", entered.service, TextRule::NOTE, approving, &mut problems);
    let departure_reason =
        read_field("departure_reason", entered.departure_reason, TextRule::NOTE, false, &mut problems);
    if recommendation.is_none() {
        problems.push(FieldError::new(
            "recommendation",
            Bilingual::new(
                "التوصية approve أو reject أو more_documents",
                "The recommendation is approve, reject or more_documents",
            ),
        ));
    }
    let asking = recommendation == Some(Recommendation::MoreDocuments);
    let documents_requested =
        clean_texts("documents_requested", entered.documents_requested, TextRule::LINE, MOST_REASONS)
            .map_err(|p| problems.push(p))
            .unwrap_or_default();
    if asking && documents_requested.is_empty() && !problems.iter().any(|p| p.field == "documents_requested") {
        problems.push(FieldError::new(
            "documents_requested",
            Bilingual::new("حدد المستندات المطلوبة من المستفيد", "Say which documents the beneficiary is to bring"),
        ));
    }
    if approving && entered.amount_sar == 0 {
        problems.push(FieldError::new(
            "amount_sar",
            Bilingual::new("أدخل المبلغ بالريال (أكبر من صفر)", "Enter the amount in riyals (more than zero)"),
        ));
    }
    let reasons = clean_texts("reasons", entered.reasons, TextRule::LINE, MOST_REASONS)
        .map_err(|p| problems.push(p))
        .unwrap_or_default();
    if recommendation == Some(Recommendation::Reject) && reasons.is_empty() && entered.reasons.len() <= MOST_REASONS {
        problems.push(FieldError::new(
            "reasons",
            Bilingual::new("اذكر سببًا واحدًا على الأقل للرفض", "Give at least one reason for rejecting"),
        ));
    }
    // Asking for documents comes before the scoring they may change.
    let assessment = match criteria.filter(|_| !asking).map(|c| c.assess(service_type, scores)).transpose() {
        Ok(assessment) => assessment.flatten(),
        Err(missing) => {
            problems.push(unscored(&missing));
            None
        }
    };
    if let (Some(assessment), Some(recommendation)) = (&assessment, recommendation)
        && assessment.band.suggests != recommendation
        && departure_reason.is_empty()
        && !problems.iter().any(|p| p.field == "departure_reason")
    {
        let band = &assessment.band.label;
        let total = assessment.total;
        problems.push(FieldError::new(
            "departure_reason",
            Bilingual::new(
                format!("المجموع {total} من 100 في فئة «{}»؛ اذكر سبب التوصية بخلافها", band.ar),
                format!("The total {total} of 100 is in the band '{}'; say why you recommend otherwise", band.en),
            ),
        ));
    }
    let Some(recommendation) = recommendation.filter(|_| problems.is_empty()) else {
        return Err(problems);
    };
    let approving = recommendation == Recommendation::Approve;
    Ok(Recommended {
        recommendation,
        justification,
        proposal: Proposal {
            service: if approving { service } else { String::new() },
            amount_sar: if approving { entered.amount_sar } else { 0 },
            reasons: if recommendation == Recommendation::Reject { reasons } else { Vec::new() },
            departure_reason,
            total: assessment.map(|a| a.total),
            documents_requested: if recommendation == Recommendation::MoreDocuments {
                documents_requested
            } else {
                Vec::new()
            },
        },
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResearch {
    approval_service_ar: String,
    approval_service_en: String,
    approval_amount_ar: String,
    approval_amount_en: String,
    #[serde(default)]
    groups: Vec<RawGroup>,
    #[serde(default)]
    bands: Vec<RawBand>,
    preference: Option<RawPreference>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreference {
    researcher_gender: String,
    when: toml::Value,
    reason_ar: String,
    reason_en: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    code: String,
    name_ar: String,
    name_en: String,
    #[serde(default)]
    service_types: Vec<String>,
    #[serde(default)]
    criteria: Vec<RawCriterion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCriterion {
    code: String,
    label_ar: String,
    label_en: String,
    guidance_ar: String,
    guidance_en: String,
    scale: [u32; 2],
    weight: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    from: u32,
    suggests: String,
    label_ar: String,
    label_en: String,
}

impl RawResearch {
    /// Validates the `[research]` section against the pack's service types.
    pub(crate) fn validate(self, check: &mut Checker, service_types: &[&str]) -> ResearchCriteria {
        let preference = self.preference.and_then(|raw| {
            check.required("research.preference.reason_ar", &raw.reason_ar);
            check.required("research.preference.reason_en", &raw.reason_en);
            let gender = crate::roster::Gender::parse(&raw.researcher_gender).map_err(|_| {
                check.problem(
                    "research.preference.researcher_gender",
                    "الجنس female أو male",
                    "the gender is female or male",
                )
            });
            let when = crate::policy::condition(check, "research.preference.when", &raw.when);
            match (gender, when) {
                (Ok(gender), Some(when)) => {
                    Some(ResearcherPreference { gender, when, reason: Bilingual::new(raw.reason_ar, raw.reason_en) })
                }
                _ => None,
            }
        });
        check.required("research.approval_service_ar", &self.approval_service_ar);
        check.required("research.approval_service_en", &self.approval_service_en);
        check.required("research.approval_amount_ar", &self.approval_amount_ar);
        check.required("research.approval_amount_en", &self.approval_amount_en);
        if self.groups.is_empty() {
            check.problems.push(FieldError::required("research.groups"));
        }
        check.unique("research.groups", self.groups.iter().map(|g| g.code.as_str()));
        let mut criterion_codes = HashSet::new();
        for (i, group) in self.groups.iter().enumerate() {
            let at = format!("research.groups[{i}]");
            check.required(&format!("{at}.name_ar"), &group.name_ar);
            check.required(&format!("{at}.name_en"), &group.name_en);
            check.known_service_types(&at, &group.service_types, service_types);
            if group.criteria.is_empty() {
                check.problems.push(FieldError::required(&format!("{at}.criteria")));
            }
            for (j, criterion) in group.criteria.iter().enumerate() {
                let at = format!("{at}.criteria[{j}]");
                check.required(&format!("{at}.code"), &criterion.code);
                // One code names one criterion across the groups: scores are stored by it.
                if !criterion_codes.insert(criterion.code.as_str()) {
                    check.problem(
                        format!("{at}.code"),
                        format!("الرمز '{}' مكرر", criterion.code),
                        format!("the code '{}' is used twice", criterion.code),
                    );
                }
                for (field, value) in [
                    ("label_ar", &criterion.label_ar),
                    ("label_en", &criterion.label_en),
                    ("guidance_ar", &criterion.guidance_ar),
                    ("guidance_en", &criterion.guidance_en),
                ] {
                    check.required(&format!("{at}.{field}"), value);
                }
                let [lowest, highest] = criterion.scale;
                if lowest >= highest || highest > HIGHEST_SCALE {
                    check.problem(
                        format!("{at}.scale"),
                        format!("المقياس [أدنى، أعلى] والأدنى أقل من الأعلى والأعلى لا يتجاوز {HIGHEST_SCALE}"),
                        format!(
                            "the scale is [lowest, highest], lowest under highest, highest at most {HIGHEST_SCALE}"
                        ),
                    );
                }
                if criterion.weight == 0 {
                    check.problem(format!("{at}.weight"), "الوزن أكبر من صفر", "the weight is more than zero");
                }
            }
        }
        let mut bands = Vec::new();
        if self.bands.is_empty() {
            check.problems.push(FieldError::required("research.bands"));
        }
        for (i, band) in self.bands.iter().enumerate() {
            let at = format!("research.bands[{i}]");
            let expected_first = i == 0 && band.from != 0;
            let not_ascending = i > 0 && band.from <= self.bands[i - 1].from;
            if expected_first || not_ascending || band.from > 100 {
                check.problem(
                    format!("{at}.from"),
                    "تبدأ الفئات من 0 وتتصاعد حتى 100 على الأكثر",
                    "the bands start at 0 and rise, to 100 at most",
                );
            }
            check.required(&format!("{at}.label_ar"), &band.label_ar);
            check.required(&format!("{at}.label_en"), &band.label_en);
            match Recommendation::parse(&band.suggests).ok().filter(|r| *r != Recommendation::MoreDocuments) {
                Some(suggests) => bands.push(ScoreBand {
                    from: band.from,
                    suggests,
                    label: Bilingual::new(&band.label_ar, &band.label_en),
                }),
                None => check.problem(
                    format!("{at}.suggests"),
                    "تقترح الفئة approve أو reject",
                    "a band suggests approve or reject",
                ),
            }
        }
        ResearchCriteria {
            groups: self
                .groups
                .into_iter()
                .map(|g| CriteriaGroup {
                    code: g.code,
                    name: Bilingual::new(g.name_ar, g.name_en),
                    service_types: g.service_types,
                    criteria: g
                        .criteria
                        .into_iter()
                        .map(|c| Criterion {
                            code: c.code,
                            label: Bilingual::new(c.label_ar, c.label_en),
                            guidance: Bilingual::new(c.guidance_ar, c.guidance_en),
                            scale: (c.scale[0], c.scale[1]),
                            weight: c.weight,
                        })
                        .collect(),
                })
                .collect(),
            bands,
            approval: ApprovalTerms {
                service: Bilingual::new(self.approval_service_ar, self.approval_service_en),
                amount: Bilingual::new(self.approval_amount_ar, self.approval_amount_en),
            },
            preference,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyPack;

    const HAYAT: &str = include_str!("../../../policies/hayat-v2.toml");

    fn scores(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(c, s)| ((*c).to_owned(), *s)).collect()
    }

    #[test]
    fn the_weighted_total_falls_in_a_band() {
        let pack = PolicyPack::from_toml(HAYAT).unwrap();
        let research = pack.research.as_ref().unwrap();
        let criteria = research.for_service("treatment_support");
        assert!(criteria.len() >= 4, "{criteria:?}");
        let highest: Vec<(&str, u32)> =
            criteria.iter().map(|c| (c.criterion.code.as_str(), c.criterion.scale.1)).collect();
        let lowest: Vec<(&str, u32)> =
            criteria.iter().map(|c| (c.criterion.code.as_str(), c.criterion.scale.0)).collect();
        let all = research.assess("treatment_support", &scores(&highest)).unwrap().unwrap();
        assert_eq!((all.total, all.band.suggests), (100, Recommendation::Approve));
        let none = research.assess("treatment_support", &scores(&lowest)).unwrap().unwrap();
        assert_eq!((none.total, none.band.suggests), (0, Recommendation::Reject));
        let missing = research.assess("treatment_support", &scores(&highest[1..])).unwrap_err();
        assert_eq!(missing.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), [highest[0].0]);
        assert!(unscored(&missing).message.en.contains(&missing[0].label.en));
    }

    #[test]
    fn a_recommendation_needs_every_score_its_terms_and_a_reason_to_depart_from_the_band() {
        let pack = PolicyPack::from_toml(HAYAT).unwrap();
        let research = pack.research.as_ref();
        let criteria = research.unwrap().for_service("treatment_support");
        let highest =
            scores(&criteria.iter().map(|c| (c.criterion.code.as_str(), c.criterion.scale.1)).collect::<Vec<_>>());
        let fields = |scores: &HashMap<String, u32>, entered| -> Vec<String> {
            match check_recommendation(research, "treatment_support", scores, entered) {
                Ok(_) => Vec::new(),
                Err(problems) => problems.into_iter().map(|p| p.field).collect(),
            }
        };
        let approve = RecommendationEntered {
            recommendation: "approve",
            justification: "The surgery cannot wait.",
            service: "Knee surgery at the quoted hospital",
            amount_sar: 18_500,
            ..Default::default()
        };
        let recommended = check_recommendation(research, "treatment_support", &highest, approve).unwrap();
        assert_eq!(recommended.proposal.total, Some(100));
        assert_eq!(recommended.proposal.amount_sar, 18_500);
        assert_eq!(fields(&HashMap::new(), approve), ["scores"]);
        assert_eq!(
            fields(&highest, RecommendationEntered { service: "", amount_sar: 0, ..approve }),
            ["service", "amount_sar"]
        );
        let reject =
            RecommendationEntered { recommendation: "reject", justification: "Covered.", ..Default::default() };
        assert_eq!(fields(&highest, reject), ["reasons", "departure_reason"]);
        let reasons = ["Insurance covers it".to_owned()];
        let departing =
            RecommendationEntered { reasons: &reasons, departure_reason: "The insurer confirmed cover.", ..reject };
        let recommended = check_recommendation(research, "treatment_support", &highest, departing).unwrap();
        assert_eq!((recommended.proposal.reasons.len(), recommended.proposal.service.as_str()), (1, ""));
        assert_eq!(fields(&highest, RecommendationEntered { recommendation: "maybe", ..approve }), ["recommendation"]);
        // More documents: no scores needed yet, but the documents named.
        let asking = RecommendationEntered {
            recommendation: "more_documents",
            justification: "The deed is unreadable.",
            ..Default::default()
        };
        assert_eq!(fields(&HashMap::new(), asking), ["documents_requested"]);
        let deed = ["A readable copy of the title deed".to_owned()];
        let asked = check_recommendation(
            research,
            "treatment_support",
            &HashMap::new(),
            RecommendationEntered { documents_requested: &deed, ..asking },
        )
        .unwrap();
        assert_eq!(
            (asked.recommendation, asked.proposal.documents_requested.len(), asked.proposal.total),
            (Recommendation::MoreDocuments, 1, None)
        );
        // A version without criteria asks for no scores.
        assert!(check_recommendation(None, "treatment_support", &HashMap::new(), approve).is_ok());
    }

    #[test]
    fn the_packs_say_how_their_committee_decides() {
        use crate::committee::{CommitteeRules, Majority, MeetingScope};
        let hayat = PolicyPack::from_toml(HAYAT).unwrap();
        assert_eq!(
            hayat.committee,
            CommitteeRules { quorum: 2, majority: Majority::Absolute, meetings: MeetingScope::Association }
        );
        let older = PolicyPack::from_toml(include_str!("../../../policies/hayat.toml")).unwrap();
        assert_eq!(older.committee, CommitteeRules::default(), "versions before it keep two votes, the most of them");
        let broken = HAYAT
            .replace("quorum = 2", "quorum = 0")
            .replace("majority = \"absolute\"", "majority = \"loudest\"")
            .replace("meetings = \"association\"", "meetings = \"monthly\"");
        let fields: Vec<_> = PolicyPack::from_toml(&broken).unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["committee.quorum", "committee.majority", "committee.meetings"]);
    }

    #[test]
    fn a_group_applies_to_the_service_types_it_names() {
        let nuzul = PolicyPack::from_toml(include_str!("../../../policies/nuzul-v4.toml")).unwrap();
        let research = nuzul.research.as_ref().unwrap();
        let codes = |service: &str| -> Vec<String> {
            research.for_service(service).iter().map(|c| c.criterion.code.clone()).collect()
        };
        assert!(codes("accessibility").contains(&"adaptation_need".to_owned()));
        assert!(!codes("roof_repair").contains(&"adaptation_need".to_owned()));
        assert_eq!(codes("roof_repair").len() + 1, codes("accessibility").len());
    }

    #[test]
    fn a_score_is_refused_outside_its_scale_or_for_an_unknown_criterion() {
        let pack = PolicyPack::from_toml(HAYAT).unwrap();
        let research = pack.research.as_ref().unwrap();
        let first = &research.for_service("treatment_support")[0].criterion;
        let problems = research
            .check_scores("treatment_support", &[(&first.code, first.scale.1 + 1), ("shoe_size", 1), (&first.code, 0)]);
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["scores[0].score", "scores[1].criterion", "scores[2].criterion"]);
    }

    #[test]
    fn the_research_section_is_validated_with_locations() {
        let broken = HAYAT
            .replacen("scale = [0, 4]", "scale = [3, 3]", 1)
            .replacen("weight = 3", "weight = 0", 1)
            .replacen("suggests = \"approve\"", "suggests = \"maybe\"", 1)
            .replacen("service_types = [\"home_care\"", "service_types = [\"magic\"", 1);
        let problems = PolicyPack::from_toml(&broken).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"research.groups[0].criteria[0].scale"), "{fields:?}");
        assert!(fields.iter().any(|f| f.starts_with("research.groups[") && f.ends_with("].weight")), "{fields:?}");
        assert!(fields.iter().any(|f| f.starts_with("research.bands[") && f.ends_with("].suggests")), "{fields:?}");
        assert!(
            fields.iter().any(|f| f.starts_with("research.groups[") && f.contains("].service_types[")),
            "{fields:?}"
        );
        let unordered = HAYAT.replacen("from = 0", "from = 10", 1);
        let problems = PolicyPack::from_toml(&unordered).unwrap_err();
        assert_eq!(problems[0].field, "research.bands[0].from");
    }
}
