//! Each store's conformance suite, run on PostgreSQL and on SQLite.

use crate::support::{TestDatabase, temp_dir};
use chrono::Utc;
use masar_domain::{
    AccountStanding, ActorRole, CaseStatus, Channel, DocumentReview, FactValue, Facts, InquiryStatus, Language,
    NationalId, RuleOutcome, SaudiMobile, Verdict, Vote,
};
use masar_identity::Opened;
use masar_intake::Registered;
use masar_platform::db::{Db, Sql};
use masar_platform::health::Readiness;
use masar_platform::messaging::{Outbox, OutboxRelay, OutboxSettings, Settled, Swept};
use masar_platform::paging::{PageRequest, Position};
use masar_platform::policies::PolicyBook;
use masar_platform::queue::{MemoryQueue, Queue, Subscription};
use masar_platform::role::Role;
use masar_proto::Event;
use masar_proto::events::v1 as events;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Runs `scenario` on a fresh PostgreSQL schema and on a fresh SQLite file.
async fn on_both<F, Fut>(role: Role, scenario: F)
where
    F: Fn(Db) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let database = TestDatabase::create().await;
    let postgres = Db::connect(&database.url, role.schema()).await.unwrap();
    masar::migrate(role, &postgres).await.unwrap();
    masar::migrate(role, &postgres).await.unwrap(); // migrating twice is harmless
    scenario(postgres.clone()).await;
    postgres.close().await;
    database.drop_database().await;

    let path = temp_dir().join(format!("{}.db", role.schema()));
    let sqlite = Db::connect(&format!("sqlite://{}", path.display()), role.schema()).await.unwrap();
    masar::migrate(role, &sqlite).await.unwrap();
    scenario(sqlite).await;
}

fn at(at: chrono::DateTime<Utc>, id: Uuid) -> Position {
    Position { at, id }
}

fn inquiry_filter<'a>(
    association: &'a str,
    statuses: &'a [InquiryStatus],
    branch: Option<&'a str>,
    referred_to: Option<ActorRole>,
) -> masar_intake::InquiryFilter<'a> {
    masar_intake::InquiryFilter {
        association,
        statuses,
        branch,
        referred_to,
        beneficiary_id: None,
        asked_by_account: None,
    }
}

fn case_ref(request_id: Uuid, branch: &str) -> events::CaseRef {
    events::CaseRef {
        request_id: request_id.to_string(),
        association: "nuzul".into(),
        branch: branch.into(),
        service_type: "roof_repair".into(),
    }
}

/// The personal-data keys every store test seals with.
fn personal() -> masar_platform::personal::PersonalData {
    let keys = secrecy::SecretString::from(format!("1:{}", "5e".repeat(32)));
    masar_platform::personal::PersonalData::from_list(&keys).unwrap()
}

async fn intake_scenario(db: Db) {
    let store = masar_intake::IntakeStore::new(db.clone(), personal());
    let request_id = Uuid::new_v4();
    let submitted_at = Utc::now();
    let new = masar_intake::NewRequest {
        request_id,
        reference: format!("NZL-{}", &request_id.simple().to_string()[..6]),
        association: "nuzul".into(),
        branch: "riyadh".into(),
        service_type: "roof_repair".into(),
        channel: Channel::Website,
        national_id: NationalId::parse("1000000008").unwrap(),
        applicant_name: "محمد".into(),
        mobile: SaudiMobile::parse("0551234567").unwrap(),
        language: Language::Arabic,
        description: String::new(),
        submitted_at,
        expected_decision_on: submitted_at.date_naive() + chrono::Days::new(14),
        policy_version: 1,
        facts: Facts([("household.members".to_owned(), FactValue::Number(4.0))].into_iter().collect()),
        beneficiary_id: None,
        filed_by_account: None,
        address: masar_domain::read_address(
            masar_domain::AddressAsked::Required,
            masar_domain::AddressForm {
                city: "الرياض",
                district: "النسيم",
                short_address: "RNSA1234",
                ..Default::default()
            },
        )
        .unwrap(),
    };
    let mut tx = db.begin().await.unwrap();
    let registered_by = "beneficiary".to_owned();
    let (beneficiary, _) =
        store.find_or_register(&mut tx, &masar_intake::NewBeneficiary::of_request(&new, registered_by)).await.unwrap();
    let new = masar_intake::NewRequest { beneficiary_id: Some(beneficiary.beneficiary_id), ..new };
    store.insert_request(&mut tx, &new).await.unwrap();
    let entry = |status, seconds| {
        masar_intake::TimelineEntry::new(
            Uuid::now_v7(),
            status,
            ActorRole::System,
            submitted_at + chrono::Duration::seconds(seconds),
            String::new(),
        )
    };
    store.record(&mut tx, request_id, &entry(CaseStatus::Submitted, 0)).await.unwrap();
    // events may arrive out of order: the latest in time decides the status
    let verified = entry(CaseStatus::Verified, 20);
    store.record(&mut tx, request_id, &verified).await.unwrap();
    store.record(&mut tx, request_id, &entry(CaseStatus::ResearcherAssigned, 30)).await.unwrap();
    store.record(&mut tx, request_id, &verified).await.unwrap(); // replay: no duplicate
    tx.commit().await.unwrap();

    let stored = store.request(request_id).await.unwrap().unwrap();
    assert_eq!(stored.status, CaseStatus::ResearcherAssigned);
    assert_eq!(stored.mobile, "+966551234567");
    assert_eq!(stored.expected_decision_on, new.expected_decision_on);
    assert_eq!((stored.policy_version, &stored.facts), (1, &new.facts));
    let (_, address) = store.case_details(&stored).await.unwrap();
    assert_eq!(address, new.address, "the address comes back as filed (sealed at rest)");
    // no approval yet: no history for "no approved request of the same type within N months"
    let history = |service_type: &'static str| {
        let store = store.clone();
        let id = new.national_id.clone();
        async move { store.months_since_same_service_approved("nuzul", &id, service_type, Utc::now()).await.unwrap() }
    };
    assert_eq!(history("roof_repair").await, None);
    let mut tx = db.begin().await.unwrap();
    store.record(&mut tx, request_id, &entry(CaseStatus::Approved, 40)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(history("roof_repair").await, Some(0));
    assert_eq!(history("plumbing").await, None);
    let mut tx = db.begin().await.unwrap();
    let completed = Facts([("household.members".to_owned(), FactValue::Number(5.0))].into_iter().collect());
    let attestation = masar_intake::Attestation { by: "beneficiary".into(), at: Utc::now(), version: "v1".into() };
    let resubmitted = store.mark_resubmitted(&mut tx, &stored, new.expected_decision_on, &completed, &attestation);
    assert!(!resubmitted.await.unwrap(), "only a returned request is resubmitted");
    tx.commit().await.unwrap();
    let timeline = store.timeline(request_id).await.unwrap();
    let statuses: Vec<_> = timeline.iter().map(|e| e.status).collect();
    let expected = [CaseStatus::Submitted, CaseStatus::Verified, CaseStatus::ResearcherAssigned, CaseStatus::Approved];
    assert_eq!(statuses, expected);
    assert_eq!(timeline[1].stage, masar_domain::Stage::Verification);
    assert!(store.request(Uuid::new_v4()).await.unwrap().is_none());
}

