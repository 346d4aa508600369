//! `/mcp`: the MCP server of `crate::mcp` over streamable HTTP, reading the same site and search
//! the pages do (so it follows the files as they change, and costs no second copy of the KB).
//!
//! Requests from web pages are refused (any `Origin` header): MCP clients send none, and a page
//! must not drive an agent's tools. The `Host` check of the rest of the site applies here too.

use super::state::AppState;
use crate::index::{SearchRequest, SearchResults};
use crate::mcp::{Library, McpServer, Options, Snapshot};
use crate::model::Kb;
use crate::render::Site;
use axum::Router;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;

/// Largest request body: tool arguments are small.
const BODY_LIMIT: usize = 256 * 1024;

impl AsRef<Kb> for Site {
    fn as_ref(&self) -> &Kb {
        &self.kb
    }
}

/// The server's site and search, as the MCP tools read them.
struct SiteLibrary {
    state: Arc<AppState>,
}

impl Library for SiteLibrary {
    fn snapshot(&self) -> Snapshot {
        let site = self.state.site();
        let archives = site.kb.archives_dir(self.state.loader.archives.as_deref());
        Snapshot { kb: site, archives }
    }

    fn search(&self, request: &SearchRequest) -> Result<SearchResults, String> {
        self.state.search.search(request).map_err(|e| e.to_string())
    }
}

/// The `/mcp` route.
pub(super) fn routes(state: Arc<AppState>, options: &Options) -> Router<Arc<AppState>> {
    let server = McpServer::new(Arc::new(SiteLibrary { state }), options);
    let config = StreamableHttpServerConfig::default()
        // The site's own layer checks `Host` (loopback names while bound to loopback).
        .disable_allowed_hosts()
        .enforce_origin_validation()
        .with_max_request_body_bytes(BODY_LIMIT);
    let service =
        StreamableHttpService::new(move || Ok(server.clone()), Arc::new(LocalSessionManager::default()), config);
    Router::new().nest_service("/mcp", service)
}
