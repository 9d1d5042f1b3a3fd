use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mail_parser::MessageParser;

use super::*;
use crate::mail::{MaildirTransport, SendError};

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[tokio::test]
async fn a_message_lands_complete_in_new_and_nothing_stays_in_tmp() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("outbox");
    let maildir = MaildirTransport::new(root.clone()).unwrap();
    for sub in ["tmp", "new", "cur"] {
        let mode = fs::metadata(root.join(sub)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{sub}");
    }

    let (message, formatted) = rendered(ARABIC_TITLE);
    let path = maildir.send(&message).await.unwrap();

    assert_eq!(entries(&root.join("new")), std::slice::from_ref(&path));
    assert!(entries(&root.join("tmp")).is_empty());
    assert!(entries(&root.join("cur")).is_empty());
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        !name.contains(['/', ':']) && name.contains(&format!("P{}", std::process::id())),
        "{name}"
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The file holds the same message, with local line endings.
    let stored = fs::read(&path).unwrap();
    assert!(!stored.contains(&b'\r'));
    let parser = MessageParser::default();
    let original = parser.parse(&formatted).unwrap();
    let copy = parser.parse(&stored).unwrap();
    assert_eq!(copy.message_id(), original.message_id());
    assert_eq!(copy.subject(), original.subject());
    assert_eq!(
        copy.header_raw("X-Followup-Reminder").map(str::trim),
        original.header_raw("X-Followup-Reminder").map(str::trim)
    );
    let lf = |body: Option<std::borrow::Cow<'_, str>>| body.unwrap().replace("\r\n", "\n");
    assert_eq!(lf(copy.body_text(0)), lf(original.body_text(0)));
    assert_eq!(lf(copy.body_html(0)), lf(original.body_html(0)));
}

#[tokio::test]
async fn many_deliveries_get_distinct_files() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = MaildirTransport::new(dir.path().to_path_buf()).unwrap();
    let (message, _) = rendered("Joint committee meets");
    for _ in 0..20 {
        maildir.send(&message).await.unwrap();
    }
    assert_eq!(entries(&dir.path().join("new")).len(), 20);
}

#[tokio::test]
async fn a_write_failure_is_transient_and_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = MaildirTransport::new(dir.path().to_path_buf()).unwrap();
    // A file where tmp/ should be: the write cannot happen, whoever we are
    // (tests may run as root, so a permission bit would not stop us).
    fs::remove_dir(dir.path().join("tmp")).unwrap();
    fs::write(dir.path().join("tmp"), "not a folder").unwrap();

    let (message, _) = rendered("Joint committee meets");
    match maildir.send(&message).await {
        Err(SendError::Transient(text)) => {
            let tmp = dir.path().join("tmp");
            assert!(text.contains(tmp.to_str().unwrap()), "{text}");
        }
        other => panic!("expected a transient error, got {other:?}"),
    }
    assert!(entries(&dir.path().join("new")).is_empty());
}

#[tokio::test]
async fn transport_from_config_defaults_to_the_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::config::Config::from_toml("", dir.path()).unwrap();
    let transport = crate::mail::Transport::from_config(&config.mail).unwrap();
    assert_eq!(
        transport.describe(),
        format!("maildir {}", dir.path().join("outbox").display())
    );
    let (message, _) = rendered("Joint committee meets");
    transport.send(&message).await.unwrap();
    assert_eq!(entries(&dir.path().join("outbox/new")).len(), 1);
}
