//! The Maildir transport, followup's default: each email becomes one file in
//! a real Maildir (`tmp/`, `new/`, `cur/`) that mutt or any mail reader can
//! open with `mutt -f PATH`.
//!
//! A message is written under `tmp/` with a name no other delivery can
//! pick, flushed to disk, then renamed into `new/`. The rename is atomic,
//! so a reader never sees half a message, and a crash leaves at worst a
//! stray file in `tmp/`, never a truncated one in `new/`. Every failure is
//! [`SendError::Transient`]: a full disk or a wrong permission is fixed by a
//! human and the outbox retries.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Error, SendError};

/// Counts deliveries in this process, so two in the same microsecond still
/// get different names.
static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// Writes each email as a file into a Maildir.
#[derive(Debug, Clone)]
pub struct MaildirTransport {
    root: PathBuf,
    host: String,
    /// Random per transport, in case a pid is reused after a restart within
    /// the same microsecond (it happens in containers).
    salt: u64,
}

impl MaildirTransport {
    /// Uses the Maildir at `root`, creating it and its `tmp/`, `new/` and
    /// `cur/` folders (mode 0700: reminders are the desk's business) if
    /// they are missing.
    pub fn new(root: PathBuf) -> Result<MaildirTransport, Error> {
        create_folders(&root).map_err(|(path, source)| Error::Maildir { path, source })?;
        Ok(MaildirTransport {
            root,
            host: maildir_host(),
            salt: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        })
    }

    /// The Maildir's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Delivers one email into `new/` and returns the file's path.
    pub async fn send(&self, message: &lettre::Message) -> Result<PathBuf, SendError> {
        // Maildir files use the local line ending; mail readers expect it.
        let bytes = message.formatted();
        let mut content = Vec::with_capacity(bytes.len());
        let mut iter = bytes.iter().peekable();
        while let Some(&b) = iter.next() {
            if b == b'\r' && iter.peek() == Some(&&b'\n') {
                continue;
            }
            content.push(b);
        }
        let root = self.root.clone();
        let name = self.unique_name();
        tokio::task::spawn_blocking(move || deliver(&root, &name, &content))
            .await
            .map_err(|err| {
                SendError::Transient(format!("the Maildir write was interrupted: {err}"))
            })?
    }

    /// `SECONDS.MMICROSPPIDQCOUNTRSALT.HOST`, the classic Maildir shape.
    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let count = DELIVERIES.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}.M{}P{}Q{count}R{:x}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            self.salt,
            self.host
        )
    }
}

/// What `followup doctor` finds at a Maildir's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaildirState {
    /// It exists and a file could be written into `tmp/` (and removed).
    Writable,
    /// It does not exist yet; the daemon will create it under this folder,
    /// which this user can write.
    WillBeCreated { under: PathBuf },
    /// It belongs to another user (the daemon's, most likely: a Maildir
    /// is private to it), so this user cannot tell whether the daemon can
    /// write there.
    OtherUsers { owner: u32 },
}

/// Checks that emails can be written into the Maildir at `root` without
/// creating it: a probe file is written into `tmp/` and removed at once;
/// a Maildir that does not exist yet is checked through the nearest folder
/// that does. The `Err` says what is wrong and what to do.
pub fn check_writable(root: &Path) -> Result<MaildirState, String> {
    let fix = "make it writable by the daemon's user, or point mail.maildir elsewhere";
    match fs::metadata(root) {
        Ok(meta) if !meta.is_dir() => {
            return Err(format!(
                "{} is not a folder; move it away or point mail.maildir at a folder",
                root.display()
            ));
        }
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let under = root
                .ancestors()
                .skip(1)
                .find(|p| p.is_dir())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            let probe = under.join(format!(".followup-doctor-{}", std::process::id()));
            return match DirBuilder::new().mode(0o700).create(&probe) {
                Ok(()) => {
                    let _ = fs::remove_dir(&probe);
                    Ok(MaildirState::WillBeCreated { under })
                }
                Err(err) => Err(format!(
                    "{} does not exist and cannot be created in {} ({err}); {fix}",
                    root.display(),
                    under.display()
                )),
            };
        }
        Err(err) => return Err(format!("cannot look at {} ({err}); {fix}", root.display())),
    }
    let tmp = root.join("tmp");
    let folder = if tmp.is_dir() {
        tmp
    } else {
        root.to_path_buf()
    };
    let probe = folder.join(format!(".followup-doctor-{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe);
    let _ = fs::remove_file(&probe);
    match written {
        Ok(_) => Ok(MaildirState::Writable),
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            use std::os::unix::fs::MetadataExt as _;
            // SAFETY: geteuid cannot fail and touches no memory.
            let me = unsafe { libc::geteuid() };
            match fs::metadata(root).map(|meta| meta.uid()) {
                Ok(owner) if owner != me => Ok(MaildirState::OtherUsers { owner }),
                _ => Err(format!(
                    "cannot write into {} ({err}); {fix}",
                    folder.display()
                )),
            }
        }
        Err(err) => Err(format!(
            "cannot write into {} ({err}); {fix}",
            folder.display()
        )),
    }
}

fn create_folders(root: &Path) -> Result<(), (PathBuf, std::io::Error)> {
    let mut builder = DirBuilder::new();
    builder.recursive(true).mode(0o700);
    for sub in ["tmp", "new", "cur"] {
        let path = root.join(sub);
        builder.create(&path).map_err(|err| (path, err))?;
    }
    Ok(())
}

fn deliver(root: &Path, name: &str, content: &[u8]) -> Result<PathBuf, SendError> {
    // Someone may have removed the folders since start-up; put them back.
    create_folders(root).map_err(|(path, err)| failed("create", &path, &err))?;
    let tmp = root.join("tmp").join(name);
    let new = root.join("new").join(name);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(content)?;
            file.sync_all()
        });
    if let Err(err) = written {
        let _ = fs::remove_file(&tmp);
        return Err(failed("write", &tmp, &err));
    }
    if let Err(err) = fs::rename(&tmp, &new) {
        let _ = fs::remove_file(&tmp);
        return Err(failed("move into new/", &tmp, &err));
    }
    // The rename is only durable once the folder itself is flushed.
    File::open(root.join("new"))
        .and_then(|dir| dir.sync_all())
        .map_err(|err| failed("flush", &root.join("new"), &err))?;
    Ok(new)
}

fn failed(action: &str, path: &Path, err: &std::io::Error) -> SendError {
    SendError::Transient(format!(
        "cannot {action} {}: {err}; check free space and that the daemon's user can write the Maildir",
        path.display()
    ))
}

/// This machine's name for Maildir file names, with `/` and `:` escaped as
/// the Maildir convention asks (they would break the name's structure).
fn maildir_host() -> String {
    let raw = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| {
            fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_string());
    let mut host = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '/' => host.push_str("\\057"),
            ':' => host.push_str("\\072"),
            c if c.is_ascii_graphic() => host.push(c),
            _ => host.push('_'),
        }
    }
    host
}