async fn verification_scenario(db: Db) {
    let store = masar_verification::VerificationStore::new(db.clone());
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let unclear = [RuleOutcome {
        rule: "income_per_member".into(),
        verdict: Verdict::Unknown,
        explanation: masar_domain::Bilingual::new("دخل", "income"),
        missing_facts: vec![vec!["household.members".into()]],
    }];
    let deed = |attachment_id, review| masar_verification::CaseDocument {
        document: "ownership_deed".into(),
        name: masar_domain::Bilingual::new("صك الملكية", "Ownership deed"),
        attachment_id,
        content_type: "application/pdf".into(),
        size_bytes: 10,
        sha256: "ab".into(),
        issued_on: None,
        expires_on: "2030-01-01".parse().ok(),
        review,
        reason: String::new(),
        reviewed_by: None,
    };
    let first_deed = [deed(Uuid::new_v4(), DocumentReview::Pending)];
    let (case_a, case_b) = (case_ref(a, "riyadh"), case_ref(b, "jeddah"));
    let preference = masar_domain::roster::Preference {
        gender: masar_domain::roster::Gender::Female,
        reason: masar_domain::Bilingual::new("أسرة تعولها امرأة", "a household headed by a woman"),
    };
    let received = |case, name, eligibility, documents| masar_verification::Received {
        case,
        applicant_name: name,
        national_id_masked: "1******008",
        received_at: Utc::now(),
        policy_version: 3,
        eligibility,
        documents,
        document_reviews_optional: case == &case_b,
        researcher_preference: (case == &case_b).then_some(&preference),
    };
    let mut tx = db.begin().await.unwrap();
    store.receive(&mut tx, a, received(&case_a, "A", &unclear, &first_deed)).await.unwrap();
    store.receive(&mut tx, a, received(&case_a, "A", &unclear, &first_deed)).await.unwrap();
    store.receive(&mut tx, b, received(&case_b, "B", &[], &[])).await.unwrap();
    tx.commit().await.unwrap();
    let pending = store.pending("nuzul", Some("riyadh"), &PageRequest::default()).await.unwrap();
    assert_eq!((pending[0].policy_version, pending[0].eligibility.as_slice()), (3, unclear.as_slice()));
    assert_eq!(pending[0].documents, first_deed);
    assert_eq!(pending.len(), 1);
    assert_eq!(store.pending("nuzul", None, &PageRequest::default()).await.unwrap().len(), 2);
    // A page of one, then the next after it: the oldest first, each once.
    let page = PageRequest::read(1, "").unwrap();
    let (first_of_two, token) =
        page.finish(store.pending("nuzul", None, &page).await.unwrap(), |c| at(c.received_at, c.request_id));
    let next = PageRequest::read(1, &token).unwrap();
    let (second_of_two, last) =
        next.finish(store.pending("nuzul", None, &next).await.unwrap(), |c| at(c.received_at, c.request_id));
    assert_eq!(last, "");
    // `a` was received first (its arrival is read before `b`'s): each case once, with its own documents.
    let both: Vec<_> = first_of_two.iter().chain(&second_of_two).map(|c| (c.request_id, c.documents.len())).collect();
    assert_eq!(both, [(a, 1), (b, 0)]);
    let optional: Vec<_> = first_of_two.iter().chain(&second_of_two).map(|c| c.document_reviews_optional).collect();
    assert_eq!(optional, [false, true], "each case keeps what its pack says of document reviews");
    let preferred: Vec<_> =
        first_of_two.iter().chain(&second_of_two).map(|c| c.researcher_preference.clone()).collect();
    assert_eq!(preferred, [None, Some(preference.clone())], "and whom research is to prefer");
    assert!(store.pending("hayat", None, &PageRequest::default()).await.unwrap().is_empty());

    let mut tx = db.begin().await.unwrap();
    let pm = "nuzul.pm";
    // a request that was not returned cannot be reopened
    assert!(store.reopen(&mut tx, a, received(&case_a, "A", &unclear, &first_deed)).await.is_err());
    let rejected = DocumentReview::Rejected;
    let read = store.case_in(&mut tx, a).await.unwrap().unwrap();
    assert_eq!(read.version, 1);
    assert!(!store.review_document(&mut tx, &read, "tenancy_contract", rejected, "x", pm).await.unwrap());
    assert!(store.review_document(&mut tx, &read, "ownership_deed", rejected, "illegible", pm).await.unwrap());
    let reviewed = store.case_in(&mut tx, a).await.unwrap().unwrap();
    assert_eq!((reviewed.documents[0].review, reviewed.documents[0].reason.as_str()), (rejected, "illegible"));
    assert_eq!(reviewed.version, 2, "a review raises the case's version");
    // a review or an outcome based on the older reading changes nothing
    let accepted = DocumentReview::Accepted;
    assert!(!store.review_document(&mut tx, &read, "ownership_deed", accepted, "", pm).await.unwrap());
    let returned = serde_json::json!({"missing_items": ["deed"]});
    assert!(!store.decide(&mut tx, a, 1, CaseStatus::Verified, pm, returned.clone()).await.unwrap());
    assert!(store.decide(&mut tx, a, 2, CaseStatus::ReturnedForCompletion, pm, returned).await.unwrap());
    assert_eq!(store.case_in(&mut tx, a).await.unwrap().unwrap().version, 3);
    let met = [RuleOutcome { verdict: Verdict::Met, ..unclear[0].clone() }];
    // resubmitted without a new deed: the rejection stands
    store.reopen(&mut tx, a, received(&case_a, "A", &met, &first_deed)).await.unwrap();
    let reopened = store.case_in(&mut tx, a).await.unwrap().unwrap();
    assert_eq!((reopened.status, reopened.eligibility.as_slice()), (CaseStatus::Submitted, met.as_slice()));
    assert_eq!(reopened.documents[0].review, rejected);
    // a replaced deed is reviewed afresh
    let second_deed = [deed(Uuid::new_v4(), DocumentReview::Pending)];
    let version = reopened.version;
    assert_eq!(version, 4, "reopening raises it too");
    let returned_again =
        store.decide(&mut tx, a, version, CaseStatus::ReturnedForCompletion, pm, serde_json::json!({}));
    assert!(returned_again.await.unwrap());
    store.reopen(&mut tx, a, received(&case_a, "A", &met, &second_deed)).await.unwrap();
    assert_eq!(store.case_in(&mut tx, a).await.unwrap().unwrap().documents, second_deed);
    store.accept_unreviewed_documents(&mut tx, a, pm).await.unwrap();
    let accepted = store.case_in(&mut tx, a).await.unwrap().unwrap().documents;
    assert_eq!((accepted[0].review, accepted[0].reviewed_by.as_deref()), (DocumentReview::Accepted, Some(pm)));
    tx.commit().await.unwrap();
}

async fn research_scenario(db: Db) {
    let store = masar_research::ResearchStore::new(db.clone(), personal());
    let researchers = ["r.a", "r.b"];
    let open_cases = |counted: std::collections::HashMap<String, u32>| {
        researchers.iter().map(|r| (r.to_string(), counted.get(*r).copied().unwrap_or(0))).collect::<Vec<_>>()
    };
    let why = masar_domain::Bilingual::new("الأقل", "the least busy");
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        open_cases(store.open_cases(&mut tx, "nuzul", &researchers).await.unwrap()),
        [("r.a".into(), 0), ("r.b".into(), 0)]
    );
    let first = Uuid::new_v4();
    // A case that waited is no longer waiting once assigned.
    let waiting = masar_research::Unassigned {
        request_id: first,
        association: "nuzul".into(),
        branch: "riyadh".into(),
        service_type: "roof_repair".into(),
        policy_version: 2,
        waiting_since: Utc::now(),
        why: why.clone(),
        preference: Some(masar_domain::roster::Preference {
            gender: masar_domain::roster::Gender::Female,
            reason: masar_domain::Bilingual::new("أسرة تعولها امرأة", "a household headed by a woman"),
        }),
    };
    store.keep_unassigned(&mut tx, &waiting).await.unwrap();
    store.keep_unassigned(&mut tx, &waiting).await.unwrap(); // a redelivery keeps it once
    tx.commit().await.unwrap();
    let listed = store.unassigned("nuzul", Some("riyadh"), &PageRequest::default()).await.unwrap();
    assert_eq!((listed.len(), listed[0].why.en.as_str()), (1, "the least busy"));
    assert_eq!(listed[0].preference, waiting.preference, "whom the pack prefers waits with it");
    assert!(store.unassigned("nuzul", Some("jeddah"), &PageRequest::default()).await.unwrap().is_empty());
    let mut tx = db.begin().await.unwrap();
    let chosen = |researcher, at| masar_research::Chosen { researcher, why: &why, at };
    store.assign(&mut tx, first, &case_ref(first, "riyadh"), chosen("r.a", Utc::now()), 2).await.unwrap();
    assert_eq!(
        open_cases(store.open_cases(&mut tx, "nuzul", &researchers).await.unwrap()),
        [("r.a".into(), 1), ("r.b".into(), 0)]
    );
    // Each researcher of the list is counted, the last as the first, and one alone too.
    let for_c = Uuid::new_v4();
    store.assign(&mut tx, for_c, &case_ref(for_c, "riyadh"), chosen("r.c", Utc::now()), 2).await.unwrap();
    let counted = store.open_cases(&mut tx, "nuzul", &["r.a", "r.c"]).await.unwrap();
    assert_eq!((counted.get("r.a"), counted.get("r.c")), (Some(&1), Some(&1)));
    assert_eq!(store.open_cases(&mut tx, "nuzul", &["r.c"]).await.unwrap().get("r.c"), Some(&1));
    // counted in their own association only
    assert_eq!(
        open_cases(store.open_cases(&mut tx, "hayat", &researchers).await.unwrap()),
        [("r.a".into(), 0), ("r.b".into(), 0)]
    );
    let assigned = store.assignment_in(&mut tx, first).await.unwrap().unwrap();
    assert_eq!((assigned.version, assigned.why.en.as_str()), (1, "the least busy"));
    // A missed visit is kept without moving the case; a done one counts, whom it met sealed.
    use masar_domain::visits::{Informant, PersonMet, VisitOutcome, VisitRecord};
    let neighbour = PersonMet {
        kind: Informant::Neighbour,
        name: "سعد".into(),
        relation: String::new(),
        contact: "0550001122".into(),
    };
    let visit = |outcome, people_met: Vec<PersonMet>, findings: &str| VisitRecord {
        outcome,
        visited_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
        people_met,
        findings: findings.into(),
    };
    let missed = visit(VisitOutcome::Missed, vec![], "nobody home");
    assert!(store.record_visit(&mut tx, &assigned, "r.a", &missed).await.unwrap());
    assert!(!store.record_visit(&mut tx, &assigned, "r.a", &missed).await.unwrap(), "a stale reading");
    let after_missed = store.assignment_in(&mut tx, first).await.unwrap().unwrap();
    assert_eq!((after_missed.status, after_missed.visits), (CaseStatus::ResearcherAssigned, 0));
    let done = visit(VisitOutcome::Done, vec![neighbour.clone()], "seen");
    assert!(store.record_visit(&mut tx, &after_missed, "r.a", &done).await.unwrap());
    let sealed = tx
        .fetch_all(
            masar_platform::db::Sql::new("SELECT people_met FROM field_visits WHERE request_id = $1").bind(first),
        )
        .await
        .unwrap();
    assert!(sealed.iter().all(|row| !row.text("people_met").unwrap().contains("0550001122")), "sealed at rest");
    // Scores: kept by criterion, a second scoring of one replacing it, only on the version read.
    let score = |criterion: &str, score| masar_research::CriterionScore {
        criterion: criterion.into(),
        score,
        note: "n".into(),
    };
    let visited = store.assignment_in(&mut tx, first).await.unwrap().unwrap();
    assert!(store.save_scores(&mut tx, &visited, "r.a", &[score("a", 1), score("b", 2)], Utc::now()).await.unwrap());
    assert!(!store.save_scores(&mut tx, &visited, "r.a", &[score("a", 4)], Utc::now()).await.unwrap(), "stale");
    let scored = store.assignment_in(&mut tx, first).await.unwrap().unwrap();
    assert!(store.save_scores(&mut tx, &scored, "r.a", &[score("a", 3)], Utc::now()).await.unwrap());
    assert_eq!(store.scores(&mut tx, first).await.unwrap(), [score("a", 3), score("b", 2)]);
    let visits = store.visits(&mut tx, first).await.unwrap();
    assert_eq!(visits.iter().map(|v| v.outcome).collect::<Vec<_>>(), [VisitOutcome::Missed, VisitOutcome::Done]);
    assert_eq!((visits[1].findings.as_str(), visits[1].researcher.as_str()), ("seen", "r.a"));
    assert_eq!((&visits[1].people_met, visits[1].visited_on), (&vec![neighbour], Some(done.visited_on)));
    let recommended = masar_domain::research::Recommended {
        recommendation: masar_domain::Recommendation::Approve,
        justification: "ok".into(),
        proposal: masar_domain::research::Proposal {
            service: "roof".into(),
            amount_sar: 12_000,
            total: Some(80),
            ..Default::default()
        },
    };
    assert!(
        store
            .record_recommendation(&mut tx, first, 5, &recommended, CaseStatus::Recommended, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_recommendation(&mut tx, first, 5, &recommended, CaseStatus::Recommended, Utc::now())
            .await
            .unwrap()
    );
    // a recommended case is no longer open work
    assert_eq!(
        open_cases(store.open_cases(&mut tx, "nuzul", &researchers).await.unwrap()),
        [("r.a".into(), 0), ("r.b".into(), 0)]
    );
    let stored = store.assignment_in(&mut tx, first).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.visits, stored.recommendation.as_str()), (CaseStatus::Recommended, 1, "approve"));
    assert_eq!((stored.policy_version, stored.version), (2, 6));
    assert_eq!((&stored.proposal, stored.justification.as_str()), (&recommended.proposal, "ok"));
    assert!(stored.recommended_at.is_some());
    tx.commit().await.unwrap();
    assert!(
        store.unassigned("nuzul", None, &PageRequest::default()).await.unwrap().is_empty(),
        "assigned: no longer waiting"
    );
    assert!(store.open_assignments("nuzul", None, Some("r.a"), &PageRequest::default()).await.unwrap().is_empty());

    // Three open assignments, two at the same instant: pages of two, oldest first, a tie broken by id.
    let when = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let mut open: Vec<(chrono::DateTime<Utc>, Uuid)> =
        [0, 1, 1].into_iter().map(|seconds| (when + chrono::Duration::seconds(seconds), Uuid::new_v4())).collect();
    let mut tx = db.begin().await.unwrap();
    for (assigned_at, id) in &open {
        store.assign(&mut tx, *id, &case_ref(*id, "riyadh"), chosen("r.b", *assigned_at), 2).await.unwrap();
    }
    tx.commit().await.unwrap();
    open.sort();
    let page = PageRequest::read(2, "").unwrap();
    let rows = store.open_assignments("nuzul", None, Some("r.b"), &page).await.unwrap();
    let (first, token) = page.finish(rows, |a| at(a.assigned_at, a.request_id));
    let next = PageRequest::read(2, &token).unwrap();
    let rows = store.open_assignments("nuzul", None, Some("r.b"), &next).await.unwrap();
    let (rest, last) = next.finish(rows, |a| at(a.assigned_at, a.request_id));
    let listed: Vec<Uuid> = first.iter().chain(&rest).map(|a| a.request_id).collect();
    assert_eq!((first.len(), last.as_str()), (2, ""));
    assert_eq!(listed, open.iter().map(|(_, id)| *id).collect::<Vec<_>>());
}

