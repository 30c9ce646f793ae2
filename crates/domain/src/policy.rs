//! Policy packs: an association's board-approved policy as configuration.
//! One TOML file per association and version; a third association is a new
//! file, not new code. Parsing reports every problem with its location.

use crate::calendar::{DualDate, HijriDate, parse_gregorian};
use crate::eligibility::{Condition, FactKind, FactQuestion, FactValue, Facts, RuleOutcome, Verdict, fact_definition};
use crate::text::{Bilingual, FieldError};
use crate::vocabulary::{ActorRole, Channel};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The shortest committee reply period a policy may promise ("not less than two weeks").
pub const MINIMUM_COMMITTEE_REPLY_DAYS: u32 = 14;

/// One version of one association's policy, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyPack {
    pub association: String,
    pub name: Bilingual,
    pub version: u32,
    /// From this day on the version replaces every earlier one.
    pub effective_from: NaiveDate,
    pub approval: BoardApproval,
    /// Short prefix of human request references, e.g. "NZL".
    pub reference_prefix: String,
    /// Who explains the procedure when it is unclear to a beneficiary.
    pub referral_role: ActorRole,
    pub committee_reply_days: u32,
    /// The project manager may verify a request without confirming each
    /// required document one by one (both policies say they must: false).
    pub document_reviews_optional: bool,
    /// Whether the request form asks where the applicant lives (for the researcher's visit).
    pub address: crate::address::AddressAsked,
    pub channels: Vec<Channel>,
    pub attestation: Attestation,
    pub branches: Vec<Branch>,
    pub documents: Vec<DocumentKind>,
    pub service_types: Vec<ServiceType>,
    pub eligibility: Vec<EligibilityRule>,
    /// The social-research criteria the researcher scores (absent in versions before they were set).
    pub research: Option<crate::research::ResearchCriteria>,
    /// How the research committee decides (two votes, the most of them, in versions that do not say).
    pub committee: crate::committee::CommitteeRules,
    /// The association's own closures, beside the official holidays, for its working calendar.
    pub closures: Vec<crate::working_days::Closure>,
    /// Working days per stage (verification, research, committee), where the pack sets them.
    pub targets: Option<crate::working_days::StageTargets>,
    /// The steps an approved service is delivered in (absent: delivery is recorded in one go).
    pub delivery: Option<crate::delivery::DeliveryPlan>,
}

/// The board's approval of a version: a numbered meeting of a numbered term, on a Hijri date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoardApproval {
    pub meeting: u32,
    pub board_term: u32,
    pub approved_on: DualDate,
}

/// The statement the applicant attests before submitting; its version is recorded with the attestation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attestation {
    pub version: String,
    pub text: Bilingual,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Branch {
    pub code: String,
    pub name: Bilingual,
    pub city: String,
}

/// A kind of supporting document and the rules that make it valid at submission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentKind {
    pub code: String,
    pub name: Bilingual,
    /// The document carries an expiry date, which must not have passed at submission.
    pub must_not_be_expired: bool,
    /// The document must have been issued within this many days before submission.
    pub issued_within_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceType {
    pub code: String,
    pub name: Bilingual,
    pub required_documents: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EligibilityRule {
    pub code: String,
    /// Empty: the rule applies to every service type.
    pub service_types: Vec<String>,
    pub explanation: Bilingual,
    pub condition: Condition,
}

/// Why a document is not valid at submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentValidity {
    Valid,
    ExpiredAtSubmission,
    IssuedTooLongAgo,
    /// The rule needs a date the applicant did not give.
    DateMissing,
}

impl DocumentKind {
    /// Checks the validity rules against the day of submission.
    pub fn validity(
        &self,
        issued_on: Option<NaiveDate>,
        expires_on: Option<NaiveDate>,
        submitted_on: NaiveDate,
    ) -> DocumentValidity {
        if self.must_not_be_expired {
            match expires_on {
                None => return DocumentValidity::DateMissing,
                Some(expiry) if expiry < submitted_on => return DocumentValidity::ExpiredAtSubmission,
                Some(_) => {}
            }
        }
        if let Some(days) = self.issued_within_days {
            match issued_on {
                None => return DocumentValidity::DateMissing,
                Some(issued) if issued + chrono::Days::new(u64::from(days)) < submitted_on => {
                    return DocumentValidity::IssuedTooLongAgo;
                }
                Some(_) => {}
            }
        }
        DocumentValidity::Valid
    }
}

