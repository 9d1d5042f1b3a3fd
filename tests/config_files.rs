//! Config files: found by --config, then $FOLLOWUP_CONFIG, then defaults;
//! checked strictly, with file, line and key in every complaint.

use crate::support::Desk;

#[test]
fn config_check_accepts_the_shipped_example() {
    let desk = Desk::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/followup.toml");
    let out = desk.run(&["--config", example, "config", "check"]).ok();
    assert!(out.contains("followup.toml: ok"), "{out}");
    assert!(
        out.contains("desk       energy → energy-desk@example.org"),
        "{out}"
    );
}

#[test]
fn config_check_names_file_line_key_and_fix() {
    let desk = Desk::with_config(
        "[store]\npath = \"followup.db\"\n\n[reminders]\nbefore = [\"14days\", \"3d\"]\nsend_time = \"9am\"\n",
    );
    let run = desk.run(&["config", "check"]);
    let err = run.fails();
    let config = desk.path().join("followup.toml").display().to_string();
    assert!(
        err.contains(&format!("{config}:5: reminders.before: \"14days\" is not a number of days (try \"14d\" or \"2w\")")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{config}:6: reminders.send_time: \"9am\"")),
        "{err}"
    );
}

#[test]
fn unknown_keys_and_wrong_types_stop_every_command() {
    let desk = Desk::with_config("[store]\npath = \"followup.db\"\ncolour = \"blue\"\n");
    let err = desk.run(&["list"]).fails();
    assert!(err.contains("followup.toml:3"), "{err}");
    assert!(err.contains("colour"), "{err}");
    assert!(
        !desk.database().exists(),
        "nothing is created under a broken config"
    );

    let desk = Desk::with_config("[mail.smtp]\nhost = \"smtp.example.org\"\nport = \"587\"\n");
    let err = desk.run(&["config", "check"]).fails();
    assert!(err.contains("followup.toml:3: mail.smtp.port: "), "{err}");
}

