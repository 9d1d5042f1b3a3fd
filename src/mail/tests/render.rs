use jiff::civil::date;
use mail_parser::MessageParser;

use super::*;
use crate::mail::{
    DeadDelivery, Digest, Error, digest_message_id, escape_html, message_id, render_digest,
    render_reminder, thread_root,
};

fn parse(bytes: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(bytes)
        .expect("the formatted reminder parses")
}

fn raw_header(message: &mail_parser::Message<'_>, name: &str) -> String {
    message
        .header_raw(name.to_string())
        .unwrap_or_else(|| panic!("no {name} header"))
        .trim()
        .to_string()
}

const REMINDER_HEADERS: [&str; 11] = [
    "Content-Type",
    "Date",
    "From",
    "In-Reply-To",
    "MIME-Version",
    "Message-ID",
    "References",
    "Subject",
    "To",
    "X-Followup-Commitment",
    "X-Followup-Reminder",
];

fn sorted_header_names(bytes: &[u8]) -> Vec<String> {
    let mut names = header_names(bytes);
    names.sort();
    names
}

/// `record`'s reminder on its last on-time day, formatted.
fn due_on_the_day(record: &CommitmentRecord) -> Vec<u8> {
    let to = desk();
    let r = reminder(
        record,
        &to,
        ReminderKind::Due,
        date(2025, 12, 31),
        "v2:due",
        MESSAGE_ID,
    );
    render_reminder(&r, &from()).unwrap().formatted()
}

#[test]
fn reminder_carries_exactly_the_documented_headers() {
    let (message, bytes) = rendered("Joint committee meets");
    assert_eq!(sorted_header_names(&bytes), REMINDER_HEADERS);

    let parsed = parse(&bytes);
    assert_eq!(
        parsed.subject(),
        Some("Due in 14 days: Joint committee meets")
    );
    assert_eq!(raw_header(&parsed, "Message-ID"), MESSAGE_ID);
    assert_eq!(
        raw_header(&parsed, "In-Reply-To"),
        "<followup.commitment.12.3f9a2c1d5e6b7a80@example.org>"
    );
    assert_eq!(
        raw_header(&parsed, "References"),
        "<followup.commitment.12.3f9a2c1d5e6b7a80@example.org>"
    );
    assert_eq!(raw_header(&parsed, "X-Followup-Commitment"), "12");
    assert_eq!(raw_header(&parsed, "X-Followup-Reminder"), "v2:before:14d");
    assert_eq!(
        parsed
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("followup@example.org")
    );
    assert_eq!(
        parsed
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("desk@example.org")
    );
    assert_eq!(
        parsed.date().map(|d| d.to_rfc3339()),
        Some("2025-12-17T09:00:00Z".to_string())
    );
    // The envelope, which SMTP uses, holds only the desk.
    let envelope: Vec<String> = message
        .envelope()
        .to()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(envelope, ["desk@example.org"]);
}

#[test]
fn every_reminder_of_a_commitment_threads_under_one_root() {
    let record = record("Joint committee meets");
    let to = desk();
    let first = reminder(
        &record,
        &to,
        ReminderKind::Before { days: 14 },
        date(2025, 12, 17),
        "v2:before:14d",
        "<followup.12.a@example.org>",
    );
    let later = reminder(
        &record,
        &to,
        ReminderKind::Overdue { days: 9 },
        date(2026, 1, 9),
        "v2:overdue:1",
        "<followup.12.b@example.org>",
    );
    let a = render_reminder(&first, &from()).unwrap().formatted();
    let b = render_reminder(&later, &from()).unwrap().formatted();
    let (a, b) = (parse(&a), parse(&b));
    let root = thread_root(12, THREAD, &from());
    for message in [&a, &b] {
        assert_eq!(raw_header(message, "In-Reply-To"), root);
        assert_eq!(raw_header(message, "References"), root);
    }
    assert_ne!(raw_header(&a, "Message-ID"), raw_header(&b, "Message-ID"));
    assert_eq!(raw_header(&b, "X-Followup-Reminder"), "v2:overdue:1");
}

