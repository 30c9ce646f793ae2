//! `masar demo`: drives sample cases of both associations through the whole
//! journey over the gateway's REST API, as front ends and staff would, and
//! prints their timelines. The same client drives the end-to-end tests.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A thin REST client of the gateway. Calls naming a staff member go with
/// that member's access token (signed in with the demo password on first
/// use); the others go as the client's own caller, if it has one.
#[derive(Clone)]
pub struct GatewayClient {
    base: String,
    http: reqwest::Client,
    traceparent: Option<String>,
    /// The access token calls naming no staff member carry.
    own_token: Option<String>,
    /// Its session's refresh token, where this client signed in itself.
    own_refresh: Option<String>,
    staff_tokens: Arc<Mutex<HashMap<String, String>>>,
}

enum Payload {
    Json(Value),
    File(Vec<u8>),
}

/// A small, valid PDF (one blank page): what a scanned document looks like to the content check.
pub const SAMPLE_PDF: &[u8] = include_bytes!("sample-document.pdf");

/// A demo staff member's username, e.g. `nuzul.pm` (association, dot, post).
pub type StaffName<'a> = &'a str;

impl GatewayClient {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            traceparent: None,
            own_token: None,
            own_refresh: None,
            staff_tokens: Arc::default(),
        }
    }

    /// This client, calling as the holder of `access_token` where no staff member is named.
    pub fn with_token(&self, access_token: &str) -> Self {
        Self { own_token: Some(access_token.to_owned()), ..self.clone() }
    }

    /// This client, calling as the holder of the session a sign-in answered (`{"session": …}`).
    pub fn with_session(&self, reply: &Value) -> anyhow::Result<Self> {
        let session = &reply["session"];
        let access = session["access_token"].as_str().context("an access token")?;
        let refresh = session["refresh_token"].as_str().context("a refresh token")?;
        Ok(Self { own_token: Some(access.to_owned()), own_refresh: Some(refresh.to_owned()), ..self.clone() })
    }

    /// This client with its session's next access token, as a front end
    /// refreshes it (and so learns what changed: a verified identity, for one).
    pub async fn refreshed(&self) -> anyhow::Result<Self> {
        let refresh = self.own_refresh.as_deref().context("this client did not sign in itself")?;
        let reply = self.post("/v1/sessions/refresh", None, json!({ "refresh_token": refresh })).await?;
        self.with_session(&reply)
    }

    /// Proves the signed-in beneficiary's identity with the identity provider
    /// (in the demo, its stand-in confirms at once), as the portal does: start
    /// a check, show its number, poll until answered, then refresh the session.
    pub async fn prove_identity(&self) -> anyhow::Result<Self> {
        let check = self.post("/v1/me/identity-checks", None, json!({})).await?;
        let id = check["check_id"].as_str().context("a check id")?.to_owned();
        let answer = self
            .eventually("the identity check's answer", || async {
                let check = self.get(&format!("/v1/me/identity-checks/{id}"), None).await?;
                Ok(check["answer"].as_str().filter(|a| *a != "waiting").map(str::to_owned))
            })
            .await?;
        if answer != "confirmed" {
            bail!("the identity check was {answer}");
        }
        self.refreshed().await
    }

    /// This client, calling as the demo staff member `username` where no other is named.
    pub async fn as_staff(&self, username: StaffName<'_>) -> anyhow::Result<Self> {
        let token = self.staff_token(username).await?;
        Ok(self.with_token(&token))
    }

    /// Signs in with a username and password; returns the session's reply.
    pub async fn sign_in(&self, association: &str, username: &str, password: &str) -> anyhow::Result<Value> {
        let body = json!({ "association": association, "username": username, "password": password });
        let (status, reply) = self.send(reqwest::Method::POST, "/v1/sessions", None, Some(Payload::Json(body))).await?;
        if status != 200 {
            bail!("signing in as {username} answered {status}: {reply}");
        }
        Ok(reply)
    }

    /// A demo staff member's access token, signing in on first use.
    pub async fn staff_token(&self, username: StaffName<'_>) -> anyhow::Result<String> {
        if let Some(token) = self.staff_tokens.lock().expect("not poisoned").get(username) {
            return Ok(token.clone());
        }
        let association = username.split('.').next().unwrap_or_default();
        let reply = self.sign_in(association, username, crate::DEMO_STAFF_PASSWORD).await?;
        let token = reply["session"]["access_token"].as_str().context("an access token")?.to_owned();
        self.staff_tokens.lock().expect("not poisoned").insert(username.to_owned(), token.clone());
        Ok(token)
    }

    /// Sends this W3C `traceparent` on every call, as a front end following
    /// one case would, so the case's whole journey is one trace.
    pub fn with_traceparent(mut self, traceparent: &str) -> Self {
        self.traceparent = Some(traceparent.to_owned());
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The access token calls naming no staff member carry, if any.
    pub fn token(&self) -> Option<&str> {
        self.own_token.as_deref()
    }

    /// Sends a request; returns the HTTP status and the JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        staff: Option<StaffName<'_>>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.send(method, path, staff, body.map(Payload::Json)).await
    }

    /// Uploads a file as the body of a PUT; returns the HTTP status and the JSON body.
    pub async fn upload(
        &self,
        path: &str,
        staff: Option<StaffName<'_>>,
        file: Vec<u8>,
    ) -> anyhow::Result<(u16, Value)> {
        self.send(reqwest::Method::PUT, path, staff, Some(Payload::File(file))).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        staff: Option<StaffName<'_>>,
        body: Option<Payload>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        let token = match staff {
            Some(staff) => Some(Box::pin(self.staff_token(staff)).await?),
            None => self.own_token.clone(),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(traceparent) = &self.traceparent {
            request = request.header("traceparent", traceparent);
        }
        match body {
            Some(Payload::Json(body)) => request = request.json(&body),
            Some(Payload::File(file)) => {
                request = request.header("content-type", "application/octet-stream").body(file)
            }
            None => {}
        }
        let response = request.send().await.with_context(|| format!("calling {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    /// A call that must succeed; its body.
    pub async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        staff: Option<StaffName<'_>>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, value) = self.call(method, path, staff, body).await?;
        if !(200..300).contains(&status) {
            bail!("{path} answered {status}: {value}");
        }
        Ok(value)
    }

    pub async fn get(&self, path: &str, staff: Option<StaffName<'_>>) -> anyhow::Result<Value> {
        self.ok(reqwest::Method::GET, path, staff, None).await
    }

    pub async fn post(&self, path: &str, staff: Option<StaffName<'_>>, body: Value) -> anyhow::Result<Value> {
        self.ok(reqwest::Method::POST, path, staff, Some(body)).await
    }

    /// Polls `probe` until it yields a value (hand-offs are asynchronous).
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut probe: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(value) = probe().await? {
                return Ok(value);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("timed out waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the request's timeline shows `status`.
    pub async fn wait_for_status(&self, request_id: &str, status: &str) -> anyhow::Result<Value> {
        let path = format!("/v1/requests/{request_id}/timeline");
        self.eventually(&format!("{request_id} to become {status}"), || async {
            let timeline = self.get(&path, None).await?;
            Ok((timeline["status"] == status).then_some(timeline))
        })
        .await
    }

    /// Every row of a paged list (`path`, its rows under `rows`), walking it
    /// `page_size` at a time; and how many pages it took.
    pub async fn all_pages(
        &self,
        path: &str,
        rows: &str,
        page_size: u32,
        staff: Option<StaffName<'_>>,
    ) -> anyhow::Result<(Vec<Value>, usize)> {
        let joiner = if path.contains('?') { '&' } else { '?' };
        let (mut all, mut pages, mut token) = (Vec::new(), 0, String::new());
        loop {
            let page = self.get(&format!("{path}{joiner}page_size={page_size}&page_token={token}"), staff).await?;
            pages += 1;
            let listed = page[rows].as_array().with_context(|| format!("{path}: no {rows} in {page}"))?;
            if listed.len() > page_size as usize {
                bail!("{path}: {} rows on a page of {page_size}", listed.len());
            }
            all.extend(listed.iter().cloned());
            match page["next_page_token"].as_str() {
                Some(next) => token = next.to_owned(),
                None => return Ok((all, pages)),
            }
        }
    }

    /// The row of a paged list about `request_id`, looking through every page.
    pub async fn find_in_list(
        &self,
        path: &str,
        rows: &str,
        request_id: &str,
        staff: Option<StaffName<'_>>,
    ) -> anyhow::Result<Option<Value>> {
        let (all, _) = self.all_pages(path, rows, 100, staff).await?;
        Ok(all.into_iter().find(|row| row["request_id"] == request_id))
    }

    /// Waits until `request_id` is in the project manager's queue.
    pub async fn wait_until_pending(&self, request_id: &str, project_manager: &str) -> anyhow::Result<()> {
        self.eventually("the request to reach verification", || async {
            let found = self.find_in_list("/v1/verification/pending", "requests", request_id, Some(project_manager));
            Ok(found.await?.map(|_| ()))
        })
        .await
    }

    /// The project manager confirms, one by one, each document of a pending
    /// request not yet confirmed (the policy's step before verifying).
    pub async fn confirm_documents(&self, request_id: &str, project_manager: &str) -> anyhow::Result<()> {
        let pending = self.find_in_list("/v1/verification/pending", "requests", request_id, Some(project_manager));
        let pending = pending.await?.context("the request is not in the project manager's queue")?;
        let documents = pending["documents"].as_array().context("documents")?;
        for document in documents.iter().filter(|d| d["review"] == "pending") {
            let code = document["document"].as_str().context("document")?;
            let path = format!("/v1/requests/{request_id}/verification/documents/{code}");
            self.post(&path, Some(project_manager), json!({ "review": "accepted" })).await?;
        }
        Ok(())
    }

    /// Waits for the request in the project manager's queue, confirms its
    /// documents and accepts it: on to a social researcher.
    pub async fn verify(&self, request_id: &str, project_manager: &str) -> anyhow::Result<Value> {
        self.wait_until_pending(request_id, project_manager).await?;
        self.confirm_documents(request_id, project_manager).await?;
        self.post(&format!("/v1/requests/{request_id}/verification/accept"), Some(project_manager), json!({})).await
    }

    /// Waits for the automatic assignment; returns the researcher's username.
    pub async fn wait_for_researcher(&self, request_id: &str, branch_manager: &str) -> anyhow::Result<String> {
        self.eventually("a researcher to be assigned", || async {
            let found = self.find_in_list("/v1/research/assignments", "assignments", request_id, Some(branch_manager));
            Ok(found.await?.and_then(|x| x["researcher"].as_str().map(str::to_owned)))
        })
        .await
    }

    /// Waits until the case is on its branch's committee agenda; its item there.
    pub async fn wait_for_agenda(&self, request_id: &str, member: &str, branch: &str) -> anyhow::Result<Value> {
        let path = format!("/v1/committee/agenda?branch={branch}");
        self.eventually("the case to reach the committee agenda", || async {
            let item = self.find_in_list(&path, "items", request_id, Some(member)).await?;
            Ok(item.filter(|i| i["status"] == "on_committee_agenda"))
        })
        .await
    }
}

/// One association's cast for the demo.
pub struct Cast<'a> {
    pub association: &'a str,
    pub branch: &'a str,
    pub service_type: &'a str,
    pub channel: &'a str,
    pub reception: &'a str,
    pub project_manager: &'a str,
    pub branch_manager: &'a str,
    pub committee: [&'a str; 2],
    /// Who schedules the committee's meetings, and for which branch ("" when
    /// they sit for the whole association, as the pack says).
    pub convener: &'a str,
    pub meeting_branch: &'a str,
    /// Answers that meet every eligibility rule of the association's policy.
    pub eligible_facts: &'a [(&'a str, &'a str)],
    /// Where the sample applicant lives: city, district, street.
    pub address: [&'a str; 3],
}

impl Cast<'_> {
    /// The sample applicant's address, as a form sends it.
    pub fn address(&self) -> Value {
        let [city, district, street] = self.address;
        json!({ "city": city, "district": district, "street": street })
    }

    /// The eligible answers, with some replaced (e.g. an income over the threshold).
    pub fn facts_with(&self, changes: &[(&str, &str)]) -> Value {
        let mut facts: serde_json::Map<String, Value> =
            self.eligible_facts.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        for (k, v) in changes {
            facts.insert((*k).to_owned(), json!(v));
        }
        Value::Object(facts)
    }
}

pub const NUZUL: Cast<'static> = Cast {
    association: "nuzul",
    branch: "riyadh",
    service_type: "roof_repair",
    channel: "website",
    reception: "nuzul.reception",
    project_manager: "nuzul.pm",
    branch_manager: "nuzul.branch",
    committee: ["nuzul.committee1", "nuzul.committee2"],
    convener: "nuzul.branch",
    meeting_branch: "riyadh",
    eligible_facts: &[
        ("applicant.city", "Riyadh"),
        ("household.members", "6"),
        ("household.monthly_income", "4200"),
        ("home.ownership", "owned"),
    ],
    address: ["الرياض", "النسيم", "شارع سلمان الفارسي"],
};

/// Nuzul's Jeddah branch (opened by the policy's version 2; served by its own city's applicants from version 3).
pub const NUZUL_JEDDAH: Cast<'static> = Cast {
    branch: "jeddah",
    reception: "nuzul.jeddah.reception",
    project_manager: "nuzul.jeddah.pm",
    branch_manager: "nuzul.jeddah.branch",
    convener: "nuzul.jeddah.branch",
    meeting_branch: "jeddah",
    eligible_facts: &[
        ("applicant.city", "جدة"),
        ("household.members", "5"),
        ("household.monthly_income", "3900"),
        ("home.ownership", "owned"),
    ],
    address: ["جدة", "الصفا", "شارع الأمير ماجد"],
    ..NUZUL
};

pub const HAYAT: Cast<'static> = Cast {
    association: "hayat",
    branch: "madinah",
    service_type: "medical_devices",
    channel: "interview",
    reception: "hayat.reception",
    project_manager: "hayat.pm",
    branch_manager: "hayat.branch",
    committee: ["hayat.committee1", "hayat.committee2"],
    // One branch: Hayat's committee meets for the whole association.
    convener: "hayat.admin",
    meeting_branch: "",
    eligible_facts: &[
        ("applicant.region", "Madinah"),
        ("household.members", "4"),
        ("household.monthly_income", "5000"),
        ("need.covered_by_insurance", "no"),
        ("need.covered_by_government", "no"),
    ],
    address: ["المدينة المنورة", "قباء", "طريق قباء"],
};

/// The SMS the dev provider wrote to its file (the development "phone"), each as `<to>: <text>`.
pub fn logged_sms(sms_log: &std::path::Path) -> Vec<String> {
    let log = std::fs::read_to_string(sms_log).unwrap_or_default();
    log.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.splitn(5, '\t').collect();
            Some(format!("{}: {}", fields.get(3)?, fields.get(4)?))
        })
        .collect()
}

