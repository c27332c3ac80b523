//! What the GPU builds switch on in burn: the kernels are picked without cubecl's autotuner
//! unless the `autotune` feature asks for it (README, "GPU kernels"). Read from the resolved
//! dependency graph (`cargo tree`, from Cargo.lock), not from what Cargo.toml says.

use std::process::Command;

/// The features cargo resolves for `package` in a build of this workspace with `features`.
fn resolved_features(features: &str, package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--locked", "-e", "normal", "--prefix", "none"])
        .args(["-f", "{p} [{f}]", "--features", features, "-p", "flashnas"])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree --features {features}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = tree
        .lines()
        .filter(|l| l.starts_with(&format!("{package} v")))
        .collect();
    // An absent package would pass every "does not contain" check below.
    assert!(
        !lines.is_empty(),
        "--features {features}: no {package} in the build"
    );
    lines.join("\n")
}

#[test]
fn gpu_builds_pick_kernels_without_the_autotuner_unless_asked() {
    for gpu in ["wgpu", "cuda"] {
        let plain = resolved_features(gpu, "burn-cubecl");
        assert!(
            plain.contains("fusion"),
            "{gpu}: burn-cubecl without fusion: {plain}"
        );
        assert!(
            !plain.contains("autotune"),
            "{gpu}: burn-cubecl autotunes: {plain}"
        );
        let fusion = resolved_features(gpu, "burn-cubecl-fusion");
        assert!(
            !fusion.contains("autotune"),
            "{gpu}: fused kernels autotune: {fusion}"
        );
        let asked = resolved_features(&format!("{gpu},autotune"), "burn-cubecl");
        assert!(asked.contains("autotune"), "{gpu},autotune: {asked}");
    }
    // The CPU build keeps the burn-flex features burn's defaults gave it.
    let flex = resolved_features("", "burn-flex");
    for f in ["rayon", "simd", "std"] {
        assert!(flex.contains(f), "burn-flex lost {f}: {flex}");
    }
}
