//! Validation of task requests at the edge, before anything is stored, so a rejected request
//! leaves nothing behind and its problem names the exact rule it broke.

use kiln_templates::Catalog;

use crate::error::Error;
use crate::model::{CreateTask, TaskKind};

/// A task request that passed every check that needs no database: a new app, or a
/// revision of the project `name` (its template is looked up when stored).
#[derive(Debug, Clone, PartialEq)]
pub struct NewApp {
    pub kind: TaskKind,
    pub name: String,
    pub template: String,
    /// Trimmed.
    pub brief: String,
    /// Always an object.
    pub options: serde_json::Value,
}

/// A project name as the templates (and subjects, paths, URLs) accept it.
pub(crate) fn project_name(name: String) -> Result<String, Error> {
    match kiln_templates::validate_project_name(&name) {
        Ok(()) => Ok(name),
        Err(kiln_templates::Error::InvalidProject { reason, .. }) => Err(Error::InvalidName {
            name,
            reason: reason.to_owned(),
        }),
        Err(other) => Err(Error::InvalidName {
            reason: other.to_string(),
            name,
        }),
    }
}

fn brief(raw: &str, max_brief_chars: usize) -> Result<String, Error> {
    let brief = raw.trim();
    if brief.is_empty() {
        return Err(Error::EmptyBrief);
    }
    let chars = brief.chars().count();
    if chars > max_brief_chars {
        return Err(Error::BriefTooLong {
            chars,
            limit: max_brief_chars,
        });
    }
    Ok(brief.to_owned())
}

/// `options` as stored: an object that parses into [`kiln_store::people::TaskOptions`].
fn options(raw: Option<serde_json::Value>) -> Result<serde_json::Value, Error> {
    let value = match raw {
        None | Some(serde_json::Value::Null) => {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        Some(v @ serde_json::Value::Object(_)) => v,
        Some(other) => {
            return Err(Error::InvalidOptions(format!(
                "options must be a JSON object, got {}",
                json_type(&other)
            )));
        }
    };
    let parsed: kiln_store::people::TaskOptions = serde_json::from_value(value.clone()).map_err(|e| {
        Error::InvalidOptions(format!(
            "{e} (known options: approval = none|plan|release|both, budget = {{max_tokens, max_cost_usd, max_calls}}, max_fix_rounds = 0..5, deploy_target = a target name)"
        ))
    })?;
    if let Some(target) = &parsed.deploy_target {
        let ok = !target.is_empty()
            && target.len() <= 63
            && target
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            return Err(Error::InvalidOptions(format!(
                "deploy_target {target:?} must be 1 to 63 of [a-z0-9_-] (\"local\" or a name under [deployer.targets])"
            )));
        }
    }
    if parsed.max_fix_rounds.is_some_and(|n| n > 5) {
        return Err(Error::InvalidOptions(
            "max_fix_rounds must be between 0 and 5".into(),
        ));
    }
    if let Some(b) = &parsed.budget {
        let bad = b.max_tokens == Some(0)
            || b.max_calls == Some(0)
            || b.max_cost_usd.is_some_and(|c| !(c > 0.0 && c.is_finite()));
        if bad {
            return Err(Error::InvalidOptions(
                "budget limits must be positive".into(),
            ));
        }
    }
    Ok(value)
}

/// Checks a revision or change request. Revisions need a model to edit existing code;
/// a change runs offline too (nothing is edited, the project's own tests run).
fn revision(req: CreateTask, max_brief_chars: usize, llm_enabled: bool) -> Result<NewApp, Error> {
    let kind = req.kind;
    if kind == TaskKind::Revision && !llm_enabled {
        return Err(Error::RevisionUnsupported);
    }
    if req.name.is_some() || req.template.is_some() {
        return Err(Error::UnexpectedField {
            field: if req.name.is_some() {
                "name"
            } else {
                "template"
            },
            why: "a change names its existing project with \"project\" and keeps its stack",
        });
    }
    let name = req.project.ok_or_else(|| Error::MissingField {
        field: "project",
        hint: format!(
            " (for kind \"{}\": the existing project to change)",
            kind.as_str()
        ),
    })?;
    let name = project_name(name)?;
    Ok(NewApp {
        kind,
        name,
        template: String::new(),
        brief: brief(&req.brief, max_brief_chars)?,
        options: options(req.options)?,
    })
}

