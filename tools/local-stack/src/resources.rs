//! The stack's AWS resources, named and created from the manifest.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use shared::stack::{self, EnvValue, FunctionSpec, Stack};
use shared::tables::{self, CreateTableError, Creation};

use crate::logs::LogSink;

/// Deployed names of the manifest's resources under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub prefix: String,
    /// Manifest key -> table name.
    pub tables: BTreeMap<String, String>,
    /// Manifest key -> function name.
    pub functions: BTreeMap<String, String>,
}

impl Resources {
    pub fn name(stack: &Stack, prefix: &str) -> Self {
        let names = |keys: Vec<&String>| {
            keys.into_iter()
                .map(|key| (key.clone(), stack::resource_name(prefix, key)))
                .collect()
        };
        Self {
            prefix: prefix.to_owned(),
            tables: names(stack.tables.keys().collect()),
            functions: names(stack.functions.keys().collect()),
        }
    }

    /// The function's configured variables with resource references resolved to names.
    pub fn function_environment(&self, function: &FunctionSpec) -> Vec<(String, String)> {
        function
            .environment
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    EnvValue::Table { table } => self.tables[table].clone(),
                    EnvValue::Literal { value } => value.clone(),
                };
                (name.clone(), value)
            })
            .collect()
    }

    /// Creates every table of the manifest (leaving any that already exist).
    pub async fn create(
        &self,
        stack: &Stack,
        client: &Client,
        logs: &LogSink,
    ) -> Result<(), CreateTableError> {
        for (key, spec) in &stack.tables {
            let name = &self.tables[key];
            let creation = tables::create_table(client, name, spec).await?;
            let verb = match creation {
                Creation::Created => "created",
                Creation::AlreadyExisted => "already exists",
            };
            logs.line("stack", &format!("table {name} {verb}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_environment_come_from_the_manifest() {
        let stack = Stack::workspace();
        let resources = Resources::name(&stack, "local");
        assert_eq!(resources.tables["tasks"], "local-tasks");
        assert_eq!(resources.functions["todo-api"], "local-todo-api");
        let environment = resources.function_environment(&stack.functions["todo-api"]);
        assert_eq!(
            environment,
            [("TASKS_TABLE".to_owned(), "local-tasks".to_owned())]
        );
    }
}