/// The one-time password in the credentials SMS sent for `username`, in either language.
pub fn one_time_password_in(texts: &[String], username: &str) -> Option<String> {
    let text = texts.iter().find(|t| t.contains(username))?;
    let after = ["one-time password: ", "كلمة المرور المؤقتة: "].iter().find_map(|m| text.split(m).nth(1))?;
    Some(after.split(|c: char| c == '.' || c.is_whitespace()).next()?.to_owned())
}

/// The password demo beneficiaries choose in place of their one-time password.
pub const DEMO_BENEFICIARY_PASSWORD: &str = "Bayti-2026";

/// The username in a credentials SMS, in either language.
pub fn username_in(text: &str) -> Option<String> {
    let after = ["Username: ", "اسم المستخدم: "].iter().find_map(|m| text.split(m).nth(1))?;
    Some(after.split(|c: char| c == ',' || c.is_whitespace()).next()?.to_owned()).filter(|u| !u.is_empty())
}

/// A beneficiary opens an account on the website and, like anyone online,
/// is told only that it is taken; they read their username and one-time
/// password from the SMS (`read_sms`: every text sent so far; the first
/// credentials SMS sent since), replace the password, and are signed in;
/// returns a client calling as them.
pub async fn sign_up(
    client: &GatewayClient,
    association: &str,
    applicant: Value,
    read_sms: impl Fn() -> Vec<String>,
) -> anyhow::Result<GatewayClient> {
    let sent_before = read_sms().len();
    let registration = json!({ "association": association, "channel": "website", "applicant": applicant });
    client.post("/v1/accounts", None, registration).await?;
    let credentials = || read_sms().into_iter().skip(sent_before).find(|text| username_in(text).is_some());
    let text = client.eventually("the credentials SMS", || async { Ok(credentials()) }).await?;
    let username = username_in(&text).context("a username")?;
    let password = one_time_password_in(std::slice::from_ref(&text), &username).context("a one-time password")?;
    let change = json!({ "association": association, "username": username,
                         "current_password": password, "new_password": DEMO_BENEFICIARY_PASSWORD });
    let session = client.post("/v1/accounts/password", None, change).await?;
    client.with_session(&session)
}

