//! Named host tensors and safetensors I/O with the names and shapes of docs/OPERATORS.md §10.
//!
//! Every module is built from a [`WeightMap`] (the random init of §9 produces one, a
//! safetensors file produces one) through a [`WeightReader`], which checks each tensor's
//! presence and shape and, at the end, that nothing unexpected is left. Saving goes the other
//! way: each module writes its tensors into a map under the §10 names.

use crate::fsio::write_atomic;
use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// A dense f32 tensor on the host, row-major, with the shape of §10.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape/data mismatch"
        );
        Self { shape, data }
    }

    /// Transposes a 2-D tensor (the §10 `[out, in]` layout ↔ the `[in, out]` compute layout).
    pub fn transpose2(&self) -> HostTensor {
        let (r, c) = (self.shape[0], self.shape[1]);
        let mut out = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                out[j * r + i] = self.data[i * c + j];
            }
        }
        HostTensor::new(vec![c, r], out)
    }

    pub fn to_tensor<B: Backend, const D: usize>(&self, device: &B::Device) -> Tensor<B, D> {
        Tensor::from_data(
            TensorData::new(self.data.clone(), self.shape.clone()),
            device,
        )
    }

    pub fn from_tensor<B: Backend, const D: usize>(t: Tensor<B, D>) -> HostTensor {
        let shape = t.dims().to_vec();
        let data = t
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .expect("float tensor converts to f32");
        HostTensor::new(shape, data)
    }
}

/// Tensors by their §10 name.
pub type WeightMap = BTreeMap<String, HostTensor>;

/// A weight file or map that does not match the architecture.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightError {
    Missing(String),
    Unexpected(String),
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    File(String),
}

impl fmt::Display for WeightError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightError::Missing(n) => write!(f, "missing tensor '{n}'"),
            WeightError::Unexpected(n) => {
                write!(f, "unexpected tensor '{n}' (not part of this architecture)")
            }
            WeightError::Shape {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor '{name}' has shape {found:?}, the architecture needs {expected:?}"
            ),
            WeightError::File(m) => f.write_str(m),
        }
    }
}
impl std::error::Error for WeightError {}

/// Takes tensors out of a map by name, checking shapes; `finish` reports leftovers.
pub struct WeightReader<'a, B: Backend> {
    map: WeightMap,
    pub device: &'a B::Device,
}

impl<'a, B: Backend> WeightReader<'a, B> {
    pub fn new(map: WeightMap, device: &'a B::Device) -> Self {
        Self { map, device }
    }

    fn take_host(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor, WeightError> {
        let t = self
            .map
            .remove(name)
            .ok_or_else(|| WeightError::Missing(name.to_string()))?;
        if t.shape != shape {
            return Err(WeightError::Shape {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: t.shape,
            });
        }
        Ok(t)
    }

    /// A tensor stored exactly as in §10.
    pub fn param<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
    ) -> Result<Param<Tensor<B, D>>, WeightError> {
        let t = self.take_host(name, &shape)?;
        Ok(Param::from_tensor(t.to_tensor(self.device)))
    }

    /// A linear weight: §10 stores `[out, in]`; we compute with `[in, out]` (`y = x W`).
    pub fn linear(
        &mut self,
        name: &str,
        out_dim: usize,
        in_dim: usize,
    ) -> Result<Param<Tensor<B, 2>>, WeightError> {
        let t = self.take_host(name, &[out_dim, in_dim])?;
        Ok(Param::from_tensor(t.transpose2().to_tensor(self.device)))
    }

    /// A depthwise conv weight: §10 stores `[C, 1, K]` (`[C, K]` accepted); we compute with
    /// `[K, C]` (tap j multiplies the input j−(K−1) steps back).
    pub fn conv(
        &mut self,
        name: &str,
        channels: usize,
        k: usize,
    ) -> Result<Param<Tensor<B, 2>>, WeightError> {
        let t = match self.map.get(name) {
            Some(t) if t.shape == [channels, k] => self.take_host(name, &[channels, k])?,
            _ => {
                let t = self.take_host(name, &[channels, 1, k])?;
                HostTensor::new(vec![channels, k], t.data)
            }
        };
        Ok(Param::from_tensor(t.transpose2().to_tensor(self.device)))
    }

    /// Removes a tensor the architecture ignores (e.g. `lm_head.weight` when tied), if present.
    pub fn discard(&mut self, name: &str) {
        self.map.remove(name);
    }

    /// Errors on any tensor nobody took.
    pub fn finish(self) -> Result<(), WeightError> {
        match self.map.into_keys().next() {
            Some(name) => Err(WeightError::Unexpected(name)),
            None => Ok(()),
        }
    }
}

/// Writes module tensors into a map under their §10 names (inverse of [`WeightReader`]).
pub struct WeightWriter<'a> {
    pub map: &'a mut WeightMap,
}

impl WeightWriter<'_> {
    pub fn param<B: Backend, const D: usize>(&mut self, name: &str, p: &Param<Tensor<B, D>>) {
        self.map
            .insert(name.to_string(), HostTensor::from_tensor(p.val()));
    }

    pub fn linear<B: Backend>(&mut self, name: &str, p: &Param<Tensor<B, 2>>) {
        self.map.insert(
            name.to_string(),
            HostTensor::from_tensor(p.val()).transpose2(),
        );
    }

    pub fn conv<B: Backend>(&mut self, name: &str, p: &Param<Tensor<B, 2>>) {
        let t = HostTensor::from_tensor(p.val()).transpose2(); // [C, K]
        let (c, k) = (t.shape[0], t.shape[1]);
        self.map
            .insert(name.to_string(), HostTensor::new(vec![c, 1, k], t.data));
    }
}

/// Writes a map to a safetensors file (f32), atomically (temp file, fsync, rename).
pub fn save_safetensors(map: &WeightMap, path: &Path) -> Result<(), WeightError> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = map
        .iter()
        .map(|(k, t)| {
            let b = t.data.iter().flat_map(|x| x.to_le_bytes()).collect();
            (k.clone(), b, t.shape.clone())
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(k, b, s)| {
            (
                k.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).expect("consistent view"),
            )
        })
        .collect();
    let data = safetensors::serialize(views, &None)
        .map_err(|e| WeightError::File(format!("{}: cannot serialize: {e}", path.display())))?;
    write_atomic(path, &data)
        .map_err(|e| WeightError::File(format!("{}: cannot write: {e}", path.display())))
}

/// Reads a safetensors file (f32, f16 or bf16 tensors, cast to f32).
pub fn load_safetensors(path: &Path) -> Result<WeightMap, WeightError> {
    let bytes = std::fs::read(path)
        .map_err(|e| WeightError::File(format!("{}: cannot read: {e}", path.display())))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        WeightError::File(format!("{}: not a safetensors file: {e}", path.display()))
    })?;
    let mut map = WeightMap::new();
    for (name, view) in st.tensors() {
        let raw = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(WeightError::File(format!(
                    "{}: tensor '{name}' has dtype {other:?}; only F32, F16 and BF16 are supported",
                    path.display()
                )))
            }
        };
        map.insert(name, HostTensor::new(view.shape().to_vec(), data));
    }
    Ok(map)
}
