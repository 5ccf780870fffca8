//! `kiln serve <service>` and `kiln migrate`: load configuration, install telemetry, wait
//! for a shutdown signal, run the service library.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use kiln_runtime::config::Loader;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Service {
    Api,
    Planner,
    Codegen,
    Tester,
    Reviewer,
    Gate,
    Deployer,
    Indexer,
}

impl Service {
    pub const ALL: [Service; 8] = [
        Service::Api,
        Service::Planner,
        Service::Codegen,
        Service::Tester,
        Service::Reviewer,
        Service::Gate,
        Service::Deployer,
        Service::Indexer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Api => "api",
            Service::Planner => "planner",
            Service::Codegen => "codegen",
            Service::Tester => "tester",
            Service::Reviewer => "reviewer",
            Service::Gate => "gate",
            Service::Deployer => "deployer",
            Service::Indexer => "indexer",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Cancelled on the first SIGINT or SIGTERM.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot watch SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        t.cancel();
    });
    token
}

pub async fn serve(config: Option<&Path>, service: Service) -> anyhow::Result<ExitCode> {
    let loader = Loader::new(config);
    let base = loader.base().context("loading configuration")?;
    let _telemetry = kiln_runtime::telemetry::init(
        service.name(),
        base.runtime.log_format,
        &base.runtime.log_filter,
    );
    let shutdown = shutdown_on_signal();
    let llm: kiln_llm::LlmConfig = loader.section("llm")?;
    let agent = || -> anyhow::Result<Option<kiln_agents::Agent>> {
        let agent = kiln_agents::agent::from_config(llm.clone(), &base.database.url)
            .context("configuring the LLM (the [llm] section or KILN_LLM_* variables)")?;
        match &agent {
            Some(a) => tracing::info!(model = %a.mode(), "LLM configured"),
            None => tracing::info!("no LLM configured: offline mode"),
        }
        Ok(agent)
    };
    let catalog = || {
        kiln_templates::Catalog::load(base.runtime.templates_dir.as_deref())
            .context("loading stack templates")
    };
    match service {
        Service::Api => {
            let mut api: kiln_api::Config = loader.section("api")?;
            api.llm = Some(llm.clone());
            api.github = loader.section("github")?;
            kiln_api::run(base, api, shutdown).await?
        }
        Service::Planner => {
            let (agent, catalog) = (agent()?, catalog()?);
            kiln_planner::run(base, loader.section("planner")?, agent, catalog, shutdown).await?
        }
        Service::Codegen => {
            let (agent, catalog) = (agent()?, catalog()?);
            kiln_codegen::run(base, loader.section("codegen")?, agent, catalog, shutdown).await?
        }
        Service::Tester => {
            let fix_loop = llm.enabled().then_some(kiln_tester::FixLoop {
                default_rounds: llm.max_fix_rounds,
            });
            kiln_tester::run(
                base,
                loader.section("tester")?,
                loader.section("sandbox")?,
                fix_loop,
                shutdown,
            )
            .await?
        }
        Service::Reviewer => {
            let agent = agent()?;
            kiln_reviewer::run(base, loader.section("reviewer")?, agent, shutdown).await?
        }
        Service::Gate => kiln_gate::run(base, loader.section("gate")?, shutdown).await?,
        Service::Deployer => {
            let mut deployer: kiln_deployer::Config = loader.section("deployer")?;
            deployer.github = loader.section("github")?;
            kiln_deployer::run(base, deployer, loader.section("sandbox")?, shutdown).await?
        }
        Service::Indexer => kiln_indexer::run(base, loader.section("rag")?, shutdown).await?,
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let base = Loader::new(config)
        .base()
        .context("loading configuration")?;
    let pool = sqlx::PgPool::connect(base.database.url.expose())
        .await
        .context("connecting to postgres")?;
    kiln_store::MIGRATOR
        .run(&pool)
        .await
        .context("applying migrations")?;
    println!("migrations applied");
    Ok(ExitCode::SUCCESS)
}
