//! Why a tool call did not work, in words a model can act on: what was wrong and what to call or
//! pass instead. These reach the model as tool results marked `isError`, never as a crash.

/// A failed tool call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ToolError {
    #[error("invalid arguments: {0}")]
    Arguments(String),
    #[error("no runbook `{query}`{}; `search_runbooks` finds runbooks by words", did_you_mean(.suggestions))]
    UnknownRunbook { query: String, suggestions: Vec<String> },
    #[error("`{query}` names several runbooks: {}; pass one of these ids", .candidates.join(", "))]
    AmbiguousRunbook { query: String, candidates: Vec<String> },
    #[error("{message}{}; `list_runs` lists the runs", did_you_mean(.suggestions))]
    UnknownRun { message: String, suggestions: Vec<String> },
    #[error("`{runbook}` declares no variable `{name}`: {hint}")]
    UndeclaredVar { runbook: String, name: String, hint: String },
    #[error("variable `{name}` must be a string, number or boolean, not {found}")]
    BadVarValue { name: String, found: &'static str },
    #[error("`{runbook}` {why}")]
    NotRunnable { runbook: String, why: String },
    #[error("{0}")]
    Busy(String),
    #[error("the diagnosis could not run: {0}")]
    Exec(String),
    #[error("{0}")]
    Failed(String),
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!(": did you mean `{one}`?"),
        many => format!(": did you mean {}?", many.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(" or ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let err = ToolError::UnknownRunbook { query: "cuda-30".into(), suggestions: vec!["cuda-304".into()] };
        assert_eq!(
            err.to_string(),
            "no runbook `cuda-30`: did you mean `cuda-304`?; `search_runbooks` finds runbooks by words"
        );
        let err = ToolError::UnknownRunbook { query: "zz".into(), suggestions: vec![] };
        assert_eq!(err.to_string(), "no runbook `zz`; `search_runbooks` finds runbooks by words");
        let err = ToolError::UnknownRun { message: "no run `x`".into(), suggestions: vec!["a".into(), "b".into()] };
        assert_eq!(err.to_string(), "no run `x`: did you mean `a` or `b`?; `list_runs` lists the runs");
    }
}
