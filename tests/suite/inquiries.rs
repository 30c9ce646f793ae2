//! Inquiries through the gateway, in both shapes: asked online or recorded
//! by reception, referred to the policy's referral role, answered on a
//! channel of its own, the answer sent by SMS; each with its own timeline.

use crate::support::{distributed_suite, embedded_suite, logged_sms};
use masar::demo::GatewayClient;
use reqwest::Method;
use serde_json::{Value, json};
use std::future::Future;

fn channels(inquiry: &Value) -> Vec<(String, String)> {
    inquiry["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["status"].as_str().unwrap().to_owned(), e["channel"].as_str().unwrap().to_owned()))
        .collect()
}

fn step(status: &str, channel: &str) -> (String, String) {
    (status.into(), channel.into())
}

async fn drive_inquiries<F, Fut>(client: &GatewayClient, sent_texts: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<String>>,
{
    let call = |method: Method, path: String, staff: Option<&'static str>, body: Option<Value>| async move {
        client.call(method, &path, staff, body).await.unwrap()
    };
    let question = "ما المستندات المطلوبة لطلب جهاز طبي؟";
    let online = json!({ "association": "hayat", "branch": "madinah", "channel": "website", "name": "Salma",
                         "mobile": "0553334455", "question": question });
    let (status, asked) = call(Method::POST, "/v1/inquiries".into(), None, Some(online.clone())).await;
    assert_eq!((status, asked["status"].as_str()), (201, Some("open")), "{asked}");
    assert!(asked["reference"].as_str().unwrap().starts_with("HYT-Q-"), "{asked}");
    assert_eq!(asked["mobile"], "+9665******55");
    let id = asked["inquiry_id"].as_str().unwrap().to_owned();

    // Bad input: a channel only reception records, an empty question, a bad mobile.
    let mut by_phone = online.clone();
    by_phone["channel"] = json!("phone");
    let (status, body) = call(Method::POST, "/v1/inquiries".into(), None, Some(by_phone)).await;
    assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("channel")), "{body}");
    let mut empty = online.clone();
    empty["question"] = json!("  ");
    empty["mobile"] = json!("0521234567");
    let (status, body) = call(Method::POST, "/v1/inquiries".into(), None, Some(empty)).await;
    let fields: Vec<_> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((status, fields), (400, vec!["mobile", "question"]));

    // Reception sees it, and refers it: the procedure is the health administration manager's to explain.
    let queue = client.get("/v1/inquiries", Some("hayat.reception")).await.unwrap();
    assert!(queue["inquiries"].as_array().unwrap().iter().any(|i| i["inquiry_id"] == id.as_str()), "{queue}");
    let refer = format!("/v1/inquiries/{id}/refer");
    let (status, referred) = call(Method::POST, refer.clone(), Some("hayat.reception"), Some(json!({}))).await;
    assert_eq!((status, referred["referred_to"].as_str()), (200, Some("health_administration_manager")), "{referred}");
    let (status, _) = call(Method::POST, refer, Some("hayat.reception"), Some(json!({}))).await;
    assert_eq!(status, 409, "referred once");
    let answer = format!("/v1/inquiries/{id}/answer");
    let reply = "التقرير الطبي وعرض السعر وصورة الهوية.";
    let (status, _) =
        call(Method::POST, answer.clone(), Some("hayat.reception"), Some(json!({ "answer": reply }))).await;
    assert_eq!(status, 403, "a referred inquiry is the referral role's to answer");
    let theirs = client.get("/v1/inquiries?status=referred", Some("hayat.referral")).await.unwrap();
    assert_eq!(theirs["inquiries"].as_array().unwrap().len(), 1, "{theirs}");
    let (status, body) =
        call(Method::POST, answer.clone(), Some("hayat.referral"), Some(json!({ "answer": "" }))).await;
    assert_eq!((status, body["fields"][0]["field"].as_str()), (400, Some("answer")));
    let (status, answered) = call(
        Method::POST,
        answer.clone(),
        Some("hayat.referral"),
        Some(json!({ "answer": reply, "channel": "phone" })),
    )
    .await;
    assert_eq!((status, answered["status"].as_str()), (200, Some("answered")), "{answered}");
    assert_eq!(channels(&answered), [step("open", "website"), step("referred", "website"), step("answered", "phone")]);
    assert_eq!(answered["timeline"][2]["actor_role"], "health_administration_manager");
    assert!(answered["timeline"][0]["on_hijri"].as_str().unwrap().starts_with("14"));
    let (status, _) = call(Method::POST, answer, Some("hayat.referral"), Some(json!({ "answer": reply }))).await;
    assert_eq!(status, 409, "answered once");
    // Asked without an account, the answer reaches the asker by SMS in Arabic; the id alone shows nothing.
    let (status, _) = call(Method::GET, format!("/v1/inquiries/{id}"), None, None).await;
    assert_eq!(status, 401);
    let reference = asked["reference"].as_str().unwrap().to_owned();
    client
        .eventually("the answer by SMS", || async {
            Ok(sent_texts().await.iter().any(|t| t.contains(&reference) && t.contains(reply)).then_some(()))
        })
        .await
        .unwrap();

    // Reception records a phone call for Nuzul and answers it at once; no mobile, no SMS.
    let call_in = json!({ "association": "nuzul", "branch": "riyadh", "channel": "phone", "name": "Abu Khalid",
                          "question": "When does the committee meet?" });
    let (status, recorded) = call(Method::POST, "/v1/inquiries".into(), Some("nuzul.reception"), Some(call_in)).await;
    assert_eq!((status, recorded["timeline"][0]["actor_role"].as_str()), (201, Some("reception_officer")));
    let nuzul_id = recorded["inquiry_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/inquiries/{nuzul_id}");
    assert_eq!(call(Method::GET, path.clone(), Some("hayat.reception"), None).await.0, 404);
    let (status, done) = call(
        Method::POST,
        format!("{path}/answer"),
        Some("nuzul.reception"),
        Some(json!({ "answer": "Every two weeks." })),
    )
    .await;
    assert_eq!((status, channels(&done)), (200, vec![step("open", "phone"), step("answered", "phone")]));
    let (status, _) = call(Method::POST, "/v1/inquiries".into(), Some("nuzul.pm"), Some(online)).await;
    assert_eq!(status, 403, "project managers do not take inquiries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inquiries_embedded() {
    let (suite, data_dir) = embedded_suite().await;
    let client = GatewayClient::new(&suite.gateway_url());
    let texts = || async { logged_sms(&data_dir) };
    drive_inquiries(&client, texts).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inquiries_distributed() {
    let distributed = distributed_suite().await;
    let client = GatewayClient::new(&distributed.suite.gateway_url());
    let texts = || async { distributed.sms.texts() };
    drive_inquiries(&client, texts).await;
    distributed.stop().await;
}
