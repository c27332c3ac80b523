//! Studies of a campaign or a space, each its own resumable driver: the validation of a
//! campaign's picks against hand-designed baselines, the proxy fidelity audit, the depth–width
//! study and its scaling-law fit, and the latency predictor's build and check.

pub mod audit;
pub mod depth_width;
pub mod latency_model;
pub mod scaling;
pub mod validate;
