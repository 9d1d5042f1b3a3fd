//! A real SMTP server on 127.0.0.1 for the tests: it speaks the protocol
//! over TCP, records every message it accepts, and can be told to answer
//! DATA or RCPT with failures, to exercise retries and dead letters, or
//! to refuse followup itself (at the greeting or MAIL FROM). Started
//! with a login, it offers AUTH PLAIN and LOGIN, accepts only that username
//! and password (535 for anything else), and refuses mail before a login.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Received {
    pub recipients: Vec<String>,
    pub data: String,
}

impl Received {
    /// A message read from a file (a Maildir entry); line ends normalised.
    pub fn from_text(text: &str) -> Received {
        Received {
            recipients: Vec::new(),
            data: text.replace("\r\n", "\n"),
        }
    }

    fn head(&self) -> &str {
        self.data.split("\n\n").next().unwrap_or("")
    }

    /// The value of a header (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let mut value: Option<String> = None;
        for line in self.head().split('\n') {
            if let Some(v) = value.as_mut()
                && (line.starts_with(' ') || line.starts_with('\t'))
            {
                v.push_str(line);
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_string());
            }
        }
        value
    }
}

/// One AUTH attempt the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub mechanism: String,
    pub username: String,
    pub accepted: bool,
}

#[derive(Default)]
struct Script {
    /// Replies to the end of DATA, used in order; 250 once empty.
    data_replies: VecDeque<DataReply>,
    /// Replies to RCPT TO for particular recipients.
    rcpt_replies: HashMap<String, String>,
    /// Replies to the next MAIL FROM commands, in order; 250 once empty.
    mail_replies: VecDeque<String>,
    /// Replies to the next RCPT TO commands, whoever the recipient.
    next_rcpt_replies: VecDeque<String>,
    /// While set, the server is gone: connections are dropped at once.
    away: bool,
    /// While set, the greeting is this reply (a 554, say) instead of 220.
    greeting: Option<String>,
    /// While set, every MAIL FROM is answered with this reply.
    every_mail_reply: Option<String>,
    /// The only username and password accepted, when a login is required.
    login: Option<(String, String)>,
    /// The AUTH mechanisms offered in EHLO.
    mechanisms: Vec<&'static str>,
    logins: Vec<Login>,
}

/// What the server does at the end of DATA instead of a plain 250.
enum DataReply {
    /// Refuse with this reply; the message is not kept.
    Reply(String),
    /// Keep the message, then drop the connection without a word.
    KeepAndReset,
    /// Keep the message, then wait this long before saying 250.
    KeepAndStall(Duration),
}