async fn committee_scenario(db: Db) {
    let store = masar_committee::CommitteeStore::new(db.clone());
    let request_id = Uuid::new_v4();
    let now = Utc::now();
    let mut tx = db.begin().await.unwrap();
    let agenda = store.open_agenda(&mut tx, "nuzul", "riyadh", now).await.unwrap();
    assert_eq!(store.open_agenda(&mut tx, "nuzul", "riyadh", now).await.unwrap(), agenda);
    let case = case_ref(request_id, "riyadh");
    let file = masar_proto::research::v1::ResearchFile {
        request_id: request_id.to_string(),
        justification: "Urgent".into(),
        total_percent: Some(80),
        ..Default::default()
    };
    let recommended = |case| masar_committee::Recommended {
        case,
        researcher: "r.a",
        recommendation: "approve",
        policy_version: 2,
        research: Some(&file),
    };
    store.schedule(&mut tx, request_id, agenda, recommended(&case), now, None).await.unwrap();
    let scheduled = store.item_in(&mut tx, request_id).await.unwrap().unwrap();
    assert_eq!(scheduled.research.as_ref(), Some(&file), "the research file as recommended");
    let vote = |member: &str, vote| masar_committee::CastVote { member: member.into(), vote, note: String::new() };
    assert!(store.cast_vote(&mut tx, request_id, 1, &vote("m1", Vote::Reject)).await.unwrap());
    assert!(store.cast_vote(&mut tx, request_id, 2, &vote("m1", Vote::Approve)).await.unwrap()); // changes their vote
    assert!(!store.cast_vote(&mut tx, request_id, 2, &vote("m2", Vote::Reject)).await.unwrap(), "a stale reading");
    assert!(store.cast_vote(&mut tx, request_id, 3, &vote("m2", Vote::Approve)).await.unwrap());
    // each vote raised the version: a decision on the reading before the last vote is refused
    let read_at = |version| masar_committee::AgendaItem { version, ..scheduled.clone() };
    let decided = ("m1", now);
    assert!(!store.decide(&mut tx, &read_at(3), CaseStatus::Rejected, &["stale".into()], decided, b"e").await.unwrap());
    assert!(store.decide(&mut tx, &read_at(4), CaseStatus::Approved, &[], decided, b"evidence").await.unwrap());
    assert!(!store.decide(&mut tx, &read_at(4), CaseStatus::Rejected, &["late".into()], decided, b"e").await.unwrap());
    let kept = store.decisions(&mut tx, request_id).await.unwrap();
    assert_eq!((kept.len(), kept[0].round, kept[0].evidence.as_slice()), (1, 1, b"evidence".as_slice()));
    assert_eq!(kept[0].evidence_sha256, masar_committee::evidence_hash(b"evidence"));
    tx.commit().await.unwrap();
    let votes = store.votes(request_id).await.unwrap();
    assert_eq!(votes.iter().map(|v| v.vote).collect::<Vec<_>>(), [Vote::Approve, Vote::Approve]);
    let mut tx = db.begin().await.unwrap();
    let decided_item = store.item_in(&mut tx, request_id).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!((decided_item.status, decided_item.policy_version, decided_item.version), (CaseStatus::Approved, 2, 5));
    // decided, it has left the agenda, which lists what awaits a decision
    let first = PageRequest::default();
    let (id, _, items) = store.agenda("nuzul", "riyadh", &first).await.unwrap().unwrap();
    assert_eq!((id, items.len()), (agenda, 0));
    // back on the agenda after deferral: no votes, and a version past every earlier one
    let mut tx = db.begin().await.unwrap();
    store.schedule(&mut tx, request_id, agenda, recommended(&case), now, Some(&decided_item)).await.unwrap();
    let again = store.item_in(&mut tx, request_id).await.unwrap().unwrap();
    assert_eq!((again.status, again.version, again.round), (CaseStatus::OnCommitteeAgenda, 6, 2));
    assert!(store.votes_in(&mut tx, request_id).await.unwrap().is_empty());
    let first_round = store.past_votes(&mut tx, request_id, 1).await.unwrap();
    assert_eq!(first_round.iter().map(|v| v.vote).collect::<Vec<_>>(), [Vote::Approve, Vote::Approve], "kept");
    // a page at a time, in the order scheduled
    let later = Uuid::new_v4();
    let then = now + chrono::Duration::seconds(1);
    let later_case = case_ref(later, "riyadh");
    let without_file = masar_committee::Recommended { research: None, ..recommended(&later_case) };
    store.schedule(&mut tx, later, agenda, without_file, then, None).await.unwrap();
    tx.commit().await.unwrap();
    let ids = |items: &[masar_committee::AgendaItem]| items.iter().map(|i| i.request_id).collect::<Vec<_>>();
    let one = PageRequest { size: 1, after: None };
    let (_, _, items) = store.agenda("nuzul", "riyadh", &one).await.unwrap().unwrap();
    let (page, next) = one.finish(items, |i| at(i.scheduled_at, i.request_id));
    assert_eq!((ids(&page), next.is_empty()), (vec![request_id], false));
    let after = PageRequest { size: 1, after: Some(at(page[0].scheduled_at, request_id)) };
    let (_, _, items) = store.agenda("nuzul", "riyadh", &after).await.unwrap().unwrap();
    assert_eq!(ids(&after.finish(items, |i| at(i.scheduled_at, i.request_id)).0), [later]);
    assert!(store.agenda("hayat", "madinah", &first).await.unwrap().is_none());
}

