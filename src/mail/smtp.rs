//! The SMTP transport: lettre's Tokio SMTP client, set up from
//! `[mail.smtp]`, with a small pool of open connections of our own, and the
//! translation of what the server said into [`SendError`] so the outbox
//! knows whether to retry.
//!
//! The pool is ours, not lettre's, for one reason: lettre opens its own
//! sockets with Nagle's algorithm on and writes the end-of-data mark in a
//! separate small packet, which then waits for the server's delayed ACK,
//! 40 ms per message. Our sockets set TCP_NODELAY (also under STARTTLS);
//! only `security = "tls"` still connects through lettre, which offers no
//! way to wrap a socket of ours in TLS from the first byte.
//!
//! The password is read once, at start-up, from `password_file` or
//! `$CREDENTIALS_DIRECTORY/smtp-password`, and lives only inside lettre's
//! credentials: it is never logged, printed or shown by `Debug`. A password
//! file that other users can read is refused rather than silently used.
//!
//! Classification follows RFC 5321, with one question first: whom is the
//! server's reply about? A 5xx reply to RCPT TO (about that recipient), to
//! DATA or to the message itself is permanent, and the reminder goes
//! `dead`. A 5xx before that (to the greeting, EHLO, STARTTLS, AUTH or
//! MAIL FROM) refuses followup itself, not any one email: the relay's
//! policy, our sender address or our login. Marking the email dead would
//! mark every queued email dead in one tick, each for a fault that is in
//! the setup, so such a refusal is transient and says what to check; the
//! daemon stops the tick when several sends in a row fail that way. A 4xx
//! reply, a refused or reset connection, a TLS failure or a timeout is
//! transient too. This is why a send drives MAIL FROM, RCPT TO and DATA
//! itself rather than through lettre's `send`, which returns the same
//! error whichever command was refused.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use super::{Error, SendError};
use crate::config::{Security, SmtpConfig};

/// The file name systemd's `LoadCredential=smtp-password:…` gives us.
pub const CREDENTIAL_NAME: &str = "smtp-password";

/// Said with every refusal of followup itself, which the outbox retries
/// like any transient failure.
const NOT_A_VERDICT: &str = "This refusal is not about any one email, so nothing was marked undeliverable: each email is retried later with the same Message-ID";

/// At most this many idle connections are kept; the daemon sends at most
/// 32 emails at once, so more would never be used.
const MAX_IDLE: usize = 32;

