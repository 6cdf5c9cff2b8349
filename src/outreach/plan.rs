//! Pure rules for the messages Nuru writes first: when a reminder may go
//! out (quiet hours in the clinic's zone; too late to be useful), and in
//! which form (free text inside WhatsApp's 24-hour window, an approved
//! template outside it, plain text on SMS). No I/O, no clock.

use crate::domain::Channel;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Minutes in a day.
const DAY: u16 = 24 * 60;

/// WhatsApp allows free-form messages for 24 hours after the patient's last
/// message. The last message is known from when it was processed, a little
/// after it was sent, so Nuru keeps a margin.
pub const WINDOW: Duration = Duration::minutes(24 * 60 - 30);

/// Local hours during which Nuru writes first to nobody: `[start, end)` in
/// minutes after local midnight, spanning midnight when `start > end`, none
/// when they are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: u16,
    end: u16,
}

impl Default for QuietHours {
    /// 21:00 to 07:00.
    fn default() -> Self {
        QuietHours { start: 21 * 60, end: 7 * 60 }
    }
}

impl QuietHours {
    /// `None` unless both are minutes of a day (0–1439).
    pub fn new(start: u16, end: u16) -> Option<QuietHours> {
        (start < DAY && end < DAY).then_some(QuietHours { start, end })
    }

    /// From "HH:MM" texts.
    pub fn parse(start: &str, end: &str) -> Option<QuietHours> {
        let minute = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").ok().map(|t| (t.hour() * 60 + t.minute()) as u16);
        QuietHours::new(minute(start)?, minute(end)?)
    }

    pub fn start(&self) -> u16 {
        self.start
    }

    pub fn end(&self) -> u16 {
        self.end
    }

    pub fn contains(&self, local: NaiveTime) -> bool {
        let m = (local.hour() * 60 + local.minute()) as u16;
        match self.start.cmp(&self.end) {
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => self.start <= m && m < self.end,
            std::cmp::Ordering::Greater => m >= self.start || m < self.end,
        }
    }

    /// The first instant at or after `at` outside the quiet hours of zone
    /// `tz`. A quiet end that falls in a DST gap is the first instant after it.
    pub fn next_allowed(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = at.with_timezone(&tz);
        if !self.contains(local.time()) {
            return at;
        }
        // The quiet period ends today at `end`, or tomorrow when it started
        // yesterday evening… or today and `end` is tomorrow.
        let end = NaiveTime::from_hms_opt((self.end / 60) as u32, (self.end % 60) as u32, 0).expect("a minute of the day");
        let mut day = local.date_naive();
        if local.time() >= end {
            day = day.succ_opt().expect("a next day");
        }
        let mut wall = day.and_time(end);
        // A wall time skipped by a DST change: the first minute that exists.
        for _ in 0..180 {
            match tz.from_local_datetime(&wall) {
                chrono::LocalResult::Single(t) => return t.with_timezone(&Utc),
                chrono::LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
                chrono::LocalResult::None => wall += Duration::minutes(1),
            }
        }
        at + Duration::hours(1)
    }
}

/// When a reminder goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Now.
    Now,
    /// Not before this instant (the end of the quiet hours).
    Later(DateTime<Utc>),
    /// Never.
    Skip(SkipReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The quiet hours last until the appointment (or past it).
    QuietHours,
    /// Less than half of the reminder's lead time is left (the node was
    /// down, or a later reminder covers it).
    TooLate,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::QuietHours => "quiet_hours",
            SkipReason::TooLate => "too_late",
        }
    }
}

/// When the reminder due at `due`, `lead` before the appointment starting
/// at `start`, goes out if it is now `now`.
pub fn reminder_timing(due: DateTime<Utc>, lead: Duration, start: DateTime<Utc>, now: DateTime<Utc>, quiet: QuietHours, tz: Tz) -> Timing {
    // Its time (or now, if it waited), pushed to the end of the quiet hours.
    let earliest = due.max(now);
    let when = quiet.next_allowed(earliest, tz);
    let pushed = when > earliest;
    if when >= start {
        return Timing::Skip(SkipReason::QuietHours);
    }
    if start - when < lead / 2 {
        return Timing::Skip(if pushed { SkipReason::QuietHours } else { SkipReason::TooLate });
    }
    if when > now { Timing::Later(when) } else { Timing::Now }
}

/// How a message Nuru starts is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form<'a> {
    /// Free text (SMS, or WhatsApp inside the 24-hour window).
    Text,
    /// The clinic's approved template for it.
    Template(&'a Template),
    /// Outside the WhatsApp window with no template: not sent.
    NoTemplate,
}

/// Whether free text may still reach a WhatsApp patient who last wrote at
/// `last_inbound` (with the margin of [`WINDOW`]).
pub fn within_window(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_inbound.is_some_and(|t| now - t < WINDOW)
}

/// The form of a message Nuru starts on `channel`, given when the patient
/// last wrote on it.
pub fn form<'a>(channel: Channel, last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>, template: Option<&'a Template>) -> Form<'a> {
    if channel != Channel::WhatsApp {
        return Form::Text;
    }
    match (last_inbound, template) {
        _ if within_window(last_inbound, now) => Form::Text,
        (_, Some(template)) => Form::Template(template),
        (_, None) => Form::NoTemplate,
    }
}

