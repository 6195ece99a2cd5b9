//! The Sinkhorn divergence (three entropic problems, debiased) on real pairs at 64² and 299²,
//! for blurs 1, 2 and 4 pixels at the default tolerance.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use imgdist::metric::{MetricKind, Params};
use imgdist::{LoadOptions, Mass, Source, load};

fn mass(name: &str) -> Mass {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    load(&Source::Path(path), &LoadOptions::default()).unwrap()
}

fn sinkhorn(c: &mut Criterion) {
    for (label, a, b) in [
        ("64² camera vs coins", "camera_64.png", "coins_64.png"),
        ("299² camera vs coins", "camera_299.png", "coins_299.png"),
    ] {
        let (a, b) = (mass(a), mass(b));
        let mut group = c.benchmark_group(format!("sinkhorn {label}"));
        group.sample_size(10);
        for blur in [1.0, 2.0, 4.0] {
            let metric = MetricKind::Sinkhorn
                .build(&Params {
                    blur,
                    ..Params::default()
                })
                .unwrap();
            group.bench_function(format!("blur {blur}"), |bench| {
                bench.iter(|| black_box(metric.compute(&a, &b).unwrap()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, sinkhorn);
criterion_main!(benches);
