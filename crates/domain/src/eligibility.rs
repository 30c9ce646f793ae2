//! Eligibility rules: declarative conditions over the applicant's and
//! household's facts, evaluated rule by rule with a stored explanation.

use crate::text::{Bilingual, FieldError};
use crate::vocabulary::vocabulary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kind of value a fact holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    Number,
    Text,
    Flag,
}

/// A fact a rule may name. The catalogue is closed: a policy that names
/// anything else is refused when it is validated, not when a case is judged.
#[derive(Debug, Clone, Copy)]
pub struct FactDefinition {
    pub name: &'static str,
    pub kind: FactKind,
    /// Facts the system works out itself; the applicant never types them.
    pub derived: bool,
    /// For a derived fact: the facts the applicant gives for it (none: the system's own records).
    pub inputs: &'static [&'static str],
    pub label: (&'static str, &'static str),
}

pub const FACTS: &[FactDefinition] = &[
    asked("applicant.city", FactKind::Text, ("مدينة الإقامة", "City of residence")),
    asked("applicant.region", FactKind::Text, ("منطقة الإقامة", "Region of residence")),
    asked("household.members", FactKind::Number, ("عدد أفراد الأسرة", "Household members")),
    asked("household.monthly_income", FactKind::Number, ("دخل الأسرة الشهري", "Household monthly income")),
    derived(
        "household.income_per_member",
        &["household.monthly_income", "household.members"],
        ("دخل الفرد الشهري", "Monthly income per member"),
    ),
    asked("household.head_gender", FactKind::Text, ("جنس رب الأسرة", "The household head's gender")),
    asked("home.ownership", FactKind::Text, ("ملكية المسكن", "Home ownership")),
    asked("home.landlord_consent", FactKind::Flag, ("موافقة المالك", "Landlord's consent")),
    asked("need.covered_by_insurance", FactKind::Flag, ("مغطى بالتأمين", "Covered by insurance")),
    asked("need.covered_by_government", FactKind::Flag, ("مغطى ببرنامج حكومي", "Covered by a government programme")),
    derived(
        "history.months_since_same_service_approved",
        &[],
        ("الأشهر منذ آخر طلب معتمد من النوع نفسه", "Months since the last approved request of the same type"),
    ),
    // The branch the request was filed with: a branch serves its own city.
    FactDefinition {
        name: "request.branch",
        kind: FactKind::Text,
        derived: true,
        inputs: &[],
        label: ("فرع الطلب", "The request's branch"),
    },
];

const fn asked(name: &'static str, kind: FactKind, label: (&'static str, &'static str)) -> FactDefinition {
    FactDefinition { name, kind, derived: false, inputs: &[], label }
}

/// Derived numbers the system computes (see `Facts::with_derived`).
const fn derived(
    name: &'static str,
    inputs: &'static [&'static str],
    label: (&'static str, &'static str),
) -> FactDefinition {
    FactDefinition { name, kind: FactKind::Number, derived: true, inputs, label }
}

impl FactDefinition {
    /// What the applicant is asked for this fact: the fact itself, or a derived fact's inputs.
    pub fn asked_inputs(&self) -> &[&'static str] {
        if self.derived { self.inputs } else { std::slice::from_ref(&self.name) }
    }
}

pub fn fact_definition(name: &str) -> Option<&'static FactDefinition> {
    FACTS.iter().find(|f| f.name == name)
}

/// A fact's value, as the applicant gave it or the system derived it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FactValue {
    Flag(bool),
    Number(f64),
    Text(String),
}

/// An answer as a form writes it: `yes`/`no`, the number, the text.
impl std::fmt::Display for FactValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flag(true) => f.write_str("yes"),
            Self::Flag(false) => f.write_str("no"),
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(t) => f.write_str(t),
        }
    }
}

/// The facts of one application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Facts(pub BTreeMap<String, FactValue>);

impl Facts {
    pub fn get(&self, name: &str) -> Option<&FactValue> {
        self.0.get(name)
    }

    pub fn set(&mut self, name: &str, value: FactValue) {
        self.0.insert(name.to_owned(), value);
    }

