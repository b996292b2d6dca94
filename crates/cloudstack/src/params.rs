//! Request parameters: an ordered name → value map with set semantics.
//!
//! CloudStack signs only the first value of a repeated parameter, so a name appears at most once
//! here; list values (e.g. `cidrlist`, `networkids`) are joined with commas by [`Params::set_list`].

/// The parameters of one CloudStack command (without `command`, `apikey`, `signature`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// An empty parameter set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`, replacing an earlier value (names compare exactly, like the server).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
        self
    }

    /// Builder form of [`Params::set`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set(name, value);
        self
    }

    /// Sets `name` only when `value` is `Some`, so optional arguments read naturally.
    pub fn set_opt(&mut self, name: &str, value: Option<impl Into<String>>) -> &mut Self {
        if let Some(v) = value {
            self.set(name, v);
        }
        self
    }

    /// Sets a comma-separated list value (CloudStack's encoding for list parameters); an empty
    /// list sets nothing.
    pub fn set_list<I, S>(&mut self, name: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = values.into_iter().map(|s| s.as_ref().to_owned()).collect();
        if !joined.is_empty() {
            self.set(name, joined.join(","));
        }
        self
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Removes `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let pos = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(pos).1)
    }

    /// Iterates over `(name, value)` pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether no parameter is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Params {
    fn from_iter<T: IntoIterator<Item = (N, V)>>(iter: T) -> Self {
        let mut p = Params::new();
        for (n, v) in iter {
            p.set(n, v);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_and_list_joins() {
        let mut p = Params::new();
        p.set("a", "1").set("a", "2");
        p.set_list("cidrlist", ["0.0.0.0/0", "10.0.0.0/8"]);
        p.set_list("empty", Vec::<String>::new());
        p.set_opt("none", None::<String>);
        assert_eq!(p.get("a"), Some("2"));
        assert_eq!(p.get("cidrlist"), Some("0.0.0.0/0,10.0.0.0/8"));
        assert_eq!(p.get("empty"), None);
        assert_eq!(p.iter().count(), 2);
        assert_eq!(p.remove("a").as_deref(), Some("2"));
        assert_eq!(p.get("a"), None);
    }
}
