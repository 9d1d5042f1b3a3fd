//! The reminder daemon: one process per database that wakes at least every
//! minute, plans what is owed, queues digests, and delivers the outbox.
//!
//! It owns the loop, signals (SIGHUP reloads the config, SIGTERM/SIGINT
//! stop it cleanly), the systemd protocol (READY, STATUS, WATCHDOG,
//! STOPPING) and the one-instance lock. Planning is `plan`'s, storage is
//! `store`'s, and rendering and sending are `mail`'s.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use jiff::civil::Date;
use jiff::{Span, Timestamp};
use tracing::{error, info, warn};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::{self, Config, Desk};
use crate::mail::{self, SendError, Transport};
use crate::monitoring::{self, Monitor};
use crate::plan::{self, LastReminder, Occasion, Policy, Tracked};
use crate::store::{Check, Claimed, Enqueue, Planned, Store};

/// The longest the loop sleeps: tokio's timers stop while a host is
/// suspended, so the wall clock is looked at again at least this often.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long a claimed outbox row is ours before another run may retry it.
const LEASE: Duration = Duration::from_secs(300);
/// How long shutdown waits for a send already on the wire.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// Commitments planned per transaction.
const PLAN_BATCH: usize = 2000;
/// Outbox rows claimed at a time, and how many of them are on the wire at
/// once (the SMTP pool keeps up to this many connections open).
const CLAIM_BATCH: usize = 256;
const PARALLEL_SENDS: usize = 32;
/// Temporary failures in a row after which the relay is taken to be down
/// for this tick: the sends not yet started wait for the next tick,
/// untouched, instead of each waiting out the SMTP timeout against a
/// relay that does not answer.
const RELAY_DOWN_AFTER: usize = 8;
/// How often a long tick tells systemd's watchdog it is still making
/// progress: a tick sending hundreds of emails through a slow relay can
/// outlast `WatchdogSec=`, and should not be killed for it.
const PROGRESS_PING: Duration = Duration::from_secs(1);

/// What one tick did, for logs and systemd's STATUS line.
#[derive(Debug, Default, Clone, Copy)]
pub struct TickReport {
    pub planned: usize,
    pub queued: usize,
    pub digests: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    pub cancelled: usize,
    /// Emails left for the next tick because the relay stopped answering.
    pub deferred: usize,
}

/// A lock file no daemon can take as it is: someone must fix it, so the
/// daemon exits 78 and systemd does not restart it every few seconds.
#[derive(Debug, thiserror::Error)]
pub enum LockFileError {
    #[error(
        "the lock file {} is a symbolic link, which followup never reads or writes through; remove it while no daemon runs (rm {})",
        path.display(), path.display()
    )]
    Link { path: PathBuf },
    #[error(
        "the folder {} for the database does not exist; create it (owned by the daemon's user) or set store.path in the config",
        folder.display()
    )]
    MissingFolder { folder: PathBuf },
    #[error(
        "cannot open the lock file {} ({source}); give it to the daemon's user (chown followup:followup {}), or remove it while no daemon runs",
        path.display(), path.display()
    )]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LockFileError {
    fn from_open(path: &Path, err: std::io::Error) -> LockFileError {
        match (err.raw_os_error(), err.kind()) {
            (Some(libc::ELOOP), _) => LockFileError::Link {
                path: path.to_path_buf(),
            },
            (_, std::io::ErrorKind::NotFound) => LockFileError::MissingFolder {
                folder: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            },
            _ => LockFileError::Open {
                path: path.to_path_buf(),
                source: err,
            },
        }
    }
}

/// Holds the one-daemon-per-database lock for as long as it lives.
pub struct InstanceLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file that sits beside a database: beside the file itself,
/// when the configured path is a link to it, so that two daemons reaching
/// one database by different names still meet at one lock.
pub fn lock_path(database: &Path) -> PathBuf {
    let database = std::fs::canonicalize(database).unwrap_or_else(|_| database.to_path_buf());
    let mut name = database.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    database.with_file_name(name)
}