/// A meeting scheduled, opened on the cases of its scope, decided at,
/// closed with its minutes, confirmed by its members present.
async fn meetings_scenario(db: Db) {
    use masar_committee::{Attendee, KeptMinutes, NewMeeting};
    use masar_domain::committee::{Majority, MeetingStatus, MinutesStatus};
    let store = masar_committee::CommitteeStore::new(db.clone());
    let now = Utc::now();
    let (a, c, jeddah) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut tx = db.begin().await.unwrap();
    for (id, branch) in [(a, "riyadh"), (c, "riyadh"), (jeddah, "jeddah")] {
        let agenda = store.open_agenda(&mut tx, "nuzul", branch, now).await.unwrap();
        let case = case_ref(id, branch);
        let recommended = masar_committee::Recommended {
            case: &case,
            researcher: "r.a",
            recommendation: "approve",
            policy_version: 4,
            research: None,
        };
        store.schedule(&mut tx, id, agenda, recommended, now, None).await.unwrap();
    }
    let members = ["m1".to_owned(), "m2".to_owned(), "m3".to_owned()];
    let new = |meeting_id, branch| NewMeeting {
        meeting_id,
        association: "nuzul",
        branch,
        starts_at: now,
        place: "Hall",
        chair: "m1",
        members: &members,
        quorum: 2,
        majority: Majority::Simple,
        policy_version: 4,
        scheduled_by: "nuzul.branch",
    };
    let (riyadh, wide) = (Uuid::now_v7(), Uuid::now_v7());
    store.schedule_meeting(&mut tx, &new(riyadh, "riyadh")).await.unwrap();
    store.schedule_meeting(&mut tx, &new(wide, "")).await.unwrap();
    let meeting = store.meeting_in(&mut tx, riyadh).await.unwrap().unwrap();
    let seated: Vec<&str> = meeting.members.iter().map(|m| m.member.as_str()).collect();
    assert_eq!(
        (meeting.status, seated, meeting.present().count()),
        (MeetingStatus::Scheduled, vec!["m1", "m2", "m3"], 0)
    );
    let ids = |items: Vec<masar_committee::AgendaItem>| items.iter().map(|i| i.request_id).collect::<Vec<_>>();
    assert_eq!(ids(store.waiting_for(&mut tx, &meeting).await.unwrap()), [a, c], "its branch's cases only");
    assert!(store.meeting_in_session_beside(&mut tx, &meeting).await.unwrap().is_none());
    tx.commit().await.unwrap();
    let page = PageRequest::default();
    let listed = |branch: Option<&'static str>| {
        let store = store.clone();
        async move {
            store.meetings("nuzul", branch, true, &page).await.unwrap().iter().map(|m| m.meeting_id).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(Some("jeddah")).await, [wide], "a branch reads its own and the association-wide ones");
    assert_eq!(listed(None).await.len(), 2);
    let own = store.meetings("nuzul", Some("riyadh"), false, &page).await.unwrap();
    assert_eq!(own.iter().map(|m| m.meeting_id).collect::<Vec<_>>(), [riyadh], "a branch manager's: the branch's only");

    // Opened: its agenda fixed; the association-wide meeting now meets one in session beside it.
    let mut tx = db.begin().await.unwrap();
    assert!(!store.touch_meeting(&mut tx, &masar_committee::Meeting { version: 9, ..meeting.clone() }).await.unwrap());
    assert!(store.touch_meeting(&mut tx, &meeting).await.unwrap());
    store.open_meeting(&mut tx, &meeting, now + chrono::Duration::seconds(1)).await.unwrap();
    store.record_attendance(&mut tx, riyadh, &["m1".to_owned(), "m2".to_owned()]).await.unwrap();
    assert_eq!(ids(store.meeting_agenda(&mut tx, riyadh).await.unwrap()), [a, c]);
    let open = store.meeting_in(&mut tx, riyadh).await.unwrap().unwrap();
    assert_eq!(
        (open.status, open.present().collect::<Vec<_>>(), open.version),
        (MeetingStatus::InSession, vec!["m1", "m2"], 2)
    );
    assert_eq!(open.members[2], Attendee { member: "m3".into(), present: false });
    let wide_meeting = store.meeting_in(&mut tx, wide).await.unwrap().unwrap();
    assert_eq!(store.meeting_in_session_beside(&mut tx, &wide_meeting).await.unwrap(), Some(riyadh));
    let decided_item = store.item_in(&mut tx, c).await.unwrap().unwrap();
    assert_eq!(decided_item.meeting_id, Some(riyadh));
    assert!(store.decide(&mut tx, &decided_item, CaseStatus::Approved, &[], ("m1", now), b"evidence").await.unwrap());
    let vote = masar_committee::CastVote { member: "m2".into(), vote: Vote::Defer, note: String::new() };
    assert!(store.cast_vote(&mut tx, a, 1, &vote).await.unwrap());

    // Closed: the undecided case waits again without its votes; the minutes await confirmation.
    let minutes = |html: &str| KeptMinutes {
        status: MinutesStatus::AwaitingConfirmation,
        record: b"record".to_vec(),
        html: html.to_owned(),
        sha256: masar_committee::evidence_hash(html.as_bytes()),
        confirmed_by: Vec::new(),
    };
    let first = minutes("<p>first</p>");
    store.close_meeting(&mut tx, &open, now, &first).await.unwrap();
    let decided_at = store.decisions_at(&mut tx, riyadh).await.unwrap();
    assert_eq!(decided_at.iter().map(|(id, d)| (*id, d.decision)).collect::<Vec<_>>(), [(c, CaseStatus::Approved)]);
    let waiting = store.item_in(&mut tx, a).await.unwrap().unwrap();
    assert_eq!((waiting.meeting_id, waiting.version), (None, 3));
    assert!(store.votes_in(&mut tx, a).await.unwrap().is_empty());
    let closed = store.meeting_in(&mut tx, riyadh).await.unwrap().unwrap();
    assert_eq!((closed.status, closed.minutes), (MeetingStatus::Closed, Some(MinutesStatus::AwaitingConfirmation)));
    assert_eq!(store.minutes(&mut tx, riyadh).await.unwrap(), Some(first.clone()));
    assert_eq!(store.minutes(&mut tx, wide).await.unwrap(), None, "none before it closes");

    // Confirmed by its present members, of the text they read; an amendment asks them again.
    assert!(!store.confirm_minutes(&mut tx, &closed, "m1", "not-the-text").await.unwrap());
    assert!(store.confirm_minutes(&mut tx, &closed, "m1", &first.sha256).await.unwrap());
    let second = minutes("<p>second</p>");
    assert!(!store.amend_minutes(&mut tx, riyadh, "not-the-text", &second).await.unwrap());
    assert!(store.amend_minutes(&mut tx, riyadh, &first.sha256, &second).await.unwrap());
    assert_eq!(store.minutes(&mut tx, riyadh).await.unwrap().unwrap().confirmed_by, Vec::<String>::new());
    assert!(store.confirm_minutes(&mut tx, &closed, "m1", &second.sha256).await.unwrap());
    let kept = store.minutes(&mut tx, riyadh).await.unwrap().unwrap();
    assert_eq!((kept.status, kept.confirmed_by), (MinutesStatus::AwaitingConfirmation, vec!["m1".to_owned()]));
    assert!(store.confirm_minutes(&mut tx, &closed, "m2", &second.sha256).await.unwrap());
    assert_eq!(store.minutes(&mut tx, riyadh).await.unwrap().unwrap().status, MinutesStatus::Confirmed);
    assert!(!store.amend_minutes(&mut tx, riyadh, &second.sha256, &minutes("<p>third</p>")).await.unwrap());
    tx.commit().await.unwrap();
}

async fn notification_scenario(db: Db) {
    let store = masar_notification::NotificationStore::new(db.clone(), personal());
    let request_id = Uuid::new_v4();
    let submitted = events::RequestSubmitted {
        reference: "NZL-AAAAAA".into(),
        mobile: "+966551234567".into(),
        preferred_language: "en".into(),
        channel: "phone".into(),
        ..Default::default()
    };
    let message = masar_platform::queue::Message {
        event_id: Uuid::now_v7(),
        event_type: "request.submitted".into(),
        payload: Vec::new(),
        headers: Default::default(),
    };
    let mut tx = db.begin().await.unwrap();
    assert!(store.recipient_in(&mut tx, request_id).await.unwrap().is_none());
    store.remember_recipient(&mut tx, request_id, &case_ref(request_id, "riyadh"), &submitted).await.unwrap();
    let recipient = store.recipient_in(&mut tx, request_id).await.unwrap().unwrap();
    let queued = masar_notification::NewMessage {
        subject_id: request_id,
        event: &message,
        association: &recipient.association,
        mobile: &recipient.sealed_mobile,
        language: Language::English,
        body: "hello",
        channel: &recipient.channel,
        sealed_secret: None,
    };
    store.queue_message(&mut tx, &queued).await.unwrap();
    store.queue_message(&mut tx, &queued).await.unwrap();
    // a message about an account, with its secret sealed
    let account_id = Uuid::now_v7();
    let credentials = masar_platform::queue::Message { event_id: Uuid::now_v7(), ..message.clone() };
    let sealed = masar_notification::NewMessage {
        subject_id: account_id,
        event: &credentials,
        body: "password: {password}",
        sealed_secret: Some("c2VhbGVk"),
        ..queued.clone()
    };
    store.queue_message(&mut tx, &sealed).await.unwrap();
    tx.commit().await.unwrap();
    let messages = store.messages(request_id).await.unwrap();
    assert_eq!(messages.len(), 1, "one message per event");
    assert_eq!((messages[0].status.as_str(), messages[0].language.as_str()), ("pending", "en"));
    assert_eq!((messages[0].channel.as_str(), messages[0].sealed_secret.as_deref()), ("phone", None));
    let about_account = store.messages(account_id).await.unwrap();
    assert_eq!(about_account[0].sealed_secret.as_deref(), Some("c2VhbGVk"));
}

