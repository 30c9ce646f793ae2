//! The authorization matrix: every endpoint of the API, called by every
//! staff member of both associations (every role; Nuzul's Jeddah branch is
//! the foreign branch, Hayat the foreign association), by the beneficiary
//! whose cases are the targets (verified by the identity provider), by a
//! stranger whose unverified account claims the same national ID, by another
//! beneficiary, by a beneficiary of another association, with the token of a
//! signed-out session, and anonymously; once through the gateway and once
//! straight at the services' gRPC ports, where the gateway cannot help.
//!
//! Each caller must meet exactly the row's expected answer: sign in (401),
//! not your role (403), nothing there (404), or, for an allowed caller, the
//! very answer the row names. Allowed callers are stopped right after the
//! authorization checks (a stale `If-Match`, a status the action does not
//! apply to, or input the service refuses), so no probe changes the scene,
//! and a service that read the input before checking the caller would show.

use crate::support::{distributed_suite, embedded_suite, grpc_request, logged_sms};
use futures::future::BoxFuture;
use masar::Suite;
use masar::demo::{GatewayClient, NUZUL, SAMPLE_PDF, research_to_agenda, sign_up, submit};
use masar_domain::ActorRole;
use masar_gateway::Services;
use masar_proto::audit::v1 as audit;
use masar_proto::committee::v1 as committee;
use masar_proto::identity::v1 as identity;
use masar_proto::intake::v1 as intake;
use masar_proto::notification::v1 as notification;
use masar_proto::research::v1 as research;
use masar_proto::verification::v1 as verification;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use tonic::Code;

/// What a caller meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Past authorization (whatever the action then answers).
    Allowed,
    /// 401 / UNAUTHENTICATED: sign in first.
    SignInRequired,
    /// 403 / PERMISSION_DENIED: the role may not do this.
    Forbidden,
    /// 404 / NOT_FOUND: outside the caller's scope, which looks like nothing at all.
    Hidden,
}

/// Who calls.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    Anonymous,
    /// The Nuzul beneficiary whose requests the probes aim at.
    Owner,
    /// Someone who registered online with the owner's national ID and
    /// their own number: an unverified claim, beside the owner's verified account.
    Claimant,
    /// Another Nuzul beneficiary.
    OtherBeneficiary,
    /// A beneficiary of Hayat.
    ForeignBeneficiary,
    /// Nuzul's admin, with the access token of a session since signed out.
    SignedOut,
    /// A staff member of the demo directory, of either association.
    Staff(Member),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    username: String,
    role: ActorRole,
    association: String,
    branch: Option<String>,
}

impl Who {
    fn label(&self) -> String {
        match self {
            Who::Staff(member) => member.username.clone(),
            other => format!("{other:?}"),
        }
    }
}

/// Every caller of the matrix: each staff member of the demo directory (both
/// associations, every role, both of Nuzul's branches), and the others.
fn callers() -> Vec<Who> {
    let mut callers =
        vec![Who::Anonymous, Who::SignedOut, Who::Owner, Who::Claimant, Who::OtherBeneficiary, Who::ForeignBeneficiary];
    for association in &crate::support::directory().associations {
        callers.extend(association.staff.iter().map(|s| {
            Who::Staff(Member {
                username: s.username.clone(),
                role: s.role,
                association: association.code.clone(),
                branch: s.branch.clone(),
            })
        }));
    }
    callers
}

/// The beneficiary whose cases are the targets, and a lookalike: the same
/// name and mobile under another national ID, flagged as possibly the same person.
const OWNER_ID: &str = "1000000149";
const LOOKALIKE_ID: &str = "1000000156";
const NAME: &str = "ريم عبدالعزيز";
const MOBILE: &str = "0552223344";
const CLAIMANT_MOBILE: &str = "0558887766";
/// A version no record is at: an allowed caller's action stops at `If-Match`.
const STALE: u64 = 999;

/// What every probe meets, all in Nuzul's Riyadh branch.
struct Scene {
    /// On the committee's agenda: every service knows it.
    case: String,
    /// Submitted, waiting for the project manager.
    pending: String,
    /// With its researcher, before any visit.
    assigned: String,
    case_researcher: String,
    assigned_researcher: String,
    /// An open inquiry the Riyadh front desk recorded for the owner.
    inquiry: String,
    owner_id: String,
    lookalike_id: String,
    /// The claimant's account: a claim to the owner's national ID.
    claim_account: String,
    /// The identity check the owner proved their ID with.
    identity_check: String,
    /// One of the case's uploaded documents.
    attachment: String,
    /// A Riyadh committee meeting scheduled, chaired by Nuzul's first member.
    meeting: String,
    /// A Riyadh meeting held with its chair alone present and closed: its minutes await him.
    closed_meeting: String,
    /// Each caller's access token (none for the anonymous caller).
    tokens: HashMap<String, String>,
    /// Intake's own port, where its registry answers the identity service alone.
    intake_url: String,
}

fn id_of(reply: &Value, field: &str) -> String {
    reply[field].as_str().unwrap_or_else(|| panic!("no {field} in {reply}")).to_owned()
}

async fn scene(suite: &Suite, read_sms: &dyn Fn() -> Vec<String>) -> Scene {
    let base = GatewayClient::new(&suite.gateway_url());
    let session = base.sign_in("nuzul", "nuzul.admin", masar::DEMO_STAFF_PASSWORD).await.unwrap();
    let signed_out = session["session"]["access_token"].as_str().unwrap().to_owned();
    let sign_out = json!({ "refresh_token": session["session"]["refresh_token"] });
    base.call(Method::POST, "/v1/sessions/sign-out", None, Some(sign_out)).await.unwrap();
    let applicant = |national_id: &str| json!({ "national_id": national_id, "full_name": NAME, "mobile": MOBILE });
    let owner = sign_up(&base, "nuzul", applicant(OWNER_ID), read_sms).await.unwrap();
    let other = sign_up(&base, "nuzul", applicant(LOOKALIKE_ID), read_sms).await.unwrap();
    let hayat = json!({ "national_id": "1000000164", "full_name": "سلمى حسن", "mobile": "0553334455" });
    let foreign = sign_up(&base, "hayat", hayat, read_sms).await.unwrap();
    let claim = json!({ "national_id": OWNER_ID, "full_name": NAME, "mobile": CLAIMANT_MOBILE });
    let claimant = sign_up(&base, "nuzul", claim, read_sms).await.unwrap();
    // The owner proves the ID is theirs with the identity provider; the claim stays a claim.
    let check = owner.post("/v1/me/identity-checks", None, json!({})).await.unwrap();
    let identity_check = id_of(&check, "check_id");
    let checked = owner.get(&format!("/v1/me/identity-checks/{identity_check}"), None).await.unwrap();
    assert_eq!((&checked["answer"], &checked["account_standing"]), (&json!("confirmed"), &json!("identity_provider")));
    let owner = owner.refreshed().await.unwrap();

    let mut filed = Vec::new();
    for _ in 0..3 {
        filed.push(id_of(&submit(&owner, &NUZUL, OWNER_ID, NAME, MOBILE).await.unwrap(), "request_id"));
    }
    let [case, pending, assigned] = <[String; 3]>::try_from(filed).unwrap();
    for id in [&case, &assigned] {
        base.verify(id, NUZUL.project_manager).await.unwrap();
    }
    let case_researcher = research_to_agenda(&base, &NUZUL, &case, "approve").await.unwrap();
    // Intake learns the case's researcher from research's event: the one researcher who opens its documents.
    let admin = base.as_staff("nuzul.admin").await.unwrap();
    admin
        .eventually("intake to know the case's researcher", || async {
            let timeline = admin.get(&format!("/v1/requests/{case}/timeline"), None).await?;
            let entries = timeline["entries"].as_array().cloned().unwrap_or_default();
            Ok(entries.iter().any(|e| e["status"] == "researcher_assigned").then_some(()))
        })
        .await
        .unwrap();
    let filed = admin.get(&format!("/v1/requests/{case}"), None).await.unwrap();
    let attachment = id_of(&filed["documents"][0], "attachment_id");
    let assigned_researcher = base.wait_for_researcher(&assigned, NUZUL.branch_manager).await.unwrap();
    base.wait_until_pending(&pending, NUZUL.project_manager).await.unwrap();
    let question = json!({ "association": "nuzul", "branch": "riyadh", "channel": "phone", "name": NAME,
                           "national_id": OWNER_ID, "question": "متى تبدأ الزيارة؟" });
    let inquiry = id_of(&base.post("/v1/inquiries", Some(NUZUL.reception), question).await.unwrap(), "inquiry_id");
    let flagged = base.get("/v1/beneficiaries/possible-duplicates", Some(NUZUL.project_manager)).await.unwrap();
    let pair = &flagged["possible_duplicates"][0];
    let (lookalike_id, owner_id) =
        (id_of(&pair["beneficiary"], "beneficiary_id"), id_of(&pair["resembles"], "beneficiary_id"));
    let claims = base.get("/v1/accounts/claims", Some(NUZUL.reception)).await.unwrap();
    let on_owner_id =
        claims["claims"].as_array().unwrap().iter().find(|c| c["beneficiary"]["beneficiary_id"] == owner_id.as_str());
    let claim_account = id_of(&on_owner_id.expect("the claim to the owner's ID is listed")["account"], "account_id");
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now()).to_string();
    let meeting = json!({ "branch": "riyadh", "on": today, "at": "09:00", "place": "Hall", "chair": NUZUL.committee[0],
                          "members": NUZUL.committee });
    let closed_meeting = id_of(
        &base.post("/v1/committee/meetings", Some(NUZUL.branch_manager), meeting.clone()).await.unwrap(),
        "meeting_id",
    );
    let attendance = json!({ "present": [NUZUL.committee[0]] });
    let path = format!("/v1/committee/meetings/{closed_meeting}/attendance");
    base.ok(Method::PUT, &path, Some(NUZUL.committee[0]), Some(attendance)).await.unwrap();
    let path = format!("/v1/committee/meetings/{closed_meeting}/closing");
    base.post(&path, Some(NUZUL.committee[0]), json!({})).await.unwrap();
    let meeting =
        id_of(&base.post("/v1/committee/meetings", Some(NUZUL.branch_manager), meeting).await.unwrap(), "meeting_id");

    let mut tokens = HashMap::from([(Who::SignedOut.label(), signed_out)]);
    let beneficiaries = [
        (Who::Owner, &owner),
        (Who::Claimant, &claimant),
        (Who::OtherBeneficiary, &other),
        (Who::ForeignBeneficiary, &foreign),
    ];
    for (who, client) in beneficiaries {
        tokens.insert(who.label(), client.token().unwrap().to_owned());
    }
    for who in callers() {
        if let Who::Staff(member) = &who {
            tokens.insert(who.label(), base.staff_token(&member.username).await.unwrap());
        }
    }
    Scene {
        case,
        pending,
        assigned,
        case_researcher,
        assigned_researcher,
        inquiry,
        owner_id,
        lookalike_id,
        claim_account,
        identity_check,
        attachment,
        meeting,
        closed_meeting,
        tokens,
        intake_url: suite.url(masar_platform::role::Role::Intake),
    }
}