impl PolicyPack {
    /// Days a delivered service waits for its rating before the case closes by itself.
    pub fn unrated_closes_after_days(&self) -> u32 {
        self.delivery.as_ref().map_or(crate::delivery::UNRATED_CLOSES_AFTER_DAYS, |plan| plan.unrated_closes_after_days)
    }

    pub fn branch(&self, code: &str) -> Option<&Branch> {
        self.branches.iter().find(|b| b.code == code)
    }

    pub fn service_type(&self, code: &str) -> Option<&ServiceType> {
        self.service_types.iter().find(|s| s.code == code)
    }

    pub fn document(&self, code: &str) -> Option<&DocumentKind> {
        self.documents.iter().find(|d| d.code == code)
    }

    /// The documents a request of this service type must carry, in the policy's order.
    pub fn required_documents(&self, service_type: &str) -> Vec<&DocumentKind> {
        self.service_type(service_type)
            .map(|s| s.required_documents.iter().filter_map(|code| self.document(code)).collect())
            .unwrap_or_default()
    }

    pub fn rules_for<'a>(&'a self, service_type: &'a str) -> impl Iterator<Item = &'a EligibilityRule> + 'a {
        self.eligibility
            .iter()
            .filter(move |r| r.service_types.is_empty() || r.service_types.iter().any(|s| s == service_type))
    }

    /// The facts an applicant for this service type is asked: those its rules
    /// name, with the inputs of derived ones in their place.
    pub fn facts_asked(&self, service_type: &str) -> Vec<FactQuestion> {
        let mut asked: Vec<FactQuestion> = Vec::new();
        for rule in self.rules_for(service_type) {
            let required = rule.condition.required_fields();
            for name in rule.condition.fields() {
                let Some(definition) = fact_definition(name) else { continue };
                for fact in definition.asked_inputs().iter().filter_map(|input| fact_definition(input)) {
                    let question = FactQuestion { fact, required: required.contains(&name) };
                    match asked.iter_mut().find(|a| a.fact.name == fact.name) {
                        Some(existing) => existing.required |= question.required,
                        None => asked.push(question),
                    }
                }
            }
        }
        // What the researcher's assignment may prefer on is asked too, never required.
        let preferred_on = self.research.iter().flat_map(|r| r.preference.iter()).flat_map(|p| p.when.fields());
        for fact in preferred_on.filter_map(fact_definition) {
            if !asked.iter().any(|a| a.fact.name == fact.name) {
                asked.push(FactQuestion { fact, required: false });
            }
        }
        asked
    }

    /// Every rule of this service type, judged on these facts.
    pub fn evaluate(&self, service_type: &str, facts: &Facts) -> Vec<RuleOutcome> {
        self.rules_for(service_type)
            .map(|rule| {
                let verdict = rule.condition.evaluate(facts);
                let missing_facts =
                    if verdict == Verdict::Unknown { rule.condition.missing_facts(facts) } else { Vec::new() };
                RuleOutcome { rule: rule.code.clone(), verdict, explanation: rule.explanation.clone(), missing_facts }
            })
            .collect()
    }

    /// The date the beneficiary is told to expect the committee's reply.
    pub fn expected_decision_on(&self, submitted_on: NaiveDate) -> NaiveDate {
        let days = self.committee_reply_days.max(MINIMUM_COMMITTEE_REPLY_DAYS);
        submitted_on + chrono::Days::new(u64::from(days))
    }

    /// Parses and validates one policy file; every problem is reported with its location.
    pub fn from_toml(text: &str) -> Result<Self, Vec<FieldError>> {
        let raw: RawPack = toml::from_str(text).map_err(|e| {
            let location = match e.span() {
                Some(span) => format!("line {}", text[..span.start].matches('\n').count() + 1),
                None => "file".to_owned(),
            };
            vec![FieldError::new(
                location,
                Bilingual::new(
                    format!("ملف السياسة غير صالح: {}", e.message()),
                    format!("the policy file is not valid: {}", e.message()),
                ),
            )]
        })?;
        let mut check = Checker::default();
        let pack = raw.validate(&mut check);
        if check.problems.is_empty() { Ok(pack) } else { Err(check.problems) }
    }
}

