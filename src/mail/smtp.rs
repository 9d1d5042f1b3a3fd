//! The SMTP transport: lettre's pooled Tokio client, set up from
//! `[mail.smtp]`, and the translation of what the server said into
//! [`SendError`] so the outbox knows whether to retry.
//!
//! The password is read once, at start-up, from `password_file` or
//! `$CREDENTIALS_DIRECTORY/smtp-password`, and lives only inside lettre's
//! credentials: it is never logged, printed or shown by `Debug`. A password
//! file that other users can read is refused rather than silently used.
//!
//! Classification follows RFC 5321: a 5xx reply is permanent and the
//! reminder goes `dead`; a 4xx reply, a refused or reset connection, a TLS
//! failure or a timeout is transient and retried. One exception: a 5xx
//! reply to AUTH (530, 534, 535, 538) is treated as transient, because it
//! says our login is wrong, not that this reminder is undeliverable; marking
//! the whole queue dead over a typo in a password file would lose it.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Error, SendError};
use crate::config::{Security, SmtpConfig};

/// The file name systemd's `LoadCredential=smtp-password:…` gives us.
pub const CREDENTIAL_NAME: &str = "smtp-password";

/// Sends emails through an SMTP server, reusing connections between sends.
pub struct SmtpTransport {
    /// Kept to build a fresh pool when an attempt times out (see `send`).
    builder: AsyncSmtpTransportBuilder,
    pool: Mutex<Pool>,
    host: String,
    port: u16,
    security: Security,
    username: Option<String>,
    timeout: Duration,
}

/// The current connection pool and how many times it has been replaced.
struct Pool {
    generation: u64,
    client: AsyncSmtpTransport<Tokio1Executor>,
}

impl fmt::Debug for SmtpTransport {
    // By hand, so the credentials inside the client can never be printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpTransport {
    /// Prepares a pooled client for `config`; no connection is made yet.
    ///
    /// With a `username`, the password is read from `config.password_file`,
    /// else from `credentials_dir/smtp-password` (pass systemd's
    /// `$CREDENTIALS_DIRECTORY`). Must run inside a Tokio runtime: lettre's
    /// pool starts a clean-up task.
    pub fn new(
        config: &SmtpConfig,
        credentials_dir: Option<&Path>,
    ) -> Result<SmtpTransport, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        let tls = match config.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(tls_parameters(&config.host)?),
            Security::Tls => Tls::Wrapper(tls_parameters(&config.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout))
            .pool_config(PoolConfig::new().max_size(32));

        match &config.username {
            Some(username) => {
                if config.security == Security::None && !is_loopback(&config.host) {
                    return Err(Error::PlaintextAuth {
                        username: username.clone(),
                        host: config.host.clone(),
                    });
                }
                let path = password_path(config, credentials_dir).ok_or_else(|| {
                    Error::PasswordMissing {
                        username: username.clone(),
                    }
                })?;
                let password = read_password(&path)?;
                builder = builder
                    .credentials(Credentials::new(username.clone(), password))
                    .authentication(vec![Mechanism::Plain, Mechanism::Login]);
            }
            None => {
                if let Some(path) = &config.password_file {
                    tracing::warn!(
                        path = %path.display(),
                        "mail.smtp.password_file is set but mail.smtp.username is not; sending without AUTH"
                    );
                }
            }
        }

