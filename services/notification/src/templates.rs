//! What the beneficiary is told at each stage, in Arabic and English.

use masar_domain::{Bilingual, Language};
use masar_proto::event_type;

/// Values a template may use.
#[derive(Debug, Default)]
pub struct Fields {
    pub reference: String,
    pub date: String,
    pub details: String,
    pub username: String,
}

fn template(event_type: &str, decision: &str) -> Option<Bilingual> {
    let (ar, en) = match (event_type, decision) {
        (event_type::REQUEST_SUBMITTED, _) => (
            "تم استلام طلبكم رقم {reference}، وسيعرض على لجنة البحث ويصلكم الرد بتاريخ {date} تقريباً.",
            "We received your request {reference}. The research committee will study it; expect a reply around {date}.",
        ),
        (event_type::REQUEST_RESUBMITTED, _) => (
            "تم استلام طلبكم رقم {reference} بعد استكماله، والرد المتوقع بتاريخ {date}.",
            "We received your completed request {reference}; expect a reply around {date}.",
        ),
        (event_type::REQUEST_RETURNED, _) => (
            "طلبكم رقم {reference} بحاجة إلى استكمال: {details}. نأمل استكماله وإعادة تقديمه.",
            "Your request {reference} needs completing: {details}. Please complete and resubmit it.",
        ),
        (event_type::REQUEST_VERIFIED, _) => (
            "تم التحقق من مستندات طلبكم رقم {reference}، وسيتواصل معكم باحث اجتماعي.",
            "The documents of your request {reference} are verified; a social researcher will contact you.",
        ),
        (event_type::REQUEST_INELIGIBLE, _) => (
            "نعتذر، طلبكم رقم {reference} غير مستوفٍ لشروط الاستحقاق: {details}.",
            "We are sorry: your request {reference} does not meet the eligibility conditions: {details}.",
        ),
        (event_type::RESEARCHER_ASSIGNED, _) => (
            "تم تعيين باحث اجتماعي لطلبكم رقم {reference} وسيتواصل معكم لترتيب الزيارة.",
            "A social researcher is assigned to your request {reference} and will contact you to arrange a visit.",
        ),
        (event_type::VISIT_SCHEDULED, "moved") => (
            "تغير موعد زيارة الباحث الاجتماعي لطلبكم رقم {reference}: يوم {details}. ولطلب موعد آخر ادخلوا إلى حسابكم.",
            "The social researcher's visit for your request {reference} is moved to {details}. To ask for another time, use your account.",
        ),
        (event_type::VISIT_SCHEDULED, _) => (
            "سيزوركم الباحث الاجتماعي لطلبكم رقم {reference} يوم {details}. ولطلب موعد آخر ادخلوا إلى حسابكم.",
            "A social researcher will visit you for your request {reference} on {details}. To ask for another time, use your account.",
        ),
        (event_type::FIELD_VISIT_RECORDED, _) => (
            "شكراً لاستقبالكم الباحث الاجتماعي، طلبكم رقم {reference} قيد الدراسة.",
            "Thank you for receiving our social researcher; your request {reference} is being studied.",
        ),
        (event_type::RESEARCH_RECOMMENDED, _) => (
            "اكتملت دراسة طلبكم رقم {reference} ورفع إلى لجنة البحث.",
            "The study of your request {reference} is complete and has gone to the research committee.",
        ),
        (event_type::CASE_SCHEDULED, _) => (
            "أدرج طلبكم رقم {reference} في جدول أعمال لجنة البحث.",
            "Your request {reference} is on the research committee's agenda.",
        ),
        (event_type::COMMITTEE_DECIDED, "approved") => (
            "يسعدنا إبلاغكم بالموافقة على طلبكم رقم {reference}، وسنتواصل معكم لتقديم الخدمة.",
            "We are glad to tell you your request {reference} is approved; we will contact you to provide the service.",
        ),
        (event_type::COMMITTEE_DECIDED, "rejected") => (
            "نعتذر، لم توافق لجنة البحث على طلبكم رقم {reference}: {details}.",
            "We are sorry: the research committee did not approve your request {reference}: {details}.",
        ),
        (event_type::SERVICE_DELIVERED, _) => (
            "تم تقديم الخدمة لطلبكم رقم {reference}. تقييمكم للخدمة حق لكم ويعيننا على تحسينها: قيّموها من ١ إلى ٥ من حسابكم.",
            "The service of your request {reference} has been provided. Rating it is your right and helps us improve: rate it from 1 to 5 in your account.",
        ),
        (event_type::PROMISE_REVISED, _) => (
            "نعتذر عن التأخير: {details}، والرد المتوقع على طلبكم رقم {reference} الآن بتاريخ {date}.",
            "We are sorry for the delay: {details}. The reply to your request {reference} is now expected around {date}.",
        ),
        // To the stage's supervisor, in Arabic unless their post says otherwise.
        (event_type::CASE_OVERDUE, _) => (
            "تنبيه: الطلب رقم {reference} تجاوز المدة المحددة لمرحلة {details}، وكان آخر يوم لها {date}.",
            "Alert: request {reference} is past its target for the {details} stage, which ended on {date}.",
        ),
        (event_type::ACCOUNT_OPENED, _) => (
            "مرحباً بكم في {details}. اسم المستخدم: {username} وكلمة المرور المؤقتة: {password} ويلزم تغييرها عند أول دخول، لتتابعوا طلباتكم بأنفسكم.",
            "Welcome to {details}. Username: {username}, one-time password: {password}. Change it when you first sign in; then you can follow your requests yourself.",
        ),
        (event_type::INQUIRY_ANSWERED, _) => {
            ("رد على استفساركم رقم {reference}: {details}", "The answer to your inquiry {reference}: {details}")
        }
        (event_type::COMMITTEE_DECIDED, _) => (
            "أجلت لجنة البحث طلبكم رقم {reference} لاستكمال الدراسة، وسنبلغكم بالمستجدات.",
            "The research committee deferred your request {reference} for more study; we will keep you informed.",
        ),
        _ => return None,
    };
    Some(Bilingual::new(ar, en))
}

