//! The `http` probe: one request, and checks on the status, the body and JSON values in it.
//!
//! A service that does not answer is a failed `response` check, not a probe error; 4xx and 5xx
//! are answers like any other. Headers are sent but never printed: they often carry tokens.

use super::{ProbeEnv, ProbeOutcome, format_duration, format_millis, network_timeout, os_error};
use crate::exec::check::{check_measure, check_number, check_text, check_value, excerpt};
use crate::model::matcher::{CmpOp, Deferred, Matcher, Unit};
use crate::model::probe::{HttpField, HttpMethod, HttpProbe, JsonPointer};
use crate::model::quantity::HumanBytes;
use crate::model::template::Template;
use crate::record::CheckResult;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use ureq::http::{HeaderName, HeaderValue, Request, Uri};
use ureq::{Agent, ResponseExt, SendBody};

/// The most of a body the probe reads: plenty for health and status endpoints, bounded for a
/// URL that turns out to serve a model file.
const BODY_LIMIT: u64 = 8 * 1024 * 1024;

/// What came back, once the body has been read.
struct Answer {
    status: u16,
    reason: &'static str,
    content_type: Option<String>,
    /// The final URL when redirects were followed.
    redirected_to: Option<String>,
    body: Vec<u8>,
    truncated: bool,
    /// Why the body stopped early (a timeout mid-body, a dropped connection).
    body_error: Option<String>,
    took: Duration,
}

/// Why no answer came.
enum Failure {
    /// The request itself is wrong (bad URL or header): the probe cannot look.
    Input(String),
    /// The service did not answer: a failed check.
    NoResponse(String),
}

pub(crate) fn run(probe: &HttpProbe, env: &ProbeEnv) -> ProbeOutcome {
    let url = probe.url.source.trim();
    let method = probe.method.unwrap_or(HttpMethod::Get);
    let target = match env.sandbox.map(|s| s.http_target(url)) {
        None => url.to_string(),
        Some(Ok(target)) => target,
        Some(Err(reason)) => return ProbeOutcome::error(reason),
    };
    let request = match build_request(&target, method, &probe.headers) {
        Ok(request) => request,
        Err(reason) => return ProbeOutcome::error(reason),
    };
    let uri = request.uri().clone();
    let shown = format!("{} {}", method.as_str(), redact_userinfo(url));
    let timeout = network_timeout(probe.timeout, env);
    match fetch(request, timeout) {
        Ok(answer) => {
            let checks = answer_checks(probe, &answer);
            let observed = describe(&shown, &answer, &checks);
            ProbeOutcome::done(checks, observed)
        }
        Err(e) => match failure(&e, &uri, timeout) {
            Failure::Input(reason) => ProbeOutcome::error(reason),
            Failure::NoResponse(reason) => {
                let check = CheckResult::new("response", "an HTTP response".into(), reason.clone(), false);
                ProbeOutcome::done(vec![check], vec![format!("{shown} → {reason}")])
            }
        },
    }
}

/// The request as it will be sent; errors name the bad part (never a header's value).
fn build_request(
    url: &str,
    method: HttpMethod,
    headers: &BTreeMap<String, Template>,
) -> Result<Request<SendBody<'static>>, String> {
    let uri: Uri = url.parse().map_err(|e| format!("invalid URL `{}`: {e}", redact_userinfo(url)))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(format!("invalid URL `{}`: it must start with http:// or https://", redact_userinfo(url)));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("invalid URL `{}`: no host", redact_userinfo(url)));
    }
    let mut builder = Request::builder().method(method.as_str()).uri(uri);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name `{name}`"))?;
        let value = HeaderValue::from_str(&value.source).map_err(|_| format!("invalid value for header `{name}`"))?;
        builder = builder.header(name, value);
    }
    builder.body(SendBody::none()).map_err(|e| format!("invalid request: {e}"))
}

/// Sends the request and reads up to [`BODY_LIMIT`] of the answer, all within `timeout`.
fn fetch(request: Request<SendBody<'static>>, timeout: Duration) -> Result<Answer, ureq::Error> {
    let loopback = request.uri().host().is_some_and(is_loopback);
    let requested = request.uri().clone();
    let start = Instant::now();
    let response = agent(timeout, loopback).run(request)?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
    let final_uri = response.get_uri();
    let redirected_to = (*final_uri != requested).then(|| final_uri.to_string());
    let mut body = Vec::new();
    let read = response.into_body().into_reader().take(BODY_LIMIT + 1).read_to_end(&mut body);
    let truncated = body.len() as u64 > BODY_LIMIT;
    body.truncate(BODY_LIMIT as usize);
    Ok(Answer {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or(""),
        content_type,
        redirected_to,
        body,
        truncated,
        body_error: read.err().map(|e| no_response_reason(&ureq::Error::from(e), timeout)),
        took: start.elapsed(),
    })
}

