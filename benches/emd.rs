//! The exact EMD solvers: dense network simplex on real 32² pairs, and the grid-graph
//! cityblock flow at 64² and 128².

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
        (
            "150² camera vs coins (299² halved)",
            "camera_299.png",
            "coins_299.png",
            2,
        ),
    ] {
        let (a, b) = (mass(a, k), mass(b, k));
        group.bench_function(label, |bench| {
            bench.iter(|| black_box(emd(&a, &b, Ground::Cityblock).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, dense, grid);
criterion_main!(benches);
