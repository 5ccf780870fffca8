//! The set of templates a deployment offers: the ones compiled in, overlaid with an optional
//! directory so operators can fix or add stacks without a rebuild.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use include_dir::{Dir, include_dir};

use crate::{Error, Template};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Templates by name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    templates: BTreeMap<String, Template>,
}

impl Catalog {
    /// Only the templates compiled into the binary.
    pub fn embedded() -> Result<Self, Error> {
        let mut templates = BTreeMap::new();
        for dir in EMBEDDED.dirs() {
            let template = Template::from_embedded(dir)?;
            templates.insert(template.name().to_owned(), template);
        }
        let catalog = Catalog { templates };
        catalog.check_aliases()?;
        Ok(catalog)
    }

    /// The embedded templates, overlaid with every template folder in `override_dir`: a
    /// folder with an embedded template's name replaces it, any other name adds a template.
    ///
    /// Hidden entries (starting with `.`) and plain files in `override_dir` are ignored, so
    /// the directory can be a git checkout with a README. Any other folder must be a valid
    /// template; a broken one fails the whole load rather than silently falling back.
    pub fn load(override_dir: Option<&Path>) -> Result<Self, Error> {
        let mut catalog = Self::embedded()?;
        if let Some(dir) = override_dir {
            for template in load_dir(dir)? {
                catalog.insert(template);
            }
            catalog.check_aliases()?;
        }
        Ok(catalog)
    }

    /// The template whose alias is `alias`, if any.
    pub fn by_alias(&self, alias: &str) -> Option<&Template> {
        self.templates.values().find(|t| t.alias() == Some(alias))
    }

