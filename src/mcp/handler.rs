//! The MCP server itself: tools, resources and the words a model reads about them. Transports
//! (stdio in `cli`, streamable HTTP in `server`) hand it requests; everything below is the same
//! for both.

use super::args::{Args, DiagnoseArgs, GetRunArgs, ListRunsArgs, SearchArgs, ShowArgs};
use super::diagnose::{self, Diagnoser};
use super::error::ToolError;
use super::library::{Library, Snapshot};
use super::{knowledge, output, runs};
use crate::exec::redact::Redactor;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool, tool_router};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Bytes kept free under the output limit for the note that says what was cut.
const NOTE_ROOM: usize = 1024;
/// Largest resource (one runbook's Markdown) sent whole.
const MAX_RESOURCE_BYTES: usize = 1024 * 1024;
const MARKDOWN: &str = "text/markdown";

/// What the model reads first about this server.
const INSTRUCTIONS: &str = "A knowledge base of operational runbooks (GPU, CUDA, storage, services, \
    homelab/SRE), with the record of every run. To help with a problem: search_runbooks with the error \
    text or symptom, show_runbook on the best hit to read its steps and what each checks, then (when \
    offered) run_diagnosis to run its read-only checks on this machine, and get_run for the full \
    output of a run. list_runs shows what already ran and what it found. The engine decides what may \
    run: diagnosis never runs a step that changes the system or needs a person; those are for the \
    user, and show_runbook shows them.";

/// How the server was started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Offer `run_diagnosis`.
    pub allow_diagnosis: bool,
    /// Longest a diagnosis may run.
    pub diagnosis_timeout: Duration,
    /// Largest tool result, in bytes of JSON.
    pub max_output: usize,
    /// The `runbook` binary that runs diagnoses.
    pub exe: PathBuf,
}

/// The runbook MCP server. Cheap to clone: sessions of one server share its library and its
/// limit on diagnoses running at once.
#[derive(Clone)]
pub(crate) struct McpServer {
    library: Arc<dyn Library>,
    diagnoser: Option<Arc<Diagnoser>>,
    max_output: usize,
    tool_router: ToolRouter<McpServer>,
}

impl McpServer {
    pub(crate) fn new(library: Arc<dyn Library>, options: &Options) -> McpServer {
        let mut tool_router = Self::tool_router();
        for route in tool_router.map.values_mut() {
            reflow_tool(&mut route.attr);
        }
        let diagnoser = if options.allow_diagnosis {
            Some(Arc::new(Diagnoser::new(options.exe.clone(), options.diagnosis_timeout)))
        } else {
            // Not merely refused: not offered, so a model never plans around it.
            tool_router.remove_route("run_diagnosis");
            None
        };
        McpServer { library, diagnoser, max_output: options.max_output, tool_router }
    }

    /// The tools as listed, in order.
    pub(crate) fn tools(&self) -> Vec<Tool> {
        self.tool_router.list_all()
    }

    /// Runs `work` on a blocking thread (loading and searching are CPU and disk work) and turns
    /// its result into what the client receives.
    async fn answer<F>(&self, hint: &'static str, work: F) -> CallToolResult
    where
        F: FnOnce(&dyn Library, &Snapshot) -> Result<Value, ToolError> + Send + 'static,
    {
        let library = Arc::clone(&self.library);
        let max_output = self.max_output;
        let done = tokio::task::spawn_blocking(move || {
            let snapshot = library.snapshot();
            let result = work(&*library, &snapshot);
            deliver(result, &snapshot.redactor(), max_output, hint)
        })
        .await;
        done.unwrap_or_else(|err| failure(&format!("the tool stopped: {err}")))
    }

    fn unknown_tool(&self, name: &str) -> String {
        if name == "run_diagnosis" && self.diagnoser.is_none() {
            return "run_diagnosis is not offered by this server: it was started without --allow-diagnosis. \
                    search_runbooks and show_runbook still tell what the runbook checks; ask the user to run it"
                .into();
        }
        let tools: Vec<String> = self.tool_router.list_all().into_iter().map(|t| t.name.to_string()).collect();
        let hint = match crate::util::suggest::closest(name, tools.iter().map(String::as_str)) {
            Some(best) => format!("did you mean `{best}`? "),
            None => String::new(),
        };
        format!("unknown tool `{name}`: {hint}the tools are {}", tools.join(", "))
    }
}

/// Descriptions come from doc comments, wrapped at 100 columns: a model reads them better as
/// paragraphs.
fn reflow_tool(tool: &mut Tool) {
    if let Some(description) = &tool.description {
        tool.description = Some(reflow(description).into());
    }
    let mut schema = Value::Object((*tool.input_schema).clone());
    reflow_descriptions(&mut schema);
    if let Value::Object(schema) = schema {
        tool.input_schema = Arc::new(schema);
    }
}

fn reflow_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    Value::String(text) if key == "description" => *text = reflow(text),
                    _ => reflow_descriptions(item),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(reflow_descriptions),
        _ => {}
    }
}

