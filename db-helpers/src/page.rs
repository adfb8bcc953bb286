//! Pagination: numbered pages with the total (Flask-SQLAlchemy's `paginate`, the course
//! platform's list endpoints) and keyset pages with an opaque cursor that stays correct while
//! rows are inserted.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ColumnType, ConnectionTrait, DbErr, EntityTrait, ModelTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Value,
};

use crate::batch::single_key;

/// One numbered page of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<M> {
    /// The rows of this page (at most `per_page`).
    pub items: Vec<M>,
    /// The page number, from 1.
    pub page: u64,
    /// Rows per page.
    pub per_page: u64,
    /// Rows the query selects in all.
    pub total: u64,
    /// Pages in all (`ceil(total / per_page)`, 0 when there are no rows).
    pub pages: u64,
}

/// Page `page` (from 1) of `query`, `per_page` rows each, with the total count (two queries:
/// `COUNT(*)` over the query, then `LIMIT per_page OFFSET (page-1)·per_page`). The query's
/// ORDER BY is kept and the primary key appended as a tie-breaker, so pages do not overlap. A
/// page past the end is empty.
///
/// # Errors
/// `page` 0 ([`DbErr::Custom`]), or the driver's error.
pub async fn page<E, C>(
    db: &C,
    query: Select<E>,
    page: u64,
    per_page: NonZeroU64,
) -> Result<Page<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ConnectionTrait,
{
    if page == 0 {
        return Err(DbErr::Custom("pages are numbered from 1".into()));
    }
    let per_page = per_page.get();
    let total = query.clone().count(db).await?;
    let mut ordered = query;
    for key in <E::PrimaryKey as sea_orm::Iterable>::iter() {
        ordered = ordered.order_by(sea_orm::PrimaryKeyToColumn::into_column(key), Order::Asc);
    }
    let items = ordered
        .offset((page - 1).saturating_mul(per_page))
        .limit(per_page)
        .all(db)
        .await?;
    Ok(Page {
        items,
        page,
        per_page,
        total,
        pages: total.div_ceil(per_page),
    })
}

/// A position in a keyset pagination: after the row with this primary key. Opaque to users
/// (`Display` / `FromStr`, e.g. in a `?after=` parameter): `i<integer>` or `s<text>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(String);

/// A cursor that does not parse (edited or from elsewhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidCursor(String);

impl fmt::Display for InvalidCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid page cursor `{}`: give a cursor a previous page returned",
            self.0
        )
    }
}

impl std::error::Error for InvalidCursor {}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Cursor {
    type Err = InvalidCursor;

    fn from_str(s: &str) -> Result<Self, InvalidCursor> {
        let ok = match s.split_at_checked(1) {
            Some(("i", n)) => n.parse::<i64>().is_ok(),
            Some(("s", _)) => true,
            _ => false,
        };
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidCursor(s.chars().take(64).collect()))
        }
    }
}

impl Cursor {
    fn of(value: &Value) -> Result<Self, DbErr> {
        let text = match value {
            Value::TinyInt(Some(v)) => format!("i{v}"),
            Value::SmallInt(Some(v)) => format!("i{v}"),
            Value::Int(Some(v)) => format!("i{v}"),
            Value::BigInt(Some(v)) => format!("i{v}"),
            Value::TinyUnsigned(Some(v)) => format!("i{v}"),
            Value::SmallUnsigned(Some(v)) => format!("i{v}"),
            Value::Unsigned(Some(v)) => format!("i{v}"),
            Value::BigUnsigned(Some(v)) if i64::try_from(*v).is_ok() => format!("i{v}"),
            Value::String(Some(v)) => format!("s{v}"),
            other => {
                return Err(DbErr::Custom(format!(
                    "keyset pages need an integer or text primary key, not {other:?}"
                )));
            }
        };
        Ok(Self(text))
    }

    /// The key as a value of the key column's own type (PostgreSQL compares an `int4` column
    /// only with an `int4` parameter).
    fn value(&self, column: &ColumnType) -> Result<Value, DbErr> {
        let (kind, rest) = self.0.split_at(1);
        if kind != "i" {
            return Ok(Value::String(Some(rest.to_owned())));
        }
        let out_of_range =
            || DbErr::Custom(format!("page cursor `{self}` does not fit the key column"));
        let n: i64 = rest.parse().map_err(|_| out_of_range())?;
        Ok(match column {
            ColumnType::TinyInteger => {
                Value::TinyInt(Some(n.try_into().map_err(|_| out_of_range())?))
            }
            ColumnType::SmallInteger => {
                Value::SmallInt(Some(n.try_into().map_err(|_| out_of_range())?))
            }
            ColumnType::Integer => Value::Int(Some(n.try_into().map_err(|_| out_of_range())?)),
            ColumnType::TinyUnsigned => {
                Value::TinyUnsigned(Some(n.try_into().map_err(|_| out_of_range())?))
            }
            ColumnType::SmallUnsigned => {
                Value::SmallUnsigned(Some(n.try_into().map_err(|_| out_of_range())?))
            }
            ColumnType::Unsigned => {
                Value::Unsigned(Some(n.try_into().map_err(|_| out_of_range())?))
            }
            ColumnType::BigUnsigned => {
                Value::BigUnsigned(Some(n.try_into().map_err(|_| out_of_range())?))
            }
            _ => Value::BigInt(Some(n)),
        })
    }
}

/// One keyset page: its rows and the cursor of the next page (`None` on the last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeysetPage<M> {
    /// The rows, in primary-key order.
    pub items: Vec<M>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<Cursor>,
}

/// Up to `size` rows of `query` after `after` (from the start when `None`), in primary-key
/// order: `<query> AND pk > <after> ORDER BY pk LIMIT size + 1`. Stable under inserts and
/// deletes (no row is skipped or repeated because others moved), one indexed query per page.
/// The query's own ORDER BY is replaced; the entity needs a single-column integer or text
/// primary key.
///
/// # Errors
/// A composite or other primary key ([`DbErr::Custom`]), or the driver's error.
pub async fn keyset_page<E, C>(
    db: &C,
    query: Select<E>,
    after: Option<&Cursor>,
    size: NonZeroU64,
) -> Result<KeysetPage<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ConnectionTrait,
{
    let key = single_key::<E>()?;
    let mut q = query;
    QueryTrait::query(&mut q).clear_order_by();
    let mut q = q
        .order_by(key, Order::Asc)
        .limit(size.get().saturating_add(1));
    if let Some(after) = after {
        let value = after.value(key.def().get_column_type())?;
        q = q.filter(Expr::col((E::default(), key)).gt(value));
    }
    let mut items = q.all(db).await?;
    let more = items.len() as u64 > size.get();
    items.truncate(usize::try_from(size.get()).unwrap_or(usize::MAX));
    let next = match (more, items.last()) {
        (true, Some(last)) => Some(Cursor::of(&last.get(key))?),
        _ => None,
    };
    Ok(KeysetPage { items, next })
}
