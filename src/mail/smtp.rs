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
    client: AsyncSmtpTransport<Tokio1Executor>,
    host: String,
    port: u16,
    security: Security,
    username: Option<String>,
}

impl fmt::Debug for SmtpTransport {
    // By hand, so the credentials inside the client can never be printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTransport")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
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
            .pool_config(PoolConfig::new().max_size(8));

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
            client: builder.build(),
            host: config.host.clone(),
            port: config.port,
            security: config.security,
            username: config.username.clone(),
        })
    }

    /// `smtp.example.org:587 (starttls)`, for logs and `status`.
    pub fn describe(&self) -> String {
        format!("{}:{} ({})", self.host, self.port, self.security)
    }

    /// Delivers one email to the recipients of its envelope.
    pub async fn send(&self, message: &lettre::Message) -> Result<(), SendError> {
        self.client
            .send_raw(message.envelope(), &message.formatted())
            .await
            .map(|_| ())
            .map_err(|err| self.classify(&err))
    }

    fn classify(&self, err: &lettre::transport::smtp::Error) -> SendError {
        let place = format!("{}:{}", self.host, self.port);
        let detail = describe_error(err);
        if let Some(code) = err.status() {
            let number = u16::from(code);
            if err.is_permanent() && !matches!(number, 530 | 534 | 535 | 538) {
                return SendError::Permanent(format!("{place} refused the message: {detail}"));
            }
            let hint = match number {
                530 if self.username.is_none() => {
                    "; the server requires a login: set mail.smtp.username and a password file"
                }
                530 | 534 | 535 | 538 => {
                    "; the server refused our login: check mail.smtp.username and the password file"
                }
                _ => "",
            };
            return SendError::Transient(format!("{place} deferred the message: {detail}{hint}"));
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
            Security::StartTls | Security::None
                if self.port == 465 || err.is_timeout() || text.contains("timed out") =>
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
    let mut text = err.to_string();
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

fn password_path(config: &SmtpConfig, credentials_dir: Option<&Path>) -> Option<PathBuf> {
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
