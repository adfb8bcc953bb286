//! Column types that behave the same on every backend (openmodule's custom SQLAlchemy types):
//!
//! - [`UtcDateTime`]: a UTC timestamp with microseconds (openmodule's `TZDateTime`). Values in
//!   other zones are converted, zone-less values are refused, and it is stored as the UTC wall
//!   clock in a zone-less column (SQLite text, PostgreSQL `timestamp`, MySQL `datetime(6)`),
//!   so it round-trips exactly from year 1000 to 9999 on all three — where sea-orm's
//!   `DateTimeUtc` becomes a MySQL `TIMESTAMP` (1970–2038, whole seconds).
//! - [`Json<T>`]: any serde type as a JSON column (openmodule's `JSONEncodedDict`).
//! - [`new_uuid_key`] / [`fill_uuid_key`]: UUID-string primary keys with a generated default
//!   (openmodule's `id = Column(String(36), default=lambda: str(uuid4()))`).
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use db_core::types::{Json, UtcDateTime};
//! use sea_orm::entity::prelude::*;
//! use sea_orm::{ActiveValue::Set, Schema};
//!
//! mod event {
//!     use db_core::types::{Json, UtcDateTime};
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "event")]
//!     pub struct Model {
//!         #[sea_orm(primary_key, auto_increment = false, column_type = "String(StringLen::N(36))")]
//!         pub id: String,
//!         pub at: UtcDateTime,
//!         pub tags: Json<Vec<String>>,
//!     }
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!
//!     #[async_trait::async_trait]
//!     impl ActiveModelBehavior for ActiveModel {
//!         async fn before_save<C: ConnectionTrait>(mut self, _: &C, insert: bool) -> Result<Self, DbErr> {
//!             if insert {
//!                 db_core::types::fill_uuid_key(&mut self, Column::Id);
//!             }
//!             Ok(self)
//!         }
//!     }
//! }
//!
//! let db = db_core::Database::connect("sqlite::memory:").await?;
//! db.execute(&Schema::new(db.backend()).create_table_from_entity(event::Entity)).await?;
//! let at: UtcDateTime = "1901-05-04T03:02:01.123456+02:00".parse()?; // converted to UTC
//! assert_eq!(at.to_string(), "1901-05-04T01:02:01.123456Z");
//! assert!("1901-05-04T03:02:01".parse::<UtcDateTime>().is_err()); // no zone: refused
//! let saved = event::ActiveModel {
//!     at: Set(at),
//!     tags: Set(Json::new(vec!["Zürich".to_owned()])?),
//!     ..Default::default()
//! }
//! .insert(db.connection())
//! .await?;
//! assert_eq!(saved.id.len(), 36);
//! let back = event::Entity::find_by_id(saved.id).one(db.connection()).await?.unwrap();
//! assert_eq!((back.at, back.tags.get().as_slice()), (at, ["Zürich".to_owned()].as_slice()));
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SubsecRound, TimeZone, Utc};
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColIdx, DbErr, EntityTrait, QueryResult, TryGetError,
    TryGetable, Value,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a value is not a [`UtcDateTime`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Outside the years every backend stores (1000–9999: MySQL's `DATETIME` range).
    #[error("{value} is outside the storable range {min} to {max}")]
    OutOfRange {
        /// The value, in UTC.
        value: String,
        /// [`UtcDateTime::MIN`].
        min: String,
        /// [`UtcDateTime::MAX`].
        max: String,
    },
    /// Text without a UTC offset, or not a timestamp at all.
    #[error(
        "`{text}` is not an RFC 3339 timestamp with a zone (e.g. 2024-05-04T03:02:01.5Z or +02:00): {reason}"
    )]
    Parse {
        /// The text given.
        text: String,
        /// The parser's reason.
        reason: String,
    },
}

