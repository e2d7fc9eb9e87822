//! The py-volterra NPZ layout (`VolterraKernelFull.to_npz` / `from_npz`).
//!
//! Keys: `h1` (N,), `h2` ((N,) when `h2_is_diagonal`, else (N, N)),
//! `h2_is_diagonal` (0-d bool), `h3_diagonal`, `h4_diagonal`, `h5_diagonal`
//! (N,); absent orders are absent keys. py-volterra requires one common `N`
//! and an `h1`, so on writing every order is zero-padded to the kernel's
//! memory and a missing h1 is written as zeros. A kernel with both diagonal
//! h2 taps and a full H2 is written as one full matrix (the diagonal taps
//! added onto its diagonal). Reading accepts `<f8`, `<f4` and `|b1`/`?`
//! arrays, stored or deflated (`numpy.savez` / `savez_compressed`).

use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::{NpzError, Result, VolterraError};
use crate::kernel::{Kernel, MAX_ORDER};

/// The largest `.npy` entry (uncompressed) an NPZ may hold: 1 GiB, a full H2
/// with N = 11585 in f64.
pub const MAX_NPY_BYTES: u64 = 1 << 30;

/// An NPZ error without a path (a reader or writer); `load_npz` /
/// `save_npz` fill the path in.
fn npz(source: NpzError) -> VolterraError {
    VolterraError::Npz { path: None, source }
}

fn zip_err(e: zip::result::ZipError) -> NpzError {
    NpzError::Zip { source: Box::new(e) }
}

/// A parsed `.npy` array: shape and values as f64.
#[derive(Debug, Clone, PartialEq)]
struct Npy {
    shape: Vec<usize>,
    data: Vec<f64>,
}

fn header_value<'a>(
    header: &'a str,
    key: &'static str,
    member: &'static str,
) -> std::result::Result<&'a str, NpzError> {
    let k = format!("'{key}':");
    let at = header.find(&k).ok_or(NpzError::BadHeader { member, field: key })?;
    Ok(header[at + k.len()..].trim_start())
}

fn parse_npy(bytes: &[u8], member: &'static str) -> std::result::Result<Npy, NpzError> {
    let bad = |field| NpzError::BadHeader { member, field };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(NpzError::BadMagic { member });
    }
    let (hlen, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        2 | 3 => {
            return Err(NpzError::Truncated {
                member,
                part: "header",
                needed: 12,
                actual: bytes.len(),
            });
        }
        version => return Err(NpzError::UnsupportedVersion { member, version }),
    };
    let hend = start.saturating_add(hlen);
    let header = bytes.get(start..hend).ok_or(NpzError::Truncated {
        member,
        part: "header",
        needed: hend,
        actual: bytes.len(),
    })?;
    let header = std::str::from_utf8(header).map_err(|_| bad("utf-8"))?;
    let descr = header_value(header, "descr", member)?;
    let descr = descr.trim_start_matches(['\'', '"']);
    let descr = &descr[..descr.find(['\'', '"']).ok_or(bad("descr"))?];
    let fortran = header_value(header, "fortran_order", member)?.starts_with("True");
    let shape_s = header_value(header, "shape", member)?;
    let shape_s = shape_s.strip_prefix('(').ok_or(bad("shape"))?;
    let shape_s = &shape_s[..shape_s.find(')').ok_or(bad("shape"))?];
    let shape = shape_s
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad("shape")))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let overflow = || NpzError::ShapeOverflow {
        member,
        shape: shape.clone(),
    };
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(overflow)?;
    let body = &bytes[hend..];
    let (size, conv): (usize, fn(&[u8]) -> f64) = match descr {
        "<f8" => (8, |b| {
            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        }),
        "<f4" => (4, |b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        "|b1" | "?" | "|u1" => (1, |b| f64::from(b[0])),
        d => {
            return Err(NpzError::UnsupportedDtype {
                member,
                dtype: d.to_owned(),
            });
        }
    };
    let need = count.checked_mul(size).ok_or_else(overflow)?;
    if body.len() < need {
        return Err(NpzError::Truncated {
            member,
            part: "data",
            needed: need,
            actual: body.len(),
        });
    }
    let mut data: Vec<f64> = body[..need].chunks_exact(size).map(conv).collect();
    if fortran && shape.len() == 2 {
        let (r, c) = (shape[0], shape[1]);
        let mut t = vec![0.0; data.len()];
        for i in 0..r {
            for j in 0..c {
                t[i * c + j] = data[j * r + i];
            }
        }
        data = t;
    }
    Ok(Npy { shape, data })
}

