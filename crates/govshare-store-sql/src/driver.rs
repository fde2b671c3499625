//! What a backend contributes: the [`Dialect`] (connections, transactions, statements, and the few SQL
//! fragments that differ) and its rows ([`Row`]). Everything above this module is written once.
//!
//! Statements are plain SQL text with numbered placeholders (`$1`, `$2`, …), which PostgreSQL and SQLite both
//! accept. Values are bound as [`Arg`]s, typed by meaning (an id, an instant, a date) rather than by storage: each
//! dialect stores them its way (PostgreSQL `UUID`/`TIMESTAMPTZ`/`DATE`, SQLite `TEXT`/integer microseconds/`TEXT`).

use std::borrow::Cow;
use std::future::Future;
use std::ops::DerefMut;

use chrono::{DateTime, NaiveDate, Utc};
use govshare_store::{Result, StoreError};
use uuid::Uuid;

/// One bound value. `None` is a NULL of that type (PostgreSQL wants a type even for NULL).
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<Cow<'a, str>>),
    Bytes(Option<Cow<'a, [u8]>>),
    Id(Option<Uuid>),
    Time(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
    /// A list, used through [`Dialect::any`].
    Texts(Vec<&'a str>),
    Ids(Vec<Uuid>),
}

/// A value that can be bound.
pub trait Bind<'a> {
    fn arg(self) -> Arg<'a>;
    /// The NULL of this type.
    fn null() -> Arg<'a>;
}

macro_rules! bind {
    ($($t:ty => $variant:ident($conv:expr)),* $(,)?) => {$(
        impl<'a> Bind<'a> for $t {
            fn arg(self) -> Arg<'a> {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(Some(($conv)(self)))
            }
            fn null() -> Arg<'a> {
                Arg::$variant(None)
            }
        }
    )*};
}

bind! {
    i64 => Int(|v| v),
    i32 => Int(i64::from),
    u32 => Int(i64::from),
    bool => Bool(|v| v),
    &'a str => Text(Cow::Borrowed),
    &'a String => Text(|v: &'a String| Cow::Borrowed(v.as_str())),
    String => Text(Cow::Owned),
    &'a [u8] => Bytes(Cow::Borrowed),
    &'a Vec<u8> => Bytes(|v: &'a Vec<u8>| Cow::Borrowed(v.as_slice())),
    Vec<u8> => Bytes(Cow::Owned),
    Uuid => Id(|v| v),
    DateTime<Utc> => Time(|v| v),
    NaiveDate => Date(|v| v),
    govshare_domain::region::RegionCode => Text(|v: govshare_domain::region::RegionCode| Cow::Owned(v.to_string())),
}

impl<'a> Bind<'a> for usize {
    fn arg(self) -> Arg<'a> {
        Arg::Int(Some(i64::try_from(self).unwrap_or(i64::MAX)))
    }
    fn null() -> Arg<'a> {
        Arg::Int(None)
    }
}

impl<'a> Bind<'a> for Arg<'a> {
    fn arg(self) -> Arg<'a> {
        self
    }
    fn null() -> Arg<'a> {
        Arg::Text(None)
    }
}

impl<'a, T: Bind<'a>> Bind<'a> for Option<T> {
    fn arg(self) -> Arg<'a> {
        self.map_or_else(T::null, T::arg)
    }
    fn null() -> Arg<'a> {
        T::null()
    }
}

impl<'a> Bind<'a> for &'a Option<String> {
    fn arg(self) -> Arg<'a> {
        self.as_deref().arg()
    }
    fn null() -> Arg<'a> {
        Arg::Text(None)
    }
}

/// A tuple of values to bind in order.
pub trait Binds<'a> {
    fn push_to(self, args: &mut Vec<Arg<'a>>);
}

macro_rules! binds {
    ($($t:ident $i:tt),*) => {
        impl<'a, $($t: Bind<'a>),*> Binds<'a> for ($($t,)*) {
            fn push_to(self, args: &mut Vec<Arg<'a>>) {
                $(args.push(self.$i.arg());)*
            }
        }
    };
}

binds!(A 0, B 1);
binds!(A 0, B 1, C 2);
binds!(A 0, B 1, C 2, D 3);
binds!(A 0, B 1, C 2, D 3, E 4);
binds!(A 0, B 1, C 2, D 3, E 4, F 5);
binds!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
binds!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
binds!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
binds!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
binds!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);

