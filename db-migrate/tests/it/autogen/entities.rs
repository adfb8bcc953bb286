//! The entities of the autogenerate tests (`pub` items inside are what the derives need), one module per version; each version makes one kind of change.

/// v1: two new tables with a foreign key (ON DELETE CASCADE), an index and a unique column.
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod v1 {
    pub(crate) mod author {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "authors")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(column_type = "String(StringLen::N(100))")]
            pub name: String,
            #[sea_orm(unique, column_type = "String(StringLen::N(255))")]
            pub email: String,
            #[sea_orm(column_type = "Text")]
            pub bio: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub(crate) mod post {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(indexed)]
            pub author_id: i32,
            #[sea_orm(column_type = "String(StringLen::N(200))")]
            pub title: String,
            #[sea_orm(column_type = "Text")]
            pub body: Option<String>,
            #[sea_orm(indexed)]
            pub created_at: DateTime,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::author::Entity",
                from = "Column::AuthorId",
                to = "super::author::Column::Id",
                on_delete = "Cascade"
            )]
            Author,
        }

        impl ActiveModelBehavior for ActiveModel {}
    }
}

/// v2: columns: drop `authors.bio`; add `posts.views` (NOT NULL, default 0) and `posts.editor_id`; widen `posts.title`; make `posts.body` NOT NULL.
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod v2 {
    pub(crate) mod author {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "authors")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(column_type = "String(StringLen::N(100))")]
            pub name: String,
            #[sea_orm(unique, column_type = "String(StringLen::N(255))")]
            pub email: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub(crate) mod post {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(indexed)]
            pub author_id: i32,
            #[sea_orm(column_type = "String(StringLen::N(250))")]
            pub title: String,
            #[sea_orm(column_type = "Text")]
            pub body: String,
            #[sea_orm(indexed)]
            pub created_at: DateTime,
            #[sea_orm(default_value = 0)]
            pub views: i32,
            pub editor_id: Option<i32>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::author::Entity",
                from = "Column::AuthorId",
                to = "super::author::Column::Id",
                on_delete = "Cascade"
            )]
            Author,
        }

        impl ActiveModelBehavior for ActiveModel {}
    }
}

/// v3: indexes: drop the index on `posts.created_at` and the unique `authors.email`; add unique `authors.name` and a composite unique (author_id, title).
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod v3 {
    pub(crate) mod author {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "authors")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(unique, column_type = "String(StringLen::N(100))")]
            pub name: String,
            #[sea_orm(column_type = "String(StringLen::N(255))")]
            pub email: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub(crate) mod post {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(indexed, unique_key = "uq_posts_author_title")]
            pub author_id: i32,
            #[sea_orm(
                unique_key = "uq_posts_author_title",
                column_type = "String(StringLen::N(250))"
            )]
            pub title: String,
            #[sea_orm(column_type = "Text")]
            pub body: String,
            pub created_at: DateTime,
            #[sea_orm(default_value = 0)]
            pub views: i32,
            pub editor_id: Option<i32>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::author::Entity",
                from = "Column::AuthorId",
                to = "super::author::Column::Id",
                on_delete = "Cascade"
            )]
            Author,
        }

        impl ActiveModelBehavior for ActiveModel {}
    }
}

/// v4: foreign keys: drop `posts.author_id -> authors`, add `posts.editor_id -> authors` ON DELETE SET NULL.
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod v4 {
    pub(crate) mod author {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "authors")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(unique, column_type = "String(StringLen::N(100))")]
            pub name: String,
            #[sea_orm(column_type = "String(StringLen::N(255))")]
            pub email: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub(crate) mod post {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(indexed, unique_key = "uq_posts_author_title")]
            pub author_id: i32,
            #[sea_orm(
                unique_key = "uq_posts_author_title",
                column_type = "String(StringLen::N(250))"
            )]
            pub title: String,
            #[sea_orm(column_type = "Text")]
            pub body: String,
            pub created_at: DateTime,
            #[sea_orm(default_value = 0)]
            pub views: i32,
            pub editor_id: Option<i32>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::author::Entity",
                from = "Column::EditorId",
                to = "super::author::Column::Id",
                on_delete = "SetNull"
            )]
            Editor,
        }

        impl ActiveModelBehavior for ActiveModel {}
    }
}

/// v5: rename `authors.name` to `display_name` (`renamed_from`).
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod v5 {
    pub(crate) mod author {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "authors")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(
                unique,
                column_type = "String(StringLen::N(100))",
                renamed_from = "name"
            )]
            pub display_name: String,
            #[sea_orm(column_type = "String(StringLen::N(255))")]
            pub email: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub(crate) mod post {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(indexed, unique_key = "uq_posts_author_title")]
            pub author_id: i32,
            #[sea_orm(
                unique_key = "uq_posts_author_title",
                column_type = "String(StringLen::N(250))"
            )]
            pub title: String,
            #[sea_orm(column_type = "Text")]
            pub body: String,
            pub created_at: DateTime,
            #[sea_orm(default_value = 0)]
            pub views: i32,
            pub editor_id: Option<i32>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::author::Entity",
                from = "Column::EditorId",
                to = "super::author::Column::Id",
                on_delete = "SetNull"
            )]
            Editor,
        }

        impl ActiveModelBehavior for ActiveModel {}
    }
}

/// v6: `authors.display_name` becomes `full_name` *without* `renamed_from`: a probable rename.
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod v6 {
    pub(crate) mod author {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "authors")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(unique, column_type = "String(StringLen::N(100))")]
            pub full_name: String,
            #[sea_orm(column_type = "String(StringLen::N(255))")]
            pub email: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub(crate) use super::v5::post;
}

/// Entities for a table SQLAlchemy created on SQLite (integer spellings differ, affinity same).
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod affinity {
    pub(crate) mod trial {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "trials")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub trial_id: i32,
            pub number: i64,
            pub study_id: i64,
            pub attempts: i32,
            #[sea_orm(column_type = "String(StringLen::N(512))")]
            pub state: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

/// v7: a new table with an enum column (a PostgreSQL type, an inline ENUM on MySQL, text on
/// SQLite), as optuna's `studydirection`.
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod v7 {
    pub(crate) mod study {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
        #[sea_orm(rs_type = "String", db_type = "Enum", enum_name = "studydirection")]
        pub enum StudyDirection {
            #[sea_orm(string_value = "MINIMIZE")]
            Minimize,
            #[sea_orm(string_value = "MAXIMIZE")]
            Maximize,
        }

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "studies")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            #[sea_orm(column_type = "String(StringLen::N(100))")]
            pub name: String,
            pub direction: StudyDirection,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

/// db-core's column types: a UTC timestamp (`datetime(6)` on MySQL), a typed JSON column and a
/// UUID-string key.
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod v8 {
    pub(crate) mod event {
        use db_core::types::{Json, UtcDateTime};
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "events")]
        pub struct Model {
            #[sea_orm(
                primary_key,
                auto_increment = false,
                column_type = "String(StringLen::N(36))"
            )]
            pub id: String,
            pub at: UtcDateTime,
            pub until: Option<UtcDateTime>,
            pub payload: Json<Vec<String>>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}
