//! Opens the course database (migrating it on open), adds a course with members in one
//! transaction, and prints the course with its members.
//!
//! Run with: `cargo run -p example-courses` (embedded SQLite), or with `DATABASE_URL` set to a
//! PostgreSQL or MariaDB URL.

#![expect(clippy::print_stdout, reason = "a demo program prints its results")]

use std::process::ExitCode;

use db_core::{Database, OpenOptions};
use example_courses::entities::{
    course, course_family, course_member, course_role, organization, user,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", db_migrate::cli::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| example_courses::default_url());
    let migrator = example_courses::migrations::migrator()?;
    let db = Database::open_migrated(OpenOptions::new(url), &migrator).await?;
    println!("database at {}", migrator.current(&db).await?.join(", "));

    let course_id = new_id();
    let cid = course_id.clone();
    db.transaction(|txn| {
        Box::pin(async move {
            let now = chrono::Utc::now().naive_utc();
            let org = organization::ActiveModel {
                id: Set(new_id()),
                title: Set("Graz University of Technology".into()),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            let family = course_family::ActiveModel {
                id: Set(new_id()),
                organization_id: Set(org.id),
                title: Set("Programming".into()),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            course::ActiveModel {
                id: Set(cid.clone()),
                course_family_id: Set(family.id),
                name: Set("Introduction to Rust".into()),
                code: Set(format!("RUST-{}", &cid[..4])),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            for (name, role) in [
                ("ada", "_lecturer"),
                ("grace", "_tutor"),
                ("linus", "_student"),
            ] {
                let suffix = &new_id()[..8];
                let u = user::ActiveModel {
                    id: Set(new_id()),
                    username: Set(format!("{name}-{suffix}")),
                    email: Set(format!("{name}@example.org")),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                course_member::ActiveModel {
                    id: Set(new_id()),
                    course_id: Set(cid.clone()),
                    user_id: Set(u.id),
                    course_role_id: Set(role.into()),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
            }
            Ok::<_, DbErr>(())
        })
    })
    .await?;

    let Some(c) = course::Entity::find_by_id(course_id).one(&db).await? else {
        return Err("the course just inserted is missing".into());
    };
    println!("course {} ({}): {}", c.code, c.id, c.name);
    let members = c
        .find_related(course_member::Entity)
        .order_by_asc(course_member::Column::CourseRoleId)
        .all(&db)
        .await?;
    for m in members {
        let who = user::Entity::find_by_id(m.user_id.clone()).one(&db).await?;
        let role = course_role::Entity::find()
            .filter(course_role::Column::Id.eq(m.course_role_id.clone()))
            .one(&db)
            .await?;
        println!(
            "  member {:<20} role {}",
            who.map_or_else(|| m.user_id.clone(), |u| u.username),
            role.map_or_else(|| m.course_role_id.clone(), |r| r.title)
        );
    }
    db.close().await?;
    Ok(())
}