/// A statement and its arguments.
#[derive(Debug, Clone)]
pub struct Sql<'a> {
    pub text: Cow<'static, str>,
    pub args: Vec<Arg<'a>>,
    /// Whether the backend may keep the statement prepared and, after a few runs, plan it once for all arguments.
    /// See [`Sql::planned_per_call`].
    pub persistent: bool,
}

/// Starts a statement.
pub fn sql<'a>(text: impl Into<Cow<'static, str>>) -> Sql<'a> {
    Sql { text: text.into(), args: Vec::new(), persistent: true }
}

impl<'a> Sql<'a> {
    pub fn bind(mut self, value: impl Bind<'a>) -> Self {
        self.args.push(value.arg());
        self
    }

    /// Binds several values at once, in placeholder order: `.binds((a, b, c))`.
    pub fn binds(mut self, values: impl Binds<'a>) -> Self {
        values.push_to(&mut self.args);
        self
    }

    pub fn push(&mut self, value: impl Bind<'a>) -> &mut Self {
        self.args.push(value.arg());
        self
    }

    /// Binds `value` and returns its placeholder (`$n`), for statements assembled piece by piece.
    pub fn param(&mut self, value: impl Bind<'a>) -> String {
        self.args.push(value.arg());
        format!("${}", self.args.len())
    }

    /// Plans the statement for its arguments on every call instead of reusing a prepared statement. For reads that
    /// bind a set of ids whose size varies from one to thousands: PostgreSQL switches a prepared statement to a
    /// generic plan after five runs, and a generic plan cannot hash a bound array (`= ANY($n)` becomes a linear
    /// search per row: seconds instead of milliseconds for a province's 1,100 organisations, measured by
    /// `govshare bench supervision --backend postgres`). Planning costs well under a millisecond.
    pub fn planned_per_call(&mut self) -> &mut Self {
        self.persistent = false;
        self
    }

    /// Appends SQL text.
    pub fn text(&mut self, more: &str) -> &mut Self {
        self.text.to_mut().push_str(more);
        self
    }

    /// The number of rows the statement changed.
    pub async fn execute<E: Exec>(&self, e: &mut E) -> Result<u64> {
        let conn = e.conn().await?;
        <E::D as Driver>::execute(conn, self).await
    }

    /// The backend's rows, for callers that read them one by one.
    pub async fn rows<E: Exec>(&self, e: &mut E) -> Result<Vec<<E::D as Driver>::Row>> {
        let conn = e.conn().await?;
        <E::D as Driver>::fetch_all(conn, self).await
    }

    pub async fn all<T: FromRow, E: Exec>(&self, e: &mut E) -> Result<Vec<T>> {
        self.rows(e).await?.iter().map(T::from_row).collect()
    }

    pub async fn optional<T: FromRow, E: Exec>(&self, e: &mut E) -> Result<Option<T>> {
        let conn = e.conn().await?;
        <E::D as Driver>::fetch_optional(conn, self).await?.as_ref().map(T::from_row).transpose()
    }

    pub async fn one<T: FromRow, E: Exec>(&self, e: &mut E) -> Result<T> {
        self.optional(e).await?.ok_or_else(|| StoreError::NotFound("记录不存在".into()))
    }
}

/// The placeholders `($k, $k+1, …), (…)` of `rows` rows of `columns` values, numbered from `first`.
pub fn values(first: usize, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * columns + c).to_string());
        }
        out.push(')');
    }
    out
}

/// A column, by name or by position.
#[derive(Debug, Clone, Copy)]
pub enum Col<'a> {
    Name(&'a str),
    At(usize),
}

impl<'a> From<&'a str> for Col<'a> {
    fn from(name: &'a str) -> Self {
        Col::Name(name)
    }
}

impl From<usize> for Col<'_> {
    fn from(i: usize) -> Self {
        Col::At(i)
    }
}

impl std::fmt::Display for Col<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Col::Name(n) => f.write_str(n),
            Col::At(i) => write!(f, "#{i}"),
        }
    }
}