/// What fills a template's `{{1}}`, `{{2}}`…
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variable {
    PatientFirstName,
    Date,
    Time,
    Practitioner,
    Service,
    Clinic,
}

impl Variable {
    pub const ALL: [Variable; 6] =
        [Variable::PatientFirstName, Variable::Date, Variable::Time, Variable::Practitioner, Variable::Service, Variable::Clinic];

    pub fn as_str(self) -> &'static str {
        match self {
            Variable::PatientFirstName => "patient_first_name",
            Variable::Date => "date",
            Variable::Time => "time",
            Variable::Practitioner => "practitioner",
            Variable::Service => "service",
            Variable::Clinic => "clinic",
        }
    }

    pub fn parse(s: &str) -> Option<Variable> {
        Variable::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// An approved WhatsApp template (Twilio Content API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// `HX…`
    pub content_sid: String,
    pub variables: Vec<Variable>,
}

impl Template {
    /// Twilio's `ContentVariables`: `{"1": "…", "2": "…"}`.
    pub fn content_variables(&self, value: impl Fn(Variable) -> String) -> String {
        let map: serde_json::Map<String, serde_json::Value> =
            self.variables.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), serde_json::Value::String(value(*v)))).collect();
        serde_json::Value::Object(map).to_string()
    }
}

/// What fills one `{{n}}` of a broadcast's template: a value Nuru knows
/// (`{"variable": "patient_first_name"}`) or the clinic's own words
/// (`{"text": "samedi 5 décembre"}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fill {
    Variable(Variable),
    Text(String),
}

