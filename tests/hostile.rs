//! Ten thousand random and hostile requests against `runbook serve`, written as raw bytes on
//! loopback so nothing normalizes them on the way: long and encoded paths, traversal, huge and
//! malformed query strings, odd methods and headers, garbage. No 5xx, no crash, and nothing
//! from outside the site (a planted secret next to the KB, `/etc/passwd`) is ever served.

use crate::site_kit::{Server, kb};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const REQUESTS: usize = 10_000;
const THREADS: usize = 8;
const SECRET: &str = "the-planted-secret-7f3a9c";

/// A small deterministic generator: the same requests on every run, so a failure can be
/// replayed from its number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const PATHS: &[&str] = &[
    "/",
    "/runbooks/disk/",
    "/runbooks/gpu",
    "/tags/",
    "/tags/storage/",
    "/archives/",
    "/cycles/",
    "/search",
    "/api/search",
    "/api/runbooks",
    "/api/runbooks/disk",
    "/api/archives",
    "/metrics",
    "/healthz",
    "/_reload",
    "/assets/",
    "/..%2f..%2fetc/passwd",
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/secret.txt",
    "/%252e%252e/%252e%252e/secret.txt",
    "/assets/..%2f..%2fsecret.txt",
    "/assets/..\\..\\secret.txt",
    "/runbooks/..%2f..%2fsecret.txt/",
    "/runbooks/%2e%2e/%2e%2e/secret.txt",
    "/api/runbooks/..%2f..%2fsecret.txt",
    "/api/runbooks/%00",
    "/secret.txt",
    "/runbooks/operations/disk.md",
    "//etc/passwd",
    "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/%ff%fe/",
    "/tags/%00/",
    "/runbooks/%E2%80%AE/",
    "/.runbook/index/meta.json",
    "/archives/..%2f..%2fsecret.txt/",
    "*",
    "http://127.0.0.1/",
    "",
];

const QUERIES: &[&str] = &[
    "",
    "?q=disk",
    "?q=",
    "?q=%",
    "?q=%zz%",
    "?q=%00%01%02",
    "?q=%ff%fe%fd",
    "?q=\"unbalanced",
    "?q=tag:&kind=&category=",
    "?kind=everything",
    "?kind=%3Cscript%3E",
    "?limit=-1",
    "?limit=99999999999999999999999",
    "?limit=NaN&limit=0",
    "?q=a&q=b&q=c",
    "?&&&==&=",
    "?q=<script>alert(1)</script>",
    "?q=nvidia-sm&prefix=1",
    "?prefix=yes&q=\u{1F600}",
];