/// An agent for one probe: statuses are answers, redirects are followed, one deadline covers
/// everything. Proxies from the environment apply, except to this machine itself, which a
/// proxy cannot reach on our behalf.
fn agent(timeout: Duration, loopback: bool) -> Agent {
    let mut config = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("runbook/", env!("CARGO_PKG_VERSION")));
    if loopback {
        config = config.proxy(None);
    }
    config.build().new_agent()
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.to_ascii_lowercase().ends_with(".localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Sorts a ureq error into "the request is wrong" and "nobody answered", in words.
fn failure(e: &ureq::Error, uri: &Uri, timeout: Duration) -> Failure {
    match e {
        ureq::Error::BadUri(why) => Failure::Input(format!("invalid URL: {why}")),
        ureq::Error::Http(why) => Failure::Input(format!("invalid request: {why}")),
        other => {
            let reason = no_response_reason(other, timeout);
            Failure::NoResponse(format!("{reason} ({})", target(uri)))
        }
    }
}

fn no_response_reason(e: &ureq::Error, timeout: Duration) -> String {
    let waited = || format!("no response within {}", format_duration(timeout));
    match e {
        ureq::Error::Timeout(_) => waited(),
        ureq::Error::Io(io) => match io.kind() {
            io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => waited(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
                "the connection was closed before a complete answer".to_string()
            }
            _ => os_error(io),
        },
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::TooManyRedirects => "too many redirects".to_string(),
        ureq::Error::Protocol(why) => format!("not a valid HTTP answer: {why}"),
        other => other.to_string(),
    }
}

/// `host:port` of the URL, with the scheme's default port, for failure messages.
fn target(uri: &Uri) -> String {
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    format!("{host}:{port}")
}

/// The URL as it may be printed: a password in it becomes `***`.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let user = rest[..at].split(':').next().unwrap_or_default();
    format!("{scheme}://{user}:***{}", &rest[at..])
}

/// The status, body and JSON checks, in the order `Probe::expectations` lists them.
fn answer_checks(probe: &HttpProbe, answer: &Answer) -> Vec<CheckResult> {
    let status = f64::from(answer.status);
    let mut checks = Vec::new();
    if probe.status.is_none() {
        checks.push(check_number(HttpField::Status.label(), &below_400(), status, HttpField::Status.unit()));
    }
    let unreadable = answer.body_error.as_ref().map(|why| format!("could not read the body: {why}"));
    for m in probe.measures() {
        match m.field {
            HttpField::Status => checks.push(check_measure(&m, status)),
            HttpField::Body => checks.extend(match &unreadable {
                Some(problem) => failed_patterns(m.label, m.matcher, problem),
                None => check_text(m.label, m.matcher, &String::from_utf8_lossy(&answer.body)),
            }),
        }
    }
    if !probe.json.is_empty() {
        checks.extend(json_checks(&probe.json, answer, unreadable.as_deref()));
    }
    if let (Some(problem), None, true) = (&unreadable, &probe.body, probe.json.is_empty()) {
        // Nothing asked about the body, but a service that stalls mid-answer is not healthy.
        checks.push(CheckResult::failed("body", "complete".into(), problem.clone()));
    }
    checks
}

/// The implicit status expectation: any answer that is not an error.
fn below_400() -> Matcher {
    Matcher::Compare(vec![(CmpOp::Lt, Deferred::Ready(400.0))])
}

/// One failed check per line pattern, so the count matches a readable body's.
fn failed_patterns(label: &str, matcher: &Matcher, problem: &str) -> Vec<CheckResult> {
    match matcher {
        Matcher::Lines(patterns) => {
            patterns.iter().map(|p| CheckResult::failed(label, p.to_string(), problem.to_string())).collect()
        }
        other => vec![CheckResult::failed(label, other.describe(Unit::Plain), problem.to_string())],
    }
}