    /// Adds what the system works out from the given facts and the
    /// beneficiary's history (`None`: no earlier approved request of this type).
    pub fn with_derived(mut self, months_since_same_service_approved: Option<u32>, branch: &str) -> Self {
        if !branch.is_empty() {
            self.set("request.branch", FactValue::Text(branch.to_owned()));
        }
        if let (Some(FactValue::Number(income)), Some(FactValue::Number(members))) =
            (self.get("household.monthly_income"), self.get("household.members"))
            && *members >= 1.0
        {
            let per_member = (income / members * 100.0).round() / 100.0;
            self.set("household.income_per_member", FactValue::Number(per_member));
        }
        if let Some(months) = months_since_same_service_approved {
            self.set("history.months_since_same_service_approved", FactValue::Number(f64::from(months)));
        }
        self
    }
}

/// A fact an applicant is asked, and whether the form may leave it out.
#[derive(Debug, Clone, Copy)]
pub struct FactQuestion {
    pub fact: &'static FactDefinition,
    pub required: bool,
}

/// Reads an applicant's answers (text, as forms send them) to the facts they
/// are asked, on top of earlier answers. Every problem is a field error at `facts.<name>`.
pub fn read_answers<'a>(
    asked: &[FactQuestion],
    answers: impl IntoIterator<Item = (&'a String, &'a String)>,
    earlier: &Facts,
) -> Result<Facts, Vec<FieldError>> {
    let mut facts = earlier.clone();
    let mut errors = Vec::new();
    // Sorted, so errors come in the same order whatever map the answers came in.
    let mut answers: Vec<_> = answers.into_iter().collect();
    // More answers than questions, by far, is not a form: one refusal, not one per answer.
    if answers.len() > asked.len() + 20 {
        return Err(vec![FieldError::new(
            "facts",
            Bilingual::new("عدد الإجابات أكبر من عدد الأسئلة", "More answers than the form has questions"),
        )]);
    }
    answers.sort();
    for (name, text) in answers {
        let location = format!("facts.{name}");
        let text = match crate::clean_text(&location, text, crate::TextRule::FACT) {
            Ok(text) => text,
            Err(problem) => {
                errors.push(problem);
                continue;
            }
        };
        let text = &text;
        let Some(definition) = asked.iter().map(|q| q.fact).find(|d| d.name == name.as_str()) else {
            errors.push(FieldError::new(
                location,
                Bilingual::new(
                    "هذا السؤال لا يخص نوع الخدمة المطلوب",
                    "This question does not apply to this service type",
                ),
            ));
            continue;
        };
        match read_answer(definition, text) {
            Ok(value) => facts.set(name, value),
            Err(message) => errors.push(FieldError::new(location, message)),
        }
    }
    for definition in asked.iter().filter(|q| q.required).map(|q| q.fact) {
        if facts.get(definition.name).is_none()
            && !errors.iter().any(|e| e.field == format!("facts.{}", definition.name))
        {
            errors.push(FieldError::new(
                format!("facts.{}", definition.name),
                Bilingual::new(format!("مطلوب: {}", definition.label.0), format!("Required: {}", definition.label.1)),
            ));
        }
    }
    if errors.is_empty() { Ok(facts) } else { Err(errors) }
}

fn read_answer(definition: &FactDefinition, text: &str) -> Result<FactValue, Bilingual> {
    let folded = crate::identity::fold_digits(text.trim());
    match definition.kind {
        FactKind::Text if !folded.is_empty() => Ok(FactValue::Text(folded)),
        FactKind::Text => Err(Bilingual::new("هذا الحقل مطلوب", "This field is required")),
        FactKind::Number => match folded.replace([',', '٬'], "").parse::<f64>() {
            Ok(n)
                if n.is_finite()
                    && n >= 0.0
                    && (definition.name != "household.members" || (n >= 1.0 && n.fract() == 0.0)) =>
            {
                Ok(FactValue::Number(n))
            }
            _ if definition.name == "household.members" => {
                Err(Bilingual::new("عدد صحيح لا يقل عن 1", "A whole number of at least 1"))
            }
            _ => Err(Bilingual::new("أدخل رقمًا صحيحًا غير سالب", "Enter a number that is not negative")),
        },
        FactKind::Flag => match folded.to_lowercase().as_str() {
            "true" | "yes" | "نعم" => Ok(FactValue::Flag(true)),
            "false" | "no" | "لا" => Ok(FactValue::Flag(false)),
            _ => Err(Bilingual::new("الإجابة نعم أو لا", "Answer yes or no")),
        },
    }
}