impl InstanceLock {
    /// Takes the lock or says which process holds it.
    pub fn acquire(database: &Path) -> anyhow::Result<InstanceLock> {
        let path = lock_path(database);
        // Never through a symbolic link: the folder is the group's, and a
        // link put there would have a daemon run as root write its pid
        // over the file it points at.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(crate::store::SHARED_FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|err| LockFileError::from_open(&path, err))?;
        // A lock root made (a `restore` run as root) keeps no daemon of
        // the folder's user out (see `give_to_folder_owner`).
        crate::store::give_to_folder_owner(&file, crate::store::folder_of(&path));
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !locked {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("process {holder}")
            };
            anyhow::bail!(
                "another followup daemon ({who}) is already running on {}; stop it first (systemctl stop followup) — one daemon per database",
                database.display()
            );
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush());
        if let Err(err) = written {
            let fix = match err.kind() {
                std::io::ErrorKind::StorageFull => "free some space on its disk",
                std::io::ErrorKind::PermissionDenied => {
                    "let the daemon's user write to the database's folder"
                }
                _ => "check the database's folder",
            };
            anyhow::bail!(
                "cannot write this daemon's pid into the lock file {} ({err}); {fix}, then start the daemon again",
                path.display()
            );
        }
        Ok(InstanceLock { _file: file, path })
    }

    /// Why a daemon started by this user on `database` would stop at once
    /// for its lock file, if it would: the file is there but this user
    /// cannot open it to write (most often made by root, running a
    /// command as the wrong user).
    pub fn problem(database: &Path) -> Option<String> {
        let path = lock_path(database);
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(_) => None,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => Some(format!(
                "the lock file {} cannot be opened by this user ({err}), so a daemon started as this user stops at once; give it to the daemon's user (chown followup:followup {}), or remove it while no daemon runs",
                path.display(),
                path.display()
            )),
        }
    }

    /// Whether a daemon holds the lock on `database`, and which.
    pub fn holder(database: &Path) -> Holder {
        let path = lock_path(database);
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Holder::Nobody,
            Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
                return Holder::Unknown(format!("cannot tell: {}", LockFileError::Link { path }));
            }
            Err(err) => {
                return Holder::Unknown(format!(
                    "cannot tell: the lock file {} cannot be read by this user ({err}); run this as the daemon's user, or ask systemctl status followup",
                    path.display()
                ));
            }
        };
        // A folder opens and locks as a file would, and no daemon could
        // ever take it.
        if file.metadata().is_ok_and(|meta| meta.is_dir()) {
            return Holder::Unknown(format!(
                "cannot tell: the lock file {} is a folder, which keeps any daemon from starting; remove it (rmdir {})",
                path.display(),
                path.display()
            ));
        }
        // SAFETY: as above; a shared probe that we release at once.
        let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
        if free {
            // SAFETY: releasing the probe lock we just took.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
            return Holder::Nobody;
        }
        // Held, whatever its text says: a daemon between taking the lock
        // and writing its pid leaves it empty for a moment.
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        Holder::Daemon(text.trim().parse().ok())
    }
}

/// What the lock beside a database says of its daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// No daemon holds the lock.
    Nobody,
    /// A daemon holds it: its pid, when the lock file names one.
    Daemon(Option<u32>),
    /// The lock file cannot be read by this user: why, and what to do.
    Unknown(String),
}

impl Holder {
    /// The pid of the daemon holding the lock, when it is known.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Holder::Daemon(pid) => *pid,
            _ => None,
        }
    }

    /// How `status` and `doctor` describe it.
    pub fn describe(&self) -> String {
        match self {
            Holder::Nobody => "not running".to_string(),
            Holder::Daemon(Some(pid)) => format!("running (pid {pid})"),
            Holder::Daemon(None) => "running (its pid is not in the lock file yet)".to_string(),
            Holder::Unknown(why) => why.clone(),
        }
    }
}

/// Everything one tick needs.
pub struct Daemon {
    pub config: Config,
    pub store: Store,
    pub transport: Transport,
    policy: Policy,
    /// Whether sends a previous daemon left mid-way were made due again.
    recovered: bool,
    /// Whether the reminder policy was compared with the one the stored
    /// schedules were planned under (at start, and after each reload).
    policy_checked: bool,
    /// This database's token in reminders' thread roots, read (or drawn)
    /// in the first tick.
    thread: String,
    /// The database file the daemon opened (device and inode).
    file: Option<(u64, u64)>,
}

impl Daemon {
    pub fn new(config: Config) -> anyhow::Result<Daemon> {
        let store = Store::open(&config.store.path, Check::Full)?;
        let file = file_identity(&config.store.path);
        // Opening checked every page; give that page cache back (and fold
        // in a WAL a stopped daemon left). The file is mapped only while a
        // tick works (see `Store::start_work`).
        store.finish_work()?;
        let transport = Transport::from_config(&config.mail)?;
        let policy = Policy::from_config(&config.reminders);
        Ok(Daemon {
            config,
            store,
            transport,
            policy,
            recovered: false,
            policy_checked: false,
            thread: String::new(),
            file,
        })
    }

    /// Whether the path the daemon was given still names the file it has
    /// open. A database deleted, or replaced by another file (a copy moved
    /// into place), would otherwise be worked on unseen: the daemon would
    /// plan and send from a file no command reads any more, while every
    /// check of its health stayed green. It stops instead, saying why, and
    /// systemd starts it again on the file there now.
    pub fn still_on_its_database(&self) -> anyhow::Result<()> {
        let path = &self.config.store.path;
        let now = file_identity(path);
        if now.is_some() && now == self.file {
            return Ok(());
        }
        let what = if now.is_none() {
            "removed"
        } else {
            "replaced by another file"
        };
        anyhow::bail!(
            "the database {} was {what} while the daemon had it open; stopping, so that the daemon is started again on the database there now (systemd does so by itself; `followup restore` replaces a database safely)",
            path.display()
        )
    }

    /// Swaps in a new config. The database path cannot change while the
    /// daemon runs, since the lock is held on the old one.
    pub fn reload(&mut self, config: Config) -> anyhow::Result<()> {
        log_config_notes(&config);
        if config.store.path != self.config.store.path {
            anyhow::bail!(
                "store.path changed from {} to {}; restart the daemon to move databases",
                self.config.store.path.display(),
                config.store.path.display()
            );
        }
        self.transport = Transport::from_config(&config.mail)?;
        self.policy = Policy::from_config(&config.reminders);
        self.policy_checked = false;
        if config.http != self.config.http {
            warn!("http.listen changed; the HTTP listener moves at the next restart");
        }
        self.config = config;
        Ok(())
    }

