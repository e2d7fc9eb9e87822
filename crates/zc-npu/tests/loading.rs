//! Loading the XRT library: explicit paths, candidate lists, missing
//! libraries and symbols, device open and close, through the fake XRT.

mod support;

use std::ffi::OsString;
use std::path::PathBuf;

use support::{fake, fake_lib, fake_lib_without_sync, xrt};
use zc_npu::{LIB_ENV, NpuDevice, NpuError, Xrt, candidates_for};

#[test]
fn loads_the_fake_through_an_explicit_path() {
    let x = Xrt::load(fake_lib()).expect("fake loads");
    assert_eq!(x.path(), fake_lib());
    assert!(format!("{x:?}").contains("fake_xrt"));
}

#[test]
fn a_missing_library_lists_the_path_and_reason() {
    let err = Xrt::load("/nonexistent/libxrt_coreutil.so.2").unwrap_err();
    match &err {
        NpuError::LibraryNotFound { tried } => {
            assert_eq!(tried.len(), 1);
            assert_eq!(tried[0].path, PathBuf::from("/nonexistent/libxrt_coreutil.so.2"));
            assert!(!tried[0].reason.is_empty());
        }
        other => panic!("expected LibraryNotFound, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/libxrt_coreutil.so.2"), "{msg}");
    assert!(msg.contains(LIB_ENV), "{msg}");
}

#[test]
fn load_first_tries_in_order_and_stops_at_the_first_that_opens() {
    let x = Xrt::load_first([
        PathBuf::from("/nonexistent/a.so"),
        PathBuf::from("/nonexistent/b.so"),
        fake_lib().to_path_buf(),
        PathBuf::from("/nonexistent/never-tried.so"),
    ])
    .expect("the third candidate opens");
    assert_eq!(x.path(), fake_lib());

    let err = Xrt::load_first(["/nonexistent/a.so", "/nonexistent/b.so"]).unwrap_err();
    match err {
        NpuError::LibraryNotFound { tried } => {
            let paths: Vec<_> = tried.iter().map(|t| t.path.clone()).collect();
            assert_eq!(
                paths,
                [PathBuf::from("/nonexistent/a.so"), PathBuf::from("/nonexistent/b.so")]
            );
        }
        other => panic!("expected LibraryNotFound, got {other:?}"),
    }
    let empty = Xrt::load_first(Vec::<PathBuf>::new()).unwrap_err();
    assert!(matches!(empty, NpuError::LibraryNotFound { ref tried } if tried.is_empty()));
}

#[test]
fn a_library_without_a_symbol_is_symbol_missing() {
    let err = Xrt::load(fake_lib_without_sync()).unwrap_err();
    match &err {
        NpuError::SymbolMissing { symbol, path, .. } => {
            assert_eq!(*symbol, "xrtBOSync");
            assert_eq!(path, fake_lib_without_sync());
        }
        other => panic!("expected SymbolMissing, got {other:?}"),
    }
    assert!(err.to_string().contains("xrtBOSync"));
    // A library that opens but is not XRT stops the search (it is not
    // skipped in favour of later candidates).
    let err = Xrt::load_first([fake_lib_without_sync().to_path_buf(), fake_lib().to_path_buf()]).unwrap_err();
    assert!(matches!(
        err,
        NpuError::SymbolMissing {
            symbol: "xrtBOSync",
            ..
        }
    ));
}

#[test]
fn a_library_that_is_not_xrt_lacks_the_first_symbol() {
    // libm is present wherever a C toolchain is.
    match Xrt::load_first(["libm.so.6", "libm.so"]) {
        Err(NpuError::SymbolMissing { symbol, .. }) => assert_eq!(symbol, "xrtDeviceOpen"),
        Err(NpuError::LibraryNotFound { tried }) => eprintln!("skipped: no libm here ({tried:?})"),
        other => panic!("expected SymbolMissing for libm, got {other:?}"),
    }
}

