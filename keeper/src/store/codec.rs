//! How Rust values become column values and back, the same way on both backends: unsigned
//! numbers as BIGINT (refusing what does not fit), addresses and hashes as lowercase 0x-hex TEXT,
//! token amounts as decimal TEXT.

use std::str::FromStr;

use alloy::primitives::{Address, B256, hex};
use sqlx::{ColumnIndex, Database, Decode, Encode, Row, Type, query::Query};

use super::{LogPosition, StoreError};

/// A bound parameter of a statement built ahead of its transaction.
#[derive(Debug)]
pub(super) enum Value {
    Int(i64),
    NullableInt(Option<i64>),
    Text(String),
    Bool(bool),
}

/// A statement and its parameters, executed later on whichever backend the store runs.
#[derive(Debug)]
pub(super) struct Statement {
    pub(super) sql: &'static str,
    pub(super) args: Vec<Value>,
}

/// Binds `args` to `query`, in order.
pub(super) fn bind_all<'q, DB>(
    mut query: Query<'q, DB, DB::Arguments>,
    args: Vec<Value>,
) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
{
    for arg in args {
        query = match arg {
            Value::Int(value) => query.bind(value),
            Value::NullableInt(value) => query.bind(value),
            Value::Text(value) => query.bind(value),
            Value::Bool(value) => query.bind(value),
        };
    }
    query
}

/// `value` as a BIGINT, or an error naming `field` when it does not fit.
pub(super) fn int(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { field, value })
}

/// `value` as a BIGINT bound of a range: stored numbers never exceed `i64::MAX`, so a larger bound
/// selects the same rows as `i64::MAX`.
pub(super) fn clamped(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn nullable_int(field: &'static str, value: Option<u64>) -> Result<Value, StoreError> {
    value
        .map(|value| int(field, value))
        .transpose()
        .map(Value::NullableInt)
}

pub(super) fn address(address: Address) -> Value {
    Value::Text(hex::encode_prefixed(address))
}

pub(super) fn hash(hash: B256) -> Value {
    Value::Text(hex::encode_prefixed(hash))
}

/// Reads typed columns of a result row, on either backend.
pub(super) trait Columns {
    fn int(&self, column: &'static str) -> Result<i64, StoreError>;
    fn nullable_int(&self, column: &'static str) -> Result<Option<i64>, StoreError>;
    fn text(&self, column: &'static str) -> Result<String, StoreError>;
    fn flag(&self, column: &'static str) -> Result<bool, StoreError>;

    /// A non-negative BIGINT that fits `T`.
    fn unsigned<T: TryFrom<i64>>(&self, column: &'static str) -> Result<T, StoreError> {
        let value = self.int(column)?;
        T::try_from(value).map_err(|_| corrupt(column, value))
    }

    fn nullable_u64(&self, column: &'static str) -> Result<Option<u64>, StoreError> {
        self.nullable_int(column)?
            .map(|value| u64::try_from(value).map_err(|_| corrupt(column, value)))
            .transpose()
    }

    fn address(&self, column: &'static str) -> Result<Address, StoreError> {
        parsed(column, self.text(column)?)
    }

    fn hash(&self, column: &'static str) -> Result<B256, StoreError> {
        parsed(column, self.text(column)?)
    }

    fn amount(&self, column: &'static str) -> Result<u128, StoreError> {
        parsed(column, self.text(column)?)
    }

    /// The row's `block_number` and `log_index`.
    fn position(&self) -> Result<LogPosition, StoreError> {
        Ok(LogPosition {
            block_number: self.unsigned("block_number")?,
            log_index: self.unsigned("log_index")?,
        })
    }
}

impl<R> Columns for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, column: &'static str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn nullable_int(&self, column: &'static str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn text(&self, column: &'static str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn flag(&self, column: &'static str) -> Result<bool, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// A stored value written with `to_string` (or as hex), parsed back.
pub(super) fn parsed<T: FromStr>(column: &'static str, text: String) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt {
        column,
        value: text,
    })
}

/// A stored BIGINT that the keeper wrote from a u64.
pub(super) fn unsigned(column: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(column, value))
}

fn corrupt(column: &'static str, value: i64) -> StoreError {
    StoreError::Corrupt {
        column,
        value: value.to_string(),
    }
}