    /// One pass: plan, queue digests, deliver. `stop` is checked between
    /// sends so a shutdown does not wait for a long queue.
    pub async fn tick(
        &mut self,
        now: Timestamp,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<TickReport> {
        let mut report = TickReport::default();
        if !self.recovered {
            // Done in the first tick rather than at start, so that a store
            // busy at start is a failed tick (retried, shown by /healthz),
            // not a daemon that will not start.
            let interrupted = self.store.recover_interrupted(now)?;
            if interrupted > 0 {
                warn!(
                    count = interrupted,
                    "emails were being sent when the daemon last stopped without warning; sending them again with the same Message-IDs"
                );
            }
            self.recovered = true;
        }
        if self.thread.is_empty() {
            self.thread = self.store.mail_thread()?;
        }
        if !self.policy_checked {
            self.plan_again_if_the_policy_changed()?;
            self.policy_checked = true;
        }
        let worked = async {
            self.plan(now, &mut report)?;
            self.queue_digests(now, &mut report)?;
            self.deliver(now, stop, &mut report).await
        }
        .await;
        // Also after a failed step: the WAL is folded and the memory given
        // back whatever the tick managed to do.
        let finished = self.finish_work();
        worked?;
        finished?;
        Ok(report)
    }

    /// Each commitment's next reminder time is stored as the policy of the
    /// day worked it out. When `[reminders]` changes (a new offset, a new
    /// send time or time zone), by a reload or across a restart, every
    /// open commitment is planned again, so that none waits for a time the
    /// new policy no longer has, or misses one it added.
    fn plan_again_if_the_policy_changed(&mut self) -> anyhow::Result<()> {
        const STATE: &str = "reminder-policy";
        let r = &self.config.reminders;
        let mut before = r.before.clone();
        before.sort_unstable();
        let policy = format!(
            "before {before:?}; overdue every {}; vague every {}; at {} {}",
            r.overdue_every, r.vague_every, r.send_time, r.timezone_name
        );
        if self.store.daemon_state(STATE)?.as_deref() == Some(policy.as_str()) {
            return Ok(());
        }
        let count = self.store.plan_all_again()?;
        if count > 0 {
            info!(count, %policy, "the reminder policy changed; planning open commitments again");
        }
        self.store.set_daemon_state(STATE, &policy)?;
        Ok(())
    }

    /// How long until an email in the outbox falls due for a retry, when
    /// one does after the tick that began at `tick_began`: the loop wakes
    /// for it rather than waiting out its minute, so that a `retry_first`
    /// or `retry_max` under 60 s is what the config says. `None` when
    /// nothing waits, or the store cannot say (the minute's wake then
    /// stands; a failed tick has already said why).
    pub fn until_next_attempt(&self, tick_began: Timestamp) -> Option<Duration> {
        let at = self.store.next_attempt_after(tick_began).ok()??;
        // Already past (the tick outlasted the retry's wait): at once.
        Some(
            at.duration_since(Timestamp::now())
                .try_into()
                .unwrap_or(Duration::ZERO),
        )
    }

    /// Ends a tick's work: folds the WAL it wrote into the database, and
    /// hands back what it took (SQLite's page cache, then the freed heap)
    /// so the daemon idles at its own small size whatever the last tick
    /// had to read.
    pub fn finish_work(&self) -> anyhow::Result<()> {
        self.store.finish_work()?;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free heap pages to the system.
        unsafe {
            libc::malloc_trim(0);
        }
        Ok(())
    }

    /// Step 1 of a tick: plan every commitment whose schedule is due and
    /// queue what is owed.
    pub fn plan(&mut self, now: Timestamp, report: &mut TickReport) -> anyhow::Result<()> {
        self.store.start_work()?;
        loop {
            let due = self.store.scheduled_before(now, PLAN_BATCH)?;
            if due.is_empty() {
                return Ok(());
            }
            let mut plans = Vec::with_capacity(due.len());
            for item in &due {
                let tracked = Tracked {
                    deadline: &item.deadline,
                    version: item.version,
                    last: item.last_queued.map(|(key, at)| LastReminder {
                        key,
                        on: self.policy.local_date(at),
                    }),
                };
                let decision = plan::due(&tracked, &self.policy, now);
                let send = decision.send.map(|reminder| {
                    let key = reminder.key.to_string();
                    let emails = recipients(&self.config, &item.tags)
                        .into_iter()
                        .map(|(desk, to)| Enqueue {
                            message_id: mail::message_id(
                                item.id,
                                &key,
                                to,
                                &self.config.mail.from,
                                fastrand::u64(..),
                            ),
                            desk: desk.name.clone(),
                            recipient: to.to_string(),
                        })
                        .collect();
                    (reminder.key, reminder.scheduled, emails)
                });
                plans.push(Planned {
                    id: item.id,
                    send,
                    next_at: decision.next_at,
                });
            }
            report.planned += plans.len();
            report.queued += self.store.apply_plans(&plans, now)?;
            if due.len() < PLAN_BATCH {
                return Ok(());
            }
        }
    }

    fn queue_digests(&mut self, now: Timestamp, report: &mut TickReport) -> anyhow::Result<()> {
        for desk in &self.config.desks {
            let Some(schedule) = &desk.digest else {
                continue;
            };
            let state = format!("digest-checked:{}", desk.name);
            let checked = match self.store.daemon_state(&state)? {
                Some(text) => text.parse::<Timestamp>().unwrap_or(now),
                None => {
                    // A new desk starts from now: no digests for the past.
                    self.store.set_daemon_state(&state, &now.to_string())?;
                    continue;
                }
            };
            if let Some(occasion) = digest_occasion(schedule, &self.policy, checked, now) {
                let date = self.policy.local_date(occasion);
                let key = digest_key(&desk.name, date);
                for to in &desk.recipients {
                    let email = Enqueue {
                        desk: desk.name.clone(),
                        recipient: to.to_string(),
                        message_id: mail::digest_message_id(
                            &desk.name,
                            date,
                            to,
                            &self.config.mail.from,
                            fastrand::u64(..),
                        ),
                    };
                    if self.store.enqueue_digest(&key, &email, now)? {
                        report.digests += 1;
                    }
                }
            }
            if checked != now {
                self.store.set_daemon_state(&state, &now.to_string())?;
            }
        }
        Ok(())
    }

    /// Step 3 of a tick: send what the outbox holds, until it is empty or
    /// `stop` is raised.
    pub async fn deliver(
        &mut self,
        now: Timestamp,
        stop: &tokio::sync::watch::Receiver<bool>,
        report: &mut TickReport,
    ) -> anyhow::Result<()> {
        use futures_util::StreamExt as _;
        self.store.start_work()?;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let claimed = self.store.claim(now, LEASE, CLAIM_BATCH)?;
            if claimed.is_empty() {
                return Ok(());
            }
            // Render everything first (that reads the store), then send
            // several at once over the transport's pooled connections.
            let today = self.policy.local_date(Timestamp::now());
            let mut ready = Vec::with_capacity(claimed.len());
            for row in claimed {
                if !self.store.still_wanted(row.row)? {
                    self.store.mark_cancelled(&row)?;
                    report.cancelled += 1;
                    continue;
                }
                match self.render(&row, today) {
                    Ok(message) => ready.push((row, message)),
                    Err(err) => {
                        error!(row = row.row, key = %row.key, error = %format!("{err:#}"), "cannot render the email; marking it dead");
                        self.store.mark_dead(
                            &row,
                            &format!("render: {err:#}"),
                            Timestamp::now(),
                        )?;
                        report.dead += 1;
                    }
                }
            }

            let Daemon {
                store,
                transport,
                config,
                ..
            } = self;
            let transport = &*transport;
            let relay_down = AtomicBool::new(false);
            let relay_down = &relay_down;
            let mut sends = futures_util::stream::iter(ready.iter())
                .map(|(row, message)| async move {
                    // Once stopping, or once the relay has stopped
                    // answering, nothing new goes on the wire.
                    if *stop.borrow() || relay_down.load(Ordering::Relaxed) {
                        return (row, None);
                    }
                    (row, Some(transport.send(message).await))
                })
                .buffer_unordered(PARALLEL_SENDS);
            let mut failing_in_a_row = 0;
            let mut pinged = std::time::Instant::now();
            let mut done = std::collections::HashSet::new();
            let mut stopping = stop.clone();
            let grace = async {
                let _ = stopping.wait_for(|s| *s).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            };
            tokio::pin!(grace);
            loop {
                tokio::select! {
                    next = sends.next() => match next {
                        Some((row, Some(outcome))) => {
                            done.insert(row.row);
                            if matches!(outcome, Err(SendError::Transient(_))) {
                                failing_in_a_row += 1;
                                if failing_in_a_row == RELAY_DOWN_AFTER {
                                    relay_down.store(true, Ordering::Relaxed);
                                }
                            } else {
                                failing_in_a_row = 0;
                            }
                            record_outcome(store, &config.mail.retry, row, outcome, report)?;
                            if pinged.elapsed() >= PROGRESS_PING {
                                notify(&[sd_notify::NotifyState::Watchdog]);
                                pinged = std::time::Instant::now();
                            }
                        }
                        Some((_, None)) => {}
                        None => break,
                    },
                    _ = &mut grace => break,
                }
            }
            drop(sends);
            // Whatever did not finish goes back to the queue for the next
            // run: the same row, the same Message-ID.
            let mut deferred = 0;
            for (row, _) in ready.iter().filter(|(row, _)| !done.contains(&row.row)) {
                store.release(row)?;
                deferred += 1;
            }
            if relay_down.load(Ordering::Relaxed) {
                // Sends already under way when the eighth failed were let
                // finish, so more than eight may have failed.
                warn!(
                    failures = failing_in_a_row,
                    deferred,
                    "{failing_in_a_row} sends in a row failed for now, and no more were started after the {RELAY_DOWN_AFTER}th; {deferred} not yet tried wait for the next tick"
                );
                report.deferred += deferred;
                return Ok(());
            }
        }
    }

