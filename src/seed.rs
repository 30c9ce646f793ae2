//! `masar seed`: fills an installation with cases at scale, so its queries
//! are measured where years of an association's work put them. Cases over
//! both associations and ten branches each, spread over every stage of the
//! journey, each with the rows its stage has: intake's request (its personal
//! data sealed as intake seals it), documents, timeline, audit chain,
//! delivery and rating; verification's case and its documents; research's
//! assignment or place in the unassigned queue; the committee's agenda item.
//! Written through each service's own database (PostgreSQL when
//! `DATABASE_URL` is set, else the embedded SQLite files), in batches of
//! multi-row inserts, with a progress bar.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use masar_domain::{ActorRole, CaseStatus, PolicyPack};
use masar_platform::audit::{self, Entry};
use masar_platform::config::Settings;
use masar_platform::db::{Backend, Db, Sql, Tx, Value};
use masar_platform::personal::{Field, PersonalData};
use masar_platform::role::Role;
use rand::Rng as _;
use std::io::Write as _;
use std::time::Instant;
use uuid::Uuid;

pub struct SeedOptions {
    /// How many cases to add.
    pub cases: usize,
}

/// Cases written per transaction of each service.
const BATCH: usize = 1000;

/// The most values one statement binds: PostgreSQL takes 65,535; SQLite
/// more than a thousand, but sqlx finds each `$n` by name, a cost that grows
/// with the square of their number.
fn values_per_statement(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 30_000,
        Backend::Sqlite => 1_000,
    }
}

/// Each association's branches: the packs' own first, then more as a large
/// association has them (ten each, twenty in all).
const NUZUL_BRANCHES: [&str; 10] =
    ["riyadh", "jeddah", "dammam", "makkah", "taif", "abha", "tabuk", "hail", "buraydah", "jazan"];
const HAYAT_BRANCHES: [&str; 10] =
    ["madinah", "yanbu", "alula", "badr", "khaybar", "mahd", "hanakiyah", "umluj", "alais", "wadi_alfara"];

const NAMES: [&str; 8] = [
    "محمد عبدالله القحطاني",
    "نورة سعد العتيبي",
    "عبدالرحمن علي الشهري",
    "فاطمة حسن الزهراني",
    "خالد ناصر الدوسري",
    "سارة إبراهيم الغامدي",
    "عبدالعزيز فهد الحربي",
    "مريم صالح المطيري",
];

/// Where each case ends, out of a hundred: a live association's spread,
/// most cases long closed, every queue holding its share.
const FINAL_STATUS: [(u32, CaseStatus); 14] = [
    (3, CaseStatus::Draft),
    (10, CaseStatus::Submitted),
    (3, CaseStatus::ReturnedForCompletion),
    (5, CaseStatus::Ineligible),
    (4, CaseStatus::Verified),
    (10, CaseStatus::ResearcherAssigned),
    (5, CaseStatus::FieldVisitRecorded),
    (5, CaseStatus::Recommended),
    (5, CaseStatus::OnCommitteeAgenda),
    (8, CaseStatus::Rejected),
    (2, CaseStatus::Deferred),
    (10, CaseStatus::Approved),
    (10, CaseStatus::ServiceDelivered),
    (20, CaseStatus::Closed),
];

/// The journey to `last`: every status a case took on the way, from its submission.
fn journey(last: CaseStatus) -> Vec<CaseStatus> {
    use CaseStatus::*;
    let main = [
        Submitted,
        Verified,
        ResearcherAssigned,
        FieldVisitRecorded,
        Recommended,
        OnCommitteeAgenda,
        Approved,
        ServiceDelivered,
        Closed,
    ];
    // The main road up to where a case leaves it (or ends on it), then its last status.
    let leaves_before = match last {
        Draft => return Vec::new(),
        ReturnedForCompletion | Ineligible => Verified,
        Rejected | Deferred => Approved,
        _ => last,
    };
    main.iter().copied().take_while(|s| *s != leaves_before).chain([last]).collect()
}

/// How many days ago a case ending in `last` was filed, at most (stages
/// further on are older; decided cases reach two years back).
fn oldest_days(last: CaseStatus) -> i64 {
    use CaseStatus::*;
    match last {
        Draft => 3,
        Submitted => 14,
        ReturnedForCompletion | Verified => 20,
        ResearcherAssigned | FieldVisitRecorded | Recommended => 30,
        OnCommitteeAgenda | Deferred | Approved => 45,
        Ineligible | Rejected | ServiceDelivered | Closed => 730,
    }
}

