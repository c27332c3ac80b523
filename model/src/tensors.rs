//! The tensor list of an architecture: §10 names and shapes, with the §9 initialization of each.
//!
//! One list serves three purposes: the seeded random init, the analytic parameter count, and
//! (through the operators' readers) the weight-file contract.

/// How a tensor is initialized (§9).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// N(0, std²).
    Normal(f32),
    /// U(−a, a).
    Uniform(f32),
    Const(f32),
    /// `log U(lo, hi)` (A_log of Mamba2: (1, 16); of Gated DeltaNet: (0, 16)).
    LogUniform(f32, f32),
    /// `softplus⁻¹(dt)`, `dt = exp(U(log 1e−3, log 1e−1))` clamped ≥ 1e−4.
    DtBias,
}

/// One named tensor of an architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl TensorSpec {
    pub fn new(name: impl Into<String>, shape: &[usize], init: Init) -> Self {
        Self {
            name: name.into(),
            shape: shape.to_vec(),
            init,
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// fla DeltaNet init: xavier_uniform with gain 2^−2.5, `U(±gain·sqrt(6/(in+out)))`.
pub fn xavier(out_dim: usize, in_dim: usize) -> Init {
    let gain = 2f32.powf(-2.5);
    Init::Uniform(gain * (6.0 / (in_dim + out_dim) as f32).sqrt())
}

/// PyTorch Conv1d default for the DeltaNet / GDN short convs: `U(±1/sqrt(K))`.
pub fn conv_default(k: usize) -> Init {
    Init::Uniform(1.0 / (k as f32).sqrt())
}
