//! Sizes chosen by the caller never panic, overflow or abort: each is a
//! typed error (0.1: `Processor::prepare` with a huge `max_block` panicked
//! with "capacity overflow" or aborted the process on a 4 TiB allocation).

use zc_volterra::processor::MAX_PREPARED_SAMPLES;
use zc_volterra::{EngineKind, Kernel, Processor, VolterraError};

fn kernel() -> Kernel {
    Kernel::from_taps([vec![1.0, 0.5, 0.25], vec![0.1, 0.05], vec![0.01]]).unwrap()
}

#[test]
fn huge_blocks_histories_and_partitions_are_refused() {
    let k = kernel();
    for huge in [usize::MAX, usize::MAX / 2, 1 << 42, MAX_PREPARED_SAMPLES + 1] {
        for engine in [
            EngineKind::Auto,
            EngineKind::Direct,
            EngineKind::Fft,
            EngineKind::Partitioned,
        ] {
            let r = Processor::<f64>::builder(&k).max_block(huge).engine(engine).build();
            assert!(
                matches!(r, Err(VolterraError::SizeLimit { what: "max_block", requested, .. }) if requested == huge),
                "{engine:?} {huge}: {r:?}"
            );
        }
        let r = Processor::<f32>::builder(&k).max_block(512).history(huge).build();
        assert!(
            matches!(r, Err(VolterraError::SizeLimit { what: "history", .. })),
            "{r:?}"
        );
        let r = Processor::<f32>::builder(&k)
            .max_block(512)
            .engine(EngineKind::Partitioned)
            .partition(huge)
            .build();
        assert!(
            matches!(r, Err(VolterraError::SizeLimit { what: "partition", .. })),
            "{r:?}"
        );
    }
    // at the limit: any engine's memory stays small (it does not grow with
    // max_block past the engine's working chunk)
    for engine in [
        EngineKind::Auto,
        EngineKind::Direct,
        EngineKind::Fft,
        EngineKind::Partitioned,
    ] {
        let p = Processor::<f32>::builder(&k)
            .max_block(MAX_PREPARED_SAMPLES)
            .engine(engine)
            .build()
            .unwrap();
        assert_eq!(p.max_block(), MAX_PREPARED_SAMPLES);
        assert!(p.memory_bytes() < 1 << 20, "{engine:?}: {}", p.memory_bytes());
    }
}

#[test]
fn huge_analysis_and_identification_sizes_are_errors() {
    use zc_volterra::analysis::{measure_harmonics, predicted_harmonics_poly};
    assert!(predicted_harmonics_poly(&[1.0, 0.5], 1.0, usize::MAX).is_err());
    assert!(measure_harmonics(&[0.0, 1.0, 0.0, -1.0], 4.0, 1.0, usize::MAX).is_err());
    let x = vec![0.5; 64];
    let y = vec![0.25; 64];
    let r = zc_volterra::identify::identify(&x, &y, &[usize::MAX, 2], 0.0);
    assert!(matches!(r, Err(VolterraError::SizeLimit { .. })), "{r:?}");
    let r = zc_volterra::identify::identify(&x, &y, &[usize::MAX / 2, usize::MAX / 2 + 5], 0.0);
    assert!(matches!(r, Err(VolterraError::SizeLimit { .. })), "{r:?}");
    let r = zc_volterra::identify::identify(&x, &y, &[1 << 40], 0.0);
    assert!(
        matches!(
            r,
            Err(VolterraError::Identification(zc_volterra::IdentifyError::TooFewSamples {
                samples: 64,
                unknowns
            })) if unknowns == 1 << 40
        ),
        "{r:?}"
    );
}
