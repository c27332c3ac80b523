//! What people read of a campaign: the report page, the plots and the exports (readers:
//! they never write a campaign's state).

pub mod export;
pub mod plot;
pub mod report;
