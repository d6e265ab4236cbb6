//! What the driver benches share: the interleaved group's runner (see
//! `session_benches::interleaved`).

use std::future::Future;
use std::pin::Pin;

use criterion::measurement::WallTime;
use criterion::BenchmarkGroup;
use session_benches::interleaved::{self, Contender, Interleaved};

/// One interleaved bench named `name`: each iteration runs every contender once, in
/// turn; criterion reports the first contender's time, and every iteration's times go
/// to `target/criterion/interleaved/{name}.json` for the report.
pub fn interleave(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    names: &[&str],
    contenders: &[Contender<'_>],
) {
    let times = Interleaved::new(name, names);
    group.bench_function(name, |b| {
        b.to_async(rt)
            .iter_custom(|iters| times.run(iters, contenders))
    });
    if let Err(e) = times.write(&interleaved::results_dir()) {
        eprintln!("cannot save the interleaved times of {name}: {e}");
    }
}

/// A contender's future, boxed, as [`Contender`] makes them.
pub fn boxed<'a>(future: impl Future<Output = ()> + 'a) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(future)
}