/// One `.npy` member: the workspace's one header writer
/// (`zc_buffers::interop::npy`), then the little-endian body.
fn write_npy(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let mut out = zc_buffers::interop::npy::header(descr, shape);
    out.extend_from_slice(body);
    out
}

fn f64_npy(shape: &[usize], v: &[f64]) -> Vec<u8> {
    let body: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    write_npy("<f8", shape, &body)
}

fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    member: &'static str,
) -> std::result::Result<Option<Npy>, NpzError> {
    let name = format!("{member}.npy");
    let mut f = match zip.by_name(&name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(zip_err(e)),
    };
    // The sizes a zip entry declares are the file's word, not a fact: read
    // at most the limit, so a deflate bomb is an error, not an abort.
    let mut bytes = Vec::new();
    (&mut f)
        .take(MAX_NPY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| NpzError::MemberIo { member, source })?;
    if bytes.len() as u64 > MAX_NPY_BYTES {
        return Err(NpzError::MemberTooLarge {
            member,
            limit: MAX_NPY_BYTES,
        });
    }
    parse_npy(&bytes, member).map(Some)
}

/// The values of a 1-D array.
fn one_d(a: Npy, member: &'static str) -> std::result::Result<Vec<f64>, NpzError> {
    if a.shape.len() != 1 {
        return Err(NpzError::Shape {
            member,
            expected: "(N,)",
            actual: a.shape,
        });
    }
    Ok(a.data)
}

fn read_kernel<R: Read + Seek>(reader: R) -> std::result::Result<Kernel, NpzError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(zip_err)?;
    let mut diag: [Vec<f64>; MAX_ORDER] = Default::default();
    if let Some(a) = read_entry(&mut zip, "h1")? {
        diag[0] = one_d(a, "h1")?;
    }
    // The flag is a 0-d bool (a one-element array is accepted too).
    let flag = match read_entry(&mut zip, "h2_is_diagonal")? {
        None => None,
        Some(a) if a.data.len() == 1 && a.shape.len() <= 1 => Some(a.data[0] != 0.0),
        Some(a) => {
            return Err(NpzError::Shape {
                member: "h2_is_diagonal",
                expected: "()",
                actual: a.shape,
            });
        }
    };
    // Each flag value requires its shape; without the flag the shape decides.
    let mut full = None;
    if let Some(a) = read_entry(&mut zip, "h2")? {
        let square = a.shape.len() == 2 && a.shape[0] == a.shape[1];
        match (flag, a.shape.len()) {
            (Some(true) | None, 1) => diag[1] = a.data,
            (Some(false) | None, 2) if square => full = Some((a.shape[0], a.data)),
            (Some(true), _) => {
                return Err(NpzError::Shape {
                    member: "h2",
                    expected: "(N,) (h2_is_diagonal is True)",
                    actual: a.shape,
                });
            }
            (Some(false), _) => {
                return Err(NpzError::Shape {
                    member: "h2",
                    expected: "(N, N) (h2_is_diagonal is False)",
                    actual: a.shape,
                });
            }
            (None, _) => {
                return Err(NpzError::Shape {
                    member: "h2",
                    expected: "(N,) or (N, N)",
                    actual: a.shape,
                });
            }
        }
    }
    for (p, key) in [(3, "h3_diagonal"), (4, "h4_diagonal"), (5, "h5_diagonal")] {
        if let Some(a) = read_entry(&mut zip, key)? {
            diag[p - 1] = one_d(a, key)?;
        }
    }
    Kernel::new(diag, full).map_err(|e| NpzError::Kernel { source: Box::new(e) })
}

/// Read a kernel from NPZ bytes in the py-volterra layout.
///
/// `h2_is_diagonal` and the shape of `h2` must agree: `True` requires an
/// `(N,)` array, `False` an `(N, N)` one; without the flag the shape
/// decides. Errors are [`VolterraError::Npz`] (with `path: None`).
pub fn read_npz<R: Read + Seek>(reader: R) -> Result<Kernel> {
    read_kernel(reader).map_err(npz)
}

