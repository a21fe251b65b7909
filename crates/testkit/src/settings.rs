//! Checks for a function's settings: every required variable and every bad value is named in
//! the error a user sees.

use std::collections::HashMap;
use std::fmt::Display;

use shared::config::Env;

/// For a function's settings tests: `from_env` fails naming the variable without each of
/// `required` (a complete set of required variables and values), and with each of `bad` set
/// beside them (a bad value replaces a required one of the same name).
pub fn assert_each_setting_is_named<C, E: Display>(
    from_env: impl Fn(&Env<HashMap<String, String>>) -> Result<C, E>,
    required: &[(&str, &str)],
    bad: &[(&str, &str)],
) {
    for missing in required.iter().map(|(name, _)| *name) {
        let pairs: Vec<_> = required
            .iter()
            .copied()
            .filter(|(name, _)| *name != missing)
            .collect();
        match from_env(&Env::from_pairs(&pairs)) {
            Ok(_) => panic!("read without {missing}"),
            Err(error) => assert!(error.to_string().contains(missing), "{error}"),
        }
    }
    for (name, value) in bad {
        let mut pairs: Vec<_> = required
            .iter()
            .copied()
            .filter(|(required, _)| required != name)
            .collect();
        pairs.push((name, value));
        match from_env(&Env::from_pairs(&pairs)) {
            Ok(_) => panic!("read with {name}={value}"),
            Err(error) => assert!(error.to_string().contains(name), "{name}={value}: {error}"),
        }
    }
}
