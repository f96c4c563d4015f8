//! NumPy's `.npy` format: read versions 1.0, 2.0 and 3.0, write 1.0 (2.0 only when the header
//! does not fit 1.0's 64 KiB, as NumPy does).
//!
//! An [`NpyArray`] keeps its data as the raw bytes of the file (any byte order, C or Fortran
//! order), so reading a stored value does not copy it; typed access converts on demand.

use bytes::Bytes;

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Element types NumPy and this crate agree on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// `bool`, one byte 0 or 1.
    Bool,
    /// `int8`.
    I8,
    /// `int16`.
    I16,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `uint8`.
    U8,
    /// `uint16`.
    U16,
    /// `uint32`.
    U32,
    /// `uint64`.
    U64,
    /// `float32`.
    F32,
    /// `float64`.
    F64,
    /// `complex64` (two float32).
    C64,
    /// `complex128` (two float64).
    C128,
}

impl DType {
    /// All supported types.
    pub const ALL: [DType; 13] = [
        DType::Bool,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F32,
        DType::F64,
        DType::C64,
        DType::C128,
    ];

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 | DType::C64 => 8,
            DType::C128 => 16,
        }
    }

    /// NumPy's name (`float64`), as `str(a.dtype)` prints it.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::C64 => "complex64",
            DType::C128 => "complex128",
        }
    }

    /// The type by NumPy's name (`float64`).
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The type code of a descr without its byte-order character (`f8`).
    fn code(self) -> &'static str {
        match self {
            DType::Bool => "b1",
            DType::I8 => "i1",
            DType::I16 => "i2",
            DType::I32 => "i4",
            DType::I64 => "i8",
            DType::U8 => "u1",
            DType::U16 => "u2",
            DType::U32 => "u4",
            DType::U64 => "u8",
            DType::F32 => "f4",
            DType::F64 => "f8",
            DType::C64 => "c8",
            DType::C128 => "c16",
        }
    }

    /// Parse a descr string (`<f8`, `|b1`, `>c16`).
    fn parse_descr(descr: &str) -> Result<(DType, Endian)> {
        let bad = || Error::BadArray(format!("unsupported dtype descr {descr:?}"));
        let mut chars = descr.chars();
        let endian = match chars.next() {
            Some('<') | Some('|') => Endian::Little,
            Some('>') => Endian::Big,
            // '=' is the writer's native order; numpy.save never writes it, so assume little.
            Some('=') => Endian::Little,
            _ => return Err(bad()),
        };
        let code = chars.as_str();
        let dtype = DType::ALL
            .into_iter()
            .find(|d| d.code() == code)
            .ok_or_else(bad)?;
        Ok((dtype, endian))
    }
}

/// Byte order of the stored elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    /// Least significant byte first (`<`), NumPy's default on every common machine.
    Little,
    /// Most significant byte first (`>`).
    Big,
}

/// Memory order of a multi-dimensional array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Row-major: the last index varies fastest.
    C,
    /// Column-major: the first index varies fastest (`fortran_order: True`).
    Fortran,
}

/// A complex number as NumPy stores it: real part, then imaginary part.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Complex<T> {
    /// Real part.
    pub re: T,
    /// Imaginary part.
    pub im: T,
}

/// A Rust type that is one of the [`DType`]s.
pub trait Element: Copy + 'static {
    /// The matching NumPy type.
    const DTYPE: DType;
    /// Decode one element from exactly `DTYPE.size()` bytes.
    fn read(b: &[u8], endian: Endian) -> Self;
    /// Append one element in little-endian order.
    fn write_le(self, out: &mut Vec<u8>);
}

