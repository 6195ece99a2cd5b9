//! The exact EMD solvers: dense network simplex on real 32² pairs, the grid-graph cityblock
//! flow at 64², 299² and 512², column generation at 64², and one round of each pricing
//! strategy at 150² (with near-optimal duals, as in the last rounds of a solve).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use imgdist::metric::emd::{Ground, emd};
use imgdist::{LoadOptions, Mass, Source, load};

fn mass(name: &str, downscale: usize) -> Mass {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let opts = LoadOptions {
        downscale,
        ..LoadOptions::default()
    };
    load(&Source::Path(path), &opts).unwrap()
}

fn dense(c: &mut Criterion) {
    let (a, b) = (mass("camera_32.png", 1), mass("moon_32.png", 1));
    let mut group = c.benchmark_group("emd dense 32² camera vs moon");
    group.sample_size(10);
    for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
        group.bench_function(ground.as_str(), |bench| {
            bench.iter(|| black_box(imgdist::metric::emd::emd_dense(&a, &b, ground).unwrap()))
        });
    }
    group.finish();
}

fn grid(c: &mut Criterion) {
    let mut group = c.benchmark_group("emd cityblock grid flow");
    group.sample_size(10);
    for (label, a, b, k) in [
        ("64² camera vs moon", "camera_64.png", "moon_64.png", 1),
        ("299² camera vs coins", "camera_299.png", "coins_299.png", 1),
        ("512² camera vs moon", "camera_512.png", "moon_512.png", 1),
    ] {
        let (a, b) = (mass(a, k), mass(b, k));
        group.bench_function(label, |bench| {
            bench.iter(|| black_box(emd(&a, &b, Ground::Cityblock).unwrap()))
        });
    }
    group.finish();
}

fn column_generation(c: &mut Criterion) {
    let (a, b) = (mass("camera_64.png", 1), mass("moon_64.png", 1));
    let mut group = c.benchmark_group("emd column generation 64² camera vs moon");
    group.sample_size(10);
    for ground in [Ground::Euclidean, Ground::SqEuclidean] {
        group.bench_function(ground.as_str(), |bench| {
            bench.iter(|| black_box(emd(&a, &b, ground).unwrap()))
        });
    }
    group.finish();
}

fn pricing(c: &mut Criterion) {
    use imgdist::metric::emd::emd_sparse;
    use imgdist::ot::pricing::Pricer;
    let (a, b) = (mass("camera_299.png", 2), mass("coins_299.png", 2));
    let mut group = c.benchmark_group("pricing one round 150² camera vs coins");
    group.sample_size(10);
    for ground in [Ground::Euclidean, Ground::SqEuclidean] {
        // The optimal duals: pricing finds nothing, the case every solve ends with.
        let (_, s) = emd_sparse(&a, &b, ground, |_| {}).unwrap();
        let (xs, ys, u, v) = (&s.sources, &s.targets, &s.transport.u, &s.transport.v);
        let mut strategies = vec![
            Pricer::all_pairs(xs, ys, ground),
            Pricer::bounded(xs, ys, ground),
        ];
        if ground == Ground::SqEuclidean {
            strategies.push(Pricer::new(xs, ys, ground));
        }
        for pricer in strategies {
            group.bench_function(format!("{} {}", ground.as_str(), pricer.name()), |bench| {
                bench.iter(|| black_box(pricer.price(u, v, 1e-9)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, dense, grid, column_generation, pricing);
criterion_main!(benches);
