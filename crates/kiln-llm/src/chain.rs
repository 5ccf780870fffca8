//! Retries and fallback, so a provider's bad minute does not fail a task: transient
//! failures of the primary model are retried with backoff, then the fallback model gets the
//! call; anything else (a 400, a malformed answer) is returned at once.

use std::time::{Duration, Instant};

use rand::Rng;
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::{
    Anthropic, ChatRequest, ChatResponse, Error, Gemini, LlmClient, LlmConfig, ModelConfig,
    OpenAiCompat, Provider, Usage,
};

/// First retry delay ceiling; it doubles with every retry (full jitter below it).
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest wait between attempts, also for a provider's `Retry-After`.
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// The adapter a model's `provider` names.
#[derive(Debug)]
pub enum Adapter {
    OpenAi(OpenAiCompat),
    Anthropic(Anthropic),
    Gemini(Gemini),
}

impl Adapter {
    pub fn new(config: ModelConfig) -> Result<Self, Error> {
        Ok(match config.provider {
            Provider::OpenAi => Adapter::OpenAi(OpenAiCompat::new(config)?),
            Provider::Anthropic => Adapter::Anthropic(Anthropic::new(config)?),
            Provider::Gemini => Adapter::Gemini(Gemini::new(config)?),
        })
    }
}

impl LlmClient for Adapter {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, Error> {
        match self {
            Adapter::OpenAi(a) => a.chat(req).await,
            Adapter::Anthropic(a) => a.chat(req).await,
            Adapter::Gemini(a) => a.chat(req).await,
        }
    }

    fn model(&self) -> &ModelConfig {
        match self {
            Adapter::OpenAi(a) => a.model(),
            Adapter::Anthropic(a) => a.model(),
            Adapter::Gemini(a) => a.model(),
        }
    }
}

/// One request sent to one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub provider: Provider,
    /// The model as configured, or as the provider reported it when it answered.
    pub model: String,
    pub started_at: OffsetDateTime,
    pub latency: Duration,
    /// Zero when the attempt failed.
    pub usage: Usage,
    /// Priced with this model's configured prices.
    pub cost_usd: f64,
    /// [`Error::summary`] of a failed attempt.
    pub error: Option<String>,
}

/// The result of a call through the chain and every attempt it took, in order.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<ChatResponse, Error>,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug)]
pub struct Chain {
    primary: Adapter,
    fallback: Option<Adapter>,
}

impl Chain {
    /// Keys must be resolved already ([`ModelConfig::resolve_key`]).
    pub fn new(primary: ModelConfig, fallback: Option<ModelConfig>) -> Result<Self, Error> {
        Ok(Self {
            primary: Adapter::new(primary)?,
            fallback: fallback.map(Adapter::new).transpose()?,
        })
    }

    /// The configured chain, or `None` in offline mode (no primary model).
    pub fn from_config(config: &LlmConfig) -> Result<Option<Self>, Error> {
        match &config.primary {
            Some(primary) => Self::new(primary.clone(), config.fallback.clone()).map(Some),
            None => Ok(None),
        }
    }

    pub fn primary(&self) -> &ModelConfig {
        self.primary.model()
    }

    pub fn fallback(&self) -> Option<&ModelConfig> {
        self.fallback.as_ref().map(LlmClient::model)
    }

    /// Refuses a request the primary model's context window cannot hold, judged by the
    /// estimate of [`ChatRequest::estimated_total_tokens`].
    pub fn check_context(&self, req: &ChatRequest) -> Result<(), Error> {
        fits(self.primary(), req)
    }

