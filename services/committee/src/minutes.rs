//! A meeting's minutes (محضر): the record of who attended, the quorum and
//! every case's decision and reasons, and the printable document members
//! confirm — Arabic first, then English, each date in Hijri and Gregorian.

use crate::explain::{capitalised, decision_words, majority_words, recommendation_words, vote_words};
use crate::meetings::KeptMinutes;
use crate::store::evidence_hash;
use masar_domain::calendar::{DualDate, saudi_day, saudi_time};
use masar_domain::committee::MinutesStatus;
use masar_proto::committee::v1 as api;
use prost::Message as _;
use std::fmt::Write as _;

/// The minutes as first kept when the meeting closes: awaiting confirmation.
pub fn keep(record: &api::MinutesRecord) -> KeptMinutes {
    let html = render(record);
    KeptMinutes {
        status: MinutesStatus::AwaitingConfirmation,
        record: record.encode_to_vec(),
        sha256: evidence_hash(html.as_bytes()),
        html,
        confirmed_by: Vec::new(),
    }
}

/// The minutes as a reply: the record decoded, the document and who confirmed it.
pub fn reply(kept: KeptMinutes) -> api::Minutes {
    api::Minutes {
        record: api::MinutesRecord::decode(kept.record.as_slice()).ok(),
        status: kept.status.to_string(),
        confirmed_by: kept.confirmed_by,
        sha256: kept.sha256,
        html: kept.html,
    }
}

