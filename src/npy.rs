//! The few bits of the NumPy `.npy` format emovox needs: 2-D little-endian float32
//! arrays in C order, which is what librosa's features are saved as.

use std::io::{self, Write};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Writes a `rows × cols` float32 array (row-major `data`) as a version 1.0 `.npy` file.
pub fn write_f32(out: &mut impl Write, rows: usize, cols: usize, data: &[f32]) -> io::Result<()> {
    if data.len() != rows * cols {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "array data does not match its shape",
        ));
    }
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    out.write_all(MAGIC)?;
    out.write_all(&[1, 0])?;
    let len = u16::try_from(header.len()).map_err(|_| io::Error::other("npy header too long"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    let mut bytes = Vec::with_capacity(data.len() * 4);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    out.write_all(&bytes)
}

/// An array read back from a `.npy` file: its shape and its values in C order.
#[derive(Clone, Debug)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Reads a little-endian float32 `.npy` file, returning its values in C order.
pub fn read_f32(path: &Path) -> io::Result<Array> {
    let bytes = std::fs::read(path)?;
    parse_f32(&bytes).map_err(|why| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {why}", path.display()),
        )
    })
}

fn parse_f32(bytes: &[u8]) -> Result<Array, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("truncated .npy header")?;
    if !header.contains("'descr': '<f4'") {
        return Err(format!(
            "expected little-endian float32, header is {header}"
        ));
    }
    let fortran = header.contains("'fortran_order': True");
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or("no shape in .npy header")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|e| format!("bad shape '{shape_text}': {e}"))
        })
        .collect::<Result<_, _>>()?;
    let count: usize = shape.iter().product();
    let body = &bytes[start + header_len..];
    if body.len() != count * 4 {
        return Err(format!(
            "shape {shape:?} needs {} bytes, file has {}",
            count * 4,
            body.len()
        ));
    }
    let mut data: Vec<f32> = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if fortran && shape.len() == 2 {
        // Column-major on disk: transpose to row-major.
        let (rows, cols) = (shape[0], shape[1]);
        let column_major = data;
        data = vec![0.0; count];
        for r in 0..rows {
            for c in 0..cols {
                data[r * cols + c] = column_major[c * rows + r];
            }
        }
    } else if fortran && shape.len() > 2 {
        return Err("Fortran-ordered arrays of more than two dimensions are not read".into());
    }
    Ok(Array { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        let data = [1.0, -2.5, 3.25, 0.0, 5.0, 6.0];
        write_f32(&mut buf, 2, 3, &data).unwrap();
        assert_eq!(
            (buf.len() - data.len() * 4) % 64,
            0,
            "header is padded to 64 bytes"
        );
        let a = parse_f32(&buf).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, data);
    }

    #[test]
    fn rejects_truncated_body() {
        let mut buf = Vec::new();
        write_f32(&mut buf, 2, 2, &[1.0; 4]).unwrap();
        buf.truncate(buf.len() - 1);
        assert!(parse_f32(&buf).is_err());
    }
}
