//! The knowledge base that ships with the project.

use crate::test::Test;

fn repo_kb() -> String {
    env!("CARGO_MANIFEST_DIR").to_string()
}

#[test]
fn shipped_kb_checks_clean() {
    let ran = Test::new().args(["--kb", &repo_kb(), "check", "--json"]).run();
    let json = ran.json();
    assert_eq!(json["errors"], 0, "{json:#}");
    assert_eq!(json["warnings"], 0, "{json:#}");
}

#[test]
fn builtin_kb_matches_the_repository() {
    let builtin = Test::new().args(["list", "--json"]).run().json();
    let repo = Test::new().args(["--kb", &repo_kb(), "list", "--json"]).run().json();
    assert_eq!(builtin, repo);
}

#[test]
fn shipped_runbooks_say_what_304_is() {
    let ran = Test::new().args(["show", "cuda-304", "--json"]).run();
    let json = ran.json();
    let aliases: Vec<&str> = json["aliases"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(aliases.contains(&"CUDA_ERROR_OPERATING_SYSTEM"), "{aliases:?}");
    assert!(aliases.contains(&"cudaErrorOperatingSystem"), "{aliases:?}");
    Test::new().args(["show", "cudaErrorOperatingSystem"]).stdout_has("304").run();
}

#[test]
fn shipped_changes_ask_first() {
    let ran = Test::new().args(["--kb", &repo_kb(), "list", "--json"]).run();
    for row in ran.json().as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let show = Test::new().args(["--kb", &repo_kb(), "show", id, "--json"]).run().json();
        for step in show["steps"].as_array().unwrap() {
            let script = step["run"].as_str().unwrap_or_default();
            let changes = changes_the_system(script);
            if changes {
                assert!(step.get("confirm").is_some(), "{id}/{}: changes the system without confirm", step["id"]);
            }
        }
    }
}

/// True when some command of the script (not text it prints) needs root, reloads modules,
/// restarts services or rewrites configuration.
fn changes_the_system(script: &str) -> bool {
    const COMMANDS: [&str; 10] = [
        "sudo ",
        "rmmod ",
        "modprobe ",
        "systemctl restart",
        "systemctl stop",
        "nvidia-ctk runtime configure",
        "nvidia-ctk cdi generate",
        "docker run",
        "apt-get install",
        "usermod ",
    ];
    script
        .lines()
        .flat_map(|line| line.split(['&', '|', ';']))
        .map(|segment| {
            let segment = segment.trim_start();
            ["if ", "then ", "do ", "! ", "exec "].iter().fold(segment, |s, kw| s.strip_prefix(kw).unwrap_or(s))
        })
        .any(|command| COMMANDS.iter().any(|c| command.starts_with(c)))
}

#[test]
fn system_change_detector() {
    assert!(changes_the_system("sudo -n rmmod nvidia_uvm"));
    assert!(changes_the_system("x && sudo modprobe nvidia_uvm"));
    assert!(!changes_the_system("echo \"check 'sudo dmesg | grep -i nvrm'\""));
    assert!(!changes_the_system("dir=$(mktemp -d); trap 'rm -rf \"$dir\"' EXIT"));
}
