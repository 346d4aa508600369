//! Building a scenario's world on disk and on loopback (DESIGN §13): a root folder holding its
//! files, a folder of its commands first on PATH, a fixed base set of text tools after it, its
//! processes in the root's own `/proc`, and a loopback server for every HTTP and TCP fixture.

use super::probe::gpu::{GpuInventory, GpuSnapshot, GpuSource, GpuUnavailable, UnavailableKind};
use super::probe::sandbox::{DiskFixture, Sandbox};
use crate::model::scenario::{CommandFixture, FileFixture, GpuFixture, HttpFixture, Scenario};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The text tools every scenario has, taken from the host: they read only what they are given.
/// Programs that read the host itself (`df`, `id`, `ps`, `uname`, `nvidia-smi`, `curl`) are not
/// among them: a scenario that needs one provides it.
pub(crate) const BASE_TOOLS: &[&str] = &[
    "bash",
    "sh",
    "cat",
    "echo",
    "printf",
    "grep",
    "egrep",
    "fgrep",
    "sed",
    "awk",
    "gawk",
    "mawk",
    "find",
    "xargs",
    "sort",
    "uniq",
    "cut",
    "tr",
    "head",
    "tail",
    "wc",
    "tee",
    "paste",
    "join",
    "comm",
    "diff",
    "cmp",
    "basename",
    "dirname",
    "readlink",
    "realpath",
    "ls",
    "stat",
    "du",
    "test",
    "[",
    "true",
    "false",
    "expr",
    "seq",
    "sleep",
    "timeout",
    "env",
    "mktemp",
    "rm",
    "mkdir",
    "rmdir",
    "touch",
    "cp",
    "mv",
    "ln",
    "chmod",
    "date",
    "tac",
    "rev",
    "fold",
    "fmt",
    "nl",
    "od",
    "base64",
    "sha256sum",
    "md5sum",
    "numfmt",
    "column",
    "iconv",
    "zcat",
    "gzip",
    "strings",
    "xxd",
];

/// Where the scenarios' worlds are built: `TMPDIR` when it is set, else `/dev/shm` when it is a
/// memory filesystem that can run programs, else the system's temporary folder. A world is a few
/// dozen folders, files and links made and removed within a second; on a disk each of those
/// costs a journal write (measured on a 2-core VM's ext4: 0.9 ms each, against 13 µs in
/// `/dev/shm`).
pub(crate) fn worlds_folder() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if std::env::var_os("TMPDIR").is_none() && is_memory_that_runs_programs(shm) {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

fn is_memory_that_runs_programs(folder: &Path) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let Ok(fs) = rustix::fs::statfs(folder) else { return false };
    let Ok(vfs) = rustix::fs::statvfs(folder) else { return false };
    let writable = rustix::fs::access(folder, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).is_ok();
    fs.f_type == TMPFS_MAGIC && !vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::NOEXEC) && writable
}

/// The folder of base tools, linked once for every scenario of a test run.
pub(crate) struct BaseTools {
    pub dir: PathBuf,
    /// bash inside it, to run scripts and command fixtures with.
    pub bash: PathBuf,
    /// The names of the tools linked there.
    pub names: Vec<&'static str>,
    /// The folders the linked programs really live in (`/usr/bin`, or `/usr/local/bin` for a
    /// tool installed there): the fence lets their programs load from there.
    pub homes: Vec<PathBuf>,
}

