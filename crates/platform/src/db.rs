//! One SQL layer over PostgreSQL and SQLite, so each store's queries are
//! written once. SQLite accepts Postgres-style `$1` placeholders; the few
//! dialect differences are asked of [`Db::backend`]. (sqlx's `Any` driver
//! would do this, but has no UUID, timestamp or JSON types.)
//!
//! On PostgreSQL each service lives in its own schema of one database; on
//! SQLite each service has its own file.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Connection as _, Postgres, Row as _, Sqlite};
use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (expected postgres:// or sqlite:)")]
    UnsupportedUrl,
    #[error("column {column} holds a value that does not decode: {reason}")]
    Decode { column: String, reason: String },
}

impl DbError {
    /// True when an insert hit a unique constraint (e.g. a duplicate event id).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Sql(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The name OpenTelemetry's `db.system` gives it.
    pub fn system(self) -> &'static str {
        match self {
            Self::Postgres => "postgresql",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A pool on either backend.
#[derive(Clone, Debug)]
pub enum Db {
    /// The pool, and the schema it works in.
    Postgres(PgPool, Arc<str>),
    /// The pool, and the lane its writers queue in (see [`Db::begin`]).
    Sqlite(SqlitePool, Arc<WriterLane>),
}

/// The one writer of a SQLite file at a time, in turn; named for its metrics.
pub struct WriterLane {
    database: String,
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Its series of `masar_sqlite_writer_seconds_total`, looked up once, not at every turn.
    waiting: prometheus::Counter,
    writing: prometheus::Counter,
    committing: prometheus::Counter,
}

/// A writer's turn in the lane, counted as `writing` until it ends.
pub struct WriterTurn {
    _held: tokio::sync::OwnedMutexGuard<()>,
    lane: Arc<WriterLane>,
    since: std::time::Instant,
}

impl std::fmt::Debug for WriterLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterLane").field("database", &self.database).finish_non_exhaustive()
    }
}

impl WriterLane {
    fn new(database: &str) -> Self {
        let seconds =
            |phase: &str| crate::metrics::metrics().sqlite_writer_seconds.with_label_values(&[database, phase]);
        Self {
            database: database.to_owned(),
            turn: Arc::default(),
            waiting: seconds("waiting"),
            writing: seconds("writing"),
            committing: seconds("committing"),
        }
    }

    async fn take_turn(self: &Arc<Self>) -> WriterTurn {
        let asked = std::time::Instant::now();
        let held = self.turn.clone().lock_owned().await;
        let since = std::time::Instant::now();
        self.waiting.inc_by((since - asked).as_secs_f64());
        WriterTurn { _held: held, lane: self.clone(), since }
    }
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        self.lane.writing.inc_by(self.since.elapsed().as_secs_f64());
    }
}

/// A pooled PostgreSQL connection idle this long is pinged before it is handed
/// out again (the server may have restarted or dropped it meanwhile).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// An open transaction on either backend.
pub enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    /// Holds the writers' lane until it ends.
    Sqlite(sqlx::Transaction<'static, Sqlite>, WriterTurn),
}

