//! The retry-or-give-up policy every executor that runs candidates elsewhere shares: a
//! candidate whose worker or job ended without a result is tried again until
//! `max_attempts`, then recorded as a failed evaluation that says why.

use crate::event::Event;
use crate::task::{Lease, Task, TaskResult};
use std::collections::HashMap;
use std::path::Path;

/// What becomes of a failed attempt of candidate `name` (`task`, attempt `attempt`, ended for
/// `why`): tried again — returned with attempt + 1 for the caller to queue, with a note
/// "{again} (attempt k/n)" — or, its tries spent, put into `done` as a failed result of
/// `executor`, its lease cleared (`None`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn retry_or_give_up(
    dir: &Path,
    name: String,
    task: Task,
    attempt: usize,
    max_attempts: usize,
    why: String,
    again: &str,
    executor: &'static str,
    done: &mut HashMap<String, TaskResult>,
    ev: &mut dyn FnMut(Event),
) -> Option<(Task, usize)> {
    if attempt < max_attempts {
        ev(Event::Note(format!(
            "candidate {name}: {why}; {again} (attempt {}/{max_attempts})",
            attempt + 1
        )));
        Some((task, attempt + 1))
    } else {
        Lease::clear(dir, &name);
        let why = format!("{why}; gave up after {attempt} attempts");
        ev(Event::Note(format!("candidate {name}: {why}")));
        done.insert(name, TaskResult::gave_up(&task, why, attempt, executor));
        None
    }
}