/// The text for an event in the beneficiary's language, or None for events
/// the beneficiary is not told about.
pub fn render(event_type: &str, decision: &str, language: Language, fields: &Fields) -> Option<String> {
    let template = template(event_type, decision)?;
    Some(
        template
            .in_language(language)
            .replace("{reference}", &fields.reference)
            .replace("{date}", &fields.date)
            .replace("{details}", &fields.details)
            .replace("{username}", &fields.username),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_event_has_both_languages() {
        for event in event_type::ALL.iter().chain(&[event_type::PROMISE_REVISED, event_type::CASE_OVERDUE]) {
            for decision in ["approved", "rejected", "deferred"] {
                let fields = Fields {
                    reference: "NZL-ABC234".into(),
                    date: "2026-12-07".into(),
                    details: "x".into(),
                    ..Fields::default()
                };
                let ar = render(event, decision, Language::Arabic, &fields).unwrap();
                let en = render(event, decision, Language::English, &fields).unwrap();
                assert!(ar.contains("NZL-ABC234") && en.contains("NZL-ABC234"), "{event}");
                assert!(!ar.contains('{') && !en.contains('{'), "{event}");
            }
        }
    }

    #[test]
    fn the_account_message_leaves_room_for_the_sealed_password_only() {
        let fields =
            Fields { username: "hyt-k7m2qx".into(), details: "جمعية حياة".into(), ..Fields::default() };
        for language in [Language::Arabic, Language::English] {
            let text = render(event_type::ACCOUNT_OPENED, "", language, &fields).unwrap();
            assert!(text.contains("hyt-k7m2qx"), "{text}");
            assert_eq!(text.matches(crate::store::SECRET_PLACEHOLDER).count(), 1, "{text}");
            assert_eq!(text.matches('{').count(), 1, "{text}");
        }
    }
}