const ODD_METHODS: &[&str] =
    &["HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "get", "G\0T", "BREW"];

const ODD_VERSIONS: &[&str] = &["HTTP/1.0", "HTTP/0.9", "HTTP/2.0", "HTTP/1.1 extra", "FTP/1.0", ""];

/// Request `n`, as bytes, and whether it must be half-closed (see [`send`]).
fn request(n: usize) -> (Vec<u8>, bool) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (n as u64).wrapping_mul(0x1000_0000_01B3));
    rng.next();
    // One in twenty is plain garbage.
    if rng.below(20) == 0 {
        let len = rng.below(4096) + 1;
        return (rng.bytes(len), true);
    }
    let mut path = rng.pick(PATHS).to_string();
    match rng.below(10) {
        0 => path.push_str(&"/a".repeat(rng.below(20_000))),
        1 => path.push_str(&"%2e%2e%2f".repeat(rng.below(200) + 1)),
        2 => path = format!("/runbooks/{}/", "x".repeat(rng.below(70_000))),
        _ => {}
    }
    let mut query = rng.pick(QUERIES).to_string();
    if rng.below(8) == 0 {
        query = format!("?q={}", "%41".repeat(rng.below(30_000)));
    }
    // Half the time, what a browser would send: characters a URL may not hold, escaped.
    if rng.below(2) == 0 {
        query = query
            .bytes()
            .map(|b| {
                if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
    }
    let method = if rng.below(4) == 0 { rng.pick(ODD_METHODS) } else { "GET" };
    // Mostly well-formed, so the requests reach the routes; one in six is odd from the start.
    let odd_version = rng.below(6) == 0;
    let version = if odd_version { rng.pick(ODD_VERSIONS) } else { "HTTP/1.1" };
    let mut text = format!("{method} {path}{query} {version}\r\n");
    match rng.below(8) {
        0 => text.push_str("Host: evil.example\r\n"),
        1 => {}
        2 => text.push_str("Host: 127.0.0.1\r\nHost: localhost\r\n"),
        _ => text.push_str("Host: 127.0.0.1\r\n"),
    }
    // One in three has something wrong in its headers; some of those break the framing.
    let mut framing = odd_version;
    if rng.below(3) == 0 {
        match rng.below(10) {
            0 => text.push_str(&format!("X-Long: {}\r\n", "b".repeat(rng.below(200_000)))),
            1 => {
                for i in 0..rng.below(300) {
                    text.push_str(&format!("X-Many-{i}: {i}\r\n"));
                }
            }
            2 => text.push_str("Content-Length: 5\r\n\r\nhello"),
            3 => {
                text.push_str("Content-Length: 100000\r\n");
                framing = true;
            }
            4 => {
                text.push_str("Transfer-Encoding: chunked\r\n\r\nzz\r\ngarbage\r\n");
                framing = true;
            }
            5 => text.push_str("Content-Length: -1\r\nContent-Length: 3\r\n"),
            6 => text.push_str("Range: bytes=0-1,5-\r\nIf-None-Match: *\r\nAccept-Encoding: gzip, br\r\n"),
            7 => text.push_str("Expect: 100-continue\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"),
            8 => text.push_str("Bad Header Without Colon\r\n"),
            _ => text.push_str("X-Bytes: \u{7f}\u{1}\u{2}\r\n"),
        }
    }
    if !text.ends_with("hello") && !text.contains("\r\n\r\n") {
        text.push_str("\r\n");
    }
    let mut bytes = text.into_bytes();
    // Now and then, raw bytes into the request line or the headers.
    if rng.below(15) == 0 {
        let at = rng.below(bytes.len());
        let len = rng.below(16) + 1;
        let junk = rng.bytes(len);
        bytes.splice(at..at, junk);
        framing = true;
    }
    (bytes, framing)
}

/// Whether `answer` holds a whole final response (interim `100 Continue` heads skipped).
fn complete(answer: &[u8], head_request: bool) -> bool {
    let mut rest = answer;
    loop {
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
        let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
        let body = &rest[end + 4..];
        let status = status_of(&rest[..end]).unwrap_or(0);
        if (100..200).contains(&status) {
            rest = body;
            continue;
        }
        let header = |name: &str| {
            head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim_start_matches(':').trim().to_string()))
        };
        // The live-reload stream never ends by itself: its head is enough.
        if head_request
            || status == 204
            || status == 304
            || header("content-type").is_some_and(|t| t.contains("event-stream"))
        {
            return true;
        }
        if let Some(length) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
            return body.len() >= length;
        }
        if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            return body.ends_with(b"0\r\n\r\n");
        }
        return false;
    }
}

/// Sends one request and reads the answer: until it is complete, the server closes, or 3 s
/// pass. A request that is garbage or promises more body than it sends is half-closed after
/// writing, so the server sees its end instead of waiting for the rest.
fn send(addr: &str, bytes: &[u8], half_close: bool) -> Vec<u8> {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        panic!("the server stopped accepting connections");
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(3)));
    // The server may answer (and close) before reading everything: that is fine.
    let _ = stream.write_all(bytes);
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let head_request = bytes.starts_with(b"HEAD ");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while !complete(&answer, head_request) && answer.len() < 32 * 1024 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    answer
}

fn status_of(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|&b| b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[test]
fn hostile_requests_never_get_a_5xx_or_a_file_outside_the_site() {
    let dir = kb().file("secret.txt", &format!("{SECRET}\nroot:x:0:0\n")).run_dir();
    let server = Server::start(dir.path());
    let addr = server.addr.clone();
    let per_thread = REQUESTS / THREADS;
    let results: Vec<Vec<(usize, Option<u16>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let addr = addr.clone();
                scope.spawn(move || {
                    (t * per_thread..(t + 1) * per_thread)
                        .map(|n| {
                            let (bytes, half_close) = request(n);
                            let answer = send(&addr, &bytes, half_close);
                            let text = String::from_utf8_lossy(&answer);
                            assert!(
                                !text.contains(SECRET) && !text.contains("root:x:0:0"),
                                "request #{n} got a file from outside the site: {:?}",
                                String::from_utf8_lossy(&request(n).0).chars().take(300).collect::<String>()
                            );
                            (n, status_of(&answer))
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a request thread panicked")).collect()
    });
    let mut by_status = std::collections::BTreeMap::new();
    for (n, status) in results.iter().flatten() {
        *by_status.entry(*status).or_insert(0usize) += 1;
        if let Some(code) = status {
            assert!(
                *code < 500,
                "request #{n} got {code}: {:?}",
                String::from_utf8_lossy(&request(*n).0).chars().take(300).collect::<String>()
            );
        }
    }
    eprintln!("statuses of {REQUESTS} hostile requests (None: closed without an answer): {by_status:?}");
    assert_eq!(results.iter().map(Vec::len).sum::<usize>(), REQUESTS);
    // Still up, and still right.
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get("/api/search?q=disk").json()["hits"][0]["id"], "disk");
    assert!(
        by_status.get(&Some(200)).copied().unwrap_or(0) > REQUESTS / 10,
        "most requests were refused: {by_status:?}"
    );
}