#[test]
fn subject_says_what_happened_for_each_kind() {
    let record = record("Joint committee meets");
    let to = desk();
    let subject = |kind, today| {
        let r = reminder(&record, &to, kind, today, "k", MESSAGE_ID);
        let bytes = render_reminder(&r, &from()).unwrap().formatted();
        parse(&bytes).subject().unwrap().to_string()
    };
    let cases = [
        (
            ReminderKind::Before { days: 14 },
            date(2025, 12, 17),
            "Due in 14 days",
        ),
        (
            ReminderKind::Before { days: 1 },
            date(2025, 12, 30),
            "Due in 1 day",
        ),
        (ReminderKind::Due, date(2025, 12, 31), "Due today"),
        (
            ReminderKind::Overdue { days: 1 },
            date(2026, 1, 1),
            "Overdue by 1 day",
        ),
        (
            ReminderKind::Overdue { days: 9 },
            date(2026, 1, 9),
            "Overdue by 9 days",
        ),
        (ReminderKind::Review { n: 2 }, date(2025, 11, 14), "Review"),
        // A 14-day reminder delivered a day late after retries.
        (
            ReminderKind::Before { days: 14 },
            date(2025, 12, 18),
            "Due in 13 days",
        ),
    ];
    for (kind, today, wording) in cases {
        assert_eq!(
            subject(kind, today),
            format!("{wording}: Joint committee meets"),
            "{kind:?} on {today}"
        );
    }
}

#[test]
fn a_title_with_line_breaks_cannot_inject_a_header() {
    let title = "Talks resume\r\nBcc: leak@evil.example\r\nX-Injected: yes\nSubject: spoofed\rContent-Type: text/html\u{0}\u{1b}end";
    let (message, bytes) = rendered(title);

    assert_eq!(sorted_header_names(&bytes), REMINDER_HEADERS);
    let parsed = parse(&bytes);
    assert!(parsed.bcc().is_none());
    assert!(parsed.header("X-Injected").is_none());
    assert_eq!(
        parsed.subject(),
        Some(
            "Due in 14 days: Talks resume Bcc: leak@evil.example X-Injected: yes Subject: spoofed Content-Type: text/html end"
        )
    );
    let envelope: Vec<String> = message
        .envelope()
        .to()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(envelope, ["desk@example.org"]);
}

#[test]
fn an_encoded_word_in_a_title_is_shown_as_typed_not_decoded() {
    let title = "Talks =?utf-8?q?postponed?= resume =?UTF-8?B?c3Bvb2Y=?=";
    let (_, bytes) = rendered(title);
    let parsed = parse(&bytes);
    // A mail client decodes the Subject: it must show the title exactly,
    // not "postponed" and "spoof".
    assert_eq!(
        parsed.subject().unwrap(),
        format!("Due in 14 days: {title}")
    );
    // The text part carries the title untouched.
    assert!(parsed.body_text(0).unwrap().contains(title));
    // Long and Arabic, the Subject is folded into lines a mail system
    // takes, and still decodes to the title.
    let title = format!("عقد اجتماع =?utf-8?q?x?= {}", "اللجنة المشتركة ".repeat(12));
    let (_, bytes) = rendered(title.trim());
    let text = String::from_utf8_lossy(&bytes);
    let header: Vec<&str> = text
        .lines()
        .skip_while(|line| !line.starts_with("Subject:"))
        .take_while(|line| line.starts_with("Subject:") || line.starts_with(' '))
        .collect();
    assert!(header.len() > 2, "{header:?}");
    assert!(header.iter().all(|line| line.len() <= 78), "{header:?}");
    assert_eq!(
        parse(&bytes).subject().unwrap(),
        format!("Due in 14 days: {}", title.trim())
    );
}

#[test]
fn base64_is_rfc_4648s() {
    for (bytes, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
        ("\u{ff}\u{fe}", "w7/Dvg=="),
    ] {
        assert_eq!(crate::mail::render::base64(bytes.as_bytes()), encoded);
    }
}

