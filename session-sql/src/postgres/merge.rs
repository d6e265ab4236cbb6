//! One request's [`Change`] as SQL over the stored JSONB: removed keys dropped,
//! written keys set, counters added in the database, each with its bind.

use super::*;
use crate::keys;

/// The SQL of `change` applied to the stored `data`, with its binds from `$first`.
pub(super) struct Merge {
    pub(super) expr: String,
    pub(super) binds: Vec<Bind>,
}

pub(super) enum Bind {
    Text(String),
    Keys(Vec<String>),
    Int(i64),
    Flag(bool),
}

impl Merge {
    pub(super) fn new(change: &Change<'_>, first: usize) -> Merge {
        let mut merge = Merge {
            expr: String::new(),
            binds: Vec::new(),
        };
        let base = if change.flush { "'{}'::jsonb" } else { "data" };
        let removed: Vec<String> = change
            .edits
            .iter()
            .filter(|(_, edit)| matches!(edit, Edit::Remove))
            .map(|(key, _)| keys::stored(key).into_owned())
            .collect();
        let mut expr = format!("({base}");
        if !removed.is_empty() {
            let n = merge.bind(first, Bind::Keys(removed));
            let _ = write!(expr, " - ${n}::text[]");
        }
        let mut pairs = Vec::new();
        for &(key, edit) in &change.edits {
            let value = match edit {
                Edit::Remove => continue,
                Edit::Set(value) => {
                    let json = merge.bind(first, Bind::Text(value.json().to_owned()));
                    let flash = merge.bind(first, Bind::Flag(value.is_flash()));
                    format!("jsonb_build_array(${json}::text, ${flash}::bool)")
                }
                Edit::Add { by, flash } => {
                    let k = merge.bind(first, Bind::Text(keys::stored(key).into_owned()));
                    let by = merge.bind(first, Bind::Int(by));
                    let flash = merge.bind(first, Bind::Flag(flash));
                    // The stored counter as Rust's `i64` parse reads it, else 0; the
                    // sum saturates at the i64 range, as `Change::apply_to` does.
                    let current = if change.flush {
                        "0::numeric".to_owned()
                    } else {
                        format!(
                            "(CASE WHEN (data->${k}::text->>0) ~ '^[+-]?[0-9]{{1,19}}$' \
                              AND (data->${k}::text->>0)::numeric BETWEEN -9223372036854775808 AND 9223372036854775807 \
                              THEN (data->${k}::text->>0)::numeric ELSE 0 END)"
                        )
                    };
                    format!(
                        "jsonb_build_array(LEAST(GREATEST({current} + ${by}::bigint, -9223372036854775808), 9223372036854775807)::bigint::text, ${flash}::bool)"
                    )
                }
            };
            let k = merge.bind(first, Bind::Text(keys::stored(key).into_owned()));
            pairs.push(format!("${k}::text, {value}"));
        }
        if !pairs.is_empty() {
            // jsonb_build_object takes at most 100 arguments: 50 pairs a call.
            for chunk in pairs.chunks(50) {
                let _ = write!(expr, " || jsonb_build_object({})", chunk.join(", "));
            }
        }
        expr.push(')');
        merge.expr = expr;
        merge
    }

    /// Adds `bind`; its placeholder number.
    pub(super) fn bind(&mut self, first: usize, bind: Bind) -> usize {
        self.binds.push(bind);
        first + self.binds.len() - 1
    }

    pub(super) fn apply<'q>(
        &'q self,
        mut query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.as_str()),
                Bind::Keys(keys) => query.bind(keys.as_slice()),
                Bind::Int(n) => query.bind(*n),
                Bind::Flag(flag) => query.bind(*flag),
            };
        }
        query
    }
}
