//! The bench's limits measure what they claim. pgbench's script of a
//! filing's writes runs on intake's tables as migrated today (a change of
//! schema breaks this test, not only the next `make bench`), one filing per
//! pgbench transaction, and leaves what a filing leaves: the request
//! submitted, its documents, its timeline, its outbox row and an audit
//! chain whose head is its last row.

use crate::support::{TestDatabase, temp_dir};
use sqlx::Connection as _;

#[tokio::test]
async fn pgbench_runs_a_filings_writes_on_intakes_tables_as_migrated() {
    let database = TestDatabase::create().await;
    let documents = vec!["national_id_copy".to_owned(), "ownership_deed".to_owned()];
    let rate = masar::bench::limits::pgbench(&database.url, 4, 2, &documents, &temp_dir()).await.unwrap();
    assert!(rate > 0.0, "{rate}");

    let mut db = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    let submitted = count("SELECT COUNT(*) FROM intake.service_requests WHERE status = 'submitted'");
    assert_eq!(submitted.fetch_one(&mut db).await.unwrap(), 4, "one request per filing");
    let documents = count("SELECT COUNT(*) FROM intake.request_documents");
    assert_eq!(documents.fetch_one(&mut db).await.unwrap(), 8);
    for table in ["intake.timeline_entries", "intake.outbox", "intake.audit_chain_heads"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut db).await.unwrap();
        assert_eq!(rows, 4, "{table}");
    }
    // Filed, two documents, submitted: four audit rows per case, its head on the last.
    let audited = count("SELECT COUNT(*) FROM intake.audit_log");
    assert_eq!(audited.fetch_one(&mut db).await.unwrap(), 16);
    let heads_behind = count(
        "SELECT COUNT(*) FROM intake.audit_chain_heads h WHERE h.hash <> \
         (SELECT hash FROM intake.audit_log l WHERE l.chain = h.chain ORDER BY seq DESC LIMIT 1)",
    );
    assert_eq!(heads_behind.fetch_one(&mut db).await.unwrap(), 0, "each chain's head follows its last row");
}
