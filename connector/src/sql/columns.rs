//! Column lists of `CREATE TABLE` into Arrow fields.
//!
//! Types: BOOLEAN, TINYINT, SMALLINT, INT/INTEGER, BIGINT, REAL/FLOAT, DOUBLE, DECIMAL(p,s)
//! (DECIMAL alone is DECIMAL(38,10)), TEXT/VARCHAR/CHAR/STRING, BYTEA/BINARY/VARBINARY/BLOB,
//! DATE, TIME, TIMESTAMP (nanoseconds unless a precision says otherwise), TIMESTAMP WITH TIME
//! ZONE (UTC), and JSON (text with the `arrow.json` extension type). A column is nullable unless
//! it is `NOT NULL` or part of the primary key.
//!
//! `GENERATED ALWAYS AS (metadata('partition'))` declares a column filled from record metadata
//! (see [`crate::schema::MetadataColumn`]).

use arrow_schema::{DataType, Field, TimeUnit};
use sqlparser::ast::{
    ColumnDef, ColumnOption, DataType as SqlType, ExactNumberInfo, Expr, FunctionArg,
    FunctionArgExpr, FunctionArguments, TimezoneInfo, Value,
};

use crate::config::{ConfigError, Result, shorten};
use crate::schema::{MetadataColumn, json_field};

/// The precision and scale of a bare `DECIMAL`.
pub const DEFAULT_DECIMAL: (u8, i8) = (38, 10);

/// A column as declared.
#[derive(Debug)]
pub(crate) struct Column {
    pub(crate) field: Field,
    pub(crate) primary_key: bool,
    pub(crate) metadata: Option<MetadataColumn>,
}

fn unsupported(column: &str, sql_type: &SqlType) -> ConfigError {
    ConfigError::UnsupportedType {
        column: column.to_owned(),
        sql_type: shorten(&sql_type.to_string()),
    }
}

fn time_unit(column: &str, precision: Option<u64>, sql_type: &SqlType) -> Result<TimeUnit> {
    Ok(match precision {
        None => TimeUnit::Nanosecond,
        Some(0) => TimeUnit::Second,
        Some(1..=3) => TimeUnit::Millisecond,
        Some(4..=6) => TimeUnit::Microsecond,
        Some(7..=9) => TimeUnit::Nanosecond,
        Some(_) => {
            return Err(ConfigError::InvalidColumn {
                column: column.to_owned(),
                reason: format!("`{sql_type}`: fractional second precision is at most 9"),
            });
        }
    })
}

fn decimal(column: &str, info: &ExactNumberInfo, sql_type: &SqlType) -> Result<DataType> {
    let (precision, scale) = match *info {
        ExactNumberInfo::None => {
            return Ok(DataType::Decimal128(DEFAULT_DECIMAL.0, DEFAULT_DECIMAL.1));
        }
        ExactNumberInfo::Precision(p) => (p, 0),
        ExactNumberInfo::PrecisionAndScale(p, s) => (p, s),
    };
    let invalid = |reason: String| ConfigError::InvalidColumn {
        column: column.to_owned(),
        reason: format!("`{sql_type}`: {reason}"),
    };
    if !(1..=76).contains(&precision) {
        return Err(invalid("precision must be between 1 and 76".to_owned()));
    }
    if scale < 0 || scale as u64 > precision {
        return Err(invalid(format!(
            "scale must be between 0 and the precision ({precision})"
        )));
    }
    // Both fit: precision ≤ 76, 0 ≤ scale ≤ precision.
    let (p, s) = (precision as u8, scale as i8);
    Ok(if p <= 38 {
        DataType::Decimal128(p, s)
    } else {
        DataType::Decimal256(p, s)
    })
}