/// Parses the body once and checks every pointer against it.
fn json_checks(
    pointers: &BTreeMap<JsonPointer, crate::model::matcher::ValueMatcher>,
    answer: &Answer,
    unreadable: Option<&str>,
) -> Vec<CheckResult> {
    let parsed: Result<serde_json::Value, String> = match unreadable {
        Some(problem) => Err(problem.to_string()),
        None if answer.truncated => Err(format!("response is not JSON: cut off at {}", HumanBytes(BODY_LIMIT as f64))),
        None => serde_json::from_slice(&answer.body).map_err(|e| format!("response is not JSON: {e}")),
    };
    let mut checks = Vec::new();
    for (pointer, m) in pointers {
        let label = format!("JSON {}", pointer.0);
        let label = label.trim_end();
        match &parsed {
            Ok(value) => checks.extend(check_value(label, &m.0, value.pointer(&pointer.0))),
            Err(problem) => checks.push(CheckResult::failed(label, m.0.describe(Unit::Plain), problem.clone())),
        }
    }
    checks
}

/// `GET http://127.0.0.1:11434/api/ps → 200 OK, 312 bytes, application/json, 12 ms`, and the
/// start of the body when the answer is an error or a body check failed.
fn describe(shown: &str, answer: &Answer, checks: &[CheckResult]) -> Vec<String> {
    let mut parts = vec![format!("{} {}", answer.status, answer.reason).trim_end().to_string()];
    let size = answer.body.len();
    let mut size_words = if size < 10 * 1024 { format!("{size} bytes") } else { HumanBytes(size as f64).to_string() };
    if answer.truncated {
        size_words.push_str(" (read no further)");
    }
    parts.push(size_words);
    parts.extend(answer.content_type.clone());
    parts.push(format_millis(answer.took));
    let mut line = format!("{shown} → {}", parts.join(", "));
    if let Some(final_url) = &answer.redirected_to {
        line.push_str(&format!(", redirected to {}", redact_userinfo(final_url)));
    }
    let mut observed = vec![line];
    if let Some(problem) = &answer.body_error {
        observed.push(format!("body: could not read it all: {problem}"));
    }
    let failed_on_body = checks.iter().skip(1).any(|c| !c.passed);
    if (answer.status >= 400 || failed_on_body) && !answer.body.is_empty() {
        let text = String::from_utf8_lossy(&answer.body);
        let one_line: Vec<&str> = text.split_whitespace().collect();
        observed.push(format!("body: {}", excerpt(&one_line.join(" "))));
    }
    observed
}

#[cfg(test)]
mod tests {
    use super::super::ProbeStatus;
    use super::super::testing::env;
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::Path;
    use std::sync::OnceLock;

    const OLLAMA_PS: &str = r#"{"models":[{"name":"llama3","size":4000000000,"size_vram":4000000000}]}"#;

