//! DLPack export (and import) without copying.
//!
//! [`DlpackTensor::new`] wraps any zc [`Buffer`] — heap, pool guard, mmap,
//! and in the hardware crates pinned, device and managed memory — in a
//! DLPack 1.0 `DLManagedTensorVersioned` whose deleter keeps the owner alive
//! until the consumer is done. Hand [`DlpackTensor::into_raw`] to PyTorch /
//! JAX / CuPy (in a PyO3 capsule named `"dltensor_versioned"`); they call
//! the deleter when they drop it.
//!
//! ```
//! use zc_buffers::{AlignedBuf, HostBufferMutExt, interop::dlpack::{DlpackTensor, DataType}};
//! let mut mel = AlignedBuf::zeroed(80 * 3000 * 4)?;
//! mel.as_slice_mut::<f32>()?[0] = 1.0;
//! let ptr = mel.as_ptr();
//! let t = DlpackTensor::from_host::<f32, _>(mel, &[80, 3000])?;
//! assert_eq!(t.tensor().data as *const u8, ptr);      // no copy
//! assert_eq!(t.tensor().dtype, DataType::F32);
//! assert_eq!(t.shape(), &[80, 3000]);
//! let back = t.view::<f32>()?;                          // read it back as ndarray
//! assert_eq!(back[[0, 0]], 1.0);
//! # Ok::<(), zc_buffers::BufferError>(())
//! ```

use std::ffi::c_void;
use std::ptr::NonNull;

use bytemuck::Pod;

use crate::buffer::{Buffer, Device, DeviceType};
use crate::error::{BufferError, Result};

/// `DLPackVersion`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLPackVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

/// The DLPack version this module speaks.
pub const DLPACK_VERSION: DLPackVersion = DLPackVersion { major: 1, minor: 0 };

/// `DLDevice`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DLDevice {
    /// `DLDeviceType` code.
    pub device_type: i32,
    /// Ordinal.
    pub device_id: i32,
}

impl From<Device> for DLDevice {
    fn from(d: Device) -> Self {
        DLDevice {
            device_type: d.device_type as i32,
            device_id: d.device_id,
        }
    }
}

/// `DLDataType`: type code, bits, lanes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataType {
    /// `kDLInt` 0, `kDLUInt` 1, `kDLFloat` 2, `kDLBfloat` 4, `kDLBool` 6, …
    pub code: u8,
    /// Bits per lane.
    pub bits: u8,
    /// Lanes (1 for scalars).
    pub lanes: u16,
}

impl DataType {
    /// f32
    pub const F32: DataType = DataType {
        code: 2,
        bits: 32,
        lanes: 1,
    };
    /// f64
    pub const F64: DataType = DataType {
        code: 2,
        bits: 64,
        lanes: 1,
    };
    /// f16
    pub const F16: DataType = DataType {
        code: 2,
        bits: 16,
        lanes: 1,
    };
    /// bf16
    pub const BF16: DataType = DataType {
        code: 4,
        bits: 16,
        lanes: 1,
    };
    /// i8
    pub const I8: DataType = DataType {
        code: 0,
        bits: 8,
        lanes: 1,
    };
    /// i16
    pub const I16: DataType = DataType {
        code: 0,
        bits: 16,
        lanes: 1,
    };
    /// i32
    pub const I32: DataType = DataType {
        code: 0,
        bits: 32,
        lanes: 1,
    };
    /// i64
    pub const I64: DataType = DataType {
        code: 0,
        bits: 64,
        lanes: 1,
    };
    /// u8
    pub const U8: DataType = DataType {
        code: 1,
        bits: 8,
        lanes: 1,
    };
    /// u16
    pub const U16: DataType = DataType {
        code: 1,
        bits: 16,
        lanes: 1,
    };
    /// u32
    pub const U32: DataType = DataType {
        code: 1,
        bits: 32,
        lanes: 1,
    };
    /// u64
    pub const U64: DataType = DataType {
        code: 1,
        bits: 64,
        lanes: 1,
    };

    /// Bytes per element, or `None` for sub-byte types.
    pub fn size_bytes(self) -> Option<usize> {
        let bits = self.bits as usize * self.lanes as usize;
        (bits.is_multiple_of(8) && bits > 0).then_some(bits / 8)
    }
}

/// Element types with a DLPack data type.
pub trait DlpackElement: Pod {
    /// Its DLPack type.
    const DTYPE: DataType;
}
macro_rules! elem {
    ($($t:ty => $c:ident),*) => {$( impl DlpackElement for $t { const DTYPE: DataType = DataType::$c; } )*};
}
elem!(f32 => F32, f64 => F64, i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16, u32 => U32, u64 => U64);

