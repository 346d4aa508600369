//! What templates see: variables, captures, earlier steps' results, the environment and the host.

use crate::record::Outcome;
use minijinja::Value;
use std::collections::BTreeMap;

/// The results of a step as templates read them: `steps.<id>.passed` and friends.
#[derive(Debug, Clone)]
pub(crate) struct StepState {
    pub passed: bool,
    pub status: Outcome,
    pub exit: Option<i32>,
    pub stdout: String,
}

pub(crate) struct Scope {
    vars: BTreeMap<String, Value>,
    captures: BTreeMap<String, Value>,
    steps: BTreeMap<String, Value>,
    env: Value,
    host: Value,
    /// The root value, built once per change: every string of every step is rendered against it.
    root: std::cell::OnceCell<Value>,
}

impl Scope {
    pub(crate) fn new(
        vars: &BTreeMap<String, serde_json::Value>,
        host: &crate::record::Host,
        env: &BTreeMap<String, String>,
    ) -> Scope {
        Scope {
            vars: vars.iter().map(|(k, v)| (k.clone(), Value::from(minijinja::value::Serde(v)))).collect(),
            captures: BTreeMap::new(),
            steps: BTreeMap::new(),
            env: Value::from(env.clone()),
            host: Value::from(BTreeMap::from([
                ("name", host.name.clone()),
                ("os", host.os.clone()),
                ("arch", host.arch.clone()),
            ])),
            root: std::cell::OnceCell::new(),
        }
    }

    pub(crate) fn capture(&mut self, name: &str, value: &str) {
        self.captures.insert(name.to_string(), Value::from(value));
        self.root.take();
    }

    pub(crate) fn record_step(&mut self, id: &str, state: StepState) {
        let mut map = BTreeMap::new();
        map.insert("passed", Value::from(state.passed));
        map.insert("status", Value::from(state.status.as_str()));
        map.insert("exit", state.exit.map(Value::from).unwrap_or(Value::from(())));
        map.insert("stdout", Value::from(state.stdout));
        self.steps.insert(id.to_string(), Value::from(map));
        self.root.take();
    }

    /// The root value templates are rendered against. Captures shadow variables of the same name.
    pub(crate) fn value(&self) -> Value {
        self.root.get_or_init(|| self.build()).clone()
    }

    fn build(&self) -> Value {
        let mut root: BTreeMap<String, Value> = self.vars.clone();
        root.extend(self.captures.iter().map(|(k, v)| (k.clone(), v.clone())));
        root.insert("vars".into(), Value::from(self.vars.clone()));
        root.insert("steps".into(), Value::from(self.steps.clone()));
        root.insert("env".into(), self.env.clone());
        root.insert("host".into(), self.host.clone());
        Value::from(root)
    }
}
