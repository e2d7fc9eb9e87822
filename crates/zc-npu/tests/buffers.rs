//! `NpuBuffer` from `alloc` against the fake XRT: the Buffer trait, typed and
//! ndarray views, sync range arithmetic, call ordering, the ledger and every
//! error path.

mod support;

use proptest::prelude::*;
use support::{device, fake};
use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{
    Buffer, BufferError, Device, HostBuffer, HostBufferExt, HostBufferMut, HostBufferMutExt, Residency, SyncDirection,
};
use zc_npu::{BoFlags, MAX_BO_BYTES, NpuBuffer, NpuError};

#[test]
fn alloc_map_sync_free_close_in_order() {
    let dev = device();
    let raw_dev = dev.as_raw();
    let mut bo = NpuBuffer::alloc(&dev, 10_000).expect("alloc");
    bo.as_bytes_mut()[100..200].fill(7);
    bo.sync(SyncDirection::ToDevice, 100..200).expect("sync to device");
    bo.sync(SyncDirection::FromDevice, 0..10_000).expect("sync from device");
    drop(bo);
    assert_eq!(fake().live_bos(&dev), 0);
    drop(dev);
    let log = fake().log_raw(raw_dev);
    assert_eq!(
        log,
        "open index=0\n\
         alloc bo=1 size=10000 flags=0x20000000 group=0\n\
         map bo=1\n\
         sync bo=1 dir=to_device size=100 offset=100\n\
         sync bo=1 dir=from_device size=10000 offset=0\n\
         free bo=1\n\
         close live=0\n"
    );
}

#[test]
fn the_buffer_trait_reports_a_page_aligned_npu_buffer_object() {
    let dev = device();
    let bo = NpuBuffer::alloc(&dev, 4096 * 3).expect("alloc");
    assert_eq!(bo.len(), 4096 * 3);
    assert!(!bo.is_empty());
    assert_eq!(bo.align(), 4096);
    assert_eq!(bo.residency(), Residency::NpuBufferObject);
    assert!(bo.residency().is_host_accessible());
    assert_eq!(Buffer::device(&bo), Device::CPU);
    let p = bo.host_ptr().expect("mapped");
    assert_eq!(p.as_ptr() as usize % 4096, 0);
    assert_eq!(p.as_ptr().cast_const(), bo.as_bytes().as_ptr());
    // The fake hands out device addresses 0x1_0000_0000 + id * 16 MiB.
    assert_eq!(bo.device_ptr(), Some(0x1_0000_0000 + 0x100_0000));
    assert_eq!(bo.bo_size(), 4096 * 3);
    assert_eq!(bo.flags(), BoFlags::HOST_ONLY);
    assert_eq!(bo.group(), 0);
    assert!(!bo.is_user_ptr());
    assert_eq!(bo.npu_device().index(), 0);
    assert!(bo.as_bytes().iter().all(|&b| b == 0), "new BOs read as zeros");
    let dbg = format!("{bo:?}");
    assert!(dbg.contains("HOST_ONLY") && dbg.contains("0x101000000"), "{dbg}");
}

#[test]
fn typed_and_ndarray_views_write_the_mapping_in_place() {
    let dev = device();
    let mut bo = NpuBuffer::alloc(&dev, 80 * 30 * 4).expect("alloc");
    let ((), report) = ledger::scope(|| {
        let mut v = bo.view2_mut::<f32>(80, 30).expect("2-D view");
        for ((m, t), x) in v.indexed_iter_mut() {
            *x = (m * 30 + t) as f32;
        }
        bo.as_slice_mut::<f32>().expect("slice")[5] = -1.0;
        bo.sync(SyncDirection::ToDevice, 0..bo.len()).expect("sync");
    });
    assert_eq!(report.copies, 0, "writing through the mapping copies nothing: {report}");
    assert_eq!(report.bytes_copied, 0);
    let s = bo.as_slice::<f32>().expect("slice");
    assert_eq!(s[5], -1.0);
    assert_eq!(s[79 * 30 + 29], (79 * 30 + 29) as f32);
    assert_eq!(bo.view2::<f32>(80, 30).expect("view")[[2, 3]], 63.0);
    // What the device received is exactly the mapping.
    assert_eq!(fake().device_read(&bo, 0, bo.len()), bo.as_bytes());
    // Bad views are errors, not panics.
    assert!(bo.view2::<f32>(81, 30).is_err());
    assert!(bo.as_slice::<[u8; 7]>().is_err());
}

