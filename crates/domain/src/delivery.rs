//! Delivery as a plan: an approved service is delivered in the steps the
//! pack lists (for Nuzul the contractor, the start of the works and the
//! handover the beneficiary confirms; for Hayat the provider, the appointment
//! and the payment), each recorded as it happens, partly if need be. The
//! plan is complete when every step is done and confirmed where it asks the
//! beneficiary to; only then is the beneficiary invited to rate, and a
//! delivered case never rated closes by itself after the pack's period.

use crate::calendar::parse_gregorian;
use crate::input::{TextRule, read_field};
use crate::policy::Checker;
use crate::text::{Bilingual, FieldError};
use crate::vocabulary::vocabulary;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

vocabulary! {
    /// What a step records beside its day and note.
    DeliveryDetail as "delivery detail" {
        /// Who does the works (Nuzul).
        Contractor = "contractor",
        /// Who gives the treatment or device (Hayat).
        Provider = "provider",
        /// An amount in riyals (a payment).
        AmountSar = "amount_sar",
        /// A payment's or an invoice's reference.
        Reference = "reference",
    }
}

/// Days a delivered service waits for its rating before the case closes, in versions that do not say.
pub const UNRATED_CLOSES_AFTER_DAYS: u32 = 30;

/// The most riyals one record of a step may state.
pub const LARGEST_AMOUNT_SAR: u64 = 1_000_000;
/// How far back a step may be dated.
pub const LONGEST_AGO_DAYS: u64 = 365;

/// One step of a pack's delivery plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryStep {
    pub code: String,
    pub label: Bilingual,
    /// What its records state beside the day.
    pub asks: Vec<DeliveryDetail>,
    /// The beneficiary confirms it once done (a handover).
    pub beneficiary_confirms: bool,
}

/// A pack's delivery plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryPlan {
    pub steps: Vec<DeliveryStep>,
    /// Days a delivered service waits for its rating before the case closes unrated.
    pub unrated_closes_after_days: u32,
}

impl DeliveryPlan {
    pub fn step(&self, code: &str) -> Option<&DeliveryStep> {
        self.steps.iter().find(|s| s.code == code)
    }
}

/// A step's record as staff entered it.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepEntered<'a> {
    pub done_on: &'a str,
    pub contractor: &'a str,
    pub provider: &'a str,
    pub amount_sar: Option<u64>,
    pub reference: &'a str,
    pub note: &'a str,
    /// False for a partial delivery: the step is not done yet.
    pub complete: bool,
}

/// A step's record, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub done_on: NaiveDate,
    pub contractor: String,
    pub provider: String,
    pub amount_sar: Option<u64>,
    pub reference: String,
    pub note: String,
    pub complete: bool,
}

/// Checks a record of `step` entered on `today`: its day neither ahead nor
/// over a year ago, what the step asks for given, nothing it does not ask
/// for, an amount within bounds. Every problem at once, at its field.
pub fn check_step(
    step: &DeliveryStep,
    entered: StepEntered<'_>,
    today: NaiveDate,
) -> Result<StepRecord, Vec<FieldError>> {
    let mut problems = Vec::new();
    let done_on = match parse_gregorian(entered.done_on) {
        Ok(day) if day > today || day + chrono::Days::new(LONGEST_AGO_DAYS) < today => {
            problems.push(FieldError::new(
                "done_on",
                Bilingual::new(
                    format!("تاريخ الخطوة اليوم أو خلال {LONGEST_AGO_DAYS} يوماً مضت"),
                    format!("A step is dated today or within the last {LONGEST_AGO_DAYS} days"),
                ),
            ));
            None
        }
        Ok(day) => Some(day),
        Err(_) if entered.done_on.trim().is_empty() => {
            problems.push(FieldError::required("done_on"));
            None
        }
        Err(_) => {
            problems.push(FieldError::new(
                "done_on",
                Bilingual::new("التاريخ بالصيغة YYYY-MM-DD", "The date is written YYYY-MM-DD"),
            ));
            None
        }
    };
    let asks = |detail| step.asks.contains(&detail);
    let text = |field: &str, value: &str, detail: DeliveryDetail, problems: &mut Vec<FieldError>| {
        if asks(detail) {
            read_field(field, value, TextRule::LINE, true, problems)
        } else {
            if !value.trim().is_empty() {
                problems.push(not_asked(field));
            }
            String::new()
        }
    };
    let contractor = text("contractor", entered.contractor, DeliveryDetail::Contractor, &mut problems);
    let provider = text("provider", entered.provider, DeliveryDetail::Provider, &mut problems);
    let reference = text("reference", entered.reference, DeliveryDetail::Reference, &mut problems);
    let amount_sar = match (asks(DeliveryDetail::AmountSar), entered.amount_sar) {
        (true, None) => {
            problems.push(FieldError::required("amount_sar"));
            None
        }
        (true, Some(amount)) if amount == 0 || amount > LARGEST_AMOUNT_SAR => {
            problems.push(FieldError::new(
                "amount_sar",
                Bilingual::new(
                    format!("المبلغ من ١ إلى {LARGEST_AMOUNT_SAR} ريال"),
                    format!("The amount is 1 to {LARGEST_AMOUNT_SAR} SAR"),
                ),
            ));
            None
        }
        (true, amount) => amount,
        (false, Some(_)) => {
            problems.push(not_asked("amount_sar"));
            None
        }
        (false, None) => None,
    };
    let note = read_field("note", entered.note, TextRule::NOTE, false, &mut problems);
    match done_on {
        Some(done_on) if problems.is_empty() => {
            Ok(StepRecord { done_on, contractor, provider, amount_sar, reference, note, complete: entered.complete })
        }
        _ => Err(problems),
    }
}

