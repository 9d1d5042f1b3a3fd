use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mail_parser::MessageParser;

use super::server::{Behaviour, Login, SmtpServer};
use super::*;
use crate::config::{Security, SmtpConfig};
use crate::mail::{Error, SendError, SmtpTransport};

fn config(port: u16, security: Security) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security,
        username: None,
        password_file: None,
        timeout: Duration::from_secs(5),
    }
}

fn password_file(dir: &Path, name: &str, content: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

async fn send_one(transport: &SmtpTransport) -> Result<(), SendError> {
    let (message, _) = rendered("Joint committee meets");
    transport.send(&message).await
}

#[tokio::test]
async fn a_message_is_delivered_with_its_headers() {
    let server = SmtpServer::start(Behaviour::Accept);
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    let (message, _) = rendered(ARABIC_TITLE);
    transport.send(&message).await.unwrap();

    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0].from.contains("followup@example.org"),
        "{:?}",
        received[0].from
    );
    assert_eq!(received[0].to.len(), 1);
    assert!(
        received[0].to[0].contains("desk@example.org"),
        "{:?}",
        received[0].to
    );
    let parsed = MessageParser::default().parse(&received[0].data).unwrap();
    assert_eq!(
        parsed.header_raw("Message-ID").map(str::trim),
        Some(MESSAGE_ID)
    );
    assert_eq!(
        parsed.header_raw("In-Reply-To").map(str::trim),
        Some("<followup.commitment.12.3f9a2c1d5e6b7a80@example.org>")
    );
    assert_eq!(
        parsed.header_raw("X-Followup-Commitment").map(str::trim),
        Some("12")
    );
    assert_eq!(
        parsed.header_raw("X-Followup-Reminder").map(str::trim),
        Some("v2:before:14d")
    );
    assert_eq!(
        parsed.subject(),
        Some(format!("Due in 14 days: {ARABIC_TITLE}").as_str())
    );
}

#[tokio::test]
async fn the_pool_reuses_one_connection_for_consecutive_sends() {
    let server = SmtpServer::start(Behaviour::Accept);
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    for _ in 0..3 {
        send_one(&transport).await.unwrap();
    }
    assert_eq!(server.received().len(), 3);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_without_losing_the_message() {
    let server = SmtpServer::start(Behaviour::HangUpAfterEach);
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    for _ in 0..3 {
        send_one(&transport).await.unwrap();
    }
    assert_eq!(server.received().len(), 3);
    assert_eq!(server.connections(), 3);
}

#[tokio::test]
async fn concurrent_sends_each_get_a_connection_and_all_arrive() {
    let server = SmtpServer::start(Behaviour::Accept);
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    let sends = (0..8).map(|_| send_one(&transport));
    for result in futures_util::future::join_all(sends).await {
        result.unwrap();
    }
    assert_eq!(server.received().len(), 8);
    let opened = server.connections();
    assert!((1..=8).contains(&opened), "{opened} connections");
    // Afterwards they are all reused: no new connection for the next round.
    let sends = (0..opened).map(|_| send_one(&transport));
    for result in futures_util::future::join_all(sends).await {
        result.unwrap();
    }
    assert_eq!(server.connections(), opened);
}

#[tokio::test]
async fn a_probe_logs_in_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start_with_auth("followup", "right");
    let mut smtp = config(server.port(), Security::None);
    smtp.username = Some("followup".into());
    smtp.password_file = Some(password_file(dir.path(), "pw", "right\n", 0o600));
    SmtpTransport::new(&smtp, None)
        .unwrap()
        .check_connection()
        .await
        .unwrap();
    assert_eq!(server.logins().len(), 1);
    assert!(server.received().is_empty());

    smtp.password_file = Some(password_file(dir.path(), "bad", "wrong\n", 0o600));
    let refused = SmtpTransport::new(&smtp, None)
        .unwrap()
        .check_connection()
        .await;
    match refused {
        Err(SendError::Transient(text)) => assert!(text.contains("535"), "{text}"),
        other => panic!("expected a refused login, got {other:?}"),
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_4xx_reply_is_transient() {
    let server = SmtpServer::start(Behaviour::RejectData(451, "Local error, try again later"));
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Transient(text)) => {
            assert!(
                text.contains("451") && text.contains("try again later"),
                "{text}"
            );
            assert!(
                text.contains(&format!("127.0.0.1:{}", server.port())),
                "{text}"
            );
        }
        other => panic!("expected transient, got {other:?}"),
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_4xx_reply_to_the_recipient_is_transient() {
    let server = SmtpServer::start(Behaviour::RejectRecipient(450, "Mailbox busy"));
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    let err = send_one(&transport).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn a_5xx_reply_is_permanent() {
    let server = SmtpServer::start(Behaviour::RejectRecipient(550, "No such user here"));
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Permanent(text)) => {
            assert!(
                text.contains("550") && text.contains("No such user here"),
                "{text}"
            );
        }
        other => panic!("expected permanent, got {other:?}"),
    }
}

/// "530 Must issue a STARTTLS command first" asks for TLS, not a login.
#[tokio::test]
async fn a_relay_demanding_starttls_says_to_set_security() {
    let server = SmtpServer::start(Behaviour::RefuseSender(
        530,
        "5.7.0 Must issue a STARTTLS command first",
    ));
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Transient(said)) => assert!(
            said.contains("requires TLS") && said.contains("security = \"starttls\""),
            "{said}"
        ),
        other => panic!("expected transient, got {other:?}"),
    }
}