#[test]
fn script_in_title_or_quote_is_escaped_in_html() {
    let mut record = record("<script>alert('t')</script> & more");
    record.commitment.quote = Some("He said \"<script>steal()</script>\"".into());
    let bytes = due_on_the_day(&record);
    let parsed = parse(&bytes);
    let html = parsed.body_html(0).unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt; &amp; more"),
        "{html}"
    );
    assert!(
        html.contains("He said &quot;&lt;script&gt;steal()&lt;/script&gt;&quot;"),
        "{html}"
    );
    // Plain text needs no escaping and shows the title as written.
    let text = parsed.body_text(0).unwrap();
    assert!(
        text.contains("<script>alert('t')</script> & more"),
        "{text}"
    );
}

#[test]
fn bidi_overrides_cannot_turn_a_subject_or_text_body_around() {
    // "exe.gnp" behind a right-to-left override displays as "png.exe"; an
    // unclosed isolate would swallow the rest of the line.
    let mut record = record("Report \u{202e}exe.gnp\u{2067} \u{200f}عقد اجتماع");
    record.commitment.quote = Some("\u{202b}قال\u{202c} and \u{202d}more\u{2069}".into());
    let bytes = due_on_the_day(&record);
    let parsed = parse(&bytes);
    let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let subject = parsed.subject().unwrap();
    assert_eq!(subject, "Due today: Report exe.gnp \u{200f}عقد اجتماع");
    let text = parsed.body_text(0).unwrap();
    assert!(!text.contains(bidi), "{text}");
    assert!(text.contains("قال and more"), "{text}");
    // The HTML part keeps the stored text inside elements marked
    // dir="auto", which isolate it, and its title line is the subject's.
    let html = parsed.body_html(0).unwrap();
    assert!(
        html.contains(&format!("<h1 dir=\"auto\">{subject}</h1>")),
        "{html}"
    );
}

#[test]
fn escape_html_covers_the_five_special_characters() {
    assert_eq!(
        escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
    );
    assert_eq!(escape_html("عقد اجتماع"), "عقد اجتماع");
}

#[test]
fn user_text_in_html_is_marked_dir_auto() {
    let (_, bytes) = rendered(ARABIC_TITLE);
    let parsed = parse(&bytes);
    let html = parsed.body_html(0).unwrap();
    assert!(
        html.contains(&format!(
            "<h1 dir=\"auto\">Due in 14 days: {ARABIC_TITLE}</h1>"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("<td dir=\"auto\">{ARABIC_TITLE}</td>")),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<blockquote dir=\"auto\">{ARABIC_QUOTE}</blockquote>"
        )),
        "{html}"
    );
}

#[test]
fn arabic_survives_a_round_trip_through_the_formatted_bytes() {
    let (_, bytes) = rendered(ARABIC_TITLE);
    // On the wire every header is 7-bit ASCII; lettre encodes the rest.
    let head = bytes.split(|&b| b == b'\n').take_while(|l| l != b"\r");
    for line in head {
        assert!(line.is_ascii(), "{:?}", String::from_utf8_lossy(line));
    }
    let parsed = parse(&bytes);
    assert_eq!(
        parsed.subject(),
        Some(format!("Due in 14 days: {ARABIC_TITLE}").as_str())
    );
    let text = parsed.body_text(0).unwrap();
    assert!(
        text.contains(&format!("Title:      {ARABIC_TITLE}")),
        "{text}"
    );
    assert!(text.contains(&format!("  > {ARABIC_QUOTE}")), "{text}");
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains(ARABIC_QUOTE), "{html}");
    assert!(html.contains("<meta charset=\"utf-8\">"));
}