/// Submits a request for a sample applicant who meets every rule; returns the gateway's reply.
pub async fn submit(
    client: &GatewayClient,
    cast: &Cast<'_>,
    national_id: &str,
    name: &str,
    mobile: &str,
) -> anyhow::Result<Value> {
    submit_with_facts(client, cast, national_id, name, mobile, cast.facts_with(&[])).await
}

/// Submits a request with the given answers, as a front end does: a draft,
/// every required document (recent and unexpired), then the attestation.
pub async fn submit_with_facts(
    client: &GatewayClient,
    cast: &Cast<'_>,
    national_id: &str,
    name: &str,
    mobile: &str,
    facts: Value,
) -> anyhow::Result<Value> {
    let draft = create_draft(client, cast, national_id, name, mobile, facts).await?;
    let id = draft["request_id"].as_str().context("request id")?;
    upload_required_documents(client, &draft).await?;
    submit_draft(client, id, draft["attestation"]["version"].as_str().unwrap_or_default()).await
}

/// Starts a request; the reply lists the documents it needs and the attestation text.
pub async fn create_draft(
    client: &GatewayClient,
    cast: &Cast<'_>,
    national_id: &str,
    name: &str,
    mobile: &str,
    facts: Value,
) -> anyhow::Result<Value> {
    client
        .post(
            "/v1/requests",
            None,
            json!({
                "association": cast.association, "branch": cast.branch, "service_type": cast.service_type,
                "channel": cast.channel,
                "applicant": { "national_id": national_id, "full_name": name, "mobile": mobile, "preferred_language": "ar" },
                "description": "Demo request",
                "facts": facts,
                "address": cast.address(),
            }),
        )
        .await
}