/// A condition over facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Below { field: String, value: f64 },
    AtMost { field: String, value: f64 },
    AtLeast { field: String, value: f64 },
    Equals { field: String, value: FactValue },
    OneOf { field: String, values: Vec<String> },
    Any(Vec<Condition>),
    All(Vec<Condition>),
}

vocabulary! {
    /// How one rule came out for one case.
    Verdict as "verdict" {
        Met = "met",
        NotMet = "not_met",
        // A fact the rule needs is missing; the case is unclear and goes to a person.
        Unknown = "unknown",
    }
}

/// Every verdict must be met: one not met decides; otherwise one unknown leaves it unclear.
fn all_of(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    verdicts.into_iter().fold(Verdict::Met, |so_far, next| match (so_far, next) {
        (Verdict::NotMet, _) | (_, Verdict::NotMet) => Verdict::NotMet,
        (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
        _ => Verdict::Met,
    })
}

/// One met verdict is enough: otherwise one unknown leaves it unclear.
fn any_of(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    verdicts.into_iter().fold(Verdict::NotMet, |so_far, next| match (so_far, next) {
        (Verdict::Met, _) | (_, Verdict::Met) => Verdict::Met,
        (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
        _ => Verdict::NotMet,
    })
}

impl Condition {
    pub fn evaluate(&self, facts: &Facts) -> Verdict {
        match self {
            Self::Below { field, value } => compare(facts, field, |x| x < *value),
            Self::AtMost { field, value } => compare(facts, field, |x| x <= *value),
            Self::AtLeast { field, value } => compare(facts, field, |x| x >= *value),
            Self::Equals { field, value } => match facts.get(field) {
                None => absent(field),
                Some(FactValue::Text(given)) => {
                    let FactValue::Text(wanted) = value else { return Verdict::NotMet };
                    verdict(same_text(given, wanted))
                }
                Some(given) => verdict(given == value),
            },
            Self::OneOf { field, values } => match facts.get(field) {
                None => absent(field),
                Some(FactValue::Text(given)) => verdict(values.iter().any(|v| same_text(given, v))),
                Some(_) => Verdict::NotMet,
            },
            Self::Any(conditions) => any_of(conditions.iter().map(|c| c.evaluate(facts))),
            Self::All(conditions) => all_of(conditions.iter().map(|c| c.evaluate(facts))),
        }
    }

    /// The facts the condition cannot be judged without: all of them, except
    /// inside `any`, where one met alternative is enough (e.g. owner, or landlord's consent).
    pub fn required_fields(&self) -> Vec<&str> {
        match self {
            Self::Any(_) => Vec::new(),
            Self::All(conditions) => conditions.iter().flat_map(Condition::required_fields).collect(),
            other => other.fields(),
        }
    }

    /// The asked facts this condition lacks to be judged, each entry a choice
    /// (any one of its facts will do, as inside `any`). A derived fact stands
    /// for its missing inputs (history has none: the system's own records).
    pub fn missing_facts(&self, facts: &Facts) -> Vec<Vec<String>> {
        let mut missing: Vec<Vec<String>> = Vec::new();
        match self {
            Self::Any(conditions) => {
                let mut choice: Vec<String> = Vec::new();
                for fact in conditions.iter().flat_map(|c| c.missing_facts(facts)).flatten() {
                    if !choice.contains(&fact) {
                        choice.push(fact);
                    }
                }
                if !choice.is_empty() && self.evaluate(facts) == Verdict::Unknown {
                    missing.push(choice);
                }
            }
            Self::All(conditions) => {
                for entry in conditions.iter().flat_map(|c| c.missing_facts(facts)) {
                    if !missing.contains(&entry) {
                        missing.push(entry);
                    }
                }
            }
            leaf => {
                let name = leaf.fields()[0];
                if facts.get(name).is_some() {
                    return missing;
                }
                let asked: &[&str] = match fact_definition(name) {
                    Some(definition) => definition.asked_inputs(),
                    None => std::slice::from_ref(&name),
                };
                missing.extend(asked.iter().filter(|f| facts.get(f).is_none()).map(|f| vec![(*f).to_owned()]));
            }
        }
        missing
    }

    /// Every fact name the condition mentions.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Self::Below { field, .. }
            | Self::AtMost { field, .. }
            | Self::AtLeast { field, .. }
            | Self::Equals { field, .. }
            | Self::OneOf { field, .. } => vec![field.as_str()],
            Self::Any(conditions) | Self::All(conditions) => conditions.iter().flat_map(Condition::fields).collect(),
        }
    }
}