/// Lines joined with spaces; blank lines stay paragraph breaks.
fn reflow(text: &str) -> String {
    text.split("\n\n").map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n\n")
}

/// Secrets masked, size capped with a note of the cuts, as a tool result.
fn deliver(result: Result<Value, ToolError>, redactor: &Redactor, max_output: usize, hint: &str) -> CallToolResult {
    let mut value = match result {
        Ok(value) => value,
        Err(err) => return failure(&redactor.redact(&err.to_string())),
    };
    output::redact(&mut value, redactor);
    let cuts = output::cap(&mut value, max_output.saturating_sub(NOTE_ROOM));
    if !cuts.is_empty()
        && let Value::Object(map) = &mut value
    {
        let cuts: Vec<String> = cuts.iter().map(ToString::to_string).collect();
        map.insert("truncated".into(), json!({"limit_bytes": max_output, "cuts": cuts, "hint": hint}));
    }
    CallToolResult::structured(value)
}

fn failure(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.to_string())])
}

#[tool_router]
impl McpServer {
    /// Full-text search of the runbook knowledge base, and of recorded runs and cycle reports.
    /// Use it first for any problem: search the exact error text, symptom, alert name, command
    /// or component (`CUDA error 304`, `nvidia-smi not found`, `disk full`, `ollama slow`).
    /// Returns `{query, suggestion, hits}`: hits ranked best first, each with `kind` (runbook,
    /// archive, cycle), `id`, `title`, `heading` (the section), `anchor`, `path`, `line`, `score`
    /// and a `snippet` with matched words in <mark>…</mark>. `suggestion` is a corrected query
    /// when nothing matched as typed. Next: show_runbook with a hit's `id` (for kind runbook) or
    /// get_run with it (for kind archive).
    #[tool(title = "Search runbooks", annotations(read_only_hint = true, open_world_hint = false))]
    async fn search_runbooks(&self, Parameters(Args(args)): Parameters<Args<SearchArgs>>) -> CallToolResult {
        self.answer("ask for fewer hits with `limit`", move |library, _| knowledge::search(library, args)).await
    }

    /// One runbook in full: `runbook` (id, title, summary, tags, severity, owner, the variables
    /// it declares in `vars` with their defaults, `secrets`, its sections, and every step with
    /// what it runs or probes, the checks it makes, and `confirm` when it changes the system)
    /// and `markdown`, the file as written, whose prose explains causes and fixes. Use it to
    /// read a hit of search_runbooks, to learn which `vars` run_diagnosis takes, and to tell the
    /// user the steps that need them (those with `confirm` or `manual`).
    #[tool(title = "Show a runbook", annotations(read_only_hint = true, open_world_hint = false))]
    async fn show_runbook(&self, Parameters(Args(args)): Parameters<Args<ShowArgs>>) -> CallToolResult {
        self.answer("the resource runbook://ID has the whole Markdown", move |_, snapshot| {
            knowledge::show(snapshot.kb(), args)
        })
        .await
    }

    /// Recorded runs of runbooks, newest first: `{total, shown, runs}`, each run with `run_id`,
    /// `runbook`, `title`, `verdict` (passed, warning, failed, interrupted, running), start and
    /// end time, `duration_ms`, step and failure counts, `trigger` (who started it: a person,
    /// an alert, an MCP client) and `diagnosis` (the cause the runbook's diagnoses matched)
    /// when the run has them. Use it to see whether something was already checked, when it
    /// last passed, or what an earlier run found. Next: get_run with a `run_id`.
    #[tool(title = "List runs", annotations(read_only_hint = true, open_world_hint = false))]
    async fn list_runs(&self, Parameters(Args(args)): Parameters<Args<ListRunsArgs>>) -> CallToolResult {
        self.answer("filter by `runbook` or `verdict`, or lower `limit`", move |_, snapshot| {
            runs::list(snapshot.kb(), &snapshot.archives, args)
        })
        .await
    }

    /// One recorded run in full (its run.json): the runbook and its hash, host, user, options,
    /// `trigger`, variables (secrets masked), `verdict`, `diagnosis` when one matched,
    /// `findings` (the steps that did not pass and why) and every step with its command,
    /// outcome, exit code, checks (expected, actual, message), captures and the tails of its
    /// output; `folder` is where the run's full logs are. Use it after run_diagnosis or
    /// list_runs to see exactly what a check saw.
    #[tool(title = "Get a run", annotations(read_only_hint = true, open_world_hint = false))]
    async fn get_run(&self, Parameters(Args(args)): Parameters<Args<GetRunArgs>>) -> CallToolResult {
        self.answer("the run's folder holds every step's full output", move |_, snapshot| {
            runs::get(&snapshot.archives, args)
        })
        .await
    }