#[test]
fn sync_moves_exactly_the_range_in_each_direction() {
    let dev = device();
    let mut bo = NpuBuffer::alloc(&dev, 8192).expect("alloc");
    bo.as_bytes_mut().fill(1);
    bo.sync(SyncDirection::ToDevice, 1000..3000).expect("sync");
    let device_side = fake().device_read(&bo, 0, 8192);
    assert!(device_side[..1000].iter().all(|&b| b == 0));
    assert!(device_side[1000..3000].iter().all(|&b| b == 1));
    assert!(device_side[3000..].iter().all(|&b| b == 0));

    // The "NPU" writes its output; only the synced range reaches the host.
    fake().device_write(&bo, 4096, &[9u8; 4096]);
    bo.sync(SyncDirection::FromDevice, 5000..6000).expect("sync back");
    let host = bo.as_bytes();
    assert!(host[4096..5000].iter().all(|&b| b == 1));
    assert!(host[5000..6000].iter().all(|&b| b == 9));
    assert!(host[6000..].iter().all(|&b| b == 1));
}

#[test]
fn empty_ranges_call_nothing_and_out_of_range_syncs_are_refused() {
    let dev = device();
    let mut bo = NpuBuffer::alloc(&dev, 4096).expect("alloc");
    bo.sync(SyncDirection::ToDevice, 0..0).expect("empty range");
    bo.sync(SyncDirection::FromDevice, 4096..4096)
        .expect("empty range at the end");
    let e = bo.sync(SyncDirection::ToDevice, 0..4097).unwrap_err();
    assert!(matches!(
        e,
        BufferError::RangeOutOfBounds {
            start: 0,
            end: 4097,
            len: 4096
        }
    ));
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 10..5;
    let e = bo.sync_range(SyncDirection::ToDevice, reversed).unwrap_err();
    assert!(matches!(
        e.as_buffer_error(),
        Some(BufferError::RangeOutOfBounds { start: 10, end: 5, .. })
    ));
    let e = bo
        .sync_range(SyncDirection::FromDevice, usize::MAX - 1..usize::MAX)
        .unwrap_err();
    assert!(matches!(
        e.as_buffer_error(),
        Some(BufferError::RangeOutOfBounds { .. })
    ));
    // Through a trait object too.
    let dynbuf: &mut dyn Buffer = &mut bo;
    assert!(dynbuf.sync(SyncDirection::ToDevice, 4000..5000).is_err());
    assert!(
        !fake().log(&dev).iter().any(|l| l.starts_with("sync")),
        "no sync reached XRT: {:?}",
        fake().log(&dev)
    );
    bo.sync_all(SyncDirection::ToDevice).expect("whole buffer");
    assert_eq!(
        fake().log(&dev).last().map(String::as_str),
        Some("sync bo=1 dir=to_device size=4096 offset=0")
    );
}