/// Postfix and Exim refuse to relay at RCPT TO: that refuses followup,
/// not the recipient, and must not mark the whole queue dead.
#[tokio::test]
async fn a_relay_refusal_at_rcpt_to_is_transient() {
    for (code, text) in [
        (554, "5.7.1 <desk@example.org>: Relay access denied"),
        (550, "relay not permitted"),
    ] {
        let server = SmtpServer::start(Behaviour::RejectRecipient(code, text));
        let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
        match send_one(&transport).await {
            Err(SendError::Transient(said)) => assert!(
                said.contains("will not pass mail on for followup")
                    && said.contains(text)
                    && said.contains("nothing was marked undeliverable"),
                "{said}"
            ),
            other => panic!("{code} {text}: expected transient, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_5xx_to_the_message_itself_is_permanent() {
    let server = SmtpServer::start(Behaviour::RejectData(554, "Message rejected as spam"));
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Permanent(text)) => assert!(text.contains("554"), "{text}"),
        other => panic!("expected permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn a_5xx_greeting_refuses_followup_not_the_email_and_is_transient() {
    let server = SmtpServer::start(Behaviour::RefuseGreeting(
        554,
        "5.3.2 service temporarily not accepting",
    ));
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Transient(text)) => {
            assert!(text.contains("554"), "{text}");
            assert!(text.contains("refuses followup"), "{text}");
            assert!(text.contains("nothing was marked undeliverable"), "{text}");
        }
        other => panic!("expected transient, got {other:?}"),
    }
    assert!(server.received().is_empty());
}

/// A size refused at MAIL FROM (the SIZE the client declared) is about
/// this email, which the relay would refuse again: it is dead, and the
/// reason names the size, not mail.from.
#[tokio::test]
async fn a_message_too_large_for_the_relay_is_permanent_and_says_so() {
    for (code, text) in [
        (552, "5.3.4 Message size exceeds fixed limit"),
        (550, "5.3.4 Message too big for system"),
    ] {
        let server = SmtpServer::start(Behaviour::RefuseSender(code, text));
        let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
        match send_one(&transport).await {
            Err(SendError::Permanent(said)) => assert!(
                said.contains("will not take an email this large (")
                    && said.contains(" bytes)")
                    && said.contains(text)
                    && !said.contains("mail.from"),
                "{said}"
            ),
            other => panic!("{code} {text}: expected permanent, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_5xx_to_mail_from_refuses_followup_as_sender_and_says_to_check_mail_from() {
    let server = SmtpServer::start(Behaviour::RefuseSender(
        550,
        "5.7.1 sender address rejected: relay access denied",
    ));
    let transport = SmtpTransport::new(&config(server.port(), Security::None), None).unwrap();
    // Twice: the second goes out on a fresh connection, since a refused
    // transaction closes the one it used.
    for _ in 0..2 {
        match send_one(&transport).await {
            Err(SendError::Transient(text)) => {
                assert!(text.contains("relay access denied"), "{text}");
                assert!(text.contains("followup@example.org"), "{text}");
                assert!(text.contains("check mail.from"), "{text}");
                assert!(text.contains("nothing was marked undeliverable"), "{text}");
            }
            other => panic!("expected transient, got {other:?}"),
        }
    }
    assert!(server.received().is_empty());
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let transport = SmtpTransport::new(&config(port, Security::None), None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Transient(text)) => {
            assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
            assert!(text.to_lowercase().contains("refused"), "{text}");
        }
        other => panic!("expected transient, got {other:?}"),
    }
}

#[tokio::test]
async fn auth_plain_without_tls_sends_the_password_from_a_0600_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = password_file(dir.path(), "pw", "s3cret pass\n", 0o600);
    let server = SmtpServer::start_with_auth("followup", "s3cret pass");
    let mut smtp = config(server.port(), Security::None);
    smtp.username = Some("followup".into());
    smtp.password_file = Some(path);
    let transport = SmtpTransport::new(&smtp, None).unwrap();
    send_one(&transport).await.unwrap();

    assert_eq!(
        server.logins(),
        [Login {
            username: "followup".into(),
            password: "s3cret pass".into()
        }]
    );
    assert_eq!(server.received().len(), 1);
    // Debug output, which may end up in a log, never shows the password.
    assert!(!format!("{transport:?}").contains("s3cret"));
}

#[tokio::test]
async fn without_password_file_the_systemd_credential_is_used() {
    let dir = tempfile::tempdir().unwrap();
    password_file(dir.path(), "smtp-password", "from-systemd", 0o400);
    let server = SmtpServer::start_with_auth("followup", "from-systemd");
    let mut smtp = config(server.port(), Security::None);
    smtp.username = Some("followup".into());
    let transport = SmtpTransport::new(&smtp, Some(dir.path())).unwrap();
    send_one(&transport).await.unwrap();
    assert_eq!(server.received().len(), 1);

    // No file and no credentials directory: say what to set.
    let err = SmtpTransport::new(&smtp, None).unwrap_err();
    assert!(matches!(err, Error::PasswordMissing { .. }), "{err}");
    assert!(err.to_string().contains("password_file"), "{err}");
}

#[tokio::test]
async fn a_refused_login_is_transient_and_says_to_check_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = password_file(dir.path(), "pw", "wrong", 0o600);
    let server = SmtpServer::start_with_auth("followup", "right");
    let mut smtp = config(server.port(), Security::None);
    smtp.username = Some("followup".into());
    smtp.password_file = Some(path);
    let transport = SmtpTransport::new(&smtp, None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Transient(text)) => {
            assert!(
                text.contains("535") && text.contains("password file"),
                "{text}"
            );
            assert!(!text.contains("wrong"), "{text}");
        }
        other => panic!("expected transient, got {other:?}"),
    }
}