    fn render(&self, row: &Claimed, today: Date) -> anyhow::Result<lettre::Message> {
        let to: lettre::Address = row
            .recipient
            .parse()
            .with_context(|| format!("recipient {:?} is not an address", row.recipient))?;
        let from = &self.config.mail.from;
        match row.commitment_id {
            Some(id) => {
                let record = self.store.record(id)?;
                let key: plan::ReminderKey = row.key.parse().map_err(anyhow::Error::msg)?;
                let latest = record.commitment.deadline.deadline.latest;
                let kind = match key.occasion {
                    Occasion::Review(n) => mail::ReminderKind::Review { n },
                    _ if today < latest => mail::ReminderKind::Before {
                        days: (latest - today).get_days().max(0) as u32,
                    },
                    _ if today == latest => mail::ReminderKind::Due,
                    _ => mail::ReminderKind::Overdue {
                        days: (today - latest).get_days().max(0) as u32,
                    },
                };
                let reminder = mail::Reminder {
                    record: &record,
                    kind,
                    key: &row.key,
                    message_id: &row.message_id,
                    thread: &self.thread,
                    to: &to,
                    today,
                    written_at: Timestamp::now(),
                };
                Ok(mail::render_reminder(&reminder, from)?)
            }
            None => {
                let desk = self
                    .config
                    .desks
                    .iter()
                    .find(|d| d.name == row.desk)
                    .with_context(|| format!("desk {:?} is no longer configured", row.desk))?;
                let digest = self.digest_contents(desk, today)?;
                let dead = self.store.dead_since(
                    Some(&desk.name),
                    Timestamp::now()
                        .checked_sub(Span::new().hours(7 * 24))
                        .unwrap_or(Timestamp::UNIX_EPOCH),
                )?;
                let titles: std::collections::HashMap<i64, String> =
                    digest.iter().map(|c| (c.id, c.title.clone())).collect();
                let dead: Vec<mail::DeadDelivery> = dead
                    .into_iter()
                    .filter_map(|d| Some((d.commitment_id?, d)))
                    .map(|(id, d)| mail::DeadDelivery {
                        commitment_id: id,
                        // A commitment the digest does not list (due later,
                        // or closed since) is looked up by itself.
                        title: titles.get(&id).cloned().unwrap_or_else(|| {
                            self.store.get(id).map(|c| c.title).unwrap_or_default()
                        }),
                        recipient: d.recipient,
                        key: d.key,
                        error: d.error,
                    })
                    .collect();
                let horizon = today.checked_add(Span::new().days(14)).unwrap_or(today);
                let overdue = digest
                    .iter()
                    .filter(|c| !c.deadline.deadline.vague && c.deadline.deadline.latest < today)
                    .collect();
                let due_soon = digest
                    .iter()
                    .filter(|c| {
                        !c.deadline.deadline.vague
                            && c.deadline.deadline.latest >= today
                            && c.deadline.deadline.latest <= horizon
                    })
                    .collect();
                let under_review = digest
                    .iter()
                    .filter(|c| c.deadline.deadline.vague)
                    .collect();
                let digest = mail::Digest {
                    desk: &desk.name,
                    to: &to,
                    // The day it stands for: yesterday's, say, for one
                    // caught up after downtime, whose Subject must not
                    // read like today's, which follows at its own time.
                    date: digest_day(&row.key).unwrap_or(today),
                    today,
                    overdue,
                    due_soon,
                    under_review,
                    dead_deliveries: dead,
                    message_id: &row.message_id,
                    written_at: Timestamp::now(),
                };
                Ok(mail::render_digest(&digest, from)?)
            }
        }
    }