/// The Arrow type of a SQL type; `Ok(None)` for JSON, which is text with an extension type.
fn arrow_type(column: &str, sql_type: &SqlType) -> Result<Option<DataType>> {
    use SqlType as S;
    let t = match sql_type {
        S::Bool | S::Boolean => DataType::Boolean,
        S::TinyInt(_) => DataType::Int8,
        S::SmallInt(_) => DataType::Int16,
        S::Int(_) | S::Integer(_) => DataType::Int32,
        S::BigInt(_) => DataType::Int64,
        S::Real => DataType::Float32,
        S::Float(ExactNumberInfo::None) => DataType::Float32,
        S::Float(ExactNumberInfo::Precision(p)) if *p <= 24 => DataType::Float32,
        S::Float(ExactNumberInfo::Precision(p)) if *p <= 53 => DataType::Float64,
        S::Double(ExactNumberInfo::None) | S::DoublePrecision => DataType::Float64,
        S::Decimal(info) | S::Numeric(info) | S::Dec(info) => decimal(column, info, sql_type)?,
        S::Text | S::String(None) | S::Varchar(_) | S::CharacterVarying(_) | S::CharVarying(_) => {
            DataType::Utf8
        }
        S::Char(_) | S::Character(_) => DataType::Utf8,
        S::Bytea | S::Binary(_) | S::Varbinary(_) | S::Blob(None) | S::Bytes(None) => {
            DataType::Binary
        }
        S::Date => DataType::Date32,
        S::Time(precision, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
            match time_unit(column, *precision, sql_type)? {
                unit @ (TimeUnit::Second | TimeUnit::Millisecond) => DataType::Time32(unit),
                unit => DataType::Time64(unit),
            }
        }
        S::Timestamp(precision, tz) => {
            let unit = time_unit(column, *precision, sql_type)?;
            match tz {
                TimezoneInfo::None | TimezoneInfo::WithoutTimeZone => {
                    DataType::Timestamp(unit, None)
                }
                TimezoneInfo::WithTimeZone | TimezoneInfo::Tz => {
                    DataType::Timestamp(unit, Some("UTC".into()))
                }
            }
        }
        S::JSON => return Ok(None),
        other => return Err(unsupported(column, other)),
    };
    Ok(Some(t))
}

/// The metadata kind named by `metadata('…')`, or an error saying what is wrong.
fn metadata_call(column: &str, expr: &Expr) -> Result<MetadataColumn> {
    let names = || {
        MetadataColumn::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let not_metadata = || ConfigError::InvalidColumn {
        column: column.to_owned(),
        reason: format!(
            "the only generated columns are `GENERATED ALWAYS AS (metadata('<name>'))` with a \
             name among {}",
            names()
        ),
    };
    let Expr::Function(function) = expr else {
        return Err(not_metadata());
    };
    let is_metadata = function.name.0.len() == 1
        && function.name.0[0]
            .as_ident()
            .is_some_and(|i| i.value.eq_ignore_ascii_case("metadata"));
    if !is_metadata {
        return Err(not_metadata());
    }
    let FunctionArguments::List(list) = &function.args else {
        return Err(not_metadata());
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(value)))] = list.args.as_slice()
    else {
        return Err(not_metadata());
    };
    let Value::SingleQuotedString(name) = &value.value else {
        return Err(not_metadata());
    };
    MetadataColumn::from_name(name).ok_or_else(|| ConfigError::InvalidColumn {
        column: column.to_owned(),
        reason: format!(
            "unknown metadata `{}`; expected one of {}",
            shorten(name),
            names()
        ),
    })
}