    /// Sends `req`, retrying and falling back as configured, and reports every attempt.
    pub async fn run(&self, req: &ChatRequest) -> Outcome {
        let mut attempts = Vec::new();
        if let Err(e) = self.check_context(req) {
            return Outcome {
                result: Err(e),
                attempts,
            };
        }
        let primary_error = match try_model(&self.primary, req, &mut attempts).await {
            Ok(response) => {
                return Outcome {
                    result: Ok(response),
                    attempts,
                };
            }
            Err(e) if !e.is_retryable() => {
                return Outcome {
                    result: Err(e),
                    attempts,
                };
            }
            Err(e) => e,
        };
        let Some(fallback) = &self.fallback else {
            return Outcome {
                result: Err(primary_error),
                attempts,
            };
        };
        if let Err(e) = fits(fallback.model(), req) {
            warn!(model = %fallback.model().model, error = %e, "fallback model cannot take the request");
            return Outcome {
                result: Err(primary_error),
                attempts,
            };
        }
        info!(
            from = %self.primary().model,
            to = %fallback.model().model,
            error = %primary_error,
            "falling back to the second model"
        );
        let result = try_model(fallback, req, &mut attempts).await;
        Outcome { result, attempts }
    }
}

impl LlmClient for Chain {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, Error> {
        self.run(req).await.result
    }

    fn model(&self) -> &ModelConfig {
        self.primary()
    }
}

fn fits(model: &ModelConfig, req: &ChatRequest) -> Result<(), Error> {
    let estimated = req.estimated_total_tokens();
    if estimated > u64::from(model.context_window) {
        return Err(Error::ContextTooLarge {
            estimated,
            window: model.context_window,
        });
    }
    Ok(())
}

/// One model with its retries.
async fn try_model(
    adapter: &Adapter,
    req: &ChatRequest,
    attempts: &mut Vec<Attempt>,
) -> Result<ChatResponse, Error> {
    let config = adapter.model();
    let mut retry = 0;
    loop {
        let started_at = OffsetDateTime::now_utc();
        let clock = Instant::now();
        let result = adapter.chat(req).await;
        let latency = clock.elapsed();
        match result {
            Ok(response) => {
                attempts.push(Attempt {
                    provider: config.provider,
                    model: response.model.clone(),
                    started_at,
                    latency,
                    usage: response.usage,
                    cost_usd: config
                        .cost_usd(response.usage.input_tokens, response.usage.output_tokens),
                    error: None,
                });
                return Ok(response);
            }
            Err(e) => {
                attempts.push(Attempt {
                    provider: config.provider,
                    model: config.model.clone(),
                    started_at,
                    latency,
                    usage: Usage::default(),
                    cost_usd: 0.0,
                    error: Some(e.summary()),
                });
                let again = e.is_retryable() && retry < config.max_retries;
                warn!(
                    provider = %config.provider,
                    model = %config.model,
                    attempt = retry + 1,
                    retrying = again,
                    error = %e,
                    "llm request failed"
                );
                if !again {
                    return Err(e);
                }
                tokio::time::sleep(backoff(retry, e.retry_after())).await;
                retry += 1;
            }
        }
    }
}

/// The wait before retry number `retry + 1`: the provider's `Retry-After` when it gave one,
/// else a random delay below `500 ms * 2^retry` (full jitter spreads replicas apart);
/// never more than 30 s.
fn backoff(retry: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after.min(BACKOFF_CAP);
    }
    let ceiling = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(retry))
        .min(BACKOFF_CAP);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_honours_retry_after_and_the_cap() {
        assert_eq!(
            backoff(0, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            backoff(0, Some(Duration::from_secs(120))),
            Duration::from_secs(30)
        );
        for retry in 0..40 {
            let ceiling = (Duration::from_millis(500) * 2u32.saturating_pow(retry.min(20)))
                .min(Duration::from_secs(30));
            assert!(backoff(retry, None) <= ceiling, "retry {retry}");
        }
    }

    #[test]
    fn context_check_uses_the_estimate_plus_output() {
        let mut model = ModelConfig::new(Provider::OpenAi, "", "m");
        model.context_window = 10;
        let req = ChatRequest::new("abcd", "efgh").with_max_output_tokens(8);
        assert!(fits(&model, &req).is_ok(), "2 + 8 fits in 10");
        let req = req.with_max_output_tokens(9);
        assert!(matches!(
            fits(&model, &req),
            Err(Error::ContextTooLarge {
                estimated: 11,
                window: 10
            })
        ));
    }
}