macro_rules! element_num {
    ($t:ty, $d:expr) => {
        impl Element for $t {
            const DTYPE: DType = $d;
            fn read(b: &[u8], endian: Endian) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                match endian {
                    Endian::Little => <$t>::from_le_bytes(a),
                    Endian::Big => <$t>::from_be_bytes(a),
                }
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
element_num!(i8, DType::I8);
element_num!(i16, DType::I16);
element_num!(i32, DType::I32);
element_num!(i64, DType::I64);
element_num!(u8, DType::U8);
element_num!(u16, DType::U16);
element_num!(u32, DType::U32);
element_num!(u64, DType::U64);
element_num!(f32, DType::F32);
element_num!(f64, DType::F64);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn read(b: &[u8], _: Endian) -> Self {
        b[0] != 0
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}

macro_rules! element_complex {
    ($t:ty, $d:expr, $n:expr) => {
        impl Element for Complex<$t> {
            const DTYPE: DType = $d;
            fn read(b: &[u8], endian: Endian) -> Self {
                Complex {
                    re: <$t>::read(&b[..$n], endian),
                    im: <$t>::read(&b[$n..], endian),
                }
            }
            fn write_le(self, out: &mut Vec<u8>) {
                self.re.write_le(out);
                self.im.write_le(out);
            }
        }
    };
}
element_complex!(f32, DType::C64, 4);
element_complex!(f64, DType::C128, 8);

/// An n-dimensional array in `.npy` form: header fields plus the raw data bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// Element type.
    pub dtype: DType,
    /// Byte order of `data`.
    pub endian: Endian,
    /// Memory order of `data`.
    pub order: Order,
    /// Extent of each axis (empty for a 0-d scalar).
    pub shape: Vec<usize>,
    /// `product(shape) * dtype.size()` bytes.
    pub data: Bytes,
}

impl NpyArray {
    /// An array from elements in C (row-major) order, stored little-endian.
    pub fn from_vec<T: Element>(shape: Vec<usize>, elems: &[T]) -> Result<Self> {
        let n = element_count(&shape)?;
        if n != elems.len() {
            return Err(Error::BadArray(format!(
                "shape {} needs {n} elements, got {}",
                shape_string(&shape),
                elems.len()
            )));
        }
        let mut data = Vec::with_capacity(n * T::DTYPE.size());
        for &e in elems {
            e.write_le(&mut data);
        }
        Ok(NpyArray {
            dtype: T::DTYPE,
            endian: Endian::Little,
            order: Order::C,
            shape,
            data: data.into(),
        })
    }

    /// An array over raw bytes already in the given type, byte order and memory order.
    pub fn from_raw(
        dtype: DType,
        endian: Endian,
        order: Order,
        shape: Vec<usize>,
        data: Bytes,
    ) -> Result<Self> {
        let need = element_count(&shape)?
            .checked_mul(dtype.size())
            .ok_or_else(|| Error::BadArray("array too large".into()))?;
        if data.len() != need {
            return Err(Error::BadArray(format!(
                "shape needs {need} data bytes, got {}",
                data.len()
            )));
        }
        Ok(NpyArray {
            dtype,
            endian,
            order,
            shape,
            data,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `float64 (4096, 4096)`: dtype and shape as NumPy prints them.
    pub fn describe(&self) -> String {
        format!("{} {}", self.dtype.name(), shape_string(&self.shape))
    }

    /// The elements in C (row-major) order, in native representation.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype {
            return Err(Error::BadArray(format!(
                "array holds {}, asked for {}",
                self.dtype.name(),
                T::DTYPE.name()
            )));
        }
        let size = self.dtype.size();
        let read = |i: usize| T::read(&self.data[i * size..(i + 1) * size], self.endian);
        let n = self.len();
        if self.order == Order::C || self.shape.len() < 2 {
            return Ok((0..n).map(read).collect());
        }
        // Fortran order: walk the C-order index and map it to the column-major offset.
        let mut strides = vec![1usize; self.shape.len()];
        for ax in 1..self.shape.len() {
            strides[ax] = strides[ax - 1] * self.shape[ax - 1];
        }
        let mut idx = vec![0usize; self.shape.len()];
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let off: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            out.push(read(off));
            for ax in (0..idx.len()).rev() {
                idx[ax] += 1;
                if idx[ax] < self.shape[ax] {
                    break;
                }
                idx[ax] = 0;
            }
        }
        Ok(out)
    }

    /// The same array with its data rearranged to `order` (logical content unchanged).
    pub fn with_order(&self, order: Order) -> NpyArray {
        if order == self.order || self.shape.len() < 2 {
            return NpyArray {
                order,
                ..self.clone()
            };
        }
        let size = self.dtype.size();
        let n = self.len();
        let nd = self.shape.len();
        // Strides of the source layout, in elements.
        let mut src = vec![1usize; nd];
        match self.order {
            Order::C => {
                for ax in (0..nd - 1).rev() {
                    src[ax] = src[ax + 1] * self.shape[ax + 1];
                }
            }
            Order::Fortran => {
                for ax in 1..nd {
                    src[ax] = src[ax - 1] * self.shape[ax - 1];
                }
            }
        }
        // Walk the destination order and copy each element from its source offset.
        let axes: Vec<usize> = match order {
            Order::C => (0..nd).rev().collect(),
            Order::Fortran => (0..nd).collect(),
        };
        let mut idx = vec![0usize; nd];
        let mut out = Vec::with_capacity(self.data.len());
        for _ in 0..n {
            let off: usize = idx.iter().zip(&src).map(|(i, s)| i * s).sum();
            out.extend_from_slice(&self.data[off * size..(off + 1) * size]);
            for &ax in &axes {
                idx[ax] += 1;
                if idx[ax] < self.shape[ax] {
                    break;
                }
                idx[ax] = 0;
            }
        }
        NpyArray {
            order,
            data: out.into(),
            ..self.clone()
        }
    }

    /// The same array with its elements stored in byte order `endian`.
    pub fn with_endian(&self, endian: Endian) -> NpyArray {
        let size = self.dtype.size();
        if size == 1 {
            // Byte order means nothing for one-byte types; NumPy writes `|`, read back as little.
            return NpyArray {
                endian: Endian::Little,
                ..self.clone()
            };
        }
        if endian == self.endian {
            return self.clone();
        }
        // Complex numbers swap each half separately.
        let part = if matches!(self.dtype, DType::C64 | DType::C128) {
            size / 2
        } else {
            size
        };
        let mut out = self.data.to_vec();
        for c in out.chunks_exact_mut(part) {
            c.reverse();
        }
        NpyArray {
            endian,
            data: out.into(),
            ..self.clone()
        }
    }

    /// The header dict, padded so that the data starts on a 64-byte boundary.
    pub fn header(&self) -> Vec<u8> {
        let endian = match (self.dtype.size(), self.endian) {
            (1, _) => '|',
            (_, Endian::Little) => '<',
            (_, Endian::Big) => '>',
        };
        let fortran = if self.order == Order::Fortran {
            "True"
        } else {
            "False"
        };
        let dict = format!(
            "{{'descr': '{endian}{}', 'fortran_order': {fortran}, 'shape': {}, }}",
            self.dtype.code(),
            shape_string(&self.shape)
        );
        let (major, len_bytes) = if dict.len() + 11 < 65536 {
            (1u8, 2)
        } else {
            (2u8, 4)
        };
        let pre = MAGIC.len() + 2 + len_bytes;
        let total = (pre + dict.len() + 1).div_ceil(64) * 64;
        let hlen = total - pre;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[major, 0]);
        if len_bytes == 2 {
            out.extend_from_slice(&(hlen as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(hlen as u32).to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out.resize(total - 1, b' ');
        out.push(b'\n');
        out
    }

    /// The whole `.npy` file.
    pub fn to_npy(&self) -> Vec<u8> {
        let mut out = self.header();
        out.reserve(self.data.len());
        out.extend_from_slice(&self.data);
        out
    }

    /// Parse a `.npy` file; the data is a zero-copy slice of `buf`.
    pub fn from_npy(buf: Bytes) -> Result<Self> {
        let (arr, end) = Self::parse_prefix(&buf)?;
        if end != buf.len() {
            return Err(Error::BadArray(format!(
                "{} bytes after the array data",
                buf.len() - end
            )));
        }
        Ok(arr(buf))
    }

    /// Parse one array at the start of `buf`, returning it and the bytes after it.
    pub fn from_npy_prefix(buf: Bytes) -> Result<(Self, Bytes)> {
        let (arr, end) = Self::parse_prefix(&buf)?;
        let rest = buf.slice(end..);
        Ok((arr(buf), rest))
    }

    /// Header parse; returns a constructor taking the buffer (to slice it without copying) and the end offset.
    #[allow(clippy::type_complexity)]
    fn parse_prefix(buf: &[u8]) -> Result<(Box<dyn FnOnce(Bytes) -> NpyArray>, usize)> {
        let h = HeaderInfo::parse(buf)?;
        let end = h
            .data_offset
            .checked_add(h.data_len)
            .filter(|&e| e <= buf.len())
            .ok_or_else(|| {
                Error::BadArray(format!("truncated data: header says {} bytes", h.data_len))
            })?;
        let HeaderInfo {
            dtype,
            endian,
            order,
            shape,
            data_offset,
            ..
        } = h;
        let make = Box::new(move |b: Bytes| NpyArray {
            dtype,
            endian,
            order,
            shape,
            data: b.slice(data_offset..end),
        });
        Ok((make, end))
    }
}

/// What a `.npy` header says, read from the first bytes of a value without its data.
#[derive(Clone, Debug, PartialEq)]
pub struct HeaderInfo {
    /// Element type.
    pub dtype: DType,
    /// Byte order.
    pub endian: Endian,
    /// Memory order.
    pub order: Order,
    /// Shape.
    pub shape: Vec<usize>,
    /// Where the data starts.
    pub data_offset: usize,
    /// How many data bytes the header announces.
    pub data_len: usize,
}

impl HeaderInfo {
    /// `float64 (4096, 4096)`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.dtype.name(), shape_string(&self.shape))
    }

    /// Parse the header at the start of `buf` (which may hold only a prefix of the value).
    pub fn parse(buf: &[u8]) -> Result<Self> {
        if buf.len() < 10 || &buf[..6] != MAGIC {
            return Err(Error::BadArray(
                "not a .npy value (no \\x93NUMPY magic)".into(),
            ));
        }
        let (hlen, start) = match buf[6] {
            1 => (u16::from_le_bytes([buf[8], buf[9]]) as usize, 10usize),
            2 | 3 if buf.len() >= 12 => (
                u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize,
                12,
            ),
            v => {
                return Err(Error::BadArray(format!(
                    "unsupported .npy version {v}.{}",
                    buf[7]
                )))
            }
        };
        let hend = start
            .checked_add(hlen)
            .filter(|&e| e <= buf.len())
            .ok_or_else(|| Error::BadArray("truncated .npy header".into()))?;
        let text = std::str::from_utf8(&buf[start..hend])
            .map_err(|_| Error::BadArray("header is not text".into()))?;
        let h = header::parse(text)?;
        let (dtype, endian) = DType::parse_descr(&h.descr)?;
        let order = if h.fortran { Order::Fortran } else { Order::C };
        let nbytes = element_count(&h.shape)?
            .checked_mul(dtype.size())
            .ok_or_else(|| Error::BadArray("array too large".into()))?;
        Ok(HeaderInfo {
            dtype,
            endian,
            order,
            shape: h.shape,
            data_offset: hend,
            data_len: nbytes,
        })
    }
}

/// Write an array straight into a command's argument buffer (one copy, no intermediate file).
impl redis::ToRedisArgs for NpyArray {
    fn write_redis_args<W>(&self, out: &mut W)
    where
        W: ?Sized + redis::RedisWrite,
    {
        use std::io::Write;
        let mut w = out.writer_for_next_arg();
        // Writing into a Vec-backed buffer cannot fail.
        let _ = w.write_all(&self.header());
        let _ = w.write_all(&self.data);
    }
}

impl redis::ToSingleRedisArg for NpyArray {}

/// Product of the extents, refusing overflow.
fn element_count(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::BadArray("shape overflows".into()))
}

/// A shape as a Python tuple: `()`, `(3,)`, `(4, 5)`.
pub fn shape_string(shape: &[usize]) -> String {
    match shape {
        [] => "()".into(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

mod header {
    //! The header is a Python dict literal; this reads the subset NumPy writes.
    use crate::error::{Error, Result};

    pub(super) struct Header {
        pub descr: String,
        pub fortran: bool,
        pub shape: Vec<usize>,
    }

    enum Lit {
        Str(String),
        Bool(bool),
        Tuple(Vec<usize>),
    }

    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }

    fn bad(what: &str) -> Error {
        Error::BadArray(format!("bad .npy header: {what}"))
    }

    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn eat(&mut self, c: u8) -> bool {
            self.ws();
            if self.s.get(self.i) == Some(&c) {
                self.i += 1;
                true
            } else {
                false
            }
        }
        fn string(&mut self) -> Result<String> {
            self.ws();
            let q = *self.s.get(self.i).ok_or_else(|| bad("expected a string"))?;
            if q != b'\'' && q != b'"' {
                return Err(bad("expected a string"));
            }
            let start = self.i + 1;
            let end = self.s[start..]
                .iter()
                .position(|&c| c == q)
                .ok_or_else(|| bad("unterminated string"))?;
            self.i = start + end + 1;
            Ok(String::from_utf8_lossy(&self.s[start..start + end]).into_owned())
        }
        fn int(&mut self) -> Result<usize> {
            self.ws();
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            // Python 2 era headers may write `3L`.
            let digits = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| bad("number"))?;
            if self.s.get(self.i) == Some(&b'L') {
                self.i += 1;
            }
            digits.parse().map_err(|_| bad("expected a dimension"))
        }
        fn value(&mut self) -> Result<Lit> {
            self.ws();
            match self.s.get(self.i) {
                Some(b'\'') | Some(b'"') => Ok(Lit::Str(self.string()?)),
                Some(b'(') => {
                    self.i += 1;
                    let mut dims = Vec::new();
                    loop {
                        if self.eat(b')') {
                            break;
                        }
                        dims.push(self.int()?);
                        if !self.eat(b',') {
                            if self.eat(b')') {
                                break;
                            }
                            return Err(bad("expected , or ) in shape"));
                        }
                    }
                    Ok(Lit::Tuple(dims))
                }
                _ if self.s[self.i..].starts_with(b"True") => {
                    self.i += 4;
                    Ok(Lit::Bool(true))
                }
                _ if self.s[self.i..].starts_with(b"False") => {
                    self.i += 5;
                    Ok(Lit::Bool(false))
                }
                _ => Err(bad(
                    "unsupported value (structured dtypes are not supported)",
                )),
            }
        }
    }

    pub(super) fn parse(text: &str) -> Result<Header> {
        let mut p = P {
            s: text.as_bytes(),
            i: 0,
        };
        if !p.eat(b'{') {
            return Err(bad("expected {"));
        }
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        loop {
            if p.eat(b'}') {
                break;
            }
            let key = p.string()?;
            if !p.eat(b':') {
                return Err(bad("expected :"));
            }
            match (key.as_str(), p.value()?) {
                ("descr", Lit::Str(s)) => descr = Some(s),
                ("fortran_order", Lit::Bool(b)) => fortran = Some(b),
                ("shape", Lit::Tuple(t)) => shape = Some(t),
                (k, _) => return Err(bad(&format!("unexpected key or value for {k:?}"))),
            }
            if !p.eat(b',') {
                if p.eat(b'}') {
                    break;
                }
                return Err(bad("expected , or }"));
            }
        }
        Ok(Header {
            descr: descr.ok_or_else(|| bad("no descr"))?,
            fortran: fortran.ok_or_else(|| bad("no fortran_order"))?,
            shape: shape.ok_or_else(|| bad("no shape"))?,
        })
    }
}

#[cfg(test)]
mod tests;