impl BaseTools {
    /// Links the tools found on `host_path` into `dir`.
    pub(crate) fn link(dir: &Path, host_path: &str) -> std::io::Result<BaseTools> {
        std::fs::create_dir_all(dir)?;
        let (mut names, mut homes) = (Vec::new(), Vec::new());
        for tool in BASE_TOOLS {
            let found = std::env::split_paths(host_path).map(|d| d.join(tool)).find(|p| p.is_file());
            if let Some(found) = found {
                let link = dir.join(tool);
                if !link.exists() {
                    std::os::unix::fs::symlink(&found, &link)?;
                }
                names.push(*tool);
                let home = std::fs::canonicalize(&found).ok().and_then(|real| real.parent().map(Path::to_path_buf));
                if let Some(home) = home.filter(|home| !homes.contains(home)) {
                    homes.push(home);
                }
            }
        }
        let bash = dir.join("bash");
        if !bash.exists() {
            return Err(std::io::Error::other("bash is not on PATH: scenarios run their scripts with it"));
        }
        Ok(BaseTools { dir: dir.to_path_buf(), bash, names, homes })
    }
}

/// A scenario's world, alive while its run lasts; the servers stop when it is dropped.
pub(crate) struct World {
    pub root: PathBuf,
    pub bin: PathBuf,
    pub home: PathBuf,
    pub sandbox: Arc<Sandbox>,
    pub gpu: Arc<dyn GpuSource>,
    /// The canned commands as bash functions, for `BASH_ENV` (none when there are none).
    pub functions: Option<PathBuf>,
    servers: Vec<Server>,
}

impl Drop for World {
    fn drop(&mut self) {
        for server in &self.servers {
            server.stop();
        }
    }
}

/// What the world needs to be built.
pub(crate) struct WorldInput<'a> {
    pub scenario: &'a Scenario,
    /// The scenario's own folder (empty, removed afterwards).
    pub dir: &'a Path,
    pub fixtures: &'a Path,
    pub base: &'a BaseTools,
    /// Renders a templated HTTP or TCP key with the run's variables.
    pub render: &'a dyn Fn(&str) -> Result<String, String>,
}

pub(crate) fn build(input: &WorldInput) -> Result<World, String> {
    let io = |what: &str, e: std::io::Error| format!("cannot build the scenario's {what}: {e}");
    let root = input.dir.join("root");
    let bin = input.dir.join("bin");
    let home = root.join("home/user");
    for dir in [&bin, &home, &root.join("tmp"), &root.join("proc")] {
        std::fs::create_dir_all(dir).map_err(|e| io("folders", e))?;
    }
    write_files(&root, input).map_err(|e| io("files", e))?;
    let functions = write_commands(&bin, input).map_err(|e| io("commands", e))?;
    link_base_tools(&bin, input.base, input).map_err(|e| io("tools", e))?;
    write_processes(&root, input.scenario).map_err(|e| io("processes", e))?;
    let mut sandbox = Sandbox::new(root.clone());
    sandbox.allowed.folders = [input.dir, input.base.dir.as_path()]
        .into_iter()
        .map(Path::to_path_buf)
        .chain(input.base.homes.iter().cloned())
        .collect();
    sandbox.disks = input
        .scenario
        .disk
        .iter()
        .map(|(mount, d)| {
            let disk = DiskFixture {
                size: d.size.0,
                avail: d.avail.0,
                used: d.used.map(|u| u.0),
                inodes: d.inodes.map(|i| i.0),
                inodes_free: d.inodes_free.map(|i| i.0),
            };
            (mount.clone(), disk)
        })
        .collect();
    let mut servers = Vec::new();
    for (url, fixture) in &input.scenario.http {
        let url = (input.render)(url)?;
        let server = Server::http(fixture.clone()).map_err(|e| io("HTTP fixtures", e))?;
        sandbox.http.insert(url, server.addr);
        servers.push(server);
    }
    for address in &input.scenario.tcp {
        let address = (input.render)(address)?;
        let server = Server::tcp().map_err(|e| io("TCP fixtures", e))?;
        sandbox.tcp.insert(address, server.addr);
        servers.push(server);
    }
    sandbox.closed = Some(closed_port().map_err(|e| io("loopback", e))?);
    let gpu: Arc<dyn GpuSource> = Arc::new(ScenarioGpu { fixture: input.scenario.gpu.clone(), sandbox: None });
    let sandbox = Arc::new(sandbox);
    let gpu = match input.scenario.gpu {
        Some(_) => gpu,
        None => Arc::new(ScenarioGpu { fixture: None, sandbox: Some(Arc::clone(&sandbox)) }),
    };
    Ok(World { root, bin, home, sandbox, gpu, functions, servers })
}