/// Gathers a pack's problems, each with its location (shared with the pack's sections in other modules).
#[derive(Default)]
pub(crate) struct Checker {
    pub(crate) problems: Vec<FieldError>,
}

impl Checker {
    pub(crate) fn problem(&mut self, location: impl Into<String>, ar: impl Into<String>, en: impl Into<String>) {
        self.problems.push(FieldError::new(location, Bilingual::new(ar, en)));
    }

    pub(crate) fn required(&mut self, location: &str, value: &str) {
        if value.trim().is_empty() {
            self.problems.push(FieldError::required(location));
        }
    }

    pub(crate) fn unique<'a>(&mut self, location: &str, codes: impl IntoIterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for (i, code) in codes.into_iter().enumerate() {
            self.required(&format!("{location}[{i}].code"), code);
            if !seen.insert(code) {
                self.problem(
                    format!("{location}[{i}].code"),
                    format!("الرمز '{code}' مكرر"),
                    format!("the code '{code}' is used twice"),
                );
            }
        }
    }

    /// Each of `codes` (at `location[j]`) names one of the pack's service types.
    pub(crate) fn known_service_types(&mut self, location: &str, codes: &[String], service_types: &[&str]) {
        for (j, code) in codes.iter().enumerate() {
            if !service_types.contains(&code.as_str()) {
                self.problem(
                    format!("{location}.service_types[{j}]"),
                    format!("نوع خدمة غير معرّف '{code}'"),
                    format!("unknown service type '{code}'"),
                );
            }
        }
    }

    fn date(&mut self, location: &str, text: &str) -> Option<NaiveDate> {
        let parsed = parse_gregorian(text).ok();
        if parsed.is_none() {
            self.problem(
                location,
                format!("'{text}' ليس تاريخًا ميلاديًا صحيحًا (YYYY-MM-DD)"),
                format!("'{text}' is not a valid Gregorian date (YYYY-MM-DD)"),
            );
        }
        parsed
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    association: String,
    name_ar: String,
    name_en: String,
    version: u32,
    effective_from: String,
    reference_prefix: String,
    referral_role: String,
    committee_reply_days: u32,
    #[serde(default)]
    document_reviews_optional: bool,
    #[serde(default)]
    address: Option<String>,
    channels: Vec<String>,
    approval: RawApproval,
    attestation: RawAttestation,
    #[serde(default)]
    branches: Vec<RawBranch>,
    #[serde(default)]
    documents: Vec<RawDocument>,
    #[serde(default)]
    service_types: Vec<RawServiceType>,
    #[serde(default)]
    eligibility: Vec<RawRule>,
    research: Option<crate::research::RawResearch>,
    committee: Option<crate::committee::RawCommittee>,
    #[serde(default)]
    closures: Vec<crate::working_days::RawClosure>,
    targets: Option<crate::working_days::StageTargets>,
    delivery: Option<crate::delivery::RawDelivery>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    meeting: u32,
    board_term: u32,
    approved_on_hijri: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttestation {
    version: String,
    text_ar: String,
    text_en: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    code: String,
    name_ar: String,
    name_en: String,
    city: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    code: String,
    name_ar: String,
    name_en: String,
    #[serde(default)]
    must_not_be_expired: bool,
    issued_within_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServiceType {
    code: String,
    name_ar: String,
    name_en: String,
    #[serde(default)]
    required_documents: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    code: String,
    #[serde(default)]
    service_types: Vec<String>,
    explanation_ar: String,
    explanation_en: String,
    when: toml::Value,
}

impl RawPack {
    fn validate(self, check: &mut Checker) -> PolicyPack {
        check.required("association", &self.association);
        if !self.association.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            check.problem(
                "association",
                "رمز الجمعية يتكون من حروف إنجليزية صغيرة وأرقام",
                "the association code is lowercase letters, digits and '_'",
            );
        }
        check.required("name_ar", &self.name_ar);
        check.required("name_en", &self.name_en);
        check.required("reference_prefix", &self.reference_prefix);
        if self.version == 0 {
            check.problem("version", "رقم الإصدار يبدأ من 1", "the version starts at 1");
        }
        if self.committee_reply_days < MINIMUM_COMMITTEE_REPLY_DAYS {
            check.problem(
                "committee_reply_days",
                format!("مدة رد اللجنة لا تقل عن {MINIMUM_COMMITTEE_REPLY_DAYS} يومًا"),
                format!("the committee reply period is not less than {MINIMUM_COMMITTEE_REPLY_DAYS} days"),
            );
        }
        let referral_role = match ActorRole::parse(&self.referral_role) {
            Ok(role) if role.is_staff() => role,
            _ => {
                check.problem(
                    "referral_role",
                    format!("'{}' ليس دورًا من أدوار الموظفين", self.referral_role),
                    format!("'{}' is not a staff role", self.referral_role),
                );
                ActorRole::AssociationAdmin
            }
        };
        let address = match self.address.as_deref().map(crate::address::AddressAsked::parse) {
            None => crate::address::AddressAsked::NotAsked,
            Some(Ok(asked)) => asked,
            Some(Err(_)) => {
                check.problem(
                    "address",
                    "العنوان إما required أو optional أو not_asked",
                    "address is one of required, optional, not_asked",
                );
                crate::address::AddressAsked::NotAsked
            }
        };
        let mut channels = Vec::new();
        for (i, text) in self.channels.iter().enumerate() {
            match Channel::parse(text) {
                Ok(channel) => channels.push(channel),
                Err(_) => check.problem(
                    format!("channels[{i}]"),
                    format!("قناة غير معروفة '{text}'"),
                    format!("unknown channel '{text}'"),
                ),
            }
        }
        if self.channels.is_empty() {
            check.problems.push(FieldError::required("channels"));
        }
        let approved_on = HijriDate::parse(&self.approval.approved_on_hijri).ok().map(DualDate::from_hijri);
        if approved_on.is_none() {
            check.problem(
                "approval.approved_on_hijri",
                format!("'{}' ليس تاريخًا هجريًا صحيحًا (YYYY-MM-DD)", self.approval.approved_on_hijri),
                format!("'{}' is not a valid Hijri date (YYYY-MM-DD)", self.approval.approved_on_hijri),
            );
        }
        if self.approval.meeting == 0 || self.approval.board_term == 0 {
            check.problem("approval", "رقم الاجتماع والدورة يبدآن من 1", "meeting and board term numbers start at 1");
        }
        let effective_from = check.date("effective_from", &self.effective_from);
        if let (Some(effective), Some(approved)) = (effective_from, approved_on)
            && effective < approved.gregorian
        {
            check.problem(
                "effective_from",
                "لا تسري السياسة قبل اعتمادها من مجلس الإدارة",
                "a policy cannot take effect before the board approved it",
            );
        }
        check.required("attestation.version", &self.attestation.version);
        check.required("attestation.text_ar", &self.attestation.text_ar);
        check.required("attestation.text_en", &self.attestation.text_en);

        if self.branches.is_empty() {
            check.problems.push(FieldError::required("branches"));
        }
        check.unique("branches", self.branches.iter().map(|b| b.code.as_str()));
        check.unique("documents", self.documents.iter().map(|d| d.code.as_str()));
        for (i, d) in self.documents.iter().enumerate() {
            if d.issued_within_days == Some(0) {
                check.problem(
                    format!("documents[{i}].issued_within_days"),
                    "المدة بالأيام أكبر من صفر",
                    "the number of days is more than zero",
                );
            }
        }
        if self.service_types.is_empty() {
            check.problems.push(FieldError::required("service_types"));
        }
        check.unique("service_types", self.service_types.iter().map(|s| s.code.as_str()));
        for (i, service) in self.service_types.iter().enumerate() {
            for (j, code) in service.required_documents.iter().enumerate() {
                if !self.documents.iter().any(|d| &d.code == code) {
                    check.problem(
                        format!("service_types[{i}].required_documents[{j}]"),
                        format!("مستند غير معرّف '{code}'"),
                        format!("unknown document '{code}'"),
                    );
                }
            }
        }
        let service_codes: Vec<&str> = self.service_types.iter().map(|s| s.code.as_str()).collect();
        check.unique("eligibility", self.eligibility.iter().map(|r| r.code.as_str()));
        let mut eligibility = Vec::new();
        for (i, rule) in self.eligibility.iter().enumerate() {
            let at = format!("eligibility[{i}]");
            check.required(&format!("{at}.explanation_ar"), &rule.explanation_ar);
            check.required(&format!("{at}.explanation_en"), &rule.explanation_en);
            check.known_service_types(&at, &rule.service_types, &service_codes);
            if let Some(condition) = condition(check, &format!("{at}.when"), &rule.when) {
                eligibility.push(EligibilityRule {
                    code: rule.code.clone(),
                    service_types: rule.service_types.clone(),
                    explanation: Bilingual::new(&rule.explanation_ar, &rule.explanation_en),
                    condition,
                });
            }
        }

        let research = self.research.map(|research| research.validate(check, &service_codes));
        let committee = self.committee.map(|committee| committee.validate(check)).unwrap_or_default();
        let delivery = self.delivery.map(|delivery| delivery.validate(check));
        let closures = self
            .closures
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.validate(check, &format!("closures[{i}]")))
            .collect();

        // On error the pack is thrown away; the placeholder day only keeps the types simple.
        let placeholder = NaiveDate::default();
        PolicyPack {
            association: self.association,
            name: Bilingual::new(self.name_ar, self.name_en),
            version: self.version,
            effective_from: effective_from.unwrap_or(placeholder),
            approval: BoardApproval {
                meeting: self.approval.meeting,
                board_term: self.approval.board_term,
                approved_on: approved_on.unwrap_or_else(|| DualDate::new(placeholder)),
            },
            reference_prefix: self.reference_prefix,
            referral_role,
            committee_reply_days: self.committee_reply_days,
            document_reviews_optional: self.document_reviews_optional,
            address,
            channels,
            attestation: Attestation {
                version: self.attestation.version,
                text: Bilingual::new(self.attestation.text_ar, self.attestation.text_en),
            },
            branches: self
                .branches
                .into_iter()
                .map(|b| Branch { code: b.code, name: Bilingual::new(b.name_ar, b.name_en), city: b.city })
                .collect(),
            documents: self
                .documents
                .into_iter()
                .map(|d| DocumentKind {
                    code: d.code,
                    name: Bilingual::new(d.name_ar, d.name_en),
                    must_not_be_expired: d.must_not_be_expired,
                    issued_within_days: d.issued_within_days,
                })
                .collect(),
            service_types: self
                .service_types
                .into_iter()
                .map(|s| ServiceType {
                    code: s.code,
                    name: Bilingual::new(s.name_ar, s.name_en),
                    required_documents: s.required_documents,
                })
                .collect(),
            eligibility,
            research,
            committee,
            closures,
            targets: self.targets.map(|t| t.validate(check)),
            delivery,
        }
    }
}