/// A result row of a backend: each accessor reads one column as the meaning it has (NULL is `None`).
pub trait Row: Send + Sync {
    fn int(&self, c: Col<'_>) -> Result<Option<i64>>;
    fn boolean(&self, c: Col<'_>) -> Result<Option<bool>>;
    fn text(&self, c: Col<'_>) -> Result<Option<String>>;
    fn bytes(&self, c: Col<'_>) -> Result<Option<Vec<u8>>>;
    fn id(&self, c: Col<'_>) -> Result<Option<Uuid>>;
    fn time(&self, c: Col<'_>) -> Result<Option<DateTime<Utc>>>;
    fn date(&self, c: Col<'_>) -> Result<Option<NaiveDate>>;

    /// A column that must not be NULL.
    fn get<'c, T: Column>(&self, c: impl Into<Col<'c>>) -> Result<T>
    where
        Self: Sized,
    {
        T::column(self, c.into())
    }
}

/// A value a column can be read as.
pub trait Value: Sized {
    fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>>;
}

macro_rules! value {
    ($($t:ty => $accessor:ident $(($conv:expr))?),* $(,)?) => {$(
        impl Value for $t {
            fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>> {
                let v = row.$accessor(c)?;
                $(let v = v.map($conv).transpose()?;)?
                Ok(v)
            }
        }
    )*};
}

value! {
    i64 => int,
    u32 => int(|v: i64| u32::try_from(v).map_err(|_| corrupt(format!("{v} is not a u32")))),
    i32 => int(|v: i64| i32::try_from(v).map_err(|_| corrupt(format!("{v} is not an i32")))),
    bool => boolean,
    String => text,
    Vec<u8> => bytes,
    Uuid => id,
    DateTime<Utc> => time,
    NaiveDate => date,
}

/// A column read into `Self`: a [`Value`] (NULL is an error) or an `Option` of one.
pub trait Column: Sized {
    fn column(row: &impl Row, c: Col<'_>) -> Result<Self>;
}

impl<T: Value> Column for T {
    fn column(row: &impl Row, c: Col<'_>) -> Result<Self> {
        T::read(row, c)?.ok_or_else(|| corrupt(format!("column {c} is NULL")))
    }
}

impl<T: Value> Column for Option<T> {
    fn column(row: &impl Row, c: Col<'_>) -> Result<Self> {
        T::read(row, c)
    }
}

/// A whole row read into `Self`; tuples read their columns by position.
pub trait FromRow: Sized {
    fn from_row(row: &impl Row) -> Result<Self>;
}

macro_rules! tuple {
    ($($t:ident $i:tt),*) => {
        impl<$($t: Column),*> FromRow for ($($t,)*) {
            fn from_row(row: &impl Row) -> Result<Self> {
                Ok(($($t::column(row, Col::At($i))?,)*))
            }
        }
    };
}

tuple!(A 0);
tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, D 3);
tuple!(A 0, B 1, C 2, D 3, E 4);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);

/// Stored data that does not read as what the schema promises.
pub fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Other(format!("stored data is invalid: {}", what.into()).into())
}

/// Maps sqlx errors: unique violations are conflicts, a missing row is not-found, the rest is "other".
pub fn db(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::RowNotFound => StoreError::NotFound("记录不存在".into()),
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict("该记录已存在".into()),
        sqlx::Error::Database(e) if e.is_foreign_key_violation() => StoreError::Conflict("引用的记录不存在".into()),
        _ => StoreError::other(err),
    }
}

/// An append-only guard (trigger, trigger function) that is missing or altered, with the statements that
/// recreate it.
#[derive(Debug, Clone)]
pub struct Repair {
    pub name: String,
    pub statements: Vec<String>,
}

/// How statements reach a backend: its connections, transactions and rows. Generated for sqlx backends by
/// [`sqlx_driver!`](crate::sqlx_driver), so the plumbing is written once.
pub trait Driver: Send + Sync + Sized + std::fmt::Debug + 'static {
    /// The connection statements run on (`SqliteConnection`, `PgConnection`).
    type Conn: Send;
    /// A transaction, dereferencing to its connection.
    type Tx: Send + DerefMut<Target = Self::Conn>;
    /// A pooled connection for reads.
    type Pooled: Send + DerefMut<Target = Self::Conn>;
    type Row: Row;

    fn begin(&self) -> impl Future<Output = Result<Self::Tx>> + Send;
    fn commit(tx: Self::Tx) -> impl Future<Output = Result<()>> + Send;
    fn read(&self) -> impl Future<Output = Result<Self::Pooled>> + Send;
    fn execute<'c>(conn: &'c mut Self::Conn, sql: &'c Sql<'_>) -> impl Future<Output = Result<u64>> + Send + 'c;
    fn fetch_all<'c>(
        c: &'c mut Self::Conn,
        sql: &'c Sql<'_>,
    ) -> impl Future<Output = Result<Vec<Self::Row>>> + Send + 'c;
    fn fetch_optional<'c>(
        c: &'c mut Self::Conn,
        sql: &'c Sql<'_>,
    ) -> impl Future<Output = Result<Option<Self::Row>>> + Send + 'c;
}