impl Db {
    /// Connects to `url` (postgres://… or sqlite:…). On PostgreSQL, `schema`
    /// becomes the search path, so a service sees only its own tables.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?.options([("search_path", schema)]);
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                // sqlx pings every connection it hands out, a round trip per statement outside a
                // transaction; a connection back from work a moment ago was pinged on its release.
                .test_before_acquire(false)
                .before_acquire(|connection, meta| {
                    Box::pin(async move { Ok(meta.idle_for < PING_IF_IDLE_FOR || connection.ping().await.is_ok()) })
                })
                .connect_with(options)
                .await?;
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))).execute(&pool).await?;
            Ok(Self::Postgres(pool, schema.into()))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            // One writer at a time is SQLite's nature; a small pool keeps readers concurrent.
            // A file does not hang up: the ping sqlx sends before handing out a connection is
            // only a hand-off to its thread and back.
            let pool =
                SqlitePoolOptions::new().max_connections(4).test_before_acquire(false).connect_with(options).await?;
            let lane = WriterLane::new(schema);
            Ok(Self::Sqlite(pool, Arc::new(lane)))
        } else {
            Err(DbError::UnsupportedUrl)
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(..) => Backend::Postgres,
            Self::Sqlite(..) => Backend::Sqlite,
        }
    }

    /// Which service's database this is: its schema, or its SQLite file's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Postgres(_, schema) => schema,
            Self::Sqlite(_, lane) => &lane.database,
        }
    }

    /// About how many rows `table` holds (PostgreSQL's statistics; a count on
    /// SQLite); none when this database has no such table.
    pub async fn table_rows(&self, table: &str) -> Result<Option<i64>, DbError> {
        let sql = match self.backend() {
            Backend::Postgres => Sql::new(
                "SELECT c.reltuples::bigint AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace \
                 WHERE c.relname = $1 AND s.nspname = current_schema() AND c.relkind = 'r'",
            ),
            Backend::Sqlite => Sql::new("SELECT name AS n FROM sqlite_master WHERE type = 'table' AND name = $1"),
        };
        let Some(row) = self.fetch_optional(sql.bind(table)).await? else { return Ok(None) };
        match self.backend() {
            Backend::Postgres => Ok(Some(row.int("n")?)),
            Backend::Sqlite => {
                // The name is one sqlite_master holds, so it is a table's own, safe to write into the count.
                let name = row.text("n")?.replace('"', "");
                let count =
                    Sql { text: Cow::Owned(format!("SELECT COUNT(*) AS n FROM \"{name}\"")), values: Vec::new() };
                self.fetch_optional(count).await?.map(|row| row.int("n")).transpose()
            }
        }
    }

    /// Applies the migrations written for this database's backend, tracked
    /// in their own table so the platform's messaging tables and the
    /// service's tables can share a schema.
    pub async fn migrate(
        &self,
        postgres: &Migrator,
        sqlite: &Migrator,
        table: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Result<(), DbError> {
        let chosen = match self {
            Self::Postgres(..) => postgres,
            Self::Sqlite(..) => sqlite,
        };
        let mut migrator = Migrator::with_migrations(chosen.iter().cloned().collect());
        migrator.dangerous_set_table_name(table);
        match self {
            Self::Postgres(pool, _) => migrator.run(pool).await?,
            Self::Sqlite(pool, _) => migrator.run(pool).await?,
        }
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx, DbError> {
        crate::metrics::metrics().db_statements.with_label_values(&[self.backend().system(), "BEGIN"]).inc();
        Ok(match self {
            Self::Postgres(pool, _) => Tx::Postgres(pool.begin().await?),
            // One writer at a time is SQLite's rule. Writers queue here, in turn,
            // rather than in SQLite's busy handler, which sleeps 1, 2, 5, … 100 ms
            // between tries and turned contention into latency (issue 14); the
            // lane comes first, so waiting writers hold no connection readers need.
            // IMMEDIATE still takes the write lock up front, for another process on
            // the same file: a deferred transaction that reads and then writes fails
            // at once with SQLITE_BUSY when another connection committed in between.
            Self::Sqlite(pool, lane) => {
                let turn = lane.take_turn().await;
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
        })
    }

    /// Runs one statement outside an explicit transaction.
    pub async fn execute(&self, sql: Sql) -> Result<u64, DbError> {
        let mut tx = self.begin().await?;
        let affected = tx.execute(sql).await?;
        tx.commit().await?;
        Ok(affected)
    }

    pub async fn fetch_all(&self, sql: Sql) -> Result<Vec<Row>, DbError> {
        self.capture(&sql);
        let span = sql.span(self.backend());
        Ok(match self {
            Self::Postgres(pool, _) => {
                sql.postgres().fetch_all(pool).instrument(span).await?.into_iter().map(Row::Postgres).collect()
            }
            Self::Sqlite(pool, _) => {
                sql.sqlite().fetch_all(pool).instrument(span).await?.into_iter().map(Row::Sqlite).collect()
            }
        })
    }

    pub async fn fetch_optional(&self, sql: Sql) -> Result<Option<Row>, DbError> {
        self.capture(&sql);
        let span = sql.span(self.backend());
        Ok(match self {
            Self::Postgres(pool, _) => sql.postgres().fetch_optional(pool).instrument(span).await?.map(Row::Postgres),
            Self::Sqlite(pool, _) => sql.sqlite().fetch_optional(pool).instrument(span).await?.map(Row::Sqlite),
        })
    }

    /// Keeps a read while [`capture_reads`] is on.
    fn capture(&self, sql: &Sql) {
        if CAPTURING.load(std::sync::atomic::Ordering::Relaxed) {
            CAPTURED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((self.clone(), sql.clone()));
        }
    }

    /// How the backend would run `sql`: the plan's lines, outermost first.
    pub async fn plan(&self, sql: &Sql) -> Result<Vec<String>, DbError> {
        let rows = self.fetch_all(sql.explained(self.backend())).await?;
        let column = match self.backend() {
            Backend::Postgres => "QUERY PLAN",
            Backend::Sqlite => "detail",
        };
        rows.iter().map(|row| row.text(column)).collect()
    }

    pub async fn close(&self) {
        match self {
            Self::Postgres(pool, _) => pool.close().await,
            Self::Sqlite(pool, _) => pool.close().await,
        }
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(..) => Backend::Sqlite,
        }
    }

    /// Runs a statement; returns the number of rows it touched.
    pub async fn execute(&mut self, sql: Sql) -> Result<u64, DbError> {
        let span = sql.span(self.backend());
        Ok(match self {
            Self::Postgres(tx) => sql.postgres().execute(&mut **tx).instrument(span).await?.rows_affected(),
            Self::Sqlite(tx, _) => sql.sqlite().execute(&mut **tx).instrument(span).await?.rows_affected(),
        })
    }

    pub async fn fetch_all(&mut self, sql: Sql) -> Result<Vec<Row>, DbError> {
        let span = sql.span(self.backend());
        Ok(match self {
            Self::Postgres(tx) => {
                sql.postgres().fetch_all(&mut **tx).instrument(span).await?.into_iter().map(Row::Postgres).collect()
            }
            Self::Sqlite(tx, _) => {
                sql.sqlite().fetch_all(&mut **tx).instrument(span).await?.into_iter().map(Row::Sqlite).collect()
            }
        })
    }

    pub async fn fetch_optional(&mut self, sql: Sql) -> Result<Option<Row>, DbError> {
        let span = sql.span(self.backend());
        Ok(match self {
            Self::Postgres(tx) => sql.postgres().fetch_optional(&mut **tx).instrument(span).await?.map(Row::Postgres),
            Self::Sqlite(tx, _) => sql.sqlite().fetch_optional(&mut **tx).instrument(span).await?.map(Row::Sqlite),
        })
    }

    pub async fn commit(self) -> Result<(), DbError> {
        crate::metrics::metrics().db_statements.with_label_values(&[self.backend().system(), "COMMIT"]).inc();
        match self {
            Self::Postgres(tx) => tx.commit().await?,
            Self::Sqlite(tx, turn) => {
                // Part of the turn, timed apart: the WAL's sync to disk is here.
                let committing = std::time::Instant::now();
                tx.commit().await?;
                turn.lane.committing.inc_by(committing.elapsed().as_secs_f64());
            }
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), DbError> {
        match self {
            Self::Postgres(tx) => tx.rollback().await?,
            Self::Sqlite(tx, _) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub enum Value {
    Uuid(Uuid),
    OptionalUuid(Option<Uuid>),
    Text(Option<String>),
    Int(i64),
    Time(DateTime<Utc>),
    OptionalTime(Option<DateTime<Utc>>),
    Date(NaiveDate),
    OptionalDate(Option<NaiveDate>),
    Bytes(Vec<u8>),
    Json(serde_json::Value),
}

impl From<Uuid> for Value {
    fn from(v: Uuid) -> Self {
        Self::Uuid(v)
    }
}
impl From<Option<Uuid>> for Value {
    fn from(v: Option<Uuid>) -> Self {
        Self::OptionalUuid(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Self::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Self::Text(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
/// Sizes and versions: stored as BIGINT, which none of them outgrows.
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Self::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Self {
        Self::Time(v)
    }
}
impl From<Option<DateTime<Utc>>> for Value {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Self::OptionalTime(v)
    }
}
impl From<NaiveDate> for Value {
    fn from(v: NaiveDate) -> Self {
        Self::Date(v)
    }
}
impl From<Option<NaiveDate>> for Value {
    fn from(v: Option<NaiveDate>) -> Self {
        Self::OptionalDate(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(v)
    }
}
impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        Self::Json(v)
    }
}

static CAPTURING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static CAPTURED: std::sync::Mutex<Vec<(Db, Sql)>> = std::sync::Mutex::new(Vec::new());

/// While on, every read made outside a transaction in this process is kept
/// with the pool it ran on, so `masar bench` can ask each for its plan (the
/// statements the product runs, not copies of them). Off, it costs one load.
pub fn capture_reads(on: bool) {
    CAPTURING.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The reads kept since capturing began (each text once per database), emptied.
pub fn captured_reads() -> Vec<(Db, Sql)> {
    let mut captured = std::mem::take(&mut *CAPTURED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    let mut seen = std::collections::HashSet::new();
    captured.retain(|(db, sql)| seen.insert((db.name().to_owned(), sql.text.to_string())));
    captured
}

/// A statement with its bound values: `Sql::new("… $1 …").bind(x)`.
#[derive(Debug, Clone)]
pub struct Sql {
    /// Written in the code; built only by the constructors below, from written parts.
    text: Cow<'static, str>,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(text: &'static str) -> Self {
        Self { text: Cow::Borrowed(text), values: Vec::new() }
    }

    /// One INSERT of `rows` rows into `table`'s `columns`, for bulk loads
    /// (`masar seed`); bind each row's values in column order.
    pub fn insert_rows(table: &'static str, columns: &'static [&'static str], rows: usize) -> Self {
        let width = columns.len();
        let tuples: Vec<String> = (0..rows)
            .map(|row| {
                let placeholders: Vec<String> =
                    (1..=width).map(|column| format!("${}", row * width + column)).collect();
                format!("({})", placeholders.join(", "))
            })
            .collect();
        let text = format!("INSERT INTO {table} ({}) VALUES {}", columns.join(", "), tuples.join(", "));
        Self { text: Cow::Owned(text), values: Vec::with_capacity(rows * width) }
    }

    /// `head`, then `count` placeholders `$1, $2, …`, then `tail`: a
    /// statement about a list (`… WHERE id IN (` … `)`); bind each item in turn.
    pub fn listing(head: &'static str, count: usize, tail: &'static str) -> Self {
        Self::listing_after(head, 0, count, tail)
    }

    /// The same after `before` placeholders of `head`'s own (`… association = $1
    /// AND researcher IN (`): the list's are numbered from `$before+1`; bind
    /// `head`'s values first.
    pub fn listing_after(head: &'static str, before: usize, count: usize, tail: &'static str) -> Self {
        let placeholders: Vec<String> = (before + 1..=before + count).map(|n| format!("${n}")).collect();
        Self { text: Cow::Owned(format!("{head}{}{tail}", placeholders.join(", "))), values: Vec::with_capacity(count) }
    }

    /// The plan of this statement with its values, as the backend would run
    /// it (`EXPLAIN` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite).
    fn explained(&self, backend: Backend) -> Self {
        let prefix = match backend {
            Backend::Postgres => "EXPLAIN",
            Backend::Sqlite => "EXPLAIN QUERY PLAN",
        };
        Self { text: Cow::Owned(format!("{prefix} {}", self.text)), values: self.values.clone() }
    }

    /// A client span for this statement, named after its operation
    /// (`SELECT`, `INSERT`, …; the bound values never appear). Only within a
    /// call's or a message's span: the idle polling of background loops
    /// would otherwise flood the traces with root spans.
    fn span(&self, backend: Backend) -> tracing::Span {
        // Written in capitals here, so counting a statement allocates nothing on this hot path.
        let operation: Cow<'static, str> = match &self.text {
            Cow::Borrowed(text) => {
                let word = text.split_whitespace().next().unwrap_or_default();
                if word.bytes().any(|b| b.is_ascii_lowercase()) {
                    word.to_ascii_uppercase().into()
                } else {
                    word.into()
                }
            }
            // Built statements (bulk loads, plans) are rare.
            Cow::Owned(text) => text.split_whitespace().next().unwrap_or_default().to_ascii_uppercase().into(),
        };
        let system = backend.system();
        crate::metrics::metrics().db_statements.with_label_values(&[system, &operation]).inc();
        if tracing::Span::current().is_none() {
            return tracing::Span::none();
        }
        tracing::info_span!(
            "db.query",
            otel.name = %operation,
            otel.kind = "client",
            db.system = system,
            db.operation = %operation,
        )
    }

    /// The statement as written (never its values).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.values.push(value.into());
        self
    }

    fn postgres(self) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
        self.values.into_iter().fold(sqlx::query(AssertSqlSafe(self.text)), |q, value| match value {
            Value::Uuid(v) => q.bind(v),
            Value::OptionalUuid(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Int(v) => q.bind(v),
            Value::Time(v) => q.bind(v),
            Value::OptionalTime(v) => q.bind(v),
            Value::Date(v) => q.bind(v),
            Value::OptionalDate(v) => q.bind(v),
            Value::Bytes(v) => q.bind(v),
            Value::Json(v) => q.bind(sqlx::types::Json(v)),
        })
    }

    /// SQLite keeps UUIDs, dates and JSON as readable text.
    fn sqlite(self) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments> {
        self.values.into_iter().fold(sqlx::query(AssertSqlSafe(self.text)), |q, value| match value {
            Value::Uuid(v) => q.bind(v.to_string()),
            Value::OptionalUuid(v) => q.bind(v.map(|id| id.to_string())),
            Value::Text(v) => q.bind(v),
            Value::Int(v) => q.bind(v),
            Value::Time(v) => q.bind(v),
            Value::OptionalTime(v) => q.bind(v),
            Value::Date(v) => q.bind(v.to_string()),
            Value::OptionalDate(v) => q.bind(v.map(|d| d.to_string())),
            Value::Bytes(v) => q.bind(v),
            Value::Json(v) => q.bind(v.to_string()),
        })
    }
}

/// A result row from either backend, read by column name.
pub enum Row {
    Postgres(PgRow),
    Sqlite(SqliteRow),
}

fn decode_error(column: &str, reason: impl ToString) -> DbError {
    DbError::Decode { column: column.to_owned(), reason: reason.to_string() }
}

impl Row {
    pub fn uuid(&self, column: &str) -> Result<Uuid, DbError> {
        match self {
            Self::Postgres(row) => Ok(row.try_get(column)?),
            Self::Sqlite(row) => {
                let text: String = row.try_get(column)?;
                Uuid::parse_str(&text).map_err(|e| decode_error(column, e))
            }
        }
    }

    pub fn optional_uuid(&self, column: &str) -> Result<Option<Uuid>, DbError> {
        match self {
            Self::Postgres(row) => Ok(row.try_get(column)?),
            Self::Sqlite(row) => {
                let text: Option<String> = row.try_get(column)?;
                text.map(|t| Uuid::parse_str(&t).map_err(|e| decode_error(column, e))).transpose()
            }
        }
    }

    pub fn text(&self, column: &str) -> Result<String, DbError> {
        Ok(match self {
            Self::Postgres(row) => row.try_get(column)?,
            Self::Sqlite(row) => row.try_get(column)?,
        })
    }

    pub fn optional_text(&self, column: &str) -> Result<Option<String>, DbError> {
        Ok(match self {
            Self::Postgres(row) => row.try_get(column)?,
            Self::Sqlite(row) => row.try_get(column)?,
        })
    }

    /// A text column read through a domain parser, e.g. `row.parsed("status", CaseStatus::parse)`.
    pub fn parsed<T, E: std::fmt::Display>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, DbError> {
        parse(&self.text(column)?).map_err(|e| decode_error(column, e))
    }

    pub fn int(&self, column: &str) -> Result<i64, DbError> {
        Ok(match self {
            Self::Postgres(row) => row.try_get(column)?,
            Self::Sqlite(row) => row.try_get(column)?,
        })
    }

    /// A non-negative integer column as the unsigned type it stands for (a version, a size).
    pub fn unsigned<T>(&self, column: &str) -> Result<T, DbError>
    where
        T: TryFrom<i64>,
        T::Error: std::fmt::Display,
    {
        T::try_from(self.int(column)?).map_err(|e| decode_error(column, e))
    }

    pub fn time(&self, column: &str) -> Result<DateTime<Utc>, DbError> {
        Ok(match self {
            Self::Postgres(row) => row.try_get(column)?,
            Self::Sqlite(row) => row.try_get(column)?,
        })
    }

    pub fn optional_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, DbError> {
        Ok(match self {
            Self::Postgres(row) => row.try_get(column)?,
            Self::Sqlite(row) => row.try_get(column)?,
        })
    }

    pub fn date(&self, column: &str) -> Result<NaiveDate, DbError> {
        match self {
            Self::Postgres(row) => Ok(row.try_get(column)?),
            Self::Sqlite(row) => {
                let text: String = row.try_get(column)?;
                NaiveDate::from_str(&text).map_err(|e| decode_error(column, e))
            }
        }
    }

    pub fn optional_date(&self, column: &str) -> Result<Option<NaiveDate>, DbError> {
        match self {
            Self::Postgres(row) => Ok(row.try_get(column)?),
            Self::Sqlite(row) => {
                let text: Option<String> = row.try_get(column)?;
                text.map(|t| NaiveDate::from_str(&t).map_err(|e| decode_error(column, e))).transpose()
            }
        }
    }

    pub fn bytes(&self, column: &str) -> Result<Vec<u8>, DbError> {
        Ok(match self {
            Self::Postgres(row) => row.try_get(column)?,
            Self::Sqlite(row) => row.try_get(column)?,
        })
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> Result<T, DbError> {
        let value: serde_json::Value = match self {
            Self::Postgres(row) => row.try_get::<sqlx::types::Json<serde_json::Value>, _>(column)?.0,
            Self::Sqlite(row) => {
                let text: String = row.try_get(column)?;
                serde_json::from_str(&text).map_err(|e| decode_error(column, e))?
            }
        };
        serde_json::from_value(value).map_err(|e| decode_error(column, e))
    }
}