    /// Runs a runbook's read-only diagnosis on this machine now: only its steps without
    /// `confirm` or `manual` run (the engine skips every step that changes the system or needs
    /// a person, and nothing is ever answered for the user). Pass the runbook's declared
    /// variables in `vars` when the defaults do not fit (show_runbook lists them). The run is
    /// archived like any other, recording this client as its trigger, and stopped if it
    /// outlasts the server's time limit. Returns `run_id`, `verdict` (passed, warning, failed,
    /// interrupted), `diagnosis` (the most likely cause, when the runbook's diagnoses matched;
    /// null otherwise), `findings` (failed checks and why), `steps` (each with its `outcome`
    /// and `why`) and `not_run` (the steps left for a person). Next: get_run with the `run_id`
    /// for full output; tell the user about the `not_run` steps rather than running their
    /// commands yourself.
    #[tool(
        title = "Run a read-only diagnosis",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn run_diagnosis(
        &self,
        Parameters(Args(args)): Parameters<Args<DiagnoseArgs>>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let Some(diagnoser) = self.diagnoser.clone() else {
            return failure(&self.unknown_tool("run_diagnosis"));
        };
        let library = Arc::clone(&self.library);
        let planned = tokio::task::spawn_blocking(move || {
            let snapshot = library.snapshot();
            diagnose::plan(&snapshot, args).map(|plan| (plan, snapshot))
        })
        .await;
        let (plan, snapshot) = match planned {
            Ok(Ok(planned)) => planned,
            Ok(Err(err)) => return failure(&err.to_string()),
            Err(err) => return failure(&format!("the tool stopped: {err}")),
        };
        let client = context.client_info().map(|info| info.name).unwrap_or_else(|| "unknown client".into());
        let result = diagnoser.run(plan, &client, context.ct.clone()).await;
        self.library.ran();
        deliver(result, &snapshot.redactor(), self.max_output, "get_run with the run_id shows each step")
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("runbook", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if !self.tool_router.has_route(&request.name) {
            return Err(McpError::invalid_params(self.unknown_tool(&request.name), None));
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let cursor = request.and_then(|r| r.cursor);
        let library = Arc::clone(&self.library);
        let page =
            tokio::task::spawn_blocking(move || knowledge::resources(library.snapshot().kb(), cursor.as_deref()))
                .await
                .map_err(|e| McpError::internal_error(e.to_string(), None))?
                .map_err(|e| McpError::invalid_params(e.to_string(), None))?;
        let (entries, next) = page;
        let resources = entries
            .into_iter()
            .map(|entry| {
                let mut resource = Resource::new(entry.uri, entry.id).with_title(entry.title).with_mime_type(MARKDOWN);
                if !entry.summary.is_empty() {
                    resource = resource.with_description(entry.summary);
                }
                resource
            })
            .collect();
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let template = ResourceTemplate::new(format!("{}{{id}}", knowledge::SCHEME), "runbook")
            .with_title("A runbook by id")
            .with_description("The Markdown of the runbook with this id or alias (ids come from search_runbooks)")
            .with_mime_type(MARKDOWN);
        Ok(ListResourceTemplatesResult::with_all_items(vec![template]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri;
        let library = Arc::clone(&self.library);
        let asked = uri.clone();
        let (text, redactor) = tokio::task::spawn_blocking(move || {
            let snapshot = library.snapshot();
            knowledge::read(snapshot.kb(), &asked).map(|text| (text, snapshot.redactor()))
        })
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?
        .map_err(|e| McpError::resource_not_found(e.to_string(), Some(json!({"uri": uri}))))?;
        let text =
            output::cap_text(redactor.redact(&text).into_owned(), MAX_RESOURCE_BYTES, "show_runbook has the steps");
        let contents = ResourceContents::text(text, uri).with_mime_type(MARKDOWN);
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_read_as_paragraphs() {
        assert_eq!(
            reflow("One line\nand the next.\n\nA second  paragraph."),
            "One line and the next.\n\nA second paragraph."
        );
    }

    #[test]
    fn results_over_the_limit_say_what_was_cut() {
        let value = json!({"markdown": "m".repeat(100_000), "id": "x"});
        let result = deliver(Ok(value), &Redactor::default(), 8_192, "read the resource");
        let structured = result.structured_content.unwrap();
        assert_eq!(structured["truncated"]["limit_bytes"], 8_192);
        assert_eq!(structured["truncated"]["hint"], "read the resource");
        assert!(structured["truncated"]["cuts"][0].as_str().unwrap().starts_with("`/markdown`: "));
        assert!(serde_json::to_vec(&structured).unwrap().len() <= 8_192);
    }

    #[test]
    fn errors_are_tool_results_with_secrets_masked() {
        let redactor = Redactor::new(["s3cret".to_string()]);
        let result = deliver(Err(ToolError::Failed("saw s3cret".into())), &redactor, 8_192, "");
        assert_eq!(result.is_error, Some(true));
        let text = serde_json::to_value(&result.content).unwrap();
        assert_eq!(text[0]["text"], "saw ****");
    }
}
