//! `{name}` placeholders in the argv templates of runtime and server definitions.

use std::collections::BTreeMap;

/// `{name}` placeholders in argv templates. Each template element expands to exactly one argument,
/// so no value can split into several or reach a shell; a list placeholder (`{server_args}`)
/// stands alone in its element and expands to as many arguments as the list has, none included.
#[derive(Debug, Clone, Default)]
pub struct Placeholders(BTreeMap<String, String>, BTreeMap<String, Vec<String>>);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlaceholderError {
    #[error("unknown placeholder {{{name}}} in {template:?} (known: {known})")]
    Unknown {
        name: String,
        template: String,
        known: String,
    },
    #[error("unclosed {{ in {0:?}")]
    Unclosed(String),
    #[error(
        "{{{name}}} stands for several arguments: give it an element of its own, not {template:?}"
    )]
    ListInside { name: String, template: String },
}

impl Placeholders {
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.0.insert(key.to_string(), value.into());
        self
    }

    /// A placeholder that expands to zero or more whole arguments.
    pub fn set_list(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.1.insert(key.to_string(), values);
        self
    }

    pub fn expand(&self, template: &str) -> Result<String, PlaceholderError> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let end = after
                .find('}')
                .ok_or_else(|| PlaceholderError::Unclosed(template.to_string()))?;
            let name = &after[..end];
            if self.1.contains_key(name) {
                return Err(PlaceholderError::ListInside {
                    name: name.to_string(),
                    template: template.to_string(),
                });
            }
            let value = self.0.get(name).ok_or_else(|| PlaceholderError::Unknown {
                name: name.to_string(),
                template: template.to_string(),
                known: self
                    .0
                    .keys()
                    .chain(self.1.keys())
                    .map(|k| format!("{{{k}}}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            })?;
            out.push_str(value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    pub fn expand_all(&self, templates: &[String]) -> Result<Vec<String>, PlaceholderError> {
        let mut out = Vec::new();
        for t in templates {
            let list = t
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .and_then(|name| self.1.get(name));
            match list {
                Some(values) => out.extend(values.iter().cloned()),
                None => out.push(self.expand(t)?),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_expand_to_one_argument_each() {
        let mut vars = Placeholders::default();
        vars.set("addr", "127.0.0.1:1234")
            .set("artifact", "/a b/server.wasm");
        assert_eq!(vars.expand("ADDR={addr}").unwrap(), "ADDR=127.0.0.1:1234");
        assert_eq!(vars.expand("{artifact}").unwrap(), "/a b/server.wasm");
        let err = vars.expand("{nope}").unwrap_err();
        assert!(
            err.to_string().contains("unknown placeholder {nope}")
                && err.to_string().contains("{addr}")
        );
        assert_eq!(
            vars.expand("{addr").unwrap_err(),
            PlaceholderError::Unclosed("{addr".into())
        );
    }

    #[test]
    fn a_list_placeholder_is_whole_arguments_or_nothing() {
        let mut vars = Placeholders::default();
        vars.set("artifact", "s.wasm")
            .set_list("server_env", vec!["--env".into(), "A=1".into()])
            .set_list("server_args", Vec::new());
        let argv: Vec<String> = ["run", "{server_env}", "{artifact}", "{server_args}"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            vars.expand_all(&argv).unwrap(),
            ["run", "--env", "A=1", "s.wasm"]
        );
        let err = vars
            .expand_all(&["x={server_env}".to_string()])
            .unwrap_err();
        assert!(matches!(err, PlaceholderError::ListInside { .. }), "{err}");
    }
}
