//! The `kiln` binary: parses arguments and hands over to the service libraries.

mod admin;
mod bench;
mod bench_rag;
mod bench_template;
mod openapi;
mod project;
mod rag;
mod serve;
mod task;
mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Turns a requirement into a tested, reviewed, deployed application"
)]
struct Cli {
    /// Configuration file (TOML); `KILN_*` environment variables override it.
    #[arg(long, global = true, env = "KILN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one service until SIGINT/SIGTERM.
    Serve {
        #[arg(value_enum)]
        service: serve::Service,
    },
    /// Run all of Kiln on this machine: NATS and Postgres (started when none answers),
    /// migrations, and every service as its own process.
    Up(up::Args),
    /// Apply database migrations and exit.
    Migrate,
    /// Submit and inspect tasks through the HTTP API.
    Task {
        #[command(subcommand)]
        command: task::Command,
    },
    /// Attach an existing repository as a project, and show what Kiln learned about it.
    Project {
        #[command(subcommand)]
        command: project::Command,
    },
    /// Index a project's code and search it (hybrid dense + BM25 retrieval).
    Rag {
        #[command(subcommand)]
        command: rag::Command,
    },
    /// Measure the pipeline's messaging overhead, or a template's validation and deploy times.
    Bench {
        #[command(subcommand)]
        command: bench::Command,
    },
    /// Print the HTTP API's OpenAPI document (JSON).
    Openapi,
    /// Create, list and revoke API tokens (straight against the database).
    Token {
        /// The `kiln up` installation whose database to use when none is configured.
        #[arg(long, default_value = ".kiln", global = true)]
        data_dir: PathBuf,
        #[command(subcommand)]
        command: admin::TokenCommand,
    },
    /// Verify the audit trail's hash chain, or list its newest entries.
    Audit {
        /// The `kiln up` installation whose database to use when none is configured.
        #[arg(long, default_value = ".kiln", global = true)]
        data_dir: PathBuf,
        #[command(subcommand)]
        command: admin::AuditCommand,
    },
    /// Print a nats-server `authorization` block: one user per service with its permissions.
    NatsConfig(up::NatsConfigArgs),
}

fn main() -> std::process::ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == kiln_sandbox::bridge::COMMAND)
    {
        return kiln_sandbox::bridge::main(std::env::args_os().skip(2));
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kiln: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { service } => serve::serve(cli.config.as_deref(), service).await,
            Command::Up(args) => up::up(cli.config.as_deref(), args).await,
            Command::Migrate => serve::migrate(cli.config.as_deref()).await,
            Command::Task { command } => task::run(command).await,
            Command::Rag { command } => rag::run(command).await,
            Command::Project { command } => project::run(command).await,
            Command::Bench { command } => bench::run(cli.config.as_deref(), command).await,
            Command::Openapi => openapi::print(),
            Command::Token { data_dir, command } => {
                admin::token(cli.config.as_deref(), &data_dir, command).await
            }
            Command::Audit { data_dir, command } => {
                admin::audit(cli.config.as_deref(), &data_dir, command).await
            }
            Command::NatsConfig(args) => up::print_nats_config(&args),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kiln: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
