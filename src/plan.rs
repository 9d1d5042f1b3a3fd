//! Reminder planning: given one open commitment, the reminder policy and the
//! current instant, which reminder is owed now, and when the next one falls.
//!
//! Pure: no clock, no store. The daemon passes `now` in and persists what
//! this returns (the outbox row and the commitment's `next_reminder_at`).
//!
//! The rules, in the desk's terms:
//! - A dated deadline gets a reminder `before` each offset of its `latest`
//!   day (an offset of 0 is the reminder on the day, `due`), then `overdue`
//!   the day after `latest`, then every `overdue_every` days until closed.
//! - A vague deadline gets a `review` every `vague_every` days from the
//!   announcement instead.
//! - Everything fires at `send_time` in the configured time zone.
//! - At any moment a commitment is owed at most one reminder: the most
//!   recent occurrence at or before now that has not been sent. Older missed
//!   ones collapse into it, so a daemon back from downtime sends one reminder
//!   per commitment, not a backlog; the next overdue or review reminder is
//!   then counted from the day this one went out.
//! - Keys carry the deadline version, so a revision starts a fresh schedule
//!   and nothing fires twice for the same version.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::config::ReminderConfig;
use crate::deadline::Deadline;

/// When reminders fire; built from the `[reminders]` config section.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Days before `latest`, any order; 0 means on the day.
    pub before: Vec<u32>,
    pub overdue_every: u32,
    pub vague_every: u32,
    pub send_time: Time,
    pub timezone: TimeZone,
}

impl Policy {
    pub fn from_config(config: &ReminderConfig) -> Policy {
        Policy {
            before: config.before.clone(),
            overdue_every: config.overdue_every.max(1),
            vague_every: config.vague_every.max(1),
            send_time: config.send_time,
            timezone: config.timezone.clone(),
        }
    }

    /// The instant a reminder for `date` fires. A send time that falls in
    /// a DST gap moves forward, one in a repeated hour takes the first: one
    /// instant either way, so the reminder fires once.
    pub fn instant(&self, date: Date) -> Option<Timestamp> {
        date.to_datetime(self.send_time)
            .to_zoned_datetime(self.timezone.clone())
            .ok()
            .map(|zoned| zoned.timestamp())
    }

    /// The local calendar day of an instant.
    pub fn local_date(&self, at: Timestamp) -> Date {
        at.to_zoned_datetime(self.timezone.clone()).date()
    }
}

/// Which occurrence a reminder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Occasion {
    /// `days` before the deadline's last on-time day.
    Before(u32),
    /// On the last on-time day.
    Due,
    /// The nth reminder after the deadline passed.
    Overdue(u32),
    /// The nth review of a vague commitment.
    Review(u32),
}

/// A reminder's stable identity: deadline version and occasion, written
/// `v2:before:14d`, `v2:due`, `v2:overdue:3`, `v1:review:2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReminderKey {
    pub version: u32,
    pub occasion: Occasion,
}

impl fmt::Display for ReminderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.version;
        match self.occasion {
            Occasion::Before(days) => write!(f, "v{v}:before:{days}d"),
            Occasion::Due => write!(f, "v{v}:due"),
            Occasion::Overdue(n) => write!(f, "v{v}:overdue:{n}"),
            Occasion::Review(n) => write!(f, "v{v}:review:{n}"),
        }
    }
}

impl FromStr for ReminderKey {
    type Err = String;

