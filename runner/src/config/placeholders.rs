//! `{name}` placeholders in the argv templates of runtime definitions.

use std::collections::BTreeMap;

/// `{name}` placeholders in argv templates. Each template element expands to exactly one argument,
/// so no value can split into several or reach a shell.
#[derive(Debug, Clone, Default)]
pub struct Placeholders(BTreeMap<String, String>);

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
}

impl Placeholders {
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.0.insert(key.to_string(), value.into());
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
            let value = self.0.get(name).ok_or_else(|| PlaceholderError::Unknown {
                name: name.to_string(),
                template: template.to_string(),
                known: self
                    .0
                    .keys()
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
        templates.iter().map(|t| self.expand(t)).collect()
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
}