fn compare(facts: &Facts, field: &str, test: impl Fn(f64) -> bool) -> Verdict {
    match facts.get(field) {
        Some(FactValue::Number(x)) => verdict(test(*x)),
        Some(_) => Verdict::NotMet,
        None => absent(field),
    }
}

/// A missing history fact means there is no such history, which is a clear answer.
fn absent(field: &str) -> Verdict {
    if field.starts_with("history.") { Verdict::Met } else { Verdict::Unknown }
}

fn verdict(met: bool) -> Verdict {
    if met { Verdict::Met } else { Verdict::NotMet }
}

/// City names and similar free text compare without case or surrounding space.
fn same_text(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// One rule's result, kept with the case so the decision can be explained later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleOutcome {
    pub rule: String,
    pub verdict: Verdict,
    pub explanation: Bilingual,
    /// The asked facts the rule could not be judged without (for an unknown
    /// verdict); each entry is a choice, any one of its facts will do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_facts: Vec<Vec<String>>,
}

/// The rules' results taken together.
pub fn overall(outcomes: &[RuleOutcome]) -> Verdict {
    all_of(outcomes.iter().map(|o| o.verdict))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(pairs: &[(&str, FactValue)]) -> Facts {
        Facts(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn below(field: &str, value: f64) -> Condition {
        Condition::Below { field: field.into(), value }
    }

    #[test]
    fn derives_income_per_member_and_history() {
        let f = facts(&[
            ("household.monthly_income", FactValue::Number(4000.0)),
            ("household.members", FactValue::Number(3.0)),
        ])
        .with_derived(Some(12), "riyadh");
        assert_eq!(f.get("household.income_per_member"), Some(&FactValue::Number(1333.33)));
        assert_eq!(f.get("history.months_since_same_service_approved"), Some(&FactValue::Number(12.0)));
        assert_eq!(f.get("request.branch"), Some(&FactValue::Text("riyadh".into())));
    }

    #[test]
    fn comparisons_are_met_not_met_or_unknown() {
        let f = facts(&[("household.income_per_member", FactValue::Number(1500.0))]);
        assert_eq!(below("household.income_per_member", 1500.0).evaluate(&f), Verdict::NotMet);
        assert_eq!(
            Condition::AtMost { field: "household.income_per_member".into(), value: 1500.0 }.evaluate(&f),
            Verdict::Met
        );
        assert_eq!(below("household.monthly_income", 1.0).evaluate(&f), Verdict::Unknown);
        // No earlier approval is a clear pass, not an unclear case.
        let never = Condition::AtLeast { field: "history.months_since_same_service_approved".into(), value: 36.0 };
        assert_eq!(never.evaluate(&f), Verdict::Met);
        let f = f.with_derived(Some(10), "");
        assert_eq!(never.evaluate(&f), Verdict::NotMet);
    }

    #[test]
    fn text_and_flags() {
        let f = facts(&[
            ("applicant.city", FactValue::Text(" madinah ".into())),
            ("home.landlord_consent", FactValue::Flag(true)),
        ]);
        let city = Condition::OneOf { field: "applicant.city".into(), values: vec!["Madinah".into(), "Yanbu".into()] };
        assert_eq!(city.evaluate(&f), Verdict::Met);
        let consent = Condition::Equals { field: "home.landlord_consent".into(), value: FactValue::Flag(true) };
        assert_eq!(consent.evaluate(&f), Verdict::Met);
        let wrong_kind = Condition::Equals { field: "applicant.city".into(), value: FactValue::Flag(true) };
        assert_eq!(wrong_kind.evaluate(&f), Verdict::NotMet);
    }

    #[test]
    fn any_and_all_combine_three_valued() {
        let owned = Condition::Equals { field: "home.ownership".into(), value: FactValue::Text("owned".into()) };
        let consent = Condition::Equals { field: "home.landlord_consent".into(), value: FactValue::Flag(true) };
        let either = Condition::Any(vec![owned.clone(), consent.clone()]);
        let rented = facts(&[("home.ownership", FactValue::Text("rented".into()))]);
        assert_eq!(either.evaluate(&rented), Verdict::Unknown, "consent not given yet");
        let mut with_consent = rented.clone();
        with_consent.set("home.landlord_consent", FactValue::Flag(false));
        assert_eq!(either.evaluate(&with_consent), Verdict::NotMet);
        let owner = facts(&[("home.ownership", FactValue::Text("owned".into()))]);
        assert_eq!(either.evaluate(&owner), Verdict::Met);
        assert_eq!(Condition::All(vec![owned, consent]).evaluate(&owner), Verdict::Unknown);
        assert_eq!(either.fields(), ["home.ownership", "home.landlord_consent"]);
        assert!(either.required_fields().is_empty());
        let income = below("household.income_per_member", 1.0);
        assert_eq!(Condition::All(vec![income, either]).required_fields(), ["household.income_per_member"]);
    }

    #[test]
    fn answers_are_read_by_kind_and_every_problem_is_reported() {
        let asked: Vec<_> =
            ["household.members", "household.monthly_income", "applicant.city", "home.landlord_consent"]
                .iter()
                .map(|n| FactQuestion { fact: fact_definition(n).unwrap(), required: *n != "home.landlord_consent" })
                .collect();
        let answers: BTreeMap<String, String> = [
            ("household.members", "٥"),
            ("household.monthly_income", "4,200"),
            ("applicant.city", " Riyadh "),
            ("home.landlord_consent", "نعم"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let facts = read_answers(&asked, &answers, &Facts::default()).unwrap();
        assert_eq!(facts.get("household.members"), Some(&FactValue::Number(5.0)));
        assert_eq!(facts.get("household.monthly_income"), Some(&FactValue::Number(4200.0)));
        assert_eq!(facts.get("applicant.city"), Some(&FactValue::Text("Riyadh".into())));
        assert_eq!(facts.get("home.landlord_consent"), Some(&FactValue::Flag(true)));

        let bad: BTreeMap<String, String> =
            [("household.members", "2.5"), ("home.landlord_consent", "maybe"), ("pets", "2")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let errors = read_answers(&asked, &bad, &Facts::default()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "facts.home.landlord_consent",
                "facts.household.members",
                "facts.pets",
                "facts.household.monthly_income",
                "facts.applicant.city"
            ]
        );
        // An optional question may be left out.
        let without_consent: BTreeMap<String, String> =
            answers.into_iter().filter(|(k, _)| k != "home.landlord_consent").collect();
        assert!(read_answers(&asked, &without_consent, &Facts::default()).is_ok());
        assert_eq!(errors[1].message.en, "A whole number of at least 1");
        // Earlier answers count: a resubmission only corrects what it names.
        let corrected: BTreeMap<String, String> = [("household.members".to_owned(), "6".to_owned())].into();
        let facts = read_answers(&asked, &corrected, &facts).unwrap();
        assert_eq!(facts.get("household.members"), Some(&FactValue::Number(6.0)));
    }

    #[test]
    fn verdict_names_match_serde() {
        for v in [Verdict::Met, Verdict::NotMet, Verdict::Unknown] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
    }

    #[test]
    fn overall_is_not_met_if_any_rule_fails() {
        let outcome = |verdict| RuleOutcome {
            rule: "r".into(),
            verdict,
            explanation: Bilingual::new("", ""),
            missing_facts: Vec::new(),
        };
        assert_eq!(overall(&[outcome(Verdict::Met), outcome(Verdict::Unknown)]), Verdict::Unknown);
        assert_eq!(overall(&[outcome(Verdict::Unknown), outcome(Verdict::NotMet)]), Verdict::NotMet);
        assert_eq!(overall(&[outcome(Verdict::Met)]), Verdict::Met);
    }

    #[test]
    fn missing_facts_name_inputs_and_choices() {
        let known = facts(&[("household.monthly_income", FactValue::Number(3000.0))]);
        let per_member = below("household.income_per_member", 1500.0);
        assert_eq!(per_member.missing_facts(&known), vec![vec!["household.members".to_owned()]]);
        let tenure = Condition::Any(vec![
            Condition::Equals { field: "home.ownership".into(), value: FactValue::Text("owned".into()) },
            Condition::Equals { field: "home.landlord_consent".into(), value: FactValue::Flag(true) },
        ]);
        assert_eq!(
            tenure.missing_facts(&known),
            vec![vec!["home.ownership".to_owned(), "home.landlord_consent".to_owned()]]
        );
        let owner = facts(&[("home.ownership", FactValue::Text("owned".into()))]);
        assert!(tenure.missing_facts(&owner).is_empty());
        assert!(below("history.months_since_same_service_approved", 36.0).missing_facts(&known).is_empty());
    }
}
