//! A scripted model for whole-stack tests: each Kiln stage that asks the fake provider gets
//! its own sequence of replies (the last one repeats), so a scenario reads like a story.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kiln_testkit::fake_llm::{FakeLlm, Recorded, Reply};
use serde_json::Value;

/// What the scripted model says.
#[derive(Clone, Debug)]
pub enum Say {
    Text(String),
    Json(Value),
    Status(u16),
}

impl Say {
    fn reply(&self) -> Reply {
        match self {
            Say::Text(t) => Reply::Text(t.clone()),
            Say::Json(v) => Reply::Json(v.clone()),
            Say::Status(code) => Reply::Status {
                code: *code,
                retry_after: None,
            },
        }
    }
}

/// Which Kiln stage sent a request, from its system prompt.
pub fn stage_of(r: &Recorded) -> &'static str {
    let s = r.system.as_str();
    if s.starts_with("You are Kiln's planner") {
        "plan"
    } else if s.starts_with("You are Kiln's code generator") {
        if r.last_user.contains("This is fix round")
            || r.body.to_string().contains("This is fix round")
        {
            "fix"
        } else {
            "story"
        }
    } else if s.starts_with("You are Kiln's repository summarizer") {
        "summary"
    } else if s.starts_with("You are Kiln's story alignment reviewer") {
        "review:story_alignment"
    } else if s.starts_with("You are Kiln's test quality reviewer") {
        "review:test_quality"
    } else if s.starts_with("You are Kiln's architecture reviewer") {
        "review:architecture"
    } else if s.starts_with("You are Kiln's security reviewer") {
        "review:security"
    } else {
        "unknown"
    }
}

#[derive(Default)]
struct State {
    lines: HashMap<String, Vec<Say>>,
    calls: HashMap<String, usize>,
    /// Per provider: replies that override the script (e.g. a primary that is down).
    provider_override: HashMap<&'static str, Say>,
}

/// The script and the fake provider serving it.
#[derive(Clone)]
pub struct Script {
    state: Arc<Mutex<State>>,
}

impl Script {
    pub fn new() -> Self {
        Self {
            state: Arc::default(),
        }
    }

    /// Replies of one stage (`plan`, `story`, `fix`, `review:security`, or `review` for all
    /// four reviewers), in order; the last repeats.
    pub fn on(self, stage: &str, says: Vec<Say>) -> Self {
        let mut st = self.state.lock().expect("script");
        if stage == "review" {
            for k in [
                "story_alignment",
                "test_quality",
                "architecture",
                "security",
            ] {
                st.lines
                    .entry(format!("review:{k}"))
                    .or_insert_with(|| says.clone());
            }
        } else {
            st.lines.insert(stage.to_owned(), says);
        }
        drop(st);
        self
    }

    /// Every request to `provider` gets `say`, whatever the stage.
    pub fn provider(self, provider: &'static str, say: Say) -> Self {
        self.state
            .lock()
            .expect("script")
            .provider_override
            .insert(provider, say);
        self
    }

    pub fn calls(&self, stage: &str) -> usize {
        self.state
            .lock()
            .expect("script")
            .calls
            .get(stage)
            .copied()
            .unwrap_or(0)
    }

    pub async fn serve(&self) -> FakeLlm {
        let state = self.state.clone();
        FakeLlm::start(move |r: &Recorded| {
            let mut st = state.lock().expect("script");
            if let Some(say) = st.provider_override.get(r.provider) {
                return say.reply();
            }
            let stage = stage_of(r).to_owned();
            let n = st.calls.entry(stage.clone()).or_insert(0);
            let i = *n;
            *n += 1;
            match st.lines.get(&stage) {
                Some(says) if !says.is_empty() => says[i.min(says.len() - 1)].reply(),
                _ => Reply::Status {
                    code: 400,
                    retry_after: None,
                },
            }
        })
        .await
    }
}

/// Environment that points every service at the fake provider (OpenAI wire format).
pub fn llm_env(fake: &FakeLlm, key: &str) -> Vec<(String, String)> {
    [
        ("KILN_LLM_PROVIDER", "openai".to_owned()),
        ("KILN_LLM_BASE_URL", fake.openai_base()),
        ("KILN_LLM_MODEL", "scripted-coder".to_owned()),
        ("KILN_LLM_API_KEY", key.to_owned()),
        ("KILN_LLM__PRIMARY__PRICE_INPUT_PER_MTOK", "1.0".to_owned()),
        ("KILN_LLM__PRIMARY__PRICE_OUTPUT_PER_MTOK", "4.0".to_owned()),
        (
            "KILN_LLM__PRIMARY__EDIT_FORMAT",
            "search_replace".to_owned(),
        ),
        ("KILN_LLM__PRIMARY__MAX_RETRIES", "1".to_owned()),
        ("KILN_LLM__PRIMARY__TIMEOUT_SECS", "20".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
