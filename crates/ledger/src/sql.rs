//! One face over the two ledger databases, so the ledger's SQL and its money logic are written
//! once (`ledger_sql`, `jackpot_sql`) and run on SQLite (embedded) and PostgreSQL (cluster).
//!
//! Statements use `$N` placeholders, numbered in order of first appearance (SQLite reads `$N`
//! as a named parameter and numbers them that way; PostgreSQL by the number), and only SQL both
//! dialects accept: `ON CONFLICT … DO NOTHING`, `RETURNING`, `CAST(… AS BIGINT)`. Rows come back
//! materialised as a few plain values: ledger rows are small and this keeps both back ends equal.

use rusqlite::types::ValueRef;
use sqlx::{Column, Row as _, TypeInfo};

use super::chain::{Chains, Field, OwnedField};
use super::ledger::LedgerError;
use super::limits::Watched;

/// A bound parameter.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    I64(i64),
    Str(&'a str),
    OptStr(Option<&'a str>),
    OptI64(Option<i64>),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::I64(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Str(v)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Str(v.as_str())
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::OptStr(v)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::OptI64(v)
    }
}

/// `args![a, b, c]`: a parameter list for [`SqlTx`].
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        &[$($crate::sql::Arg::from($x)),*] as &[$crate::sql::Arg<'_>]
    };
}
pub(crate) use args;

impl<'a> Arg<'a> {
    /// The value as the chain hashes it ([`super::chain`]): exactly what is bound.
    pub fn field(&self) -> Field<'a> {
        match *self {
            Arg::I64(v) | Arg::OptI64(Some(v)) => Field::Int(v),
            Arg::Str(v) | Arg::OptStr(Some(v)) => Field::Text(v),
            Arg::OptStr(None) | Arg::OptI64(None) => Field::Null,
        }
    }
}

/// A column value as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    I64(i64),
    Text(String),
    Null,
}

impl Value {
    /// The value as the chain hashes it: exactly what was read.
    pub fn field(&self) -> OwnedField {
        match self {
            Value::I64(v) => OwnedField::Int(*v),
            Value::Text(t) => OwnedField::Text(t.clone()),
            Value::Null => OwnedField::Null,
        }
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Value>);

fn bad(column: usize, want: &str, got: &Value) -> LedgerError {
    LedgerError::Invariant(format!("column {column}: expected {want}, got {got:?}"))
}

impl Row {
    pub fn i64(&self, i: usize) -> Result<i64, LedgerError> {
        match self.0.get(i) {
            Some(Value::I64(v)) => Ok(*v),
            Some(other) => Err(bad(i, "an integer", other)),
            None => Err(bad(i, "an integer", &Value::Null)),
        }
    }

    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, LedgerError> {
        match self.0.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.i64(i).map(Some),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, LedgerError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(v.clone()),
            Some(other) => Err(bad(i, "text", other)),
            None => Err(bad(i, "text", &Value::Null)),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, LedgerError> {
        match self.0.get(i) {
            Some(Value::Null) => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
}

/// A transaction (or a read-only connection) of either database. Native `async fn` in the
/// trait: the ledger logic is generic over it, so its futures are `Send` exactly when the
/// back end's are (PostgreSQL), and SQLite's never wait at all.
pub(crate) trait SqlTx {
    /// Runs a statement; the number of rows it changed.
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, LedgerError>;
    /// The first row, if any.
    async fn row(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, LedgerError>;
    async fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, LedgerError>;
    /// Appended to a SELECT that must lock the rows it reads until commit (PostgreSQL);
    /// SQLite has one writer and no row locks.
    fn lock_rows(&self) -> &'static str;
    /// The chains this transaction extends ([`Chains`]): part of the transaction's handle, so
    /// it is born and dropped with it, and every write path shares it without plumbing.
    fn chains(&mut self) -> &mut Chains;
    /// The players with limits this transaction has met ([`Watched`]): born and dropped
    /// with the transaction, like [`SqlTx::chains`].
    fn watched(&mut self) -> &mut Watched;
    /// Appended to a text column in `ORDER BY` or a comparison to order by bytes, as Rust
    /// sorts strings: SQLite's default; PostgreSQL's database collation may be a locale's.
    fn byte_order(&self) -> &'static str;
}

/// SQLite through rusqlite: a transaction's connection (or a reader's). Never awaits.
pub(crate) struct LiteTx<'c>(pub &'c rusqlite::Connection, pub Chains, pub Watched);

impl<'c> LiteTx<'c> {
    pub fn new(conn: &'c rusqlite::Connection) -> Self {
        LiteTx(conn, Chains::default(), Watched::default())
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::I64(v) => v.to_sql(),
            Arg::Str(v) => v.to_sql(),
            Arg::OptStr(v) => v.to_sql(),
            Arg::OptI64(v) => v.to_sql(),
        }
    }
}

fn lite_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    args: &[Arg<'_>],
    limit: Option<usize>,
) -> Result<Vec<Row>, LedgerError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::I64(v),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                other => {
                    return Err(LedgerError::Invariant(format!(
                        "column {i}: unexpected {:?}",
                        other.data_type()
                    )))
                }
            });
        }
        out.push(Row(values));
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    Ok(out)
}