/// Who acts at each step, as the audit trail names them.
fn actor_of(status: CaseStatus) -> (&'static str, &'static str) {
    use CaseStatus::*;
    match status {
        Draft | Submitted => ("reception", "reception_officer"),
        ReturnedForCompletion | Ineligible | Verified => ("pm", "project_manager"),
        ResearcherAssigned => ("research", "system"),
        FieldVisitRecorded | Recommended => ("researcher", "social_researcher"),
        OnCommitteeAgenda | Approved | Rejected | Deferred => ("committee", "committee_member"),
        ServiceDelivered | Closed => ("branch", "branch_manager"),
    }
}

/// A researcher of a branch: one of its roster's, or one named for it where
/// the roster has none (their assignments stay as seeded: nobody signs in as them).
fn researcher(association: &str, branch: &str, roster: &[String], n: u64) -> String {
    match roster {
        [] => format!("{association}.{branch}.researcher{}", n % 3 + 1),
        roster => roster[(n % roster.len() as u64) as usize].clone(),
    }
}

/// The rows one batch of cases adds, by table, in each service's database.
#[derive(Default)]
struct Rows {
    intake: IntakeRows,
    verification: Vec<Vec<Value>>,
    case_documents: Vec<Vec<Value>>,
    unassigned: Vec<Vec<Value>>,
    assignments: Vec<Vec<Value>>,
    agenda_items: Vec<Vec<Value>>,
}

/// Intake's part of a batch.
#[derive(Default)]
struct IntakeRows {
    requests: Vec<Vec<Value>>,
    timeline: Vec<Vec<Value>>,
    documents: Vec<Vec<Value>>,
    /// Each case's audit entries, one chain each.
    audit: Vec<Vec<Entry>>,
    deliveries: Vec<Vec<Value>>,
    ratings: Vec<Vec<Value>>,
}