/// Converts one column definition.
pub(crate) fn column(def: &ColumnDef) -> Result<Column> {
    let name = def.name.value.clone();
    let mut nullable = true;
    let mut primary_key = false;
    let mut metadata = None;
    for option in &def.options {
        match &option.option {
            ColumnOption::Null => nullable = true,
            ColumnOption::NotNull => nullable = false,
            ColumnOption::PrimaryKey(_) => {
                primary_key = true;
                nullable = false;
            }
            ColumnOption::Comment(_) => {}
            ColumnOption::Generated {
                generation_expr: Some(expr),
                ..
            } => metadata = Some(metadata_call(&name, expr)?),
            other => {
                return Err(ConfigError::UnsupportedSql {
                    message: format!(
                        "column `{name}`: `{}` is not supported on Kafka tables",
                        shorten(&other.to_string())
                    ),
                });
            }
        }
    }
    let field = match arrow_type(&name, &def.data_type)? {
        Some(data_type) => Field::new(&name, data_type, nullable),
        None => json_field(&name, nullable),
    };
    let field = match metadata {
        Some(kind) => kind.mark(field),
        None => field,
    };
    Ok(Column {
        field,
        primary_key,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::dialect::LaminarDialect;
    use sqlparser::ast::Statement;
    use sqlparser::parser::Parser;

    fn columns(list: &str) -> Result<Vec<Column>> {
        let sql = format!("CREATE TABLE t ({list})");
        let statements = Parser::parse_sql(&LaminarDialect, &sql).expect("test SQL parses");
        let Statement::CreateTable(create) = &statements[0] else {
            panic!("not a CREATE TABLE");
        };
        create.columns.iter().map(column).collect()
    }

    fn types(list: &str) -> Vec<DataType> {
        columns(list)
            .unwrap()
            .into_iter()
            .map(|c| c.field.data_type().clone())
            .collect()
    }

    #[test]
    fn sql_types_map_to_arrow() {
        assert_eq!(
            types(
                "a BOOLEAN, b TINYINT, c SMALLINT, d INT, e INTEGER, f BIGINT, g REAL, h FLOAT, \
                 i DOUBLE, j DOUBLE PRECISION, k TEXT, l VARCHAR(10), m CHAR(3), n STRING, o BYTEA, \
                 p VARBINARY(16), q DATE, r TIME, s TIMESTAMP, t TIMESTAMP(3), u TIMESTAMP WITH TIME ZONE"
            ),
            vec![
                DataType::Boolean,
                DataType::Int8,
                DataType::Int16,
                DataType::Int32,
                DataType::Int32,
                DataType::Int64,
                DataType::Float32,
                DataType::Float32,
                DataType::Float64,
                DataType::Float64,
                DataType::Utf8,
                DataType::Utf8,
                DataType::Utf8,
                DataType::Utf8,
                DataType::Binary,
                DataType::Binary,
                DataType::Date32,
                DataType::Time64(TimeUnit::Nanosecond),
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                DataType::Timestamp(TimeUnit::Millisecond, None),
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            ]
        );
    }

    #[test]
    fn decimals_keep_precision_and_scale() {
        assert_eq!(
            types("a DECIMAL(10,2), b DECIMAL, c NUMERIC(5), d DECIMAL(50,4)"),
            vec![
                DataType::Decimal128(10, 2),
                DataType::Decimal128(38, 10),
                DataType::Decimal128(5, 0),
                DataType::Decimal256(50, 4),
            ]
        );
        let err = columns("a DECIMAL(3,5)").unwrap_err();
        assert_eq!(
            err.to_string(),
            "column `a`: `DECIMAL(3,5)`: scale must be between 0 and the precision (3)"
        );
        let err = columns("a DECIMAL(80,2)").unwrap_err();
        assert_eq!(
            err.to_string(),
            "column `a`: `DECIMAL(80,2)`: precision must be between 1 and 76"
        );
    }

    #[test]
    fn json_columns_carry_the_extension_type() {
        let cols = columns("payload JSON NOT NULL").unwrap();
        assert!(crate::schema::is_json(&cols[0].field));
        assert_eq!(cols[0].field.data_type(), &DataType::Utf8);
        assert!(!cols[0].field.is_nullable());
    }

    #[test]
    fn primary_key_columns_are_not_null() {
        let cols = columns("id BIGINT PRIMARY KEY, v TEXT").unwrap();
        assert!(cols[0].primary_key && !cols[0].field.is_nullable());
        assert!(!cols[1].primary_key && cols[1].field.is_nullable());
    }

    #[test]
    fn generated_metadata_columns_are_marked() {
        let cols = columns("p INT GENERATED ALWAYS AS (metadata('partition')) VIRTUAL").unwrap();
        assert_eq!(cols[0].metadata, Some(MetadataColumn::Partition));
        assert_eq!(
            MetadataColumn::of(&cols[0].field),
            Some(MetadataColumn::Partition)
        );
        assert_eq!(
            columns("p INT GENERATED ALWAYS AS (metadata('part')) STORED")
                .unwrap_err()
                .to_string(),
            "column `p`: unknown metadata `part`; expected one of topic, partition, offset, key, \
             timestamp, headers"
        );
        assert!(matches!(
            columns("p INT GENERATED ALWAYS AS (1 + 1) STORED").unwrap_err(),
            ConfigError::InvalidColumn { .. }
        ));
    }

    #[test]
    fn unsupported_types_and_options_are_named() {
        assert_eq!(
            columns("g INTERVAL").unwrap_err().to_string(),
            format!(
                "column `g`: unsupported type `INTERVAL`; supported types: {}",
                crate::config::SUPPORTED_SQL_TYPES
            )
        );
        assert_eq!(
            columns("a INT DEFAULT 1").unwrap_err().to_string(),
            "unsupported SQL: column `a`: `DEFAULT 1` is not supported on Kafka tables"
        );
    }
}