/// Which beneficiaries a rule lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Beneficiaries {
    Refused,
    /// The target is theirs; another beneficiary meets nothing there.
    Own,
    /// Any beneficiary, each acting for themself.
    Any,
}

/// Whose target it is, for staff (and for a beneficiary's own-ness).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The target's association and, for branch-bound roles, its branch;
    /// outside it the target looks missing.
    Of(&'static str, &'static str),
    /// The target's association, any branch; outside it looks missing.
    Association(&'static str),
    /// Filing into an association and branch: outside is refused outright.
    FilingFor(&'static str, &'static str),
    /// Registering with an association, any branch: outside is refused outright.
    RegisteringWith(&'static str),
    /// Each caller within their own scope (lists, figures).
    Own,
}

/// Who may reach a target.
#[derive(Debug, Clone)]
struct Rule {
    /// Served to another Masar service alone: every front end's caller is refused.
    internal: bool,
    anonymous: bool,
    beneficiaries: Beneficiaries,
    staff: &'static [ActorRole],
    scope: Scope,
    /// Of this role, only this member may (a case's researcher, a meeting's
    /// chair); the role's others meet the outcome given.
    only: Option<(ActorRole, String, Outcome)>,
    /// Members whose post meets otherwise here, and what they meet.
    except: Vec<(&'static str, Outcome)>,
}

const RIYADH: Scope = Scope::Of("nuzul", "riyadh");
const ALL_STAFF: &[ActorRole] = &[
    ActorRole::ReceptionOfficer,
    ActorRole::ProjectManager,
    ActorRole::SocialResearcher,
    ActorRole::CommitteeMember,
    ActorRole::BranchManager,
    ActorRole::AssociationAdmin,
    ActorRole::SocialResearchOfficer,
    ActorRole::HealthAdministrationManager,
];
/// Who answer inquiries: the front desk and each association's referral role
/// (both associations' listed: each has staff in its own role only, and
/// scope keeps them to their association).
const INQUIRY_DESK: &[ActorRole] = &[
    ActorRole::ReceptionOfficer,
    ActorRole::BranchManager,
    ActorRole::AssociationAdmin,
    ActorRole::SocialResearchOfficer,
    ActorRole::HealthAdministrationManager,
];
const RESEARCH_DESK: &[ActorRole] =
    &[ActorRole::SocialResearcher, ActorRole::BranchManager, ActorRole::AssociationAdmin];
const AGENDA_READERS: &[ActorRole] =
    &[ActorRole::CommitteeMember, ActorRole::BranchManager, ActorRole::AssociationAdmin];

impl Rule {
    fn staff(staff: &'static [ActorRole], scope: Scope) -> Self {
        Rule {
            internal: false,
            anonymous: false,
            beneficiaries: Beneficiaries::Refused,
            staff,
            scope,
            only: None,
            except: Vec::new(),
        }
    }

    /// Nobody who calls as a front end does: anonymous, beneficiary and staff alike are refused.
    fn internal() -> Self {
        Rule { internal: true, ..Rule::staff(&[], Scope::Own) }
    }

    fn with_beneficiaries(self, beneficiaries: Beneficiaries) -> Self {
        Rule { beneficiaries, ..self }
    }

    fn with_anonymous(self) -> Self {
        Rule { anonymous: true, ..self }
    }

    fn only_researcher(self, researcher: &str, otherwise: Outcome) -> Self {
        self.only(ActorRole::SocialResearcher, researcher, otherwise)
    }

    fn except(mut self, member: &'static str, outcome: Outcome) -> Self {
        self.except.push((member, outcome));
        self
    }

    fn only(self, role: ActorRole, member: &str, otherwise: Outcome) -> Self {
        Rule { only: Some((role, member.to_owned(), otherwise)), ..self }
    }

    /// What `who` must meet.
    fn expected(&self, who: &Who) -> Outcome {
        if self.internal {
            return Outcome::Forbidden;
        }
        let outside = match self.scope {
            Scope::FilingFor(..) | Scope::RegisteringWith(..) => Outcome::Forbidden,
            _ => Outcome::Hidden,
        };
        match who {
            Who::Anonymous if self.anonymous => Outcome::Allowed,
            Who::Anonymous | Who::SignedOut => Outcome::SignInRequired,
            Who::Owner | Who::Claimant | Who::OtherBeneficiary | Who::ForeignBeneficiary => match self.beneficiaries {
                Beneficiaries::Refused => Outcome::Forbidden,
                Beneficiaries::Any => Outcome::Allowed,
                Beneficiaries::Own if *who == Who::Owner => Outcome::Allowed,
                // A claim may file for the ID it claims, and sees only what it filed.
                Beneficiaries::Own if *who == Who::Claimant && matches!(self.scope, Scope::FilingFor(..)) => {
                    Outcome::Allowed
                }
                Beneficiaries::Own => outside,
            },
            Who::Staff(member) => {
                if let Some((_, outcome)) = self.except.iter().find(|(name, _)| *name == member.username) {
                    return *outcome;
                }
                if !self.staff.contains(&member.role) {
                    return Outcome::Forbidden;
                }
                let inside = match self.scope {
                    Scope::Of(association, branch) | Scope::FilingFor(association, branch) => {
                        member.association == association
                            && (!member.role.is_branch_bound() || member.branch.as_deref() == Some(branch))
                    }
                    Scope::Association(association) | Scope::RegisteringWith(association) => {
                        member.association == association
                    }
                    Scope::Own => true,
                };
                match &self.only {
                    _ if !inside => outside,
                    Some((role, only, otherwise)) if member.role == *role && member.username != *only => *otherwise,
                    _ => Outcome::Allowed,
                }
            }
        }
    }
}

/// A call at a service's port, returning the ids a list shows (none for other calls).
type Grpc =
    Box<dyn Fn(Services, Option<String>) -> BoxFuture<'static, Result<Vec<String>, tonic::Status>> + Send + Sync>;

/// A call to the gateway.
struct Http {
    method: Method,
    /// The OpenAPI path it covers.
    template: &'static str,
    path: String,
    body: Option<Value>,
    /// The body is a document upload, not JSON.
    upload: bool,
    if_match: bool,
}

/// Where a list shows the target, and who must see it there.
struct Listing {
    rows: &'static str,
    /// JSON pointer to a row's id.
    id: &'static str,
    target: String,
    seen_by: Rule,
}

/// One row of the matrix: an operation, the same at the service's port, and who may reach it.
struct Row {
    http: Option<Http>,
    /// `/package.Service/Method`
    method: &'static str,
    grpc: Grpc,
    rule: Rule,
    listing: Option<Listing>,
    /// Exactly where an allowed call stops (HTTP status, gRPC code): the
    /// answer itself, or the refusal (stale version, status, input) that keeps the scene as it is.
    stops_at: (u16, Code),
    /// Where else an allowed call may stop, for a caller whose own standing answers otherwise.
    or_stops_at: Option<(u16, Code)>,
    /// Routes for anyone: every caller meets `stops_at`.
    public: bool,
    /// An empty answer means "nothing of yours" (a service's share of a case's audit trail).
    empty_is_hidden: bool,
}

macro_rules! rpc {
    ($method:literal, $client:ident $(. $index:tt)?, $call:ident, $message:expr) => {
        rpc!($method, $client $(. $index)?, $call, $message, |_reply| Vec::new())
    };
    ($method:literal, $client:ident $(. $index:tt)?, $call:ident, $message:expr, $ids:expr) => {{
        let message = $message;
        let grpc: Grpc = Box::new(move |mut services: Services, token: Option<String>| {
            let message = message.clone();
            Box::pin(async move {
                let reply = services.$client$([$index])?.$call(grpc_request(message, token.as_deref())).await?;
                Ok(($ids)(reply.into_inner()))
            })
        });
        ($method, grpc)
    }};
}

type RegistryClient = intake::registry_service_client::RegistryServiceClient<tonic::transport::Channel>;
type Probed = BoxFuture<'static, Result<Vec<String>, tonic::Status>>;

/// A call straight at intake's registry, as a caller who found its port would make it.
fn registry_call(
    intake_url: &str,
    method: &'static str,
    call: fn(RegistryClient, tonic::Request<()>) -> Probed,
) -> (&'static str, Grpc) {
    let url = intake_url.to_owned();
    let grpc: Grpc = Box::new(move |_services: Services, token: Option<String>| {
        let channel = tonic::transport::Channel::from_shared(url.clone()).unwrap().connect_lazy();
        call(RegistryClient::new(channel), grpc_request((), token.as_deref()))
    });
    (method, grpc)
}

fn row(http: Option<Http>, (method, grpc): (&'static str, Grpc), rule: Rule) -> Row {
    Row {
        http,
        method,
        grpc,
        rule,
        listing: None,
        stops_at: (200, Code::Ok),
        or_stops_at: None,
        public: false,
        empty_is_hidden: false,
    }
}

fn http(method: Method, template: &'static str, path: String, body: Option<Value>) -> Option<Http> {
    Some(Http { method, template, path, body, upload: false, if_match: false })
}

fn stale(mut http: Option<Http>) -> Option<Http> {
    if let Some(http) = &mut http {
        http.if_match = true;
    }
    http
}

impl Row {
    fn listing(self, rows: &'static str, id: &'static str, target: &str, seen_by: Rule) -> Self {
        Row { listing: Some(Listing { rows, id, target: target.to_owned(), seen_by }), ..self }
    }

    fn stops_at(self, status: u16, code: Code) -> Self {
        Row { stops_at: (status, code), ..self }
    }

    fn or_stops_at(self, status: u16, code: Code) -> Self {
        Row { or_stops_at: Some((status, code)), ..self }
    }

    fn public(self, status: u16, code: Code) -> Self {
        Row { stops_at: (status, code), public: true, ..self }
    }
}

/// Every operation, each with its probe at the gateway and at its service's port.
fn rows(scene: &Scene) -> Vec<Row> {
    use ActorRole as R;
    let case = scene.case.as_str();
    let request = |suffix: &str| format!("/v1/requests/{case}{suffix}");
    let post = |template: &'static str, path: String, body: Value| http(Method::POST, template, path, Some(body));
    let get = |template: &'static str, path: String| http(Method::GET, template, path, None);
    let own_case = || Rule::staff(ALL_STAFF, RIYADH).with_beneficiaries(Beneficiaries::Own);
    let front_desk_or_owner = || Rule::staff(&R::FRONT_DESK, RIYADH).with_beneficiaries(Beneficiaries::Own);
    let supervisors = || Rule::staff(&R::SUPERVISORS, RIYADH);
    let project_manager = || Rule::staff(&[R::ProjectManager], RIYADH);
    let researcher =
        || Rule::staff(&[R::SocialResearcher], RIYADH).only_researcher(&scene.case_researcher, Outcome::Forbidden);
    let committee = || Rule::staff(&[R::CommitteeMember], RIYADH);
    // A meeting is run by its chair (of the committee's members) or a supervisor.
    let chair = || Rule::staff(AGENDA_READERS, RIYADH).only(R::CommitteeMember, NUZUL.committee[0], Outcome::Forbidden);
    let meeting = |suffix: &str| format!("/v1/committee/meetings/{}{suffix}", scene.meeting);
    let closed = |suffix: &str| format!("/v1/committee/meetings/{}{suffix}", scene.closed_meeting);
    // Forms an allowed caller gets back for correcting: nothing is filed.
    let filing = json!({ "association": "nuzul", "branch": "riyadh", "service_type": "no_such_service", "channel": "website",
        "applicant": { "national_id": OWNER_ID, "full_name": NAME, "mobile": MOBILE }, "facts": NUZUL.facts_with(&[]) });
    let facts: HashMap<String, String> = NUZUL
        .facts_with(&[])
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let applicant = intake::Applicant {
        national_id: OWNER_ID.into(),
        full_name: NAME.into(),
        mobile: MOBILE.into(),
        preferred_language: "ar".into(),
    };
    let question = json!({ "association": "nuzul", "branch": "riyadh", "channel": "website", "name": NAME,
                           "question": "" });
    let mut rows = vec![
        // Requests, the beneficiary's side and the front desk's.
        row(
            get("/v1/requests/{id}", request("")),
            rpc!(
                "/masar.intake.v1.IntakeService/GetRequest",
                intake,
                get_request,
                intake::GetRequestRequest { request_id: case.into() }
            ),
            own_case(),
        ),
        row(
            get(
                "/v1/requests/{id}/attachments/{attachment_id}",
                request(&format!("/attachments/{}", scene.attachment)),
            ),
            rpc!(
                "/masar.intake.v1.IntakeService/GetDocumentFile",
                intake,
                get_document_file,
                intake::GetDocumentFileRequest { request_id: case.into(), attachment_id: scene.attachment.clone() }
            ),
            Rule::staff(&R::CASE_FILE_READERS, RIYADH)
                .with_beneficiaries(Beneficiaries::Own)
                .only_researcher(&scene.case_researcher, Outcome::Forbidden),
        ),
        row(
            get("/v1/requests/{id}/file", request("/file")),
            rpc!(
                "/masar.intake.v1.IntakeService/GetCaseFile",
                intake,
                get_case_file,
                intake::GetCaseFileRequest { request_id: case.into() }
            ),
            Rule::staff(&R::CASE_FILE_READERS, RIYADH)
                .with_beneficiaries(Beneficiaries::Own)
                .only_researcher(&scene.case_researcher, Outcome::Forbidden),
        ),
        row(
            get("/v1/requests/{id}/timeline", request("/timeline")),
            rpc!(
                "/masar.intake.v1.IntakeService/GetTimeline",
                intake,
                get_timeline,
                intake::GetTimelineRequest { request_id: case.into() }
            ),
            own_case(),
        ),
        row(
            Some(Http {
                method: Method::PUT,
                template: "/v1/requests/{id}/documents/{document}",
                path: request("/documents/no_such_document?file_name=id.pdf"),
                body: None,
                upload: true,
                if_match: false,
            }),
            rpc!(
                "/masar.intake.v1.IntakeService/UploadDocument",
                intake,
                upload_document,
                intake::UploadDocumentRequest {
                    request_id: case.into(),
                    document: "no_such_document".into(),
                    file_name: "id.pdf".into(),
                    content: SAMPLE_PDF.to_vec(),
                    ..Default::default()
                }
            ),
            front_desk_or_owner(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post("/v1/requests/{id}/submit", request("/submit"), json!({})),
            rpc!(
                "/masar.intake.v1.IntakeService/SubmitRequest",
                intake,
                submit_request,
                intake::SubmitRequestRequest { request_id: case.into(), ..Default::default() }
            ),
            front_desk_or_owner(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post("/v1/requests/{id}/resubmit", request("/resubmit"), json!({})),
            rpc!(
                "/masar.intake.v1.IntakeService/ResubmitRequest",
                intake,
                resubmit_request,
                intake::ResubmitRequestRequest { request_id: case.into(), ..Default::default() }
            ),
            front_desk_or_owner(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post("/v1/requests/{id}/visit-change", request("/visit-change"), json!({ "reason": "Evenings suit us" })),
            rpc!(
                "/masar.intake.v1.IntakeService/AskToMoveVisit",
                intake,
                ask_to_move_visit,
                intake::AskToMoveVisitRequest { request_id: case.into(), reason: "Evenings suit us".into() }
            ),
            Rule::staff(&[], RIYADH).with_beneficiaries(Beneficiaries::Own),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post("/v1/requests", "/v1/requests".into(), filing),
            rpc!(
                "/masar.intake.v1.IntakeService/CreateRequest",
                intake,
                create_request,
                intake::CreateRequestRequest {
                    association: "nuzul".into(),
                    branch: "riyadh".into(),
                    service_type: "no_such_service".into(),
                    channel: "website".into(),
                    applicant: Some(applicant.clone()),
                    facts,
                    ..Default::default()
                }
            ),
            Rule::staff(&R::FRONT_DESK, Scope::FilingFor("nuzul", "riyadh")).with_beneficiaries(Beneficiaries::Own),
        )
        .stops_at(400, Code::InvalidArgument),
        row(
            get("/v1/requests", "/v1/requests?page_size=100".into()),
            rpc!(
                "/masar.intake.v1.IntakeService/ListRequests",
                intake,
                list_requests,
                intake::ListRequestsRequest { page_size: 100, ..Default::default() },
                |r: intake::ListRequestsResponse| r.requests.into_iter().map(|x| x.request_id).collect()
            ),
            Rule::staff(&R::CASE_DESK, Scope::Own).with_beneficiaries(Beneficiaries::Any),
        )
        .listing(
            "requests",
            "/request_id",
            case,
            Rule::staff(&R::CASE_DESK, RIYADH).with_beneficiaries(Beneficiaries::Own),
        ),
        row(
            get("/v1/requests/{id}/messages", request("/messages")),
            rpc!(
                "/masar.notification.v1.NotificationService/ListMessages",
                notification,
                list_messages,
                notification::ListMessagesRequest { request_id: case.into() }
            ),
            Rule::staff(&R::CASE_DESK, RIYADH),
        ),
        row(
            get("/v1/associations/{code}/policy", "/v1/associations/nuzul/policy".into()),
            rpc!(
                "/masar.intake.v1.IntakeService/GetPolicy",
                intake,
                get_policy,
                intake::GetPolicyRequest { association: "nuzul".into(), on: String::new() }
            ),
            Rule::staff(ALL_STAFF, Scope::Own),
        )
        .public(200, Code::Ok),
        // Accounts, the registry and sessions.
        row(
            post(
                "/v1/accounts",
                "/v1/accounts".into(),
                json!({ "association": "nuzul", "channel": "website",
                        "applicant": { "national_id": OWNER_ID, "full_name": "", "mobile": MOBILE } }),
            ),
            rpc!(
                "/masar.identity.v1.AccountService/RegisterAccount",
                accounts,
                register_account,
                identity::RegisterAccountRequest {
                    association: "nuzul".into(),
                    applicant: Some(intake::Applicant { full_name: String::new(), ..applicant.clone() }),
                    channel: "website".into(),
                }
            ),
            Rule::staff(&R::FRONT_DESK, Scope::RegisteringWith("nuzul"))
                .with_beneficiaries(Beneficiaries::Any)
                .with_anonymous(),
        )
        .stops_at(400, Code::InvalidArgument),
        row(
            get("/v1/beneficiaries/{id}", format!("/v1/beneficiaries/{}", scene.owner_id)),
            rpc!(
                "/masar.intake.v1.BeneficiaryService/GetBeneficiary",
                beneficiaries,
                get_beneficiary,
                intake::GetBeneficiaryRequest { beneficiary_id: scene.owner_id.clone() }
            ),
            Rule::staff(&R::REGISTRY_KEEPERS, Scope::Association("nuzul")),
        ),
        row(
            get("/v1/beneficiaries/possible-duplicates", "/v1/beneficiaries/possible-duplicates?page_size=100".into()),
            rpc!(
                "/masar.intake.v1.BeneficiaryService/ListPossibleDuplicates",
                beneficiaries,
                list_possible_duplicates,
                intake::ListPossibleDuplicatesRequest { page_size: 100, ..Default::default() },
                |r: intake::ListPossibleDuplicatesResponse| r
                    .duplicates
                    .into_iter()
                    .filter_map(|d| d.beneficiary.map(|b| b.beneficiary_id))
                    .collect()
            ),
            Rule::staff(&R::REGISTRY_KEEPERS, Scope::Own),
        )
        .listing(
            "possible_duplicates",
            "/beneficiary/beneficiary_id",
            &scene.lookalike_id,
            Rule::staff(&R::REGISTRY_KEEPERS, Scope::Association("nuzul")),
        ),
        // The registry as the identity service reaches it: nobody else, whatever they carry.
        row(
            None,
            registry_call(
                &scene.intake_url,
                "/masar.intake.v1.RegistryService/FindOrRegister",
                |mut client, request| {
                    Box::pin(async move {
                        client.find_or_register(request.map(|()| intake::FindOrRegisterRequest::default())).await?;
                        Ok(Vec::new())
                    })
                },
            ),
            Rule::internal(),
        ),
        row(
            None,
            registry_call(&scene.intake_url, "/masar.intake.v1.RegistryService/FindEntry", |mut client, request| {
                Box::pin(async move {
                    let find = intake::FindEntryRequest { association: "nuzul".into(), national_id: OWNER_ID.into() };
                    client.find_entry(request.map(|()| find)).await?;
                    Ok(Vec::new())
                })
            }),
            Rule::internal(),
        ),
        row(
            None,
            registry_call(&scene.intake_url, "/masar.intake.v1.RegistryService/GetEntries", |mut client, request| {
                Box::pin(async move {
                    let entries =
                        intake::GetEntriesRequest { association: "nuzul".into(), beneficiary_ids: vec![String::new()] };
                    client.get_entries(request.map(|()| entries)).await?;
                    Ok(Vec::new())
                })
            }),
            Rule::internal(),
        ),
        // Claims to a national ID, for staff to resolve; the beneficiary's own identity check.
        row(
            get("/v1/accounts/claims", "/v1/accounts/claims?page_size=100".into()),
            rpc!(
                "/masar.identity.v1.AccountService/ListAccountClaims",
                accounts,
                list_account_claims,
                identity::ListAccountClaimsRequest { page_size: 100, ..Default::default() },
                |r: identity::ListAccountClaimsResponse| r
                    .claims
                    .into_iter()
                    .filter_map(|c| c.account.map(|a| a.account_id))
                    .collect()
            ),
            Rule::staff(&R::REGISTRY_KEEPERS, Scope::Own),
        )
        .listing(
            "claims",
            "/account/account_id",
            &scene.claim_account,
            Rule::staff(&R::REGISTRY_KEEPERS, Scope::Association("nuzul")),
        ),
        row(
            post(
                "/v1/accounts/{id}/verify",
                format!("/v1/accounts/{}/verify", scene.claim_account),
                json!({ "note": "" }),
            ),
            rpc!(
                "/masar.identity.v1.AccountService/VerifyAccountHolder",
                accounts,
                verify_account_holder,
                identity::VerifyAccountHolderRequest { account_id: scene.claim_account.clone(), note: String::new() }
            ),
            Rule::staff(&R::FRONT_DESK, Scope::Association("nuzul")),
        )
        .stops_at(400, Code::InvalidArgument),
        row(
            post(
                "/v1/accounts/{id}/close",
                format!("/v1/accounts/{}/close", scene.claim_account),
                json!({ "reason": "" }),
            ),
            rpc!(
                "/masar.identity.v1.AccountService/CloseAccountClaim",
                accounts,
                close_account_claim,
                identity::CloseAccountClaimRequest { account_id: scene.claim_account.clone(), reason: String::new() }
            ),
            Rule::staff(&R::FRONT_DESK, Scope::Association("nuzul")),
        )
        .stops_at(400, Code::InvalidArgument),
        // A claim starts a check; a verified account is told it is verified already.
        row(
            post("/v1/me/identity-checks", "/v1/me/identity-checks".into(), json!({})),
            rpc!(
                "/masar.identity.v1.AccountService/StartIdentityCheck",
                accounts,
                start_identity_check,
                identity::StartIdentityCheckRequest {}
            ),
            Rule::staff(&[], Scope::Own).with_beneficiaries(Beneficiaries::Any),
        )
        .stops_at(201, Code::Ok)
        .or_stops_at(409, Code::FailedPrecondition),
        row(
            get("/v1/me/identity-checks/{id}", format!("/v1/me/identity-checks/{}", scene.identity_check)),
            rpc!(
                "/masar.identity.v1.AccountService/GetIdentityCheck",
                accounts,
                get_identity_check,
                identity::GetIdentityCheckRequest { check_id: scene.identity_check.clone() }
            ),
            Rule::staff(&[], Scope::Own).with_beneficiaries(Beneficiaries::Own),
        ),
        row(
            post(
                "/v1/sessions",
                "/v1/sessions".into(),
                json!({ "association": "nuzul", "username": "nuzul.admin", "password": masar::DEMO_STAFF_PASSWORD }),
            ),
            rpc!(
                "/masar.identity.v1.SessionService/SignIn",
                sessions,
                sign_in,
                identity::SignInRequest {
                    association: "nuzul".into(),
                    username: "nuzul.admin".into(),
                    password: masar::DEMO_STAFF_PASSWORD.into(),
                }
            ),
            Rule::staff(ALL_STAFF, Scope::Own),
        )
        .public(200, Code::Ok),
        row(
            post("/v1/sessions/refresh", "/v1/sessions/refresh".into(), json!({ "refresh_token": "not-a-token" })),
            rpc!(
                "/masar.identity.v1.SessionService/Refresh",
                sessions,
                refresh,
                identity::RefreshRequest { refresh_token: "not-a-token".into() }
            ),
            Rule::staff(ALL_STAFF, Scope::Own),
        )
        .public(401, Code::Unauthenticated),
        row(
            post("/v1/sessions/sign-out", "/v1/sessions/sign-out".into(), json!({ "refresh_token": "not-a-token" })),
            rpc!(
                "/masar.identity.v1.SessionService/SignOut",
                sessions,
                sign_out,
                identity::SignOutRequest { refresh_token: "not-a-token".into() }
            ),
            Rule::staff(ALL_STAFF, Scope::Own),
        )
        .public(204, Code::Ok),
        row(
            post(
                "/v1/accounts/password",
                "/v1/accounts/password".into(),
                json!({ "association": "nuzul", "username": "nuzul.admin",
                        "current_password": masar::DEMO_STAFF_PASSWORD, "new_password": "short" }),
            ),
            rpc!(
                "/masar.identity.v1.SessionService/ChangePassword",
                sessions,
                change_password,
                identity::ChangePasswordRequest {
                    association: "nuzul".into(),
                    username: "nuzul.admin".into(),
                    current_password: masar::DEMO_STAFF_PASSWORD.into(),
                    new_password: "short".into(),
                }
            ),
            Rule::staff(ALL_STAFF, Scope::Own),
        )
        .public(400, Code::InvalidArgument),
        // Inquiries.
        row(
            post("/v1/inquiries", "/v1/inquiries".into(), question),
            rpc!(
                "/masar.intake.v1.InquiryService/AskQuestion",
                inquiries,
                ask_question,
                intake::AskQuestionRequest {
                    association: "nuzul".into(),
                    branch: "riyadh".into(),
                    channel: "website".into(),
                    name: NAME.into(),
                    ..Default::default()
                }
            ),
            Rule::staff(&R::FRONT_DESK, Scope::FilingFor("nuzul", "riyadh"))
                .with_beneficiaries(Beneficiaries::Any)
                .with_anonymous(),
        )
        .stops_at(400, Code::InvalidArgument),
        row(
            get("/v1/inquiries", "/v1/inquiries?page_size=100".into()),
            rpc!(
                "/masar.intake.v1.InquiryService/ListInquiries",
                inquiries,
                list_inquiries,
                intake::ListInquiriesRequest { page_size: 100, ..Default::default() },
                |r: intake::ListInquiriesResponse| r.inquiries.into_iter().map(|i| i.inquiry_id).collect()
            ),
            Rule::staff(INQUIRY_DESK, Scope::Own).with_beneficiaries(Beneficiaries::Any),
        )
        .listing(
            "inquiries",
            "/inquiry_id",
            &scene.inquiry,
            Rule::staff(&R::FRONT_DESK, RIYADH).with_beneficiaries(Beneficiaries::Own),
        ),
        row(
            get("/v1/inquiries/{id}", format!("/v1/inquiries/{}", scene.inquiry)),
            rpc!(
                "/masar.intake.v1.InquiryService/GetInquiry",
                inquiries,
                get_inquiry,
                intake::GetInquiryRequest { inquiry_id: scene.inquiry.clone() }
            ),
            own_case(),
        ),
        row(
            stale(post("/v1/inquiries/{id}/refer", format!("/v1/inquiries/{}/refer", scene.inquiry), json!({}))),
            rpc!(
                "/masar.intake.v1.InquiryService/ReferInquiry",
                inquiries,
                refer_inquiry,
                intake::ReferInquiryRequest {
                    inquiry_id: scene.inquiry.clone(),
                    expected_version: STALE,
                    ..Default::default()
                }
            ),
            Rule::staff(&R::FRONT_DESK, RIYADH),
        )
        .stops_at(412, Code::Aborted),
        row(
            stale(post(
                "/v1/inquiries/{id}/answer",
                format!("/v1/inquiries/{}/answer", scene.inquiry),
                json!({ "answer": "" }),
            )),
            rpc!(
                "/masar.intake.v1.InquiryService/AnswerInquiry",
                inquiries,
                answer_inquiry,
                intake::AnswerInquiryRequest {
                    inquiry_id: scene.inquiry.clone(),
                    expected_version: STALE,
                    ..Default::default()
                }
            ),
            Rule::staff(INQUIRY_DESK, RIYADH),
        )
        .stops_at(412, Code::Aborted),
        // Verification, the project manager's.
        row(
            get("/v1/verification/pending", "/v1/verification/pending?page_size=100".into()),
            rpc!(
                "/masar.verification.v1.VerificationService/ListPending",
                verification,
                list_pending,
                verification::ListPendingRequest { page_size: 100, ..Default::default() },
                |r: verification::ListPendingResponse| r.requests.into_iter().map(|x| x.request_id).collect()
            ),
            Rule::staff(&R::SUPERVISORS, Scope::Own),
        )
        .listing("requests", "/request_id", &scene.pending, supervisors()),
        row(
            post(
                "/v1/requests/{id}/verification/documents/{document}",
                request("/verification/documents/national_id"),
                json!({ "review": "maybe" }),
            ),
            rpc!(
                "/masar.verification.v1.VerificationService/ReviewDocument",
                verification,
                review_document,
                verification::ReviewDocumentRequest {
                    request_id: case.into(),
                    document: "national_id".into(),
                    review: "maybe".into(),
                    ..Default::default()
                }
            ),
            project_manager(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post("/v1/requests/{id}/verification/accept", request("/verification/accept"), json!({})),
            rpc!(
                "/masar.verification.v1.VerificationService/AcceptRequest",
                verification,
                accept_request,
                verification::AcceptRequestRequest { request_id: case.into(), ..Default::default() }
            ),
            project_manager(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post("/v1/requests/{id}/verification/return", request("/verification/return"), json!({})),
            rpc!(
                "/masar.verification.v1.VerificationService/ReturnForCompletion",
                verification,
                return_for_completion,
                verification::ReturnForCompletionRequest { request_id: case.into(), ..Default::default() }
            ),
            project_manager(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post("/v1/requests/{id}/verification/ineligible", request("/verification/ineligible"), json!({})),
            rpc!(
                "/masar.verification.v1.VerificationService/DeclareIneligible",
                verification,
                declare_ineligible,
                verification::DeclareIneligibleRequest { request_id: case.into(), ..Default::default() }
            ),
            project_manager(),
        )
        .stops_at(409, Code::FailedPrecondition),
        // Research, the researchers'.
        row(
            get("/v1/research/assignments", "/v1/research/assignments?page_size=100".into()),
            rpc!(
                "/masar.research.v1.ResearchService/ListAssignments",
                research,
                list_assignments,
                research::ListAssignmentsRequest { page_size: 100, ..Default::default() },
                |r: research::ListAssignmentsResponse| r.assignments.into_iter().map(|a| a.request_id).collect()
            ),
            Rule::staff(RESEARCH_DESK, Scope::Own),
        )
        .listing(
            "assignments",
            "/request_id",
            &scene.assigned,
            Rule::staff(RESEARCH_DESK, RIYADH).only_researcher(&scene.assigned_researcher, Outcome::Hidden),
        ),
        row(
            post(
                "/v1/requests/{id}/research/reassign",
                format!("/v1/requests/{}/research/reassign", scene.assigned),
                json!({ "researcher": "nobody", "reason": "" }),
            ),
            rpc!(
                "/masar.research.v1.ResearchService/ReassignResearcher",
                research,
                reassign_researcher,
                research::ReassignResearcherRequest {
                    request_id: scene.assigned.clone(),
                    researcher: "nobody".into(),
                    ..Default::default()
                }
            ),
            Rule::staff(&[R::BranchManager, R::AssociationAdmin], RIYADH),
        )
        .stops_at(400, Code::InvalidArgument),
        row(
            get("/v1/research/unassigned", "/v1/research/unassigned?page_size=100".into()),
            rpc!(
                "/masar.research.v1.ResearchService/ListUnassigned",
                research,
                list_unassigned,
                research::ListUnassignedRequest { page_size: 100, ..Default::default() }
            ),
            Rule::staff(&R::SUPERVISORS, Scope::Own),
        ),
        row(
            None,
            rpc!(
                "/masar.research.v1.ResearchService/GetAssignment",
                research,
                get_assignment,
                research::GetAssignmentRequest { request_id: case.into() }
            ),
            Rule::staff(RESEARCH_DESK, RIYADH).only_researcher(&scene.case_researcher, Outcome::Hidden),
        ),
        row(
            post("/v1/requests/{id}/research/visits", request("/research/visits"), json!({ "findings": "" })),
            rpc!(
                "/masar.research.v1.ResearchService/RecordFieldVisit",
                research,
                record_field_visit,
                research::RecordFieldVisitRequest {
                    request_id: case.into(),
                    findings: String::new(),
                    ..Default::default()
                }
            ),
            researcher(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post(
                "/v1/requests/{id}/research/appointments",
                request("/research/appointments"),
                json!({ "on": "", "at": "", "place": "" }),
            ),
            rpc!(
                "/masar.research.v1.ResearchService/ScheduleVisit",
                research,
                schedule_visit,
                research::ScheduleVisitRequest { request_id: case.into(), ..Default::default() }
            ),
            researcher(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            get("/v1/requests/{id}/research/file", request("/research/file")),
            rpc!(
                "/masar.research.v1.ResearchService/GetResearchFile",
                research,
                get_research_file,
                research::GetResearchFileRequest { request_id: case.into() }
            ),
            Rule::staff(RESEARCH_DESK, RIYADH).only_researcher(&scene.case_researcher, Outcome::Hidden),
        ),
        row(
            http(
                Method::PUT,
                "/v1/requests/{id}/research/scores",
                request("/research/scores"),
                Some(json!({ "scores": [{ "criterion": "structural_safety", "score": 4 }] })),
            ),
            rpc!(
                "/masar.research.v1.ResearchService/ScoreCriteria",
                research,
                score_criteria,
                research::ScoreCriteriaRequest {
                    request_id: case.into(),
                    scores: vec![research::CriterionScoreInput {
                        criterion: "structural_safety".into(),
                        score: 4,
                        ..Default::default()
                    }],
                    ..Default::default()
                }
            ),
            researcher(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post(
                "/v1/requests/{id}/research/recommendation",
                request("/research/recommendation"),
                json!({ "recommendation": "maybe", "justification": "" }),
            ),
            rpc!(
                "/masar.research.v1.ResearchService/RecordRecommendation",
                research,
                record_recommendation,
                research::RecordRecommendationRequest {
                    request_id: case.into(),
                    recommendation: "maybe".into(),
                    justification: String::new(),
                    ..Default::default()
                }
            ),
            researcher(),
        )
        .stops_at(409, Code::FailedPrecondition),
        // The researchers' roster: the branch manager's branch, the admin's association.
        row(
            get("/v1/research/roster", "/v1/research/roster".into()),
            rpc!(
                "/masar.research.v1.ResearchService/ListRoster",
                research,
                list_roster,
                research::ListRosterRequest::default()
            ),
            Rule::staff(&[R::BranchManager, R::AssociationAdmin], Scope::Own),
        ),
        row(
            stale(http(
                Method::PUT,
                "/v1/research/roster/{username}",
                "/v1/research/roster/nuzul.researcher1".into(),
                Some(json!({ "active": true })),
            )),
            rpc!(
                "/masar.research.v1.ResearchService/SetRosterEntry",
                research,
                set_roster_entry,
                research::SetRosterEntryRequest {
                    username: "nuzul.researcher1".into(),
                    expected_version: STALE,
                    ..Default::default()
                }
            ),
            Rule::staff(&[R::BranchManager, R::AssociationAdmin], RIYADH),
        )
        .stops_at(412, Code::Aborted),
        row(
            post(
                "/v1/research/roster/{username}/leaves",
                "/v1/research/roster/nuzul.researcher1/leaves".into(),
                json!({ "from": "" }),
            ),
            rpc!(
                "/masar.research.v1.ResearchService/AddLeave",
                research,
                add_leave,
                research::AddLeaveRequest { username: "nuzul.researcher1".into(), ..Default::default() }
            ),
            Rule::staff(&[R::BranchManager, R::AssociationAdmin], RIYADH),
        )
        .stops_at(400, Code::InvalidArgument),
        row(
            http(
                Method::DELETE,
                "/v1/research/roster/{username}/leaves/{leave_id}",
                format!("/v1/research/roster/nuzul.researcher1/leaves/{}", uuid::Uuid::nil()),
                None,
            ),
            rpc!(
                "/masar.research.v1.ResearchService/CancelLeave",
                research,
                cancel_leave,
                research::CancelLeaveRequest {
                    username: "nuzul.researcher1".into(),
                    leave_id: uuid::Uuid::nil().to_string(),
                    expected_version: 0,
                }
            ),
            Rule::staff(&[R::BranchManager, R::AssociationAdmin], RIYADH),
        )
        .stops_at(400, Code::InvalidArgument),
        // The committee's.
        row(
            post("/v1/requests/{id}/committee/recusal", request("/committee/recusal"), json!({ "reason": "" })),
            rpc!(
                "/masar.committee.v1.CommitteeService/DeclareConflict",
                committee,
                declare_conflict,
                committee::DeclareConflictRequest { request_id: case.into(), ..Default::default() }
            ),
            committee(),
        )
        .stops_at(400, Code::InvalidArgument),
        row(
            get("/v1/requests/{id}/committee/decisions", request("/committee/decisions")),
            rpc!(
                "/masar.committee.v1.CommitteeService/GetDecisions",
                committee,
                get_decisions,
                committee::GetDecisionsRequest { request_id: case.into() }
            ),
            Rule::staff(AGENDA_READERS, RIYADH),
        ),
        row(
            get("/v1/committee/agenda", "/v1/committee/agenda?branch=riyadh".into()),
            rpc!(
                "/masar.committee.v1.CommitteeService/GetAgenda",
                committee,
                get_agenda,
                committee::GetAgendaRequest { branch: "riyadh".into(), ..Default::default() },
                |r: committee::Agenda| r.items.into_iter().map(|i| i.request_id).collect()
            ),
            Rule::staff(AGENDA_READERS, Scope::Own),
        )
        .listing("items", "/request_id", case, Rule::staff(AGENDA_READERS, RIYADH)),
        row(
            stale(post("/v1/requests/{id}/committee/votes", request("/committee/votes"), json!({ "vote": "maybe" }))),
            rpc!(
                "/masar.committee.v1.CommitteeService/CastVote",
                committee,
                cast_vote,
                committee::CastVoteRequest {
                    request_id: case.into(),
                    vote: "maybe".into(),
                    expected_version: STALE,
                    ..Default::default()
                }
            ),
            committee(),
        )
        .stops_at(412, Code::Aborted),
        row(
            stale(post(
                "/v1/requests/{id}/committee/decision",
                request("/committee/decision"),
                json!({ "decision": "maybe" }),
            )),
            rpc!(
                "/masar.committee.v1.CommitteeService/RecordDecision",
                committee,
                record_decision,
                committee::RecordDecisionRequest {
                    request_id: case.into(),
                    decision: "maybe".into(),
                    expected_version: STALE,
                    ..Default::default()
                }
            ),
            committee(),
        )
        .stops_at(412, Code::Aborted),
        // The committee's meetings and their minutes.
        row(
            post("/v1/committee/meetings", "/v1/committee/meetings".into(), json!({ "on": "" })),
            rpc!(
                "/masar.committee.v1.CommitteeService/ScheduleMeeting",
                committee,
                schedule_meeting,
                committee::ScheduleMeetingRequest::default()
            ),
            // Hayat's committee meets association-wide: its admin schedules, not its branch manager.
            Rule::staff(&[R::BranchManager, R::AssociationAdmin], Scope::Own)
                .except("hayat.branch", Outcome::Forbidden),
        )
        .stops_at(400, Code::InvalidArgument),
        row(
            get("/v1/committee/meetings", "/v1/committee/meetings".into()),
            rpc!(
                "/masar.committee.v1.CommitteeService/ListMeetings",
                committee,
                list_meetings,
                committee::ListMeetingsRequest::default(),
                |r: committee::Meetings| r.meetings.into_iter().map(|m| m.meeting_id).collect()
            ),
            Rule::staff(AGENDA_READERS, Scope::Own),
        )
        .listing("meetings", "/meeting_id", &scene.meeting, Rule::staff(AGENDA_READERS, RIYADH)),
        row(
            get("/v1/committee/meetings/{id}", meeting("")),
            rpc!(
                "/masar.committee.v1.CommitteeService/GetMeeting",
                committee,
                get_meeting,
                committee::GetMeetingRequest { meeting_id: scene.meeting.clone() }
            ),
            Rule::staff(AGENDA_READERS, RIYADH),
        ),
        row(
            stale(http(
                Method::PUT,
                "/v1/committee/meetings/{id}/attendance",
                meeting("/attendance"),
                Some(json!({ "present": [] })),
            )),
            rpc!(
                "/masar.committee.v1.CommitteeService/RecordAttendance",
                committee,
                record_attendance,
                committee::RecordAttendanceRequest {
                    meeting_id: scene.meeting.clone(),
                    expected_version: STALE,
                    ..Default::default()
                }
            ),
            chair(),
        )
        .stops_at(412, Code::Aborted),
        row(
            stale(post("/v1/committee/meetings/{id}/closing", meeting("/closing"), json!({}))),
            rpc!(
                "/masar.committee.v1.CommitteeService/CloseMeeting",
                committee,
                close_meeting,
                committee::CloseMeetingRequest { meeting_id: scene.meeting.clone(), expected_version: STALE }
            ),
            chair(),
        )
        .stops_at(412, Code::Aborted),
        row(
            stale(post("/v1/committee/meetings/{id}/cancellation", meeting("/cancellation"), json!({ "reason": "x" }))),
            rpc!(
                "/masar.committee.v1.CommitteeService/CancelMeeting",
                committee,
                cancel_meeting,
                committee::CancelMeetingRequest {
                    meeting_id: scene.meeting.clone(),
                    reason: "x".into(),
                    expected_version: STALE,
                }
            ),
            Rule::staff(&[R::BranchManager, R::AssociationAdmin], RIYADH),
        )
        .stops_at(412, Code::Aborted),
        row(
            get("/v1/committee/meetings/{id}/minutes", closed("/minutes")),
            rpc!(
                "/masar.committee.v1.CommitteeService/GetMinutes",
                committee,
                get_minutes,
                committee::GetMinutesRequest { meeting_id: scene.closed_meeting.clone() }
            ),
            Rule::staff(AGENDA_READERS, RIYADH),
        ),
        row(
            get("/v1/committee/meetings/{id}/minutes/print", closed("/minutes/print")),
            rpc!(
                "/masar.committee.v1.CommitteeService/GetMinutes",
                committee,
                get_minutes,
                committee::GetMinutesRequest { meeting_id: scene.closed_meeting.clone() }
            ),
            Rule::staff(AGENDA_READERS, RIYADH),
        ),
        row(
            http(
                Method::PUT,
                "/v1/committee/meetings/{id}/minutes",
                closed("/minutes"),
                Some(json!({ "remarks": "", "sha256": "stale" })),
            ),
            rpc!(
                "/masar.committee.v1.CommitteeService/AmendMinutes",
                committee,
                amend_minutes,
                committee::AmendMinutesRequest {
                    meeting_id: scene.closed_meeting.clone(),
                    expected_sha256: "stale".into(),
                    ..Default::default()
                }
            ),
            Rule::staff(&[R::CommitteeMember], RIYADH).only(R::CommitteeMember, NUZUL.committee[0], Outcome::Forbidden),
        )
        .stops_at(400, Code::InvalidArgument),
        row(
            post(
                "/v1/committee/meetings/{id}/minutes/confirmation",
                closed("/minutes/confirmation"),
                json!({ "sha256": "stale" }),
            ),
            rpc!(
                "/masar.committee.v1.CommitteeService/ConfirmMinutes",
                committee,
                confirm_minutes,
                committee::ConfirmMinutesRequest { meeting_id: scene.closed_meeting.clone(), sha256: "stale".into() }
            ),
            // Only the members present confirm: here the chair alone.
            Rule::staff(&[R::CommitteeMember], RIYADH).only(R::CommitteeMember, NUZUL.committee[0], Outcome::Forbidden),
        )
        .stops_at(400, Code::InvalidArgument),
        // Supervision: each supervisor's overdue list, everyone's own alerts.
        row(
            get("/v1/supervision/overdue", "/v1/supervision/overdue".into()),
            rpc!(
                "/masar.intake.v1.SupervisionService/ListOverdue",
                supervision,
                list_overdue,
                intake::ListOverdueRequest::default()
            ),
            Rule::staff(&R::SUPERVISORS, Scope::Own),
        ),
        row(
            get("/v1/supervision/alerts", "/v1/supervision/alerts".into()),
            rpc!(
                "/masar.intake.v1.SupervisionService/ListAlerts",
                supervision,
                list_alerts,
                intake::ListAlertsRequest::default()
            ),
            Rule::staff(ALL_STAFF, Scope::Own),
        ),
        // After the decision: delivery, rating, the figures.
        row(
            post("/v1/requests/{id}/delivery", request("/delivery"), json!({ "note": "x".repeat(5000) })),
            rpc!(
                "/masar.intake.v1.SatisfactionService/RecordDelivery",
                satisfaction,
                record_delivery,
                intake::RecordDeliveryRequest { request_id: case.into(), note: "x".repeat(5000) }
            ),
            supervisors(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            get("/v1/requests/{id}/delivery", request("/delivery")),
            rpc!(
                "/masar.intake.v1.SatisfactionService/GetDeliveryPlan",
                satisfaction,
                get_delivery_plan,
                intake::GetDeliveryPlanRequest { request_id: case.into() }
            ),
            Rule::staff(&R::SUPERVISORS, RIYADH).with_beneficiaries(Beneficiaries::Own),
        ),
        row(
            post("/v1/requests/{id}/delivery/steps", request("/delivery/steps"), json!({ "step": "handover" })),
            rpc!(
                "/masar.intake.v1.SatisfactionService/RecordDeliveryStep",
                satisfaction,
                record_delivery_step,
                intake::RecordDeliveryStepRequest {
                    request_id: case.into(),
                    step: "handover".into(),
                    ..Default::default()
                }
            ),
            supervisors(),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post(
                "/v1/requests/{id}/delivery/confirmation",
                request("/delivery/confirmation"),
                json!({ "step": "handover" }),
            ),
            rpc!(
                "/masar.intake.v1.SatisfactionService/ConfirmDeliveryStep",
                satisfaction,
                confirm_delivery_step,
                intake::ConfirmDeliveryStepRequest {
                    request_id: case.into(),
                    step: "handover".into(),
                    ..Default::default()
                }
            ),
            // The beneficiary, or a supervisor recording their confirmation on paper.
            Rule::staff(&R::SUPERVISORS, RIYADH).with_beneficiaries(Beneficiaries::Own),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            post("/v1/requests/{id}/rating", request("/rating"), json!({ "score": 9 })),
            rpc!(
                "/masar.intake.v1.SatisfactionService/RateService",
                satisfaction,
                rate_service,
                intake::RateServiceRequest { request_id: case.into(), score: 9, comment: String::new() }
            ),
            Rule::staff(&[], RIYADH).with_beneficiaries(Beneficiaries::Own),
        )
        .stops_at(409, Code::FailedPrecondition),
        row(
            get("/v1/satisfaction", "/v1/satisfaction".into()),
            rpc!(
                "/masar.intake.v1.SatisfactionService/GetSatisfaction",
                satisfaction,
                get_satisfaction,
                intake::GetSatisfactionRequest::default()
            ),
            Rule::staff(&R::SUPERVISORS, Scope::Own),
        ),
    ];
    // A case's audit trail: the gateway merges every service's share; each
    // service answers for its own at its port, and nothing outside the caller's scope.
    // (Trails in `Services` order: intake, identity, verification, research, committee,
    // notification; identity's holds no case's rows.)
    let trail = || audit::CaseTrailRequest { request_id: case.to_owned() };
    let entries = |r: audit::CaseTrailResponse| r.entries.into_iter().map(|e| e.action).collect();
    for (index, port) in [
        rpc!("/masar.audit.v1.AuditTrail/CaseTrail", trails.0, case_trail, trail(), entries),
        rpc!("/masar.audit.v1.AuditTrail/CaseTrail", trails.2, case_trail, trail(), entries),
        rpc!("/masar.audit.v1.AuditTrail/CaseTrail", trails.3, case_trail, trail(), entries),
        rpc!("/masar.audit.v1.AuditTrail/CaseTrail", trails.4, case_trail, trail(), entries),
    ]
    .into_iter()
    .enumerate()
    {
        let through_gateway = (index == 0).then(|| get("/v1/requests/{id}/audit", request("/audit"))).flatten();
        rows.push(Row { empty_is_hidden: true, ..row(through_gateway, port, supervisors()) });
    }
    rows
}

/// What a gateway answer means for authorization, read through the
/// gateway's own status table; a server error is a failure of its own.
fn http_outcome(status: u16) -> Result<Outcome, String> {
    let refusal = [Code::Unauthenticated, Code::PermissionDenied, Code::NotFound]
        .into_iter()
        .find(|code| masar_gateway::http_status(*code).0.as_u16() == status);
    match refusal {
        Some(code) => grpc_outcome(code),
        None if status >= 500 => Err(format!("server error {status}")),
        None => Ok(Outcome::Allowed),
    }
}

fn grpc_outcome(code: Code) -> Result<Outcome, String> {
    match code {
        Code::Unauthenticated => Ok(Outcome::SignInRequired),
        Code::PermissionDenied => Ok(Outcome::Forbidden),
        Code::NotFound => Ok(Outcome::Hidden),
        Code::Internal | Code::Unknown | Code::Unavailable | Code::DataLoss => Err(format!("server error {code:?}")),
        _ => Ok(Outcome::Allowed),
    }
}

/// One call through the gateway: its status and the ids a list shows.
async fn at_gateway(
    client: &reqwest::Client,
    base: &str,
    row: &Row,
    http: &Http,
    token: Option<&str>,
) -> (u16, Vec<String>) {
    let mut call = client.request(http.method.clone(), format!("{base}{}", http.path));
    if let Some(token) = token {
        call = call.bearer_auth(token);
    }
    if http.if_match {
        call = call.header("if-match", format!("\"{STALE}\""));
    }
    if http.upload {
        call = call.header("content-type", "application/octet-stream").body(SAMPLE_PDF.to_vec());
    } else if let Some(body) = &http.body {
        call = call.json(body);
    }
    let response = call.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let shown = row
        .listing
        .as_ref()
        .and_then(|listing| body[listing.rows].as_array().map(|rows| (listing, rows)))
        .map(|(listing, rows)| rows.iter().filter_map(|r| r.pointer(listing.id)?.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    (status, shown)
}

/// Checks one caller against one row, through the gateway and at the port; returns what disagreed.
async fn probe(
    gateway: &(reqwest::Client, String),
    services: &Services,
    scene: &Scene,
    row: &Row,
    who: &Who,
) -> Vec<String> {
    let token = scene.tokens.get(&who.label()).cloned();
    let expected = row.rule.expected(who);
    let (stop_status, stop_code) = row.stops_at;
    let stops_here = |status: u16| status == stop_status || row.or_stops_at.is_some_and(|(s, _)| s == status);
    let stops_at_port = |code: Code| code == stop_code || row.or_stops_at.is_some_and(|(_, c)| c == code);
    // (transport, what it means, whether it is exactly where an allowed call stops, the answer, the ids listed)
    let mut answers = Vec::new();
    if let Some(http) = &row.http {
        let (status, shown) = at_gateway(&gateway.0, &gateway.1, row, http, token.as_deref()).await;
        answers.push(("gateway", http_outcome(status), stops_here(status), status.to_string(), shown));
    }
    answers.push(match (row.grpc)(services.clone(), token).await {
        Ok(shown) if row.empty_is_hidden && shown.is_empty() => {
            ("port", Ok(Outcome::Hidden), false, "Ok, empty".to_owned(), shown)
        }
        Ok(shown) => ("port", Ok(Outcome::Allowed), stops_at_port(Code::Ok), "Ok".to_owned(), shown),
        Err(status) => {
            let code = status.code();
            ("port", grpc_outcome(code), stops_at_port(code), format!("{code:?}"), Vec::new())
        }
    });
    let mut problems = Vec::new();
    for (transport, outcome, exact, answer, shown) in answers {
        let label = format!("{} {transport} as {}", row.method, who.label());
        let stop = if transport == "gateway" { stop_status.to_string() } else { format!("{stop_code:?}") };
        if row.public {
            // A token is checked wherever one is sent: an ended session's is refused even where none is needed.
            let refused = *who == Who::SignedOut && matches!(outcome, Ok(Outcome::SignInRequired));
            if !exact && !refused {
                problems.push(format!("{label}: {answer}, but everyone gets {stop}"));
            }
            continue;
        }
        match outcome {
            Err(error) => problems.push(format!("{label}: {error}")),
            Ok(outcome) if outcome != expected => problems.push(format!("{label}: {outcome:?}, expected {expected:?}")),
            Ok(Outcome::Allowed) if !exact => {
                problems.push(format!("{label}: {answer}, but an allowed call stops at {stop}"))
            }
            Ok(Outcome::Allowed) => {
                let must_see = row.listing.as_ref().map(|l| (l, l.seen_by.expected(who) == Outcome::Allowed));
                if let Some((listing, must_see)) = must_see
                    && shown.contains(&listing.target) != must_see
                {
                    let verb = if must_see { "hides" } else { "shows" };
                    problems.push(format!("{label}: the list {verb} {}", listing.target));
                }
            }
            Ok(_) => {}
        }
    }
    problems
}

/// Every `/package.Service/Method` the suite serves, from the compiled protos.
fn served_methods() -> BTreeSet<String> {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet::decode(masar_proto::FILE_DESCRIPTOR_SET).unwrap();
    set.file
        .iter()
        .flat_map(|file| {
            file.service.iter().flat_map(move |service| {
                service
                    .method
                    .iter()
                    .map(move |method| format!("/{}.{}/{}", file.package(), service.name(), method.name()))
            })
        })
        .collect()
}

async fn drive_matrix(suite: &Suite, read_sms: &dyn Fn() -> Vec<String>) {
    let base = suite.gateway_url();
    let scene = scene(suite, read_sms).await;
    let rows = rows(&scene);

    // The matrix leaves out no operation of the API and no method of any service.
    let document: Value = reqwest::get(format!("{base}/openapi.json")).await.unwrap().json().await.unwrap();
    let documented: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |method| format!("{method} {path}")))
        .collect();
    let probed: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r.http.as_ref().map(|h| format!("{} {}", h.method.as_str().to_lowercase(), h.template)))
        .collect();
    assert_eq!(documented, probed, "every documented operation is probed");
    // The document says which operations an anonymous caller may use, as the services decide them.
    let documented_open: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().iter().filter_map(move |(method, operation)| {
                let requirements = operation["security"].as_array()?;
                requirements
                    .iter()
                    .any(|r| r.as_object().is_some_and(|r| r.is_empty()))
                    .then(|| format!("{method} {path}"))
            })
        })
        .collect();
    let open: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.public || r.rule.anonymous)
        .filter_map(|r| r.http.as_ref().map(|h| format!("{} {}", h.method.as_str().to_lowercase(), h.template)))
        .collect();
    assert_eq!(documented_open, open, "the operations documented as open to anonymous callers");
    let served = served_methods();
    let called: BTreeSet<String> = rows.iter().map(|r| r.method.to_owned()).collect();
    assert_eq!(served, called, "every gRPC method is probed");

    let services = Services::connect(&masar_platform::replicas::Endpoints::of(|role| suite.url(role))).unwrap();
    // A revocation reaches every service within about a second (each reads its table every second).
    let signed_out = scene.tokens.get(&Who::SignedOut.label()).cloned();
    for row in rows.iter().filter(|r| !r.public && !r.rule.internal) {
        crate::support::wait_until(&format!("{} to refuse an ended session", row.method), || async {
            matches!((row.grpc)(services.clone(), signed_out.clone()).await, Err(s) if s.code() == Code::Unauthenticated)
        })
        .await;
    }
    let callers = callers();
    let gateway = (reqwest::Client::new(), base.clone());
    let mut problems = Vec::new();
    let mut probes = 0;
    for row in &rows {
        let all = callers.iter().map(|who| probe(&gateway, &services, &scene, row, who));
        for found in futures::future::join_all(all).await {
            problems.extend(found);
        }
        probes += callers.len() * (1 + usize::from(row.http.is_some()));
    }
    assert!(problems.is_empty(), "{} of {probes} probes disagree:\n{}", problems.len(), problems.join("\n"));
    assert!(probes > 1500, "{probes}");
    // The scene is as it was: no probe got through.
    let admin = GatewayClient::new(&base).as_staff("nuzul.admin").await.unwrap();
    let timeline = admin.get(&format!("/v1/requests/{}/timeline", scene.case), None).await.unwrap();
    assert_eq!(timeline["status"], "on_committee_agenda");
    let requests = admin.get("/v1/requests", None).await.unwrap();
    assert_eq!(requests["requests"].as_array().unwrap().len(), 3, "nothing filed: {requests}");
    let inquiries = admin.get("/v1/inquiries", None).await.unwrap();
    assert_eq!(inquiries["inquiries"].as_array().unwrap().len(), 1, "nothing asked: {inquiries}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_against_every_role_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    drive_matrix(&suite, &|| logged_sms(&data_dir)).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_against_every_role_distributed() {
    let distributed = distributed_suite().await;
    let sms = distributed.sms.clone();
    drive_matrix(&distributed.suite, &move || sms.texts()).await;
    distributed.stop().await;
}

/// Intake's registry answers identity's voucher under the registry key alone:
/// the forwarding key, which every pod holds, does not pass for identity, nor
/// does the registry key vouching for another role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_identity_reaches_the_registry() {
    use masar_platform::forwarding::{ForwardingKey, VouchAs};
    use masar_platform::role::Role;
    let distributed = distributed_suite().await;
    let settings = &distributed.settings;
    let channel = tonic::transport::Channel::from_shared(distributed.suite.url(Role::Intake)).unwrap().connect_lazy();
    let mut registry = RegistryClient::new(channel);
    let find = || intake::FindEntryRequest { association: "nuzul".into(), national_id: OWNER_ID.into() };
    let vouch = |key: &secrecy::SecretString, role| VouchAs { key: ForwardingKey::from_hex(key).unwrap(), role };
    let forwarding = vouch(settings.forwarding_key.as_ref().unwrap(), Role::Identity);
    let refused = registry.find_entry(forwarding.request(find())).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let registry_key = settings.registry_key.as_ref().unwrap();
    let research = vouch(registry_key, Role::Research);
    assert_eq!(registry.find_entry(research.request(find())).await.unwrap_err().code(), Code::PermissionDenied);
    let identity = vouch(registry_key, Role::Identity);
    assert_eq!(registry.find_entry(identity.request(find())).await.unwrap().into_inner().entry, None, "not on file");
    distributed.stop().await;
}
