//! The racing step after the search (more seeds for the close calls at each budget level), and
//! the error when nothing was feasible.

use super::*;

impl Campaign<'_> {
    /// Racing (see [`crate::racing`]): rounds of replicates until every close call at every
    /// budget level is separated or has `max_seeds` seeds. Each round is proposed whole, then
    /// admitted in order, so a resume replays it exactly.
    pub(super) fn race(&mut self) -> Result<()> {
        let levels = self.cfg.racing_levels();
        for round in 1.. {
            let next = crate::racing::next_round(
                &self.records,
                self.budget_s(),
                &levels,
                &self.cfg.racing,
            );
            if next.is_empty() {
                break;
            }
            let standing =
                crate::racing::standing(&self.records, self.budget_s(), &levels, self.cfg.racing.z);
            (self.on_event)(Event::Note(format!(
                "racing round {round}: {} more seeds ({}){}",
                next.len(),
                next.iter()
                    .map(|(id, r)| format!("#{id} seed {r}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                match standing.sigma {
                    Some((s, df)) => format!("; seed noise σ = {s:.4} ({df} df)"),
                    None => "; measuring the seed noise σ".into(),
                }
            )));
            for (id, r) in next {
                self.make_room()?;
                let c = &self.records[id];
                let p = Proposal {
                    genome: c.genome.clone(),
                    cycle: c.cycle,
                    parent: Some(id),
                    second_parent: None,
                    origin: Origin::Replicate,
                    mutation: None,
                    rung: None,
                    replicate: Some(r),
                };
                if let Err(dup) = self.submit(p)? {
                    // Cannot happen (a seed is proposed once); stop rather than loop.
                    (self.on_event)(Event::Note(format!(
                        "racing stopped: #{id} seed {r} is already record {dup}"
                    )));
                    self.drain()?;
                    return Ok(());
                }
            }
            self.drain()?;
        }
        Ok(())
    }

    /// The error of a campaign that ended without any feasible candidate because its
    /// proposals were over the budget (`None` when none was: every candidate failed).
    pub(super) fn no_feasible(&self) -> Option<Error> {
        let cheapest = self
            .records
            .iter()
            .filter(|r| r.latency.seconds.is_some())
            .min_by(|a, b| a.latency().total_cmp(&b.latency()).then(a.id.cmp(&b.id)))?;
        if cheapest.latency() <= self.budget_s() {
            return None;
        }
        Some(Error::NoFeasible(format!(
            "{}: no candidate within the latency budget of {:.6} s after {} proposals ({} priced by the driver); the fastest seen, #{} {}, takes {:.6} s ({:.2}× the budget). Raise latency.budget_ref or latency.budget_s, allow narrower widths (space.widths) or shallower models (space.depth_cap), or drop the slowest mixers from space.mixers; then start a new campaign",
            self.dir.display(),
            self.budget_s(),
            self.records.len(),
            self.pricings,
            cheapest.id,
            cheapest.key,
            cheapest.latency(),
            cheapest.latency() / self.budget_s(),
        )))
    }
}
