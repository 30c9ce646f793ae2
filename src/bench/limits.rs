//! The limits each shape is measured beside, on the same data shapes: a
//! filing's writes straight on SQLite through intake's store, the same
//! writes by pgbench on PostgreSQL, and the stream hop straight on Redis.

use crate::demo::{NUZUL, SAMPLE_PDF, new_national_id};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use masar_platform::config::Settings;
use std::time::Instant;

/// The limit beside Masar's rate: the writes one filing makes (the request,
/// each document's sealed file and row, the audit rows, the submission with
/// its timeline entry and its outbox row) through intake's own stores on a
/// fresh SQLite file and data folder, `concurrency` at a time, with no
/// gateway, no gRPC and no queue. Filings per second.
pub(super) async fn sqlite(filings: usize, concurrency: usize, documents: &[String]) -> anyhow::Result<f64> {
    use masar_domain::{ActorRole, Channel, Facts, Language, NationalId, SaudiMobile};
    use masar_platform::audit::{self, Actor, Subject, action};
    use masar_platform::messaging::Outbox;
    use masar_platform::role::Role;
    let data_dir = std::env::temp_dir().join(format!("masar-bench-limit-{}", uuid::Uuid::new_v4().simple()));
    let settings = Settings::from_map(
        [("MASAR_DATA_DIR".to_owned(), data_dir.to_str().context("a UTF-8 temp dir")?.to_owned())].into(),
    )?;
    let db = crate::role_database(Role::Intake, &settings).await?;
    let store = crate::intake_store(&db, &settings)?;
    let files = masar_intake::DocumentStore::new(crate::file_store(&settings)?, crate::personal_data(&settings, true)?);
    let outbox = Outbox::new();
    let actor = Actor {
        username: NUZUL.reception.into(),
        role: ActorRole::ReceptionOfficer,
        channel: audit::Channel::Gateway,
        correlation_id: String::new(),
        trace_id: String::new(),
    };
    let started = Instant::now();
    futures::stream::iter(0..filings)
        .map(|_| async {
            let now = chrono::Utc::now();
            let request_id = uuid::Uuid::now_v7();
            let new = masar_intake::NewRequest {
                request_id,
                reference: format!("NZL-{}", request_id.simple()),
                association: "nuzul".into(),
                branch: "riyadh".into(),
                service_type: NUZUL.service_type.into(),
                channel: Channel::Phone,
                national_id: NationalId::parse(&new_national_id())?,
                applicant_name: "مقدم الطلب".into(),
                mobile: SaudiMobile::parse("0551234567")?,
                language: Language::Arabic,
                description: String::new(),
                submitted_at: now,
                expected_decision_on: now.date_naive(),
                policy_version: 1,
                facts: Facts::default(),
                beneficiary_id: None,
                filed_by_account: None,
                // Sealed like a filing's (the pack asks for it).
                address: Some(masar_domain::Address {
                    city: NUZUL.address[0].into(),
                    district: NUZUL.address[1].into(),
                    street: NUZUL.address[2].into(),
                    short_address: String::new(),
                    location: None,
                }),
            };
            let subject = Subject::case(request_id, "nuzul", "riyadh");
            let mut tx = db.begin().await?;
            store.insert_request(&mut tx, &new).await?;
            audit::record(&mut tx, &actor, subject, action::REQUEST_FILED, "draft").await?;
            tx.commit().await?;
            for document in documents {
                let upload = masar_intake::StoredDocument {
                    attachment_id: uuid::Uuid::now_v7(),
                    request_id,
                    document: document.clone(),
                    file_name: format!("{document}.pdf"),
                    content_type: "application/pdf".into(),
                    size_bytes: SAMPLE_PDF.len() as u64,
                    sha256: String::new(),
                    object_key: format!("nuzul/{request_id}/{document}"),
                    issued_on: None,
                    expires_on: None,
                    uploaded_by: NUZUL.reception.into(),
                    uploaded_at: now,
                };
                files.put("nuzul", &upload.object_key, SAMPLE_PDF).await?;
                let mut tx = db.begin().await?;
                store.add_document(&mut tx, &upload).await?;
                audit::record(&mut tx, &actor, subject, action::DOCUMENT_UPLOADED, document).await?;
                tx.commit().await?;
            }
            let mut tx = db.begin().await?;
            let stored = store.request_in(&mut tx, request_id).await?.context("the request just stored")?;
            let attestation = masar_intake::Attestation { by: NUZUL.reception.into(), at: now, version: "v1".into() };
            store.mark_submitted(&mut tx, &stored, &attestation).await?;
            let entry = masar_intake::TimelineEntry::new(
                uuid::Uuid::now_v7(),
                masar_domain::CaseStatus::Submitted,
                ActorRole::ReceptionOfficer,
                now,
                "phone".into(),
            );
            store.record(&mut tx, request_id, &entry).await?;
            let submitted =
                masar_proto::events::v1::RequestSubmitted { case: Some(stored.case_ref()), ..Default::default() };
            outbox.append(&mut tx, &masar_proto::Event::RequestSubmitted(submitted)).await?;
            audit::record(&mut tx, &actor, subject, "request.submitted", "").await?;
            tx.commit().await?;
            anyhow::Ok(())
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let rate = filings as f64 / started.elapsed().as_secs_f64();
    db.close().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(rate)
}

/// One filing's writes on intake's schema as a pgbench script, one
/// transaction per call as intake makes them (the draft, each document, the
/// submission), with the same statements: the beneficiary's registry entry,
/// the request, each document replacing any before it, the audit rows and
/// their chain's head, the timeline, the case's trace and the outbox row.
fn pgbench_script(documents: &[String]) -> String {
    let audit = |action: &str| {
        format!(
            "INSERT INTO audit_chain_heads (chain, hash) VALUES (:rid, '') \
             ON CONFLICT (chain) DO UPDATE SET hash = audit_chain_heads.hash RETURNING hash;\n\
             INSERT INTO audit_log (request_id, association, branch, actor, actor_role, action, detail, channel, \
             correlation_id, trace_id, at, chain, prev_hash, hash) VALUES (:rid, 'nuzul', 'riyadh', 'reception', \
             'reception_officer', '{action}', '', 'gateway', '', '', now(), :rid, '', md5(random()::text));\n"
        )
    };
    let mut script = String::from(
        "SELECT gen_random_uuid() AS rid, md5(random()::text) AS nid, 'NZL-' || substr(md5(random()::text), 1, 12) AS ref \\gset\n\
         BEGIN;\n\
         SELECT beneficiary_id FROM beneficiaries WHERE association = 'nuzul' AND national_id_index = :nid;\n\
         INSERT INTO beneficiaries (beneficiary_id, association, national_id, full_name, name_key, mobile, \
         preferred_language, channel, registered_by, registered_at, national_id_index, mobile_index) VALUES \
         (gen_random_uuid(), 'nuzul', :nid, 'مقدم الطلب', 'مقدم الطلب', md5(random()::text), 'ar', 'phone', \
         'reception', now(), :nid, md5(random()::text));\n\
         INSERT INTO service_requests (request_id, reference, association, branch, service_type, channel, \
         national_id, applicant_name, mobile, preferred_language, description, status, submitted_at, \
         expected_decision_on, policy_version, facts, national_id_index, address) VALUES (:rid, :ref, 'nuzul', \
         'riyadh', 'roof_repair', 'phone', :nid, 'مقدم الطلب', md5(random()::text), 'ar', '', 'draft', now(), \
         current_date, 1, md5(random()::text), :nid, md5(random()::text));\n",
    );
    script += &audit("request.filed");
    script += "COMMIT;\n";
    for document in documents {
        script += &format!(
            "BEGIN;\n\
             SELECT request_id, status FROM service_requests WHERE request_id = :rid;\n\
             UPDATE request_documents SET replaced_at = now() WHERE request_id = :rid AND document = '{document}' \
             AND replaced_at IS NULL;\n\
             INSERT INTO request_documents (attachment_id, request_id, document, file_name, content_type, size_bytes, \
             sha256, object_key, uploaded_by, uploaded_at) VALUES (gen_random_uuid(), :rid, '{document}', \
             '{document}.pdf', 'application/pdf', {size}, md5(random()::text), 'nuzul/' || :ref || '/{document}', \
             'reception', now());\n",
            size = SAMPLE_PDF.len()
        );
        script += &audit("document.uploaded");
        script += "COMMIT;\n";
    }
    script += "BEGIN;\n\
         SELECT request_id, status FROM service_requests WHERE request_id = :rid;\n\
         UPDATE service_requests SET status = 'submitted', submitted_at = now(), expected_decision_on = current_date + 14, \
         policy_version = 1, facts = md5(random()::text), attested_by = 'reception', attested_at = now(), \
         attestation_version = 'v1' WHERE request_id = :rid AND status = 'draft';\n\
         INSERT INTO timeline_entries (entry_id, request_id, status, stage, actor_role, at, note) VALUES \
         (gen_random_uuid(), :rid, 'submitted', 'intake', 'reception_officer', now(), 'phone');\n\
         UPDATE service_requests SET status = (SELECT status FROM timeline_entries WHERE request_id = :rid \
         ORDER BY at DESC, entry_id DESC LIMIT 1) WHERE request_id = :rid;\n\
         SELECT headers FROM case_traces WHERE request_id = :rid;\n\
         INSERT INTO case_traces (request_id, headers, recorded_at) VALUES (:rid, '{\"traceparent\": \"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}', now()) ON CONFLICT DO NOTHING;\n\
         INSERT INTO outbox (event_id, event_type, payload, headers, created_at) VALUES (gen_random_uuid(), \
         'request.submitted', decode(repeat('ab', 600), 'hex'), '{\"traceparent\": \"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}', now());\n";
    script += &audit("request.submitted");
    script += "COMMIT;\n";
    script
}

/// pgbench running a filing's writes (see [`pgbench_script`]) on the empty
/// database at `url`, given intake's tables first, `concurrency` clients,
/// prepared statements as sqlx sends them. Filings per second.
pub async fn pgbench(
    url: &str,
    filings: usize,
    concurrency: usize,
    documents: &[String],
    dir: &std::path::Path,
) -> anyhow::Result<f64> {
    use masar_platform::role::Role;
    let settings = Settings::from_map([("DATABASE_URL".to_owned(), url.to_owned())].into())?;
    let db = crate::connect_database(Role::Intake, &settings).await?;
    crate::migrate(Role::Intake, &db).await?;
    db.close().await;
    let script = dir.join("filing.pgbench.sql");
    std::fs::write(&script, pgbench_script(documents))?;
    let clients = concurrency.max(1);
    let per_client = filings.div_ceil(clients).max(1);
    let pgbench = crate::processes::postgres_bin().map(|bin| bin.join("pgbench")).unwrap_or_else(|_| "pgbench".into());
    let output = tokio::process::Command::new(pgbench)
        .args(["-n", "-M", "prepared", "-c", &clients.to_string(), "-j", &super::cores().to_string()])
        .args(["-t", &per_client.to_string(), "-f"])
        .arg(&script)
        .arg(url)
        .env("PGOPTIONS", format!("-c search_path={}", Role::Intake.schema()))
        .output()
        .await
        .context("pgbench cannot start (make services installs PostgreSQL with it)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "pgbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let tps = stdout
        .lines()
        .find(|line| line.starts_with("tps = "))
        .and_then(|line| line.trim_start_matches("tps = ").split_whitespace().next()?.parse::<f64>().ok())
        .with_context(|| format!("no rate in pgbench's report: {stdout}"))?;
    Ok(tps)
}

/// What the stream hop straight on Redis came to.
pub(super) struct StreamHop {
    /// From XADD to the consumer's XACK of that entry, one entry in flight at a time.
    pub latencies: super::Latencies,
    /// Entries through the hop per second, `concurrency` producers at once.
    pub rate: f64,
}

/// The queue hop without Masar: producers XADD entries the size of a
/// filing's event to one stream while a consumer group reads them with a
/// blocking XREADGROUP and acknowledges each, as Masar's consumers do. First
/// `entries` one at a time, each timed from XADD to its XACK (the hop's
/// latency); then as many by `concurrency` producers at once (its rate). The
/// stream is removed afterwards.
pub(super) async fn stream_hop(
    url: &str,
    stream: &str,
    entries: usize,
    concurrency: usize,
) -> anyhow::Result<StreamHop> {
    use redis::AsyncCommands as _;
    use redis::streams::{StreamReadOptions, StreamReadReply};
    let client = redis::Client::open(url)?;
    let mut admin = client.get_multiplexed_async_connection().await?;
    let _: () = admin.xgroup_create_mkstream(stream, "limit", "$").await?;
    let epoch = Instant::now();
    let payload = vec![0xab_u8; 600];
    // The consumer reports each entry's hop as it acknowledges it.
    let (acked, mut hops) = tokio::sync::mpsc::unbounded_channel::<std::time::Duration>();
    let consumer = {
        let mut reader = client.get_multiplexed_async_connection().await?;
        let stream = stream.to_owned();
        tokio::spawn(async move {
            let options = StreamReadOptions::default().group("limit", "reader").count(100).block(1000);
            loop {
                let reply: StreamReadReply = reader.xread_options(&[&stream], &[">"], &options).await?;
                for entry in reply.keys.into_iter().flat_map(|key| key.ids) {
                    let _: i64 = reader.xack(&stream, "limit", &[&entry.id]).await?;
                    let sent: u64 = entry.get("sent").unwrap_or_default();
                    if acked.send(epoch.elapsed().saturating_sub(std::time::Duration::from_micros(sent))).is_err() {
                        return anyhow::Ok(());
                    }
                }
            }
        })
    };
    let add = |mut producer: redis::aio::MultiplexedConnection, payload: Vec<u8>| async move {
        let sent = epoch.elapsed().as_micros() as u64;
        let fields = [("sent", sent.to_string().into_bytes()), ("payload", payload)];
        let _: String = producer.xadd(stream, "*", &fields).await?;
        anyhow::Ok(())
    };
    let mut latencies = Vec::with_capacity(entries);
    for _ in 0..entries {
        add(admin.clone(), payload.clone()).await?;
        latencies.push(hops.recv().await.context("the stream's consumer stopped")?);
    }
    let started = Instant::now();
    futures::stream::iter(0..entries)
        .map(|_| add(admin.clone(), payload.clone()))
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    for _ in 0..entries {
        hops.recv().await.context("the stream's consumer stopped")?;
    }
    let rate = entries as f64 / started.elapsed().as_secs_f64();
    drop(hops);
    consumer.abort();
    let _: i64 = admin.del(stream).await?;
    Ok(StreamHop { latencies: super::Latencies::new(latencies), rate })
}
