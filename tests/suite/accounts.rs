//! The registry and accounts through the gateway, in both shapes: self and
//! assisted registration, the SMS with a one-time password, the first
//! password change, and possible duplicates flagged for staff.

use crate::support::{distributed_suite, embedded_suite, logged_sms};
use masar::demo::GatewayClient;
use reqwest::Method;
use serde_json::{Value, json};
use std::future::Future;

/// The one-time password in the English credentials SMS sent for `username`.
async fn one_time_password<F, Fut>(client: &GatewayClient, username: &str, sent_texts: F) -> String
where
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    client
        .eventually("the credentials SMS", || async {
            Ok(masar::demo::one_time_password_in(&sent_texts().await, username))
        })
        .await
        .unwrap()
}

/// The first credentials SMS sent after the first `before` texts: `(to, username)`.
async fn credentials_sent<F, Fut>(client: &GatewayClient, before: usize, sent_texts: &F) -> (String, String)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    let found = client
        .eventually("the credentials SMS", || async {
            let texts = sent_texts().await;
            Ok(texts.into_iter().skip(before).find_map(|text| {
                let (to, body) = text.split_once(": ")?;
                Some((to.to_owned(), masar::demo::username_in(body)?))
            }))
        })
        .await;
    found.unwrap()
}

fn applicant(national_id: &str, full_name: &str, mobile: &str, language: &str) -> Value {
    json!({ "national_id": national_id, "full_name": full_name, "mobile": mobile, "preferred_language": language })
}