#[test]
fn body_has_commitment_deadline_history_and_commands() {
    let (_, bytes) = rendered("Joint committee meets");
    let parsed = parse(&bytes);
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
    let text = parsed.body_text(0).unwrap();
    for expected in [
        "Commitment #12",
        "Status:     open",
        "Actors:     Syria, Russia",
        "Tags:       syria, energy",
        "Announced:  2025-10-15",
        "Deadline (version 2)",
        "As stated:  by the end of the year",
        "Earliest:   2025-10-15",
        "Latest:     2025-12-31 (last day on time)",
        "Vague:      no",
        "Source: https://example.org/news/talks?id=1&lang=ar",
        "v1  within two months: 2025-10-15 to 2025-12-15, set 2025-10-15 10:00 UTC",
        "v2  by the end of the year: 2025-10-15 to 2025-12-31, set 2025-11-02 09:30 UTC; reason: talks postponed",
        "2025-11-03 08:00 UTC  note  by james: text: Ministry spokesman confirmed",
        "followup close 12 --outcome fulfilled|partial|missed|withdrawn",
        "followup revise 12 --due \"…\"",
        "followup note 12 \"…\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let html = parsed.body_html(0).unwrap();
    for expected in [
        "<td dir=\"auto\">Syria, Russia</td>",
        "followup close 12 --outcome fulfilled|partial|missed|withdrawn",
        "followup revise 12 --due &quot;…&quot;",
        "talks postponed",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in:\n{html}");
    }
}

#[test]
fn only_web_sources_become_links() {
    let (_, bytes) = rendered("Joint committee meets");
    let html = parse(&bytes).body_html(0).unwrap().into_owned();
    assert!(
        html.contains("<a href=\"https://example.org/news/talks?id=1&amp;lang=ar\" dir=\"auto\">"),
        "{html}"
    );

    let mut record = record("Joint committee meets");
    record.commitment.source = Some("javascript:alert(1)".into());
    let bytes = due_on_the_day(&record);
    let html = parse(&bytes).body_html(0).unwrap().into_owned();
    assert!(!html.contains("href=\"javascript"), "{html}");
    assert!(
        html.contains("<span dir=\"auto\">javascript:alert(1)</span>"),
        "{html}"
    );
}

#[test]
fn vague_deadline_is_flagged_in_the_body() {
    let mut record = record("Reconstruction fund to be set up");
    record.commitment.deadline.deadline.vague = true;
    record.commitment.deadline.deadline.expression = "في المستقبل القريب".into();
    let to = desk();
    let r = reminder(
        &record,
        &to,
        ReminderKind::Review { n: 1 },
        date(2025, 11, 14),
        "v2:review:1",
        MESSAGE_ID,
    );
    let bytes = render_reminder(&r, &from()).unwrap().formatted();
    let parsed = parse(&bytes);
    assert_eq!(
        parsed.subject(),
        Some("Review: Reconstruction fund to be set up")
    );
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("As stated:  في المستقبل القريب"), "{text}");
    assert!(text.contains("Vague:      yes (the latest date is an assumed horizon"));
}