/// Checks `req` against the catalog, the brief limit and what this installation can do.
pub fn request(
    req: CreateTask,
    catalog: &Catalog,
    max_brief_chars: usize,
    llm_enabled: bool,
) -> Result<NewApp, Error> {
    if matches!(req.kind, TaskKind::Revision | TaskKind::Change) {
        return revision(req, max_brief_chars, llm_enabled);
    }
    new_app(req, catalog, max_brief_chars)
}

/// Checks a `new_app` request against the catalog and the brief limit.
pub fn new_app(
    req: CreateTask,
    catalog: &Catalog,
    max_brief_chars: usize,
) -> Result<NewApp, Error> {
    if req.kind != TaskKind::NewApp {
        return Err(Error::RevisionUnsupported);
    }
    if req.project.is_some() {
        return Err(Error::UnexpectedField {
            field: "project",
            why: "a new app is named with \"name\"; \"project\" names an existing project to revise",
        });
    }
    let available = || {
        catalog
            .list()
            .map(|t| t.name().to_owned())
            .collect::<Vec<_>>()
    };
    let template = req.template.ok_or_else(|| Error::MissingField {
        field: "template",
        hint: format!("; available templates: {}", available().join(", ")),
    })?;
    if catalog.get(&template).is_none() {
        return Err(Error::UnknownTemplate {
            name: template,
            available: available(),
        });
    }
    let name = req.name.ok_or_else(|| Error::MissingField {
        field: "name",
        hint: " (the new project's name)".to_owned(),
    })?;
    let name = project_name(name)?;
    Ok(NewApp {
        kind: TaskKind::NewApp,
        name,
        template,
        brief: brief(&req.brief, max_brief_chars)?,
        options: options(req.options)?,
    })
}

pub fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::load(None).expect("embedded catalog")
    }

    fn req(v: serde_json::Value) -> CreateTask {
        serde_json::from_value(v).expect("request parses")
    }

    fn base() -> serde_json::Value {
        json!({"kind": "new_app", "template": "static-site", "name": "demo", "brief": "  a page  "})
    }

    fn with(key: &str, value: serde_json::Value) -> CreateTask {
        let mut v = base();
        v[key] = value;
        req(v)
    }

    #[test]
    fn accepts_a_good_request_and_trims_the_brief() {
        let ok = new_app(req(base()), &catalog(), 100).expect("valid");
        assert_eq!(ok.brief, "a page");
        assert_eq!(ok.options, json!({}));
        assert_eq!(ok.name, "demo");
    }

    #[test]
    fn each_rule_names_itself() {
        let c = catalog();
        let cases: Vec<(CreateTask, &str)> = vec![
            (with("kind", json!("revision")), "needs an LLM"),
            (
                with("project", json!("demo")),
                "\"project\" names an existing project",
            ),
            (
                with("template", json!("rails")),
                "available templates: electron, expo, expo-pro, flutter, laravel, nextjs, node-express, php",
            ),
            (with("name", json!("Demo")), "lowercase"),
            (with("name", json!("1demo")), "must start with a letter"),
            (with("name", json!("x".repeat(64))), "1 to 63"),
            (with("name", json!("../x")), "lowercase ASCII letters"),
            (with("brief", json!(" \n\t ")), "must not be empty"),
            (
                with("options", json!({"colour": "blue"})),
                "unknown field `colour`",
            ),
            (
                with("options", json!({"approval": true})),
                "expected string",
            ),
            (
                with("options", json!({"approval": "sometimes"})),
                "unknown variant `sometimes`",
            ),
            (
                with("options", json!({"max_fix_rounds": 9})),
                "between 0 and 5",
            ),
            (
                with("options", json!({"budget": {"max_calls": 0}})),
                "must be positive",
            ),
            (with("options", json!([1])), "got an array"),
        ];
        for (r, needle) in cases {
            let e = new_app(r.clone(), &c, 100).expect_err(&format!("{r:?} accepted"));
            assert_eq!(e.status().as_u16(), 422, "{e}");
            assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
        }
        let mut missing = base();
        missing.as_object_mut().unwrap().remove("template");
        let e = new_app(req(missing), &c, 100).unwrap_err();
        assert!(e.to_string().contains("template is required"), "{e}");
    }

    #[test]
    fn brief_limit_counts_characters_not_bytes() {
        let c = catalog();
        assert!(new_app(with("brief", json!("é".repeat(10))), &c, 10).is_ok());
        let e = new_app(with("brief", json!("é".repeat(11))), &c, 10).unwrap_err();
        assert!(
            e.to_string().contains("11 characters") && e.to_string().contains("limit is 10"),
            "{e}"
        );
    }
}
