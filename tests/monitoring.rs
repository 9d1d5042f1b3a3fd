//! The daemon's HTTP listener: the real daemon binary with `[http]` on a
//! free loopback port, scraped over plain HTTP/1.1, its figures checked
//! against the database the test built.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::daemon::Running;
use crate::support::{Desk, RefusedPort, days_from_today};

fn config(port: u16) -> String {
    format!(
        r#"
[mail]
transport = "maildir"
maildir = "outbox"

[reminders]
send_time = "00:00"
timezone = "UTC"

[[desks]]
name = "default"
recipients = ["desk@example.org"]

[http]
listen = "127.0.0.1:{port}"
"#
    )
}

/// A plain HTTP/1.1 GET: (status, content type, body).
fn get(port: u16, path: &str) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    Ok((status, content_type, body.to_string()))
}

/// Waits until `/healthz` answers `wanted`; returns its body.
fn wait_for_health(port: u16, wanted: u16) -> String {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok((status, _, body)) = get(port, "/healthz") {
            if status == wanted {
                return body;
            }
            last = Some((status, body));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("/healthz never answered {wanted}; last: {last:?}");
}

/// The samples of a Prometheus text page, by name with labels.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn healthz_and_metrics_report_the_database_the_daemon_serves() {
    // Held until the daemon starts, so no other test's server takes it
    // meanwhile.
    let reserved = RefusedPort::new();
    let port = reserved.port;
    let desk = Desk::with_config(&config(port));
    desk.add(&["Hold the committee meeting", "--due", &days_from_today(-2)]);
    desk.add(&["Open the crossing", "--due", &days_from_today(40)]);
    desk.add(&["Sign the grain deal", "--due", &days_from_today(60)]);
    let closed = desk.add(&["Release the detainees", "--due", &days_from_today(50)]);
    desk.run(&["close", &closed.to_string(), "--outcome", "fulfilled"])
        .ok();

    drop(reserved);
    let _daemon = Running::start(&desk);
    let body = wait_for_health(port, 200);
    assert!(body.starts_with("ok: last tick"), "{body}");
    assert!(body.contains("the store takes writes"), "{body}");

    let (status, content_type, text) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let m = samples(&text);
    let at = |name: &str| {
        *m.get(name)
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert_eq!(at("followup_commitments{status=\"open\"}"), 3.0);
    assert_eq!(at("followup_commitments{status=\"fulfilled\"}"), 1.0);
    assert_eq!(at("followup_commitments{status=\"missed\"}"), 0.0);
    assert_eq!(at("followup_commitments_overdue"), 1.0);
    // The overdue one was reminded at the first tick; the others are not due.
    assert_eq!(at("followup_reminders_sent_total"), 1.0);
    assert_eq!(at("followup_reminders_failed_total{outcome=\"dead\"}"), 0.0);
    assert_eq!(at("followup_outbox_emails{state=\"pending\"}"), 0.0);
    assert_eq!(at("followup_outbox_emails{state=\"retrying\"}"), 0.0);
    assert_eq!(at("followup_outbox_emails{state=\"dead\"}"), 0.0);
    let now = jiff::Timestamp::now().as_second() as f64;
    let last_sent = at("followup_last_sent_timestamp_seconds");
    assert!(now - 120.0 < last_sent && last_sent <= now, "{last_sent}");
    assert!(at("followup_tick_duration_seconds_count") >= 1.0);

    // Read at scrape time: a commitment added between ticks shows at once.
    desk.add(&["Resume the talks", "--due", &days_from_today(-1)]);
    let m = samples(&get(port, "/metrics").unwrap().2);
    assert_eq!(m["followup_commitments{status=\"open\"}"], 4.0);
    assert_eq!(m["followup_commitments_overdue"], 2.0);

    let (status, _, _) = get(port, "/nothing-here").unwrap();
    assert_eq!(status, 404);
}

/// Idle or half-sent connections cannot pile up in the daemon: past a few
/// dozen they are closed at once, and each is closed once its headers are
/// late. Left open, a local process could run the daemon out of file
/// descriptors, and then out of files to deliver mail with.
#[test]
fn idle_connections_are_bounded_and_closed_when_their_headers_are_late() {
    let reserved = RefusedPort::new();
    let port = reserved.port;
    let desk = Desk::with_config(&config(port));
    drop(reserved);
    let daemon = Running::start(&desk);
    wait_for_health(port, 200);
    let descriptors = || {
        std::fs::read_dir(format!("/proc/{}/fd", daemon.child.id()))
            .unwrap()
            .count()
    };
    let before = descriptors();
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let held = descriptors();
    assert!(held <= before + 40, "{before} descriptors, then {held}");
    // Each idle connection is closed by the daemon: at once when over the
    // bound, after the header timeout otherwise.
    let started = Instant::now();
    for mut stream in idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut byte = [0u8; 1];
        let closed = match stream.read(&mut byte) {
            Ok(0) => true,
            Err(err) => !matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            Ok(_) => false,
        };
        assert!(closed, "the daemon answered an idle connection");
    }
    assert!(started.elapsed() < Duration::from_secs(12));
    // And the listener serves again.
    let (status, _, _) = get(port, "/healthz").unwrap();
    assert_eq!(status, 200);
}