/// Where a front end uploads `document` of a request, named `file_name`,
/// issued last week and valid for a year (what every sample document says).
pub fn upload_path(request_id: &str, document: &str, file_name: &str) -> String {
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let (issued, expires) = (today - chrono::Days::new(7), today + chrono::Days::new(365));
    format!(
        "/v1/requests/{request_id}/documents/{document}?file_name={file_name}&issued_on={issued}&expires_on={expires}"
    )
}

/// The document codes a draft asks for, in its order.
pub fn required_documents(draft: &Value) -> Vec<String> {
    let listed = draft["required_documents"].as_array().into_iter().flatten();
    listed.filter_map(|required| required["document"].as_str().map(str::to_owned)).collect()
}

/// Uploads a sample PDF for every document a draft needs, issued last week and valid for a year.
pub async fn upload_required_documents(client: &GatewayClient, draft: &Value) -> anyhow::Result<()> {
    let id = draft["request_id"].as_str().context("request id")?;
    for document in required_documents(draft) {
        let path = upload_path(id, &document, &format!("{document}.pdf"));
        let (status, body) = client.upload(&path, None, SAMPLE_PDF.to_vec()).await?;
        if status != 201 {
            bail!("uploading {document} answered {status}: {body}");
        }
    }
    Ok(())
}