/// `DLTensor`.
#[repr(C)]
#[derive(Debug)]
pub struct DLTensor {
    /// Data pointer (host or device address).
    pub data: *mut c_void,
    /// Where it lives.
    pub device: DLDevice,
    /// Number of dimensions.
    pub ndim: i32,
    /// Element type.
    pub dtype: DataType,
    /// `ndim` extents.
    pub shape: *mut i64,
    /// `ndim` strides in elements (never null in what we export).
    pub strides: *mut i64,
    /// Byte offset from `data` to the first element.
    pub byte_offset: u64,
}

/// `DLManagedTensorVersioned` (DLPack ≥ 1.0).
#[repr(C)]
#[derive(Debug)]
pub struct DLManagedTensorVersioned {
    /// Version of the producer.
    pub version: DLPackVersion,
    /// Producer's context.
    pub manager_ctx: *mut c_void,
    /// Called once by the consumer when done.
    pub deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    /// `DLPACK_FLAG_BITMASK_*`.
    pub flags: u64,
    /// The tensor.
    pub dl_tensor: DLTensor,
}

/// The tensor must not be written by the consumer.
pub const DLPACK_FLAG_BITMASK_READ_ONLY: u64 = 1;
/// The producer copied the data to make this tensor.
pub const DLPACK_FLAG_BITMASK_IS_COPIED: u64 = 1 << 1;

/// Up to this many dimensions, shape and strides live inside the one
/// allocation that holds the managed tensor (so an export allocates once).
const INLINE_DIMS: usize = 8;

enum Dims {
    Inline([i64; INLINE_DIMS]),
    Heap(Box<[i64]>),
}

impl Dims {
    fn new(v: &[i64]) -> Self {
        if v.len() <= INLINE_DIMS {
            let mut a = [0i64; INLINE_DIMS];
            a[..v.len()].copy_from_slice(v);
            Dims::Inline(a)
        } else {
            Dims::Heap(v.into())
        }
    }
    fn as_mut_ptr(&mut self) -> *mut i64 {
        match self {
            Dims::Inline(a) => a.as_mut_ptr(),
            Dims::Heap(b) => b.as_mut_ptr(),
        }
    }
}

#[repr(C)]
struct Holder<B> {
    managed: DLManagedTensorVersioned, // first: *mut Holder == *mut managed
    shape: Dims,
    strides: Dims,
    owner: B,
}

unsafe extern "C" fn delete_holder<B>(p: *mut DLManagedTensorVersioned) {
    if !p.is_null() {
        // SAFETY: `p` was produced by `Box::into_raw(Box<Holder<B>>)` in
        // `DlpackTensor::new` (managed is the first field of a repr(C)
        // struct) and DLPack consumers call the deleter exactly once.
        drop(unsafe { Box::from_raw(p.cast::<Holder<B>>()) });
    }
}

/// An owned DLPack tensor. Dropping it calls the deleter; [`into_raw`]
/// hands ownership to a consumer instead.
///
/// [`into_raw`]: DlpackTensor::into_raw
#[derive(Debug)]
pub struct DlpackTensor {
    ptr: NonNull<DLManagedTensorVersioned>,
}

// SAFETY: the owners we wrap are Send (bound on `new`); foreign tensors
// taken with `from_raw` are documented as requiring a thread-safe deleter.
unsafe impl Send for DlpackTensor {}