pub struct SmtpServer {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::with_script(Script::default())
    }

    /// A server that requires a login with this username and password,
    /// offering AUTH PLAIN and LOGIN.
    pub fn with_login(username: &str, password: &str) -> SmtpServer {
        SmtpServer::with_login_by(username, password, &["PLAIN", "LOGIN"])
    }

    /// A server that requires a login, offering only these mechanisms.
    pub fn with_login_by(
        username: &str,
        password: &str,
        mechanisms: &[&'static str],
    ) -> SmtpServer {
        SmtpServer::with_script(Script {
            login: Some((username.to_string(), password.to_string())),
            mechanisms: mechanisms.to_vec(),
            ..Script::default()
        })
    }

    /// A server on a listener the caller opened (a port that refused
    /// connections until now).
    pub fn start_on(listener: TcpListener) -> SmtpServer {
        SmtpServer::serving(listener, Script::default())
    }

    fn with_script(script: Script) -> SmtpServer {
        SmtpServer::serving(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    fn serving(listener: TcpListener, script: Script) -> SmtpServer {
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        let (r, s) = (received.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s) = (r.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &r, &s);
                });
            }
        });
        SmtpServer {
            port,
            received,
            script,
        }
    }

    /// Every AUTH attempt so far, in order.
    pub fn logins(&self) -> Vec<Login> {
        self.script.lock().unwrap().logins.clone()
    }

    /// Answer the next end-of-DATA with this reply (e.g. "451 4.3.0 try later").
    pub fn reply_to_next_data(&self, reply: &str) {
        self.script
            .lock()
            .unwrap()
            .data_replies
            .push_back(DataReply::Reply(reply.to_string()));
    }

    /// Keep the next message, then reset the connection before replying.
    pub fn reset_after_next_data(&self) {
        self.script
            .lock()
            .unwrap()
            .data_replies
            .push_back(DataReply::KeepAndReset);
    }

    /// Keep the next message, then take `delay` to say so.
    pub fn stall_after_next_data(&self, delay: Duration) {
        self.script
            .lock()
            .unwrap()
            .data_replies
            .push_back(DataReply::KeepAndStall(delay));
    }

    /// Answer the next MAIL FROM with this reply (e.g. "421 4.3.2 shutting down").
    pub fn reply_to_next_mail(&self, reply: &str) {
        self.script
            .lock()
            .unwrap()
            .mail_replies
            .push_back(reply.to_string());
    }

    /// Answer the next RCPT TO, whoever it names, with this reply.
    pub fn reply_to_next_recipient(&self, reply: &str) {
        self.script
            .lock()
            .unwrap()
            .next_rcpt_replies
            .push_back(reply.to_string());
    }

    /// Greets every new connection with this reply (e.g. "554 5.3.2 not
    /// accepting"), answering every command but QUIT with 503, until
    /// called with `None`.
    pub fn greet_with(&self, reply: Option<&str>) {
        self.script.lock().unwrap().greeting = reply.map(str::to_string);
    }

    /// Answers every MAIL FROM with this reply (e.g. "550 5.7.1 relay
    /// access denied") until called with `None`.
    pub fn reply_to_every_mail(&self, reply: Option<&str>) {
        self.script.lock().unwrap().every_mail_reply = reply.map(str::to_string);
    }

    /// Goes away (every connection dropped) or comes back.
    pub fn set_away(&self, away: bool) {
        self.script.lock().unwrap().away = away;
    }

    /// Answer RCPT TO for this recipient with this reply (e.g. "550 5.1.1 no such user").
    pub fn reply_to_recipient(&self, recipient: &str, reply: &str) {
        self.script
            .lock()
            .unwrap()
            .rcpt_replies
            .insert(recipient.to_string(), reply.to_string());
    }

    /// Takes this recipient again, as after the fix of what refused it.
    pub fn accept_recipient(&self, recipient: &str) {
        self.script.lock().unwrap().rcpt_replies.remove(recipient);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    received: &Mutex<Vec<Received>>,
    script: &Mutex<Script>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut recipients = Vec::new();
    if script.lock().unwrap().away {
        return Ok(());
    }
    let mut logged_in = script.lock().unwrap().login.is_none();
    let greeting = script.lock().unwrap().greeting.clone();
    if let Some(greeting) = greeting {
        // RFC 5321 (3.1): after a 554 greeting, wait for QUIT.
        write!(out, "{greeting}\r\n")?;
        let mut line = String::new();
        while reader.read_line(&mut line)? > 0 {
            if line.to_ascii_uppercase().starts_with("QUIT") {
                write!(out, "221 bye\r\n")?;
                break;
            }
            write!(out, "503 5.5.1 no service\r\n")?;
            line.clear();
        }
        return Ok(());
    }
    write!(out, "220 localhost test SMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || script.lock().unwrap().away {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mechanisms = script.lock().unwrap().mechanisms.join(" ");
            if !mechanisms.is_empty() {
                write!(out, "250-localhost\r\n250-AUTH {mechanisms}\r\n")?;
            } else {
                write!(out, "250-localhost\r\n")?;
            }
            write!(out, "250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if upper.starts_with("AUTH ") {
            let mut words = command.split_whitespace().skip(1);
            let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
            let initial = words.next().map(str::to_string);
            let mut ask = |prompt: &str| -> std::io::Result<String> {
                write!(out, "334 {prompt}\r\n")?;
                let mut answer = String::new();
                reader.read_line(&mut answer)?;
                Ok(answer.trim_end().to_string())
            };
            let (username, password) = match mechanism.as_str() {
                "PLAIN" => {
                    let response = match initial {
                        Some(response) => response,
                        None => ask("")?,
                    };
                    let decoded = base64_decode(&response);
                    let mut parts = decoded.split(|b| *b == 0).skip(1);
                    let user = parts.next().unwrap_or_default();
                    let pass = parts.next().unwrap_or_default();
                    (
                        String::from_utf8_lossy(user).into_owned(),
                        String::from_utf8_lossy(pass).into_owned(),
                    )
                }
                "LOGIN" => {
                    let user = match initial {
                        Some(user) => user,
                        None => ask(&base64_encode(b"Username:"))?,
                    };
                    let pass = ask(&base64_encode(b"Password:"))?;
                    (
                        String::from_utf8_lossy(&base64_decode(&user)).into_owned(),
                        String::from_utf8_lossy(&base64_decode(&pass)).into_owned(),
                    )
                }
                _ => {
                    write!(out, "504 5.5.4 mechanism not supported\r\n")?;
                    continue;
                }
            };
            let mut script = script.lock().unwrap();
            let accepted = script
                .login
                .as_ref()
                .is_some_and(|(u, p)| *u == username && *p == password);
            script.logins.push(Login {
                mechanism,
                username,
                accepted,
            });
            if accepted {
                logged_in = true;
                write!(out, "235 2.7.0 authentication successful\r\n")?;
            } else {
                write!(out, "535 5.7.8 authentication credentials invalid\r\n")?;
            }
        } else if upper.starts_with("MAIL FROM") && !logged_in {
            write!(out, "530 5.7.0 authentication required\r\n")?;
        } else if upper.starts_with("MAIL FROM") {
            recipients.clear();
            let reply = {
                let mut script = script.lock().unwrap();
                let every = script.every_mail_reply.clone();
                every.or_else(|| script.mail_replies.pop_front())
            };
            let reply = reply.unwrap_or_else(|| "250 2.1.0 ok".into());
            write!(out, "{reply}\r\n")?;
        } else if upper.starts_with("RCPT TO") {
            let address = command
                .split_once('<')
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(a, _)| a.to_string())
                .unwrap_or_default();
            let reply = {
                let mut script = script.lock().unwrap();
                match script.next_rcpt_replies.pop_front() {
                    Some(reply) => Some(reply),
                    None => script.rcpt_replies.get(&address).cloned(),
                }
            };
            match reply {
                Some(reply) => write!(out, "{reply}\r\n")?,
                None => {
                    recipients.push(address);
                    write!(out, "250 2.1.5 ok\r\n")?;
                }
            }
        } else if upper == "DATA" {
            write!(out, "354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(&unstuffed.replace("\r\n", "\n"));
            }
            let reply = script.lock().unwrap().data_replies.pop_front();
            if let Some(DataReply::Reply(reply)) = reply {
                write!(out, "{reply}\r\n")?;
                continue;
            }
            received.lock().unwrap().push(Received {
                recipients: recipients.clone(),
                data,
            });
            match reply {
                Some(DataReply::KeepAndReset) => return Ok(()),
                Some(DataReply::KeepAndStall(delay)) => std::thread::sleep(delay),
                _ => {}
            }
            write!(out, "250 2.0.0 queued\r\n")?;
        } else if upper == "RSET" || upper == "NOOP" {
            write!(out, "250 ok\r\n")?;
        } else if upper == "QUIT" {
            write!(out, "221 bye\r\n")?;
            return Ok(());
        } else {
            write!(out, "502 5.5.2 not implemented\r\n")?;
        }
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(BASE64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let (mut n, mut bits) = (0u32, 0);
    for c in text.bytes() {
        let Some(value) = BASE64.iter().position(|b| *b == c) else {
            continue;
        };
        n = (n << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((n >> bits) as u8);
            n &= (1 << bits) - 1;
        }
    }
    bytes
}

#[test]
fn base64_round_trips() {
    for text in ["", "a", "ab", "abc", "\0followup\0s3cret pass", "Username:"] {
        assert_eq!(
            base64_decode(&base64_encode(text.as_bytes())),
            text.as_bytes()
        );
    }
    assert_eq!(base64_encode(b"Username:"), "VXNlcm5hbWU6");
}