/// Implements [`Driver`] for a dialect over sqlx: `sqlx_driver!(Dialect, sqlx::Db, RowType)`. The dialect has
/// inherent `writer()` and `reader()` (its pools), `statement(&str)` (the SQL text as the backend wants it) and
/// `arguments(&Sql)` (the values as the backend stores them);
/// the macro also declares `RowType`, whose `get` reads a column as any sqlx type, for the backend's [`Row`] impl.
#[macro_export]
macro_rules! sqlx_driver {
    ($dialect:ty, $db:ty, $row:ident) => {
        /// A result row (sqlx's rows do not implement `Debug`).
        #[allow(missing_debug_implementations)]
        pub struct $row(<$db as sqlx::Database>::Row);

        impl $row {
            fn get<'r, T: sqlx::Decode<'r, $db> + sqlx::Type<$db>>(
                &'r self,
                c: $crate::driver::Col<'_>,
            ) -> ::govshare_store::Result<T> {
                match c {
                    $crate::driver::Col::Name(n) => sqlx::Row::try_get(&self.0, n),
                    $crate::driver::Col::At(i) => sqlx::Row::try_get(&self.0, i),
                }
                .map_err($crate::driver::db)
            }
        }

        impl $crate::driver::Driver for $dialect {
            type Conn = <$db as sqlx::Database>::Connection;
            type Tx = sqlx::Transaction<'static, $db>;
            type Pooled = sqlx::pool::PoolConnection<$db>;
            type Row = $row;

            async fn begin(&self) -> ::govshare_store::Result<Self::Tx> {
                self.writer().begin().await.map_err($crate::driver::db)
            }
            async fn commit(tx: Self::Tx) -> ::govshare_store::Result<()> {
                tx.commit().await.map_err($crate::driver::db)
            }
            async fn read(&self) -> ::govshare_store::Result<Self::Pooled> {
                self.reader().acquire().await.map_err($crate::driver::db)
            }
            async fn execute<'c>(c: &'c mut Self::Conn, sql: &'c $crate::Sql<'_>) -> ::govshare_store::Result<u64> {
                let text = Self::statement(&sql.text);
                let q = sqlx::query_with(&text, Self::arguments(sql)?).persistent(sql.persistent);
                Ok(q.execute(c).await.map_err($crate::driver::db)?.rows_affected())
            }
            async fn fetch_all<'c>(
                c: &'c mut Self::Conn,
                sql: &'c $crate::Sql<'_>,
            ) -> ::govshare_store::Result<Vec<$row>> {
                let text = Self::statement(&sql.text);
                let q = sqlx::query_with(&text, Self::arguments(sql)?).persistent(sql.persistent);
                Ok(q.fetch_all(c).await.map_err($crate::driver::db)?.into_iter().map($row).collect())
            }
            async fn fetch_optional<'c>(
                c: &'c mut Self::Conn,
                sql: &'c $crate::Sql<'_>,
            ) -> ::govshare_store::Result<Option<$row>> {
                let text = Self::statement(&sql.text);
                let q = sqlx::query_with(&text, Self::arguments(sql)?).persistent(sql.persistent);
                Ok(q.fetch_optional(c).await.map_err($crate::driver::db)?.map($row))
            }
        }
    };
}

/// What differs between the backends besides the plumbing. Implemented once per backend; nothing else in the
/// store knows which database it talks to.
pub trait Dialect: Driver {
    /// Appended to the `SELECT` of the audit chain's head inside a write: the lock that serialises appends
    /// across connections (`FOR UPDATE`), or nothing where a single writer connection already does.
    const LOCK_HEAD: &'static str;
    /// Whether the record and the head can be written in one statement (a data-modifying `WITH`).
    const WRITABLE_CTE: bool;
    /// How many usage-record batches may be committed at once.
    const PARALLEL_WRITES: usize;
    /// The tables and their columns: (table, column, type as declared, nullable).
    const COLUMNS: &'static str;
    /// Whether the usage log is partitioned by month (each month a table, created before its first batch is
    /// written, detached and dropped once archived past the retention).
    const USAGE_PARTITIONS: bool;
    /// The months the usage log holds, one column, oldest first.
    const USAGE_MONTHS: &'static str;