    /// A tiny HTTP/1.1 server on loopback with canned answers, started once for all tests.
    fn server() -> &'static str {
        static ADDRESS: OnceLock<String> = OnceLock::new();
        ADDRESS.get_or_init(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap().to_string();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    std::thread::spawn(move || serve(stream));
                }
            });
            address
        })
    }

    fn serve(stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let (status, content_type, body): (&str, &str, String) = match path.as_str() {
            "/api/ps" => ("200 OK", "application/json; charset=utf-8", OLLAMA_PS.into()),
            "/" => ("200 OK", "text/plain", "Ollama is running".into()),
            "/missing" => ("404 Not Found", "application/json", r#"{"error":"model \"x\" not found"}"#.into()),
            "/error" => ("500 Internal Server Error", "text/plain", "CUDA error 304\nfalling back to CPU\n".into()),
            "/echo" => ("200 OK", "text/plain", head.clone()),
            "/redirect" => ("302 Found", "text/plain", String::new()),
            "/slow" => {
                std::thread::sleep(Duration::from_secs(3));
                ("200 OK", "text/plain", "late".into())
            }
            _ => ("404 Not Found", "text/plain", String::new()),
        };
        let location = if path == "/redirect" { "Location: /api/ps\r\n" } else { "" };
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{location}Connection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = stream;
        let _ = stream.write_all(answer.as_bytes());
    }

    fn probe(yaml: &str) -> HttpProbe {
        serde_saphyr::from_str(yaml).unwrap()
    }

    /// Runs the probe against the test server; `{url}` in the YAML is replaced by its base URL.
    fn get(yaml: &str) -> ProbeOutcome {
        let yaml = yaml.replace("{url}", &format!("http://{}", server()));
        run(&probe(&yaml), &env(Path::new("/")))
    }

    fn messages(outcome: &ProbeOutcome) -> Vec<&str> {
        outcome.checks.iter().map(|c| c.message.as_str()).collect()
    }

    #[test]
    fn ollama_ps_passes_with_status_body_and_json() {
        let outcome = get(r#"{url: "{url}/api/ps", status: 200, body: ["models", "!error"],
                json: {"/models/0/size_vram": {gt: 0}, "/models/0/name": llama3}}"#);
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert!(outcome.passed(), "{:?}", messages(&outcome));
        assert_eq!(outcome.checks.len(), 5);
        assert_eq!(outcome.checks[0].message, "status 200 (= 200)");
        assert_eq!(outcome.checks[3].message, "JSON /models/0/name llama3 (is \"llama3\")");
        let observed = &outcome.observed;
        assert_eq!(observed.len(), 1, "{observed:?}");
        let prefix = format!("GET http://{}/api/ps → 200 OK, {} bytes, application/json, ", server(), OLLAMA_PS.len());
        assert!(observed[0].starts_with(&prefix), "{observed:?}");
        assert!(observed[0].ends_with(" ms"), "{observed:?}");
    }

    #[test]
    fn status_is_below_400_unless_said_otherwise() {
        let outcome = get(r#"{url: "{url}/error"}"#);
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert_eq!(messages(&outcome), ["status: expected < 400, saw 500"]);
        assert!(
            outcome.observed[0].contains("→ 500 Internal Server Error, 35 bytes, text/plain, "),
            "{:?}",
            outcome.observed
        );
        assert_eq!(outcome.observed[1], "body: CUDA error 304 falling back to CPU");
        assert!(get(r#"{url: "{url}/error", status: 500}"#).passed());
        assert!(get(r#"{url: "{url}/missing", status: [404, 410]}"#).passed());
        assert_eq!(messages(&get(r#"{url: "{url}/", status: {ge: 300}}"#)), ["status: expected ≥ 300, saw 200"]);
    }

    #[test]
    fn body_patterns() {
        let outcome = get(r#"{url: "{url}/error", status: 500, body: ["/CUDA error \\d+/", "!CPU", "GPU"]}"#);
        assert_eq!(
            messages(&outcome)[1..],
            [
                "body line 1: CUDA error 304 (has a line matching /CUDA error \\d+/)",
                "body: expected has no line containing \"CPU\", saw line 2: falling back to CPU",
                "body: expected has a line containing \"GPU\", saw no such line in 2 lines",
            ]
        );
        // A failed body check shows the start of the body even for a 2xx answer.
        let text = get(r#"{url: "{url}/", body: ["models"]}"#);
        assert_eq!(text.observed[1], "body: Ollama is running");
        // A URL without a path is not "redirected" to the same URL with `/`.
        let bare = get(r#"{url: "{url}", body: ["Ollama is running"]}"#);
        assert!(bare.passed() && !bare.observed[0].contains("redirected"), "{:?}", bare.observed);
    }

    #[test]
    fn json_pointers_missing_and_wrong_types() {
        let outcome = get(r#"{url: "{url}/api/ps", json: {"/models/1/size_vram": {gt: 0}, "/models/0/name": {gt: 0},
                "/models/0/size": {lt: 1GB}, "/models": ["mistral"]}}"#);
        assert_eq!(
            messages(&outcome)[1..],
            [
                "JSON /models: expected has a line containing \"mistral\", saw no such line in 1 lines",
                "JSON /models/0/name: llama3 is not a number",
                "JSON /models/0/size: expected < 1000000000, saw 4000000000",
                "JSON /models/1/size_vram: missing from the response",
            ]
        );
    }

    #[test]
    fn non_json_body_fails_each_json_check() {
        let outcome = get(r#"{url: "{url}/", json: {"/models": ["x"], "/status": ok}}"#);
        assert_eq!(outcome.checks.len(), 3);
        assert!(outcome.checks[0].passed);
        for check in &outcome.checks[1..] {
            assert!(!check.passed);
            assert!(check.actual.starts_with("response is not JSON: expected value at line 1 column 1"), "{check:?}");
        }
        assert_eq!(outcome.checks[2].message, "JSON /status: response is not JSON: expected value at line 1 column 1");
    }

    #[test]
    fn timeout_fails_clearly_and_quickly() {
        let start = Instant::now();
        let outcome = get(r#"{url: "{url}/slow", timeout: 1s}"#);
        let took = start.elapsed();
        assert!(took < Duration::from_millis(2000), "took {took:?}");
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert_eq!(
            messages(&outcome),
            [format!("response: expected an HTTP response, saw no response within 1s ({})", server())]
        );
        assert_eq!(outcome.observed, [format!("GET http://{}/slow → no response within 1s ({})", server(), server())]);
    }

    #[test]
    fn step_timeout_applies_when_the_probe_has_none() {
        let yaml = format!("{{url: \"http://{}/slow\"}}", server());
        let mut short = env(Path::new("/"));
        short.timeout = Duration::from_millis(500);
        let start = Instant::now();
        let outcome = run(&probe(&yaml), &short);
        assert!(start.elapsed() < Duration::from_millis(1500));
        assert!(outcome.checks[0].actual.starts_with("no response within 500ms"), "{:?}", outcome.checks);
    }

    #[test]
    fn connection_refused_is_a_failed_check() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let outcome = run(&probe(&format!("{{url: \"http://127.0.0.1:{port}/api/ps\"}}")), &env(Path::new("/")));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert_eq!(
            messages(&outcome),
            [format!("response: expected an HTTP response, saw connection refused (127.0.0.1:{port})")]
        );
        assert_eq!(
            outcome.observed,
            [format!("GET http://127.0.0.1:{port}/api/ps → connection refused (127.0.0.1:{port})")]
        );
    }

    #[test]
    fn method_and_headers_are_sent() {
        let outcome =
            get(r#"{url: "{url}/echo", method: POST, headers: {Authorization: "Bearer s3cret", X-Probe: yes},
                body: ["/^POST \\/echo HTTP\\/1.1/", "/^(?i)authorization: Bearer s3cret/", "/^(?i)x-probe: yes/"]}"#);
        assert!(outcome.passed(), "{:?}", messages(&outcome));
        assert!(outcome.observed[0].starts_with("POST http://"), "{:?}", outcome.observed);
        assert!(outcome.observed.iter().all(|line| !line.contains("s3cret")), "{:?}", outcome.observed);
        let head = get(r#"{url: "{url}/api/ps", method: HEAD, body: [""]}"#);
        assert!(head.passed(), "{:?}", messages(&head));
    }

    #[test]
    fn redirects_are_followed() {
        let outcome = get(r#"{url: "{url}/redirect", json: {"/models/0/name": llama3}}"#);
        assert!(outcome.passed(), "{:?}", messages(&outcome));
        assert!(
            outcome.observed[0].ends_with(&format!(", redirected to http://{}/api/ps", server())),
            "{:?}",
            outcome.observed
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        for (url, reason) in [
            ("not a url", "invalid URL `not a url`: "),
            (
                "ftp://example.invalid/x",
                "invalid URL `ftp://example.invalid/x`: it must start with http:// or https://",
            ),
            ("/api/ps", "invalid URL `/api/ps`: it must start with http:// or https://"),
        ] {
            let outcome = run(&probe(&format!("{{url: \"{url}\"}}")), &env(Path::new("/")));
            let ProbeStatus::Error(error) = &outcome.status else { panic!("{url}: {:?}", outcome.status) };
            assert!(error.starts_with(reason), "{error}");
        }
        let header = get(r#"{url: "{url}/", headers: {"Bad Header": x}}"#);
        assert_eq!(header.status, ProbeStatus::Error("invalid header name `Bad Header`".into()));
        let value = get(r#"{url: "{url}/", headers: {X-Token: "line\nbreak"}}"#);
        assert_eq!(value.status, ProbeStatus::Error("invalid value for header `x-token`".into()));
    }

    #[test]
    fn passwords_in_urls_are_not_printed() {
        assert_eq!(redact_userinfo("http://admin:hunter2@host:80/x@y"), "http://admin:***@host:80/x@y");
        assert_eq!(redact_userinfo("http://host/a@b"), "http://host/a@b");
        assert!(is_loopback("127.0.0.1") && is_loopback("[::1]") && is_loopback("LOCALHOST"));
        assert!(!is_loopback("example.com"));
    }
}
