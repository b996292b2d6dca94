//! Diagnostics: the errors and warnings Terraform shows, optionally pinned
//! to an attribute so Terraform can point at the offending line.

use crate::proto;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Stops the operation.
    Error,
    /// Shown, but the operation goes on.
    Warning,
}

/// One step of an [`AttributePath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An attribute or nested block of an object.
    Attribute(String),
    /// A key of a map (or map-nested block).
    Key(String),
    /// A position in a list or tuple.
    Index(i64),
}

/// A path into a value: `rule[0].ports` is
/// `AttributePath::attr("rule").index(0).then("ports")`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    /// Path to a top-level attribute.
    pub fn attr(name: impl Into<String>) -> AttributePath {
        AttributePath(vec![PathStep::Attribute(name.into())])
    }
    /// Extends with an attribute step.
    pub fn then(mut self, name: impl Into<String>) -> AttributePath {
        self.0.push(PathStep::Attribute(name.into()));
        self
    }
    /// Extends with a list index step.
    pub fn index(mut self, i: i64) -> AttributePath {
        self.0.push(PathStep::Index(i));
        self
    }
    /// Extends with a map key step.
    pub fn key(mut self, k: impl Into<String>) -> AttributePath {
        self.0.push(PathStep::Key(k.into()));
        self
    }

    pub(crate) fn to_proto(&self) -> proto::AttributePath {
        use proto::attribute_path::{step::Selector, Step};
        proto::AttributePath {
            steps: self
                .0
                .iter()
                .map(|s| Step {
                    selector: Some(match s {
                        PathStep::Attribute(n) => Selector::AttributeName(n.clone()),
                        PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                        PathStep::Index(i) => Selector::ElementKeyInt(*i),
                    }),
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for AttributePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                PathStep::Attribute(n) if i == 0 => write!(f, "{n}")?,
                PathStep::Attribute(n) => write!(f, ".{n}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// One error or warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line: what went wrong.
    pub summary: String,
    /// More: why, and how to fix it.
    pub detail: String,
    /// The attribute it is about, if any.
    pub attribute: Option<AttributePath>,
}

impl Diagnostic {
    /// An error not tied to an attribute.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
        }
    }
    /// A warning not tied to an attribute.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary, detail)
        }
    }
    /// Pins the diagnostic to an attribute.
    pub fn at(mut self, path: AttributePath) -> Diagnostic {
        self.attribute = Some(path);
        self
    }

    pub(crate) fn to_proto(&self) -> proto::Diagnostic {
        proto::Diagnostic {
            severity: match self.severity {
                Severity::Error => proto::diagnostic::Severity::Error,
                Severity::Warning => proto::diagnostic::Severity::Warning,
            } as i32,
            summary: self.summary.clone(),
            detail: self.detail.clone(),
            attribute: self.attribute.as_ref().map(AttributePath::to_proto),
        }
    }
}

/// The diagnostics of one call. Resource code pushes into it; any error
/// makes the call fail in Terraform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    /// Adds an error not tied to an attribute.
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic::error(summary, detail));
    }
    /// Adds an error about a top-level attribute.
    pub fn attribute_error(
        &mut self,
        attribute: impl Into<String>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic::error(summary, detail).at(AttributePath::attr(attribute)));
    }
    /// Adds a warning.
    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Diagnostic::warning(summary, detail));
    }
    /// True when at least one error is present.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Appends all of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub(crate) fn to_proto(&self) -> Vec<proto::Diagnostic> {
        self.0.iter().map(Diagnostic::to_proto).collect()
    }
}

impl From<crate::Error> for Diagnostic {
    fn from(e: crate::Error) -> Diagnostic {
        Diagnostic::error("Provider protocol error", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_and_convert() {
        let p = AttributePath::attr("rule").index(0).then("ports").key("x");
        assert_eq!(p.to_string(), r#"rule[0].ports["x"]"#);
        assert_eq!(p.to_proto().steps.len(), 4);
    }

    #[test]
    fn errors_and_warnings() {
        let mut d = Diagnostics::default();
        d.warning("careful", "");
        assert!(!d.has_errors());
        d.attribute_error("zone", "Unknown zone", "zones: a, b");
        assert!(d.has_errors());
        let p = d.to_proto();
        assert_eq!(p[1].severity, proto::diagnostic::Severity::Error as i32);
        assert_eq!(p[0].severity, proto::diagnostic::Severity::Warning as i32);
        assert!(p[1].attribute.is_some());
    }
}