    /// Opens the pools for `url`.
    fn connect(url: &str) -> impl Future<Output = Result<Self>> + Send;
    /// Applies the backend's migrations.
    fn migrate(&self) -> impl Future<Output = Result<()>> + Send;

    /// `expr` is one of the list bound at `param` ([`Arg::Texts`], [`Arg::Ids`]).
    fn any(expr: &str, param: &str) -> String;
    /// A condition: `column` (text) starts with the text bound at `param`.
    fn starts_with(column: &str, param: &str) -> String;
    /// Statements run before a bulk load writes (`first`), and again every so many batches of it.
    fn bulk_load_hints(first: bool) -> &'static [&'static str];
    /// Whether [`Dialect::copy_in`] is the backend's bulk path (PostgreSQL's `COPY`); otherwise bulk writes are
    /// multi-row `INSERT`s.
    const COPY_IN: bool;
    /// Runs `statement` (`COPY table (columns) FROM STDIN`) with `data` in COPY's text format; returns the rows
    /// written. Only called when [`Dialect::COPY_IN`].
    fn copy_in<'c>(
        conn: &'c mut Self::Conn,
        statement: &'c str,
        data: &'c [u8],
    ) -> impl Future<Output = Result<u64>> + Send + 'c;
    /// Runs `statement` (`COPY table (columns) FROM STDIN`) with the chunks `source` hands out, as it hands them
    /// out: the database works through one chunk while the next is made. An error from `source` aborts the COPY.
    /// Only called when [`Dialect::COPY_IN`].
    fn copy_in_stream<'c>(
        conn: &'c mut Self::Conn,
        statement: &'c str,
        source: &'c mut dyn CopySource,
    ) -> impl Future<Output = Result<u64>> + Send + 'c;
    /// The append-only guards that are missing, altered or disabled, with their repair.
    fn guards<'c>(conn: &'c mut Self::Conn) -> impl Future<Output = Result<Vec<Repair>>> + Send + 'c;
}

/// The rows of a streaming COPY, chunk by chunk, in COPY's text format; `None` when there are no more.
#[async_trait::async_trait]
pub trait CopySource: Send {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>>;
}

/// Something statements run on: a transaction, or a read connection taken from the pool on first use.
pub trait Exec: Send {
    type D: Dialect;
    fn conn(&mut self) -> impl Future<Output = Result<&mut <Self::D as Driver>::Conn>> + Send;
}

/// A write transaction.
#[derive(Debug)]
pub struct Tx<D: Dialect>(pub D::Tx);

impl<D: Dialect> Tx<D> {
    pub async fn commit(self) -> Result<()> {
        D::commit(self.0).await
    }

    /// See [`Dialect::copy_in_stream`].
    pub async fn copy_in_stream(&mut self, statement: &str, source: &mut dyn CopySource) -> Result<u64> {
        D::copy_in_stream(&mut self.0, statement, source).await
    }

    /// See [`Dialect::copy_in`].
    pub async fn copy_in(&mut self, statement: &str, data: &[u8]) -> Result<u64> {
        D::copy_in(&mut self.0, statement, data).await
    }
}

impl<D: Dialect> Exec for Tx<D> {
    type D = D;
    async fn conn(&mut self) -> Result<&mut D::Conn> {
        Ok(&mut *self.0)
    }
}

/// Reads outside a transaction: takes a pooled connection when the first statement runs.
#[derive(Debug)]
pub struct Reader<'s, D: Dialect> {
    dialect: &'s D,
    conn: Option<D::Pooled>,
}

impl<'s, D: Dialect> Reader<'s, D> {
    pub fn new(dialect: &'s D) -> Self {
        Reader { dialect, conn: None }
    }
}

impl<D: Dialect> Exec for Reader<'_, D> {
    type D = D;
    async fn conn(&mut self) -> Result<&mut D::Conn> {
        if self.conn.is_none() {
            self.conn = Some(self.dialect.read().await?);
        }
        Ok(&mut **self.conn.as_mut().expect("just taken"))
    }
}