    /// `(template name, alias)` of every template that has an alias, sorted by name.
    pub fn aliases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.templates
            .values()
            .filter_map(|t| Some((t.name(), t.alias()?)))
    }

    /// Refuses an alias claimed twice or equal to another template's name: either would make
    /// a chat command pick a template by accident. An override directory can introduce both,
    /// so this runs after the overlay.
    fn check_aliases(&self) -> Result<(), Error> {
        let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, alias) in self.aliases() {
            if let Some(first) = owners.insert(alias, name) {
                return Err(Error::DuplicateAlias {
                    alias: alias.to_owned(),
                    first: first.to_owned(),
                    second: name.to_owned(),
                });
            }
            if alias != name && self.templates.contains_key(alias) {
                return Err(Error::DuplicateAlias {
                    alias: alias.to_owned(),
                    first: alias.to_owned(),
                    second: name.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// All templates, sorted by name.
    pub fn list(&self) -> impl Iterator<Item = &Template> {
        self.templates.values()
    }

    /// The template called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Template> {
        self.templates.get(name)
    }

    /// Adds `template`, replacing one of the same name; returns the replaced one.
    pub fn insert(&mut self, template: Template) -> Option<Template> {
        self.templates.insert(template.name().to_owned(), template)
    }
}

fn load_dir(dir: &Path) -> Result<Vec<Template>, Error> {
    let read_dir_err = |source| Error::ReadDir {
        path: dir.to_owned(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .map_err(read_dir_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_dir_err)?;
    entries.sort_by_key(|e| e.file_name());
    let mut templates = Vec::new();
    for entry in entries {
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        // Follow symlinks here: linking a template folder into place is a normal way to
        // manage an override directory.
        if path.is_dir() {
            templates.push(Template::from_dir(&path)?);
        }
    }
    Ok(templates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Origin;
    use crate::template::tests::{manifest, write_template};

    #[test]
    fn override_dir_replaces_and_adds_templates() {
        let root = tempfile::tempdir().expect("create tempdir");
        let replaced =
            manifest("static-site").replace("title = \"Test\"", "title = \"Overridden\"");
        write_template(
            root.path(),
            "static-site",
            &replaced,
            &[("only.txt", "override")],
        );
        write_template(root.path(), "extra", &manifest("extra"), &[("x.txt", "x")]);
        // Neither hidden folders nor loose files are templates.
        fs::create_dir_all(root.path().join(".git")).expect("mkdir .git");
        fs::write(root.path().join("README.md"), "operator notes").expect("write readme");

        let catalog = Catalog::load(Some(root.path())).unwrap_or_else(|e| panic!("load: {e:?}"));
        let names: Vec<_> = catalog.list().map(Template::name).collect();
        let mut expected = crate::template::shipped_names();
        expected.push("extra".into());
        expected.sort();
        assert_eq!(names, expected);

        let site = catalog.get("static-site").expect("static-site present");
        assert_eq!(site.manifest.title, "Overridden");
        assert_eq!(
            site.origin(),
            &Origin::Directory(root.path().join("static-site"))
        );
        let outputs: Vec<_> = site.output_paths().collect();
        assert_eq!(
            outputs,
            [Path::new("only.txt")],
            "override replaces the whole tree"
        );

        let extra = catalog.get("extra").expect("extra added");
        assert_eq!(
            extra.origin(),
            &Origin::Directory(root.path().join("extra"))
        );
        assert_eq!(
            catalog
                .get("node-express")
                .expect("node-express kept")
                .origin(),
            &Origin::Embedded
        );
    }

    #[test]
    fn no_override_dir_means_embedded() {
        let loaded = Catalog::load(None).unwrap_or_else(|e| panic!("load: {e:?}"));
        let names: Vec<_> = loaded.list().map(Template::name).collect();
        assert_eq!(names, crate::template::shipped_names());
        assert!(
            loaded.list().all(|t| t.origin() == &Origin::Embedded),
            "without an override dir every template is embedded"
        );
    }

    #[test]
    fn shipped_templates_have_unique_aliases() {
        let catalog = Catalog::embedded().unwrap_or_else(|e| panic!("embedded: {e:?}"));
        assert_eq!(
            catalog.aliases().count(),
            crate::template::shipped_names().len(),
            "every shipped template has an alias"
        );
        assert_eq!(
            catalog.by_alias("web").map(Template::name),
            Some("static-site")
        );
        assert_eq!(catalog.get("expo").and_then(Template::alias), Some("expo"));
        assert!(catalog.by_alias("static-site").is_none());
    }

    #[test]
    fn an_alias_claimed_twice_or_naming_another_template_is_refused() {
        let with_alias = |name: &str, alias: &str| {
            manifest(name).replace("title = ", &format!("alias = {alias:?}\ntitle = "))
        };
        let root = tempfile::tempdir().expect("create tempdir");
        write_template(root.path(), "extra", &with_alias("extra", "web"), &[]);
        match Catalog::load(Some(root.path())) {
            Ok(_) => panic!("duplicate alias accepted"),
            Err(e) => assert!(
                matches!(&e, Error::DuplicateAlias { alias, .. } if alias == "web"),
                "{e:?}"
            ),
        }

        let root = tempfile::tempdir().expect("create tempdir");
        write_template(root.path(), "extra", &with_alias("extra", "php"), &[]);
        write_template(root.path(), "php", &with_alias("php", "php8"), &[]);
        match Catalog::load(Some(root.path())) {
            Ok(_) => panic!("alias naming another template accepted"),
            Err(e) => assert!(
                matches!(&e, Error::DuplicateAlias { alias, second, .. } if alias == "php" && second == "extra"),
                "{e:?}"
            ),
        }

        // Replacing a template may move its alias elsewhere without a clash.
        let root = tempfile::tempdir().expect("create tempdir");
        write_template(
            root.path(),
            "static-site",
            &with_alias("static-site", "site"),
            &[],
        );
        write_template(root.path(), "extra", &with_alias("extra", "web"), &[]);
        let catalog = Catalog::load(Some(root.path())).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(catalog.by_alias("web").map(Template::name), Some("extra"));
    }

    #[test]
    fn missing_override_dir_is_an_error() {
        let root = tempfile::tempdir().expect("create tempdir");
        let missing = root.path().join("nope");
        match Catalog::load(Some(&missing)) {
            Ok(_) => panic!("missing override dir accepted"),
            Err(e) => assert!(
                matches!(&e, Error::ReadDir { path, .. } if path == &missing),
                "{e:?}"
            ),
        }
    }

    #[test]
    fn bad_folder_names_are_refused() {
        let root = tempfile::tempdir().expect("create tempdir");
        write_template(root.path(), "Bad_Name", &manifest("Bad_Name"), &[]);
        match Catalog::load(Some(root.path())) {
            Ok(_) => panic!("bad folder name accepted"),
            Err(e) => assert!(
                matches!(&e, Error::InvalidTemplateName { name, .. } if name == "Bad_Name"),
                "{e:?}"
            ),
        }
    }
}