    fn from_str(text: &str) -> Result<ReminderKey, String> {
        let bad = || format!("{text:?} is not a reminder key (like \"v1:before:14d\")");
        let mut parts = text.split(':');
        let version = parts
            .next()
            .and_then(|v| v.strip_prefix('v'))
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(bad)?;
        let number = |part: Option<&str>, suffix: &str| {
            part.and_then(|p| p.strip_suffix(suffix))
                .and_then(|p| p.parse::<u32>().ok())
        };
        let occasion = match parts.next() {
            Some("before") => Occasion::Before(number(parts.next(), "d").ok_or_else(bad)?),
            Some("due") => Occasion::Due,
            Some("overdue") => Occasion::Overdue(number(parts.next(), "").ok_or_else(bad)?),
            Some("review") => Occasion::Review(number(parts.next(), "").ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(ReminderKey { version, occasion })
    }
}

/// The last reminder planned for a commitment, and the local day it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastReminder {
    pub key: ReminderKey,
    pub on: Date,
}

/// What the planner needs to know about one open commitment.
#[derive(Debug, Clone)]
pub struct Tracked<'a> {
    pub deadline: &'a Deadline,
    pub version: u32,
    pub last: Option<LastReminder>,
}

/// A reminder owed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reminder {
    pub key: ReminderKey,
    /// When it was meant to fire (earlier than now after downtime).
    pub scheduled: Timestamp,
}

/// The planner's answer for one commitment at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The reminder to send now, if one is owed.
    pub send: Option<Reminder>,
    /// When to look at this commitment again; `None` when nothing more
    /// will ever fire (only possible through calendar overflow).
    pub next_at: Option<Timestamp>,
}

/// The occurrences still ahead of `last`, soonest first. The fixed part
/// (before/due) is listed whole; the open-ended part (overdue, review)
/// only its next occurrence, because later ones count from when that one
/// is actually sent.
fn upcoming(t: &Tracked<'_>, policy: &Policy, last: Option<LastReminder>) -> Vec<Reminder> {
    let version = t.version;
    let last = last.filter(|l| l.key.version == version);
    let key = |occasion| ReminderKey { version, occasion };
    let reminder = |occasion, date: Option<Date>| {
        let scheduled = policy.instant(date?)?;
        Some(Reminder {
            key: key(occasion),
            scheduled,
        })
    };
    let days = |n: u32| Span::new().days(i64::from(n));

    if t.deadline.vague {
        let next = match last.map(|l| (l.key.occasion, l.on)) {
            Some((Occasion::Review(n), on)) => reminder(
                Occasion::Review(n + 1),
                on.checked_add(days(policy.vague_every)).ok(),
            ),
            _ => reminder(
                Occasion::Review(1),
                t.deadline.anchor.checked_add(days(policy.vague_every)).ok(),
            ),
        };
        return next.into_iter().collect();
    }

    let latest = t.deadline.latest;
    let mut offsets = policy.before.clone();
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets.dedup();
    let fixed: Vec<Reminder> = offsets
        .iter()
        .filter_map(|&d| {
            let occasion = if d == 0 {
                Occasion::Due
            } else {
                Occasion::Before(d)
            };
            reminder(occasion, latest.checked_sub(days(d)).ok())
        })
        .collect();

    match last.map(|l| (l.key.occasion, l.on)) {
        Some((Occasion::Overdue(n), on)) => reminder(
            Occasion::Overdue(n + 1),
            on.checked_add(days(policy.overdue_every)).ok(),
        )
        .into_iter()
        .collect(),
        previous => {
            // Done: the one sent and every occasion at or before it, by
            // days before `latest`. Counted by days rather than found by
            // name, so that a reminder sent under an older policy (one with
            // offsets this one lacks) still rules out everything earlier,
            // rather than nothing: a new "25 days before" must not fire
            // after "14 days before" went out.
            let done = match previous.and_then(|(sent, _)| days_before(sent)) {
                Some(sent) => fixed
                    .iter()
                    .take_while(|r| days_before(r.key.occasion).is_some_and(|d| d >= sent))
                    .count(),
                None => 0,
            };
            // And every occasion on or before the day it went out: a
            // reminder sent late (after downtime) told the desk how things
            // stood that day, so a new "7 days before" falling between its
            // occasion and that day must not repeat it.
            let sent_on = previous.map(|(_, on)| on);
            let mut ahead: Vec<Reminder> = fixed[done..]
                .iter()
                .filter(|r| sent_on.is_none_or(|on| policy.local_date(r.scheduled) > on))
                .copied()
                .collect();
            ahead.extend(reminder(Occasion::Overdue(1), latest.tomorrow().ok()));
            ahead
        }
    }
}

