//! Sliced Wasserstein at 64² and 299² (200 directions), and its building blocks: the O(N)
//! orderings of one projection (bucket grouping, lattice order) and the 1-D transport passes.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use imgdist::metric::Angles;
use imgdist::metric::sliced::sliced_wasserstein;
use imgdist::ot::lattice::LatticeOrder;
use imgdist::ot::one_d::{BucketGroups, wasserstein_pp_cumulative};
use imgdist::{LoadOptions, Mass, Source, load};

fn mass(name: &str) -> Mass {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    load(&Source::Path(path), &LoadOptions::default()).unwrap()
}

fn sliced(c: &mut Criterion) {
    let angles = Angles::Uniform.generate(200, 0);
    for (size, a, b) in [
        ("64", "camera_64.png", "moon_64.png"),
        ("299", "camera_299.png", "coins_299.png"),
    ] {
        let (a, b) = (mass(a), mass(b));
        let mut group = c.benchmark_group(format!("sliced/{size}²/200 directions"));
        group.sample_size(10);
        for p in [1.0, 2.0] {
            group.bench_function(format!("p={p}"), |bench| {
                bench.iter(|| black_box(sliced_wasserstein(&a, &b, &angles, p)))
            });
        }
        group.finish();
    }
}

fn building_blocks(c: &mut Criterion) {
    let (a, b) = (mass("camera_299.png"), mass("coins_299.png"));
    let (s, co) = 0.7f64.sin_cos();
    let (rows, cols) = (a.row_coords(), a.col_coords());
    let xc: Vec<f64> = rows.iter().map(|x| x * co).collect();
    let ys: Vec<f64> = cols.iter().map(|y| y * s).collect();
    let cells = || {
        xc.iter().enumerate().flat_map(|(i, &x)| {
            ys.iter()
                .enumerate()
                .map(move |(j, &y)| (x + y, (i as u32) << 16 | j as u32))
        })
    };
    let n = rows.len() * cols.len();
    let (lo, hi) = (0.0, xc[xc.len() - 1] + ys[ys.len() - 1]);
    let mut groups = BucketGroups::default();
    c.bench_function("one direction 299²/group into buckets", |bench| {
        bench.iter(|| groups.build(n, cells, lo, hi))
    });
    groups.build(n, cells, lo, hi);
    let key_of = |id: u32| xc[(id >> 16) as usize] + ys[(id & 0xffff) as usize];
    let diff: Vec<f64> = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| x - y)
        .collect();
    let mut scratch = Vec::new();
    c.bench_function("one direction 299²/sorted walk p=1", |bench| {
        bench.iter(|| {
            let mut total = 0.0f64;
            let mut running = 0.0f64;
            let mut prev = 0.0;
            groups.for_each_sorted(key_of, &mut scratch, |t, id| {
                total += running.abs() * (t - prev);
                running += diff[(id >> 16) as usize * 299 + (id & 0xffff) as usize];
                prev = t;
            });
            black_box(total)
        })
    });
    let plan = LatticeOrder::plan(rows.len(), cols.len(), co, s).unwrap();
    let mut lattice = LatticeOrder::default();
    let mut order = Vec::with_capacity(n);
    c.bench_function("one direction 299²/lattice order", |bench| {
        bench.iter(|| {
            order.clear();
            lattice.for_each(&plan, |i, j| order.push((i * 299 + j) as u32));
            black_box(order.len())
        })
    });
    // Filled here too, in case a filter skipped the benchmark above.
    order.clear();
    lattice.for_each(&plan, |i, j| order.push((i * 299 + j) as u32));
    let (mut x, mut ca, mut cb) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sa, mut sb) = (0.0, 0.0);
    for &k in &order {
        let k = k as usize;
        sa += a.as_slice()[k];
        sb += b.as_slice()[k];
        x.push(xc[k / 299] + ys[k % 299]);
        ca.push(sa);
        cb.push(sb);
    }
    c.bench_function("one direction 299²/quantile merge p=2", |bench| {
        bench.iter(|| black_box(wasserstein_pp_cumulative(&x, &ca, &cb, 2.0)))
    });
}

criterion_group!(benches, sliced, building_blocks);
criterion_main!(benches);