fn not_asked(field: &str) -> FieldError {
    FieldError::new(field, Bilingual::new("هذه الخطوة لا تسجّل هذا الحقل", "This step does not record this field"))
}

/// Where one step of a case's plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepProgress {
    /// A complete record exists (not only partial ones).
    pub done: bool,
    pub confirmed: bool,
}

impl DeliveryPlan {
    /// Whether every step is done, and confirmed where the beneficiary must.
    pub fn is_complete(&self, progress: impl Fn(&DeliveryStep) -> StepProgress) -> bool {
        self.steps.iter().all(|step| {
            let p = progress(step);
            p.done && (!step.beneficiary_confirms || p.confirmed)
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDelivery {
    unrated_closes_after_days: u32,
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    code: String,
    label_ar: String,
    label_en: String,
    #[serde(default)]
    asks: Vec<String>,
    #[serde(default)]
    beneficiary_confirms: bool,
}

impl RawDelivery {
    pub(crate) fn validate(self, check: &mut Checker) -> DeliveryPlan {
        if self.unrated_closes_after_days == 0 {
            check.problem("delivery.unrated_closes_after_days", "المدة يوم واحد على الأقل", "at least one day");
        }
        if self.steps.is_empty() {
            check.problems.push(FieldError::required("delivery.steps"));
        }
        check.unique("delivery.steps", self.steps.iter().map(|s| s.code.as_str()));
        let steps = self
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, raw)| {
                let at = format!("delivery.steps[{i}]");
                check.required(&format!("{at}.code"), &raw.code);
                check.required(&format!("{at}.label_ar"), &raw.label_ar);
                check.required(&format!("{at}.label_en"), &raw.label_en);
                let asks = raw
                    .asks
                    .iter()
                    .enumerate()
                    .filter_map(|(j, detail)| {
                        DeliveryDetail::parse(detail)
                            .map_err(|_| {
                                check.problem(
                                    format!("{at}.asks[{j}]"),
                                    "contractor أو provider أو amount_sar أو reference",
                                    "contractor, provider, amount_sar or reference",
                                )
                            })
                            .ok()
                    })
                    .collect();
                DeliveryStep {
                    code: raw.code,
                    label: Bilingual::new(raw.label_ar, raw.label_en),
                    asks,
                    beneficiary_confirms: raw.beneficiary_confirms,
                }
            })
            .collect();
        DeliveryPlan { steps, unrated_closes_after_days: self.unrated_closes_after_days }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(asks: &[DeliveryDetail]) -> DeliveryStep {
        DeliveryStep {
            code: "payment".into(),
            label: Bilingual::new("الدفع", "Payment"),
            asks: asks.to_vec(),
            beneficiary_confirms: false,
        }
    }

    #[test]
    fn a_step_records_what_it_asks_for_and_nothing_else() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        let payment = step(&[DeliveryDetail::AmountSar, DeliveryDetail::Reference]);
        let entered = StepEntered {
            done_on: "2026-12-08",
            amount_sar: Some(4_000),
            reference: "INV-77",
            complete: false,
            ..Default::default()
        };
        let record = check_step(&payment, entered, today).unwrap();
        assert_eq!((record.amount_sar, record.reference.as_str(), record.complete), (Some(4_000), "INV-77", false));
        let wrong =
            StepEntered { done_on: "2026-12-09", amount_sar: Some(0), contractor: "Al-Bina", ..Default::default() };
        let fields: Vec<String> =
            check_step(&payment, wrong, today).unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["done_on", "contractor", "reference", "amount_sar"]);
    }

    #[test]
    fn a_plan_is_complete_when_every_step_is_done_and_confirmed_where_asked() {
        let handover = DeliveryStep { beneficiary_confirms: true, code: "handover".into(), ..step(&[]) };
        let plan = DeliveryPlan { steps: vec![step(&[]), handover], unrated_closes_after_days: 30 };
        let done = StepProgress { done: true, confirmed: false };
        assert!(!plan.is_complete(|_| done), "the handover awaits the beneficiary");
        assert!(plan.is_complete(|s| StepProgress { done: true, confirmed: s.code == "handover" }));
        assert!(!plan.is_complete(|s| StepProgress { done: s.code == "handover", confirmed: true }));
    }
}
