//! Interleaved timing: two or more contenders run in turn, one iteration each, over
//! and over, so every contender meets the same machine.
//!
//! Separate criterion benches of ours and the bare limit run seconds apart; on a
//! small shared machine the load from everything else moves in those seconds, and a
//! ratio of two separate medians moved by 15-30% between runs with no code change.
//! Here each iteration times every contender back to back (the order rotates, so
//! none is always first), and the ratio is taken over the same stretch of time.
//!
//! [`Interleaved::run`] is what a bench's `iter_custom` calls; it returns the first
//! contender's time, which criterion reports as usual, and keeps every iteration's
//! times, which [`Interleaved::write`] saves for `bench-report` ([`Summary`]).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One contender: makes the future of one iteration (a request cycle, or 50 at once).
pub type Contender<'a> = &'a dyn Fn() -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// The times of one interleaved bench: one row per iteration, one column per
/// contender, in nanoseconds.
#[derive(Debug)]
pub struct Interleaved {
    name: String,
    contenders: Vec<String>,
    rows: Mutex<Vec<Vec<u64>>>,
}

impl Interleaved {
    /// A bench named `name` (the file name under `target/criterion/interleaved`)
    /// with these contenders, in the order `run` is given them.
    pub fn new(name: &str, contenders: &[&str]) -> Self {
        Interleaved {
            name: name.to_owned(),
            contenders: contenders.iter().map(|c| (*c).to_owned()).collect(),
            rows: Mutex::new(Vec::new()),
        }
    }

    /// Runs `iters` iterations; in each, every contender once, timed alone, starting
    /// with a different one each iteration. Returns the first contender's total time.
    pub async fn run(&self, iters: u64, contenders: &[Contender<'_>]) -> Duration {
        let n = contenders.len();
        assert_eq!(n, self.contenders.len(), "one future maker per contender");
        let mut first = Duration::ZERO;
        let mut rows = Vec::with_capacity(iters as usize);
        for i in 0..iters as usize {
            let mut row = vec![0u64; n];
            for step in 0..n {
                let which = (i + step) % n;
                let start = Instant::now();
                contenders[which]().await;
                let took = start.elapsed();
                row[which] = took.as_nanos() as u64;
                if which == 0 {
                    first += took;
                }
            }
            rows.push(row);
        }
        self.rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(rows);
        first
    }

    /// Saves every iteration's times to `dir/{name}.json` and returns the path;
    /// `None` when nothing ran (a filter skipped the bench), so an earlier run's file
    /// stays.
    pub fn write(&self, dir: &Path) -> std::io::Result<Option<PathBuf>> {
        let rows = self
            .rows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if rows.is_empty() {
            return Ok(None);
        }
        let json = serde_json::json!({ "contenders": self.contenders, "rows": *rows });
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.json", self.name));
        std::fs::write(&path, json.to_string())?;
        Ok(Some(path))
    }
}

/// Where interleaved benches save their times: `target/criterion/interleaved`.
pub fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion/interleaved")
}

/// What one interleaved bench measured: for a contender against another, the ratio
/// of their total times over every iteration, and that ratio in each tenth of the
/// run (consecutive slices), to show how much it moved.
#[derive(Debug)]
pub struct Summary {
    /// Contender names, in column order.
    pub contenders: Vec<String>,
    /// One row per iteration, one time (ns) per contender.
    pub rows: Vec<Vec<u64>>,
}

/// A ratio of `a` to `b` over a whole run, with its lowest and highest value over
/// ten consecutive slices of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ratio {
    /// Total time of `a` over total time of `b`.
    pub overall: f64,
    /// The lowest slice's ratio.
    pub low: f64,
    /// The highest slice's ratio.
    pub high: f64,
}

impl Summary {
    /// Reads what `Interleaved::write` saved under `name` in `dir`.
    pub fn read(dir: &Path, name: &str) -> Option<Summary> {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        let contenders = value["contenders"]
            .as_array()?
            .iter()
            .map(|c| c.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        let rows = value["rows"]
            .as_array()?
            .iter()
            .map(|row| {
                row.as_array()?
                    .iter()
                    .map(serde_json::Value::as_u64)
                    .collect::<Option<Vec<_>>>()
            })
            .collect::<Option<Vec<_>>>()?;
        if rows.iter().any(|row| row.len() != contenders.len()) {
            return None;
        }
        Some(Summary { contenders, rows })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.contenders.iter().position(|c| c == name)
    }

    /// Median time (ns) of one iteration of contender `name`.
    pub fn median_ns(&self, name: &str) -> Option<f64> {
        let col = self.column(name)?;
        let mut times: Vec<u64> = self.rows.iter().map(|row| row[col]).collect();
        times.sort_unstable();
        times.get(times.len() / 2).map(|t| *t as f64)
    }

    /// Contender `a`'s time over contender `b`'s (see [`Ratio`]); `None` when either
    /// is missing or the run has fewer than ten iterations.
    pub fn ratio(&self, a: &str, b: &str) -> Option<Ratio> {
        let (a, b) = (self.column(a)?, self.column(b)?);
        let of = |rows: &[Vec<u64>]| {
            let (ta, tb) = rows.iter().fold((0u128, 0u128), |(ta, tb), row| {
                (ta + u128::from(row[a]), tb + u128::from(row[b]))
            });
            (tb > 0).then(|| ta as f64 / tb as f64)
        };
        if self.rows.len() < 10 {
            return None;
        }
        let overall = of(&self.rows)?;
        let slice = self.rows.len() / 10;
        let slices = self
            .rows
            .chunks(slice)
            .take(10)
            .map(of)
            .collect::<Option<Vec<f64>>>()?;
        let low = slices.iter().copied().fold(f64::INFINITY, f64::min);
        let high = slices.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Ratio { overall, low, high })
    }

    /// Iterations run.
    pub fn iterations(&self) -> usize {
        self.rows.len()
    }
}