    /// The open commitments a desk's digest covers: those routed to it
    /// that are overdue, due within 14 days, or vague. Two indexed
    /// queries, so a digest does not read every open commitment.
    fn digest_contents(
        &self,
        desk: &Desk,
        today: Date,
    ) -> anyhow::Result<Vec<crate::model::Commitment>> {
        let open = vec![crate::model::Status::Open];
        let horizon = today.checked_add(Span::new().days(15)).unwrap_or(today);
        let mut found = self.store.list(&crate::store::Filter {
            statuses: open.clone(),
            due_before: Some(horizon),
            vague: Some(false),
            ..Default::default()
        })?;
        found.extend(self.store.list(&crate::store::Filter {
            statuses: open,
            vague: Some(true),
            ..Default::default()
        })?);
        Ok(found
            .into_iter()
            .filter(|c| {
                self.config
                    .desks_for(&c.tags)
                    .iter()
                    .any(|d| d.name == desk.name)
            })
            .collect())
    }
}

/// systemd's watchdog interval for this process, read as systemd's own
/// library reads it: `WATCHDOG_USEC`, unless `WATCHDOG_PID` names another
/// process. (sd-notify's reading also wants `WATCHDOG_PID` present; a
/// drop-in or a wrapper that sets only the interval was then ignored, and
/// the loop pinged once a minute whatever the interval.)
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.trim().parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// The device and inode of the file at `path`, if there is one.
pub(crate) fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Stores how one send ended: sent, to be retried, or dead.
fn record_outcome(
    store: &mut Store,
    retry: &config::RetryPolicy,
    row: &Claimed,
    outcome: Result<(), SendError>,
    report: &mut TickReport,
) -> anyhow::Result<()> {
    let now = Timestamp::now();
    match outcome {
        Ok(()) => {
            store.mark_sent(row, now)?;
            report.sent += 1;
            info!(commitment = ?row.commitment_id, key = %row.key, to = %row.recipient, message_id = %row.message_id, "sent");
        }
        Err(SendError::Transient(reason)) if row.attempts < retry.attempts => {
            let retry_at = now.checked_add(backoff(retry, row.attempts)).unwrap_or(now);
            warn!(commitment = ?row.commitment_id, key = %row.key, to = %row.recipient, attempt = row.attempts, %retry_at, error = %reason, "delivery failed; will retry");
            store.mark_retry(row, retry_at, &reason)?;
            report.retried += 1;
        }
        Err(SendError::Transient(reason)) | Err(SendError::Permanent(reason)) => {
            error!(commitment = ?row.commitment_id, key = %row.key, to = %row.recipient, attempts = row.attempts, error = %reason, "delivery failed for good; the row is dead (see `followup status`)");
            store.mark_dead(row, &reason, now)?;
            report.dead += 1;
        }
    }
    Ok(())
}