/// Twilio's `ContentVariables` for a broadcast's fills.
pub fn fill_variables(fills: &[Fill], value: impl Fn(Variable) -> String) -> String {
    let map: serde_json::Map<String, serde_json::Value> = fills
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let v = match f {
                Fill::Variable(v) => value(*v),
                Fill::Text(t) => t.clone(),
            };
            ((i + 1).to_string(), serde_json::Value::String(v))
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// `HX` and 32 hexadecimal digits, as Twilio names a Content template.
pub fn is_content_sid(s: &str) -> bool {
    s.len() == 34 && s.starts_with("HX") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const PARIS: Tz = chrono_tz::Europe::Paris;
    const KINSHASA: Tz = chrono_tz::Africa::Kinshasa;

    #[test]
    fn quiet_hours_span_midnight() {
        let q = QuietHours::default();
        assert!(q.contains(NaiveTime::from_hms_opt(21, 0, 0).unwrap()));
        assert!(q.contains(NaiveTime::from_hms_opt(3, 0, 0).unwrap()));
        assert!(!q.contains(NaiveTime::from_hms_opt(7, 0, 0).unwrap()));
        assert!(!q.contains(NaiveTime::from_hms_opt(20, 59, 0).unwrap()));
        let day = QuietHours::new(12 * 60, 14 * 60).unwrap();
        assert!(day.contains(NaiveTime::from_hms_opt(13, 0, 0).unwrap()));
        assert!(!day.contains(NaiveTime::from_hms_opt(14, 0, 0).unwrap()));
        assert!(!QuietHours::new(600, 600).unwrap().contains(NaiveTime::from_hms_opt(10, 0, 0).unwrap()));
        assert_eq!(QuietHours::new(1440, 0), None);
        assert_eq!(QuietHours::parse("22:30", "06:00"), QuietHours::new(22 * 60 + 30, 6 * 60));
    }

    #[test]
    fn a_reminder_due_at_three_waits_for_seven_local() {
        // Kinshasa is UTC+1 all year: 03:00 local is 02:00Z, 07:00 local 06:00Z.
        let due = at("2026-11-24T02:00:00Z");
        let start = at("2026-11-25T02:00:00Z");
        let t = reminder_timing(due, Duration::hours(24), start, due, QuietHours::default(), KINSHASA);
        assert_eq!(t, Timing::Later(at("2026-11-24T06:00:00Z")));
        // At 07:00 it goes.
        let t = reminder_timing(due, Duration::hours(24), start, at("2026-11-24T06:00:00Z"), QuietHours::default(), KINSHASA);
        assert_eq!(t, Timing::Now);
    }

    #[test]
    fn a_reminder_whose_quiet_hours_last_until_the_appointment_is_skipped() {
        // 2 h before a 07:30 appointment is 05:30, quiet until 07:00, 30 min left.
        let start = at("2026-11-24T06:30:00Z");
        let due = start - Duration::hours(2);
        let t = reminder_timing(due, Duration::hours(2), start, due, QuietHours::default(), KINSHASA);
        assert_eq!(t, Timing::Skip(SkipReason::QuietHours));
        // 2 h before an 08:30 appointment: at 07:00, 1 h 30 before.
        let start = at("2026-11-24T07:30:00Z");
        let due = start - Duration::hours(2);
        let t = reminder_timing(due, Duration::hours(2), start, due, QuietHours::default(), KINSHASA);
        assert_eq!(t, Timing::Later(at("2026-11-24T06:00:00Z")));
        // A 06:30 appointment: the quiet hours end after it starts.
        let start = at("2026-11-24T05:30:00Z");
        let due = start - Duration::hours(2);
        assert_eq!(
            reminder_timing(due, Duration::hours(2), start, due, QuietHours::default(), KINSHASA),
            Timing::Skip(SkipReason::QuietHours)
        );
    }

    #[test]
    fn quiet_hours_follow_paris_across_both_dst_changes() {
        // Spring forward, Sunday 29 March 2026: 07:00 CEST is 05:00Z.
        let q = QuietHours::default();
        assert_eq!(q.next_allowed(at("2026-03-29T01:30:00Z"), PARIS), at("2026-03-29T05:00:00Z"));
        // The day before, 07:00 CET is 06:00Z.
        assert_eq!(q.next_allowed(at("2026-03-28T01:30:00Z"), PARIS), at("2026-03-28T06:00:00Z"));
        // Fall back, Sunday 25 October 2026: 07:00 CET is 06:00Z.
        assert_eq!(q.next_allowed(at("2026-10-25T00:30:00Z"), PARIS), at("2026-10-25T06:00:00Z"));
        // A quiet end inside the spring gap (02:30 does not exist): 03:00 CEST.
        let gap = QuietHours::new(60, 150).unwrap();
        assert_eq!(gap.next_allowed(at("2026-03-29T00:30:00Z"), PARIS), at("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn late_reminders_are_dropped_not_sent_next_to_the_next_one() {
        let start = at("2026-11-24T10:00:00Z");
        let due = start - Duration::hours(24);
        // The node was down: 3 hours before, the 24 h reminder is useless.
        let now = start - Duration::hours(3);
        assert_eq!(
            reminder_timing(due, Duration::hours(24), start, now, QuietHours::default(), KINSHASA),
            Timing::Skip(SkipReason::TooLate)
        );
        // Two hours late on a 24 h reminder: still worth sending.
        let now = due + Duration::hours(2);
        assert_eq!(reminder_timing(due, Duration::hours(24), start, now, QuietHours::default(), KINSHASA), Timing::Now);
    }

    #[test]
    fn the_form_follows_the_window() {
        let now = at("2026-11-24T10:00:00Z");
        let t = Template { content_sid: "HX0123456789abcdef0123456789abcdef".into(), variables: vec![Variable::Date] };
        assert_eq!(form(Channel::Sms, None, now, None), Form::Text);
        assert_eq!(form(Channel::WhatsApp, Some(now - Duration::hours(2)), now, None), Form::Text);
        assert_eq!(form(Channel::WhatsApp, Some(now - Duration::hours(24)), now, Some(&t)), Form::Template(&t));
        assert_eq!(form(Channel::WhatsApp, Some(now - Duration::hours(23) - Duration::minutes(45)), now, Some(&t)), Form::Template(&t));
        assert_eq!(form(Channel::WhatsApp, None, now, None), Form::NoTemplate);
        assert_eq!(t.content_variables(|_| "mardi \"24\"".into()), r#"{"1":"mardi \"24\""}"#);
        assert!(is_content_sid(&t.content_sid));
        assert!(!is_content_sid("HX123"));
    }

    proptest! {
        /// Whatever the zone, hours and instant, the time given is outside
        /// the quiet hours, not before the instant, and within a day of it.
        #[test]
        fn next_allowed_is_outside_quiet_hours(start in 0u16..1440, end in 0u16..1440, secs in 1_700_000_000i64..1_900_000_000, zone in 0usize..3) {
            let tz = [PARIS, KINSHASA, chrono_tz::America::New_York][zone];
            let q = QuietHours::new(start, end).unwrap();
            // Quiet hours of up to 20 hours (a DST gap may not land back inside them).
            prop_assume!((end + 1440 - start) % 1440 <= 1200);
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            let next = q.next_allowed(at, tz);
            prop_assert!(next >= at);
            prop_assert!(next - at <= Duration::hours(26));
            prop_assert!(!q.contains(next.with_timezone(&tz).time()));
        }

        /// A reminder is never sent at or after the appointment, nor in quiet hours.
        #[test]
        fn reminders_never_go_out_quiet_or_late(lead_h in 1i64..48, late_m in 0i64..3000, secs in 1_700_000_000i64..1_900_000_000) {
            let start = DateTime::from_timestamp(secs, 0).unwrap();
            let lead = Duration::hours(lead_h);
            let due = start - lead;
            let now = due + Duration::minutes(late_m);
            let q = QuietHours::default();
            match reminder_timing(due, lead, start, now, q, PARIS) {
                Timing::Now => {
                    prop_assert!(now < start);
                    prop_assert!(!q.contains(now.with_timezone(&PARIS).time()));
                }
                Timing::Later(at) => {
                    prop_assert!(at > now && at < start);
                    prop_assert!(!q.contains(at.with_timezone(&PARIS).time()));
                }
                Timing::Skip(_) => {}
            }
        }
    }
}