/// The SMS dispatcher: what it claims another replica leaves alone; after a
/// crash mid-send (a claim whose lease ran out), the provider is asked first,
/// so a message it already took is recorded as sent, not sent again.
async fn sms_dispatch_scenario(db: Db) {
    use masar_notification::sms::{FileSmsProvider, Sms, SmsProvider};
    let store = masar_notification::NotificationStore::new(db.clone(), personal());
    let event = |n: u8| masar_platform::queue::Message {
        event_id: Uuid::now_v7(),
        event_type: "request.verified".into(),
        payload: vec![n],
        headers: Default::default(),
    };
    let subject = Uuid::now_v7();
    async fn queue(
        store: &masar_notification::NotificationStore,
        tx: &mut masar_platform::db::Tx,
        subject: Uuid,
        event: &masar_platform::queue::Message,
        body: &str,
    ) {
        let message = masar_notification::NewMessage {
            subject_id: subject,
            event,
            association: "nuzul",
            mobile: "+966551234567",
            language: Language::English,
            body,
            channel: "website",
            sealed_secret: None,
        };
        store.queue_message(tx, &message).await.unwrap();
    }
    let mut tx = db.begin().await.unwrap();
    for (n, body) in [(1, "first"), (2, "second")] {
        queue(&store, &mut tx, subject, &event(n), body).await;
    }
    tx.commit().await.unwrap();
    let provider = Arc::new(FileSmsProvider { path: temp_dir().join("sms.log"), sender: "Masar".into() });

    // A dispatcher claims both, hands the first to the provider, and dies before recording it.
    let claimed = store.claim_due(10, Utc::now() - chrono::Duration::seconds(1)).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|c| !c.in_doubt));
    let first = &claimed[0].message;
    let to = masar_domain::SaudiMobile::parse(&first.mobile).unwrap();
    provider.send(&Sms { to: &to, text: &first.body, reference: first.message_id }).await.unwrap();

    // A live claim is left alone by another replica.
    let mut tx = db.begin().await.unwrap();
    queue(&store, &mut tx, subject, &event(3), "third").await;
    tx.commit().await.unwrap();
    let held = store.claim_due(10, Utc::now() + chrono::Duration::seconds(60)).await.unwrap();
    assert_eq!(held.len(), 3, "the two in doubt and the new one");
    assert_eq!(held.iter().filter(|c| c.in_doubt).count(), 2);
    assert!(store.claim_due(10, Utc::now() + chrono::Duration::seconds(60)).await.unwrap().is_empty());

    // The first claims lapse (their holder died); the next dispatcher settles everything once.
    db.execute(Sql::new("UPDATE messages SET not_before = $1").bind(Utc::now() - chrono::Duration::seconds(1)))
        .await
        .unwrap();
    let dispatcher = masar_notification::Dispatcher {
        store: store.clone(),
        provider: provider.clone(),
        sealer: masar_platform::sealing::Sealer::from_hex(&masar_platform::hex::random_key()).unwrap(),
        poll_every: Duration::from_millis(50),
        composed: Default::default(),
    };
    assert_eq!(dispatcher.send_due().await.unwrap(), 3);
    assert_eq!(dispatcher.send_due().await.unwrap(), 0, "nothing left to send");
    let sent: Vec<String> = masar::demo::logged_sms(&provider.path);
    let to = "+966551234567";
    assert_eq!(
        sent,
        [format!("{to}: first"), format!("{to}: second"), format!("{to}: third")],
        "each message exactly once"
    );
    let stored = store.messages(subject).await.unwrap();
    assert!(stored.iter().all(|m| m.status == "sent" && m.sent_at.is_some()), "{stored:?}");
}