/// The attestation text version of the association's policy in force.
pub async fn attestation_version(client: &GatewayClient, association: &str) -> anyhow::Result<String> {
    let policy = client.get(&format!("/v1/associations/{association}/policy"), None).await?;
    Ok(policy["policy"]["attestation"]["version"].as_str().context("attestation version")?.to_owned())
}

/// Submits a complete draft with the applicant's attestation of `attestation_version`.
pub async fn submit_draft(
    client: &GatewayClient,
    request_id: &str,
    attestation_version: &str,
) -> anyhow::Result<Value> {
    client
        .post(
            &format!("/v1/requests/{request_id}/submit"),
            None,
            json!({ "attestation": { "attested": true, "version": attestation_version } }),
        )
        .await
}

/// Takes a verified request through research and the committee to `decision`.
pub async fn research_and_decide(
    client: &GatewayClient,
    cast: &Cast<'_>,
    request_id: &str,
    decision: &str,
) -> anyhow::Result<()> {
    research_to_agenda(client, cast, request_id, recommendation_for(decision)).await?;
    decide(client, cast, request_id, decision).await
}

/// What a researcher recommends for the committee to reach `decision`.
fn recommendation_for(decision: &str) -> &'static str {
    if decision == "approved" { "approve" } else { "reject" }
}

/// Takes a verified request through a visit's appointment, the field visit,
/// the scoring of the pack's social-research criteria and the researcher's
/// `recommendation` onto its branch's committee agenda; returns the researcher.
pub async fn research_to_agenda(
    client: &GatewayClient,
    cast: &Cast<'_>,
    request_id: &str,
    recommendation: &str,
) -> anyhow::Result<String> {
    let researcher = client.wait_for_researcher(request_id, cast.branch_manager).await?;
    let research = format!("/v1/requests/{request_id}/research");
    // The visit is set (the beneficiary is told by SMS), then recorded.
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    let appointment = json!({ "on": today.to_string(), "at": "20:00", "place": "منزل الأسرة" });
    client.post(&format!("{research}/appointments"), Some(&researcher), appointment).await?;
    client
        .post(
            &format!("{research}/visits"),
            Some(&researcher),
            visit_today("Visited the household; the need is confirmed."),
        )
        .await?;
    let file = client.get(&format!("{research}/file"), Some(&researcher)).await?;
    let scores = scores_for(&file, recommendation)?;
    if !scores.is_empty() {
        let scores = json!({ "scores": scores });
        client.ok(reqwest::Method::PUT, &format!("{research}/scores"), Some(&researcher), Some(scores)).await?;
    }
    let body = recommendation_body(recommendation);
    client.post(&format!("{research}/recommendation"), Some(&researcher), body).await?;
    client.wait_for_agenda(request_id, cast.committee[0], cast.branch).await?;
    Ok(researcher)
}

/// A done visit today, meeting the beneficiary and a neighbour.
pub fn visit_today(findings: &str) -> Value {
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    json!({
        "outcome": "done",
        "visited_on": today.to_string(),
        "people_met": [
            { "kind": "beneficiary" },
            { "kind": "neighbour", "name": "سعد العتيبي", "contact": "0550001122" },
        ],
        "findings": findings,
    })
}

/// A score for every criterion of a research file, at the end of each scale
/// `recommendation` stands on, so the total's band agrees with it.
pub fn scores_for(file: &Value, recommendation: &str) -> anyhow::Result<Vec<Value>> {
    let end = if recommendation == "approve" { "scale_max" } else { "scale_min" };
    let criteria = file["criteria"].as_array().context("the research file's criteria")?;
    Ok(criteria
        .iter()
        .map(|c| json!({ "criterion": c["criterion"], "score": c[end], "note": "Seen at the visit." }))
        .collect())
}

/// A recommendation with what it proposes: the service and its amount, or the reasons.
pub fn recommendation_body(recommendation: &str) -> Value {
    if recommendation == "approve" {
        json!({ "recommendation": recommendation, "justification": "Meets the social-research criteria.",
                "service": "The works the visit found needed", "amount_sar": 12_000 })
    } else {
        json!({ "recommendation": recommendation, "justification": "Does not meet the social-research criteria.",
                "reasons": ["The need is not established"] })
    }
}

/// Opens a committee meeting now for the cast's cases awaiting a decision:
/// the convener schedules it with the cast's two members (the first in the
/// chair), and the chair records both present. Returns the meeting.
pub async fn hold_meeting(client: &GatewayClient, cast: &Cast<'_>) -> anyhow::Result<Value> {
    let now = masar_domain::calendar::saudi_time(chrono::Utc::now());
    let meeting = json!({
        "branch": cast.meeting_branch,
        "on": now.date().to_string(),
        "at": now.format("%H:%M").to_string(),
        "place": "قاعة الاجتماعات",
        "chair": cast.committee[0],
        "members": cast.committee,
    });
    let scheduled = client.post("/v1/committee/meetings", Some(cast.convener), meeting).await?;
    let id = scheduled["meeting_id"].as_str().context("meeting id")?;
    let attendance = json!({ "present": cast.committee });
    let path = format!("/v1/committee/meetings/{id}/attendance");
    client.ok(reqwest::Method::PUT, &path, Some(cast.committee[0]), Some(attendance)).await
}