/// An idle connection older than this is closed rather than reused: servers
/// drop quiet clients (Postfix after 300 s), and a connection they closed
/// costs a failed attempt to find out.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// Sends emails through an SMTP server, reusing connections between sends.
pub struct SmtpTransport {
    host: String,
    port: u16,
    security: Security,
    username: Option<String>,
    timeout: Duration,
    /// For STARTTLS, or for TLS from the first byte; None for plain SMTP.
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// Open, logged-in connections between sends, newest last.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

/// Why an attempt failed, and at which step: the step says whom the
/// server's reply is about (see the module comment).
#[derive(Debug)]
enum Failure {
    /// No connection at all.
    Connect(std::io::Error),
    /// The greeting, EHLO, STARTTLS, TLS or AUTH failed: the relay turned
    /// followup away before any message.
    Session(lettre::transport::smtp::Error),
    /// MAIL FROM failed: the relay refused followup as a sender.
    Sender {
        error: lettre::transport::smtp::Error,
        /// The envelope sender it refused, from `mail.from`.
        from: String,
        /// The email's size in bytes, for a relay that refuses it as too
        /// large.
        size: usize,
    },
    /// RCPT TO failed: about that recipient, as a rule (see
    /// [`refuses_relaying`] for the exception).
    Recipient(lettre::transport::smtp::Error),
    /// DATA or the message itself failed: about this email.
    Message(lettre::transport::smtp::Error),
    /// The email needs an SMTP extension the server does not offer.
    Unsupported(&'static str),
}

impl Failure {
    /// Whether this looks like a connection the server closed while it sat
    /// idle in the pool: no reply at all, or a 421 read only now.
    fn on_a_stale_connection(&self) -> bool {
        match self {
            Failure::Sender { error: err, .. }
            | Failure::Recipient(err)
            | Failure::Message(err) => err.status().is_none_or(|code| u16::from(code) == 421),
            _ => false,
        }
    }
}

impl fmt::Debug for SmtpTransport {
    // By hand, so the credentials can never be printed.
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
    /// Prepares a client for `config`; no connection is made yet.
    ///
    /// With a `username`, the password is read from `config.password_file`,
    /// else from `credentials_dir/smtp-password` (pass systemd's
    /// `$CREDENTIALS_DIRECTORY`). Must run inside a Tokio runtime, where
    /// stale connections are closed in the background.
    pub fn new(
        config: &SmtpConfig,
        credentials_dir: Option<&Path>,
    ) -> Result<SmtpTransport, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        let tls = match config.security {
            Security::None => None,
            Security::StartTls | Security::Tls => Some(tls_parameters(&config.host)?),
        };
        let credentials = match &config.username {
            Some(username) => {
                if config.security == Security::None && !crate::config::is_loopback(&config.host) {
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
                let password = read_password(&path, credentials_dir)?;
                Some(Credentials::new(username.clone(), password))
            }
            None => {
                if let Some(path) = &config.password_file {
                    tracing::warn!(
                        path = %path.display(),
                        "mail.smtp.password_file is set but mail.smtp.username is not; sending without AUTH"
                    );
                }
                None
            }
        };
        Ok(SmtpTransport {
            host: config.host.clone(),
            port: config.port,
            security: config.security,
            username: config.username.clone(),
            timeout: config.timeout,
            tls,
            credentials,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Whether a login is configured, and as whom.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// `smtp.example.org:587 (starttls)`, for logs and `status`.
    pub fn describe(&self) -> String {
        format!("{}:{} ({})", self.host, self.port, self.security)
    }

    /// Delivers one email to the recipients of its envelope.
    ///
    /// `mail.smtp.timeout` bounds the whole attempt, not just the connect:
    /// lettre's client has no read timeout, so a server that stops
    /// answering mid-conversation would otherwise hang the daemon forever.
    /// A connection abandoned mid-command is dropped with the attempt and
    /// never reused (its next command would read the old reply).
    pub async fn send(&self, message: &lettre::Message) -> Result<(), SendError> {
        let bytes = message.formatted();
        let connected = AtomicBool::new(false);
        let attempt = self.deliver(message.envelope(), &bytes, &connected);
        self.within_timeout(attempt, &connected).await
    }

    /// Opens a new connection as a send would (TCP, the greeting, EHLO,
    /// STARTTLS or implicit TLS, and AUTH when `mail.smtp.username` is set)
    /// and closes it with QUIT, sending no mail: the check behind `followup
    /// doctor`. A fresh connection, never an idle one, so an `Ok` with a
    /// username means the server accepted the login just now.
    pub async fn check_connection(&self) -> Result<(), SendError> {
        let connected = AtomicBool::new(false);
        let attempt = async {
            let mut connection = self.connect().await?;
            connected.store(true, Ordering::Relaxed);
            connection.quit().await.map_err(Failure::Session)?;
            Ok(())
        };
        self.within_timeout(attempt, &connected).await
    }

    /// Runs `attempt` within `mail.smtp.timeout`. `connected` says whether
    /// it got as far as a working connection: a server that spoke and then
    /// went quiet is slow or stuck, and no TLS setting would help it.
    async fn within_timeout(
        &self,
        attempt: impl Future<Output = Result<(), Failure>>,
        connected: &AtomicBool,
    ) -> Result<(), SendError> {
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result.map_err(|failure| self.classify(&failure)),
            Err(_) => Err(SendError::Transient(format!(
                "no complete answer from {}:{} within {}s{}",
                self.host,
                self.port,
                self.timeout.as_secs_f32(),
                if connected.load(Ordering::Relaxed) {
                    " (it answered at first, then went quiet mid-conversation: a slow or stuck relay)"
                } else {
                    self.timeout_hint()
                }
            ))),
        }
    }

    async fn deliver(
        &self,
        envelope: &Envelope,
        bytes: &[u8],
        connected: &AtomicBool,
    ) -> Result<(), Failure> {
        if let Some(mut connection) = self.take_idle() {
            connected.store(true, Ordering::Relaxed);
            match transmit(&mut connection, envelope, bytes).await {
                Ok(()) => {
                    self.keep_idle(connection);
                    return Ok(());
                }
                // A server may close an idle connection without our
                // noticing, perhaps with a 421 we read only now. One fresh
                // connection is tried. Had the message got through before
                // the connection broke, the fresh try repeats it with the
                // same Message-ID, as any retry of the outbox would.
                Err(failure) if failure.on_a_stale_connection() => {}
                Err(failure) => return Err(failure),
            }
        }
        connected.store(false, Ordering::Relaxed);
        let mut connection = self.connect().await?;
        connected.store(true, Ordering::Relaxed);
        transmit(&mut connection, envelope, bytes).await?;
        self.keep_idle(connection);
        Ok(())
    }

    /// A new connection, encrypted and logged in as configured. A failure
    /// past the TCP connect is a [`Failure::Session`]: no message was
    /// offered yet.
    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let mut connection = match (&self.security, &self.tls) {
            (Security::Tls, Some(tls)) => AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                Some(tls.clone()),
                None,
            )
            .await
            .map_err(Failure::Session)?,
            _ => {
                let socket = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map_err(Failure::Connect)?;
                // The reason this pool exists: see the module comment.
                socket.set_nodelay(true).map_err(Failure::Connect)?;
                let mut connection =
                    AsyncSmtpConnection::connect_with_transport(Box::new(socket), &self.hello)
                        .await
                        .map_err(Failure::Session)?;
                if let (Security::StartTls, Some(tls)) = (&self.security, &self.tls) {
                    connection
                        .starttls(tls.clone(), &self.hello)
                        .await
                        .map_err(Failure::Session)?;
                }
                connection
            }
        };
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(Failure::Session)?;
        }
        Ok(connection)
    }