/// Who gets a commitment's reminders: each recipient of each routed desk,
/// once per desk.
fn recipients<'a>(config: &'a Config, tags: &[String]) -> Vec<(&'a Desk, &'a lettre::Address)> {
    config
        .desks_for(tags)
        .into_iter()
        .flat_map(|desk| desk.recipients.iter().map(move |to| (desk, to)))
        .collect()
}

/// How long to wait before attempt `attempts + 1`: doubling from
/// `retry.first`, capped at `retry.max`, with ±20% jitter so a recovering
/// server is not hit by every row at once.
fn backoff(retry: &config::RetryPolicy, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let base = retry
        .first
        .saturating_mul(1 << exponent)
        .min(retry.max)
        .as_millis() as u64;
    let jitter = base / 5;
    Duration::from_millis(base - jitter + fastrand::u64(0..=2 * jitter))
}

/// How far a DST change can move a wall-clock time: two hours (the
/// largest shift in the time zone database), and an hour to spare.
const DST_REACH: i64 = 3;

/// The first digest time after `after`. Cron schedules are read in local
/// wall-clock time; each wall-clock match is turned into one instant (a
/// time skipped by DST moves forward, a repeated one takes the first), and
/// digests are keyed by local date, so none is sent twice.
///
/// Matches are looked for from a few hours of wall clock before `after`:
/// a match in a skipped hour moves forward past the wall-clock time it
/// could be checked at (02:30 on a spring-forward night happens at 03:30),
/// and a search from `after`'s own wall-clock time (03:00, say) would pass
/// over it to the next day's, and the day would have no digest.
fn next_digest(schedule: &cron::Schedule, policy: &Policy, after: Timestamp) -> Option<Timestamp> {
    use chrono::TimeZone as _;
    use chrono::{Datelike, Timelike};
    let local = after.to_zoned_datetime(policy.timezone.clone()).datetime();
    let wall = chrono::NaiveDate::from_ymd_opt(
        local.year().into(),
        local.month() as u32,
        local.day() as u32,
    )?
    .and_hms_opt(
        local.hour() as u32,
        local.minute() as u32,
        local.second() as u32,
    )?;
    let wall = chrono::Utc.from_utc_datetime(&wall);
    let from = wall.checked_sub_signed(chrono::TimeDelta::hours(DST_REACH))?;
    let beyond = wall.checked_add_signed(chrono::TimeDelta::hours(DST_REACH))?;
    for next in schedule.after(&from) {
        let naive = next.naive_utc();
        let civil = jiff::civil::date(naive.year() as i16, naive.month() as i8, naive.day() as i8)
            .at(
                naive.hour() as i8,
                naive.minute() as i8,
                naive.second() as i8,
                0,
            );
        let at = civil
            .to_zoned_datetime(policy.timezone.clone())
            .ok()?
            .timestamp();
        if at > after {
            return Some(at);
        }
        // Past this, every match is after `after`: the loop ends above.
        if next > beyond {
            return None;
        }
    }
    None
}

/// The latest digest time after `checked` and at or before `now`, if one
/// fell in between: the occasion a digest sent now stands for, whose local
/// date keys it. A digest caught up after downtime at 02:00 stands for
/// yesterday's 02:30, not today's, which still goes out at 02:30.
fn digest_occasion(
    schedule: &cron::Schedule,
    policy: &Policy,
    checked: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    // Weeks of downtime are caught up by one digest; looking back a
    // little over a week finds a weekly schedule's last occasion, and a
    // bound keeps a schedule of every second from walking the whole gap.
    let week_ago = now
        .checked_sub(Span::new().hours(8 * 24))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let mut occasion = next_digest(schedule, policy, checked).filter(|&at| at <= now)?;
    let mut cursor = occasion.max(week_ago);
    for _ in 0..1_000 {
        match next_digest(schedule, policy, cursor) {
            Some(at) if at <= now => {
                occasion = at;
                cursor = at;
            }
            _ => break,
        }
    }
    Some(occasion)
}

/// The outbox key of a desk's digest for one local day: at most one
/// digest per desk and day is ever queued.
fn digest_key(desk: &str, date: Date) -> String {
    format!("digest:{desk}:{date}")
}

/// The local day a digest's outbox key (see [`digest_key`]) stands for.
fn digest_day(key: &str) -> Option<Date> {
    key.rsplit_once(':')?.1.parse().ok()
}

/// Tells systemd something, when running under it; a no-op otherwise.
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(err) = sd_notify::notify(false, states) {
        warn!(error = %err, "cannot notify systemd");
    }
}

/// Runs the daemon until SIGTERM/SIGINT, or one tick with `once`.
/// What in the config works but is likely not what was meant, logged as
/// the daemon takes the config up.
fn log_config_notes(config: &Config) {
    for note in config.note_lines() {
        warn!("{note}");
    }
}