/// The chair closes a meeting; its minutes as produced.
pub async fn close_meeting(client: &GatewayClient, cast: &Cast<'_>, meeting: &Value) -> anyhow::Result<Value> {
    let id = meeting["meeting_id"].as_str().context("meeting id")?;
    client.post(&format!("/v1/committee/meetings/{id}/closing"), Some(cast.committee[0]), json!({})).await?;
    client.get(&format!("/v1/committee/meetings/{id}/minutes"), Some(cast.committee[0])).await
}

/// Delivers an approved case as its plan says: the project manager records
/// each step with what it asks for, and the beneficiary (`client`'s own
/// caller) confirms the steps that ask them to. Returns the plan as it ends.
pub async fn deliver(client: &GatewayClient, cast: &Cast<'_>, request_id: &str) -> anyhow::Result<Value> {
    let path = format!("/v1/requests/{request_id}/delivery");
    let plan = client.get(&path, Some(cast.project_manager)).await?;
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now()).to_string();
    let mut last = plan.clone();
    for step in plan["steps"].as_array().context("the plan's steps")? {
        let mut record = json!({ "step": step["code"], "done_on": today, "note": "As planned" });
        for asked in step["asks"].as_array().into_iter().flatten() {
            let (field, value) = match asked.as_str().unwrap_or_default() {
                "contractor" => ("contractor", json!("مؤسسة البناء المتقن")),
                "provider" => ("provider", json!("مستشفى المدينة الوطني")),
                "amount_sar" => ("amount_sar", json!(12_000)),
                _ => ("reference", json!("INV-1001")),
            };
            record[field] = value;
        }
        last = client.post(&format!("{path}/steps"), Some(cast.project_manager), record).await?;
        if step["beneficiary_confirms"] == true {
            let confirmation = json!({ "step": step["code"], "note": "استلمت الأعمال كاملة" });
            last = client.post(&format!("{path}/confirmation"), None, confirmation).await?;
        }
    }
    Ok(last)
}

/// The members present confirm the minutes of the cast's latest meeting, and
/// the demo says what they record and where they print.
async fn confirm_latest_minutes(client: &GatewayClient, cast: &Cast<'_>) -> anyhow::Result<()> {
    let path = format!("/v1/committee/meetings?branch={}", cast.meeting_branch);
    let meetings = client.get(&path, Some(cast.convener)).await?;
    let latest = meetings["meetings"].get(0).context("a meeting held")?;
    let minutes_path = format!("/v1/committee/meetings/{}/minutes", latest["meeting_id"].as_str().context("id")?);
    let minutes = client.get(&minutes_path, Some(cast.committee[0])).await?;
    for member in cast.committee {
        let confirmation = json!({ "sha256": minutes["sha256"] });
        client.post(&format!("{minutes_path}/confirmation"), Some(member), confirmation).await?;
    }
    let confirmed = client.get(&minutes_path, Some(cast.convener)).await?;
    let cases = confirmed["cases"].as_array().map_or(0, Vec::len);
    println!(
        "  the committee's meeting of {} AH ({}): {cases} case(s) decided or carried over, minutes {} by {}; printable at {}",
        confirmed["on_hijri"].as_str().unwrap_or_default(),
        confirmed["on_gregorian"].as_str().unwrap_or_default(),
        confirmed["status"].as_str().unwrap_or_default(),
        cast.committee.join(" and "),
        confirmed["print"].as_str().unwrap_or_default(),
    );
    Ok(())
}

/// At a meeting of their own, the cast's committee members vote for
/// `decision` and record it; the meeting then closes.
pub async fn decide(client: &GatewayClient, cast: &Cast<'_>, request_id: &str, decision: &str) -> anyhow::Result<()> {
    let meeting = hold_meeting(client, cast).await?;
    for member in cast.committee {
        client
            .post(
                &format!("/v1/requests/{request_id}/committee/votes"),
                Some(member),
                json!({ "vote": recommendation_for(decision) }),
            )
            .await?;
    }
    let reasons: Vec<&str> = if decision == "approved" { vec![] } else { vec!["Outside the support policy"] };
    client
        .post(
            &format!("/v1/requests/{request_id}/committee/decision"),
            Some(cast.committee[0]),
            json!({ "decision": decision, "reasons": reasons }),
        )
        .await?;
    close_meeting(client, cast, &meeting).await?;
    client.wait_for_status(request_id, decision).await?;
    Ok(())
}

