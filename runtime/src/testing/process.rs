//! Child processes in tests: [`KillOnDrop`].

/// A child process (a provider binary, a backend server) that is killed and reaped
/// when dropped, so a test that fails half-way leaves no process behind. Derefs to
/// the [`std::process::Child`].
///
/// ```
/// use eso_runtime::testing::KillOnDrop;
///
/// let child = std::process::Command::new("sleep").arg("60").spawn().map(KillOnDrop);
/// # let Ok(mut child) = child else { return };
/// let id = child.id();
/// assert!(matches!(child.try_wait(), Ok(None)), "{id} runs");
/// drop(child); // killed and reaped here
/// ```
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;

    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
