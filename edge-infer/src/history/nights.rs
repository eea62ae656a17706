//! What a parent asks in the morning: per night, the cry episodes, how long the baby cried,
//! the longest episode, the first and last cry, the reasons.
//!
//! A night spans local hours (`--night 18-10`: 18:00 to 10:00 the next day) and is named by
//! the date it starts on. Local time is SQLite's (`'localtime'`: the C library's, so `TZ` and
//! `/etc/localtime` apply, daylight saving included). An episode is a `cry_started` and the
//! `calm` after it; it belongs to the night it started in. A cry not followed by a calm counts
//! up to now if it is the last event (the baby is crying), or with an unknown length of 0 if a
//! restart cut it off.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::output::json::round;

/// The local hours a night spans, `start` to `end` (the next day when `end <= start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightHours {
    /// Hour the night begins (0-23).
    pub start: u8,
    /// Hour it ends (0-23).
    pub end: u8,
}

impl Default for NightHours {
    fn default() -> Self {
        Self { start: 18, end: 10 }
    }
}

impl NightHours {
    /// Hours from start to end.
    pub fn span(self) -> u8 {
        let span = (24 + self.end - self.start) % 24;
        if span == 0 { 24 } else { span }
    }
}

impl fmt::Display for NightHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl FromStr for NightHours {
    type Err = String;

    /// `START-END` in whole local hours, `18-10`.
    fn from_str(s: &str) -> Result<Self, String> {
        let hour = |h: &str| {
            h.trim()
                .parse::<u8>()
                .ok()
                .filter(|h| *h < 24)
                .ok_or_else(|| {
                    format!(
                        "`{h}` is not an hour from 0 to 23 in `{s}` (want START-END, e.g. 18-10)"
                    )
                })
        };
        let (start, end) = s
            .split_once('-')
            .ok_or_else(|| format!("`{s}` is not START-END in whole hours, e.g. 18-10"))?;
        let night = Self {
            start: hour(start)?,
            end: hour(end)?,
        };
        if night.start == night.end {
            return Err(format!(
                "`{s}`: a night cannot start and end at the same hour"
            ));
        }
        Ok(night)
    }
}

/// One night's summary (`/api/v1/nights`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NightSummary {
    /// The local date the night starts on (`2026-12-05`).
    pub night: String,
    /// Its start and end, Unix time.
    pub start_unix_time: f64,
    /// Its end.
    pub end_unix_time: f64,
    /// Whether now is inside it.
    pub in_progress: bool,
    /// Cry episodes that started in it.
    pub episodes: u32,
    /// Minutes of crying, all episodes together.
    pub cry_minutes: f64,
    /// The longest episode in minutes.
    pub longest_minutes: f64,
    /// The first cry's start: Unix time and local `HH:MM`.
    pub first_cry: Option<CryTime>,
    /// The last cry's start.
    pub last_cry: Option<CryTime>,
    /// Episodes per reason.
    pub reasons: BTreeMap<String, u32>,
}

/// When a cry started.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CryTime {
    /// Unix time.
    pub unix_time: f64,
    /// Local wall-clock time, `HH:MM`.
    pub local: String,
}

struct Row {
    event_type: String,
    unix_time: f64,
    reason: String,
    night: String,
    shifted_hour: u8,
    clock: String,
}

