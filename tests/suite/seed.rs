//! `masar seed` writes what the services themselves would have: the
//! product, started on a seeded installation, reads every stage's queue,
//! opens a seeded case's timeline (its personal data unsealed with the
//! installation's keys) and audit trail, and every audit chain verifies.
//! On the embedded files and on PostgreSQL alike.

use crate::support::{TestDatabase, distributed_settings, embedded_suite_in, redis_url, settings_of, temp_dir, unique};
use masar::demo::{GatewayClient, NUZUL};
use masar_platform::role::Role;

/// Enough cases for every queue of Nuzul's Riyadh branch to hold some (one in twenty is there).
const CASES: usize = 3000;

async fn the_product_reads_what_was_seeded(gateway: &str) {
    let client = GatewayClient::new(gateway);
    let pm = client.as_staff(NUZUL.project_manager).await.unwrap();
    let pending = pm.get("/v1/verification/pending?page_size=5", None).await.unwrap();
    let cases = pending["requests"].as_array().unwrap();
    assert!(!cases.is_empty(), "no seeded case in the project manager's queue: {pending}");
    let id = cases[0]["request_id"].as_str().unwrap();
    let timeline = pm.get(&format!("/v1/requests/{id}/timeline"), None).await.unwrap();
    assert_eq!(timeline["entries"][0]["status"], "submitted", "{timeline}");
    let branch = client.as_staff(NUZUL.branch_manager).await.unwrap();
    let trail = branch.get(&format!("/v1/requests/{id}/audit"), None).await.unwrap();
    assert!(trail["entries"].as_array().is_some_and(|e| e.len() >= 2), "{trail}");
    let researcher = client.as_staff("nuzul.researcher1").await.unwrap();
    let assignments = researcher.get("/v1/research/assignments?page_size=5", None).await.unwrap();
    assert!(assignments["assignments"].as_array().is_some_and(|a| !a.is_empty()), "{assignments}");
    let member = client.as_staff(NUZUL.committee[0]).await.unwrap();
    let agenda = member.get("/v1/committee/agenda?branch=riyadh", None).await.unwrap();
    assert!(agenda["items"].as_array().is_some_and(|i| !i.is_empty()), "{agenda}");
}

fn all_chains_hold(checks: &[(Role, masar_platform::audit::ChainCheck)]) {
    for (role, check) in checks {
        assert!(check.broken.is_none(), "{role}: {check:?}");
    }
    let intake = checks.iter().find(|(role, _)| *role == Role::Intake).map(|(_, c)| c).unwrap();
    assert!(intake.chains >= CASES, "one chain per seeded case: {intake:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_installation_reads_and_verifies_embedded() {
    let data_dir = temp_dir();
    let settings = settings_of([("MASAR_DATA_DIR", data_dir.to_str().unwrap())]);
    masar::seed::run(&settings, masar::seed::SeedOptions { cases: CASES }).await.unwrap();
    all_chains_hold(&masar::verify_audit_chains(&settings).await.unwrap());
    let suite = embedded_suite_in(&data_dir, &[]).await;
    the_product_reads_what_was_seeded(&suite.gateway_url()).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_installation_reads_and_verifies_distributed() {
    let database = TestDatabase::create().await;
    let settings = distributed_settings(&database.url, &redis_url(), &unique("seed"), &[]);
    // What an operator does before the first start; the seed then adds to the schemas.
    masar::migrate_distributed(&Role::SERVICES, &settings).await.unwrap();
    masar::seed::run(&settings, masar::seed::SeedOptions { cases: CASES }).await.unwrap();
    all_chains_hold(&masar::verify_audit_chains(&settings).await.unwrap());
    let distributed = crate::support::distributed_suite_on_database(database, &settings).await;
    the_product_reads_what_was_seeded(&distributed.suite.gateway_url()).await;
    distributed.stop().await;
}