#[tokio::test]
async fn a_password_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o644, 0o640, 0o604] {
        let path = password_file(dir.path(), "pw", "s3cret", mode);
        let mut smtp = config(2525, Security::None);
        smtp.username = Some("followup".into());
        smtp.password_file = Some(path.clone());
        let err = SmtpTransport::new(&smtp, None).unwrap_err();
        assert!(matches!(err, Error::PasswordExposed { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("chmod 600 {}", path.display())),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }
}

#[tokio::test]
async fn a_password_file_that_is_a_folder_is_named_as_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut smtp = config(2525, Security::None);
    smtp.username = Some("followup".into());
    smtp.password_file = Some(dir.path().to_path_buf());
    let err = SmtpTransport::new(&smtp, None).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("it is not a file") && !text.contains("chmod"),
        "{text}"
    );
}

#[tokio::test]
async fn auth_over_plain_text_to_a_remote_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = password_file(dir.path(), "pw", "s3cret", 0o600);
    let mut smtp = config(25, Security::None);
    smtp.host = "smtp.example.org".into();
    smtp.username = Some("followup".into());
    smtp.password_file = Some(path);
    let err = SmtpTransport::new(&smtp, None).unwrap_err();
    assert!(matches!(err, Error::PlaintextAuth { .. }), "{err}");
    assert!(err.to_string().contains("starttls"), "{err}");
}

#[tokio::test]
async fn tls_against_a_plain_smtp_port_hints_at_starttls() {
    let server = SmtpServer::start(Behaviour::Accept);
    let transport = SmtpTransport::new(&config(server.port(), Security::Tls), None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Transient(text)) => {
            assert!(text.contains("security = \"starttls\""), "{text}");
        }
        other => panic!("expected transient, got {other:?}"),
    }
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_silent_server_times_out_with_a_hint_about_implicit_tls() {
    // What a port-465 server looks like to a client that does not speak
    // TLS first: it accepts and waits for a TLS hello that never comes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (_stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut smtp = config(port, Security::StartTls);
    smtp.timeout = Duration::from_millis(500);
    let transport = SmtpTransport::new(&smtp, None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Transient(text)) => {
            assert!(text.contains("security = \"tls\""), "{text}");
        }
        other => panic!("expected transient, got {other:?}"),
    }
    hold.abort();
}

#[tokio::test]
async fn a_server_that_greets_then_goes_quiet_times_out_without_a_tls_hint() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        write.write_all(b"220 relay ready\r\n").await.unwrap();
        let mut lines = BufReader::new(read).lines();
        // EHLO is answered; MAIL FROM never is.
        let _ehlo = lines.next_line().await;
        write.write_all(b"250 relay\r\n").await.unwrap();
        let _mail = lines.next_line().await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut smtp = config(port, Security::None);
    smtp.timeout = Duration::from_millis(500);
    let transport = SmtpTransport::new(&smtp, None).unwrap();
    match send_one(&transport).await {
        Err(SendError::Transient(text)) => {
            assert!(text.contains("went quiet mid-conversation"), "{text}");
            assert!(!text.contains("security = \"tls\""), "{text}");
        }
        other => panic!("expected transient, got {other:?}"),
    }
    hold.abort();
}

#[test]
fn the_smtp_transport_needs_a_runtime() {
    let err = SmtpTransport::new(&config(25, Security::None), None).unwrap_err();
    assert!(matches!(err, Error::NoRuntime), "{err}");
}