const OPERATORS: &[&str] = &["below", "at_most", "at_least", "equals", "one_of"];

/// Reads one condition: `{ field = "...", <operator> = value }`, `{ any = [...] }` or `{ all = [...] }`.
pub(crate) fn condition(check: &mut Checker, at: &str, value: &toml::Value) -> Option<Condition> {
    let Some(table) = value.as_table() else {
        check.problem(at, "الشرط جدول من الحقل والعملية", "a condition is a table of a field and an operator");
        return None;
    };
    for (key, nested) in [("any", true), ("all", false)] {
        if let Some(list) = table.get(key) {
            let items = list.as_array().filter(|l| !l.is_empty());
            let Some(items) = items else {
                check.problem(format!("{at}.{key}"), "قائمة شروط غير فارغة", "a non-empty list of conditions");
                return None;
            };
            let parts: Vec<_> =
                items.iter().enumerate().map(|(i, c)| condition(check, &format!("{at}.{key}[{i}]"), c)).collect();
            let parts: Option<Vec<_>> = parts.into_iter().collect();
            return parts.map(|p| if nested { Condition::Any(p) } else { Condition::All(p) });
        }
    }
    let field = table.get("field").and_then(toml::Value::as_str).unwrap_or_default().to_owned();
    let Some(definition) = fact_definition(&field) else {
        check.problem(
            format!("{at}.field"),
            format!("الحقل '{field}' غير معروف؛ الحقول المعروفة: {}", known_facts()),
            format!("unknown field '{field}'; the known fields are: {}", known_facts()),
        );
        return None;
    };
    let operators: Vec<&str> = table.keys().map(String::as_str).filter(|k| *k != "field").collect();
    let [operator] = operators.as_slice() else {
        check.problem(
            at,
            format!("شرط واحد فقط من: {}", OPERATORS.join(", ")),
            format!("exactly one operator of: {}", OPERATORS.join(", ")),
        );
        return None;
    };
    let operand = &table[*operator];
    let kind_mismatch = |check: &mut Checker| {
        check.problem(
            format!("{at}.{operator}"),
            format!("القيمة لا تناسب نوع الحقل '{field}'"),
            format!("the value does not suit the kind of field '{field}'"),
        );
        None
    };
    let number = operand.as_float().or_else(|| operand.as_integer().map(|i| i as f64));
    match *operator {
        "below" | "at_most" | "at_least" => {
            let (Some(value), FactKind::Number) = (number, definition.kind) else { return kind_mismatch(check) };
            Some(match *operator {
                "below" => Condition::Below { field, value },
                "at_most" => Condition::AtMost { field, value },
                _ => Condition::AtLeast { field, value },
            })
        }
        "equals" => {
            let value = match (definition.kind, operand) {
                (FactKind::Flag, toml::Value::Boolean(b)) => FactValue::Flag(*b),
                (FactKind::Text, toml::Value::String(s)) => FactValue::Text(s.clone()),
                (FactKind::Number, _) if number.is_some() => FactValue::Number(number.unwrap_or_default()),
                _ => return kind_mismatch(check),
            };
            Some(Condition::Equals { field, value })
        }
        "one_of" => {
            let values: Option<Vec<String>> =
                operand.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
            match (definition.kind, values) {
                (FactKind::Text, Some(values)) if !values.is_empty() => Some(Condition::OneOf { field, values }),
                _ => kind_mismatch(check),
            }
        }
        other => {
            check.problem(
                format!("{at}.{other}"),
                format!("عملية غير معروفة '{other}'؛ المعروف: {}", OPERATORS.join(", ")),
                format!("unknown operator '{other}'; the known ones are: {}", OPERATORS.join(", ")),
            );
            None
        }
    }
}