fn write_files(root: &Path, input: &WorldInput) -> std::io::Result<()> {
    for (target, file) in &input.scenario.files {
        let path = root.join(target.trim_start_matches('/'));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match &file.value {
            FileFixture::Text(text) => std::fs::write(&path, text)?,
            FileFixture::Copy(name) => {
                std::fs::copy(input.fixtures.join(name), &path)?;
            }
            FileFixture::Dir => std::fs::create_dir_all(&path)?,
            // A real character device without privileges: a link to /dev/null, which `test -c`,
            // `stat -L` and the file probe all see as one.
            FileFixture::Char => std::os::unix::fs::symlink("/dev/null", &path)?,
            FileFixture::Symlink(to) => {
                let to = match to.strip_prefix('/') {
                    Some(absolute) => root.join(absolute),
                    None => PathBuf::from(to),
                };
                std::os::unix::fs::symlink(to, &path)?;
            }
        }
    }
    Ok(())
}

fn write_commands(bin: &Path, input: &WorldInput) -> std::io::Result<Option<PathBuf>> {
    use std::os::unix::fs::PermissionsExt;
    let data = bin.join(".data");
    std::fs::create_dir_all(&data)?;
    let bash = input.base.bash.display().to_string();
    let mut functions = String::new();
    let mut canned = Vec::new();
    for (name, command) in &input.scenario.commands {
        let script = command_script(name, &command.value, &data, input)?;
        if command.value.script.is_none() && can_be_a_function(name) {
            functions.push_str(&format!("{name}() (\nset +eu +o pipefail\n{script})\n"));
            canned.push(name.as_str());
        }
        let path = bin.join(name);
        std::fs::write(&path, format!("#!{bash}\n{script}"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    if functions.is_empty() {
        return Ok(None);
    }
    if !input.scenario.commands.contains_key("timeout") {
        functions.push_str(&timeout_for(&canned));
    }
    let file = bin.join(".data/functions.bash");
    std::fs::write(&file, functions)?;
    Ok(Some(file))
}

/// A `timeout` function in front of the real one: `timeout 20 nvidia-smi` of a canned command
/// runs the function (it answers at once, so the limit cannot be reached and the status is the
/// command's own) instead of starting `timeout` and a bash for the command's file. Any other
/// command, or options it does not know, go to the real `timeout` unchanged.
fn timeout_for(canned: &[&str]) -> String {
    format!(
        r#"timeout() {{
  local n=1
  while [ "$n" -le "$#" ]; do
    case ${{!n}} in
      --foreground|--preserve-status|-v|--verbose|--kill-after=*|--signal=*|-k?*|-s?*) n=$((n + 1)) ;;
      -k|-s|--kill-after|--signal) n=$((n + 2)) ;;
      --) n=$((n + 1)); break ;;
      *) break ;;
    esac
  done
  local at=$((n + 1))
  case " {} " in
    *" ${{!at-}} "*) shift "$n"; "$@" ;;
    *) command timeout "$@" ;;
  esac
}}
"#,
        canned.join(" ")
    )
}

/// Puts a link to each base tool the scenario does not provide itself beside its commands, so
/// `PATH` is that one folder: a shell finds any program with one lookup instead of one per
/// folder (and, under the fence, one judged `stat` instead of two).
fn link_base_tools(bin: &Path, base: &BaseTools, input: &WorldInput) -> std::io::Result<()> {
    for name in base.names.iter().filter(|name| !input.scenario.commands.contains_key(**name)) {
        std::os::unix::fs::symlink(base.dir.join(name), bin.join(name))?;
    }
    Ok(())
}

