//! The course platform's entities at head (sea-orm models of the tables the migrations make).

/// `users`.
pub mod user {
    use sea_orm::entity::prelude::*;

    /// A user.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        /// UUID string.
        #[sea_orm(
            primary_key,
            auto_increment = false,
            column_type = "String(StringLen::N(36))"
        )]
        pub id: String,
        /// Unique login name.
        #[sea_orm(unique, column_type = "String(StringLen::N(255))")]
        pub username: String,
        /// E-mail address (NOT NULL since 3e5f7a9b1c2d).
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub email: String,
        /// When created (UTC); the server fills it in.
        #[sea_orm(default_expr = "Expr::current_timestamp()")]
        pub created_at: DateTime,
        /// When last updated (UTC).
        pub updated_at: Option<DateTime>,
        /// Who created it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub created_by: Option<String>,
        /// Who last updated it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub updated_by: Option<String>,
        /// When archived (soft delete).
        pub archived_at: Option<DateTime>,
    }

    /// Relations of `users`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `organizations`.
pub mod organization {
    use sea_orm::entity::prelude::*;

    /// An organization.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organizations")]
    pub struct Model {
        /// UUID string.
        #[sea_orm(
            primary_key,
            auto_increment = false,
            column_type = "String(StringLen::N(36))"
        )]
        pub id: String,
        /// Display title.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub title: String,
        /// When created (UTC); the server fills it in.
        #[sea_orm(default_expr = "Expr::current_timestamp()")]
        pub created_at: DateTime,
        /// When last updated (UTC).
        pub updated_at: Option<DateTime>,
        /// Who created it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub created_by: Option<String>,
        /// Who last updated it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub updated_by: Option<String>,
        /// When archived (soft delete).
        pub archived_at: Option<DateTime>,
    }

    /// Relations of `organizations`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `course_families`.
pub mod course_family {
    use sea_orm::entity::prelude::*;

    /// A family of courses of one organization.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "course_families")]
    pub struct Model {
        /// UUID string.
        #[sea_orm(
            primary_key,
            auto_increment = false,
            column_type = "String(StringLen::N(36))"
        )]
        pub id: String,
        /// The owning organization (cascade on delete).
        #[sea_orm(indexed, column_type = "String(StringLen::N(36))")]
        pub organization_id: String,
        /// Display title.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub title: String,
        /// When created (UTC); the server fills it in.
        #[sea_orm(default_expr = "Expr::current_timestamp()")]
        pub created_at: DateTime,
        /// When last updated (UTC).
        pub updated_at: Option<DateTime>,
        /// Who created it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub created_by: Option<String>,
        /// Who last updated it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub updated_by: Option<String>,
        /// When archived (soft delete).
        pub archived_at: Option<DateTime>,
    }

    /// Relations of `course_families`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// The owning organization.
        #[sea_orm(
            belongs_to = "super::organization::Entity",
            from = "Column::OrganizationId",
            to = "super::organization::Column::Id",
            on_delete = "Cascade"
        )]
        Organization,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `courses`.
pub mod course {
    use sea_orm::entity::prelude::*;

    /// A course.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "courses")]
    pub struct Model {
        /// UUID string.
        #[sea_orm(
            primary_key,
            auto_increment = false,
            column_type = "String(StringLen::N(36))"
        )]
        pub id: String,
        /// The course family (cascade on delete).
        #[sea_orm(indexed, column_type = "String(StringLen::N(36))")]
        pub course_family_id: String,
        /// Display name (was `title` before f1e2d3c4b5a6).
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub name: String,
        /// Free text.
        #[sea_orm(column_type = "Text")]
        pub description: Option<String>,
        /// First day.
        pub start_date: Option<DateTime>,
        /// Last day.
        pub end_date: Option<DateTime>,
        /// When created (UTC); the server fills it in.
        #[sea_orm(default_expr = "Expr::current_timestamp()")]
        pub created_at: DateTime,
        /// When last updated (UTC).
        pub updated_at: Option<DateTime>,
        /// Who created it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub created_by: Option<String>,
        /// Who last updated it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub updated_by: Option<String>,
        /// When archived (soft delete).
        pub archived_at: Option<DateTime>,
        /// Short code, NOT NULL since d2c4e6a8b0f1, up to 32 characters since 3e5f7a9b1c2d.
        #[sea_orm(column_type = "String(StringLen::N(32))")]
        pub code: String,
    }

    /// Relations of `courses`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// The course family.
        #[sea_orm(
            belongs_to = "super::course_family::Entity",
            from = "Column::CourseFamilyId",
            to = "super::course_family::Column::Id",
            on_delete = "Cascade"
        )]
        CourseFamily,
        /// The user who created it (kept as NULL when the user goes).
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::CreatedBy",
            to = "super::user::Column::Id",
            on_delete = "SetNull"
        )]
        Creator,
        /// Its members.
        #[sea_orm(has_many = "super::course_member::Entity")]
        Members,
    }

    impl Related<super::course_member::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Members.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// `course_roles`.
pub mod course_role {
    use sea_orm::entity::prelude::*;

    /// A role a member has in a course (`_student` … `_owner`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "course_roles")]
    pub struct Model {
        /// `_student`, `_tutor`, …
        #[sea_orm(
            primary_key,
            auto_increment = false,
            column_type = "String(StringLen::N(36))"
        )]
        pub id: String,
        /// Display title.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub title: String,
        /// 1 (student) to 5 (owner).
        pub hierarchy_level: i32,
    }

    /// Relations of `course_roles`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `course_members`.
pub mod course_member {
    use sea_orm::entity::prelude::*;

    /// A user's membership in a course; unique per (course_id, user_id).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "course_members")]
    pub struct Model {
        /// UUID string.
        #[sea_orm(
            primary_key,
            auto_increment = false,
            column_type = "String(StringLen::N(36))"
        )]
        pub id: String,
        /// The course (cascade on delete); unique together with `user_id`.
        #[sea_orm(
            unique_key = "uq_course_member",
            column_type = "String(StringLen::N(36))"
        )]
        pub course_id: String,
        /// The user (cascade on delete); indexed, unique together with `course_id`.
        #[sea_orm(
            indexed,
            unique_key = "uq_course_member",
            column_type = "String(StringLen::N(36))"
        )]
        pub user_id: String,
        /// The role.
        #[sea_orm(column_type = "String(StringLen::N(36))")]
        pub course_role_id: String,
        /// When created (UTC); the server fills it in.
        #[sea_orm(default_expr = "Expr::current_timestamp()")]
        pub created_at: DateTime,
        /// When last updated (UTC).
        pub updated_at: Option<DateTime>,
        /// Who created it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub created_by: Option<String>,
        /// Who last updated it.
        #[sea_orm(column_type = "String(StringLen::N(255))")]
        pub updated_by: Option<String>,
        /// When archived (soft delete).
        pub archived_at: Option<DateTime>,
    }

    /// Relations of `course_members`.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// The course.
        #[sea_orm(
            belongs_to = "super::course::Entity",
            from = "Column::CourseId",
            to = "super::course::Column::Id",
            on_delete = "Cascade"
        )]
        Course,
        /// The user.
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id",
            on_delete = "Cascade"
        )]
        User,
        /// The role.
        #[sea_orm(
            belongs_to = "super::course_role::Entity",
            from = "Column::CourseRoleId",
            to = "super::course_role::Column::Id"
        )]
        Role,
    }

    impl Related<super::course::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Course.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}