    /// The newest idle connection still young enough to trust; older ones
    /// are closed politely in the background.
    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let now = Instant::now();
        let (found, stale) = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let (fresh, stale): (Vec<_>, Vec<_>) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|(_, since)| now.duration_since(*since) < IDLE_LIMIT);
            *idle = fresh;
            (idle.pop().map(|(connection, _)| connection), stale)
        };
        for (connection, _) in stale {
            self.close_later(connection);
        }
        found
    }

    fn keep_idle(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let spare = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push((connection, Instant::now()));
                None
            } else {
                Some(connection)
            }
        };
        if let Some(connection) = spare {
            self.close_later(connection);
        }
    }

    fn close_later(&self, mut connection: AsyncSmtpConnection) {
        let timeout = self.timeout;
        tokio::spawn(async move {
            // QUIT, which a stalled server may never answer.
            let _ = tokio::time::timeout(timeout, connection.quit()).await;
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

    fn classify(&self, failure: &Failure) -> SendError {
        let place = format!("{}:{}", self.host, self.port);
        let err = match failure {
            Failure::Session(err) | Failure::Recipient(err) | Failure::Message(err) => err,
            Failure::Sender { error, .. } => error,
            Failure::Unsupported(what) => {
                return SendError::Transient(format!("cannot deliver through {place}: {what}"));
            }
            Failure::Connect(err) => {
                let hint = match err.kind() {
                    std::io::ErrorKind::ConnectionRefused => format!(
                        " (is an SMTP server listening on {}:{}?)",
                        self.host, self.port
                    ),
                    _ => String::new(),
                };
                return SendError::Transient(format!(
                    "cannot deliver through {place}: cannot connect: {err}{hint}"
                ));
            }
        };
        let detail = describe_error(err);
        if let Some(code) = err.status() {
            let number = u16::from(code);
            // A login refused (or required, at MAIL FROM) is a 5xx about
            // our credentials, whenever the server says it.
            if matches!(number, 530 | 534 | 535 | 538) {
                // "530 5.7.0 Must issue a STARTTLS command first": the
                // connection, not the login, is what the server wants
                // changed.
                if number == 530 && detail_lowercase(err).contains("starttls") {
                    return SendError::Transient(format!(
                        "{place} requires TLS before anything else: {detail}; set mail.smtp.security = \"starttls\" (port 587) or \"tls\" (port 465)"
                    ));
                }
                let fix = if number == 530 && self.username.is_none() {
                    "the server requires a login: set mail.smtp.username and a password file"
                } else {
                    "check mail.smtp.username and the password file"
                };
                return SendError::Transient(format!("{place} refused our login: {detail}; {fix}"));
            }
            if err.is_permanent() {
                return match failure {
                    // "552 5.3.4 Message size exceeds fixed limit": this
                    // email, not followup, is what the relay refuses (RFC
                    // 1870), and it would refuse it again.
                    Failure::Sender { size, .. } if too_large(number, err) => {
                        SendError::Permanent(format!(
                            "{place} will not take an email this large ({size} bytes): {detail}; raise the relay's message size limit above that"
                        ))
                    }
                    Failure::Sender { from, .. } => SendError::Transient(format!(
                        "the relay {place} refuses followup as a sender: it answered MAIL FROM:<{from}> with {detail}; check mail.from (the relay must accept that address from this host or login). {NOT_A_VERDICT}"
                    )),
                    Failure::Session(_) => SendError::Transient(format!(
                        "the relay {place} refuses followup before any message: {detail}; check that it accepts mail from this host (its relay policy, or mail.smtp.host, port and security). {NOT_A_VERDICT}"
                    )),
                    Failure::Recipient(err) if refuses_relaying(err) => {
                        SendError::Transient(format!(
                            "the relay {place} will not pass mail on for followup: {detail}; check that it lets this host or login send to other domains (mail.smtp.username and its password, or the relay's list of hosts it relays for). {NOT_A_VERDICT}"
                        ))
                    }
                    _ => SendError::Permanent(format!("{place} refused the message: {detail}")),
                };
            }
            // A 4xx before any message (a 421 greeting, a 454 to AUTH) is
            // the server turning us away for now, not deferring mail.
            return SendError::Transient(format!("{place} answered \"try again later\": {detail}"));
        }
        if detail_lowercase(err).contains("no compatible authentication mechanism") {
            return SendError::Transient(format!(
                "{place} offers no login this client can use: {detail}; a relay offers AUTH only over TLS as a rule, so set mail.smtp.security to \"starttls\" (port 587) or \"tls\" (port 465)"
            ));
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

/// Offers one email on an open connection: MAIL FROM, RCPT TO for each
/// recipient, DATA and the message, with the options lettre's own `send`
/// adds (SMTPUTF8 for an address outside ASCII, BODY=8BITMIME for a
/// message outside it). Each failure is tagged with the command that
/// failed; after one the connection is closed, as lettre does, since the
/// server may be mid-transaction.
async fn transmit(
    connection: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    bytes: &[u8],
) -> Result<(), Failure> {
    let mut options = Vec::new();
    let addresses_ascii = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .all(|address| AsRef::<str>::as_ref(address).is_ascii());
    if !addresses_ascii {
        if !connection
            .server_info()
            .supports_feature(Extension::SmtpUtfEight)
        {
            return Err(Failure::Unsupported(
                "an address is not ASCII and the server does not offer SMTPUTF8; use an ASCII address in mail.from and the desk's recipients",
            ));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() {
        if !connection
            .server_info()
            .supports_feature(Extension::EightBitMime)
        {
            return Err(Failure::Unsupported(
                "the email is not 7-bit and the server does not offer 8BITMIME",
            ));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let from = envelope.from().cloned();
    let offered = async {
        connection
            .command(Mail::new(from.clone(), options))
            .await
            .map_err(|error| Failure::Sender {
                error,
                from: from.as_ref().map(ToString::to_string).unwrap_or_default(),
                size: bytes.len(),
            })?;
        for to in envelope.to() {
            connection
                .command(Rcpt::new(to.clone(), Vec::new()))
                .await
                .map_err(Failure::Recipient)?;
        }
        connection.command(Data).await.map_err(Failure::Message)?;
        connection.message(bytes).await.map_err(Failure::Message)?;
        Ok(())
    }
    .await;
    if offered.is_err() {
        connection.abort().await;
    }
    offered
}

/// Whether a refusal of a recipient is the relay refusing to relay at all,
/// which Postfix and Exim say at RCPT TO ("554 5.7.1 <desk@…>: Relay
/// access denied", "550 relay not permitted"): a fault in the setup that
/// every recipient meets, not a verdict on this one. Said in words, or by
/// an enhanced status code of class 5.7 (security or policy). A policy
/// refusal of one recipient alone is then retried until
/// `mail.max_attempts` runs out rather than dead at once: slower to give
/// up, and nothing lost.
/// A refusal of the message's size: 552, or the enhanced status 5.3.4
/// ("message too big for system") under another code.
fn too_large(code: u16, err: &lettre::transport::smtp::Error) -> bool {
    let text = detail_lowercase(err);
    code == 552 || text.contains(" 5.3.4") || text.contains("(5.3.4")
}

fn refuses_relaying(err: &lettre::transport::smtp::Error) -> bool {
    let text = detail_lowercase(err);
    text.contains("relay") || text.contains(" 5.7.") || text.contains("(5.7.")
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

/// Where the SMTP password is read from: `password_file`, else
/// `credentials_dir/smtp-password`.
pub fn password_path(config: &SmtpConfig, credentials_dir: Option<&Path>) -> Option<PathBuf> {
    config
        .password_file
        .clone()
        .or_else(|| credentials_dir.map(|dir| dir.join(CREDENTIAL_NAME)))
}

/// Reads an SMTP password: the file's first line, without its line ending.
/// Refuses a file that group or others may read (`chmod 600` fixes it),
/// unless systemd put it in the service's `credentials_dir`: systemd
/// decides who reads its credentials, and newer versions write them mode
/// 0400 and grant the service's user through an ACL, which `stat` shows
/// as group bits (0440) on a mount that cannot be chmodded.
pub fn read_password(path: &Path, credentials_dir: Option<&Path>) -> Result<String, Error> {
    let read_error = |source| Error::PasswordRead {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    // Check the mode of the file we opened, not of whatever the path names
    // a moment later.
    let meta = file.metadata().map_err(read_error)?;
    refuse_unsafe(path, &meta, credentials_dir)?;
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

/// What [`read_password`] would refuse the file at `path` for, told
/// without opening it: missing, not a file, readable by other users, or
/// of no bytes at all. For `config check`, which must not read the
/// password, and may run as a user who could not.
pub fn check_password_file(path: &Path, credentials_dir: Option<&Path>) -> Result<(), Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::PasswordRead {
        path: path.to_path_buf(),
        source,
    })?;
    refuse_unsafe(path, &meta, credentials_dir)?;
    // Empty as the daemon reads it: no bytes, or a first line with none
    // (a lone newline is what an unset credential often comes out as).
    // Read only as far as the first line's first byte, never printed; a
    // file this user may not read is left to the daemon's user.
    let first_line_empty = match File::open(path) {
        Ok(file) => {
            use std::io::BufRead as _;
            let mut first = Vec::new();
            std::io::BufReader::new(file.take(1))
                .read_until(b'\n', &mut first)
                .is_ok_and(|_| first.is_empty() || first == b"\n" || first == b"\r")
        }
        Err(_) => meta.len() == 0,
    };
    if first_line_empty {
        return Err(Error::PasswordEmpty {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// The checks on a password file's kind and mode that [`read_password`]
/// and [`check_password_file`] share.
fn refuse_unsafe(
    path: &Path,
    meta: &std::fs::Metadata,
    credentials_dir: Option<&Path>,
) -> Result<(), Error> {
    if !meta.is_file() {
        return Err(Error::PasswordRead {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is not a file; name the file that holds the password",
            ),
        });
    }
    let mode = meta.permissions().mode();
    let from_systemd = credentials_dir.is_some_and(|dir| path.starts_with(dir));
    if mode & 0o077 != 0 && !from_systemd {
        return Err(Error::PasswordExposed {
            path: path.to_path_buf(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}