pub fn run(flag: Option<&Path>, config: Config, once: bool) -> anyhow::Result<()> {
    log_config_notes(&config);
    // The loop runs on this thread, and parts of a tick (planning, the
    // store) are synchronous: a long tick would hold up anything else on
    // it. With the HTTP listener the runtime gets one worker thread of its
    // own, so /healthz and /metrics answer while a tick delivers thousands
    // of emails. Without it, one thread is all the daemon needs.
    let mut builder = match config.http.listen {
        Some(_) if !once => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(1);
            builder
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let flag = flag.map(Path::to_path_buf);
    runtime.block_on(run_loop(flag, config, once))
}

async fn run_loop(flag: Option<PathBuf>, config: Config, once: bool) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // Handlers first: a signal that arrives while the store opens must be
    // handled, not kill the process with the default action.
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let _lock = InstanceLock::acquire(&config.store.path)?;
    // Bound before anything slow, so a taken port fails the start at once.
    let listener = match config.http.listen.filter(|_| !once) {
        Some(addr) => Some((addr, monitoring::bind(addr).await?)),
        None => None,
    };
    let mut daemon = Daemon::new(config)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let monitor = match listener {
        Some((addr, listener)) => {
            let store = Store::open(&daemon.config.store.path, Check::ReadOnly)?;
            let monitor = Arc::new(Monitor::new(
                store,
                daemon.config.reminders.timezone.clone(),
            ));
            tokio::spawn(monitoring::serve(
                listener,
                monitor.clone(),
                stop_rx.clone(),
            ));
            info!(%addr, "serving /healthz and /metrics");
            Some(monitor)
        }
        None => None,
    };
    // Signals that arrive mid-tick must stop delivery between sends, so
    // they are watched by a task of their own. systemd hears at once that
    // the daemon is stopping: a send in flight to a relay that has gone
    // quiet may hold the exit back for up to mail.smtp.timeout.
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => info!("SIGTERM: stopping"),
            _ = interrupt.recv() => info!("SIGINT: stopping"),
        }
        notify(&[sd_notify::NotifyState::Stopping]);
        let _ = stop_tx.send(true);
    });

    let watchdog = watchdog_interval();
    info!(
        database = %daemon.config.store.path.display(),
        transport = ?daemon.config.mail.transport,
        "followup daemon started"
    );
    notify(&[sd_notify::NotifyState::Ready]);
    loop {
        let started = std::time::Instant::now();
        let now = Timestamp::now();
        if let Some(monitor) = &monitor {
            monitor.tick_started();
        }
        daemon.still_on_its_database()?;
        let outcome = daemon.tick(now, &stop_rx).await;
        if let Some(monitor) = &monitor {
            let outcome = outcome.as_ref().map_err(|err| format!("{err:#}"));
            monitor.tick_finished(started.elapsed(), outcome);
        }
        match outcome {
            Ok(report) => {
                if report.queued
                    + report.sent
                    + report.dead
                    + report.retried
                    + report.digests
                    + report.deferred
                    > 0
                {
                    info!(
                        planned = report.planned,
                        queued = report.queued,
                        digests = report.digests,
                        sent = report.sent,
                        retried = report.retried,
                        dead = report.dead,
                        cancelled = report.cancelled,
                        deferred = report.deferred,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "tick"
                    );
                }
                let status = daemon
                    .store
                    .outbox_counts(now)
                    .map(|c| {
                        format!(
                            "pending {} retrying {} dead {} sent(24h) {}",
                            c.pending, c.retrying, c.dead, c.sent_last_24h
                        )
                    })
                    .unwrap_or_default();
                notify(&[
                    sd_notify::NotifyState::Status(&status),
                    sd_notify::NotifyState::Watchdog,
                ]);
            }
            // One tick is all `--once` (a cron job, a script) was asked
            // for: a failed one is its failure, said in its exit status.
            Err(err) if once => {
                return Err(err.context(
                    "the tick did not finish; nothing is lost: what it could not do waits for the next run",
                ));
            }
            Err(err) => error!(error = %format!("{err:#}"), "tick failed; will try again"),
        }
        if once || *stop_rx.borrow() {
            break;
        }
        let mut sleep = MAX_SLEEP;
        if let Some(limit) = watchdog {
            sleep = sleep.min(limit / 2);
        }
        if let Some(wait) = daemon.until_next_attempt(now) {
            sleep = sleep.min(wait);
        }
        let mut stop = stop_rx.clone();
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = stop.wait_for(|s| *s) => break,
            _ = hangup.recv() => {
                notify(&[sd_notify::NotifyState::Reloading]);
                match config::load(flag.as_deref()) {
                    Ok(config) => match daemon.reload(config) {
                        Ok(()) => {
                            info!("SIGHUP: configuration reloaded");
                            if let Some(monitor) = &monitor {
                                monitor.set_timezone(daemon.config.reminders.timezone.clone());
                            }
                        }
                        Err(err) => error!(error = %format!("{err:#}"), "SIGHUP: new configuration refused; keeping the old one"),
                    },
                    Err(err) => error!(error = %format!("{err:#}"), "SIGHUP: new configuration is invalid; keeping the old one"),
                }
                notify(&[sd_notify::NotifyState::Ready]);
            }
        }
    }
    info!("followup daemon stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let retry = config::RetryPolicy {
            first: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            attempts: 12,
        };
        let secs = |attempts| backoff(&retry, attempts).as_secs_f64();
        for _ in 0..100 {
            assert!((48.0..=72.0).contains(&secs(1)));
            assert!((192.0..=288.0).contains(&secs(3)));
            assert!((2880.0..=4320.0).contains(&secs(30)));
        }
    }

    #[test]
    fn digests_follow_local_wall_clock_time() {
        let schedule = cron::Schedule::from_str("0 0 8 * * Mon-Fri").unwrap();
        let mut policy = Policy::from_config(&Config::embedded().reminders);
        policy.timezone = jiff::tz::TimeZone::get("Asia/Damascus").unwrap();
        // Saturday 2026-11-28 12:00 UTC → next is Monday 08:00 Damascus (UTC+3).
        let after: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        let next = next_digest(&schedule, &policy, after).unwrap();
        assert_eq!(next.to_string(), "2026-11-30T05:00:00Z");
    }

    fn new_york() -> Policy {
        let mut policy = Policy::from_config(&Config::embedded().reminders);
        policy.timezone = jiff::tz::TimeZone::get("America/New_York").unwrap();
        policy
    }

    fn instant(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_digest_in_the_hour_dst_skips_is_sent_an_hour_later_that_day() {
        let schedule = cron::Schedule::from_str("0 30 2 * * *").unwrap();
        let policy = new_york();
        // 12 March 2028: clocks go from 02:00 EST to 03:00 EDT (07:00 UTC).
        // Checked at 03:00 EDT, the day's 02:30 has not happened yet: it
        // happens at 03:30 EDT.
        let next = next_digest(&schedule, &policy, instant("2028-03-12T07:00:00Z"));
        assert_eq!(next, Some(instant("2028-03-12T07:30:00Z")));
        // Checked before the change, the same.
        let next = next_digest(&schedule, &policy, instant("2028-03-12T06:00:00Z"));
        assert_eq!(next, Some(instant("2028-03-12T07:30:00Z")));
        // Once it has happened, the next is the following night's.
        let next = next_digest(&schedule, &policy, instant("2028-03-12T07:30:00Z"));
        assert_eq!(next, Some(instant("2028-03-13T06:30:00Z")));
    }

    #[test]
    fn a_digest_in_the_hour_dst_repeats_is_sent_once() {
        let schedule = cron::Schedule::from_str("0 30 1 * * *").unwrap();
        let policy = new_york();
        // 7 November 2027: 01:30 happens at 05:30 UTC (EDT) and again at
        // 06:30 UTC (EST). Only the first is a digest time.
        let next = next_digest(&schedule, &policy, instant("2027-11-07T05:00:00Z"));
        assert_eq!(next, Some(instant("2027-11-07T05:30:00Z")));
        let next = next_digest(&schedule, &policy, instant("2027-11-07T05:30:00Z"));
        assert_eq!(next, Some(instant("2027-11-08T06:30:00Z")));
    }

    #[test]
    fn a_digest_caught_up_after_downtime_stands_for_the_last_day_it_missed() {
        let schedule = cron::Schedule::from_str("0 30 2 * * *").unwrap();
        let policy = new_york();
        // Sent on 16 March; down until 19 March 02:00 EDT (06:00 UTC).
        let checked = instant("2027-03-16T06:31:00Z");
        let now = instant("2027-03-19T06:00:00Z");
        let occasion = digest_occasion(&schedule, &policy, checked, now).unwrap();
        assert_eq!(occasion, instant("2027-03-18T06:30:00Z"));
        assert_eq!(policy.local_date(occasion), jiff::civil::date(2027, 3, 18));
        // The 19th's still falls due at its time.
        let later = instant("2027-03-19T06:31:00Z");
        let occasion = digest_occasion(&schedule, &policy, now, later).unwrap();
        assert_eq!(policy.local_date(occasion), jiff::civil::date(2027, 3, 19));
        // Nothing between two checks, nothing owed.
        assert_eq!(
            digest_occasion(&schedule, &policy, later, instant("2027-03-19T07:00:00Z")),
            None
        );
    }

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("followup.db");
        let first = InstanceLock::acquire(&db).unwrap();
        assert_eq!(
            InstanceLock::holder(&db),
            Holder::Daemon(Some(std::process::id()))
        );
        let err = InstanceLock::acquire(&db).err().unwrap().to_string();
        assert!(
            err.contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        drop(first);
        assert_eq!(InstanceLock::holder(&db), Holder::Nobody);
        InstanceLock::acquire(&db).unwrap();
    }

    #[test]
    fn a_lock_held_before_its_pid_is_written_is_still_a_running_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("followup.db");
        let lock = File::create(lock_path(&db)).unwrap();
        // SAFETY: flock on a descriptor this test owns.
        assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
        let holder = InstanceLock::holder(&db);
        assert_eq!(holder, Holder::Daemon(None));
        assert!(holder.describe().starts_with("running"), "{holder:?}");
    }

    #[test]
    fn a_daemon_reaching_the_database_through_a_link_meets_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("followup.db");
        std::fs::write(&db, b"").unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&db, &link).unwrap();
        let _first = InstanceLock::acquire(&db).unwrap();
        assert_eq!(
            InstanceLock::holder(&link),
            Holder::Daemon(Some(std::process::id()))
        );
        let err = InstanceLock::acquire(&link).err().unwrap().to_string();
        assert!(err.contains("already running"), "{err}");
    }
}