/// Names bash may define a canned command under, as a function beside its file: a call from a
/// bash script then costs a fork of that shell rather than starting a new bash. Builtins and
/// keywords stay files only, so a command of the scenario never changes what they do (a file
/// on PATH does not shadow a builtin either).
fn can_be_a_function(name: &str) -> bool {
    let mut chars = name.chars();
    let word = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    word && !BASH_WORDS.contains(&name)
}

/// bash's builtins and reserved words.
const BASH_WORDS: &[&str] = &[
    ".",
    ":",
    "[",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "coproc",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "echo",
    "elif",
    "else",
    "enable",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "in",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "select",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "then",
    "time",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "until",
    "wait",
    "while",
];

/// The body of a command's script: its own script, or canned output printed by bash's own
/// `printf` (no second process per call). Output bash cannot hold in a word (NUL bytes, text
/// that is not UTF-8) is kept in data files and printed with `cat`, so any bytes survive.
fn command_script(name: &str, command: &CommandFixture, data: &Path, input: &WorldInput) -> std::io::Result<String> {
    if let Some(script) = &command.script {
        return Ok(script.clone());
    }
    // Like `cat` killed by SIGPIPE inside the old script, a reader that stops early must not
    // change the command's exit status: the broken pipe is an ignored write error.
    let mut body = String::from("trap '' PIPE\n");
    // The base tools' own `cat`, even where the scenario has a `cat` command of its own.
    let cat = input.base.dir.join("cat");
    let stdout = match &command.file {
        Some(file) => Some(std::fs::read(input.fixtures.join(file))?),
        None => command.stdout.as_ref().map(|s| s.as_bytes().to_vec()),
    };
    for (stream, bytes, redirect) in
        [("out", stdout, " 2>/dev/null"), ("err", command.stderr.as_ref().map(|s| s.as_bytes().to_vec()), " >&2")]
    {
        let Some(bytes) = bytes else { continue };
        match String::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => {
                body.push_str(&format!("printf '%s' {}{redirect}\n", crate::util::shell::shell_quote(&text)));
            }
            Ok(text) => {
                body.push_str(&cat_line(&cat, &data.join(format!("{name}.{stream}")), text.as_bytes(), redirect)?)
            }
            Err(e) => body.push_str(&cat_line(&cat, &data.join(format!("{name}.{stream}")), e.as_bytes(), redirect)?),
        }
    }
    body.push_str(&format!("exit {}\n", command.exit.unwrap_or(0)));
    Ok(body)
}

/// Keeps `bytes` in `file` and returns the line that prints them.
fn cat_line(cat: &Path, file: &Path, bytes: &[u8], redirect: &str) -> std::io::Result<String> {
    std::fs::write(file, bytes)?;
    let quote = |path: &Path| crate::util::shell::shell_quote(&path.to_string_lossy());
    Ok(format!("{} {}{redirect}\n", quote(cat), quote(file)))
}

/// Each process as `/proc/<pid>/{comm,cmdline,stat}` under the root.
fn write_processes(root: &Path, scenario: &Scenario) -> std::io::Result<()> {
    for (i, process) in scenario.processes.iter().enumerate() {
        let pid = process.pid.unwrap_or(4000 + i as u32);
        let dir = root.join(format!("proc/{pid}"));
        std::fs::create_dir_all(&dir)?;
        let comm: String = process.name.chars().take(15).collect();
        std::fs::write(dir.join("comm"), format!("{comm}\n"))?;
        std::fs::write(dir.join("cmdline"), format!("{}\0", process.name))?;
        std::fs::write(dir.join("stat"), format!("{pid} ({comm}) S 1 {pid} {pid} 0 -1 0"))?;
    }
    Ok(())
}

/// A loopback port where nothing listens (bound, then released).
fn closed_port() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.local_addr()
}

