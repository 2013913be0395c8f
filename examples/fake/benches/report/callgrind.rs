//! `BENCH_MODE=callgrind`: a fixed number of sequential GetSecret calls against one
//! in-process server, for `valgrind --tool=callgrind`. The calls run inside
//! [`callgrind_measured_calls`], so that `--zero-before` / `--dump-after` on it
//! count exactly them (client and server, every thread); `examples/fake/callgrind.sh`
//! runs it for each server and compares instructions per call.

use super::servers::{self, Target, Which, call};

/// Starts `which`, warms it up with `warmup` calls, then makes `calls` calls.
pub fn run(which: Which, calls: usize, warmup: usize) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let (running, mut targets) = runtime.block_on(servers::start(&[which]))?;
    let mut target = targets.pop().ok_or("no server started")?;
    runtime.block_on(async {
        for _ in 0..warmup {
            call(&mut target.client, &target.request, target.name).await?;
        }
        Ok::<_, String>(())
    })?;
    callgrind_measured_calls(&runtime, &mut target, calls)?;
    eprintln!("{}: {calls} calls measured", target.name);
    runtime.block_on(running.stop())
}

/// The measured calls; `#[inline(never)]` so that callgrind can find it by name.
#[inline(never)]
pub fn callgrind_measured_calls(
    runtime: &tokio::runtime::Runtime,
    target: &mut Target,
    calls: usize,
) -> Result<(), String> {
    runtime.block_on(async {
        for _ in 0..calls {
            call(&mut target.client, &target.request, target.name).await?;
        }
        Ok(())
    })
}
