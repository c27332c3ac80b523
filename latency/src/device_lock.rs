//! Exclusive use of a device for timing, across the processes of one host.
//!
//! Trainers hold the lock shared and a measurement holds it exclusively, so nothing trains on
//! the device while it is timed. A second lock, the gate, gives a waiting measurement priority
//! over new trainers (no starvation).

use std::fs::File;
use std::path::Path;

/// The name of this host (`/proc/sys/kernel/hostname`, else `localhost`): locks, leases and
/// worker names are per host.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// The lock of one device on this host (two files under `DIR/locks/`).
pub struct DeviceLock {
    main: File,
    gate: File,
}

/// A held [`DeviceLock`]; released on drop.
pub struct DeviceGuard<'a>(&'a File);

impl Drop for DeviceGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl DeviceLock {
    /// The lock of `device` on this host, kept under `dir/locks/`. The error names the file.
    pub fn open(dir: &Path, device: &str) -> Result<Self, String> {
        let locks = dir.join("locks");
        std::fs::create_dir_all(&locks).map_err(|e| format!("{}: {e}", locks.display()))?;
        let base = format!("{}-{}", host_name(), device.replace(':', "-"));
        let open = |suffix: &str| {
            let p = locks.join(format!("{base}.{suffix}"));
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&p)
                .map_err(|e| format!("{}: {e}", p.display()))
        };
        Ok(Self {
            main: open("lock")?,
            gate: open("gate")?,
        })
    }

    /// Held while training.
    pub fn shared(&self) -> DeviceGuard<'_> {
        let _ = self.gate.lock();
        let _ = self.main.lock_shared();
        let _ = self.gate.unlock();
        DeviceGuard(&self.main)
    }

    /// Held while timing.
    pub fn exclusive(&self) -> DeviceGuard<'_> {
        let _ = self.gate.lock();
        let _ = self.main.lock();
        let _ = self.gate.unlock();
        DeviceGuard(&self.main)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exclusive_holder_excludes_a_trainer_of_another_handle() {
        let dir = tempfile::tempdir().unwrap();
        let a = DeviceLock::open(dir.path(), "cuda:0").unwrap();
        let b = DeviceLock::open(dir.path(), "cuda:0").unwrap();
        let held = a.exclusive();
        assert!(
            b.main.try_lock_shared().is_err(),
            "a shared lock was granted while the device is timed"
        );
        drop(held);
        assert!(b.main.try_lock_shared().is_ok());
        let names: Vec<_> = std::fs::read_dir(dir.path().join("locks"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| n.contains("cuda-0")), "{names:?}");
    }
}
