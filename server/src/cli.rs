//! The `storecheck` command line.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use storecheck_shared::{Role, validate};
use tokio::io::AsyncBufReadExt;

use crate::config::{DataConfig, LogFormat, Secret, ServeConfig};
use crate::startup::{Application, shutdown_signal};
use crate::{auth, catalog, db, demo, routes, telemetry};

#[derive(Debug, Parser)]
#[command(name = "storecheck", version, about = "Mystery-shopper audit backend")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the serve variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies migrations first).
    Serve(ServeConfig),
    /// Apply database migrations and exit.
    Migrate(DataConfig),
    /// Create a user, for example the first HQ account. The password comes
    /// from STORECHECK_PASSWORD or, when unset, the first line of standard input.
    CreateUser(CreateUser),
    /// The standards catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// The background job queue shared by every server.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Print the OpenAPI description (what `/openapi.yaml` serves).
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Queue every job that was given up again, due at once, its failures
    /// forgotten (after fixing what made it fail).
    RetryFailed(DataConfig),
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Load the default catalog (SERVQUAL dimensions, the standards written
    /// from the domain brief, a checklist draft using them); what exists
    /// already is kept.
    ImportDefault(DataConfig),
}

#[derive(Debug, clap::Args)]
pub struct CreateUser {
    #[arg(long)]
    pub email: String,
    /// auditor, regional_manager or hq
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// Code of a region the user belongs to (repeat for several).
    #[arg(long = "region")]
    pub regions: Vec<String>,
    /// Prefer the variable or standard input: a flag shows in process lists.
    #[arg(long, env = "STORECHECK_PASSWORD", hide_env_values = true, hide = true)]
    pub password: Option<Secret>,
    #[command(flatten)]
    pub data: DataConfig,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: use auditor, regional_manager or hq"))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            telemetry::init(config.log_format);
            tracing::info!(bind = %config.bind, data_dir = %config.data.data_dir.display(), "starting");
            let demo = config.demo;
            let app = Application::build(config).await?;
            if demo {
                println!("{}", demo::logins_text());
            }
            app.run_until(shutdown_signal()).await
        }
        Command::Migrate(data) => {
            telemetry::init(LogFormat::Text);
            let db = db::connect(&data).await?;
            db::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateUser(args) => create_user(args).await,
        Command::Catalog(CatalogCommand::ImportDefault(data)) => {
            let db = db::connect(&data).await?;
            db::migrate(&db).await?;
            let txn = crate::db::begin_write(&db).await?;
            let r = catalog::import_default(&txn).await.map_err(api_err)?;
            txn.commit().await?;
            println!(
                "default catalog: {} dimension(s) and {} standard(s) added; checklist draft {} ({})",
                r.dimensions_created,
                r.standards_created,
                r.checklist_id,
                if r.checklist_created {
                    "created"
                } else {
                    "already there"
                }
            );
            Ok(())
        }
        Command::Jobs(JobsCommand::RetryFailed(data)) => {
            let db = db::connect(&data).await?;
            db::migrate(&db).await?;
            let n = db::jobs::retry_failed(&db).await.map_err(api_err)?;
            println!("{n} failed job(s) queued again");
            Ok(())
        }
        Command::Openapi => {
            print!("{}", routes::openapi_yaml()?);
            Ok(())
        }
    }
}

async fn create_user(args: CreateUser) -> anyhow::Result<()> {
    let email = validate::email(&args.email).map_err(|m| anyhow::anyhow!("--email {m}"))?;
    let password = match args.password {
        Some(Secret(p)) => p,
        None => {
            let mut line = String::new();
            tokio::io::BufReader::new(tokio::io::stdin())
                .read_line(&mut line)
                .await
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    validate::password(&password).map_err(|m| anyhow::anyhow!("password {m}"))?;
    let db = db::connect(&args.data).await?;
    db::migrate(&db).await?;
    let found = db::regions::by_codes(&db, args.regions.clone())
        .await
        .map_err(api_err)?;
    let mut region_ids = Vec::new();
    for code in &args.regions {
        match found.iter().find(|r| &r.code == code) {
            Some(r) => region_ids.push(r.id),
            None => bail!("no region with code {code:?}"),
        }
    }
    if db::users::by_email(&db, &email)
        .await
        .map_err(api_err)?
        .is_some()
    {
        bail!("a user with e-mail {email} already exists");
    }
    let hash = auth::hash_password(password).await?;
    let txn = crate::db::begin_write(&db).await?;
    let user = db::users::create(&txn, email, hash, args.role, region_ids)
        .await
        .map_err(api_err)?;
    txn.commit().await?;
    println!("created {} user {} ({})", user.role, user.email, user.id);
    Ok(())
}

fn api_err(e: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}
