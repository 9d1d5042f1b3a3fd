//! The man pages and shell completions that `followup-assets` writes for
//! packages: generated from the clap definitions, they name every command.

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use followup::cli::Cli;

/// The commands of the contract in DESIGN.md, and the ops commands added to it.
const COMMANDS: [&str; 18] = [
    "add", "list", "show", "revise", "close", "reopen", "note", "parse", "ingest", "import",
    "export", "daemon", "status", "requeue", "config", "backup", "restore", "doctor",
];

/// Runs `followup-assets` into a fresh folder.
fn generate() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_followup-assets"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "followup-assets failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A name as roff writes it: hyphens are escaped.
fn roff(text: &str) -> String {
    text.replace('-', "\\-")
}

#[test]
fn the_command_line_has_exactly_the_contract_commands() {
    let mut defined: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    defined.sort();
    let mut contract: Vec<String> = COMMANDS.iter().map(|c| c.to_string()).collect();
    contract.sort();
    assert_eq!(defined, contract);
}

#[test]
fn main_man_page_lists_every_command_and_each_has_its_own_page() {
    let dir = generate();
    let man = dir.path().join("man/man1");
    let main = read(&man.join("followup.1"));
    assert!(
        main.starts_with(".ie") && main.contains(".TH followup 1 "),
        "{main}"
    );
    for command in COMMANDS {
        let page_name = format!("followup-{command}");
        assert!(
            main.contains(&format!("{}(1)", roff(&page_name))),
            "followup.1 does not list {command}"
        );
        let page = read(&man.join(format!("{page_name}.1")));
        assert!(
            page.contains(&format!(".TH {page_name} 1 ")),
            "{page_name}.1 has no title line"
        );
        assert!(
            page.contains(&format!("\\fBfollowup {command}\\fR")),
            "{page_name}.1 has no synopsis naming `followup {command}`"
        );
    }
    let check = read(&man.join("followup-config-check.1"));
    assert!(check.contains("\\fBfollowup config check\\fR"), "{check}");
    assert!(main.contains(".SH ENVIRONMENT") && main.contains("FOLLOWUP_CONFIG"));
}

#[test]
fn subcommand_pages_document_their_flags() {
    let dir = generate();
    let list = read(&dir.path().join("man/man1/followup-list.1"));
    for flag in ["overdue", "due-before", "json", "config"] {
        assert!(
            list.contains(&format!("\\fB\\-\\-{}\\fR", roff(flag))),
            "followup-list.1 lacks --{flag}"
        );
    }
}

/// What bash offers after typing `words` (the last one being completed).
fn bash_completions(script: &Path, words: &[&str]) -> Vec<String> {
    let program = format!(
        "source \"$1\"; COMP_WORDS=({}); COMP_CWORD={}; _followup followup {} {}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        words.len() - 1,
        format_args!("'{}'", words[words.len() - 1]),
        format_args!("'{}'", words[words.len().saturating_sub(2)]),
    );
    let output = Command::new("bash")
        .args(["-c", &program, "bash"])
        .arg(script)
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "bash completion failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_offers_every_command_and_their_flags() {
    let dir = generate();
    let script = dir.path().join("bash/followup");
    let offered = bash_completions(&script, &["followup", ""]);
    for command in COMMANDS {
        assert!(
            offered.iter().any(|word| word == command),
            "bash does not offer {command}: {offered:?}"
        );
    }
    let flags = bash_completions(&script, &["followup", "list", "--"]);
    for flag in ["--overdue", "--due-before", "--json", "--config"] {
        assert!(
            flags.iter().any(|word| word == flag),
            "bash does not offer list {flag}: {flags:?}"
        );
    }
}

#[test]
fn zsh_and_fish_completions_name_every_command() {
    let dir = generate();
    let zsh = read(&dir.path().join("zsh/_followup"));
    let fish = read(&dir.path().join("fish/followup.fish"));
    assert!(zsh.starts_with("#compdef followup"), "{zsh}");
    for command in COMMANDS {
        assert!(
            zsh.contains(&format!("\n'{command}:")),
            "zsh does not name {command}"
        );
        assert!(
            fish.contains(&format!(
                "-n \"__fish_followup_needs_command\" -f -a \"{command}\""
            )),
            "fish does not name {command}"
        );
    }
}

#[test]
fn an_unwritable_folder_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, "").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_followup-assets"))
        .arg(&blocker)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot create {}",
            blocker.join("man/man1").display()
        )),
        "{stderr}"
    );
}