/// Text made safe to place inside HTML.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const PRINT_CSS: &str = "\
@page { size: A4; margin: 2cm; }
body { font-family: 'Noto Naskh Arabic', 'Noto Sans', serif; line-height: 1.6; margin: 0 auto; max-inline-size: 60rem; padding: 1rem; }
h1, h2 { margin-block: 0.5em; }
table { border-collapse: collapse; inline-size: 100%; margin-block: 0.5em 1em; }
th, td { border: 1px solid #555; padding: 0.25em 0.5em; text-align: start; vertical-align: top; }
.signatures td { block-size: 3em; }
section + section { break-before: page; margin-block-start: 2rem; }
@media print { body { padding: 0; } }
";

/// One language's words for the document.
struct Words {
    lang: &'static str,
    dir: &'static str,
    title: &'static str,
    date: &'static str,
    place: &'static str,
    chair: &'static str,
    attendance: &'static str,
    member: &'static str,
    present: &'static str,
    absent: &'static str,
    quorum: &'static str,
    cases: &'static str,
    case: &'static str,
    service: &'static str,
    recommended: &'static str,
    decision: &'static str,
    reasons: &'static str,
    votes: &'static str,
    recused: &'static str,
    remarks: &'static str,
    signatures: &'static str,
    signature: &'static str,
    none: &'static str,
}

const ARABIC: Words = Words {
    lang: "ar",
    dir: "rtl",
    title: "محضر اجتماع لجنة البحث",
    date: "التاريخ",
    place: "المكان",
    chair: "رئيس الاجتماع",
    attendance: "الحضور",
    member: "العضو",
    present: "حاضر",
    absent: "غائب",
    quorum: "النصاب",
    cases: "الطلبات المعروضة",
    case: "الطلب",
    service: "نوع الخدمة",
    recommended: "توصية الباحث",
    decision: "القرار",
    reasons: "الأسباب",
    votes: "الأصوات",
    recused: "المتنحّون",
    remarks: "ملاحظات رئيس الاجتماع",
    signatures: "تأكيد الأعضاء الحاضرين",
    signature: "التوقيع",
    none: "لا يوجد",
};

const ENGLISH: Words = Words {
    lang: "en",
    dir: "ltr",
    title: "Minutes of the research committee's meeting",
    date: "Date",
    place: "Place",
    chair: "Chair",
    attendance: "Attendance",
    member: "Member",
    present: "present",
    absent: "absent",
    quorum: "Quorum",
    cases: "Cases before the meeting",
    case: "Case",
    service: "Service type",
    recommended: "Research recommended",
    decision: "Decision",
    reasons: "Reasons",
    votes: "Votes",
    recused: "Recused",
    remarks: "The chair's remarks",
    signatures: "Confirmation by the members present",
    signature: "Signature",
    none: "None",
};

fn case_decision(decision: &str, arabic: bool) -> String {
    if decision == "carried_over" {
        return if arabic {
            "لم يُبتّ فيه؛ يُعرض في الاجتماع القادم"
        } else {
            "Not decided; carried over to the next meeting"
        }
        .to_owned();
    }
    let (ar, en) = decision_words(decision);
    if arabic { ar.to_owned() } else { capitalised(en) }
}

/// A person as the minutes name them: their name, or their username where none is known.
fn named<'a>(name: &'a str, username: &'a str) -> &'a str {
    if name.is_empty() { username } else { name }
}

/// The printable document: one section per language, the same record in each.
pub fn render(record: &api::MinutesRecord) -> String {
    let mut html = String::from("<!DOCTYPE html>\n<html lang=\"ar\" dir=\"rtl\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(html, "<title>{} — {}</title>", ARABIC.title, escaped(&record.association_name_ar));
    let _ = writeln!(html, "<style>\n{PRINT_CSS}</style>\n</head>\n<body>");
    for words in [&ARABIC, &ENGLISH] {
        section(&mut html, record, words);
    }
    html.push_str("</body>\n</html>\n");
    html
}

fn section(html: &mut String, record: &api::MinutesRecord, w: &Words) {
    let arabic = w.lang == "ar";
    let association = if arabic { &record.association_name_ar } else { &record.association_name_en };
    let _ = writeln!(html, "<section lang=\"{}\" dir=\"{}\">", w.lang, w.dir);
    let _ = writeln!(html, "<h1>{}</h1>\n<p>{}</p>", w.title, escaped(association));
    let starts_at = record.starts_at.as_ref().and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0));
    let date = starts_at
        .map(|at| DualDate::new(saudi_day(at)))
        .map(|d| if arabic { d.arabic() } else { d.english() })
        .unwrap_or_default();
    let time = starts_at.map(|at| saudi_time(at).format("%H:%M").to_string()).unwrap_or_default();
    html.push_str("<table>\n");
    let _ = writeln!(
        html,
        "<tr><th scope=\"row\">{}</th><td><bdi>{}</bdi> <bdi>{time}</bdi></td></tr>",
        w.date,
        escaped(&date)
    );
    let _ = writeln!(html, "<tr><th scope=\"row\">{}</th><td>{}</td></tr>", w.place, escaped(&record.place));
    let _ = writeln!(
        html,
        "<tr><th scope=\"row\">{}</th><td><bdi>{}</bdi></td></tr>",
        w.chair,
        escaped(named(&record.chair_name, &record.chair))
    );
    let present = record.attendance.iter().filter(|a| a.present).count();
    let (m_ar, m_en) = majority_words(&record.majority);
    let quorum = if arabic {
        format!(
            "حضر <bdi>{present}</bdi> من <bdi>{}</bdi>؛ النصاب <bdi>{}</bdi> أعضاء، ويقرر {m_ar}",
            record.attendance.len(),
            record.quorum
        )
    } else {
        format!(
            "<bdi>{present}</bdi> of <bdi>{}</bdi> present; quorum <bdi>{}</bdi> members, {m_en} decide",
            record.attendance.len(),
            record.quorum
        )
    };
    let _ = writeln!(html, "<tr><th scope=\"row\">{}</th><td>{quorum}</td></tr>", w.quorum);
    html.push_str("</table>\n");

    let _ = writeln!(
        html,
        "<h2>{}</h2>\n<table>\n<tr><th scope=\"col\">{}</th><th scope=\"col\"></th></tr>",
        w.attendance, w.member
    );
    for attendee in &record.attendance {
        let status = if attendee.present { w.present } else { w.absent };
        let _ = writeln!(
            html,
            "<tr><td><bdi>{}</bdi></td><td>{status}</td></tr>",
            escaped(named(&attendee.name, &attendee.member))
        );
    }
    html.push_str("</table>\n");

    let _ = writeln!(html, "<h2>{}</h2>", w.cases);
    if record.cases.is_empty() {
        let _ = writeln!(html, "<p>{}</p>", w.none);
    } else {
        let _ = writeln!(
            html,
            "<table>\n<tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr>",
            w.case, w.service, w.recommended, w.decision, w.votes, w.reasons
        );
        for case in &record.cases {
            let (r_ar, r_en) = recommendation_words(&case.recommendation);
            let votes: Vec<String> = case
                .votes
                .iter()
                .map(|v| {
                    let (v_ar, v_en) = vote_words(&v.vote);
                    format!("<bdi>{}</bdi>: {}", escaped(&v.member), if arabic { v_ar } else { v_en })
                })
                .chain(
                    case.recusals
                        .iter()
                        .map(|r| format!("<bdi>{}</bdi>: {} ({})", escaped(&r.member), w.recused, escaped(&r.reason))),
                )
                .collect();
            let reasons: Vec<String> = case.reasons.iter().map(|r| escaped(r)).collect();
            let _ = writeln!(
                html,
                "<tr><td><bdi>{}</bdi></td><td><bdi>{}</bdi></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escaped(&case.request_id),
                escaped(&case.service_type),
                if arabic { r_ar } else { r_en },
                case_decision(&case.decision, arabic),
                votes.join("<br>"),
                if reasons.is_empty() { "—".to_owned() } else { reasons.join("<br>") },
            );
        }
        html.push_str("</table>\n");
    }
    if !record.remarks.is_empty() {
        let _ = writeln!(html, "<h2>{}</h2>\n<p>{}</p>", w.remarks, escaped(&record.remarks));
    }
    let _ = writeln!(html, "<h2>{}</h2>\n<table class=\"signatures\">", w.signatures);
    for attendee in record.attendance.iter().filter(|a| a.present) {
        let _ = writeln!(
            html,
            "<tr><td><bdi>{}</bdi></td><td>{}:</td></tr>",
            escaped(named(&attendee.name, &attendee.member)),
            w.signature
        );
    }
    html.push_str("</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> api::MinutesRecord {
        api::MinutesRecord {
            meeting_id: "m".into(),
            association_name_ar: "جمعية نزل".into(),
            association_name_en: "Nuzul".into(),
            // 2026-12-07 07:00 UTC, 10:00 in Riyadh.
            starts_at: Some(prost_types::Timestamp { seconds: 1_796_626_800, nanos: 0 }),
            place: "Hall <A>".into(),
            chair: "c1".into(),
            attendance: vec![
                api::Attendee { member: "c1".into(), present: true, name: "Abdullah Aldosari".into() },
                api::Attendee { member: "c2".into(), present: false, name: String::new() },
            ],
            quorum: 1,
            majority: "simple".into(),
            cases: vec![api::MinutesCase {
                request_id: "r1".into(),
                recommendation: "approve".into(),
                decision: "approved".into(),
                votes: vec![api::Vote { member: "c1".into(), vote: "approve".into(), note: String::new() }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_minutes_print_in_arabic_then_english_with_both_calendars() {
        let html = render(&record());
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"ar\" dir=\"rtl\">"), "{html}");
        let (arabic, english) = html.split_once("<section lang=\"en\" dir=\"ltr\">").unwrap();
        assert!(arabic.contains("محضر اجتماع لجنة البحث") && arabic.contains("هـ"), "{arabic}");
        assert!(arabic.contains("<bdi>10:00</bdi>") && arabic.contains("الموافقة"), "{arabic}");
        assert!(english.contains("2026-12-07") && english.contains("AH") && english.contains("Approved"), "{english}");
        assert!(english.contains("<bdi>1</bdi> of <bdi>2</bdi> present"), "{english}");
        assert!(html.contains("Hall &lt;A&gt;") && !html.contains("<A>"), "escaped");
        assert!(html.contains("<bdi>Abdullah Aldosari</bdi>") && html.contains("<bdi>c2</bdi>"), "named where known");
        assert!(html.contains("@page") && html.contains("break-before: page"), "printable");
    }

    #[test]
    fn kept_minutes_are_hashed_as_printed() {
        let kept = keep(&record());
        assert_eq!(kept.sha256, evidence_hash(kept.html.as_bytes()));
        assert_eq!(reply(kept).record, Some(record()));
    }
}