        Ok(SmtpTransport {
            pool: Mutex::new(Pool {
                generation: 0,
                client: builder.clone().build(),
            }),
            builder,
            host: config.host.clone(),
            port: config.port,
            security: config.security,
            username: config.username.clone(),
            timeout: config.timeout,
        })
    }

    /// `smtp.example.org:587 (starttls)`, for logs and `status`.
    pub fn describe(&self) -> String {
        format!("{}:{} ({})", self.host, self.port, self.security)
    }

    /// Delivers one email to the recipients of its envelope.
    ///
    /// `mail.smtp.timeout` bounds the whole attempt, not just the connect:
    /// lettre's async client has no read timeout, so a server that stops
    /// answering mid-conversation would otherwise hang the daemon forever.
    /// A connection abandoned mid-command cannot be reused safely (the next
    /// command would read the old reply), and the pool cannot be told which
    /// one it was, so a timeout retires the whole pool and starts a new one.
    pub async fn send(&self, message: &lettre::Message) -> Result<(), SendError> {
        let (generation, client) = {
            let pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
            (pool.generation, pool.client.clone())
        };
        let bytes = message.formatted();
        let attempt = client.send_raw(message.envelope(), &bytes);
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(self.classify(&err)),
            Err(_) => {
                self.retire_pool(generation);
                Err(SendError::Transient(format!(
                    "no complete answer from {}:{} within {}s{}",
                    self.host,
                    self.port,
                    self.timeout.as_secs_f32(),
                    self.timeout_hint()
                )))
            }
        }
    }

    /// Opens one connection the way a send does — TCP, the greeting, EHLO,
    /// STARTTLS or implicit TLS, and AUTH when `mail.smtp.username` is set —
    /// then says NOOP and QUIT. No mail is sent. For `followup doctor`.
    ///
    /// lettre authenticates every new connection that has credentials, and
    /// fails when the server offers none of our mechanisms, so an `Ok` with
    /// a username means the server accepted the login. A fresh pool is used
    /// so that an idle, already authenticated connection cannot stand in
    /// for a new login.
    pub async fn check_connection(&self) -> Result<(), SendError> {
        let client = self.builder.clone().build();
        let outcome = tokio::time::timeout(self.timeout, client.test_connection()).await;
        let _ = tokio::time::timeout(self.timeout, client.shutdown()).await;
        match outcome {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(SendError::Transient(format!(
                "{}:{} accepted the connection but did not answer NOOP",
                self.host, self.port
            ))),
            Ok(Err(err)) => Err(self.classify(&err)),
            Err(_) => Err(SendError::Transient(format!(
                "no complete answer from {}:{} within {}s{}",
                self.host,
                self.port,
                self.timeout.as_secs_f32(),
                self.timeout_hint()
            ))),
        }
    }

    /// Whether a login is configured, and as whom.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// How the connection is protected.
    pub fn security(&self) -> Security {
        self.security
    }

    /// Swaps in a fresh pool unless a concurrent send already did, and
    /// closes the old one's idle connections in the background.
    fn retire_pool(&self, generation: u64) {
        let old = {
            let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
            if pool.generation != generation {
                return;
            }
            pool.generation += 1;
            std::mem::replace(&mut pool.client, self.builder.clone().build())
        };
        let timeout = self.timeout;
        tokio::spawn(async move {
            // Closing sends QUIT, which a stalled server may never answer.
            let _ = tokio::time::timeout(timeout, old.shutdown()).await;
        });
    }

    fn timeout_hint(&self) -> &'static str {
        match self.security {
            Security::Tls => "",
            _ if self.port == 465 => " (port 465 usually needs security = \"tls\")",
            _ => {
                " (if this port expects TLS from the first byte, as 465 usually does, set security = \"tls\")"
            }
        }
    }

    fn classify(&self, err: &lettre::transport::smtp::Error) -> SendError {
        let place = format!("{}:{}", self.host, self.port);
        let detail = describe_error(err);
        if let Some(code) = err.status() {
            let number = u16::from(code);
            if err.is_permanent() && !matches!(number, 530 | 534 | 535 | 538) {
                return SendError::Permanent(format!("{place} refused the message: {detail}"));
            }
            if matches!(number, 530 | 534 | 535 | 538) {
                let fix = if number == 530 && self.username.is_none() {
                    "the server requires a login: set mail.smtp.username and a password file"
                } else {
                    "check mail.smtp.username and the password file"
                };
                return SendError::Transient(format!("{place} refused our login: {detail}; {fix}"));
            }
            return SendError::Transient(format!("{place} deferred the message: {detail}"));
        }
        SendError::Transient(format!(
            "cannot deliver through {place}: {detail}{}",
            self.hint(err)
        ))
    }

    /// Turns the usual TLS/port mix-ups into a sentence that names the fix.
    fn hint(&self, err: &lettre::transport::smtp::Error) -> String {
        let text = detail_lowercase(err);
        match self.security {
            Security::Tls if err.is_tls() || text.contains("corrupt message") => {
                format!(
                    " (security = \"tls\" expects TLS from the first byte, but port {} did not answer with TLS; port 587 usually needs security = \"starttls\")",
                    self.port
                )
            }
            Security::StartTls if text.contains("starttls") => format!(
                " (the server on port {} does not offer STARTTLS; port 465 usually needs security = \"tls\")",
                self.port
            ),
            Security::StartTls | Security::None if err.is_timeout() => {
                self.timeout_hint().to_string()
            }
            Security::StartTls | Security::None
                if self.port == 465 && text.contains("incomplete response") =>
            {
                " (no SMTP greeting: port 465 usually needs security = \"tls\")".to_string()
            }
            _ if text.contains("refused") => format!(
                " (is an SMTP server listening on {}:{}?)",
                self.host, self.port
            ),
            _ => String::new(),
        }
    }
}

/// lettre's error text with every source in the chain, once each.
fn describe_error(err: &lettre::transport::smtp::Error) -> String {
    // lettre sometimes wraps a connection error in another.
    let mut text = err
        .to_string()
        .replace("Connection error: Connection error: ", "Connection error: ");
    let mut source = std::error::Error::source(err);
    // lettre prints its direct source itself; add the deeper ones.
    if let Some(first) = source {
        source = first.source();
    }
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn detail_lowercase(err: &lettre::transport::smtp::Error) -> String {
    describe_error(err).to_lowercase()
}

fn tls_parameters(host: &str) -> Result<TlsParameters, Error> {
    TlsParameters::new(host.to_string()).map_err(|source| Error::Tls {
        host: host.to_string(),
        source,
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where the SMTP password is read from: `password_file`, else
/// `credentials_dir/smtp-password`.
pub fn password_path(config: &SmtpConfig, credentials_dir: Option<&Path>) -> Option<PathBuf> {
    config
        .password_file
        .clone()
        .or_else(|| credentials_dir.map(|dir| dir.join(CREDENTIAL_NAME)))
}

/// Reads an SMTP password: the file's first line, without its line ending.
/// Refuses a file that group or others may read (`chmod 600` fixes it).
pub fn read_password(path: &Path) -> Result<String, Error> {
    let read_error = |source| Error::PasswordRead {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    // Check the mode of the file we opened, not of whatever the path names
    // a moment later.
    let mode = file.metadata().map_err(read_error)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::PasswordExposed {
            path: path.to_path_buf(),
            mode: mode & 0o7777,
        });
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read_error)?;
    let password = text.lines().next().unwrap_or("").to_string();
    if password.is_empty() {
        return Err(Error::PasswordEmpty {
            path: path.to_path_buf(),
        });
    }
    Ok(password)
}
