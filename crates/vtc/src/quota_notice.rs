//! Says on stderr why vtc is waiting, so a run held back by the quota
//! never looks hung: on a terminal at most every few seconds, in a pipe
//! once per kind of wait.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vt_api::{HoldReason, QuotaEvent, QuotaObserver, MAX_UNEXPECTED_429_STRIKES};

/// Shorter waits are not worth a line.
const WORTH_SAYING: Duration = Duration::from_secs(1);

/// On a terminal, the same kind of line at most this often.
const REPEAT_AFTER: Duration = Duration::from_secs(15);

pub struct QuotaNotice {
    terminal: bool,
    /// When each kind of line was last said: budget wait, back-off wait, 429.
    said: Mutex<[Option<Instant>; 3]>,
}

impl QuotaNotice {
    pub fn new() -> QuotaNotice {
        QuotaNotice {
            terminal: std::io::stderr().is_terminal(),
            said: Mutex::new([None; 3]),
        }
    }

    /// Whether a line of `kind` may be said now; remembers that it was.
    fn may_say(&self, kind: usize) -> bool {
        let mut said = self.said.lock().unwrap_or_else(|p| p.into_inner());
        let Some(last) = said.get_mut(kind) else {
            return false;
        };
        let due = match last {
            None => true,
            Some(at) => self.terminal && at.elapsed() >= REPEAT_AFTER,
        };
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

impl QuotaObserver for QuotaNotice {
    fn observe(&self, event: QuotaEvent) {
        if let Some((kind, line)) = line_for(event) {
            if self.may_say(kind) {
                eprintln!("vtc: {line}");
            }
        }
    }
}

/// The line for an event, with its kind; `None` for what is not worth a line.
fn line_for(event: QuotaEvent) -> Option<(usize, String)> {
    match event {
        QuotaEvent::Waiting { wait, reason } if wait >= WORTH_SAYING => {
            let secs = wait.as_secs_f64().ceil();
            Some(match reason {
                HoldReason::MinuteBudget { per_minute } => (
                    0,
                    format!(
                        "waiting {secs:.0} s for a quota slot: the key's budget is {per_minute} \
                         requests a minute (--quota-minute N or VTC_QUOTA_MINUTE changes it, \
                         0 = unlimited, e.g. against `vtc emulator`)"
                    ),
                ),
                _ => (
                    1,
                    format!(
                        "waiting {secs:.0} s: the server refused requests (429) although the \
                         budget had room, so the key pauses"
                    ),
                ),
            })
        }
        QuotaEvent::Unexpected429 {
            giving_up: true, ..
        } => Some((
            2,
            format!(
                "the server still answers 429 (too many requests) after \
                 {MAX_UNEXPECTED_429_STRIKES} pauses: giving up; check the key's real quota \
                 (`vtc quota`) and lower --quota-minute / --quota-day to match it"
            ),
        )),
        QuotaEvent::Unexpected429 { strikes: 1, .. } => Some((
            2,
            format!(
                "the server answered 429 (too many requests) although the budget had room: \
                 pausing the key, giving up after {MAX_UNEXPECTED_429_STRIKES} pauses that end \
                 in 429 again"
            ),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_wait_names_the_budget_and_how_to_change_it() {
        let (_, line) = line_for(QuotaEvent::Waiting {
            wait: Duration::from_millis(14_200),
            reason: HoldReason::MinuteBudget { per_minute: 4 },
        })
        .expect("worth a line");
        assert!(line.contains("15 s"), "{line}");
        assert!(line.contains("4 requests a minute"), "{line}");
        assert!(line.contains("--quota-minute"), "{line}");
    }

    #[test]
    fn short_waits_and_later_strikes_say_nothing() {
        assert!(line_for(QuotaEvent::Waiting {
            wait: Duration::from_millis(300),
            reason: HoldReason::MinuteBudget { per_minute: 4 },
        })
        .is_none());
        assert!(line_for(QuotaEvent::Unexpected429 {
            strikes: 2,
            giving_up: false
        })
        .is_none());
    }

    #[test]
    fn in_a_pipe_each_kind_is_said_once() {
        let notice = QuotaNotice {
            terminal: false,
            said: Mutex::new([None; 3]),
        };
        assert!(notice.may_say(0));
        assert!(!notice.may_say(0));
        assert!(notice.may_say(2));
    }
}