#[test]
fn a_malformed_message_id_is_refused() {
    let record = record("Joint committee meets");
    let to = desk();
    for bad in [
        "<a\r\nBcc: x@y>",
        "no-brackets@example.org",
        "<no-at>",
        "<a b@c>",
    ] {
        let r = reminder(
            &record,
            &to,
            ReminderKind::Due,
            date(2025, 12, 31),
            "k",
            bad,
        );
        match render_reminder(&r, &from()) {
            Err(Error::InvalidMessageId { value }) => assert_eq!(value, bad),
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
}

#[test]
fn message_ids_are_stable_per_recipient_and_accepted_by_render() {
    let other: Address = "energy@example.org".parse().unwrap();
    let id = message_id(12, "v2:before:14d", &desk(), &from(), 0x3f9a);
    assert_eq!(
        id,
        message_id(12, "v2:before:14d", &desk(), &from(), 0x3f9a)
    );
    assert_ne!(id, message_id(12, "v2:before:14d", &other, &from(), 0x3f9a));
    assert!(
        id.starts_with("<followup.12.v2-before-14d.") && id.ends_with(".3f9a@example.org>"),
        "{id}"
    );
    assert_eq!(
        thread_root(12, THREAD, &from()),
        "<followup.commitment.12.3f9a2c1d5e6b7a80@example.org>"
    );
    // Another database's commitment 12 is another thread.
    assert_ne!(
        thread_root(12, THREAD, &from()),
        thread_root(12, "0123456789abcdef", &from())
    );

    let record = record("Joint committee meets");
    let to = desk();
    let r = reminder(
        &record,
        &to,
        ReminderKind::Due,
        date(2025, 12, 31),
        "v2:due",
        &id,
    );
    assert!(render_reminder(&r, &from()).is_ok());
}

#[test]
fn digest_lists_each_section_and_the_undelivered_reminders() {
    let overdue = record("Ceasefire monitors deployed").commitment;
    let mut soon = record("<b>Gas</b> deal signed").commitment;
    soon.id = 13;
    soon.deadline.deadline.latest = date(2026, 1, 5);
    let mut vague = record(ARABIC_TITLE).commitment;
    vague.id = 14;
    vague.deadline.deadline.vague = true;
    vague.deadline.deadline.latest = date(2026, 3, 1);
    let to = desk();
    let id = digest_message_id("energy", date(2026, 1, 2), &to, &from(), 7);
    let digest = Digest {
        desk: "energy",
        to: &to,
        date: date(2026, 1, 2),
        today: date(2026, 1, 2),
        overdue: vec![&overdue],
        due_soon: vec![&soon],
        under_review: vec![&vague],
        dead_deliveries: vec![DeadDelivery {
            commitment_id: 15,
            title: "Prisoner exchange".into(),
            recipient: "gone@example.org".into(),
            key: "v1:due".into(),
            error: "smtp.example.org:587 refused the message: permanent error (550): no such user"
                .into(),
        }],
        message_id: &id,
        written_at: at("2026-01-02T08:00:00Z"),
    };
    let bytes = render_digest(&digest, &from()).unwrap().formatted();
    let parsed = parse(&bytes);
    assert_eq!(
        parsed.subject(),
        Some(
            "followup digest for energy, 2026-01-02: 1 overdue, 1 due soon, 1 under review, 1 undelivered"
        )
    );
    assert_eq!(raw_header(&parsed, "X-Followup-Digest"), "energy");
    assert_eq!(raw_header(&parsed, "Message-ID"), id);
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    for expected in [
        "Overdue (1)\n  #12  Ceasefire monitors deployed  (latest 2025-12-31, overdue by 2 days)",
        "Due within 14 days (1)\n  #13  <b>Gas</b> deal signed  (latest 2026-01-05, due in 3 days)",
        &format!("Vague, under review (1)\n  #14  {ARABIC_TITLE}  (assumed by 2026-03-01)"),
        "These reminders could not be delivered (1)\n  #15  Prisoner exchange  to gone@example.org, reminder v1:due: smtp.example.org:587 refused",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains("&lt;b&gt;Gas&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>Gas"), "{html}");
    assert!(html.contains(&format!("<span dir=\"auto\">{ARABIC_TITLE}</span>")));
}

#[test]
fn a_caught_up_digest_names_the_day_it_is_for_and_counts_from_the_day_it_is_sent() {
    let mut soon = record("Gas deal signed").commitment;
    soon.deadline.deadline.latest = date(2026, 1, 5);
    let to = desk();
    let id = digest_message_id("energy", date(2026, 1, 1), &to, &from(), 7);
    let digest = Digest {
        desk: "energy",
        to: &to,
        date: date(2026, 1, 1),
        today: date(2026, 1, 2),
        overdue: Vec::new(),
        due_soon: vec![&soon],
        under_review: Vec::new(),
        dead_deliveries: Vec::new(),
        message_id: &id,
        written_at: at("2026-01-02T07:00:00Z"),
    };
    let bytes = render_digest(&digest, &from()).unwrap().formatted();
    let parsed = parse(&bytes);
    assert_eq!(
        parsed.subject(),
        Some("followup digest for energy, 2026-01-01: 0 overdue, 1 due soon, 0 under review")
    );
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(
        text.contains("Sent late, on 2026-01-02, as the daemon missed this digest's time"),
        "{text}"
    );
    assert!(text.contains("due in 3 days"), "{text}");
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains("Sent late, on 2026-01-02"), "{html}");
}
