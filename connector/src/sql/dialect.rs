//! The SQL dialect of Kafka table declarations.
//!
//! sqlparser's `GenericDialect` is the permissive choice, but it reads a column named `key`
//! at the start of a column definition as a MySQL `KEY (…)` index, so `key TEXT` — the record
//! key metadata column — does not parse. That rule is keyed on the dialect's type, so this
//! dialect is its own type and takes every other behaviour from `GenericDialect`.

use sqlparser::dialect::{Dialect, GenericDialect};

/// `GenericDialect` without MySQL index definitions in column lists.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LaminarDialect;

macro_rules! like_generic {
    ($($method:ident),* $(,)?) => {
        $(fn $method(&self) -> bool { GenericDialect.$method() })*
    };
}

impl Dialect for LaminarDialect {
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        GenericDialect.is_delimited_identifier_start(ch)
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        GenericDialect.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        GenericDialect.is_identifier_part(ch)
    }

    like_generic!(
        supports_map_typedef_with_parentheses,
        supports_unicode_string_literal,
        supports_literal_prefix_in_qualified_name,
        supports_partition_by_after_order_by,
        supports_array_join_syntax,
        supports_group_by_expr,
        supports_group_by_with_modifier,
        supports_left_associative_joins_without_parens,
        supports_connect_by,
        supports_match_recognize,
        supports_pipe_operator,
        supports_start_transaction_modifier,
        supports_window_function_null_treatment_arg,
        supports_dictionary_syntax,
        supports_window_clause_named_window_reference,
        supports_parenthesized_set_variables,
        supports_select_wildcard_except,
        support_map_literal_syntax,
        allow_extract_custom,
        allow_extract_single_quotes,
        supports_extract_comma_syntax,
        supports_create_view_comment_syntax,
        supports_parens_around_table_factor,
        supports_values_as_table_factor,
        supports_create_index_with_clause,
        supports_explain_with_utility_options,
        supports_exclude_constraint,
        supports_limit_comma,
        supports_update_order_by,
        supports_from_first_select,
        supports_projection_trailing_commas,
        supports_asc_desc_in_column_definition,
        supports_try_convert,
        supports_bitwise_shift_operators,
        supports_singular_value_keyword,
        supports_comma_join_constraint,
        supports_tilde_like_match_operator,
        supports_aggregate_order_by_with_empty_args,
        supports_in_table_expression,
        supports_comparison_in_between_low_bound,
        supports_comment_on,
        supports_named_fn_args_with_assignment_operator,
        supports_struct_literal,
        supports_empty_projections,
        supports_nested_comments,
        supports_multiline_comment_hints,
        supports_string_escape_constant,
        supports_array_typedef_with_brackets,
        supports_filter_during_aggregation,
        supports_select_wildcard_exclude,
        supports_interval_options,
        supports_select_wildcard_replace,
        supports_select_wildcard_ilike,
        supports_select_wildcard_rename,
        supports_comma_separated_trim,
        supports_cte_without_as,
        supports_select_item_multi_column_alias,
        supports_aliased_function_args,
    );
}