/// Runs the demo against a gateway and prints each case's timeline. The
/// beneficiary reads their one-time password in the dev SMS file `sms_log`.
pub async fn run(gateway: &str, sms_log: &std::path::Path) -> anyhow::Result<()> {
    let client = GatewayClient::new(gateway);
    client
        .get("/healthz", None)
        .await
        .with_context(|| format!("no Masar gateway at {gateway}; start one with `make run`"))?;

    println!(
        "Nuzul: a roof repair request without the home's tenure, returned for completion, resubmitted, approved, delivered and rated"
    );
    let mut unclear = NUZUL.facts_with(&[]);
    unclear.as_object_mut().context("facts")?.remove("home.ownership");
    // A new citizen each run: the same person's second restoration within 36 months would be refused.
    let citizen = new_national_id();
    let (name, mobile) = ("محمد عبدالله القحطاني", "0551234567");
    let applicant = json!({ "national_id": citizen, "full_name": name, "mobile": mobile, "preferred_language": "ar" });
    let beneficiary = sign_up(&client, "nuzul", applicant, || logged_sms(sms_log)).await.with_context(|| {
        format!(
            "no credentials SMS in {}: run the demo with the same MASAR_DATA_DIR as the running `masar dev`",
            sms_log.display()
        )
    })?;
    println!("  the beneficiary opened an account on the website and signed in");
    let nuzul = submit_with_facts(&beneficiary, &NUZUL, &citizen, name, mobile, unclear).await?;
    let id = nuzul["request_id"].as_str().context("request id")?.to_owned();
    println!("  submitted {} — {}", nuzul["reference"], nuzul["message"]["en"]);
    client.wait_until_pending(&id, NUZUL.project_manager).await?;
    // The project manager rejects the deed's scan; the return then lists exactly what is missing.
    client
        .post(
            &format!("/v1/requests/{id}/verification/documents/title_deed_or_consent"),
            Some(NUZUL.project_manager),
            json!({ "review": "rejected", "reason": "الصورة غير واضحة / the scan is not legible" }),
        )
        .await?;
    let returned =
        client.post(&format!("/v1/requests/{id}/verification/return"), Some(NUZUL.project_manager), json!({})).await?;
    for missing in returned["missing"].as_array().into_iter().flatten() {
        println!("  missing: {}", missing["en"].as_str().unwrap_or(""));
    }
    beneficiary.wait_for_status(&id, "returned_for_completion").await?;
    let today = masar_domain::calendar::saudi_day(chrono::Utc::now());
    beneficiary
        .upload(
            &format!("/v1/requests/{id}/documents/title_deed_or_consent?file_name=deed.pdf&issued_on={today}"),
            None,
            SAMPLE_PDF.to_vec(),
        )
        .await?;
    beneficiary
        .post(
            &format!("/v1/requests/{id}/resubmit"),
            None,
            json!({
                "note": "Deed attached", "facts": { "home.ownership": "owned" },
                "attestation": { "attested": true, "version": attestation_version(&client, "nuzul").await? },
            }),
        )
        .await?;
    client.verify(&id, NUZUL.project_manager).await?;
    research_and_decide(&beneficiary, &NUZUL, &id, "approved").await?;
    let plan = deliver(&beneficiary, &NUZUL, &id).await?;
    let steps: Vec<&str> =
        plan["steps"].as_array().into_iter().flatten().filter_map(|s| s["label"]["en"].as_str()).collect();
    println!("  delivered as planned: {}; the beneficiary confirmed the handover", steps.join(", "));
    let rating = json!({ "score": 5, "comment": "عمل متقن وفريق متعاون" });
    beneficiary.post(&format!("/v1/requests/{id}/rating"), None, rating).await?;
    println!("  the roof was repaired; the beneficiary rated the service 5 of 5");
    print_case(&beneficiary, &id, NUZUL.branch_manager).await?;
    confirm_latest_minutes(&client, &NUZUL).await?;

    println!("\nNuzul: a Jeddah family at the Jeddah branch, which serves its own city, verified and approved");
    let jeddah_reception = client.as_staff(NUZUL_JEDDAH.reception).await?;
    let jeddah = submit(&jeddah_reception, &NUZUL_JEDDAH, "1000000032", "Hind Alghamdi", "0553334455").await?;
    let id = jeddah["request_id"].as_str().context("request id")?.to_owned();
    println!("  submitted {} — {}", jeddah["reference"], jeddah["message"]["en"]);
    client.verify(&id, NUZUL_JEDDAH.project_manager).await?;
    research_and_decide(&jeddah_reception, &NUZUL_JEDDAH, &id, "approved").await?;
    print_case(&jeddah_reception, &id, NUZUL_JEDDAH.branch_manager).await?;

    println!("\nHayat: a medical device request at an interview, filed by reception, verified and approved");
    let reception = client.as_staff(HAYAT.reception).await?;
    let hayat = submit(&reception, &HAYAT, "2000000006", "Aisha Rahman", "+966 56 765 4321").await?;
    let id = hayat["request_id"].as_str().context("request id")?.to_owned();
    println!("  submitted {} — {}", hayat["reference"], hayat["message"]["en"]);
    client.verify(&id, HAYAT.project_manager).await?;
    research_and_decide(&reception, &HAYAT, &id, "approved").await?;
    print_case(&reception, &id, HAYAT.branch_manager).await?;
    // Hayat's committee sits for the whole association, scheduled by its admin.
    confirm_latest_minutes(&client, &HAYAT).await?;

    println!("\nHayat: a treatment request over the income threshold, declared ineligible by the policy's rule");
    let facts = HAYAT.facts_with(&[("household.monthly_income", "12000"), ("household.members", "3")]);
    let over = submit_with_facts(&reception, &HAYAT, "1000000008", "Salem Alharbi", "0551234567", facts).await?;
    let id = over["request_id"].as_str().context("request id")?.to_owned();
    client.wait_until_pending(&id, HAYAT.project_manager).await?;
    client.post(&format!("/v1/requests/{id}/verification/ineligible"), Some(HAYAT.project_manager), json!({})).await?;
    reception.wait_for_status(&id, "ineligible").await?;
    print_case(&reception, &id, HAYAT.branch_manager).await?;

    println!("\nHayat: a beneficiary opens an account on the website; an inquiry by phone is referred and answered");
    let (status, account) = client
        .call(
            reqwest::Method::POST,
            "/v1/accounts",
            None,
            Some(json!({ "association": "hayat", "channel": "website", "applicant": {
                "national_id": "1000000115", "full_name": "فاطمة الزهراني", "mobile": "0551112233" } })),
        )
        .await?;
    // Online, the answer is alike whether or not the ID is on file: the SMS says the rest.
    match status {
        202 => println!("  {} (the SMS is in {})", account["message"]["en"], sms_log.display()),
        _ => anyhow::bail!("registration failed: {account}"),
    }
    let inquiry = client
        .post(
            "/v1/inquiries",
            Some("hayat.reception"),
            json!({ "association": "hayat", "branch": "madinah", "channel": "phone", "name": "فاطمة الزهراني",
                    "mobile": "0551112233", "national_id": "1000000115",
                    "question": "هل يشمل الدعم أجهزة قياس السكر؟" }),
        )
        .await?;
    let inquiry_id = inquiry["inquiry_id"].as_str().context("inquiry id")?.to_owned();
    client.post(&format!("/v1/inquiries/{inquiry_id}/refer"), Some("hayat.reception"), json!({})).await?;
    let answered = client
        .post(
            &format!("/v1/inquiries/{inquiry_id}/answer"),
            Some("hayat.referral"),
            json!({ "answer": "نعم، مع تقرير طبي حديث وعرض سعر.", "channel": "phone" }),
        )
        .await?;
    println!("  inquiry {}:", answered["reference"]);
    for entry in answered["timeline"].as_array().into_iter().flatten() {
        println!(
            "    {} ({})  {:<9} via {:<8} by {:<30} {}",
            entry["at"].as_str().unwrap_or(""),
            entry["on_hijri"].as_str().unwrap_or(""),
            entry["status"].as_str().unwrap_or(""),
            entry["channel"].as_str().unwrap_or(""),
            entry["actor_role"].as_str().unwrap_or(""),
            entry["text"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// A valid citizen's national ID nobody has used yet (random digits, Luhn check digit).
pub fn new_national_id() -> String {
    let body = format!("1{:08}", rand::random_range(0..100_000_000u32));
    (0..10)
        .map(|check| format!("{body}{check}"))
        .find(|candidate| masar_domain::NationalId::parse(candidate).is_ok())
        .expect("one check digit in ten makes the number valid")
}

async fn print_case(client: &GatewayClient, request_id: &str, staff: &str) -> anyhow::Result<()> {
    let timeline = client.get(&format!("/v1/requests/{request_id}/timeline"), None).await?;
    println!("  timeline of {request_id}:");
    for entry in timeline["entries"].as_array().into_iter().flatten() {
        println!(
            "    {}  {:<24} {:<13} by {:<18} {}",
            entry["at"].as_str().unwrap_or(""),
            entry["status"].as_str().unwrap_or(""),
            entry["stage"].as_str().unwrap_or(""),
            entry["actor_role"].as_str().unwrap_or(""),
            entry["description"]["ar"].as_str().unwrap_or("")
        );
    }
    let messages = client
        .eventually("the SMS messages to be sent", || async {
            let m = client.get(&format!("/v1/requests/{request_id}/messages"), Some(staff)).await?;
            let all_sent =
                m["messages"].as_array().is_some_and(|l| !l.is_empty() && l.iter().all(|x| x["status"] == "sent"));
            Ok(all_sent.then_some(m))
        })
        .await?;
    println!("  SMS sent to the beneficiary:");
    for message in messages["messages"].as_array().into_iter().flatten() {
        println!("    [{}] {}", message["mobile"].as_str().unwrap_or(""), message["text"].as_str().unwrap_or(""));
    }
    // A case the committee decided: its decision as explained from the hashed evidence.
    let path = format!("/v1/requests/{request_id}/committee/decisions");
    let (status, decisions) = client.call(reqwest::Method::GET, &path, Some(staff), None).await?;
    for decision in decisions["decisions"].as_array().into_iter().flatten().filter(|_| status == 200) {
        let intact = if decision["intact"] == true { "evidence intact" } else { "EVIDENCE CHANGED" };
        println!(
            "  committee, round {} ({intact}): {}",
            decision["round"],
            decision["explanation"]["en"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