impl SqlTx for LiteTx<'_> {
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, LedgerError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(args.iter()))? as u64)
    }

    async fn row(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, LedgerError> {
        Ok(lite_rows(self.0, sql, args, Some(1))?.pop())
    }

    async fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, LedgerError> {
        lite_rows(self.0, sql, args, None)
    }

    fn lock_rows(&self) -> &'static str {
        ""
    }

    fn chains(&mut self) -> &mut Chains {
        &mut self.1
    }

    fn watched(&mut self) -> &mut Watched {
        &mut self.2
    }

    fn byte_order(&self) -> &'static str {
        ""
    }
}

/// PostgreSQL through sqlx: a connection, inside a transaction for writes.
pub(crate) struct PgTx<'c>(pub &'c mut sqlx::PgConnection, pub Chains, pub Watched);

impl<'c> PgTx<'c> {
    pub fn new(conn: &'c mut sqlx::PgConnection) -> Self {
        PgTx(conn, Chains::default(), Watched::default())
    }
}

fn pg_query<'q>(
    sql: &'q str,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match *a {
            Arg::I64(v) => q.bind(v),
            Arg::Str(v) => q.bind(v),
            Arg::OptStr(v) => q.bind(v),
            Arg::OptI64(v) => q.bind(v),
        };
    }
    q
}

fn pg_row(r: &sqlx::postgres::PgRow) -> Result<Row, LedgerError> {
    let mut values = Vec::with_capacity(r.columns().len());
    for (i, c) in r.columns().iter().enumerate() {
        let v = match c.type_info().name() {
            "INT8" => r
                .try_get::<Option<i64>, _>(i)?
                .map_or(Value::Null, Value::I64),
            "INT4" => r
                .try_get::<Option<i32>, _>(i)?
                .map_or(Value::Null, |v| Value::I64(i64::from(v))),
            "TEXT" | "VARCHAR" => r
                .try_get::<Option<String>, _>(i)?
                .map_or(Value::Null, Value::Text),
            other => {
                return Err(LedgerError::Invariant(format!(
                    "column {i} ({}): unexpected type {other}",
                    c.name()
                )))
            }
        };
        values.push(v);
    }
    Ok(Row(values))
}

impl SqlTx for PgTx<'_> {
    async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, LedgerError> {
        Ok(pg_query(sql, args)
            .execute(&mut *self.0)
            .await?
            .rows_affected())
    }

    async fn row(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, LedgerError> {
        match pg_query(sql, args).fetch_optional(&mut *self.0).await? {
            Some(r) => Ok(Some(pg_row(&r)?)),
            None => Ok(None),
        }
    }

    async fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, LedgerError> {
        let rows = pg_query(sql, args).fetch_all(&mut *self.0).await?;
        rows.iter().map(pg_row).collect()
    }

    fn lock_rows(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn chains(&mut self) -> &mut Chains {
        &mut self.1
    }

    fn watched(&mut self) -> &mut Watched {
        &mut self.2
    }

    fn byte_order(&self) -> &'static str {
        " COLLATE \"C\""
    }
}