/// Drives registration and sign-in; returns the one-time password, for the caller's checks of where it is kept.
async fn drive_accounts<F, Fut>(client: &GatewayClient, sent_texts: F) -> String
where
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    let call = |method: Method, path: &'static str, staff: Option<&'static str>, body: Value| async move {
        client.call(method, path, staff, Some(body)).await.unwrap()
    };
    // Self-registration on the website: the answer says only that it is taken; the SMS says the rest.
    let fatima = applicant("1000000115", "فاطمة الزهراني", "0551112233", "en");
    let before = sent_texts().await.len();
    let (status, registered) = call(
        Method::POST,
        "/v1/accounts",
        None,
        json!({ "association": "hayat", "channel": "website", "applicant": fatima }),
    )
    .await;
    assert_eq!(status, 202, "{registered}");
    assert!(registered["username"].is_null() && registered["sms_to"].is_null(), "{registered}");
    let (to, username) = credentials_sent(client, before, &sent_texts).await;
    assert!(username.starts_with("hyt-"), "{username}");
    assert_eq!(to, "+966551112233");
    let password = one_time_password(client, &username, &sent_texts).await;
    assert_eq!(password.len(), 10, "{password}");

    // The one-time password starts no session: it must be changed first.
    let sign_in = |password: &str| json!({ "association": "hayat", "username": username, "password": password });
    let (status, first) = call(Method::POST, "/v1/sessions", None, sign_in(&password)).await;
    assert_eq!((status, first["must_change_password"].as_bool()), (200, Some(true)), "{first}");
    assert!(first["session"].is_null(), "no tokens while the one-time password is in use: {first}");
    let fatima_entry = first["beneficiary_id"].clone();
    assert!(fatima_entry.is_string(), "{first}");
    let (status, refused) = call(Method::POST, "/v1/sessions", None, sign_in("not-it-2026")).await;
    assert_eq!((status, refused["code"].as_str()), (401, Some("unauthenticated")), "{refused}");
    assert!(refused["message"]["ar"].as_str().unwrap().contains("كلمة المرور"));
    let nobody = json!({ "association": "hayat", "username": "hyt-nobody", "password": password });
    assert_eq!(call(Method::POST, "/v1/sessions", None, nobody).await.0, 401);
    let change = |current: &str, new: &str| json!({ "association": "hayat", "username": username, "current_password": current, "new_password": new });
    let (status, weak) = call(Method::POST, "/v1/accounts/password", None, change(&password, "short")).await;
    assert_eq!((status, weak["fields"][0]["field"].as_str()), (400, Some("new_password")), "{weak}");
    let (status, changed) = call(Method::POST, "/v1/accounts/password", None, change(&password, "kalimat2026")).await;
    assert_eq!((status, changed["must_change_password"].as_bool()), (200, Some(false)), "{changed}");
    assert!(changed["session"]["access_token"].is_string(), "the change signs them in: {changed}");
    let (status, signed_in) = call(Method::POST, "/v1/sessions", None, sign_in("kalimat2026")).await;
    assert_eq!((status, signed_in["role"].as_str()), (200, Some("beneficiary")), "{signed_in}");
    assert_eq!(call(Method::POST, "/v1/sessions", None, sign_in(&password)).await.0, 401);
    // Signed in, Fatima follows the inquiries she asks; one typed by someone else with her ID is not hers.
    let fatima_client = client.with_token(signed_in["session"]["access_token"].as_str().unwrap());
    let ask = |national_id: &str| {
        json!({ "association": "hayat", "branch": "madinah", "channel": "website",
                                          "name": "فاطمة", "national_id": national_id, "question": "متى تجتمع اللجنة؟" })
    };
    let hers = fatima_client.post("/v1/inquiries", None, ask("1000000115")).await.unwrap();
    let followed = fatima_client.get(&format!("/v1/inquiries/{}", hers["inquiry_id"].as_str().unwrap()), None).await;
    assert_eq!(followed.unwrap()["status"], "open");
    let (_, typed) = call(Method::POST, "/v1/inquiries", None, ask("1000000115")).await;
    let path = format!("/v1/inquiries/{}", typed["inquiry_id"].as_str().unwrap());
    assert_eq!(fatima_client.call(Method::GET, &path, None, None).await.unwrap().0, 404, "{typed}");

    // One account per national ID, and online nobody learns whether an ID has one: the same answer.
    let again = json!({ "association": "hayat", "channel": "mobile_app", "applicant": fatima });
    let (status, body) = call(Method::POST, "/v1/accounts", None, again).await;
    assert_eq!((status, &body), (202, &registered), "alike whether or not the ID has an account");
    // Self-registration is online only.
    let by_phone = applicant("1000000214", "Omar", "0551112244", "ar");
    let (status, body) = call(
        Method::POST,
        "/v1/accounts",
        None,
        json!({ "association": "hayat", "channel": "phone", "applicant": by_phone }),
    )
    .await;
    assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("channel")), "{body}");
    let invalid = json!({ "association": "hayat", "channel": "website",
                          "applicant": applicant("1000000000", "", "0521234567", "ar") });
    let (status, body) = call(Method::POST, "/v1/accounts", None, invalid).await;
    let fields: Vec<_> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((status, fields), (400, vec!["applicant.national_id", "applicant.mobile", "applicant.full_name"]));

    // Reception registers a visitor at an interview: same name written differently, same mobile, another ID.
    let lookalike = applicant("2000000113", "فَاطمه  الزهرانى", "+966 55 111 2233", "ar");
    let assisted = json!({ "association": "hayat", "channel": "interview", "applicant": lookalike });
    let (status, body) = call(Method::POST, "/v1/accounts", Some("nuzul.reception"), assisted.clone()).await;
    assert_eq!(status, 403, "another association's reception cannot register here: {body}");
    let (status, second) = call(Method::POST, "/v1/accounts", Some("hayat.reception"), assisted).await;
    assert_eq!(status, 201, "{second}");
    let flagged = client.get("/v1/beneficiaries/possible-duplicates", Some("hayat.pm")).await.unwrap();
    let pairs = flagged["possible_duplicates"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{flagged}");
    assert_eq!(pairs[0]["beneficiary"]["beneficiary_id"], second["beneficiary_id"]);
    assert_eq!(pairs[0]["resembles"]["beneficiary_id"], fatima_entry);
    assert_eq!(pairs[0]["beneficiary"]["registered_by"], "hayat.reception");
    assert_eq!(pairs[0]["beneficiary"]["channel"], "interview");
    assert_eq!(pairs[0]["beneficiary"]["national_id"], "2******113");
    let nuzul = client.get("/v1/beneficiaries/possible-duplicates", Some("nuzul.pm")).await.unwrap();
    assert!(nuzul["possible_duplicates"].as_array().unwrap().is_empty());
    let path = format!("/v1/beneficiaries/{}", fatima_entry.as_str().unwrap());
    // The registry learns of the account from identity's announcement, a hand-off later.
    crate::support::wait_until("the entry to know of its account", || async {
        client.call(Method::GET, &path, Some("hayat.reception"), None).await.unwrap().1["has_account"] == true
    })
    .await;
    let (status, seen) = client.call(Method::GET, &path, Some("hayat.reception"), None).await.unwrap();
    assert_eq!((status, seen["channel"].as_str()), (200, Some("website")));
    assert!(seen["registered_on_hijri"].as_str().unwrap().starts_with("14"), "{seen}");
    assert_eq!(client.call(Method::GET, &path, Some("nuzul.reception"), None).await.unwrap().0, 404);
    assert_eq!(client.call(Method::GET, &path, None, None).await.unwrap().0, 401);

    // A request by the same national ID joins the same registry entry.
    let reception = &client.as_staff("hayat.reception").await.unwrap();
    let facts = masar::demo::HAYAT.facts_with(&[]);
    let draft = masar::demo::create_draft(reception, &masar::demo::HAYAT, "1000000115", "Fatima", "0551112233", facts)
        .await
        .unwrap();
    assert_eq!(draft["beneficiary_id"], fatima_entry);
    // Someone known from a request opens an account giving another mobile: the credentials
    // go to the registry's number, not to whoever typed the national ID.
    let known = masar::demo::create_draft(
        reception,
        &masar::demo::HAYAT,
        "1000000412",
        "Nasser",
        "0561110000",
        masar::demo::HAYAT.facts_with(&[]),
    )
    .await
    .unwrap();
    let other_phone = applicant("1000000412", "Nasser", "0569998888", "ar");
    let register = json!({ "association": "hayat", "channel": "website", "applicant": other_phone });
    let before = sent_texts().await.len();
    let (status, opened) = call(Method::POST, "/v1/accounts", None, register.clone()).await;
    assert_eq!((status, &opened), (202, &registered), "the same answer, with no stored number in it");
    let (to, _) = credentials_sent(client, before, &sent_texts).await;
    assert_eq!(to, "+966561110000", "the registry's number, not the typed one");
    assert!(known["beneficiary_id"].is_string());
    // Typing the ID again and again tells its holder only a few times a day.
    for _ in 0..5 {
        assert_eq!(call(Method::POST, "/v1/accounts", None, register.clone()).await.0, 202);
    }
    // Nor can anyone flood a number by typing ID after ID with it: three credentials SMS a day reach it.
    for _ in 0..5 {
        let stranger = applicant(&masar::demo::new_national_id(), "Huda", "0561112222", "ar");
        let flood = json!({ "association": "hayat", "channel": "website", "applicant": stranger });
        assert_eq!(call(Method::POST, "/v1/accounts", None, flood).await.0, 202);
    }
    let to_huda = |texts: &[String]| texts.iter().filter(|t| t.starts_with("+966561112222: ")).count();
    client
        .eventually("three credentials SMS to the number", || async {
            Ok((to_huda(&sent_texts().await) == 3).then_some(()))
        })
        .await
        .unwrap();
    password
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    let client = GatewayClient::new(&suite.gateway_url());
    let texts = || async { logged_sms(&data_dir) };
    let password = drive_accounts(&client, texts).await;
    // The one-time password is nowhere in the notification database: the message keeps it sealed.
    for file in ["notification.db", "notification.db-wal", "intake.db", "intake.db-wal"] {
        let bytes = std::fs::read(data_dir.join(file)).unwrap_or_default();
        assert!(!bytes.windows(password.len()).any(|w| w == password.as_bytes()), "{file}");
    }
    // While the username is there, so the check above looks in the right place.
    let username_stored = ["notification.db", "notification.db-wal"]
        .iter()
        .map(|f| std::fs::read(data_dir.join(f)).unwrap_or_default())
        .any(|bytes| bytes.windows(4).any(|w| w == b"hyt-"));
    assert!(username_stored);
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_distributed() {
    let distributed = distributed_suite().await;
    let client = GatewayClient::new(&distributed.suite.gateway_url());
    let texts = || async { distributed.sms.texts() };
    let password = drive_accounts(&client, texts).await;
    // Neither the stored message, the outbox, nor the stream holds it in clear.
    let db = masar_platform::db::Db::connect(&distributed.database.url, "notification").await.unwrap();
    let sql = masar_platform::db::Sql::new(
        "SELECT body, sealed_secret FROM messages WHERE event_type = 'account.opened' ORDER BY created_at",
    );
    // The last account's message is composed asynchronously, from the queue.
    // Fatima, the visitor reception registered, Nasser, and three of the five typed with one number.
    crate::support::wait_until("six credentials messages", || async {
        db.fetch_all(sql.clone()).await.unwrap().len() >= 6
    })
    .await;
    let rows = db.fetch_all(sql).await.unwrap();
    assert_eq!(rows.len(), 6, "one credentials SMS per account");
    for row in &rows {
        assert!(row.text("body").unwrap().contains(masar_notification::SECRET_PLACEHOLDER));
        assert!(!row.text("sealed_secret").unwrap().contains(&password));
    }
    let intake = masar_platform::db::Db::connect(&distributed.database.url, "intake").await.unwrap();
    let hashes = intake.fetch_all(masar_platform::db::Sql::new("SELECT password_hash FROM accounts")).await.unwrap();
    assert!(hashes.iter().all(|r| r.text("password_hash").unwrap().starts_with("$argon2id$")));
    let stream = crate::support::stream_contents(&distributed.prefix, "account.opened").await;
    assert!(!stream.is_empty() && !stream.windows(password.len()).any(|w| w == password.as_bytes()));
    distributed.stop().await;
}
