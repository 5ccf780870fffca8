//! The `[llm]` configuration section: which models to call, what they cost, and the
//! default budget of a task.
//!
//! Loaded with `kiln_runtime::config::Loader::section("llm")`, so `kiln.toml` and the
//! `KILN_*` environment layer over these defaults like every other section. Keys are
//! secrets: give `api_key` (from the environment, not a committed file) or `api_key_file`
//! (a mounted secret) and call [`LlmConfig::resolve_keys`].

use std::path::PathBuf;

use kiln_runtime::Secret;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The wire format a model speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI's chat completions API and the many servers compatible with it.
    #[default]
    OpenAi,
    Anthropic,
    Gemini,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
        }
    }

    /// The public endpoint used when `base_url` is empty.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::OpenAi => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com",
            Provider::Gemini => "https://generativelanguage.googleapis.com",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How codegen asks this model to express file changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EditFormat {
    /// Whole files: robust, costs output tokens.
    #[default]
    Whole,
    /// Search/replace blocks: cheaper, needs a model that copies text exactly.
    SearchReplace,
}

/// One model behind one provider.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// `openai` (and compatible servers), `anthropic` or `gemini`.
    pub provider: Provider,
    /// Endpoint root: `https://api.openai.com/v1`, `https://api.anthropic.com`,
    /// `https://generativelanguage.googleapis.com`. Empty means the provider's public one.
    pub base_url: String,
    /// The provider's model name, e.g. `gpt-4.1`, `claude-sonnet-4-5`, `gemini-2.5-pro`.
    pub model: String,
    /// The API key; never printed (`Debug` shows it redacted).
    pub api_key: Option<Secret>,
    /// A file holding the API key (a mounted secret), read by [`ModelConfig::resolve_key`]
    /// when `api_key` is unset.
    pub api_key_file: Option<PathBuf>,
    /// Tokens the model can take in and put out per call.
    pub context_window: u32,
    /// USD per million input tokens.
    pub price_input_per_mtok: f64,
    /// USD per million output tokens.
    pub price_output_per_mtok: f64,
    pub edit_format: EditFormat,
    /// Stream the answer (server-sent events; OpenAI-compatible providers only). Long
    /// answers then only time out when the stream stalls for `timeout_secs`.
    pub stream: bool,
    /// Seconds one request may take (with `stream`: may stall between chunks).
    pub timeout_secs: u64,
    /// Retries of a transient failure (connection, timeout, 429, 5xx) before falling back.
    pub max_retries: u32,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            provider: Provider::OpenAi,
            base_url: String::new(),
            model: String::new(),
            api_key: None,
            api_key_file: None,
            context_window: 128_000,
            price_input_per_mtok: 0.0,
            price_output_per_mtok: 0.0,
            edit_format: EditFormat::Whole,
            stream: false,
            timeout_secs: 60,
            max_retries: 2,
        }
    }
}

impl ModelConfig {
    /// A model with defaults for everything but where it is.
    pub fn new(provider: Provider, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            provider,
            base_url: base_url.into(),
            model: model.into(),
            ..Self::default()
        }
    }

    /// `base_url` without a trailing slash, or the provider's public endpoint.
    pub fn endpoint(&self) -> &str {
        let base = self.base_url.trim_end_matches('/');
        if base.is_empty() {
            self.provider.default_base_url()
        } else {
            base
        }
    }

    /// Reads `api_key_file` (trimmed) into `api_key` when the key is not already set.
    /// This is the only file the crate ever reads, and only when the caller asks.
    pub fn resolve_key(&mut self) -> Result<(), Error> {
        if self.api_key.is_some() {
            return Ok(());
        }
        let Some(path) = &self.api_key_file else {
            return Ok(());
        };
        let raw = std::fs::read_to_string(path).map_err(|source| Error::KeyFile {
            path: path.clone(),
            source,
        })?;
        let key = raw.trim();
        if key.is_empty() {
            return Err(Error::InvalidConfig {
                model: self.model.clone(),
                reason: format!("api key file {} is empty", path.display()),
            });
        }
        self.api_key = Some(Secret::new(key));
        Ok(())
    }

    /// What `input` and `output` tokens cost in USD.
    pub fn cost_usd(&self, input: u64, output: u64) -> f64 {
        (input as f64 * self.price_input_per_mtok + output as f64 * self.price_output_per_mtok)
            / 1_000_000.0
    }
}

/// Limits of one task across all its stages and rounds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    /// Input plus output tokens.
    pub max_tokens: u64,
    pub max_cost_usd: f64,
    /// Model calls (failed attempts do not count).
    pub max_calls: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_tokens: 200_000,
            max_cost_usd: 2.0,
            max_calls: 60,
        }
    }
}

/// The `[llm]` section. Without a primary model Kiln runs in offline mode.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    pub primary: Option<ModelConfig>,
    /// Called when the primary keeps failing transiently (outage, rate limit).
    pub fallback: Option<ModelConfig>,
    /// Rounds of test-fix-retest before a task is given up.
    pub max_fix_rounds: u32,
    /// Default budget of a task.
    pub budget: Budget,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            primary: None,
            fallback: None,
            max_fix_rounds: 3,
            budget: Budget::default(),
        }
    }
}

impl LlmConfig {
    /// Whether a model is configured; otherwise Kiln runs in offline mode.
    pub fn enabled(&self) -> bool {
        self.primary.is_some()
    }

    /// [`ModelConfig::resolve_key`] for both models.
    pub fn resolve_keys(&mut self) -> Result<(), Error> {
        for model in [&mut self.primary, &mut self.fallback]
            .into_iter()
            .flatten()
        {
            model.resolve_key()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_names() {
        let c = LlmConfig::default();
        assert!(!c.enabled());
        assert_eq!(c.max_fix_rounds, 3);
        assert_eq!(c.budget.max_tokens, 200_000);
        let m: ModelConfig = serde_json::from_value(serde_json::json!({
            "provider": "anthropic", "model": "claude", "edit_format": "search_replace"
        }))
        .expect("model config");
        assert_eq!(m.provider, Provider::Anthropic);
        assert_eq!(m.edit_format, EditFormat::SearchReplace);
        assert_eq!(m.context_window, 128_000);
        assert_eq!(m.timeout_secs, 60);
        assert_eq!(m.max_retries, 2);
        assert_eq!(m.endpoint(), "https://api.anthropic.com");
        let err = serde_json::from_value::<ModelConfig>(serde_json::json!({"modle": "x"}));
        assert!(err.is_err(), "unknown keys are rejected");
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let mut m = ModelConfig::new(Provider::OpenAi, "", "m");
        m.price_input_per_mtok = 3.0;
        m.price_output_per_mtok = 15.0;
        let cost = m.cost_usd(1_000_000, 100_000);
        assert!((cost - 4.5).abs() < 1e-9, "{cost}");
    }
}
