//! A real SMTP server on 127.0.0.1 for the transport tests: mailin's SMTP
//! state machine (the engine inside mailin-embedded) behind a plain TCP
//! listener. We drive mailin ourselves rather than use mailin-embedded
//! because the embedded server cannot allow AUTH without TLS and cannot be
//! stopped; here a test can do both, and choose what the server replies.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use mailin::response::{AUTH_OK, INVALID_CREDENTIALS, OK};
use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder};

/// How the server answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Accept every message.
    Accept,
    /// Refuse every recipient with this reply.
    RejectRecipient(u16, &'static str),
    /// Take the message, then refuse it at the end of DATA with this reply.
    RejectData(u16, &'static str),
    /// Accept each message, then close the connection without a word, as
    /// a server does with a client that stayed idle too long.
    HangUpAfterEach,
    /// Greet with this reply instead of 220 (e.g. 554, "no service for
    /// you"), then answer every command but QUIT with 503.
    RefuseGreeting(u16, &'static str),
    /// Refuse every MAIL FROM with this reply.
    RefuseSender(u16, &'static str),
}

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

/// One AUTH PLAIN attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    logins: Mutex<Vec<Login>>,
    connections: AtomicUsize,
    stop: AtomicBool,
}

/// A running server; dropping it stops accepting connections.
pub struct SmtpServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl SmtpServer {
    /// Starts a server without AUTH.
    pub fn start(behaviour: Behaviour) -> SmtpServer {
        SmtpServer::start_with(behaviour, None)
    }

    /// Starts a server that offers AUTH PLAIN over the plain connection and
    /// accepts only `username` with `password`.
    pub fn start_with_auth(username: &str, password: &str) -> SmtpServer {
        SmtpServer::start_with(
            Behaviour::Accept,
            Some(Login {
                username: username.into(),
                password: password.into(),
            }),
        )
    }

    fn start_with(behaviour: Behaviour, login: Option<Login>) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let mut builder = SessionBuilder::new("test.smtp.local");
        if login.is_some() {
            builder
                .enable_auth(AuthMechanism::Plain)
                .insecure_enable_plaintext_auth();
        }
        let state = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                state.connections.fetch_add(1, Ordering::SeqCst);
                let hang_up = Arc::new(AtomicBool::new(false));
                let handler = Recorder {
                    shared: Arc::clone(&state),
                    hang_up: Arc::clone(&hang_up),
                    behaviour: behaviour.clone(),
                    login: login.clone(),
                    current: None,
                };
                let builder = builder.clone();
                thread::spawn(move || serve(stream, &builder, handler, &hang_up));
            }
        });
        SmtpServer { addr, shared }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn logins(&self) -> Vec<Login> {
        self.shared.logins.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(stream: TcpStream, builder: &SessionBuilder, handler: Recorder, hang_up: &AtomicBool) {
    let peer = stream
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    if let Behaviour::RefuseGreeting(code, text) = handler.behaviour {
        turn_away(reader, writer, Response::custom(code, text.into()));
        return;
    }
    let mut session = builder.build(peer, handler);
    if session.greeting().write_to(&mut writer).is_err() {
        return;
    }
    let mut line = Vec::new();
    while next_line(&mut reader, &mut line) {
        let response = session.process(&line);
        match response.action {
            Action::NoReply => {}
            Action::Reply => {
                if response.write_to(&mut writer).is_err() || hang_up.load(Ordering::SeqCst) {
                    return;
                }
            }
            Action::Close | Action::UpgradeTls => {
                let _ = response.write_to(&mut writer);
                let _ = writer.flush();
                return;
            }
        }
    }
}

/// Reads the client's next line into `line`: false once the client has
/// gone (or the connection broke).
fn next_line(reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> bool {
    line.clear();
    matches!(reader.read_until(b'\n', line), Ok(n) if n > 0)
}

/// What RFC 5321 (3.1) asks of a server that greets with 554: it waits
/// for QUIT, answering anything else with 503.
fn turn_away(mut reader: BufReader<TcpStream>, mut writer: TcpStream, greeting: Response) {
    if greeting.write_to(&mut writer).is_err() {
        return;
    }
    let mut line = Vec::new();
    while next_line(&mut reader, &mut line) {
        if line.to_ascii_uppercase().starts_with(b"QUIT") {
            let _ = writer.write_all(b"221 bye\r\n");
            return;
        }
        if writer.write_all(b"503 5.5.1 no service\r\n").is_err() {
            return;
        }
    }
}

struct Recorder {
    shared: Arc<Shared>,
    /// Set when the connection must close after the current reply: mailin
    /// stays in its DATA state after refusing a message, so it would take
    /// the client's next command (RSET or QUIT) for message text. Closing,
    /// as many real servers do after refusing DATA, keeps the test honest.
    hang_up: Arc<AtomicBool>,
    behaviour: Behaviour,
    login: Option<Login>,
    current: Option<Received>,
}

impl Handler for Recorder {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        match self.behaviour {
            Behaviour::RefuseSender(code, text) => Response::custom(code, text.into()),
            _ => OK,
        }
    }

    fn rcpt(&mut self, _to: &str) -> Response {
        match self.behaviour {
            Behaviour::RejectRecipient(code, text) => Response::custom(code, text.into()),
            _ => OK,
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Received {
            from: from.to_string(),
            to: to.to_vec(),
            data: Vec::new(),
        });
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(current) = &mut self.current {
            current.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let current = self.current.take();
        match self.behaviour {
            Behaviour::RejectData(code, text) => {
                self.hang_up.store(true, Ordering::SeqCst);
                Response::custom(code, text.into())
            }
            _ => {
                if let Some(message) = current {
                    self.shared.received.lock().unwrap().push(message);
                }
                if matches!(self.behaviour, Behaviour::HangUpAfterEach) {
                    self.hang_up.store(true, Ordering::SeqCst);
                }
                OK
            }
        }
    }

    fn auth_plain(
        &mut self,
        _authorization_id: &str,
        authentication_id: &str,
        password: &str,
    ) -> Response {
        let attempt = Login {
            username: authentication_id.to_string(),
            password: password.to_string(),
        };
        self.shared.logins.lock().unwrap().push(attempt.clone());
        if self.login.as_ref() == Some(&attempt) {
            AUTH_OK
        } else {
            INVALID_CREDENTIALS
        }
    }
}