/// A UTC timestamp with microsecond precision that round-trips exactly on SQLite, PostgreSQL
/// and MySQL/MariaDB (openmodule's `TZDateTime`, which refuses naive datetimes and stores
/// UTC).
///
/// - Built from a zoned `DateTime` (any zone: converted to UTC) with `try_from`, from RFC 3339
///   text with an offset with `parse`, or [`now`](Self::now); a zone-less `NaiveDateTime` only
///   through [`assume_utc`](Self::assume_utc), so naive values never slip in unnoticed.
/// - Sub-microsecond digits are dropped on construction, so the value in memory is the value
///   stored. Years 1000 to 9999 ([`MIN`](Self::MIN)..=[`MAX`](Self::MAX)); others are refused.
/// - Stored as the UTC wall clock, without a zone, in the column
///   [`Dialect::utc_timestamp_type`](crate::Dialect::utc_timestamp_type) gives: SQLite text
///   (`2024-05-04 01:02:01.123456`), PostgreSQL `timestamp`, MySQL `datetime(6)`. Its
///   sea-query column type is `ColumnType::Timestamp`, which db-migrate's autogenerate renders
///   as that column. Reading also accepts zoned columns (sea-orm's `DateTimeUtc`).
/// - Serde: an RFC 3339 string ending in `Z`; deserializing requires an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcDateTime(DateTime<Utc>);

impl UtcDateTime {
    /// 1000-01-01T00:00:00Z, the earliest value every backend stores.
    pub const MIN: Self = match DateTime::from_timestamp(-30_610_224_000, 0) {
        Some(t) => Self(t),
        None => panic!("1000-01-01 is a valid timestamp"),
    };
    /// 9999-12-31T23:59:59.999999Z, the latest.
    pub const MAX: Self = match DateTime::from_timestamp(253_402_300_799, 999_999_000) {
        Some(t) => Self(t),
        None => panic!("9999-12-31 is a valid timestamp"),
    };

