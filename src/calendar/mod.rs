//! Calendars outside Nuru: the iCalendar files and feeds Nuru publishes
//! (`ics` writes them, `feeds` serves them). `google` connects practitioners' Google Calendars.

pub mod feeds;
pub mod google;
pub mod ics;