fn known_facts() -> String {
    crate::eligibility::FACTS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::Verdict;

    const NUZUL: &str = include_str!("../../../policies/nuzul.toml");
    const HAYAT: &str = include_str!("../../../policies/hayat.toml");

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn both_seed_packs_are_valid() {
        let nuzul = PolicyPack::from_toml(NUZUL).unwrap();
        assert_eq!(nuzul.referral_role, ActorRole::SocialResearchOfficer);
        assert!(nuzul.service_type("roof_repair").is_some());
        let hayat = PolicyPack::from_toml(HAYAT).unwrap();
        assert_eq!(hayat.referral_role, ActorRole::HealthAdministrationManager);
        // The seed: 2nd meeting of the 4th term, 02/03/1441 AH.
        assert_eq!((hayat.approval.meeting, hayat.approval.board_term), (2, 4));
        assert_eq!(hayat.approval.approved_on.hijri.to_string(), "1441-03-02");
        assert_eq!(hayat.approval.approved_on.gregorian, day(2019, 10, 30));
        assert!(hayat.channels.contains(&Channel::Interview));
    }

    #[test]
    fn nuzul_rules_judge_an_applicant() {
        let nuzul = PolicyPack::from_toml(NUZUL).unwrap();
        let asked: Vec<_> = nuzul.facts_asked("roof_repair").iter().map(|q| (q.fact.name, q.required)).collect();
        assert_eq!(
            asked,
            [
                ("applicant.city", true),
                ("household.monthly_income", true),
                ("household.members", true),
                ("home.ownership", false),
                ("home.landlord_consent", false),
            ],
            "derived facts are not asked; alternatives are optional"
        );
        let mut facts = Facts::default();
        facts.set("applicant.city", FactValue::Text("Riyadh".into()));
        facts.set("household.members", FactValue::Number(6.0));
        facts.set("household.monthly_income", FactValue::Number(4200.0));
        facts.set("home.ownership", FactValue::Text("owned".into()));
        let outcomes = nuzul.evaluate("roof_repair", &facts.clone().with_derived(None, "riyadh"));
        assert!(outcomes.iter().all(|o| o.verdict == Verdict::Met), "{outcomes:?}");
        let outcomes = nuzul.evaluate("roof_repair", &facts.with_derived(Some(12), "riyadh"));
        let failed: Vec<_> = outcomes.iter().filter(|o| o.verdict == Verdict::NotMet).map(|o| &o.rule).collect();
        assert_eq!(failed, ["no_recent_restoration"]);
    }

    #[test]
    fn document_validity_is_judged_at_submission() {
        let hayat = PolicyPack::from_toml(HAYAT).unwrap();
        let report = hayat.document("medical_report").unwrap();
        let submitted = day(2026, 1, 31);
        assert_eq!(report.validity(Some(day(2025, 11, 2)), None, submitted), DocumentValidity::Valid);
        assert_eq!(report.validity(Some(day(2025, 11, 1)), None, submitted), DocumentValidity::IssuedTooLongAgo);
        assert_eq!(report.validity(None, None, submitted), DocumentValidity::DateMissing);
        let id = hayat.document("national_id").unwrap();
        assert_eq!(id.validity(None, Some(day(2026, 1, 30)), submitted), DocumentValidity::ExpiredAtSubmission);
        assert_eq!(id.validity(None, Some(submitted), submitted), DocumentValidity::Valid);
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let broken = NUZUL
            .replace("committee_reply_days = 14", "committee_reply_days = 10")
            .replace("field = \"household.income_per_member\"", "field = \"household.salary\"")
            .replace("approved_on_hijri = \"1446-06-29\"", "approved_on_hijri = \"1446-13-01\"")
            .replace("referral_role = \"social_research_officer\"", "referral_role = \"beneficiary\"");
        let problems = PolicyPack::from_toml(&broken).unwrap_err();
        let locations: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            locations,
            ["committee_reply_days", "referral_role", "approval.approved_on_hijri", "eligibility[1].when.field"],
            "{problems:?}"
        );
        let unknown = &problems[3].message;
        assert!(unknown.en.contains("unknown field 'household.salary'") && unknown.ar.contains("غير معروف"));
    }

    #[test]
    fn malformed_files_and_wrong_kinds_are_located() {
        let problems = PolicyPack::from_toml("association = \"x\"\nversion = \"one\"\n").unwrap_err();
        assert_eq!(problems[0].field, "line 2", "{problems:?}");
        let wrong = NUZUL.replace("below = 1500", "below = \"low\"");
        let problems = PolicyPack::from_toml(&wrong).unwrap_err();
        assert_eq!(problems[0].field, "eligibility[1].when.below");
        let unknown_doc = NUZUL.replacen("\"family_record\",", "\"family_recrd\",", 1);
        let problems = PolicyPack::from_toml(&unknown_doc).unwrap_err();
        assert_eq!(problems[0].field, "service_types[0].required_documents[1]");
    }
}