/// How many days before `latest` a fixed occasion falls.
fn days_before(occasion: Occasion) -> Option<u32> {
    match occasion {
        Occasion::Before(days) => Some(days),
        Occasion::Due => Some(0),
        Occasion::Overdue(_) | Occasion::Review(_) => None,
    }
}

/// What is owed for `t` at `now`: at most one reminder (the most recent
/// occurrence at or before now not yet sent) and when to look again.
pub fn due(t: &Tracked<'_>, policy: &Policy, now: Timestamp) -> Plan {
    let ahead = upcoming(t, policy, t.last);
    let owed = ahead.iter().rev().find(|r| r.scheduled <= now).copied();
    match owed {
        None => Plan {
            send: None,
            next_at: ahead.first().map(|r| r.scheduled),
        },
        Some(reminder) => {
            let sent = LastReminder {
                key: reminder.key,
                on: policy.local_date(now),
            };
            let next_at = upcoming(t, policy, Some(sent))
                .iter()
                .map(|r| r.scheduled)
                .find(|&at| at > now);
            Plan {
                send: Some(reminder),
                next_at,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn policy(tz: &str) -> Policy {
        Policy {
            before: vec![14, 3, 0],
            overdue_every: 7,
            vague_every: 30,
            send_time: Time::constant(9, 0, 0, 0),
            timezone: TimeZone::get(tz).unwrap(),
        }
    }

    fn deadline(latest: Date, vague: bool) -> Deadline {
        Deadline {
            expression: "test".into(),
            earliest: date(2025, 10, 15),
            latest,
            vague,
            anchor: date(2025, 10, 15),
        }
    }

    fn at(d: Date, h: i8, m: i8) -> Timestamp {
        d.at(h, m, 0, 0)
            .to_zoned_datetime(TimeZone::UTC)
            .unwrap()
            .timestamp()
    }

    #[test]
    fn a_reminder_sent_under_an_older_policy_rules_out_the_earlier_offsets_of_a_new_one() {
        let d = deadline(date(2026, 3, 31), false);
        let mut p = policy("UTC");
        // "14 days before" went out under the old policy of [14, 3, 0].
        let t = last_sent(&d, "v1:before:14d", date(2026, 3, 17));
        // The new policy drops 14 and adds offsets before it.
        p.before = vec![25, 20, 3, 0];
        let plan = due(&t, &p, at(date(2026, 3, 21), 12, 0));
        assert_eq!(plan.send, None, "nothing earlier than what was sent");
        assert_eq!(plan.next_at, Some(at(date(2026, 3, 28), 9, 0)));
        // Under a policy that keeps 14, the same holds, as it always did.
        p.before = vec![20, 14, 3];
        let plan = due(&t, &p, at(date(2026, 3, 21), 12, 0));
        assert_eq!(plan.send, None);
        assert_eq!(plan.next_at, Some(at(date(2026, 3, 28), 9, 0)));
    }

    #[test]
    fn a_new_offset_between_a_late_reminder_and_the_day_it_went_out_is_not_sent() {
        let d = deadline(date(2027, 7, 4), false);
        let mut p = policy("UTC");
        // After downtime, "14 days before" (due 20 June) went out on 30 June.
        let t = last_sent(&d, "v1:before:14d", date(2027, 6, 30));
        // The policy gains "7 days before" (27 June) and "1 day before".
        p.before = vec![14, 7, 3, 1, 0];
        let plan = due(&t, &p, at(date(2027, 6, 30), 10, 0));
        assert_eq!(plan.send, None, "the desk heard on 30 June already");
        assert_eq!(plan.next_at, Some(at(date(2027, 7, 1), 9, 0)));
        let plan = due(&t, &p, at(date(2027, 7, 1), 9, 0));
        assert_eq!(plan.send.map(|r| r.key), Some(key("v1:before:3d")));
    }

    /// A commitment on its announced deadline whose last reminder was `key`,
    /// sent on `on`.
    fn last_sent<'d>(d: &'d Deadline, sent: &str, on: Date) -> Tracked<'d> {
        Tracked {
            deadline: d,
            version: 1,
            last: Some(LastReminder { key: key(sent), on }),
        }
    }

    /// A commitment on its announced deadline with nothing sent yet.
    fn first_version(d: &Deadline) -> Tracked<'_> {
        Tracked {
            deadline: d,
            version: 1,
            last: None,
        }
    }

    fn key(text: &str) -> ReminderKey {
        text.parse().unwrap()
    }

    /// Ticks from `start` to `end` every `step`, sending whatever is owed,
    /// as the daemon would. Returns (key, local day sent) in order.
    fn simulate(
        d: &Deadline,
        p: &Policy,
        start: Timestamp,
        end: Timestamp,
        step: Span,
    ) -> Vec<(String, Date)> {
        let mut last = None;
        let mut sent = Vec::new();
        let mut now = start;
        while now <= end {
            let t = Tracked {
                deadline: d,
                version: 1,
                last,
            };
            let plan = due(&t, p, now);
            if let Some(r) = plan.send {
                sent.push((r.key.to_string(), p.local_date(now)));
                last = Some(LastReminder {
                    key: r.key,
                    on: p.local_date(now),
                });
            }
            if let Some(next) = plan.next_at {
                assert!(next > now, "next_at {next} must lie after now {now}");
            }
            now = now.checked_add(step).unwrap();
        }
        sent
    }

    #[test]
    fn keys_round_trip_through_text() {
        for text in ["v1:before:14d", "v2:due", "v3:overdue:12", "v1:review:2"] {
            assert_eq!(key(text).to_string(), text);
        }
        for bad in [
            "",
            "v1",
            "1:due",
            "v1:soon",
            "v1:before:14",
            "v1:due:x",
            "vx:due",
        ] {
            assert!(bad.parse::<ReminderKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_dated_deadline_is_reminded_before_on_the_day_and_weekly_after() {
        let d = deadline(date(2025, 12, 15), false);
        let p = policy("UTC");
        let sent = simulate(
            &d,
            &p,
            at(date(2025, 10, 15), 0, 0),
            at(date(2026, 1, 2), 0, 0),
            Span::new().hours(1),
        );
        let expected = vec![
            ("v1:before:14d".to_string(), date(2025, 12, 1)),
            ("v1:before:3d".to_string(), date(2025, 12, 12)),
            ("v1:due".to_string(), date(2025, 12, 15)),
            ("v1:overdue:1".to_string(), date(2025, 12, 16)),
            ("v1:overdue:2".to_string(), date(2025, 12, 23)),
            ("v1:overdue:3".to_string(), date(2025, 12, 30)),
        ];
        assert_eq!(sent, expected);
    }

    #[test]
    fn nothing_is_owed_before_the_first_occurrence() {
        let d = deadline(date(2025, 12, 15), false);
        let t = first_version(&d);
        let plan = due(&t, &policy("UTC"), at(date(2025, 12, 1), 8, 59));
        assert_eq!(plan.send, None);
        assert_eq!(plan.next_at, Some(at(date(2025, 12, 1), 9, 0)));
    }

    #[test]
    fn after_downtime_missed_reminders_collapse_into_the_latest() {
        let d = deadline(date(2025, 12, 15), false);
        let p = policy("UTC");
        // Down from before the first reminder until 30 days after the deadline.
        let t = first_version(&d);
        let now = at(date(2026, 1, 14), 12, 0);
        let plan = due(&t, &p, now);
        assert_eq!(plan.send.unwrap().key, key("v1:overdue:1"));
        // The next overdue reminder counts from today, not from the deadline.
        assert_eq!(plan.next_at, Some(at(date(2026, 1, 21), 9, 0)));
    }

    #[test]
    fn downtime_across_the_before_reminders_sends_only_the_most_recent() {
        let d = deadline(date(2025, 12, 15), false);
        let p = policy("UTC");
        let t = first_version(&d);
        let plan = due(&t, &p, at(date(2025, 12, 13), 10, 0));
        assert_eq!(plan.send.unwrap().key, key("v1:before:3d"));
        assert_eq!(plan.next_at, Some(at(date(2025, 12, 15), 9, 0)));
    }

    #[test]
    fn a_sent_reminder_is_not_owed_again() {
        let d = deadline(date(2025, 12, 15), false);
        let p = policy("UTC");
        let t = Tracked {
            deadline: &d,
            version: 1,
            last: Some(LastReminder {
                key: key("v1:before:3d"),
                on: date(2025, 12, 12),
            }),
        };
        let plan = due(&t, &p, at(date(2025, 12, 12), 18, 0));
        assert_eq!(plan.send, None);
        assert_eq!(plan.next_at, Some(at(date(2025, 12, 15), 9, 0)));
    }

    #[test]
    fn a_revision_starts_a_fresh_schedule() {
        let d = deadline(date(2026, 3, 31), false);
        let p = policy("UTC");
        let t = Tracked {
            deadline: &d,
            version: 2,
            last: Some(LastReminder {
                key: key("v1:overdue:2"),
                on: date(2025, 12, 23),
            }),
        };
        let plan = due(&t, &p, at(date(2025, 12, 24), 9, 0));
        assert_eq!(plan.send, None, "the new deadline is months away");
        assert_eq!(plan.next_at, Some(at(date(2026, 3, 17), 9, 0)));
    }

    #[test]
    fn a_commitment_added_late_gets_one_reminder_at_once() {
        let d = deadline(date(2025, 12, 15), false);
        let p = policy("UTC");
        let t = first_version(&d);
        // Added five days before the deadline: the 14-day reminder is past.
        let plan = due(&t, &p, at(date(2025, 12, 10), 15, 0));
        assert_eq!(plan.send.unwrap().key, key("v1:before:14d"));
        assert_eq!(plan.next_at, Some(at(date(2025, 12, 12), 9, 0)));
    }

    #[test]
    fn vague_deadlines_are_reviewed_every_period() {
        let d = deadline(date(2026, 1, 13), true);
        let p = policy("UTC");
        let sent = simulate(
            &d,
            &p,
            at(date(2025, 10, 15), 0, 0),
            at(date(2026, 1, 20), 0, 0),
            Span::new().hours(6),
        );
        let keys: Vec<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["v1:review:1", "v1:review:2", "v1:review:3"]);
        assert_eq!(sent[0].1, date(2025, 11, 14));
        assert_eq!(sent[1].1, date(2025, 12, 14));
    }

    #[test]
    fn send_time_is_local_and_dst_correct() {
        let mut p = policy("Europe/Berlin");
        p.before = vec![0];
        p.send_time = Time::constant(2, 30, 0, 0);
        // 2026-03-29: Berlin skips 02:00–03:00. The reminder fires once, at 03:30 local.
        let spring = p.instant(date(2026, 3, 29)).unwrap();
        assert_eq!(spring.to_string(), "2026-03-29T01:30:00Z");
        // 2026-10-25: 02:00–03:00 happens twice; the first one is used.
        let autumn = p.instant(date(2026, 10, 25)).unwrap();
        assert_eq!(autumn.to_string(), "2026-10-25T00:30:00Z");

        let d = deadline(date(2026, 3, 29), false);
        let sent = simulate(
            &d,
            &p,
            at(date(2026, 3, 28), 0, 0),
            at(date(2026, 3, 30), 0, 0),
            Span::new().minutes(15),
        );
        assert_eq!(sent, vec![("v1:due".to_string(), date(2026, 3, 29))]);
        let d = deadline(date(2026, 10, 25), false);
        let sent = simulate(
            &d,
            &p,
            at(date(2026, 10, 24), 0, 0),
            at(date(2026, 10, 26), 0, 0),
            Span::new().minutes(15),
        );
        assert_eq!(sent, vec![("v1:due".to_string(), date(2026, 10, 25))]);
    }

    #[test]
    fn calendar_edges_do_not_panic() {
        let d = deadline(Date::MAX, false);
        let t = first_version(&d);
        let plan = due(&t, &policy("UTC"), at(date(2025, 1, 1), 0, 0));
        assert_eq!(plan.send, None);
        let d = deadline(Date::MIN, false);
        let t = first_version(&d);
        let plan = due(&t, &policy("UTC"), at(date(2025, 1, 1), 0, 0));
        assert!(plan.next_at.is_some() || plan.send.is_some());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Ticking often, every occurrence is sent exactly once, in order,
        /// and never early.
        #[test]
        fn frequent_ticks_send_every_occurrence_once(
            latest_offset in 0i64..200,
            offsets in proptest::collection::vec(0u32..40, 0..5),
            overdue_every in 1u32..15,
            hour in 0i8..24,
        ) {
            let latest = date(2025, 10, 15).checked_add(Span::new().days(latest_offset)).unwrap();
            let d = deadline(latest, false);
            let mut p = policy("America/New_York");
            p.before = offsets.clone();
            p.overdue_every = overdue_every;
            p.send_time = Time::new(hour, 0, 0, 0).unwrap();
            let start = p.instant(date(2025, 8, 1)).unwrap();
            let end = p.instant(latest.checked_add(Span::new().days(60)).unwrap()).unwrap();
            let sent = simulate(&d, &p, start, end, Span::new().hours(1));
            let mut keys: Vec<&String> = sent.iter().map(|(k, _)| k).collect();
            let total = keys.len();
            keys.sort();
            keys.dedup();
            prop_assert_eq!(keys.len(), total, "a key was sent twice: {:?}", sent);
            let mut fixed: Vec<u32> = offsets.clone();
            fixed.sort_unstable();
            fixed.dedup();
            let overdue = sent.iter().filter(|(k, _)| k.contains("overdue")).count();
            prop_assert_eq!(total - overdue, fixed.len(), "{:?}", sent);
            // Overdue: the day after latest, then every `overdue_every` days within 60 days.
            let expected_overdue = (59 / overdue_every as usize) + 1;
            prop_assert_eq!(overdue, expected_overdue, "{:?}", sent);
        }

        /// However long the daemon was down, one tick sends at most one
        /// reminder, and the next one is after now.
        #[test]
        fn one_tick_after_any_downtime_sends_at_most_one(
            latest_offset in -400i64..400,
            now_offset_hours in 0i64..20000,
            last_sent in proptest::option::of(0usize..4),
        ) {
            let latest = date(2025, 10, 15).checked_add(Span::new().days(latest_offset)).unwrap();
            let d = deadline(latest, false);
            let p = policy("UTC");
            let keys = ["v1:before:14d", "v1:before:3d", "v1:due", "v1:overdue:1"];
            let last = last_sent.map(|i| LastReminder { key: key(keys[i]), on: latest });
            let t = Tracked { deadline: &d, version: 1, last };
            let now = at(date(2025, 1, 1), 0, 0).checked_add(Span::new().hours(now_offset_hours)).unwrap();
            let plan = due(&t, &p, now);
            if let Some(r) = plan.send {
                prop_assert!(r.scheduled <= now);
                prop_assert!(Some(r.key) != last.map(|l| l.key));
            }
            if let Some(next) = plan.next_at {
                prop_assert!(next > now);
            }
        }
    }
}
