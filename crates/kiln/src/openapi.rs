//! `kiln openapi`: prints the HTTP API's OpenAPI document, from which the dashboard generates
//! its TypeScript types (`npm run gen:api` in `frontend/`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

pub fn print() -> anyhow::Result<ExitCode> {
    let json = serde_json::to_string_pretty(&kiln_api::openapi::document())
        .context("encoding the OpenAPI document")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}").context("writing the OpenAPI document")?;
    Ok(ExitCode::SUCCESS)
}
