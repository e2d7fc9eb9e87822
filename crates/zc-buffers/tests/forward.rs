//! `forward_buffer!` forwards every `Buffer` method, `sync` included, and
//! `&mut B` / `Box<B>` reach the pointee's `sync`.

use std::ops::Range;
use std::ptr::NonNull;

use zc_buffers::{Buffer, BufferError, Device, DeviceType, HostBuffer, Residency, SyncDirection, forward_buffer};

/// Memory that needs cache maintenance: records every sync it receives.
struct Incoherent {
    bytes: Vec<u8>,
    synced: Vec<(SyncDirection, Range<usize>)>,
}

// SAFETY: `host_ptr` is the Vec's buffer, valid for `len` bytes while `self` lives.
unsafe impl Buffer for Incoherent {
    fn len(&self) -> usize {
        self.bytes.len()
    }
    fn align(&self) -> usize {
        4096
    }
    fn residency(&self) -> Residency {
        Residency::NpuBufferObject
    }
    fn device(&self) -> Device {
        Device {
            device_type: DeviceType::ExtDev,
            device_id: 3,
        }
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.bytes.as_ptr().cast_mut())
    }
    fn device_ptr(&self) -> Option<u64> {
        Some(0xdead_0000)
    }
    fn sync(&mut self, direction: SyncDirection, range: Range<usize>) -> zc_buffers::Result<()> {
        zc_buffers::check_range(&range, self.len())?;
        self.synced.push((direction, range));
        Ok(())
    }
}

impl HostBuffer for Incoherent {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

struct Tagged<B> {
    tag: &'static str,
    inner: B,
}
forward_buffer!(impl[B: HostBuffer] Tagged<B> => inner, host);

struct Newtype(Incoherent);
forward_buffer!(impl[] Newtype => 0);

fn incoherent() -> Incoherent {
    Incoherent {
        bytes: vec![7; 64],
        synced: Vec::new(),
    }
}

#[test]
fn the_macro_forwards_every_method_including_sync() {
    let mut t = Tagged {
        tag: "mel",
        inner: incoherent(),
    };
    assert_eq!(t.tag, "mel");
    assert_eq!(
        (t.len(), t.align(), t.residency()),
        (64, 4096, Residency::NpuBufferObject)
    );
    assert_eq!(
        t.device(),
        Device {
            device_type: DeviceType::ExtDev,
            device_id: 3
        }
    );
    assert_eq!(t.device_ptr(), Some(0xdead_0000));
    assert_eq!(t.host_ptr(), t.inner.host_ptr());
    assert_eq!(t.as_bytes()[0], 7);
    t.sync(SyncDirection::ToDevice, 8..16).unwrap();
    assert!(matches!(
        t.sync(SyncDirection::ToDevice, 8..65),
        Err(BufferError::RangeOutOfBounds { .. })
    ));
    assert_eq!(t.inner.synced, vec![(SyncDirection::ToDevice, 8..16)]);

    let mut n = Newtype(incoherent());
    n.sync(SyncDirection::FromDevice, 0..64).unwrap();
    assert_eq!(n.0.synced, vec![(SyncDirection::FromDevice, 0..64)]);
}

fn sync_generic<B: Buffer>(mut b: B) -> B {
    b.sync(SyncDirection::ToDevice, 0..4).unwrap();
    b
}

#[test]
fn references_and_boxes_reach_the_pointees_sync() {
    let mut raw = incoherent();
    sync_generic(&mut raw);
    assert_eq!(raw.synced.len(), 1);
    let boxed = sync_generic(Box::new(incoherent()));
    assert_eq!(boxed.synced.len(), 1);
    // A shared reference cannot sync incoherent memory: an error, not a no-op.
    let shared = incoherent();
    let mut r = &shared;
    assert!(matches!(
        r.sync(SyncDirection::ToDevice, 0..4),
        Err(BufferError::SyncNeedsExclusive { .. })
    ));
}