/// What a batch needs to know of each association: its pack, its agendas.
struct Association {
    code: &'static str,
    branches: [&'static str; 10],
    /// Each branch's social researchers in the directory the suite will run with.
    researchers: Vec<Vec<String>>,
    pack: PolicyPack,
    /// One open agenda per branch, made on the first batch.
    agendas: Vec<Uuid>,
}

pub async fn run(settings: &Settings, options: SeedOptions) -> anyhow::Result<()> {
    let embedded = settings.database_url(Role::Intake).is_none();
    if embedded {
        std::fs::create_dir_all(&settings.data_dir)?;
    }
    // The keys first: a deployment without them fails before anything is written.
    let personal = crate::personal_data(settings, embedded)?;
    let roles = [Role::Intake, Role::Verification, Role::Research, Role::Committee];
    let mut dbs = Vec::new();
    for role in roles {
        let db = crate::role_database(role, settings).await?;
        crate::prepare(role, &db, settings).await?;
        dbs.push(db);
    }
    let [intake, verification, research, committee] = <[Db; 4]>::try_from(dbs).ok().context("four databases")?;
    let directory = crate::load_directory(settings)?;
    let mut associations = Vec::new();
    for (code, branches) in [("nuzul", NUZUL_BRANCHES), ("hayat", HAYAT_BRANCHES)] {
        let pack = newest_pack(code)?;
        let agendas = branches.iter().map(|_| Uuid::now_v7()).collect();
        let roster = directory.association(code);
        let researchers = branches
            .iter()
            .map(|branch| {
                let on_duty = roster.map(|a| a.staff_in_branch(ActorRole::SocialResearcher, branch));
                on_duty.unwrap_or_default().into_iter().map(|s| s.username.clone()).collect()
            })
            .collect();
        associations.push(Association { code, branches, researchers, pack, agendas });
    }
    let mut tx = committee.begin().await?;
    for association in &associations {
        for (branch, agenda) in association.branches.iter().zip(&association.agendas) {
            tx.execute(
                Sql::new("INSERT INTO agendas (agenda_id, association, branch, opened_at) VALUES ($1, $2, $3, $4)")
                    .bind(*agenda)
                    .bind(association.code)
                    .bind(*branch)
                    .bind(Utc::now() - Duration::days(45)),
            )
            .await?;
        }
    }
    tx.commit().await?;

    let shape = if embedded { "SQLite, the embedded files" } else { "PostgreSQL" };
    eprintln!("Seeding {} cases over both associations and 20 branches ({shape})", options.cases);
    let started = Instant::now();
    let mut done = 0;
    while done < options.cases {
        let count = BATCH.min(options.cases - done);
        let rows = batch(&associations, &personal, count);
        write_intake(&intake, rows.intake).await?;
        let mut tx = verification.begin().await?;
        insert(&mut tx, "verification_cases", VERIFICATION_CASES, rows.verification).await?;
        insert(&mut tx, "case_documents", CASE_DOCUMENTS, rows.case_documents).await?;
        tx.commit().await?;
        let mut tx = research.begin().await?;
        insert(&mut tx, "unassigned_cases", UNASSIGNED, rows.unassigned).await?;
        insert(&mut tx, "research_assignments", ASSIGNMENTS, rows.assignments).await?;
        tx.commit().await?;
        let mut tx = committee.begin().await?;
        insert(&mut tx, "agenda_items", AGENDA_ITEMS, rows.agenda_items).await?;
        tx.commit().await?;
        done += count;
        progress(done, options.cases, started);
    }
    eprintln!();
    for db in [intake, verification, research, committee] {
        // Fresh statistics, as autovacuum would gather them soon after a load this size.
        db.execute(Sql::new("ANALYZE")).await?;
        db.close().await;
    }
    println!("Seeded {} cases in {:.0} s", options.cases, started.elapsed().as_secs_f64());
    Ok(())
}

/// The newest built-in pack of an association.
fn newest_pack(association: &str) -> anyhow::Result<PolicyPack> {
    let mut packs = Vec::new();
    for (name, source) in crate::BUILT_IN_POLICIES {
        let source = crate::PolicySource { name: (*name).to_owned(), text: (*source).to_owned() };
        let pack = crate::parse_policy(&source)?;
        if pack.association.as_str() == association {
            packs.push(pack);
        }
    }
    packs.into_iter().max_by_key(|p| p.version).with_context(|| format!("no built-in pack for {association}"))
}

/// A bar, the count, the rate and the time left, rewritten in place.
fn progress(done: usize, total: usize, started: Instant) {
    const WIDTH: usize = 30;
    let share = done as f64 / total.max(1) as f64;
    let filled = (share * WIDTH as f64).round() as usize;
    let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
    let left = (total - done) as f64 / rate.max(1.0);
    eprint!(
        "\r  [{}{}] {done} / {total} cases  {:>3.0} %  {rate:.0} cases/s  {left:.0} s left ",
        "█".repeat(filled),
        "░".repeat(WIDTH - filled),
        share * 100.0
    );
    let _ = std::io::stderr().flush();
}

const REQUESTS: &[&str] = &[
    "request_id",
    "reference",
    "association",
    "branch",
    "service_type",
    "channel",
    "national_id",
    "applicant_name",
    "mobile",
    "preferred_language",
    "description",
    "status",
    "submitted_at",
    "expected_decision_on",
    "policy_version",
    "facts",
    "national_id_index",
    "address",
    "attested_by",
    "attested_at",
    "attestation_version",
    "assigned_researcher",
];
const TIMELINE: &[&str] = &["entry_id", "request_id", "status", "stage", "actor_role", "at", "note"];
const DOCUMENTS: &[&str] = &[
    "attachment_id",
    "request_id",
    "document",
    "file_name",
    "content_type",
    "size_bytes",
    "sha256",
    "object_key",
    "uploaded_by",
    "uploaded_at",
];
const DELIVERIES: &[&str] = &["request_id", "delivered_by", "delivered_at", "note", "rated"];
const RATINGS: &[&str] = &["rating_id", "association", "branch", "service_type", "score", "comment", "rated_on"];
const VERIFICATION_CASES: &[&str] = &[
    "request_id",
    "association",
    "branch",
    "service_type",
    "applicant_name",
    "national_id_masked",
    "status",
    "received_at",
    "decided_by",
    "decided_at",
    "outcome_detail",
    "policy_version",
    "eligibility",
    "document_reviews_optional",
];
const CASE_DOCUMENTS: &[&str] = &[
    "request_id",
    "document",
    "name_ar",
    "name_en",
    "attachment_id",
    "content_type",
    "size_bytes",
    "sha256",
    "review",
    "reason",
];
const UNASSIGNED: &[&str] =
    &["request_id", "association", "branch", "service_type", "policy_version", "waiting_since", "why"];
const ASSIGNMENTS: &[&str] = &[
    "request_id",
    "association",
    "branch",
    "service_type",
    "researcher",
    "status",
    "visits",
    "recommendation",
    "justification",
    "assigned_at",
    "policy_version",
    "why",
];
const AGENDA_ITEMS: &[&str] = &[
    "request_id",
    "agenda_id",
    "association",
    "branch",
    "service_type",
    "researcher",
    "recommendation",
    "status",
    "decision",
    "reasons",
    "scheduled_at",
    "policy_version",
    "version",
];

fn text(value: impl Into<String>) -> Value {
    Value::Text(Some(value.into()))
}

/// `count` new cases, each at a stage drawn from [`FINAL_STATUS`].
fn batch(associations: &[Association], personal: &PersonalData, count: usize) -> Rows {
    let mut rng = rand::rng();
    let mut rows = Rows::default();
    let now = Utc::now();
    for _ in 0..count {
        let association = &associations[rng.random_range(0..associations.len())];
        let code = association.code;
        let branch_index = rng.random_range(0..association.branches.len());
        let branch = association.branches[branch_index];
        let roster = &association.researchers[branch_index];
        let types = &association.pack.service_types;
        let service_type = types[rng.random_range(0..types.len())].code.clone();
        let mut roll = rng.random_range(0..100u32);
        let last = FINAL_STATUS
            .iter()
            .find(|(share, _)| {
                let within = roll < *share;
                roll = roll.saturating_sub(*share);
                within
            })
            .map_or(CaseStatus::Closed, |(_, status)| *status);
        // A verified case waits for a researcher only where the roster has none (research
        // assigns the others at once, and would, on starting, the ones seeded waiting).
        let last = match last {
            CaseStatus::Verified if !roster.is_empty() => CaseStatus::ResearcherAssigned,
            last => last,
        };
        let steps = journey(last);
        let filed_at = now - Duration::minutes(rng.random_range(10..oldest_days(last) * 24 * 60));
        // Each later step a day or more after the one before, the last one before now.
        let span = (now - filed_at).num_minutes().max(steps.len() as i64 + 1);
        let at = |step: usize| filed_at + Duration::minutes(span * (step as i64 + 1) / (steps.len() as i64 + 2));
        let request_id = Uuid::now_v7();
        let national_id = crate::demo::new_national_id();
        let name = NAMES[rng.random_range(0..NAMES.len())];
        let mobile = format!("05{:08}", rng.random_range(0..100_000_000u32));
        let researcher = researcher(code, branch, roster, rng.random());
        let submitted_at = if steps.is_empty() { filed_at } else { at(0) };
        let facts = serde_json::json!({"household.members": rng.random_range(1..12).to_string()}).to_string();
        let address = serde_json::json!({"city": "", "district": "", "street": "", "short_address": ""}).to_string();
        rows.intake.requests.push(vec![
            request_id.into(),
            text(format!("{}-{}", code.to_uppercase(), &request_id.simple().to_string()[20..])),
            text(code),
            text(branch),
            text(service_type.clone()),
            text(["website", "phone", "interview", "mobile_app"][rng.random_range(0..4)]),
            text(personal.seal(code, Field::NationalId, &national_id)),
            text(name),
            text(personal.seal(code, Field::Mobile, &mobile)),
            text("ar"),
            text(""),
            text(last.as_str()),
            submitted_at.into(),
            (submitted_at.date_naive() + Duration::days(14)).into(),
            Value::Int(i64::from(association.pack.version)),
            text(personal.seal(code, Field::Facts, &facts)),
            text(personal.index(code, Field::NationalId, &national_id)),
            text(personal.seal(code, Field::Address, &address)),
            Value::Text((!steps.is_empty()).then(|| "reception".to_owned())),
            Value::OptionalTime((!steps.is_empty()).then_some(submitted_at)),
            Value::Text((!steps.is_empty()).then(|| "v1".to_owned())),
            Value::Text(steps.contains(&CaseStatus::ResearcherAssigned).then(|| researcher.clone())),
        ]);
        let mut trail = vec![entry(request_id, code, branch, CaseStatus::Draft, "request.filed", filed_at)];
        let required = association.pack.required_documents(&service_type);
        for (n, document) in required.iter().enumerate() {
            let attachment_id = Uuid::now_v7();
            let uploaded_at = filed_at + Duration::seconds(n as i64 + 1);
            let sha256 = format!("{:064x}", rng.random::<u128>());
            rows.intake.documents.push(vec![
                attachment_id.into(),
                request_id.into(),
                text(document.code.clone()),
                text(format!("{}.pdf", document.code)),
                text("application/pdf"),
                Value::Int(rng.random_range(80_000..2_000_000)),
                text(sha256.clone()),
                text(format!("{code}/{request_id}/{}/{attachment_id}", document.code)),
                text("reception"),
                uploaded_at.into(),
            ]);
            trail.push(entry(request_id, code, branch, CaseStatus::Draft, "document.uploaded", uploaded_at));
            if !steps.is_empty() {
                let reviewed = last != CaseStatus::Submitted;
                rows.case_documents.push(vec![
                    request_id.into(),
                    text(document.code.clone()),
                    text(document.name.ar.clone()),
                    text(document.name.en.clone()),
                    attachment_id.into(),
                    text("application/pdf"),
                    Value::Int(500_000),
                    text(sha256),
                    text(if reviewed { "accepted" } else { "pending" }),
                    text(""),
                ]);
            }
        }
        for (step, status) in steps.iter().enumerate() {
            let (_, role) = actor_of(*status);
            rows.intake.timeline.push(vec![
                Uuid::now_v7().into(),
                request_id.into(),
                text(status.as_str()),
                text(status.stage().as_str()),
                text(role),
                at(step).into(),
                text(""),
            ]);
            trail.push(entry(request_id, code, branch, *status, &format!("case.{status}"), at(step)));
        }
        rows.intake.audit.push(trail);
        if steps.is_empty() {
            continue;
        }
        let reached = |status: CaseStatus| steps.contains(&status);
        let verification_status = match last {
            CaseStatus::Submitted | CaseStatus::ReturnedForCompletion | CaseStatus::Ineligible => last,
            _ => CaseStatus::Verified,
        };
        let decided = verification_status != CaseStatus::Submitted;
        rows.verification.push(vec![
            request_id.into(),
            text(code),
            text(branch),
            text(service_type.clone()),
            text(name),
            text(masar_domain::NationalId::mask(&national_id)),
            text(verification_status.as_str()),
            submitted_at.into(),
            Value::Text(decided.then(|| "pm".to_owned())),
            Value::OptionalTime(decided.then(|| at(1))),
            serde_json::json!({}).into(),
            Value::Int(i64::from(association.pack.version)),
            serde_json::json!([]).into(),
            Value::Int(0),
        ]);
        let why = serde_json::json!({"ar": "أقل الحالات المفتوحة", "en": "fewest open cases"});
        if last == CaseStatus::Verified {
            rows.unassigned.push(vec![
                request_id.into(),
                text(code),
                text(branch),
                text(service_type.clone()),
                Value::Int(i64::from(association.pack.version)),
                at(1).into(),
                why.clone().into(),
            ]);
        }
        if reached(CaseStatus::ResearcherAssigned) {
            let research_status = match last {
                CaseStatus::ResearcherAssigned | CaseStatus::FieldVisitRecorded => last,
                _ => CaseStatus::Recommended,
            };
            let visits = i64::from(reached(CaseStatus::FieldVisitRecorded));
            let recommended = reached(CaseStatus::Recommended);
            rows.assignments.push(vec![
                request_id.into(),
                text(code),
                text(branch),
                text(service_type.clone()),
                text(researcher.clone()),
                text(research_status.as_str()),
                Value::Int(visits),
                text(if recommended { "approve" } else { "" }),
                text(if recommended {
                    "الحالة مستحقة بحسب معايير البحث الاجتماعي"
                } else {
                    ""
                }),
                at(2).into(),
                Value::Int(i64::from(association.pack.version)),
                why.into(),
            ]);
        }
        if reached(CaseStatus::OnCommitteeAgenda) {
            let decision = match last {
                CaseStatus::OnCommitteeAgenda => CaseStatus::OnCommitteeAgenda,
                CaseStatus::Rejected | CaseStatus::Deferred => last,
                _ => CaseStatus::Approved,
            };
            let decided = decision != CaseStatus::OnCommitteeAgenda;
            rows.agenda_items.push(vec![
                request_id.into(),
                association.agendas[branch_index].into(),
                text(code),
                text(branch),
                text(service_type.clone()),
                text(researcher.clone()),
                text("approve"),
                text(decision.as_str()),
                text(if decided { decision.as_str() } else { "" }),
                serde_json::json!([]).into(),
                at(5).into(),
                Value::Int(i64::from(association.pack.version)),
                Value::Int(1 + i64::from(decided)),
            ]);
        }
        if reached(CaseStatus::ServiceDelivered) {
            let delivered_at = at(steps.iter().position(|s| *s == CaseStatus::ServiceDelivered).unwrap_or(0));
            let rated = last == CaseStatus::Closed;
            rows.intake.deliveries.push(vec![
                request_id.into(),
                text("branch"),
                delivered_at.into(),
                text(""),
                Value::Int(i64::from(rated)),
            ]);
            if rated {
                rows.intake.ratings.push(vec![
                    Uuid::new_v4().into(),
                    text(code),
                    text(branch),
                    text(service_type.clone()),
                    Value::Int(rng.random_range(2..=5)),
                    text(""),
                    (delivered_at.date_naive() + Duration::days(3)).into(),
                ]);
            }
        }
    }
    rows
}

/// One audit entry of a seeded case.
fn entry(
    request_id: Uuid,
    association: &str,
    branch: &str,
    status: CaseStatus,
    action: &str,
    at: DateTime<Utc>,
) -> Entry {
    let (actor, role) = actor_of(status);
    Entry {
        request_id: Some(request_id),
        association: association.to_owned(),
        branch: branch.to_owned(),
        actor: format!("{association}.{actor}"),
        actor_role: role.to_owned(),
        action: action.to_owned(),
        detail: String::new(),
        channel: "gateway".to_owned(),
        correlation_id: String::new(),
        trace_id: String::new(),
        at,
    }
}

/// Intake's rows of a batch, in one transaction: each case's audit entries
/// chained as `audit::record` chains them, with their chains' heads.
async fn write_intake(db: &Db, rows: IntakeRows) -> anyhow::Result<()> {
    let IntakeRows { requests, timeline, documents, audit, deliveries, ratings } = rows;
    let mut tx = db.begin().await?;
    insert(&mut tx, "service_requests", REQUESTS, requests).await?;
    insert(&mut tx, "timeline_entries", TIMELINE, timeline).await?;
    insert(&mut tx, "request_documents", DOCUMENTS, documents).await?;
    insert(&mut tx, "service_deliveries", DELIVERIES, deliveries).await?;
    insert(&mut tx, "service_ratings", RATINGS, ratings).await?;
    let per_statement = values_per_statement(tx.backend()) / audit::COLUMNS.len();
    let mut heads = Vec::new();
    let mut chains = audit.into_iter().peekable();
    while chains.peek().is_some() {
        let mut chunk = Vec::new();
        let mut rows = 0;
        while let Some(chain) = chains.next_if(|chain| chunk.is_empty() || rows + chain.len() <= per_statement) {
            rows += chain.len();
            chunk.push(chain);
        }
        let mut sql = Sql::insert_rows("audit_log", audit::COLUMNS, rows);
        for chain in chunk {
            let (bound, head) = audit::bind_chain(sql, chain, "");
            sql = bound;
            heads.extend(head.map(|(chain, hash)| vec![text(chain), text(hash)]));
        }
        tx.execute(sql).await?;
    }
    insert(&mut tx, "audit_chain_heads", &["chain", "hash"], heads).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts `rows` into `table`, as many per statement as the backends bind.
async fn insert(
    tx: &mut Tx,
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    let per_statement = (values_per_statement(tx.backend()) / columns.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let sql = Sql::insert_rows(table, columns, chunk.len());
        let sql = chunk.into_iter().flatten().fold(sql, Sql::bind);
        tx.execute(sql).await.with_context(|| format!("seeding {table}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every seeded history is one the state machine allows, from the draft on.
    #[test]
    fn every_seeded_journey_is_walkable() {
        for (_, last) in FINAL_STATUS {
            let steps = journey(last);
            assert_eq!(steps.last().copied().unwrap_or(CaseStatus::Draft), last);
            for pair in std::iter::once(CaseStatus::Draft).chain(steps).collect::<Vec<_>>().windows(2) {
                pair[0].transition(pair[1]).unwrap_or_else(|refused| panic!("{last}: {refused}"));
            }
        }
    }
}
