//! The precedence rule, written once and applied to every setting: a value set in code on the
//! builder > the signal-specific variable > the generic variable > the default.

use crate::Error;

/// The environment as settings read it: an empty variable counts as unset, as the
/// OpenTelemetry spec asks.
#[derive(Clone, Copy)]
pub(super) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    /// The value of `name`, unless it is unset or blank.
    pub(super) fn get(self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// The first of `names` that is set, with its name.
    fn first(self, names: &[&'static str]) -> Option<(&'static str, String)> {
        names
            .iter()
            .find_map(|&name| self.get(name).map(|value| (name, value)))
    }

    /// A setting that only the environment sets: the first of `vars` that is set, read by
    /// `parse` (whose errors name the variable), else `default`.
    pub(super) fn read<T>(
        self,
        vars: &[&'static str],
        parse: impl FnOnce(&'static str, &str) -> Result<T, Error>,
        default: T,
    ) -> Result<T, Error> {
        match self.first(vars) {
            Some((name, value)) => parse(name, &value),
            None => Ok(default),
        }
    }

    /// The value of `setting`: the value set in code, checked as its variable's value would be,
    /// else [`read`](Self::read) from its variables, else its default.
    pub(super) fn resolve<C, T, K, P>(self, setting: Setting<'_, C, T, K, P>) -> Result<T, Error>
    where
        K: FnOnce(&'static str, C) -> Result<T, Error>,
        P: FnOnce(&'static str, &str) -> Result<T, Error>,
    {
        match setting.code {
            Some(value) => (setting.check)(setting.setter, value),
            None => self.read(setting.vars, setting.parse, setting.default),
        }
    }
}

/// Where one setting comes from, in the order its sources win.
///
/// The bounds sit on the struct, not only on [`Env::resolve`], so that the closures of a
/// `Setting { .. }` literal get their argument types without annotations.
pub(super) struct Setting<'v, C, T, K, P>
where
    K: FnOnce(&'static str, C) -> Result<T, Error>,
    P: FnOnce(&'static str, &str) -> Result<T, Error>,
{
    /// The value set in code, if any.
    pub code: Option<C>,
    /// The builder method that sets it and the variable it stands for, as errors about a
    /// value set in code name them (`TelemetryBuilder::with_flush_timeout
    /// (LAMBDA_OTEL_FLUSH_TIMEOUT_MS)`).
    pub setter: &'static str,
    /// Checks a value set in code as `parse` checks the variable's, naming `setter`.
    pub check: K,
    /// The signal-specific variable, then the generic one; most settings have only one.
    pub vars: &'v [&'static str],
    /// Reads a variable's value; its errors name the variable.
    pub parse: P,
    /// When neither code nor the environment sets it.
    pub default: T,
}

/// The `check` of a setting whose every value set in code is valid (an enum, a flag).
pub(super) fn any_value<T>(_setter: &'static str, value: T) -> Result<T, Error> {
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn limit(code: Option<u32>, vars: &[(&str, &str)]) -> Result<u32, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| map.get(name).cloned();
        Env::new(&lookup).resolve(Setting {
            code,
            setter: "with_limit (SIGNAL_LIMIT)",
            check: |setter, value| match value {
                0 => Err(Error::invalid(setter, value, "at least 1")),
                _ => Ok(value),
            },
            vars: &["SIGNAL_LIMIT", "LIMIT"],
            parse: |name, value| {
                value
                    .trim()
                    .parse()
                    .map_err(|_| Error::invalid(name, value, "a number"))
            },
            default: 7,
        })
    }

    #[test]
    fn code_over_signal_variable_over_generic_variable_over_default() {
        let generic = ("LIMIT", "2");
        let signal = ("SIGNAL_LIMIT", "3");
        assert_eq!(limit(None, &[]).ok(), Some(7));
        assert_eq!(limit(None, &[generic]).ok(), Some(2));
        assert_eq!(limit(None, &[generic, signal]).ok(), Some(3));
        assert_eq!(limit(Some(4), &[generic, signal]).ok(), Some(4));
    }

    #[test]
    fn a_blank_variable_is_unset_and_errors_name_their_source() {
        assert_eq!(
            limit(None, &[("SIGNAL_LIMIT", " "), ("LIMIT", "2")]).ok(),
            Some(2)
        );
        let err = limit(None, &[("LIMIT", "x")]).expect_err("not a number");
        assert!(err.to_string().contains("for LIMIT"), "{err}");
        let err = limit(Some(0), &[("LIMIT", "x")]).expect_err("zero");
        assert!(
            err.to_string().contains("for with_limit (SIGNAL_LIMIT)"),
            "{err}"
        );
    }
}