/// Read a py-volterra NPZ file. Every error names `path`:
/// [`VolterraError::Io`] when it cannot be opened, [`VolterraError::Npz`]
/// for its content.
pub fn load_npz(path: impl AsRef<Path>) -> Result<Kernel> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| VolterraError::Io {
        op: "open",
        path: path.to_owned(),
        source,
    })?;
    read_kernel(std::io::BufReader::new(file)).map_err(|source| VolterraError::Npz {
        path: Some(path.to_owned()),
        source,
    })
}

/// Write `kernel` in the py-volterra NPZ layout (deflated, like
/// `numpy.savez_compressed`).
pub fn write_npz<W: Write + Seek>(kernel: &Kernel, writer: W) -> Result<()> {
    write_kernel(kernel, writer).map_err(npz)
}

fn write_kernel<W: Write + Seek>(kernel: &Kernel, writer: W) -> std::result::Result<(), NpzError> {
    let n = kernel.memory();
    let pad = |v: &[f64]| {
        let mut out = v.to_vec();
        out.resize(n, 0.0);
        out
    };
    let mut entries: Vec<(&'static str, Vec<u8>)> = vec![("h1", f64_npy(&[n], &pad(kernel.taps(1))))];
    match kernel.full_h2() {
        Some((m, h)) => {
            let mut full = vec![0.0; n * n];
            for i in 0..m {
                full[i * n..i * n + m].copy_from_slice(&h[i * m..(i + 1) * m]);
            }
            for (i, &d) in kernel.taps(2).iter().enumerate() {
                full[i * n + i] += d;
            }
            entries.push(("h2", f64_npy(&[n, n], &full)));
            entries.push(("h2_is_diagonal", write_npy("|b1", &[], &[0])));
        }
        None => {
            if !kernel.taps(2).is_empty() {
                entries.push(("h2", f64_npy(&[n], &pad(kernel.taps(2)))));
            }
            entries.push(("h2_is_diagonal", write_npy("|b1", &[], &[1])));
        }
    }
    for (p, key) in [(3, "h3_diagonal"), (4, "h4_diagonal"), (5, "h5_diagonal")] {
        if !kernel.taps(p).is_empty() {
            entries.push((key, f64_npy(&[n], &pad(kernel.taps(p)))));
        }
    }
    let mut zip = zip::ZipWriter::new(writer);
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (key, bytes) in entries {
        zip.start_file(format!("{key}.npy"), opts).map_err(zip_err)?;
        zip.write_all(&bytes)
            .map_err(|source| NpzError::MemberIo { member: key, source })?;
    }
    zip.finish().map_err(zip_err)?;
    Ok(())
}

/// Write `kernel` to a py-volterra NPZ file. Every error names `path`.
pub fn save_npz(kernel: &Kernel, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let io = |op| {
        move |source| VolterraError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    };
    let mut f = std::fs::File::create(path).map_err(io("create"))?;
    write_kernel(kernel, &mut f).map_err(|source| VolterraError::Npz {
        path: Some(path.to_owned()),
        source,
    })?;
    f.flush().map_err(io("flush"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_roundtrip_and_errors() {
        let b = f64_npy(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            parse_npy(&b, "h1").unwrap(),
            Npy {
                shape: vec![2, 2],
                data: vec![1.0, 2.0, 3.0, 4.0]
            }
        );
        assert_eq!((b.len() - 32) % 64, 0, "header aligned to 64");
        let t = write_npy("|b1", &[], &[1]);
        assert_eq!(
            parse_npy(&t, "h2_is_diagonal").unwrap(),
            Npy {
                shape: vec![],
                data: vec![1.0]
            }
        );
        assert!(matches!(
            parse_npy(b"garbage", "h1"),
            Err(NpzError::BadMagic { member: "h1" })
        ));
        assert!(matches!(
            parse_npy(&b[..b.len() - 3], "h2"),
            Err(NpzError::Truncated {
                member: "h2",
                part: "data",
                needed: 32,
                actual: 29
            })
        ));
        let f32s = write_npy("<f4", &[1], &1.5f32.to_le_bytes());
        assert_eq!(parse_npy(&f32s, "h1").unwrap().data, vec![1.5]);
        assert!(matches!(
            parse_npy(&write_npy("<i8", &[1], &[0; 8]), "h1"),
            Err(NpzError::UnsupportedDtype { member: "h1", ref dtype }) if dtype == "<i8"
        ));
        let mut v9 = b.clone();
        v9[6] = 9;
        assert!(matches!(
            parse_npy(&v9, "h1"),
            Err(NpzError::UnsupportedVersion {
                member: "h1",
                version: 9
            })
        ));
    }
}
