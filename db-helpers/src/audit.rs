//! Audit columns filled on every write: `created_at` / `created_by` on insert and `updated_at` /
//! `updated_by` on update (the course platform's audit mixin, SQLAlchemy's `default=` /
//! `onupdate=`), with the acting user taken from the surrounding scope ([`acting_as`]).

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, Value};

use crate::soft_delete::now_for;

tokio::task_local! {
    static ACTOR: String;
}

/// Runs `f` with `user` as the acting user: the audit columns of rows written inside it name
/// this user ([`actor`]). Scopes nest; the innermost wins.
pub async fn acting_as<F: Future>(user: impl Into<String>, f: F) -> F::Output {
    ACTOR.scope(user.into(), f).await
}

/// The acting user of the current scope, if any.
#[must_use]
pub fn actor() -> Option<String> {
    ACTOR.try_with(Clone::clone).ok()
}

/// Which columns of an entity hold its audit fields (any may be `None`).
#[derive(Clone, Copy, Debug)]
pub struct AuditColumns<C> {
    /// When the row was created (set on insert unless given).
    pub created_at: Option<C>,
    /// When the row was last updated (set on every update).
    pub updated_at: Option<C>,
    /// Who created it (the [`actor`], on insert, unless given).
    pub created_by: Option<C>,
    /// Who last updated it (the [`actor`], on every update).
    pub updated_by: Option<C>,
}

/// An entity whose active models fill their audit columns: call [`Audited::stamp`] from
/// `ActiveModelBehavior::before_save`. sea-orm runs that hook for `insert`, `update` and
/// `save` of one active model; bulk paths (`insert_many`, [`insert_chunked`](crate::insert_chunked),
/// [`update_by_query`](crate::update_by_query)) do not, so stamp those models yourself.
///
/// ```
/// # mod doc {
/// use sea_orm::entity::prelude::*;
/// use db_helpers::{AuditColumns, Audited};
///
/// #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
/// #[sea_orm(table_name = "doc")]
/// pub struct Model {
///     #[sea_orm(primary_key)]
///     pub id: i64,
///     pub created_at: DateTime,
///     pub created_by: Option<String>,
///     pub updated_at: Option<DateTime>,
///     pub updated_by: Option<String>,
/// }
/// #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// pub enum Relation {}
///
/// impl Audited for Entity {
///     const COLUMNS: AuditColumns<Column> = AuditColumns {
///         created_at: Some(Column::CreatedAt),
///         updated_at: Some(Column::UpdatedAt),
///         created_by: Some(Column::CreatedBy),
///         updated_by: Some(Column::UpdatedBy),
///     };
/// }
///
/// #[async_trait::async_trait]
/// impl ActiveModelBehavior for ActiveModel {
///     async fn before_save<C: ConnectionTrait>(mut self, _: &C, insert: bool) -> Result<Self, DbErr> {
///         Entity::stamp(&mut self, insert);
///         Ok(self)
///     }
/// }
/// # }
/// ```
pub trait Audited: EntityTrait {
    /// The entity's audit columns.
    const COLUMNS: AuditColumns<Self::Column>;

    /// Fills the audit columns of `model` for an insert (`insert`) or an update: on insert
    /// `created_at` (now, UTC) and `created_by` (the [`actor`]) unless already set; on update
    /// `updated_at` and `updated_by`. Without an acting user the `*_by` columns are left alone.
    fn stamp<A>(model: &mut A, insert: bool)
    where
        A: ActiveModelTrait<Entity = Self>,
    {
        let columns = Self::COLUMNS;
        let (at, by) = if insert {
            (columns.created_at, columns.created_by)
        } else {
            (columns.updated_at, columns.updated_by)
        };
        if let Some(c) = at
            && (!insert || model.is_not_set(c))
        {
            model.set(c, now_for(c.def().get_column_type()));
        }
        if let (Some(c), Some(user)) = (by, actor())
            && (!insert || model.is_not_set(c))
        {
            model.set(c, Value::String(Some(user)));
        }
    }
}