/// The last `last` nights at `now`, oldest first (see the module documentation).
pub fn summarise(
    conn: &Connection,
    hours: NightHours,
    last: usize,
    now: f64,
) -> rusqlite::Result<Vec<NightSummary>> {
    let shift = format!("-{} hours", hours.start);
    let current: String = conn.query_row(
        "SELECT date(?1, 'unixepoch', 'localtime', ?2)",
        params![now, shift],
        |r| r.get(0),
    )?;
    let mut nights = Vec::with_capacity(last);
    for back in (0..i64::try_from(last).unwrap_or(0)).rev() {
        let (night, start, end): (String, f64, f64) = conn.query_row(
            "SELECT d, CAST(strftime('%s', d || printf(' %02d:00:00', ?3), 'utc') AS REAL), \
                    CAST(strftime('%s', d || printf(' %02d:00:00', ?3), 'utc', printf('+%d hours', ?4)) AS REAL) \
             FROM (SELECT date(?1, printf('-%d days', ?2)) AS d)",
            params![current, back, hours.start, hours.span()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        nights.push(NightSummary {
            night,
            start_unix_time: start,
            end_unix_time: end,
            in_progress: (start..end).contains(&now),
            episodes: 0,
            cry_minutes: 0.0,
            longest_minutes: 0.0,
            first_cry: None,
            last_cry: None,
            reasons: BTreeMap::new(),
        });
    }
    let Some(from) = nights.first().map(|n| n.start_unix_time) else {
        return Ok(nights);
    };
    let mut stmt = conn.prepare(
        "SELECT event_type, unix_time, reason, \
                date(unix_time, 'unixepoch', 'localtime', ?2), \
                CAST(strftime('%H', unix_time, 'unixepoch', 'localtime', ?2) AS INTEGER), \
                strftime('%H:%M', unix_time, 'unixepoch', 'localtime') \
         FROM events WHERE unix_time >= ?1 ORDER BY seq",
    )?;
    let rows: Vec<Row> = stmt
        .query_map(params![from, shift], |r| {
            Ok(Row {
                event_type: r.get(0)?,
                unix_time: r.get(1)?,
                reason: r.get(2)?,
                night: r.get(3)?,
                shifted_hour: r.get(4)?,
                clock: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut open: Option<usize> = None;
    let mut episodes: Vec<(usize, f64)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match row.event_type.as_str() {
            crate::alerts::topics::CRY_STARTED => {
                if let Some(o) = open.take() {
                    episodes.push((o, 0.0));
                }
                open = Some(i);
            }
            crate::alerts::topics::CALM => {
                if let Some(o) = open.take() {
                    episodes.push((o, (row.unix_time - rows[o].unix_time).max(0.0)));
                }
            }
            // Alerts suspended or resumed: no part of an episode.
            _ => {}
        }
    }
    if let Some(o) = open {
        episodes.push((o, (now - rows[o].unix_time).max(0.0)));
    }
    for (start, seconds) in episodes {
        let row = &rows[start];
        if row.shifted_hour >= hours.span() {
            continue;
        }
        let Some(night) = nights.iter_mut().find(|n| n.night == row.night) else {
            continue;
        };
        let minutes = seconds / 60.0;
        night.episodes += 1;
        night.cry_minutes += minutes;
        night.longest_minutes = night.longest_minutes.max(minutes);
        let at = CryTime {
            unix_time: round(row.unix_time, 3),
            local: row.clock.clone(),
        };
        if night.first_cry.is_none() {
            night.first_cry = Some(at.clone());
        }
        night.last_cry = Some(at);
        *night.reasons.entry(row.reason.clone()).or_default() += 1;
    }
    for night in &mut nights {
        night.cry_minutes = round(night.cry_minutes, 2);
        night.longest_minutes = round(night.longest_minutes, 2);
    }
    Ok(nights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertEvent, AlertKind, SuspensionChange, SuspensionEvent};
    use crate::history::{History, HistoryConfig};

    /// The Unix time of a local wall-clock time, by SQLite's own clock rules (so the test holds
    /// in any time zone).
    fn local(at: &str) -> f64 {
        Connection::open_in_memory()
            .unwrap()
            .query_row(
                "SELECT CAST(strftime('%s', ?1, 'utc') AS REAL)",
                [at],
                |r| r.get(0),
            )
            .unwrap()
    }

    struct Writer {
        history: History,
        seq: u64,
    }

    impl Writer {
        fn push(&mut self, at: &str, kind: AlertKind) {
            self.history.append(&AlertEvent {
                seq: self.seq,
                kind,
                t: 0.0,
                unix_time: local(at),
            });
            self.seq += 1;
        }

        fn cry(&mut self, at: &str, reason: &str) {
            self.push(
                at,
                AlertKind::CryStarted {
                    reason: reason.into(),
                    confidence: 0.8,
                    cry_prob: None,
                },
            );
        }

        fn suspend(&mut self, at: &str) {
            self.history.append(&SuspensionEvent {
                seq: self.seq,
                change: SuspensionChange::Suspended {
                    until: local(at) + 600.0,
                    minutes: 10,
                },
                t: 0.0,
                unix_time: local(at),
            });
            self.seq += 1;
        }

        fn calm(&mut self, at: &str) {
            self.push(
                at,
                AlertKind::Calm {
                    after: "x".into(),
                    cry_started: 0.0,
                },
            );
        }
    }

    #[test]
    fn nights_count_episodes_minutes_and_reasons_from_a_written_history() {
        let mut w = Writer {
            history: History::open(&HistoryConfig {
                retention_days: 3650,
                ..HistoryConfig::default()
            })
            .unwrap(),
            seq: 0,
        };
        // The night of 5 December: two episodes, 3 and 10 minutes; a daytime cry after it.
        w.cry("2026-12-05 19:00:00", "hungry");
        w.calm("2026-12-05 19:03:00");
        w.cry("2026-12-06 02:00:00", "tired");
        // Alerts suspended mid-cry: the episode goes on to its calm.
        w.suspend("2026-12-06 02:05:00");
        w.calm("2026-12-06 02:10:00");
        w.cry("2026-12-06 13:00:00", "hungry");
        w.calm("2026-12-06 13:30:00");
        // The night of 6 December: a cry cut off by a restart (no calm), then one of 2 minutes.
        w.cry("2026-12-06 23:30:00", "hungry");
        w.cry("2026-12-06 23:50:00", "discomfort");
        w.calm("2026-12-06 23:52:00");

        let morning = local("2026-12-07 08:00:00");
        let nights = w.history.nights(3, morning).unwrap();
        let names: Vec<&str> = nights.iter().map(|n| n.night.as_str()).collect();
        assert_eq!(names, ["2026-12-04", "2026-12-05", "2026-12-06"]);
        assert_eq!(nights[0].episodes, 0);
        assert!(nights[0].first_cry.is_none());

        let n5 = &nights[1];
        assert_eq!(n5.start_unix_time, local("2026-12-05 18:00:00"));
        assert_eq!(n5.end_unix_time, local("2026-12-06 10:00:00"));
        assert!(!n5.in_progress);
        assert_eq!(
            (n5.episodes, n5.cry_minutes, n5.longest_minutes),
            (2, 13.0, 10.0)
        );
        assert_eq!(n5.first_cry.as_ref().unwrap().local, "19:00");
        assert_eq!(n5.last_cry.as_ref().unwrap().local, "02:00");
        assert_eq!(
            n5.reasons,
            BTreeMap::from([("hungry".into(), 1), ("tired".into(), 1)]),
            "the 13:00 cry is daytime"
        );

        let n6 = &nights[2];
        assert!(n6.in_progress, "08:00 is still the night of the 6th");
        assert_eq!(
            (n6.episodes, n6.cry_minutes, n6.longest_minutes),
            (2, 2.0, 2.0)
        );
        assert_eq!(n6.first_cry.as_ref().unwrap().local, "23:30");
        assert_eq!(n6.last_cry.as_ref().unwrap().local, "23:50");

        // The evening of the 7th: a cry going on for 5 minutes is counted up to now.
        w.cry("2026-12-07 19:55:00", "tired");
        let nights = w.history.nights(1, local("2026-12-07 20:00:00")).unwrap();
        assert_eq!(nights[0].night, "2026-12-07");
        assert!(nights[0].in_progress);
        assert_eq!((nights[0].episodes, nights[0].cry_minutes), (1, 5.0));
    }

    #[test]
    fn night_hours_parse_and_refuse_nonsense() {
        assert_eq!(
            "18-10".parse::<NightHours>().unwrap(),
            NightHours { start: 18, end: 10 }
        );
        assert_eq!("20-6".parse::<NightHours>().unwrap().span(), 10);
        assert_eq!("0-8".parse::<NightHours>().unwrap().span(), 8);
        for bad in ["18", "18-24", "x-10", "7-7", ""] {
            assert!(bad.parse::<NightHours>().is_err(), "{bad}");
        }
    }
}