#[test]
fn healthz_is_503_while_the_store_cannot_be_written() {
    // Held until the daemon starts, so no other test's server takes it
    // meanwhile.
    let reserved = RefusedPort::new();
    let port = reserved.port;
    let desk = Desk::with_config(&config(port));
    desk.add(&["Hold the committee meeting", "--due", &days_from_today(-2)]);
    // Another writer holds the write lock for longer than the busy timeout.
    let blocker = rusqlite::Connection::open(desk.database()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    drop(reserved);
    let _daemon = Running::start(&desk);
    let body = wait_for_health(port, 503);
    assert!(body.starts_with("unhealthy:"), "{body}");
    assert!(body.contains("the store does not take writes"), "{body}");
    assert!(body.contains("busy"), "{body}");
    // The probe waits 2 s for the other writer, and says so.
    assert!(body.contains("held it for more than 2s"), "{body}");

    // The first tick gives up after the 10 s busy timeout.
    let started = Instant::now();
    loop {
        let (status, _, body) = get(port, "/healthz").unwrap();
        assert_eq!(status, 503, "{body}");
        if body.contains("the last tick failed") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    blocker.execute_batch("ROLLBACK").unwrap();
}

/// A database moved away under the daemon is no longer its health:
/// `/healthz` says so at once, not only after the next tick stops it.
#[test]
fn healthz_is_503_once_the_database_is_moved_away() {
    let reserved = RefusedPort::new();
    let port = reserved.port;
    let desk = Desk::with_config(&config(port));
    desk.add(&["Hold the committee meeting", "--due", &days_from_today(30)]);
    drop(reserved);
    let _daemon = Running::start(&desk);
    wait_for_health(port, 200);
    std::fs::rename(desk.database(), desk.path().join("moved.db")).unwrap();
    let (status, _, body) = get(port, "/healthz").unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("was removed or replaced"), "{body}");
}

#[test]
fn a_taken_port_stops_the_daemon_at_start_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let desk = Desk::with_config(&config(port));
    let mut child = desk
        .command(&["daemon"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the daemon kept running on a taken port");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(stderr.contains("http.listen"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_listen_address_that_is_not_one_is_refused_with_its_line() {
    let desk = Desk::with_config("[http]\nlisten = \"localhost:9477\"\n");
    let err = desk.run(&["config", "check"]).fails();
    assert!(err.contains("followup.toml:2: http.listen"), "{err}");
    assert!(err.contains("\"localhost:9477\""), "{err}");
    assert!(err.contains("try \"127.0.0.1:9477\""), "{err}");
    let err = desk.run(&["daemon", "--once"]).fails();
    assert!(err.contains("http.listen"), "{err}");
}

#[test]
fn config_check_says_when_the_pages_are_not_on_loopback() {
    let open = Desk::with_config("[http]\nlisten = \"0.0.0.0:9477\"\n");
    let said = open.run(&["config", "check"]).ok();
    assert!(
        said.contains("on 0.0.0.0:9477 (not loopback") && said.contains("no authentication"),
        "{said}"
    );
    let local = Desk::with_config("[http]\nlisten = \"127.0.0.1:9477\"\n");
    let said = local.run(&["config", "check"]).ok();
    assert!(
        said.contains("on 127.0.0.1:9477") && !said.contains("not loopback"),
        "{said}"
    );
}
