//! The one place that picks the compute backend.
//!
//! Tests, benchmarks and the CLI all use [`Compute`] and [`device`], so building with
//! `--features cuda` moves every one of them to `cuda:0` (`--features wgpu`: to the default
//! wgpu adapter) without touching their code.
//! The default CPU backend is burn-flex (measured faster than burn-ndarray on this model's
//! training step; see README, "Choice of CPU backend").

use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::Device;

#[cfg(feature = "cuda")]
pub type Compute = burn::backend::Cuda<f32, i32>;

#[cfg(all(not(feature = "cuda"), feature = "wgpu"))]
pub type Compute = burn::backend::Wgpu<f32, i32>;

#[cfg(all(not(feature = "cuda"), not(feature = "wgpu"), feature = "ndarray"))]
pub type Compute = burn::backend::NdArray<f32>;

#[cfg(all(not(feature = "cuda"), not(feature = "wgpu"), not(feature = "ndarray")))]
pub type Compute = burn::backend::Flex;

/// The autodiff-wrapped compute backend used for training.
pub type Train = Autodiff<Compute>;

/// Short name of the active backend, recorded in results and lookup tables.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else if cfg!(feature = "wgpu") {
        "wgpu"
    } else if cfg!(feature = "ndarray") {
        "ndarray"
    } else {
        "flex"
    }
}

/// The default device of the active backend (`cuda:0` with the `cuda` feature, the default
/// wgpu adapter with `wgpu`, else the CPU).
pub fn device() -> Device<Compute> {
    Default::default()
}

/// The device string of [`device`]: what results record when no device was named.
pub fn default_device_name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda:0"
    } else if cfg!(feature = "wgpu") {
        "wgpu"
    } else {
        "cpu"
    }
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
        if cfg!(feature = "cuda") || cfg!(feature = "wgpu") {
            return Err(format!(
                "device 'cpu' requested, but this binary was built with --features {}; \
                        rebuild without it to measure on the CPU",
                backend_name()
            ));
        }
        return Ok(Default::default());
    }
    if s == "wgpu" || s.starts_with("wgpu:") {
        #[cfg(all(feature = "wgpu", not(feature = "cuda")))]
        {
            return wgpu_adapters::device(s).map(|(d, _)| d);
        }
        #[cfg(not(all(feature = "wgpu", not(feature = "cuda"))))]
        {
            return Err(format!(
                "device '{s}' requested, but this binary was built without wgpu; \
                 rebuild with `cargo build --release --features wgpu`"
            ));
        }
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
            "unknown device '{s}': expected 'cpu', 'cuda', 'cuda:N', 'wgpu' or 'wgpu:N'"
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

/// The adapter a wgpu device string names, and its name as the driver reports it (what
/// results, lookup tables and predictors are keyed by). `None` when this build has no wgpu.
pub fn wgpu_adapter_name(s: &str) -> Option<Result<String, DeviceError>> {
    #[cfg(all(feature = "wgpu", not(feature = "cuda")))]
    {
        Some(
            wgpu_adapters::device(s)
                .map(|(_, n)| n)
                .map_err(DeviceError),
        )
    }
    #[cfg(not(all(feature = "wgpu", not(feature = "cuda"))))]
    {
        let _ = s;
        None
    }
}

/// `wgpu` (the adapter burn picks by default: the most powerful) and `wgpu:N` (the N-th adapter
/// of the system, in wgpu's enumeration order, of any kind), mapped to burn's `WgpuDevice`.
#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
mod wgpu_adapters {
    use burn::backend::wgpu::WgpuDevice;
    use wgpu::DeviceType;

    fn adapters() -> Vec<wgpu::AdapterInfo> {
        // Vulkan, Metal, DX12: what burn computes on (GL would only add display-server noise).
        let backends = wgpu::Backends::PRIMARY;
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let list = futures_lite::future::block_on(instance.enumerate_adapters(backends));
        list.into_iter().map(|a| a.get_info()).collect()
    }

    fn describe(a: &wgpu::AdapterInfo) -> String {
        format!("{} ({:?}, {:?})", a.name, a.device_type, a.backend)
    }

    pub fn device(s: &str) -> Result<(WgpuDevice, String), String> {
        let list = adapters();
        if list.is_empty() {
            return Err(format!(
                "device '{s}': no wgpu adapter found (no Vulkan, Metal or DX12 driver answered); \
                 install your GPU's Vulkan driver, or Mesa's software one (Debian: \
                 apt install mesa-vulkan-drivers) to run on the CPU through lavapipe"
            ));
        }
        let rank = |t: DeviceType| match t {
            DeviceType::DiscreteGpu => 0,
            DeviceType::IntegratedGpu => 1,
            DeviceType::VirtualGpu => 2,
            DeviceType::Other => 3,
            DeviceType::Cpu => 4,
        };
        let index = match s.strip_prefix("wgpu:") {
            None => {
                // burn's default: a high-performance adapter first.
                let best = (0..list.len())
                    .min_by_key(|&i| rank(list[i].device_type))
                    .expect("non-empty");
                return Ok((WgpuDevice::DefaultDevice, describe(&list[best])));
            }
            Some(n) => n.parse::<usize>().map_err(|_| {
                format!("device '{s}': the index after 'wgpu:' must be a non-negative integer")
            })?,
        };
        let Some(a) = list.get(index) else {
            let names: Vec<String> = list
                .iter()
                .enumerate()
                .map(|(i, a)| format!("wgpu:{i} = {}", describe(a)))
                .collect();
            return Err(format!(
                "device '{s}': this machine has {} wgpu adapters ({})",
                list.len(),
                names.join("; ")
            ));
        };
        // Its index among the adapters of its kind (how burn numbers them).
        let nth = list[..index]
            .iter()
            .filter(|b| b.device_type == a.device_type)
            .count();
        let device = match a.device_type {
            DeviceType::DiscreteGpu => WgpuDevice::DiscreteGpu(nth),
            DeviceType::IntegratedGpu => WgpuDevice::IntegratedGpu(nth),
            DeviceType::VirtualGpu => WgpuDevice::VirtualGpu(nth),
            DeviceType::Cpu => WgpuDevice::Cpu,
            DeviceType::Other => WgpuDevice::DefaultDevice,
        };
        Ok((device, describe(a)))
    }
}
