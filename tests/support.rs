//! A small harness that runs the real binary in a fresh temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A fresh home for one test: its own data folder, no config unless given.
pub struct Desk {
    pub dir: tempfile::TempDir,
    config: Option<PathBuf>,
}

/// What a finished command left behind.
pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn success(&self) -> bool {
        self.output.status.success()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(
            self.success(),
            "command failed: {}\nstderr: {}",
            self.output.status,
            self.stderr()
        );
        self.stdout()
    }
    /// Asserts failure with a non-zero exit and returns stderr.
    #[track_caller]
    pub fn fails(&self) -> String {
        assert!(
            !self.success(),
            "command should have failed but succeeded:\n{}",
            self.stdout()
        );
        assert_ne!(self.output.status.code(), Some(0));
        let stderr = self.stderr();
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        // followup's own errors (exit 1) are one line; a config's problems
        // are one line each, and clap's usage errors (exit 2) are its own.
        if self.output.status.code() == Some(1) && !stderr.contains(".toml:") {
            assert_eq!(
                stderr.trim_end().lines().count(),
                1,
                "an error of more than one line: {stderr}"
            );
        }
        stderr
    }
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.ok()).expect("stdout is JSON")
    }
}

impl Desk {
    pub fn new() -> Desk {
        Desk {
            dir: tempfile::tempdir().expect("temp dir"),
            config: None,
        }
    }

    /// A desk whose config file (written from `text`) sits in its folder.
    pub fn with_config(text: &str) -> Desk {
        let mut desk = Desk::new();
        let path = desk.dir.path().join("followup.toml");
        std::fs::write(&path, text).unwrap();
        desk.config = Some(path);
        desk
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the embedded defaults put the database for this desk.
    pub fn database(&self) -> PathBuf {
        match &self.config {
            Some(_) => self.dir.path().join("followup.db"),
            None => self.dir.path().join("data/followup/followup.db"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_followup"));
        command.args(args);
        self.set_up(&mut command);
        command
    }

    /// Runs followup with `args` as the unprivileged user [`NOBODY`] and
    /// its group (through `setpriv`, so the caller must be root), to its
    /// end.
    pub fn output_as_nobody(&self, args: &[&str]) -> std::process::Output {
        let (user, group) = (format!("--reuid={NOBODY}"), format!("--regid={NOBODY}"));
        self.command_through(&["setpriv", &user, &group, "--clear-groups"], args)
            .output()
            .unwrap()
    }

    /// As `command`, but started through `wrapper` (a program and its first
    /// arguments), which is given followup and `args` after its own and
    /// must end by running them: `sh -c '…; exec "$@"' sh`.
    pub fn command_through(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut command = Command::new(wrapper[0]);
        command
            .args(&wrapper[1..])
            .arg(env!("CARGO_BIN_EXE_followup"))
            .args(args);
        self.set_up(&mut command);
        command
    }

    /// This desk's folder and environment, and nothing of the caller's.
    fn set_up(&self, command: &mut Command) {
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("FOLLOWUP_AUTHOR", "tester")
            .stdin(Stdio::null());
        if let Some(config) = &self.config {
            command.env("FOLLOWUP_CONFIG", config);
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run {
            output: self.command(args).output().expect("run followup"),
        }
    }

    /// Runs with `input` on standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        Run {
            output: child.wait_with_output().unwrap(),
        }
    }

    /// Adds a commitment and returns its id.
    pub fn add(&self, args: &[&str]) -> i64 {
        let mut all = vec!["add"];
        all.extend_from_slice(args);
        all.push("--json");
        self.run(&all).json()["id"].as_i64().expect("id")
    }

    pub fn write(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Every byte of the database and its journals, to prove a refused
    /// command changed nothing.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let db = self.database();
        ["", "-wal", "-journal"]
            .iter()
            .filter_map(|suffix| {
                let path = PathBuf::from(format!("{}{suffix}", db.display()));
                // An empty WAL or journal holds nothing: the same state as
                // none at all (SQLite leaves one behind on close).
                std::fs::read(&path)
                    .ok()
                    .filter(|bytes| !(suffix.starts_with('-') && bytes.is_empty()))
                    .map(|bytes| (suffix.to_string(), bytes))
            })
            .collect()
    }

    /// Fills the database with fifty commitments, then damages live pages in
    /// the middle of the file (past the header). Returns the damaged bytes.
    pub fn corrupt_database(&self) -> Vec<u8> {
        for i in 0..50 {
            self.add(&[
                &format!("Padding commitment {i} with a long enough title to fill pages"),
                "--due",
                "2026-01-01",
            ]);
        }
        let path = self.database();
        // Everything into the main file first (commands leave recent pages
        // in the WAL), so the damage hits live pages.
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle..middle + 3000].fill(0xA5);
        std::fs::write(&path, &bytes).unwrap();
        bytes
    }

    /// Runs a command that must fail, and checks the database is untouched.
    /// Returns stderr.
    #[track_caller]
    pub fn refuses(&self, args: &[&str]) -> String {
        let before = self.snapshot();
        let stderr = self.run(args).fails();
        assert!(
            before == self.snapshot(),
            "the database changed after a refused command: {args:?}"
        );
        stderr
    }
}

/// Today's date as the binary sees it (UTC under the embedded defaults).
pub fn today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
}

/// A date `days` from today, as YYYY-MM-DD.
/// The user and group id of `nobody`, for commands run as someone other
/// than the root running the tests.
pub const NOBODY: u32 = 65534;

pub fn days_from_today(days: i64) -> String {
    today()
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

/// A loopback port that refuses connections for as long as this lives.
///
/// The port is bound but never listened on. Binding a port and closing it
/// again is not enough: tests run in parallel, and the kernel may hand the
/// freed port to another test's SMTP server, which would then receive this
/// test's mail.
pub struct RefusedPort {
    socket: socket2::Socket,
    pub port: u16,
}

impl RefusedPort {
    pub fn new() -> RefusedPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        socket.bind(&loopback.into()).unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        RefusedPort { socket, port }
    }

    /// Starts listening on the port: from now on it accepts connections.
    pub fn listen(self) -> std::net::TcpListener {
        self.socket.listen(128).unwrap();
        self.socket.into()
    }
}

/// Turns the database at `path` back into schema 9 as it was: schemas 10
/// and 11 only added the records kept rendered (by pages, in 11), their
/// stale marks and the triggers that keep them.
pub fn as_schema_9(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'record%_stale_on_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!triggers.is_empty(), "no schema 11 to undo");
    for trigger in triggers {
        conn.execute_batch(&format!("DROP TRIGGER {trigger}"))
            .unwrap();
    }
    conn.execute_batch(
        "DROP TABLE record_pages; DROP TABLE stale_records; PRAGMA user_version = 9;",
    )
    .unwrap();
}

/// Turns the database at `path` back into schema 8 as it was: schema 9
/// only added the trigger that keeps deadline versions from being
/// deleted.
pub fn as_schema_8(path: &std::path::Path) {
    as_schema_9(path);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("DROP TRIGGER deadlines_are_append_only_delete; PRAGMA user_version = 8;")
        .unwrap();
}
