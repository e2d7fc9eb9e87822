//! Owner primitives shared by the hardware crates: the page-registration
//! check and the error that hands the value back.

use zc_buffers::{AlignedBuf, BufferError, Rejected, check_page_registrable};

#[test]
fn page_registrable_needs_a_page_aligned_non_empty_host_region() {
    let page = AlignedBuf::zeroed_aligned(8192, 4096).unwrap();
    let (ptr, len) = check_page_registrable(&page, 4096).unwrap();
    assert_eq!((ptr.as_ptr() as usize % 4096, len), (0, 8192));

    let bytes = zc_buffers::HostBuffer::as_bytes(&page);
    let off = &bytes[64..];
    match check_page_registrable(off, 4096) {
        Err(BufferError::Misaligned {
            required: 4096,
            actual: 64,
            what,
            addr,
        }) => {
            assert_eq!(what, "page-registered memory");
            assert_eq!(addr, bytes.as_ptr() as usize + 64);
        }
        other => panic!("expected Misaligned, got {other:?}"),
    }
    assert!(matches!(
        check_page_registrable(&bytes[..0], 4096),
        Err(BufferError::EmptyBuffer { .. })
    ));
    assert!(check_page_registrable(&page, 0).is_err());
}

#[test]
fn rejected_hands_the_value_back_and_converts() {
    let r = Rejected::new(BufferError::EmptyBuffer { what: "test" }, vec![1u8, 2, 3]);
    assert_eq!(r.to_string(), "test: a zero-length buffer cannot be used");
    assert!(std::error::Error::source(&r).is_some());
    let r = r.map_err(|e| e);
    let (e, v) = r.into_parts();
    assert_eq!(v, [1, 2, 3]);
    let back: BufferError = Rejected::new(e, ()).into();
    assert!(matches!(back, BufferError::EmptyBuffer { what: "test" }));
}