impl DlpackTensor {
    /// Wrap `owner` as a tensor of `dtype` with `shape` and `strides`
    /// (elements; `None` = row-major), starting `byte_offset` bytes in.
    /// Fails when the view reaches outside the buffer, the data pointer is
    /// misaligned for the type, or the buffer has no address.
    pub fn new<B: Buffer + Send + 'static>(
        owner: B,
        dtype: DataType,
        shape: &[usize],
        strides: Option<&[usize]>,
        byte_offset: usize,
    ) -> Result<Self> {
        let elem = dtype.size_bytes().ok_or(BufferError::ZeroSizedType {
            type_name: "sub-byte DLPack type",
        })?;
        let mut c_buf = [0usize; INLINE_DIMS];
        let c_heap;
        let strides_v: &[usize] = match strides {
            Some(s) => s,
            None if shape.len() <= INLINE_DIMS => {
                let mut acc = 1usize;
                for i in (0..shape.len()).rev() {
                    c_buf[i] = acc;
                    acc = acc.saturating_mul(shape[i]);
                }
                &c_buf[..shape.len()]
            }
            None => {
                c_heap = crate::view::c_strides(shape);
                &c_heap
            }
        };
        if byte_offset > owner.len() {
            return Err(BufferError::RangeOutOfBounds {
                start: byte_offset,
                end: byte_offset,
                len: owner.len(),
            });
        }
        // Bounds: the elements the view reaches lie inside [offset, len).
        crate::view::check_reach(shape, strides_v, (owner.len() - byte_offset) / elem)?;
        let to_i64 = |v: &[usize]| -> Result<Dims> {
            let overflow = || BufferError::Overflow {
                shape: shape.to_vec(),
                strides: strides_v.to_vec(),
            };
            if v.len() <= INLINE_DIMS {
                let mut a = [0i64; INLINE_DIMS];
                for (d, &x) in a.iter_mut().zip(v) {
                    *d = i64::try_from(x).map_err(|_| overflow())?;
                }
                Ok(Dims::Inline(a))
            } else {
                let w = v
                    .iter()
                    .map(|&x| i64::try_from(x))
                    .collect::<std::result::Result<Vec<i64>, _>>();
                Ok(Dims::new(&w.map_err(|_| overflow())?))
            }
        };
        let ndim = i32::try_from(shape.len()).map_err(|_| BufferError::Overflow {
            shape: shape.to_vec(),
            strides: strides_v.to_vec(),
        })?;
        let (shape_i, strides_i) = (to_i64(shape)?, to_i64(strides_v)?);
        let device = owner.device();
        // Move the owner to its final place first: every pointer below is
        // taken from the boxed owner, so owners that keep their bytes inline
        // stay correct.
        let raw = Box::into_raw(Box::new(Holder {
            managed: DLManagedTensorVersioned {
                version: DLPACK_VERSION,
                manager_ctx: std::ptr::null_mut(),
                deleter: Some(delete_holder::<B>),
                flags: 0,
                dl_tensor: DLTensor {
                    data: std::ptr::null_mut(),
                    device: device.into(),
                    ndim,
                    dtype,
                    shape: std::ptr::null_mut(),
                    strides: std::ptr::null_mut(),
                    byte_offset: byte_offset as u64,
                },
            },
            shape: shape_i,
            strides: strides_i,
            owner,
        }));
        // SAFETY: `raw` is the live, uniquely owned holder just leaked; on
        // error it is reclaimed (dropping the owner) before returning.
        let holder = unsafe { &mut *raw };
        let data = match (holder.owner.host_ptr(), holder.owner.device_ptr()) {
            (Some(p), _) => Ok(p.as_ptr().cast::<c_void>()),
            // a device address must come with a device that is not the CPU
            (None, Some(d)) if device.device_type != DeviceType::Cpu => Ok(d as usize as *mut c_void),
            _ => Err(BufferError::NotHostAccessible {
                residency: holder.owner.residency(),
            }),
        };
        let checked = data.and_then(|data| {
            let addr = (data as usize).checked_add(byte_offset).ok_or(BufferError::TooLarge {
                len: byte_offset,
                align: elem,
            })?;
            let align = elem.min(16).next_power_of_two();
            if !addr.is_multiple_of(align) {
                return Err(BufferError::Misaligned {
                    what: "DLPack element",
                    required: align,
                    actual: crate::error::addr_alignment(addr),
                    addr,
                });
            }
            Ok(data)
        });
        let data = match checked {
            Ok(d) => d,
            Err(e) => {
                // SAFETY: reclaim the holder leaked above (never shared).
                drop(unsafe { Box::from_raw(raw) });
                return Err(e);
            }
        };
        holder.managed.dl_tensor.data = data;
        holder.managed.dl_tensor.shape = holder.shape.as_mut_ptr();
        holder.managed.dl_tensor.strides = holder.strides.as_mut_ptr();
        holder.managed.manager_ctx = raw.cast::<c_void>();
        // SAFETY: Box::into_raw never returns null.
        let ptr = unsafe { NonNull::new_unchecked(raw.cast::<DLManagedTensorVersioned>()) };
        Ok(Self { ptr })
    }

    /// A row-major tensor of `T` over a whole host buffer.
    pub fn from_host<T: DlpackElement, B: Buffer + Send + 'static>(owner: B, shape: &[usize]) -> Result<Self> {
        Self::new(owner, T::DTYPE, shape, None, 0)
    }

    /// Mark the tensor read-only for the consumer (e.g. over an `MmapBuf`).
    pub fn read_only(mut self) -> Self {
        // SAFETY: we own the tensor; nobody else reads it concurrently.
        unsafe { self.ptr.as_mut().flags |= DLPACK_FLAG_BITMASK_READ_ONLY };
        self
    }

    /// Take ownership of a tensor produced elsewhere.
    ///
    /// # Safety
    /// `ptr` must be a valid `DLManagedTensorVersioned` whose ownership is
    /// transferred to us (we call its deleter once, on drop, possibly on
    /// another thread).
    pub unsafe fn from_raw(ptr: NonNull<DLManagedTensorVersioned>) -> Self {
        Self { ptr }
    }

    /// Hand ownership to a consumer, which must call the deleter exactly once.
    pub fn into_raw(self) -> *mut DLManagedTensorVersioned {
        let p = self.ptr.as_ptr();
        std::mem::forget(self);
        p
    }

    /// The managed tensor.
    pub fn managed(&self) -> &DLManagedTensorVersioned {
        // SAFETY: ptr is valid while self lives.
        unsafe { self.ptr.as_ref() }
    }

    /// The `DLTensor`.
    pub fn tensor(&self) -> &DLTensor {
        &self.managed().dl_tensor
    }

    /// Extents.
    pub fn shape(&self) -> &[i64] {
        let t = self.tensor();
        if t.shape.is_null() || t.ndim <= 0 {
            return &[];
        }
        // SAFETY: DLPack: shape points to ndim i64s, alive with the tensor.
        unsafe { std::slice::from_raw_parts(t.shape, t.ndim as usize) }
    }

    /// Strides in elements (row-major strides when the producer gave null).
    pub fn strides(&self) -> Option<&[i64]> {
        let t = self.tensor();
        if t.strides.is_null() || t.ndim <= 0 {
            return None;
        }
        // SAFETY: as `shape`.
        Some(unsafe { std::slice::from_raw_parts(t.strides, t.ndim as usize) })
    }

    /// Read a CPU-resident tensor of `T` as an `ndarray` view (no copy).
    pub fn view<T: DlpackElement>(&self) -> Result<ndarray::ArrayViewD<'_, T>> {
        let t = self.tensor();
        let dev = t.device.device_type;
        if dev != DeviceType::Cpu as i32 && dev != DeviceType::CudaHost as i32 && dev != DeviceType::CudaManaged as i32
        {
            return Err(BufferError::NotHostAccessible {
                residency: crate::Residency::Device,
            });
        }
        if t.dtype != T::DTYPE {
            return Err(BufferError::ShapeMismatch {
                expected: vec![T::DTYPE.code as usize, T::DTYPE.bits as usize],
                actual: vec![t.dtype.code as usize, t.dtype.bits as usize],
            });
        }
        let overflow = || BufferError::Overflow {
            shape: vec![],
            strides: vec![],
        };
        let shape: Vec<usize> = self
            .shape()
            .iter()
            .map(|&s| usize::try_from(s).map_err(|_| overflow()))
            .collect::<Result<_>>()?;
        let strides: Vec<usize> = match self.strides() {
            Some(s) if s.iter().all(|&x| x >= 0) => s.iter().map(|&x| x as usize).collect(),
            Some(_) => {
                return Err(BufferError::Overflow { shape, strides: vec![] });
            }
            None => crate::view::c_strides(&shape),
        };
        let reach = crate::view::reach_elems(&shape, &strides)?;
        let offset = usize::try_from(t.byte_offset).map_err(|_| overflow())?;
        let base = (t.data as usize).checked_add(offset).ok_or_else(overflow)? as *const u8;
        let bytes_len = reach
            .checked_mul(std::mem::size_of::<T>())
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or_else(overflow)?;
        if base.is_null() && bytes_len > 0 {
            return Err(BufferError::NotHostAccessible {
                residency: crate::Residency::Foreign,
            });
        }
        // SAFETY: DLPack guarantees `data + byte_offset` addresses every
        // element the shape/strides reach, alive while the tensor is.
        let bytes = unsafe { std::slice::from_raw_parts(base, bytes_len) };
        crate::view::view(bytes, ndarray::IxDyn(&shape), ndarray::IxDyn(&strides))
    }
}

impl Drop for DlpackTensor {
    fn drop(&mut self) {
        // SAFETY: we own the tensor; its deleter is called exactly once here.
        unsafe {
            if let Some(d) = self.ptr.as_ref().deleter {
                d(self.ptr.as_ptr());
            }
        }
    }
}
