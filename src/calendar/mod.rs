//! Calendars outside Nuru: the iCalendar files and feeds Nuru publishes
//! (`ics` writes them, `feeds` serves them). Google Calendar joins this module.

pub mod feeds;
pub mod ics;