#[test]
fn config_check_reports_every_problem_in_line_order() {
    let desk = Desk::with_config(
        "[store]\npath = \"x.db\"\ncolour = 1\n[reminders]\nsend_time = \"25:00\"\noverdue_every = 7\n[mail]\ntransport = \"pigeon\"\n",
    );
    let err = desk.run(&["config", "check"]).fails();
    let config = desk.path().join("followup.toml").display().to_string();
    let at: Vec<&str> = err
        .lines()
        .map(|line| line.trim_start_matches("error: "))
        .filter_map(|line| line.strip_prefix(&config))
        .map(|rest| rest.split(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(at, vec![":3", ":5", ":6", ":8"], "{err}");
    for expected in [
        ":3: store.colour: unknown field `colour`",
        ":5: reminders.send_time: \"25:00\" is not a time of day (try \"09:00\")",
        ":6: reminders.overdue_every: invalid type: integer `7`",
        ":8: mail.transport: \"pigeon\" is not a transport",
    ] {
        assert!(err.contains(&format!("{config}{expected}")), "{err}");
    }
    assert!(
        err.contains(
            "(the example config, /etc/followup/followup.toml when installed, lists every key)"
        ),
        "{err}"
    );
    assert!(
        !desk.path().join("x.db").exists(),
        "nothing is created under a broken config"
    );
}

#[test]
fn a_bad_digest_schedule_is_one_line_naming_it_and_the_format() {
    let desk = Desk::with_config(
        "[[desks]]\nname = \"default\"\nrecipients = [\"desk@example.org\"]\ndigest = \"0 8 * * 1-5\"\n",
    );
    let err = desk.run(&["config", "check"]).fails();
    let problem = err
        .lines()
        .find(|line| line.contains("desks[default].digest"))
        .unwrap_or_default();
    assert!(
        problem.ends_with(
            "followup.toml:4: desks[default].digest: \"0 8 * * 1-5\" is not a cron schedule: it has 5 fields (use 6 or 7 fields, seconds first: sec min hour day-of-month month day-of-week [year], e.g. \"0 0 8 * * Mon-Fri\" for 08:00 on weekdays)"
        ),
        "{err}"
    );
}

#[test]
fn a_digest_schedule_firing_twice_a_day_is_kept_and_noted_by_config_check_and_doctor() {
    let desk = Desk::with_config(
        "[[desks]]\nname = \"default\"\nrecipients = [\"desk@example.org\"]\n\n[[desks]]\nname = \"energy\"\nrecipients = [\"energy@example.org\"]\ntags = [\"energy\"]\ndigest = \"0 0 8,16 * * *\"\n",
    );
    let out = desk.run(&["config", "check"]).ok();
    let config = desk.path().join("followup.toml").display().to_string();
    let note = format!(
        "{config}:9: desks[energy].digest: \"0 0 8,16 * * *\" fires 2 times on each day it runs, but a desk gets one digest a day (digests are keyed by desk and local date), so only the first, at 08:00, is sent; say so with \"0 0 8 * * *\""
    );
    assert!(
        out.contains(": ok") && out.contains(&format!("note: {note}")),
        "{out}"
    );
    // Every other command works with it, as before the note existed.
    desk.add(&["One", "--due", "2030-01-01"]);
    let doctor = desk.run(&["doctor"]);
    assert!(
        doctor
            .stdout()
            .lines()
            .any(|l| l.starts_with("WARN") && l.contains(&note)),
        "{}",
        doctor.stdout()
    );
}

/// The daemon refuses a password file other users can read, and exits 78;
/// `config check`, which operators run first, says so too (by its mode,
/// without reading it).
#[test]
fn config_check_refuses_a_password_file_the_daemon_would_refuse() {
    use std::os::unix::fs::PermissionsExt;
    let desk = Desk::with_config(
        "[mail]\ntransport = \"smtp\"\n\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\nusername = \"followup\"\npassword_file = \"pw\"\n",
    );
    let config = desk.path().join("followup.toml").display().to_string();
    let pw = desk.write("pw", b"s3cret\n");
    for mode in [0o644, 0o640] {
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(mode)).unwrap();
        let run = desk.run(&["config", "check"]);
        let err = run.fails();
        assert!(
            err.contains(&format!(
                "{config}:9: mail.smtp.password_file: the SMTP password file {} can be read by other users (mode {mode:04o}); run: chmod 600 {}",
                pw.display(),
                pw.display()
            )),
            "{err}"
        );
        assert!(
            !err.contains("s3cret") && !run.stdout().contains("s3cret"),
            "{err}"
        );
        // The daemon agrees, and will not start.
        let daemon = desk.run(&["daemon", "--once"]);
        assert_eq!(daemon.output.status.code(), Some(78), "{}", daemon.stderr());
    }
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = desk.run(&["config", "check"]).ok();
    assert!(out.contains("followup.toml: ok"), "{out}");

    // A lone newline is an empty password to the daemon, and so here.
    std::fs::write(&pw, b"\n").unwrap();
    let err = desk.run(&["config", "check"]).fails();
    assert!(
        err.contains("mail.smtp.password_file") && err.contains("empty"),
        "{err}"
    );
    let daemon = desk.run(&["daemon", "--once"]);
    assert_eq!(daemon.output.status.code(), Some(78), "{}", daemon.stderr());

    std::fs::remove_file(&pw).unwrap();
    let err = desk.run(&["config", "check"]).fails();
    assert!(
        err.contains(&format!(
            "{config}:9: mail.smtp.password_file: cannot read the SMTP password file {}",
            pw.display()
        )),
        "{err}"
    );

    // systemd's credential, as the shipped config names it: there only
    // while the service runs, and readable as systemd decides.
    let desk = Desk::with_config(
        "[mail]\ntransport = \"smtp\"\n\n[mail.smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\nusername = \"followup\"\npassword_file = \"/run/credentials/followup.service/smtp-password\"\n",
    );
    let out = desk.run(&["config", "check"]).ok();
    assert!(out.contains("followup.toml: ok"), "{out}");
}

#[test]
fn a_missing_config_file_is_named() {
    let desk = Desk::new();
    let err = desk
        .run(&["--config", "/nonexistent/followup.toml", "list"])
        .fails();
    assert!(
        err.contains("cannot read config file /nonexistent/followup.toml"),
        "{err}"
    );
    // The cause is said once, on the one line.
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn the_flag_wins_over_the_environment_which_wins_over_defaults() {
    let desk = Desk::with_config("[store]\npath = \"from-env.db\"\n");
    let s = desk.run(&["status", "--json"]).json();
    assert!(
        s["database"].as_str().unwrap().ends_with("from-env.db"),
        "{s}"
    );

    let flag = desk.write("flag.toml", b"[store]\npath = \"from-flag.db\"\n");
    let s = desk
        .run(&["--config", flag.to_str().unwrap(), "status", "--json"])
        .json();
    assert!(
        s["database"].as_str().unwrap().ends_with("from-flag.db"),
        "{s}"
    );
    assert_eq!(s["config"], flag.display().to_string());

    let defaults = Desk::new();
    let s = defaults.run(&["status", "--json"]).json();
    assert_eq!(s["database"], defaults.database().display().to_string());
    let out = defaults.run(&["config", "check"]).ok();
    assert!(out.contains("embedded defaults"), "{out}");
}

#[test]
fn paths_are_relative_to_the_config_folder() {
    let desk = Desk::with_config("[store]\npath = \"db/followup.db\"\n");
    std::fs::create_dir(desk.path().join("db")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let run = desk
        .command(&["add", "X", "--due", "2026-01-01"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(desk.path().join("db/followup.db").exists());
}

/// `ingest` reads the desk's gazetteer named by `ingest.actors`; `config
/// check` finds a missing or malformed one first, with file, line and key.
#[test]
fn config_check_reads_the_actors_file_as_ingest_would() {
    let desk =
        Desk::with_config("[store]\npath = \"followup.db\"\n\n[ingest]\nactors = \"actors.tsv\"\n");
    let config = desk.path().join("followup.toml").display().to_string();
    let err = desk.run(&["config", "check"]).fails();
    assert!(
        err.contains(&format!(
            "{config}:5: ingest.actors: cannot read the actors file"
        )) && err.contains("check the path"),
        "{err}"
    );
    desk.write("actors.tsv", b"# the desk's own\nBadRow\n");
    let err = desk.run(&["config", "check"]).fails();
    assert!(
        err.contains(&format!("{config}:5: ingest.actors: ")) && err.contains("line 2"),
        "{err}"
    );
    desk.write("actors.tsv", "Hamas\tحماس\tHamas movement\n".as_bytes());
    let out = desk.run(&["config", "check"]).ok();
    assert!(out.contains(": ok"), "{out}");
}
