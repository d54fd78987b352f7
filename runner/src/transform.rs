//! A stateless query compiled once and applied to every batch a source emits: a filter and a
//! projection, planned and type-checked by DataFusion, evaluated batch by batch.
//!
//! Evaluating the expressions directly (rather than running DataFusion's stream executor)
//! keeps one output batch per input batch, so that the rows written for a source batch are
//! known, and a batch whose rows are all filtered out yields an empty batch instead of
//! nothing. A query that is not a filter and a projection over one table (an aggregate, a
//! join, a sort, a limit, a window) is refused when the script starts, with the reason.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

use crate::error::RunnerError;

/// A compiled query.
#[derive(Debug)]
pub struct Transform {
    /// The source table it reads.
    source: String,
    /// Source columns the expressions read, in the scan's order.
    scan: Option<Vec<usize>>,
    predicate: Option<Arc<dyn PhysicalExpr>>,
    projection: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
}

fn refuse(statement: usize, what: &str) -> RunnerError {
    RunnerError::statement(
        statement,
        format!(
            "{what} cannot run on a stream: a stream never ends, so its result would never be \
             complete (the runner runs filters and projections of one source table)"
        ),
    )
}

impl Transform {
    /// Plans `select` (a query over table `source`, registered in `ctx`) and compiles it.
    pub(crate) async fn plan(
        ctx: &SessionContext,
        statement: usize,
        select: &str,
    ) -> Result<Self, RunnerError> {
        let df = ctx
            .sql(select)
            .await
            .map_err(|e| RunnerError::plan(statement, e))?;
        let plan = df
            .into_optimized_plan()
            .map_err(|e| RunnerError::plan(statement, e))?;
        let out_schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
        let mut projection = None;
        let mut predicate = None;
        let mut node = &plan;
        let (scan_projection, scan_schema, source) = loop {
            match node {
                LogicalPlan::Projection(p) if projection.is_none() && predicate.is_none() => {
                    projection = Some((p.expr.clone(), p.input.schema().clone()));
                    node = &p.input;
                }
                LogicalPlan::Filter(f) if predicate.is_none() => {
                    predicate = Some((f.predicate.clone(), f.input.schema().clone()));
                    node = &f.input;
                }
                LogicalPlan::SubqueryAlias(a) => node = &a.input,
                LogicalPlan::TableScan(t) => {
                    if !t.filters.is_empty() {
                        return Err(RunnerError::statement(
                            statement,
                            "internal: a filter was pushed into the scan",
                        ));
                    }
                    if t.fetch.is_some() {
                        return Err(refuse(statement, "LIMIT"));
                    }
                    break (
                        t.projection.clone(),
                        t.projected_schema.clone(),
                        t.table_name.table().to_owned(),
                    );
                }
                LogicalPlan::Aggregate(_) => {
                    return Err(refuse(statement, "an aggregate without a window"));
                }
                LogicalPlan::Join(_) => return Err(refuse(statement, "a join")),
                LogicalPlan::Sort(_) => return Err(refuse(statement, "ORDER BY")),
                LogicalPlan::Limit(_) => return Err(refuse(statement, "LIMIT")),
                LogicalPlan::Window(_) => return Err(refuse(statement, "a window function")),
                LogicalPlan::Distinct(_) => return Err(refuse(statement, "DISTINCT")),
                LogicalPlan::Union(_) => return Err(refuse(statement, "UNION")),
                other => {
                    return Err(RunnerError::statement(
                        statement,
                        format!(
                            "the query's plan has a `{}` step; the runner runs filters and \
                             projections of one source table",
                            other.display()
                        ),
                    ));
                }
            }
        };
        let physical = |expr: datafusion::logical_expr::Expr, schema: &DFSchema| {
            ctx.create_physical_expr(expr, schema)
                .map_err(|e| RunnerError::plan(statement, e))
        };
        let predicate = match predicate {
            Some((expr, schema)) => Some(physical(expr, &schema)?),
            None => None,
        };
        let projection = match projection {
            Some((exprs, schema)) => exprs
                .into_iter()
                .map(|e| physical(e, &schema))
                .collect::<Result<Vec<_>, _>>()?,
            None => scan_schema
                .columns()
                .into_iter()
                .map(|c| physical(datafusion::logical_expr::Expr::Column(c), &scan_schema))
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Transform {
            source,
            scan: scan_projection,
            predicate,
            projection,
            schema: out_schema,
        })
    }

    /// The source table the query reads.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The schema of the rows [`apply`](Self::apply) returns.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Runs the query on one batch of the source.
    pub fn apply(&self, batch: &RecordBatch) -> datafusion::error::Result<RecordBatch> {
        let input = match &self.scan {
            Some(columns) => batch.project(columns)?,
            None => batch.clone(),
        };
        let input = match &self.predicate {
            Some(p) => {
                let mask = p.evaluate(&input)?.into_array(input.num_rows())?;
                let mask = mask
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .ok_or_else(|| {
                        datafusion::error::DataFusionError::Execution(
                            "WHERE is not a boolean".into(),
                        )
                    })?;
                filter_record_batch(&input, mask)?
            }
            None => input,
        };
        let columns = self
            .projection
            .iter()
            .map(|e| e.evaluate(&input)?.into_array(input.num_rows()))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(input.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &options,
        )?)
    }
}

/// Casts a query's output to a sink's columns, by position.
#[derive(Debug, Clone)]
pub(crate) struct SinkCast {
    schema: SchemaRef,
}

impl SinkCast {
    /// Checks that `query` (the SELECT's columns) fits `sink` (the table's), by position and
    /// type; the error names the column.
    pub(crate) fn new(
        statement: usize,
        sink_table: &str,
        query: &Schema,
        sink: &Schema,
    ) -> Result<Self, RunnerError> {
        if query.fields().len() != sink.fields().len() {
            return Err(RunnerError::statement(
                statement,
                format!(
                    "INSERT INTO {sink_table}: the query has {} columns, the table {} ({})",
                    query.fields().len(),
                    sink.fields().len(),
                    sink.fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        for (q, s) in query.fields().iter().zip(sink.fields()) {
            if !arrow::compute::can_cast_types(q.data_type(), s.data_type()) {
                return Err(RunnerError::statement(
                    statement,
                    format!(
                        "INSERT INTO {sink_table}: column `{}` is {} but the query gives {} \
                         (`{}`), which does not convert",
                        s.name(),
                        s.data_type(),
                        q.data_type(),
                        q.name()
                    ),
                ));
            }
        }
        let fields: Vec<Field> = sink
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        Ok(SinkCast {
            schema: Arc::new(Schema::new_with_metadata(fields, sink.metadata().clone())),
        })
    }

    /// No conversion: the sink takes the query's columns as they are.
    pub(crate) fn identity(query: &SchemaRef) -> Self {
        SinkCast {
            schema: query.clone(),
        }
    }

    /// The batch in the sink's columns.
    pub(crate) fn apply(&self, batch: &RecordBatch) -> datafusion::error::Result<RecordBatch> {
        let columns = batch
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(c.clone())
                } else {
                    cast(c, f.data_type())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &options,
        )?)
    }
}
