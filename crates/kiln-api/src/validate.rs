//! Validation of task requests at the edge, before anything is stored, so a rejected request
//! leaves nothing behind and its problem names the exact rule it broke.

use kiln_templates::Catalog;

use crate::error::Error;
use crate::model::{CreateTask, TaskKind};

/// A `new_app` request that passed every check that needs no database.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApp {
    pub name: String,
    pub template: String,
    /// Trimmed.
    pub brief: String,
    /// Always an object.
    pub options: serde_json::Value,
}

/// Checks `req` against the catalog and the brief limit.
pub fn new_app(
    req: CreateTask,
    catalog: &Catalog,
    max_brief_chars: usize,
) -> Result<NewApp, Error> {
    if req.kind == TaskKind::Revision {
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
    if let Err(e) = kiln_templates::validate_project_name(&name) {
        let reason = match e {
            kiln_templates::Error::InvalidProject { reason, .. } => reason.to_owned(),
            other => other.to_string(),
        };
        return Err(Error::InvalidName { name, reason });
    }
    let brief = req.brief.trim();
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
    let options = match req.options {
        None | Some(serde_json::Value::Null) => serde_json::Value::Object(Default::default()),
        Some(serde_json::Value::Object(map)) => {
            if let Some(key) = map.keys().next() {
                return Err(Error::InvalidOptions(format!(
                    "unknown option {key:?}; no options are defined yet (later releases add \
                     \"approval\" and \"budget\"), so send {{}} or leave options out"
                )));
            }
            serde_json::Value::Object(map)
        }
        Some(other) => {
            return Err(Error::InvalidOptions(format!(
                "options must be a JSON object, got {}",
                json_type(&other)
            )));
        }
    };
    Ok(NewApp {
        name,
        template,
        brief: brief.to_owned(),
        options,
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
            (with("kind", json!("revision")), "later release"),
            (
                with("project", json!("demo")),
                "\"project\" names an existing project",
            ),
            (
                with("template", json!("rails")),
                "available templates: node-express, static-site",
            ),
            (with("name", json!("Demo")), "lowercase"),
            (with("name", json!("1demo")), "must start with a letter"),
            (with("name", json!("x".repeat(64))), "1 to 63"),
            (with("name", json!("../x")), "lowercase ASCII letters"),
            (with("brief", json!(" \n\t ")), "must not be empty"),
            (
                with("options", json!({"approval": true})),
                "unknown option \"approval\"",
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
