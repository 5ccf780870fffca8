//! The `[llm]` section through Kiln's config loader, and the key file.

// figment's Jail returns its large error type by design.
#![allow(clippy::result_large_err)]

use std::path::Path;

use kiln_llm::{Chain, EditFormat, LlmConfig, Provider};

#[test]
fn the_llm_section_loads_from_kiln_toml() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("key.txt", "  sk-from-file\n")?;
        jail.create_file(
            "kiln.toml",
            r#"
[llm]
max_fix_rounds = 5

[llm.budget]
max_calls = 10

[llm.primary]
provider = "anthropic"
model = "claude-sonnet-4-5"
api_key_file = "key.txt"
price_input_per_mtok = 3.0
price_output_per_mtok = 15
edit_format = "search_replace"

[llm.fallback]
provider = "gemini"
model = "gemini-2.5-flash"
api_key = "sk-inline"
stream = false
"#,
        )?;
        let loader = kiln_runtime::config::Loader::new(Some(Path::new("kiln.toml")));
        let mut llm: LlmConfig = loader.section("llm").expect("llm section");
        assert!(llm.enabled());
        assert_eq!(llm.max_fix_rounds, 5);
        assert_eq!(llm.budget.max_calls, 10);
        assert_eq!(llm.budget.max_tokens, 200_000, "defaults fill the rest");
        let primary = llm.primary.as_ref().expect("primary");
        assert_eq!(primary.provider, Provider::Anthropic);
        assert_eq!(primary.edit_format, EditFormat::SearchReplace);
        assert_eq!(primary.price_output_per_mtok, 15.0);
        assert_eq!(primary.endpoint(), "https://api.anthropic.com");
        assert_eq!(primary.context_window, 128_000);
        assert!(
            primary.api_key.is_none(),
            "the file is read only when asked"
        );

        llm.resolve_keys().expect("resolve keys");
        let key = |m: &Option<kiln_llm::ModelConfig>| {
            m.as_ref()
                .and_then(|m| m.api_key.as_ref())
                .map(|k| k.expose().to_string())
        };
        assert_eq!(key(&llm.primary).as_deref(), Some("sk-from-file"));
        assert_eq!(key(&llm.fallback).as_deref(), Some("sk-inline"));
        assert!(!format!("{llm:?}").contains("sk-from-file"));
        assert!(Chain::from_config(&llm).expect("chain").is_some());
        Ok(())
    });
}

#[test]
fn without_a_primary_kiln_is_offline() {
    figment::Jail::expect_with(|_| {
        let loader = kiln_runtime::config::Loader::new(None);
        let llm: LlmConfig = loader.section("llm").expect("llm section");
        assert!(!llm.enabled());
        assert!(Chain::from_config(&llm).expect("no chain").is_none());
        Ok(())
    });
}

#[test]
fn a_typo_is_an_error() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("kiln.toml", "[llm.primary]\nmodle = \"x\"\n")?;
        let loader = kiln_runtime::config::Loader::new(Some(Path::new("kiln.toml")));
        let err = loader
            .section::<LlmConfig>("llm")
            .expect_err("typo accepted");
        assert!(format!("{err:?}").contains("modle"));
        Ok(())
    });
}

#[test]
fn a_missing_key_file_is_an_error_naming_it() {
    let mut llm = LlmConfig {
        primary: Some(kiln_llm::ModelConfig {
            api_key_file: Some("/nonexistent/kiln-key".into()),
            ..kiln_llm::ModelConfig::new(Provider::OpenAi, "", "m")
        }),
        ..LlmConfig::default()
    };
    match llm.resolve_keys() {
        Err(kiln_llm::Error::KeyFile { path, .. }) => {
            assert_eq!(path, Path::new("/nonexistent/kiln-key"))
        }
        other => panic!("expected a key file error, got {other:?}"),
    }
}