/// The outbox: rows go out once, in order; they are settled once every
/// consumer group has acknowledged them, and published again when the queue
/// lost them (here: a new in-process queue, as after a restart).
async fn outbox_scenario(db: Db) {
    let queue = Arc::new(MemoryQueue::new());
    let outbox = Outbox::new();
    let mut tx = db.begin().await.unwrap();
    for n in 0..3 {
        let event = events::RequestVerified { note: format!("n{n}"), ..Default::default() };
        outbox.append(&mut tx, &Event::RequestVerified(event)).await.unwrap();
    }
    tx.commit().await.unwrap();
    // a rolled-back transaction publishes nothing (after the commit: SQLite has one writer)
    let mut doomed = db.begin().await.unwrap();
    outbox.append(&mut doomed, &Event::RequestVerified(Default::default())).await.unwrap();
    doomed.rollback().await.unwrap();

    let relay_on = |queue: Arc<MemoryQueue>| OutboxRelay {
        role: Role::Verification,
        db: db.clone(),
        queue,
        outbox: outbox.clone(),
        settings: OutboxSettings { poll_every: Duration::from_millis(50), ..Default::default() },
        readiness: Readiness::new(),
        settle_cursor: Default::default(),
    };
    let relay = relay_on(queue.clone());
    assert_eq!(relay.publish_batch().await.unwrap(), 3);
    assert_eq!(relay.publish_batch().await.unwrap(), 0);
    let subscription =
        Subscription { group: "g".into(), consumer: "c".into(), event_types: vec!["request.verified".into()] };
    queue.subscribe(&subscription).await.unwrap();
    let delivered = queue.receive(&subscription, 10, Duration::from_millis(10)).await.unwrap();
    let notes: Vec<String> = delivered
        .iter()
        .map(|d| <events::RequestVerified as prost::Message>::decode(d.message.payload.as_slice()).unwrap().note)
        .collect();
    assert_eq!(notes, ["n0", "n1", "n2"]);

    assert_eq!(relay.settle().await.unwrap(), Settled::default(), "delivered is not yet consumed");
    for delivery in &delivered[..2] {
        queue.ack(&subscription, delivery).await.unwrap();
    }
    assert_eq!(relay.settle().await.unwrap(), Settled { consumed: 2, republished: 0 });
    assert_eq!(relay.settle().await.unwrap(), Settled::default(), "settled rows are not asked about again");

    // The queue forgets everything; only the unconsumed row must go out again, as it was.
    let fresh = Arc::new(MemoryQueue::new());
    let relay = relay_on(fresh.clone());
    assert_eq!(relay.settle().await.unwrap(), Settled { consumed: 0, republished: 1 });
    assert_eq!(relay.publish_batch().await.unwrap(), 1);
    fresh.subscribe(&subscription).await.unwrap();
    let again = fresh.receive(&subscription, 10, Duration::from_millis(10)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.event_id, delivered[2].message.event_id, "the same event, so inboxes skip it");
    fresh.ack(&subscription, &again[0]).await.unwrap();
    assert_eq!(relay.settle().await.unwrap(), Settled { consumed: 1, republished: 0 });

    // Retention: settled rows and old inbox rows go; unsettled rows and recent inbox rows stay.
    let mut tx = db.begin().await.unwrap();
    outbox.append(&mut tx, &Event::RequestVerified(Default::default())).await.unwrap();
    for (event_id, age_days) in [(Uuid::now_v7(), 30), (Uuid::now_v7(), 0)] {
        tx.execute(
            Sql::new("INSERT INTO inbox (consumer_group, event_id, processed_at) VALUES ('g', $1, $2)")
                .bind(event_id)
                .bind(Utc::now() - chrono::Duration::days(age_days)),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let sweeper = OutboxRelay {
        settings: OutboxSettings { keep_for: Duration::from_secs(24 * 3600), ..Default::default() },
        ..relay_on(fresh.clone())
    };
    let keep_none =
        OutboxRelay { settings: OutboxSettings { keep_for: Duration::ZERO, ..Default::default() }, ..relay };
    assert_eq!(sweeper.sweep().await.unwrap(), Swept { outbox_rows: 0, inbox_rows: 1 }, "settled today: kept a day");
    assert_eq!(keep_none.sweep().await.unwrap(), Swept { outbox_rows: 3, inbox_rows: 1 });
    let left = db.fetch_all(Sql::new("SELECT settled_at FROM outbox")).await.unwrap();
    assert_eq!(left.len(), 1, "the unpublished row stays");
}

/// The audit trail: appended with the action's transaction, read per case
/// in order, and never changed or removed.
async fn audit_scenario(db: Db) {
    use masar_platform::audit::{self, Actor, Channel, Subject};
    let (case, other_case) = (Uuid::now_v7(), Uuid::now_v7());
    let actor = |username: &str, role| Actor {
        username: username.into(),
        role,
        channel: Channel::Gateway,
        correlation_id: "req-1".into(),
        trace_id: String::new(),
    };
    let pm = actor("nuzul.pm", ActorRole::ProjectManager);
    let mut tx = db.begin().await.unwrap();
    audit::record(&mut tx, &pm, Subject::case(case, "nuzul", "riyadh"), "request.verified", "").await.unwrap();
    audit::record(&mut tx, &pm, Subject::case(other_case, "nuzul", "riyadh"), "request.verified", "").await.unwrap();
    audit::record(&mut tx, &pm, Subject::outside_a_case("nuzul", "riyadh"), "session.signed_in", "").await.unwrap();
    let system = Actor { channel: Channel::Queue, ..actor("", ActorRole::System) };
    audit::record(&mut tx, &system, Subject::case(case, "nuzul", "riyadh"), "research.assigned", "r1").await.unwrap();
    tx.commit().await.unwrap();
    // An action rolled back leaves no entry either.
    let mut doomed = db.begin().await.unwrap();
    audit::record(&mut doomed, &pm, Subject::case(case, "nuzul", "riyadh"), "committee.decided", "").await.unwrap();
    doomed.rollback().await.unwrap();

    let trail = audit::case_trail(&db, case).await.unwrap();
    let read: Vec<_> = trail.iter().map(|e| (e.action.as_str(), e.actor_role.as_str(), e.channel.as_str())).collect();
    assert_eq!(read, [("request.verified", "project_manager", "gateway"), ("research.assigned", "system", "queue")]);
    assert_eq!((trail[0].actor.as_str(), trail[0].correlation_id.as_str()), ("nuzul.pm", "req-1"));
    assert_eq!((trail[1].request_id, trail[1].detail.as_str()), (Some(case), "r1"));
    // Append-only, enforced by the database itself.
    assert!(db.execute(Sql::new("UPDATE audit_log SET actor = 'someone else'")).await.is_err());
    assert!(db.execute(Sql::new("DELETE FROM audit_log")).await.is_err());
    assert_eq!(audit::case_trail(&db, case).await.unwrap(), trail);

    // Appends to one case's chain at once take their turn: the chain holds.
    let appends = (0..8).map(|n| {
        let (db, pm) = (db.clone(), pm.clone());
        async move {
            let mut tx = db.begin().await.unwrap();
            let detail = format!("document {n}");
            audit::record(&mut tx, &pm, Subject::case(case, "nuzul", "riyadh"), "document.uploaded", &detail)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    });
    futures::future::join_all(appends).await;
    let check = audit::verify_chains(&db).await.unwrap();
    assert_eq!((check.rows, check.chains, check.broken.clone()), (12, 3, None), "{check:?}");
}

macro_rules! conformance {
    ($($name:ident: $role:expr => $scenario:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                on_both($role, $scenario).await;
            }
        )+
    };
}

/// The policy book: versions kept once, the one in force chosen by effective date.
async fn policy_scenario(db: Db) {
    let source = masar::BUILT_IN_POLICIES[0].1;
    let v1 = masar_domain::PolicyPack::from_toml(source).unwrap();
    let book = PolicyBook::new(db.clone());
    let outbox = Outbox::new();
    let applied = masar_intake::apply_policy(&db, &outbox, source, Utc::now()).await.unwrap();
    assert!(applied.newly_stored);
    // applying the same file again is harmless and announces nothing new
    assert!(!masar_intake::apply_policy(&db, &outbox, source, Utc::now()).await.unwrap().newly_stored);
    let v2_source = source
        .replace("version = 1", "version = 2")
        .replace("effective_from = \"2025-01-01\"", "effective_from = \"2027-01-01\"");
    masar_intake::apply_policy(&db, &outbox, &v2_source, Utc::now()).await.unwrap();
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(book.in_force("nuzul", day(2026, 12, 31)).await.unwrap().map(|p| p.version), Some(1));
    assert_eq!(book.in_force("nuzul", day(2027, 1, 1)).await.unwrap().map(|p| p.version), Some(2));
    assert!(book.in_force("nuzul", day(2024, 12, 31)).await.unwrap().is_none());
    assert_eq!(book.version("nuzul", 1).await.unwrap(), Some(v1));
    // older, reused and invalid versions are refused, and nothing is stored
    let refused = masar_intake::apply_policy(&db, &outbox, source, Utc::now()).await.unwrap_err();
    assert!(matches!(refused, masar_intake::ApplyError::NotNewer { stored: 2, .. }), "{refused}");
    let altered = v2_source.replace("committee_reply_days = 14", "committee_reply_days = 21");
    let refused = masar_intake::apply_policy(&db, &outbox, &altered, Utc::now()).await.unwrap_err();
    assert!(matches!(refused, masar_intake::ApplyError::VersionTaken { version: 2, .. }), "{refused}");
    let bad =
        v2_source.replace("version = 2", "version = 3").replace("household.income_per_member", "household.salary");
    let refused = masar_intake::apply_policy(&db, &outbox, &bad, Utc::now()).await.unwrap_err();
    assert!(matches!(refused, masar_intake::ApplyError::Invalid(_)), "{refused}");
    assert_eq!(book.versions("nuzul").await.unwrap().len(), 2);
    // each newly stored version was announced once
    let announced = db.fetch_all(Sql::new("SELECT event_type FROM outbox")).await.unwrap();
    assert_eq!(announced.len(), 2);
}

/// One beneficiary per national ID; a resembling one flagged; a provisional
/// entry confirmed by what staff enter; the accounts identity announced.
async fn registry_scenario(db: Db) {
    let store = masar_intake::IntakeStore::new(db.clone(), personal());
    let mut tx = db.begin().await.unwrap();
    let (first, registered) =
        store.find_or_register(&mut tx, &person("1000000008", "فاطمة الزهراني", "0551234567")).await.unwrap();
    assert!(registered == Registered::New && first.possible_duplicate_of.is_none());
    // the same national ID is the same beneficiary, however the name is written
    let (again, registered) =
        store.find_or_register(&mut tx, &person("1000000008", "Fatima", "0500000000")).await.unwrap();
    assert_eq!(registered, Registered::Found);
    assert_eq!((again.beneficiary_id, again.full_name.as_str()), (first.beneficiary_id, "فاطمة الزهراني"));
    // another ID, the same name (written with ta marbuta as ha, and tashkeel) and mobile: flagged
    let (other, _) =
        store.find_or_register(&mut tx, &person("2000000006", "فَاطمه الزهراني", "+966551234567")).await.unwrap();
    assert_eq!(other.possible_duplicate_of, Some(first.beneficiary_id));
    // another association keeps its own registry
    let elsewhere = masar_intake::NewBeneficiary {
        association: "nuzul".into(),
        ..person("1000000008", "فاطمة", "0551234567")
    };
    let (theirs, registered) = store.find_or_register(&mut tx, &elsewhere).await.unwrap();
    assert!(registered == Registered::New && theirs.beneficiary_id != first.beneficiary_id);
    store.note_account(&mut tx, first.beneficiary_id).await.unwrap();

    // An entry typed online is provisional: what staff enter later replaces it.
    let online = masar_intake::NewBeneficiary {
        registered_by: "beneficiary".into(),
        channel: Channel::Website,
        ..person("1000000016", "Someone", "0557776655")
    };
    let (provisional, _) = store.find_or_register(&mut tx, &online).await.unwrap();
    assert!(!provisional.contact_confirmed);
    // again online: nothing changes
    let (same, registered) = store
        .find_or_register(&mut tx, &masar_intake::NewBeneficiary { full_name: "Other".into(), ..online.clone() })
        .await
        .unwrap();
    assert_eq!((same.full_name.as_str(), same.contact_confirmed, registered), ("Someone", false, Registered::Found));
    let at_reception = person("1000000016", "نورة العتيبي", "0551110000");
    let (confirmed, registered) = store.find_or_register(&mut tx, &at_reception).await.unwrap();
    assert!(registered == Registered::ContactConfirmed && confirmed.beneficiary_id == provisional.beneficiary_id);
    assert_eq!(
        (confirmed.full_name.as_str(), confirmed.mobile.as_str(), confirmed.contact_confirmed),
        ("نورة العتيبي", "+966551110000", true)
    );
    // a number an account's holder proved is the entry's only where none was confirmed
    let (typed, _) = store
        .find_or_register(&mut tx, &masar_intake::NewBeneficiary { ..online_person("1000000024", "0553332211") })
        .await
        .unwrap();
    store.prove_contact(&mut tx, "hayat", typed.beneficiary_id, "+966554443322").await.unwrap();
    store.prove_contact(&mut tx, "hayat", confirmed.beneficiary_id, "+966554443322").await.unwrap();
    tx.commit().await.unwrap();
    let typed = store.beneficiary(typed.beneficiary_id).await.unwrap().unwrap();
    assert_eq!((typed.mobile.as_str(), typed.contact_confirmed), ("+966554443322", true));
    let kept = store.beneficiary(confirmed.beneficiary_id).await.unwrap().unwrap();
    assert_eq!(kept.mobile, "+966551110000", "staff's number stays");
    let found = store.beneficiaries("hayat", &[first.beneficiary_id, theirs.beneficiary_id, Uuid::now_v7()]).await;
    assert_eq!(found.unwrap().iter().map(|b| b.beneficiary_id).collect::<Vec<_>>(), [first.beneficiary_id]);

    let duplicates = store.possible_duplicates("hayat", &PageRequest::default()).await.unwrap();
    assert_eq!(duplicates.len(), 1);
    assert_eq!(
        (duplicates[0].0.beneficiary_id, duplicates[0].1.beneficiary_id),
        (other.beneficiary_id, first.beneficiary_id)
    );
    assert!(duplicates[0].1.has_account && !duplicates[0].0.has_account);
    assert!(store.possible_duplicates("nuzul", &PageRequest::default()).await.unwrap().is_empty());
}

fn person(national_id: &str, name: &str, mobile: &str) -> masar_intake::NewBeneficiary {
    masar_intake::NewBeneficiary {
        association: "hayat".into(),
        national_id: NationalId::parse(national_id).unwrap(),
        full_name: name.into(),
        mobile: SaudiMobile::parse(mobile).unwrap(),
        language: Language::Arabic,
        channel: Channel::Interview,
        registered_by: "hayat.reception".into(),
        registered_at: Utc::now(),
    }
}

fn online_person(national_id: &str, mobile: &str) -> masar_intake::NewBeneficiary {
    masar_intake::NewBeneficiary {
        registered_by: "beneficiary".into(),
        channel: Channel::Website,
        ..person(national_id, "Someone Online", mobile)
    }
}

/// Accounts: one per number and registry entry, their standing, the claims
/// staff see, and passwords.
async fn accounts_scenario(db: Db) {
    let store = masar_identity::IdentityStore::new(db.clone(), personal());
    let (first, other, provisional) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let account = |beneficiary_id, username: &str, mobile: &str| masar_identity::NewAccount {
        account_id: Uuid::now_v7(),
        association: "hayat".into(),
        beneficiary_id,
        username: username.into(),
        password_hash: "$argon2id$first".into(),
        channel: Channel::Interview,
        opened_by: "hayat.reception".into(),
        opened_at: Utc::now(),
        mobile: mobile.into(),
        standing: AccountStanding::ByRegistryMobile,
    };
    let mut tx = db.begin().await.unwrap();
    let opened = account(first, "hyt-abc234", "+966551234567");
    assert_eq!(store.open_account(&mut tx, &opened).await.unwrap(), Opened::Opened);
    // one account per number and ID; another number is another claim
    let second = account(first, "hyt-xyz234", "+966551234567");
    assert_eq!(store.open_account(&mut tx, &second).await.unwrap(), Opened::AlreadyClaimed);
    let clash = account(other, "hyt-abc234", "+966551234567");
    assert_eq!(store.open_account(&mut tx, &clash).await.unwrap(), Opened::UsernameTaken);
    let claim = masar_identity::NewAccount {
        standing: AccountStanding::Unverified,
        opened_by: "beneficiary".into(),
        ..account(first, "hyt-cla234", "+966559998877")
    };
    assert_eq!(store.open_account(&mut tx, &claim).await.unwrap(), Opened::Opened);
    let accounts = store.accounts_of(&mut tx, first).await.unwrap();
    let standings: Vec<_> = accounts.iter().map(|a| (a.username.as_str(), a.standing)).collect();
    assert_eq!(
        standings,
        [("hyt-abc234", AccountStanding::ByRegistryMobile), ("hyt-cla234", AccountStanding::Unverified)]
    );
    assert_eq!(accounts[0].verified_by.as_deref(), Some("hayat.reception"));
    assert_eq!(accounts[1].verified_by, None);

    // Staff confirming the entry's number proves the claim whose credentials went there.
    let stranger = masar_identity::NewAccount {
        standing: AccountStanding::Unverified,
        opened_by: "beneficiary".into(),
        ..account(provisional, "hyt-str234", "+966557776655")
    };
    let holder = masar_identity::NewAccount {
        account_id: Uuid::now_v7(),
        username: "hyt-hol234".into(),
        mobile: "+966551110000".into(),
        ..stranger.clone()
    };
    for claimant in [&stranger, &holder] {
        assert_eq!(store.open_account(&mut tx, claimant).await.unwrap(), Opened::Opened);
    }
    let proven =
        store.prove_claims_to(&mut tx, "hayat", provisional, "+966551110000", "hayat.reception", Utc::now()).await;
    assert_eq!(proven.unwrap(), 1);
    let claims = store.accounts_of(&mut tx, provisional).await.unwrap();
    let standings: Vec<_> = claims.iter().map(|a| (a.username.as_str(), a.standing)).collect();
    assert_eq!(
        standings,
        [("hyt-str234", AccountStanding::Unverified), ("hyt-hol234", AccountStanding::ByRegistryMobile)]
    );
    tx.commit().await.unwrap();
    let open_claims = store.account_claims("hayat", &PageRequest::default()).await.unwrap();
    let listed: Vec<_> = open_claims
        .iter()
        .map(|(claim, others)| {
            (
                claim.username.as_str(),
                claim.beneficiary_id,
                others.iter().map(|o| o.username.as_str()).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(listed, [("hyt-cla234", first, vec!["hyt-abc234"]), ("hyt-str234", provisional, vec!["hyt-hol234"])]);
    let mut tx = db.begin().await.unwrap();
    assert!(store.close_account(&mut tx, claims[0].account_id, "not the holder", Utc::now()).await.unwrap());
    assert!(!store.close_account(&mut tx, claims[0].account_id, "twice", Utc::now()).await.unwrap());
    assert!(
        !store.verify_account(&mut tx, claims[0].account_id, AccountStanding::InPerson, "x", Utc::now()).await.unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(store.account_claims("hayat", &PageRequest::default()).await.unwrap().len(), 1);

    let stored = store.account("hayat", "hyt-abc234").await.unwrap().unwrap();
    assert!(stored.must_change_password);
    assert!(store.account("nuzul", "hyt-abc234").await.unwrap().is_none(), "usernames are per association");
    // a change based on a stale hash changes nothing; the right one ends the one-time password
    assert!(!store.change_password(stored.account_id, "$argon2id$stale", "$argon2id$new", Utc::now()).await.unwrap());
    assert!(store.change_password(stored.account_id, "$argon2id$first", "$argon2id$new", Utc::now()).await.unwrap());
    let changed = store.account("hayat", "hyt-abc234").await.unwrap().unwrap();
    assert!(!changed.must_change_password && changed.password_hash == "$argon2id$new");
}

/// Inquiries move on once from each status, and keep their timeline in order.
async fn inquiry_scenario(db: Db) {
    let store = masar_intake::IntakeStore::new(db.clone(), personal());
    let now = Utc::now();
    let inquiry = masar_intake::StoredInquiry {
        inquiry_id: Uuid::now_v7(),
        reference: "HYT-Q-ABC234".into(),
        association: "hayat".into(),
        branch: "madinah".into(),
        channel: Channel::Letter,
        beneficiary_id: None,
        asked_by_account: None,
        asker_name: "Salma".into(),
        mobile: None,
        language: Language::Arabic,
        question: "متى تجتمع اللجنة؟".into(),
        status: InquiryStatus::Open,
        referred_to: None,
        asked_at: now,
        version: 1,
    };
    let entry = |status, seconds| masar_intake::InquiryEntry {
        status,
        actor_role: ActorRole::ReceptionOfficer,
        actor: "hayat.reception".into(),
        channel: Channel::Letter,
        text: format!("{status}"),
        at: now + chrono::Duration::seconds(seconds),
    };
    let mut tx = db.begin().await.unwrap();
    store.insert_inquiry(&mut tx, &inquiry, &entry(InquiryStatus::Open, 0)).await.unwrap();
    let referral = Some(ActorRole::HealthAdministrationManager);
    let referred = entry(InquiryStatus::Referred, 1);
    assert!(store.move_inquiry(&mut tx, &inquiry, referral, &referred).await.unwrap());
    // a second move based on the same stale read changes nothing and adds no entry
    assert!(!store.move_inquiry(&mut tx, &inquiry, None, &entry(InquiryStatus::Answered, 2)).await.unwrap());
    tx.commit().await.unwrap();
    let stored = store.inquiry(inquiry.inquiry_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.referred_to, stored.channel, stored.version),
        (InquiryStatus::Referred, referral, Channel::Letter, 2)
    );
    let timeline = store.inquiry_timeline(inquiry.inquiry_id).await.unwrap();
    assert_eq!(timeline.iter().map(|e| e.status).collect::<Vec<_>>(), [InquiryStatus::Open, InquiryStatus::Referred]);
    assert_eq!(
        store
            .inquiries(
                inquiry_filter("hayat", &[InquiryStatus::Referred], Some("madinah"), None),
                &PageRequest::default()
            )
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .inquiries(inquiry_filter("hayat", &[InquiryStatus::Open], None, None), &PageRequest::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .inquiries(inquiry_filter("nuzul", &[InquiryStatus::Referred], None, None), &PageRequest::default())
            .await
            .unwrap()
            .is_empty()
    );
    let both = [InquiryStatus::Open, InquiryStatus::Referred];
    let to_referral = inquiry_filter("hayat", &both, None, referral);
    assert_eq!(store.inquiries(to_referral, &PageRequest::default()).await.unwrap().len(), 1);
    let to_another = inquiry_filter("hayat", &both, None, Some(ActorRole::SocialResearchOfficer));
    assert!(store.inquiries(to_another, &PageRequest::default()).await.unwrap().is_empty());
}

/// Sign-in records: staff passwords, failures in a row, sessions and their refresh hashes.
async fn sessions_scenario(db: Db) {
    let store = masar_identity::IdentityStore::new(db.clone(), personal());
    let now = Utc::now();
    assert_eq!(store.staff_credential("nuzul", "nuzul.pm").await.unwrap(), None);
    store.set_staff_password("nuzul", "nuzul.pm", "hash-1", true, "operator", now).await.unwrap();
    store.set_staff_password("nuzul", "nuzul.pm", "hash-2", true, "operator", now).await.unwrap();
    assert_eq!(store.staff_credential("nuzul", "nuzul.pm").await.unwrap(), Some(("hash-2".into(), true)));
    assert!(!store.change_staff_password("nuzul", "nuzul.pm", "hash-1", "hash-3", now).await.unwrap(), "stale hash");
    assert!(store.change_staff_password("nuzul", "nuzul.pm", "hash-2", "hash-3", now).await.unwrap());
    assert_eq!(store.staff_credential("nuzul", "nuzul.pm").await.unwrap(), Some(("hash-3".into(), false)));
    assert_eq!(store.staff_credential("hayat", "nuzul.pm").await.unwrap(), None, "per association");

    let policy = masar_platform::config::SessionPolicy::default();
    let (here, elsewhere) = ("10.0.0.66", "10.0.0.1");
    for expected in 1..=3 {
        assert_eq!(store.record_failure("nuzul", "nuzul.pm", here, now, &policy).await.unwrap(), expected);
    }
    let locked = store.locked_until("nuzul", "nuzul.pm", here).await.unwrap().expect("the third failure waits");
    // Stored to the microsecond: within a millisecond of the policy's first wait.
    assert!(((locked - now).num_milliseconds() - policy.slowdown.as_millis() as i64).abs() <= 1, "{locked} {now}");
    assert_eq!(store.locked_until("nuzul", "nuzul.admin", here).await.unwrap(), None);
    assert_eq!(store.locked_until("nuzul", "nuzul.pm", elsewhere).await.unwrap(), None, "per client");
    store.clear_failures("nuzul", "nuzul.pm", here).await.unwrap();
    assert_eq!(store.locked_until("nuzul", "nuzul.pm", here).await.unwrap(), None);
    assert_eq!(store.record_failure("nuzul", "nuzul.pm", here, now, &policy).await.unwrap(), 1, "counted afresh");

    let session = |username: &str| masar_identity::StoredSession {
        session_id: Uuid::new_v4(),
        association: "nuzul".into(),
        username: username.into(),
        refresh_hash: "r1".into(),
        expires_at: now + chrono::Duration::days(30),
        revoked_at: None,
    };
    let (first, second, other) = (session("nuzul.pm"), session("nuzul.pm"), session("nuzul.admin"));
    for s in [&first, &second, &other] {
        store.start_session(s, now).await.unwrap();
    }
    assert!(store.rotate_refresh(first.session_id, "r1", "r2", now).await.unwrap());
    assert!(!store.rotate_refresh(first.session_id, "r1", "r3", now).await.unwrap(), "one of two refreshes wins");
    let read = store.session(first.session_id).await.unwrap().unwrap();
    assert_eq!((read.refresh_hash.as_str(), read.revoked_at), ("r2", None));
    let mut tx = db.begin().await.unwrap();
    let ended = store.revoke_session(&mut tx, first.session_id, "signed out", now).await.unwrap();
    assert_eq!(ended, [(first.session_id, "nuzul".to_owned())]);
    assert!(store.revoke_session(&mut tx, first.session_id, "again", now).await.unwrap().is_empty(), "ended once");
    tx.commit().await.unwrap();
    assert!(store.session(first.session_id).await.unwrap().unwrap().revoked_at.is_some());
    assert!(!store.rotate_refresh(first.session_id, "r2", "r4", now).await.unwrap(), "revoked stays revoked");
    let mut tx = db.begin().await.unwrap();
    let ended = store.revoke_sessions_of(&mut tx, "nuzul", "nuzul.pm", "password changed", now).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ended, [(second.session_id, "nuzul".to_owned())]);
    assert!(store.session(other.session_id).await.unwrap().unwrap().revoked_at.is_none(), "others keep theirs");
    assert_eq!(store.session(Uuid::new_v4()).await.unwrap().map(|s| s.session_id), None);
}

conformance! {
    sessions: Role::Identity => sessions_scenario,
    accounts: Role::Identity => accounts_scenario,
    intake_store: Role::Intake => intake_scenario,
    inquiries: Role::Intake => inquiry_scenario,
    registry: Role::Intake => registry_scenario,
    verification_store: Role::Verification => verification_scenario,
    research_store: Role::Research => research_scenario,
    committee_store: Role::Committee => committee_scenario,
    committee_meetings: Role::Committee => meetings_scenario,
    notification_store: Role::Notification => notification_scenario,
    sms_dispatch: Role::Notification => sms_dispatch_scenario,
    outbox_and_relay: Role::Intake => outbox_scenario,
    policy_book: Role::Intake => policy_scenario,
    audit_trail: Role::Committee => audit_scenario,
    satisfaction: Role::Intake => satisfaction_scenario,
}

/// Ratings counted per service type, for a scope and a period of days.
async fn satisfaction_scenario(db: Db) {
    let store = masar_intake::IntakeStore::new(db.clone(), personal());
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let rated = |association, branch, service_type| masar_intake::RatedService { association, branch, service_type };
    let riyadh = rated("nuzul", "riyadh", "roof_repair");
    let ratings = [
        (&riyadh, 5, day(1)),
        (&riyadh, 5, day(1)),
        (&riyadh, 4, day(2)),
        (&riyadh, 3, day(2)),
        (&riyadh, 1, day(3)),
        (&rated("nuzul", "jeddah", "roof_repair"), 2, day(2)),
        (&rated("nuzul", "riyadh", "electrical"), 5, day(2)),
        (&rated("hayat", "madinah", "medical_devices"), 1, day(2)),
    ];
    let mut tx = db.begin().await.unwrap();
    for (service, score, on) in ratings {
        store.keep_rating(&mut tx, service, &masar_domain::Rating::new(score, "").unwrap(), on).await.unwrap();
    }
    tx.commit().await.unwrap();
    let by_score = |figures: &std::collections::BTreeMap<String, masar_domain::Published>, service_type: &str| {
        figures.get(service_type).map(|p| (p.shown.by_score, p.withheld_ratings))
    };
    // Riyadh's roof repairs of November are a cell of five: published. Jeddah's one and the one
    // electrical repair are cells too small: counted nowhere, not even in the association's figures.
    let association = store.satisfaction("nuzul", None, None, day(30)).await.unwrap();
    assert_eq!(association.len(), 2, "hayat's are its own");
    assert_eq!(by_score(&association, "roof_repair"), Some(([1, 0, 1, 1, 2], 1)));
    assert_eq!(by_score(&association, "electrical"), Some(([0; 5], 1)));
    let branch = store.satisfaction("nuzul", Some("riyadh"), None, day(30)).await.unwrap();
    let roof = &branch["roof_repair"].shown;
    assert_eq!((roof.by_score, roof.average()), ([1, 0, 1, 1, 2], Some(3.6)));
    // One day of the cell is not a cell: the association minus a branch, or one range minus
    // another, is always made of whole cells.
    let one_day = store.satisfaction("nuzul", Some("riyadh"), Some(day(2)), day(2)).await.unwrap();
    assert_eq!(by_score(&one_day, "roof_repair"), Some(([0; 5], 2)));
    let mut tx = db.begin().await.unwrap();
    let december = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    store.keep_rating(&mut tx, &riyadh, &masar_domain::Rating::new(1, "").unwrap(), december).await.unwrap();
    tx.commit().await.unwrap();
    let with_december = store.satisfaction("nuzul", Some("riyadh"), None, december).await.unwrap();
    assert_eq!(
        by_score(&with_december, "roof_repair"),
        Some(([1, 0, 1, 1, 2], 1)),
        "December's one rating alone is a cell of one"
    );
    assert!(store.satisfaction("nuzul", None, None, day(1) - chrono::Days::new(1)).await.unwrap().is_empty());
}

/// Every store reads, then writes, in one transaction. On SQLite two such
/// transactions must queue for the write lock rather than fail with "database is locked".
#[tokio::test]
async fn sqlite_transactions_that_read_then_write_wait_for_each_other() {
    let path = temp_dir().join("counter.db");
    let db = Db::connect(&format!("sqlite://{}", path.display()), "counter").await.unwrap();
    db.execute(Sql::new("CREATE TABLE counter (n INTEGER NOT NULL)")).await.unwrap();
    db.execute(Sql::new("INSERT INTO counter (n) VALUES (0)")).await.unwrap();
    let writers = (0..8).map(|_| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let n = tx.fetch_optional(Sql::new("SELECT n FROM counter")).await?.expect("one row").int("n")?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.execute(Sql::new("UPDATE counter SET n = $1").bind(n + 1)).await?;
            tx.commit().await
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap().unwrap();
    }
    let n = db.fetch_optional(Sql::new("SELECT n FROM counter")).await.unwrap().unwrap().int("n").unwrap();
    assert_eq!(n, 8, "no increment may be lost");
}

/// What intake kept before identity was a service of its own is taken over
/// once, on both backends: accounts (sealed numbers and all) and staff passwords.
#[tokio::test]
async fn identity_takes_over_what_intake_kept() {
    let database = TestDatabase::create().await;
    let postgres = |schema: &'static str| Db::connect(&database.url, schema);
    taking_over(postgres("intake").await.unwrap(), postgres("identity").await.unwrap()).await;
    database.drop_database().await;
    let dir = temp_dir();
    let url = |name: &str| format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    let intake = Db::connect(&url("intake"), "intake").await.unwrap();
    taking_over(intake, Db::connect(&url("identity"), "identity").await.unwrap()).await;
}

async fn taking_over(intake: Db, identity: Db) {
    masar::migrate(Role::Intake, &intake).await.unwrap();
    masar::migrate(Role::Identity, &identity).await.unwrap();
    assert_eq!(masar_identity::adopt_from_intake(&intake, &identity).await.unwrap(), 0, "nothing kept, nothing taken");
    let registry = masar_intake::IntakeStore::new(intake.clone(), personal());
    let mut tx = intake.begin().await.unwrap();
    let (entry, _) = registry.find_or_register(&mut tx, &person("1000000008", "فاطمة", "0551234567")).await.unwrap();
    tx.commit().await.unwrap();
    let now = Utc::now();
    let mobile = "+966551234567";
    // The rows as intake's tables held them (intake no longer writes them).
    intake
        .execute(
            Sql::new(
                "INSERT INTO accounts (account_id, association, beneficiary_id, username, password_hash, \
                 must_change_password, channel, opened_by, opened_at, mobile, mobile_index, standing, verified_by, \
                 verified_at) VALUES ($1, 'hayat', $2, 'hyt-old234', '$argon2id$kept', 0, 'interview', \
                 'hayat.reception', $3, $4, $5, 'registry_mobile', 'hayat.reception', $3)",
            )
            .bind(Uuid::now_v7())
            .bind(entry.beneficiary_id)
            .bind(now)
            .bind(personal().seal("hayat", masar_platform::personal::Field::Mobile, mobile))
            .bind(personal().index("hayat", masar_platform::personal::Field::Mobile, mobile)),
        )
        .await
        .unwrap();
    intake
        .execute(
            Sql::new(
                "INSERT INTO staff_credentials (association, username, password_hash, must_change_password, set_by, \
                 set_at) VALUES ('hayat', 'hayat.pm', '$argon2id$staff', 1, 'operator', $1)",
            )
            .bind(now),
        )
        .await
        .unwrap();
    assert_eq!(masar_identity::adopt_from_intake(&intake, &identity).await.unwrap(), 2);
    let store = masar_identity::IdentityStore::new(identity.clone(), personal());
    let account = store.account("hayat", "hyt-old234").await.unwrap().expect("the account is identity's now");
    assert_eq!(
        (account.beneficiary_id, account.mobile.as_str(), account.standing, account.password_hash.as_str()),
        (entry.beneficiary_id, mobile, AccountStanding::ByRegistryMobile, "$argon2id$kept")
    );
    assert_eq!(store.staff_credential("hayat", "hayat.pm").await.unwrap(), Some(("$argon2id$staff".into(), true)));
    // Its number's blind index came along: the same number cannot open a second account.
    let mut tx = identity.begin().await.unwrap();
    let again = store.accounts_of(&mut tx, entry.beneficiary_id).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(masar_identity::adopt_from_intake(&intake, &identity).await.unwrap(), 0, "once only");
    intake.close().await;
    identity.close().await;
}