/// A loopback fixture server on its own thread.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn http(fixture: HttpFixture) -> std::io::Result<Server> {
        let response = Arc::new(http_response(&fixture));
        Server::start(move |mut stream| {
            let _ = read_request(&mut stream);
            let _ = stream.write_all(&response);
        })
    }

    /// Accepts connections and closes them: "reachable".
    fn tcp() -> std::io::Result<Server> {
        Server::start(drop)
    }

    fn start(serve: impl Fn(TcpStream) + Send + 'static) -> std::io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                    serve(stream);
                }
            }
        });
        Ok(Server { addr, stop })
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the thread ends.
        let _ = TcpStream::connect_timeout(&self.addr, std::time::Duration::from_millis(200));
    }
}

/// Reads the request head (the body, if any, is not needed).
fn read_request(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

fn http_response(fixture: &HttpFixture) -> Vec<u8> {
    let (body, content_type) = match (&fixture.json, &fixture.body) {
        (Some(json), _) => (json.to_string(), "application/json"),
        (None, Some(body)) => (body.clone(), "text/plain; charset=utf-8"),
        (None, None) => (String::new(), "text/plain; charset=utf-8"),
    };
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        fixture.status,
        reason(fixture.status),
        body.len()
    );
    if !fixture.headers.keys().any(|k| k.eq_ignore_ascii_case("content-type")) {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in &fixture.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// The GPU as a scenario declares it; with no `gpu` key, reaching for it fails the scenario.
struct ScenarioGpu {
    fixture: Option<GpuFixture>,
    /// Set when the scenario says nothing about GPUs: the reach is noted there.
    sandbox: Option<Arc<Sandbox>>,
}

impl GpuSource for ScenarioGpu {
    fn inventory(&self) -> Result<GpuInventory, GpuUnavailable> {
        match &self.fixture {
            None => {
                if let Some(sandbox) = &self.sandbox {
                    sandbox.reached_for("the host's GPU through NVML (the scenario has no `gpu`)".into());
                }
                Err(GpuUnavailable::other("scenario: no gpu fixture (write gpu: none or a list of GPUs)"))
            }
            Some(GpuFixture::None) => Err(GpuUnavailable::no_driver("the scenario has gpu: none")),
            Some(GpuFixture::Unavailable { reason, kind }) => {
                let kind = match kind.as_deref() {
                    Some("version_mismatch") => UnavailableKind::VersionMismatch,
                    Some("gpu_lost") => UnavailableKind::GpuLost,
                    Some("other") => UnavailableKind::Other,
                    _ => UnavailableKind::NoDriver,
                };
                Err(GpuUnavailable::new(kind, reason))
            }
            Some(GpuFixture::Gpus(gpus)) => Ok(inventory(gpus)),
        }
    }
}

fn inventory(gpus: &[crate::model::scenario::GpuSpec]) -> GpuInventory {
    let first = gpus.first();
    GpuInventory {
        driver_version: first.and_then(|g| g.driver_version.clone()).unwrap_or_default(),
        cuda_version: first.and_then(|g| g.cuda_version.clone()),
        gpus: gpus
            .iter()
            .map(|g| GpuSnapshot {
                name: g.name.clone(),
                uuid: g.uuid.clone(),
                memory_total: g.memory_total,
                memory_used: g.memory_used,
                memory_free: g.memory_free.or_else(|| Some(g.memory_total?.saturating_sub(g.memory_used?))),
                utilization_percent: g.utilization_percent,
                temperature_c: g.temperature_c,
                power_w: g.power_w,
                compute_capability: g.compute_capability.clone(),
                ..GpuSnapshot::unknown(g.index)
            })
            .collect(),
        unreadable: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::can_be_a_function;

    #[test]
    fn canned_commands_become_functions_unless_bash_has_that_word() {
        for name in ["nvidia-smi", "python3", "docker-compose", "ld.so", "_tool"] {
            assert!(can_be_a_function(name), "{name}");
        }
        for name in ["kill", "test", "printf", "[", "if", "3d", "a b", "a/b", "ä"] {
            assert!(!can_be_a_function(name), "{name}");
        }
    }
}
