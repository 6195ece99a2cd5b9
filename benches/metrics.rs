//! Cost of each metric at 64² and 299², next to the cost of decoding the two 299² PNGs it
//! compares (the bar: every metric must cost less than decoding its inputs).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use imgdist::{LoadOptions, Mass, MetricKind, Params, Source, load};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// With the pixel values kept, which `hist` needs.
fn mass(name: &str) -> Mass {
    let opts = LoadOptions {
        levels: true,
        ..LoadOptions::default()
    };
    load(&Source::Path(path(name)), &opts).unwrap()
}

fn decode(c: &mut Criterion) {
    let bytes: Vec<Vec<u8>> = ["camera_299.png", "coins_299.png"]
        .iter()
        .map(|n| std::fs::read(path(n)).unwrap())
        .collect();
    for (name, levels) in [
        ("decode/two 299² PNGs", false),
        ("decode/two 299² PNGs, keeping pixel values (hist)", true),
    ] {
        let opts = LoadOptions {
            levels,
            ..LoadOptions::default()
        };
        c.bench_function(name, |b| {
            b.iter(|| {
                for data in &bytes {
                    black_box(imgdist::load::load_bytes(data, "x", "png", &opts).unwrap());
                }
            })
        });
    }
}

fn metrics(c: &mut Criterion) {
    let params = Params::default();
    for (size, a, b) in [
        ("64", "camera_64.png", "moon_64.png"),
        ("299", "camera_299.png", "coins_299.png"),
    ] {
        let (a, b) = (mass(a), mass(b));
        let mut group = c.benchmark_group(format!("metric/{size}²"));
        for kind in MetricKind::ALL {
            let metric = kind.build(&params).unwrap();
            group.bench_function(kind.as_str(), |bench| {
                bench.iter(|| black_box(metric.compute(black_box(&a), black_box(&b)).unwrap()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, decode, metrics);
criterion_main!(benches);
