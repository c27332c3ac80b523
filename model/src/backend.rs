//! The one place that picks the compute backend.
//!
//! Tests, benchmarks and the CLI all use [`Compute`] and [`device`], so building with
//! `--features cuda` moves every one of them to `cuda:0` without touching their code.
//! The default CPU backend is burn-flex (measured faster than burn-ndarray on this model's
//! training step; see README, "Choice of CPU backend").

use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::Device;

#[cfg(feature = "cuda")]
pub type Compute = burn::backend::Cuda<f32, i32>;

#[cfg(all(not(feature = "cuda"), feature = "ndarray"))]
pub type Compute = burn::backend::NdArray<f32>;

#[cfg(all(not(feature = "cuda"), not(feature = "ndarray")))]
pub type Compute = burn::backend::Flex;

/// The autodiff-wrapped compute backend used for training.
pub type Train = Autodiff<Compute>;

/// Short name of the active backend, recorded in results and lookup tables.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else if cfg!(feature = "ndarray") {
        "ndarray"
    } else {
        "flex"
    }
}

/// The default device of the active backend (`cuda:0` with the `cuda` feature, else the CPU).
pub fn device() -> Device<Compute> {
    Default::default()
}

/// A device string this binary cannot use, with what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeviceError(pub String);

/// Parses a user device string (`cpu`, `cuda`, `cuda:N`) against the compiled backends.
pub fn parse_device(s: &str) -> Result<Device<Compute>, DeviceError> {
    parse(s).map_err(DeviceError)
}

fn parse(s: &str) -> Result<Device<Compute>, String> {
    let s = s.trim();
    if s == "cpu" {
        if cfg!(feature = "cuda") {
            return Err(
                "device 'cpu' requested, but this binary was built with --features cuda; \
                        rebuild without it to measure on the CPU"
                    .into(),
            );
        }
        return Ok(Default::default());
    }
    let index = if s == "cuda" {
        Some(0)
    } else if let Some(n) = s.strip_prefix("cuda:") {
        Some(n.parse::<usize>().map_err(|_| {
            format!("device '{s}': the index after 'cuda:' must be a non-negative integer")
        })?)
    } else {
        None
    };
    match index {
        None => Err(format!(
            "unknown device '{s}': expected 'cpu', 'cuda' or 'cuda:N'"
        )),
        Some(_i) => {
            #[cfg(feature = "cuda")]
            {
                Ok(burn::backend::cuda::CudaDevice::new(_i))
            }
            #[cfg(not(feature = "cuda"))]
            {
                Err(format!(
                    "device '{s}' requested, but this binary was built without CUDA; \
                     rebuild with `cargo build --release --features cuda`"
                ))
            }
        }
    }
}

/// Waits until every queued operation on `device` has finished (needed before reading a clock).
pub fn sync(device: &Device<Compute>) {
    let _ = <Compute as Backend>::sync(device);
}