    /// `value` converted to UTC, sub-microsecond digits dropped (the same as `try_from`, which
    /// sea-query's `ValueType::try_from` can shadow where both traits are in scope).
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] outside [`MIN`](Self::MIN)..=[`MAX`](Self::MAX).
    pub fn new<Tz: TimeZone>(value: DateTime<Tz>) -> Result<Self, TimestampError> {
        let utc = value.with_timezone(&Utc).trunc_subsecs(6);
        if utc < Self::MIN.0 || utc > Self::MAX.0 {
            return Err(TimestampError::OutOfRange {
                value: utc.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                min: Self::MIN.to_string(),
                max: Self::MAX.to_string(),
            });
        }
        Ok(Self(utc))
    }

    /// The current time, to the microsecond.
    #[must_use]
    pub fn now() -> Self {
        Self(Utc::now().trunc_subsecs(6))
    }

    /// `naive` read as a UTC wall clock (the explicit way in for zone-less values).
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`].
    pub fn assume_utc(naive: NaiveDateTime) -> Result<Self, TimestampError> {
        Self::new(naive.and_utc())
    }

    /// The UTC `DateTime`.
    #[must_use]
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }

    /// The UTC wall clock, as it is stored.
    #[must_use]
    pub fn naive_utc(self) -> NaiveDateTime {
        self.0.naive_utc()
    }
}

impl<Tz: TimeZone> TryFrom<DateTime<Tz>> for UtcDateTime {
    type Error = TimestampError;

    /// Converts to UTC and drops sub-microsecond digits.
    fn try_from(value: DateTime<Tz>) -> Result<Self, TimestampError> {
        Self::new(value)
    }
}

impl From<UtcDateTime> for DateTime<Utc> {
    fn from(value: UtcDateTime) -> Self {
        value.0
    }
}

impl fmt::Display for UtcDateTime {
    /// RFC 3339 in UTC with `Z`, fractional digits only when there are some.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

impl FromStr for UtcDateTime {
    type Err = TimestampError;

    /// RFC 3339 with an offset (`Z`, `+02:00`); text without one is refused.
    fn from_str(text: &str) -> Result<Self, TimestampError> {
        let zoned = DateTime::parse_from_rfc3339(text).map_err(|e| TimestampError::Parse {
            text: text.to_owned(),
            reason: e.to_string(),
        })?;
        Self::new(zoned)
    }
}

impl Serialize for UtcDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl From<UtcDateTime> for Value {
    /// Bound as a zone-less UTC wall clock: MySQL turns a zoned value before 1970 into `NULL`.
    fn from(value: UtcDateTime) -> Self {
        Value::ChronoDateTime(Some(value.naive_utc()))
    }
}

impl TryGetable for UtcDateTime {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        let utc = match res.try_get_by::<Option<NaiveDateTime>, I>(index) {
            Ok(naive) => naive.map(|n| n.and_utc()),
            // A zoned column (PostgreSQL `timestamptz`, SQLite text with an offset).
            Err(_) => res.try_get_by::<Option<DateTime<Utc>>, I>(index)?,
        };
        let utc = utc.ok_or_else(|| TryGetError::Null(format!("{index:?}")))?;
        Self::new(utc).map_err(|e| TryGetError::DbErr(DbErr::Type(e.to_string())))
    }
}

impl ValueType for UtcDateTime {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        let utc = match v {
            Value::ChronoDateTime(Some(n)) => n.and_utc(),
            Value::ChronoDateTimeUtc(Some(u)) => u,
            Value::ChronoDateTimeWithTimeZone(Some(z)) => z.with_timezone(&Utc),
            _ => return Err(ValueTypeErr),
        };
        Self::new(utc).map_err(|_| ValueTypeErr)
    }

    fn type_name() -> String {
        "UtcDateTime".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::ChronoDateTime
    }

    fn column_type() -> ColumnType {
        ColumnType::Timestamp
    }
}

impl Nullable for UtcDateTime {
    fn null() -> Value {
        Value::ChronoDateTime(None)
    }
}

impl sea_orm::IntoActiveValue<UtcDateTime> for UtcDateTime {
    fn into_active_value(self) -> ActiveValue<UtcDateTime> {
        ActiveValue::Set(self)
    }
}

/// A serde type stored as a JSON column (openmodule's `JSONEncodedDict`; SQLAlchemy's `JSON`):
/// PostgreSQL `json`, MySQL `json`, SQLite text. `Option<Json<T>>` is a nullable column (SQL
/// `NULL`); `Json<Option<T>>` stores JSON `null`.
///
/// The value is serialized when the `Json` is made ([`new`](Self::new)), so a value serde
/// cannot write (a map with non-string keys) is refused there rather than at the insert.
/// Reading a row whose JSON does not fit `T` is a `DbErr::Type` naming serde's reason.
#[derive(Clone, Debug)]
pub struct Json<T> {
    value: T,
    encoded: serde_json::Value,
}

impl<T: Serialize> Json<T> {
    /// Wraps `value`, serializing it now.
    ///
    /// # Errors
    /// serde's error when `value` has no JSON form.
    pub fn new(value: T) -> Result<Self, serde_json::Error> {
        let encoded = serde_json::to_value(&value)?;
        Ok(Self { value, encoded })
    }
}

impl<T> Json<T> {
    /// The value.
    #[must_use]
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The value, unwrapped.
    #[must_use]
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The JSON that is stored.
    #[must_use]
    pub fn json(&self) -> &serde_json::Value {
        &self.encoded
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Json<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Json<T> {}

impl<T> From<Json<T>> for Value {
    fn from(value: Json<T>) -> Self {
        Value::Json(Some(Box::new(value.encoded)))
    }
}

impl<T: DeserializeOwned> Json<T> {
    fn decode(encoded: serde_json::Value) -> Result<Self, String> {
        serde_json::from_value(encoded.clone())
            .map(|value| Self { value, encoded })
            .map_err(|e| format!("the JSON does not fit {}: {e}", std::any::type_name::<T>()))
    }
}

impl<T: DeserializeOwned> TryGetable for Json<T> {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        let encoded = match res.try_get_by::<Option<serde_json::Value>, I>(index) {
            Ok(v) => v,
            // MariaDB's JSON is LONGTEXT: read the text and parse it.
            Err(_) => res
                .try_get_by::<Option<String>, I>(index)?
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|e| TryGetError::DbErr(DbErr::Type(format!("invalid JSON: {e}"))))?,
        };
        let encoded = encoded.ok_or_else(|| TryGetError::Null(format!("{index:?}")))?;
        Self::decode(encoded).map_err(|e| TryGetError::DbErr(DbErr::Type(e)))
    }
}

impl<T: DeserializeOwned> ValueType for Json<T> {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::Json(Some(j)) => Self::decode(*j).map_err(|_| ValueTypeErr),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        format!("Json<{}>", std::any::type_name::<T>())
    }

    fn array_type() -> ArrayType {
        ArrayType::Json
    }

    fn column_type() -> ColumnType {
        ColumnType::Json
    }
}

impl<T> Nullable for Json<T> {
    fn null() -> Value {
        Value::Json(None)
    }
}

impl<T> sea_orm::IntoActiveValue<Json<T>> for Json<T>
where
    Json<T>: Into<Value>,
{
    fn into_active_value(self) -> ActiveValue<Json<T>> {
        ActiveValue::Set(self)
    }
}

impl<T: Serialize> Serialize for Json<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Serialize + DeserializeOwned> Deserialize<'de> for Json<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = T::deserialize(d)?;
        Self::new(value).map_err(serde::de::Error::custom)
    }
}

/// A new random UUID (version 4) as the 36-character lowercase hyphenated string a
/// `String(StringLen::N(36))` primary key holds (openmodule's `str(uuid4())`).
#[must_use]
pub fn new_uuid_key() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

/// Sets `column` of `model` to [`new_uuid_key`] when it is not set: the generated default of
/// a UUID-string primary key, called from the entity's `ActiveModelBehavior::before_save` on
/// insert (as SQLAlchemy's client-side `default=`). A key the caller set is kept. Bulk
/// inserts (`insert_many`) do not run `before_save`; set keys there with [`new_uuid_key`].
pub fn fill_uuid_key<A: ActiveModelTrait>(
    model: &mut A,
    column: <A::Entity as EntityTrait>::Column,
) {
    if matches!(model.get(column), ActiveValue::NotSet) {
        model.set(column, Value::String(Some(new_uuid_key())));
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::{Json, TimestampError, UtcDateTime};

    #[test]
    fn timestamps_convert_and_refuse() {
        let berlin = chrono::FixedOffset::east_opt(3600).expect("offset");
        let t = UtcDateTime::new(
            berlin
                .with_ymd_and_hms(2024, 1, 1, 0, 30, 0)
                .single()
                .expect("time"),
        )
        .expect("in range");
        assert_eq!(t.to_string(), "2023-12-31T23:30:00Z");
        let nanos = Utc
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .single()
            .expect("time")
            + chrono::Duration::nanoseconds(1_234_567);
        assert_eq!(
            UtcDateTime::new(nanos).expect("ok").to_string(),
            "2024-01-01T00:00:00.001234Z"
        );
        assert_eq!(UtcDateTime::MIN.to_string(), "1000-01-01T00:00:00Z");
        assert_eq!(UtcDateTime::MAX.to_string(), "9999-12-31T23:59:59.999999Z");
        let early = NaiveDate::from_ymd_opt(999, 12, 31)
            .and_then(|d| d.and_hms_opt(23, 59, 59))
            .expect("date");
        assert!(matches!(
            UtcDateTime::assume_utc(early),
            Err(TimestampError::OutOfRange { .. })
        ));
        let err = "2024-01-01 10:00:00"
            .parse::<UtcDateTime>()
            .expect_err("naive");
        assert!(
            err.to_string()
                .starts_with("`2024-01-01 10:00:00` is not an RFC 3339 timestamp with a zone"),
            "{err}"
        );
        let json = serde_json::to_string(&t).expect("serialize");
        assert_eq!(json, "\"2023-12-31T23:30:00Z\"");
        assert_eq!(serde_json::from_str::<UtcDateTime>(&json).expect("back"), t);
        assert!(serde_json::from_str::<UtcDateTime>("\"2023-12-31T23:30:00\"").is_err());
    }

    #[test]
    fn json_refuses_what_serde_cannot_write() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1_u8], 1);
        assert!(Json::new(map).is_err());
        let ok = Json::new(vec![Some(1), None]).expect("json");
        assert_eq!(ok.json().to_string(), "[1,null]");
    }
}