#[test]
fn an_xrt_sync_failure_is_a_typed_error() {
    let dev = device();
    let mut bo = NpuBuffer::alloc(&dev, 4096).expect("alloc");
    fake().fail_next(&dev, "sync", 5);
    let e = bo.sync_range(SyncDirection::ToDevice, 0..64).unwrap_err();
    assert!(
        matches!(
            e,
            NpuError::Xrt {
                call: "xrtBOSync",
                code: 5
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("xrtBOSync"));
    let via_trait = {
        fake().fail_next(&dev, "sync", 5);
        bo.sync(SyncDirection::ToDevice, 0..64).unwrap_err()
    };
    match via_trait {
        BufferError::Backend { backend, message } => {
            assert_eq!(backend, "xrt");
            assert!(message.contains("xrtBOSync"), "{message}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    // The next sync works again.
    bo.sync(SyncDirection::ToDevice, 0..64).expect("sync after failure");
}

#[test]
fn zero_size_and_oversized_allocations_are_refused() {
    let dev = device();
    assert!(
        matches!(NpuBuffer::alloc(&dev, 0), Err(ref e) if matches!(e.as_buffer_error(), Some(BufferError::EmptyBuffer { .. })))
    );
    match NpuBuffer::alloc(&dev, usize::MAX) {
        Err(NpuError::TooLarge { len, max }) => {
            assert_eq!(len, usize::MAX);
            assert_eq!(max, MAX_BO_BYTES);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(
        NpuBuffer::alloc(&dev, MAX_BO_BYTES + 1),
        Err(NpuError::TooLarge { .. })
    ));
    // Nothing reached XRT.
    assert_eq!(fake().log(&dev), ["open index=0"]);
    // A size XRT cannot satisfy is XRT's ENOMEM.
    match NpuBuffer::alloc(&dev, 1 << 50) {
        Err(NpuError::Xrt { call, code }) => {
            assert_eq!(call, "xrtBOAlloc");
            assert_eq!(code, 12);
        }
        other => panic!("expected an xrtBOAlloc error, got {other:?}"),
    }
    assert_eq!(fake().live_bos(&dev), 0);
}

#[test]
fn injected_alloc_and_map_failures_leak_nothing() {
    let dev = device();
    fake().fail_next(&dev, "alloc", 16);
    let e = NpuBuffer::alloc(&dev, 4096).unwrap_err();
    assert!(
        matches!(
            e,
            NpuError::Xrt {
                call: "xrtBOAlloc",
                code: 16
            }
        ),
        "{e:?}"
    );

    fake().fail_next(&dev, "map", 14);
    let e = NpuBuffer::alloc(&dev, 4096).unwrap_err();
    assert!(
        matches!(
            e,
            NpuError::Xrt {
                call: "xrtBOMap",
                code: 14
            }
        ),
        "{e:?}"
    );
    assert_eq!(fake().live_bos(&dev), 0, "the BO whose map failed was freed");
    let log = fake().log(&dev);
    assert_eq!(
        log[1..],
        [
            "alloc failed code=16",
            "alloc bo=1 size=4096 flags=0x20000000 group=0",
            "map failed bo=1 code=14",
            "free bo=1",
        ]
    );
    // The device still works.
    NpuBuffer::alloc(&dev, 4096).expect("alloc after failures");
}

#[test]
fn only_host_only_and_cacheable_flags_are_accepted() {
    let dev = device();
    let instr = NpuBuffer::alloc_with(&dev, 256, BoFlags::CACHEABLE, 1).expect("cacheable");
    assert_eq!(instr.flags(), BoFlags::CACHEABLE);
    assert_eq!(instr.group(), 1);
    let data = NpuBuffer::alloc_with(&dev, 256, BoFlags::HOST_ONLY, 3).expect("host only in group 3");
    assert_eq!(data.group(), 3);
    let before = fake().log(&dev).len();
    let refused = [
        (BoFlags::DEVICE_ONLY, "device-only"),
        (BoFlags::P2P, "peer-to-peer"),
        (BoFlags::NONE, "no buffer kind"),
        (BoFlags::HOST_ONLY | BoFlags::CACHEABLE, "alone"),
        (BoFlags::HOST_ONLY | BoFlags::DEVICE_ONLY, "device-only"),
        (BoFlags::SVM, "alone"),
        (BoFlags::EXECBUF, "alone"),
        (BoFlags::from_bits((1 << 29) | 2), "memory group"),
        (BoFlags::from_bits(1 << 40), "above 31"),
    ];
    for (flags, why) in refused {
        match NpuBuffer::alloc_with(&dev, 4096, flags, 0) {
            Err(e @ NpuError::UnsupportedFlags { .. }) => {
                let NpuError::UnsupportedFlags { flags: bits, reason } = &e else {
                    unreachable!()
                };
                assert_eq!(*bits, flags.bits());
                assert!(reason.contains(why), "{flags:?}: {reason}");
                assert!(e.to_string().contains(&format!("{:#x}", flags.bits())));
            }
            other => panic!("{flags:?} should be refused, got {other:?}"),
        }
    }
    assert_eq!(fake().log(&dev).len(), before, "refused flags never reach XRT");
    let log = fake().log(&dev);
    assert!(
        log.contains(&"alloc bo=1 size=256 flags=0x1000000 group=1".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"alloc bo=2 size=256 flags=0x20000000 group=3".to_string()),
        "{log:?}"
    );
}

#[test]
fn flags_format_and_compose() {
    assert_eq!(BoFlags::default(), BoFlags::HOST_ONLY);
    assert_eq!(BoFlags::HOST_ONLY.bits(), 1 << 29);
    assert_eq!(BoFlags::CACHEABLE.bits(), 1 << 24);
    assert!((BoFlags::HOST_ONLY | BoFlags::P2P).contains(BoFlags::P2P));
    assert_eq!(
        format!("{:?}", BoFlags::HOST_ONLY | BoFlags::P2P),
        "BoFlags(HOST_ONLY | P2P)"
    );
    assert_eq!(format!("{:?}", BoFlags::NONE), "BoFlags(0x0)");
    assert_eq!(
        format!("{:?}", BoFlags::from_bits(0x2000_0003)),
        "BoFlags(HOST_ONLY | 0x3)"
    );
}

#[test]
fn copy_helpers_are_recorded_and_bounds_checked() {
    let dev = device();
    let mut bo = NpuBuffer::alloc(&dev, 4096).expect("alloc");
    let ((), report) = ledger::scope(|| {
        bo.write_at(10, &[1, 2, 3, 4]).expect("write");
        let mut out = [0u8; 6];
        bo.read_at(9, &mut out).expect("read");
        assert_eq!(out, [0, 1, 2, 3, 4, 0]);
    });
    assert_eq!(report.copies_of(CopyKind::BufferObject), 2);
    assert_eq!(report.bytes_of(CopyKind::BufferObject), 10);

    let e = bo.write_at(4095, &[1, 2]).unwrap_err();
    assert!(matches!(
        e.as_buffer_error(),
        Some(BufferError::RangeOutOfBounds {
            start: 4095,
            end: 4097,
            len: 4096
        })
    ));
    assert_eq!(bo.as_bytes()[4095], 0, "a refused write changes nothing");
    assert!(matches!(
        bo.write_at(usize::MAX, &[1]),
        Err(ref e) if matches!(e.as_buffer_error(), Some(BufferError::RangeOutOfBounds { .. }))
    ));
    let mut dst = [5u8; 3];
    assert!(bo.read_at(4094, &mut dst).is_err());
    assert_eq!(dst, [5, 5, 5], "a refused read leaves dst untouched");
    assert!(bo.read_at(usize::MAX, &mut dst).is_err());
}

/// Generic zc code accepts an NPU buffer like any other host buffer.
fn fill_ramp<B: HostBufferMut>(out: &mut B) -> zc_buffers::Result<()> {
    for (i, x) in out.as_slice_mut::<u32>()?.iter_mut().enumerate() {
        *x = i as u32;
    }
    out.sync(SyncDirection::ToDevice, 0..out.len())
}

#[test]
fn generic_stages_and_trait_objects_accept_npu_buffers() {
    let dev = device();
    let mut bo = NpuBuffer::alloc(&dev, 1024).expect("alloc");
    fill_ramp(&mut bo).expect("fill");
    assert_eq!(bo.as_slice::<u32>().expect("slice")[255], 255);
    let boxed: Box<dyn HostBuffer + Send> = Box::new(bo);
    assert_eq!(boxed.len(), 1024);
    assert_eq!(boxed.residency(), Residency::NpuBufferObject);
    // Moves across threads.
    let h = std::thread::spawn(move || boxed.as_bytes()[4]);
    assert_eq!(h.join().expect("thread"), 1);
}

#[test]
fn buffers_keep_the_device_open_until_they_are_freed() {
    let dev = device();
    let raw = dev.as_raw();
    let bo = NpuBuffer::alloc(&dev, 4096).expect("alloc");
    drop(dev);
    assert_eq!(fake().live_bos_raw(raw), 1);
    assert!(!fake().log_raw(raw).contains("close"));
    let bo2 = NpuBuffer::alloc(bo.npu_device(), 64).expect("the device is still usable");
    drop(bo);
    drop(bo2);
    let log = fake().log_raw(raw);
    assert!(log.ends_with("free bo=1\nfree bo=2\nclose live=0\n"), "{log}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A sync succeeds exactly when the range is inside the buffer, and then
    /// moves exactly those bytes; otherwise nothing reaches XRT.
    #[test]
    fn sync_range_arithmetic(len in 1usize..20_000, start in 0usize..25_000, width in 0usize..25_000) {
        let dev = device();
        let mut bo = NpuBuffer::alloc(&dev, len).expect("alloc");
        bo.as_bytes_mut().fill(0xAB);
        let end = start.saturating_add(width);
        let calls_before = fake().log(&dev).len();
        let r = bo.sync_range(SyncDirection::ToDevice, start..end);
        if end <= len {
            prop_assert!(r.is_ok());
            let dev_side = fake().device_read(&bo, 0, len);
            for (i, &b) in dev_side.iter().enumerate() {
                let expect = if (start..end).contains(&i) { 0xAB } else { 0 };
                prop_assert_eq!(b, expect, "byte {}", i);
            }
            let log = fake().log(&dev);
            if width == 0 {
                prop_assert_eq!(log.len(), calls_before);
            } else {
                let expected = format!("sync bo=1 dir=to_device size={width} offset={start}");
                prop_assert_eq!(log.last().map(String::as_str), Some(expected.as_str()));
            }
        } else {
            let refused = matches!(r, Err(ref e) if matches!(e.as_buffer_error(), Some(BufferError::RangeOutOfBounds { .. })));
            prop_assert!(refused);
            prop_assert_eq!(fake().log(&dev).len(), calls_before);
        }
    }
}

/// Generic pipeline code syncs whatever `Buffer` it is handed.
fn sync_to_device<B: Buffer>(mut b: B, range: std::ops::Range<usize>) -> B {
    b.sync(SyncDirection::ToDevice, range).expect("sync");
    b
}

/// A wrapper a downstream crate might write, forwarding with the core macro.
struct Tagged<B> {
    _request: u64,
    inner: B,
}
zc_buffers::forward_buffer!(impl[B: HostBuffer] Tagged<B> => inner, host);

#[test]
fn sync_through_mut_refs_boxes_and_forwarding_wrappers_reaches_xrt() {
    let dev = device();
    let mut bo = NpuBuffer::alloc(&dev, 8192).expect("alloc");
    let before = fake().log(&dev).len();

    sync_to_device(&mut bo, 0..100);
    let bo = sync_to_device(Box::new(bo), 4096..4196);
    let bo = sync_to_device(
        Tagged {
            _request: 7,
            inner: *bo,
        },
        100..200,
    )
    .inner;

    let log = fake().log(&dev);
    assert_eq!(
        log[before..],
        [
            "sync bo=1 dir=to_device size=100 offset=0",
            "sync bo=1 dir=to_device size=100 offset=4096",
            "sync bo=1 dir=to_device size=100 offset=100",
        ],
        "every path must reach xrtBOSync"
    );
    // A shared reference cannot sync a BO: refused, and XRT is not called.
    let mut shared = &bo;
    let e = shared.sync(SyncDirection::ToDevice, 0..8).unwrap_err();
    assert!(matches!(e, BufferError::SyncNeedsExclusive { .. }), "{e}");
    assert_eq!(fake().log(&dev).len(), before + 3);
}
