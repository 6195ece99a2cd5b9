//! Library use without the command line: load two images and print several metrics.
//!
//! ```text
//! cargo run --release --example compare -- tests/data/camera_64.png tests/data/moon_64.png
//! ```

use imgdist::{LoadOptions, MetricKind, Params, Source, compare, load};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(a), Some(b)) = (args.next(), args.next()) else {
        return Err("usage: compare A B".into());
    };
    let opts = LoadOptions::default();
    let a = load(&Source::parse(&a), &opts)?;
    let b = load(&Source::parse(&b), &opts)?;
    let kinds = [MetricKind::Tv, MetricKind::Hellinger, MetricKind::BlurL2];
    let params = Params {
        sigma: 3.0,
        ..Params::default()
    };
    for (kind, m) in kinds.iter().zip(compare(&a, &b, &kinds, &params)?) {
        println!("{kind}: {}", m.value);
    }
    Ok(())
}