#[test]
fn candidates_honour_the_override_then_xilinx_xrt_then_defaults() {
    let only = candidates_for(Some(OsString::from("/custom/libxrt_coreutil.so")), Some("/x".into()));
    assert_eq!(only, [PathBuf::from("/custom/libxrt_coreutil.so")]);

    let defaults = candidates_for(None, None);
    #[cfg(unix)]
    assert_eq!(
        defaults,
        [
            PathBuf::from("libxrt_coreutil.so.2"),
            PathBuf::from("libxrt_coreutil.so"),
            PathBuf::from("/opt/xilinx/xrt/lib/libxrt_coreutil.so.2"),
            PathBuf::from("/opt/xilinx/xrt/lib/libxrt_coreutil.so"),
        ]
    );
    // An empty override counts as unset.
    assert_eq!(candidates_for(Some(OsString::new()), None), defaults);

    let with_prefix = candidates_for(None, Some(OsString::from("/tools/xrt")));
    #[cfg(unix)]
    assert_eq!(
        &with_prefix[..2],
        [
            PathBuf::from("/tools/xrt/lib/libxrt_coreutil.so.2"),
            PathBuf::from("/tools/xrt/lib/libxrt_coreutil.so")
        ]
    );
    assert_eq!(with_prefix.len(), defaults.len() + 2);
    // XILINX_XRT=/opt/xilinx/xrt does not list the same path twice.
    let same = candidates_for(None, Some(OsString::from("/opt/xilinx/xrt")));
    assert_eq!(same.len(), defaults.len());
}

#[test]
fn devices_open_by_index_and_close_on_drop() {
    let x = xrt();
    let d0 = NpuDevice::open_with(&x, 0).expect("device 0");
    let d1 = NpuDevice::open_with(&x, 1).expect("device 1");
    assert_eq!((d0.index(), d1.index()), (0, 1));
    assert!(std::sync::Arc::ptr_eq(d0.runtime(), &x));
    let raw = d0.as_raw();
    let clone = d0.clone();
    drop(d0);
    // A clone keeps the device open.
    assert_eq!(fake().log_raw(raw), "open index=0\n");
    drop(clone);
    assert_eq!(fake().log_raw(raw), "open index=0\nclose live=0\n");
    drop(d1);
}

#[test]
fn a_device_index_out_of_range_is_no_device() {
    let err = NpuDevice::open_with(&xrt(), 7).unwrap_err();
    match err {
        NpuError::NoDevice { index, code } => {
            assert_eq!(index, 7);
            assert_eq!(code, 19, "the fake reports ENODEV");
        }
        other => panic!("expected NoDevice, got {other:?}"),
    }
    let msg = NpuDevice::open_with(&xrt(), u32::MAX).unwrap_err().to_string();
    assert!(msg.contains(&u32::MAX.to_string()), "{msg}");
}

#[test]
fn errors_convert_to_buffer_errors() {
    // A shared failure travels whole both ways (no flattening to text).
    let e: NpuError = zc_buffers::BufferError::RangeOutOfBounds {
        start: 1,
        end: 9,
        len: 4,
    }
    .into();
    assert!(std::error::Error::source(&e).is_none() || e.as_buffer_error().is_some());
    let back: zc_buffers::BufferError = e.into();
    assert!(matches!(
        back,
        zc_buffers::BufferError::RangeOutOfBounds {
            start: 1,
            end: 9,
            len: 4
        }
    ));
    let e: zc_buffers::BufferError = NpuError::TooLarge { len: 9, max: 4 }.into();
    assert!(matches!(e, zc_buffers::BufferError::Backend { backend: "xrt", .. }));
    let back: NpuError = zc_buffers::BufferError::LengthMismatch { expected: 3, actual: 4 }.into();
    assert!(matches!(
        back.as_buffer_error(),
        Some(zc_buffers::BufferError::LengthMismatch { expected: 3, actual: 4 })
    ));
    let other: NpuError = zc_buffers::BufferError::InvalidAlignment { align: 3 }.into();
    assert!(other.to_string().contains("alignment 3"));
}
