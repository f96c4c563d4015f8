//! Histograms and plots: several named arrays in one value that NumPy alone can read.
//!
//! # Layout (see also client/README.md)
//! A bundle is `.npy` arrays written one after another:
//! 1. a 1-D `uint8` array holding UTF-8 JSON metadata:
//!    `{"format": "respd.bundle", "version": 1, "kind": "histogram", "arrays": ["counts", "edges_0"], ...}`
//!    plus free-form string attributes (`title`, `labels`, ...);
//! 2. the arrays named in `"arrays"`, in that order.
//!
//! In Python:
//! ```python
//! f = io.BytesIO(r.get(key))
//! meta = json.loads(np.load(f).tobytes())
//! arrays = {name: np.load(f) for name in meta["arrays"]}
//! ```
//! A histogram has `counts` (N-D, any dtype) and `edges_0..edges_{N-1}` (float64, one more edge
//! than bins on each axis); a plot has `x_<series>` and `y_<series>` per series.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::npy::{DType, NpyArray};

/// The `format` field that marks a bundle.
pub const FORMAT: &str = "respd.bundle";

/// The metadata array's content.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layout version (1).
    pub version: u32,
    /// `histogram`, `plot`, or a site-defined kind.
    pub kind: String,
    /// Names of the arrays that follow, in order.
    pub arrays: Vec<String>,
    /// Free-form attributes (title, axis labels, units).
    #[serde(default)]
    pub attrs: BTreeMap<String, serde_json::Value>,
}

/// Named arrays plus metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    /// Kind and attributes (the `arrays` field is filled from `arrays` on encode).
    pub kind: String,
    /// Free-form attributes.
    pub attrs: BTreeMap<String, serde_json::Value>,
    /// The arrays, in order.
    pub arrays: Vec<(String, NpyArray)>,
}

impl Bundle {
    /// An empty bundle of `kind`.
    pub fn new(kind: &str) -> Self {
        Bundle {
            kind: kind.into(),
            attrs: BTreeMap::new(),
            arrays: Vec::new(),
        }
    }

    /// A histogram: `counts` with shape (n0, n1, ...) and one edge vector of n_i + 1 per axis.
    pub fn histogram(counts: NpyArray, edges: Vec<Vec<f64>>) -> Result<Self> {
        if edges.len() != counts.shape.len() {
            return Err(Error::BadArray(format!(
                "{} edge vectors for {} axes",
                edges.len(),
                counts.shape.len()
            )));
        }
        let mut b = Bundle::new("histogram");
        for (ax, e) in edges.iter().enumerate() {
            if e.len() != counts.shape[ax] + 1 {
                return Err(Error::BadArray(format!(
                    "axis {ax}: {} bins need {} edges",
                    counts.shape[ax],
                    counts.shape[ax] + 1
                )));
            }
        }
        b.arrays.push(("counts".into(), counts));
        for (ax, e) in edges.into_iter().enumerate() {
            b.arrays.push((
                format!("edges_{ax}"),
                NpyArray::from_vec(vec![e.len()], &e)?,
            ));
        }
        Ok(b)
    }

    /// A plot with one series per `(name, x, y)`.
    pub fn plot(series: Vec<(String, Vec<f64>, Vec<f64>)>) -> Result<Self> {
        let mut b = Bundle::new("plot");
        for (name, x, y) in series {
            if x.len() != y.len() {
                return Err(Error::BadArray(format!(
                    "series {name}: {} x values, {} y values",
                    x.len(),
                    y.len()
                )));
            }
            b.arrays
                .push((format!("x_{name}"), NpyArray::from_vec(vec![x.len()], &x)?));
            b.arrays
                .push((format!("y_{name}"), NpyArray::from_vec(vec![y.len()], &y)?));
        }
        Ok(b)
    }

    /// Set a string or JSON attribute (builder style).
    pub fn attr(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.attrs.insert(key.into(), value.into());
        self
    }

    /// The array called `name`.
    pub fn get(&self, name: &str) -> Option<&NpyArray> {
        self.arrays.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// Encode as a value.
    pub fn encode(&self) -> Vec<u8> {
        let meta = Meta {
            format: FORMAT.into(),
            version: 1,
            kind: self.kind.clone(),
            arrays: self.arrays.iter().map(|(n, _)| n.clone()).collect(),
            attrs: self.attrs.clone(),
        };
        // Serializing a struct of strings and JSON values cannot fail.
        let json = serde_json::to_vec(&meta).unwrap_or_default();
        let mut out = Vec::new();
        let head = NpyArray {
            dtype: DType::U8,
            endian: crate::npy::Endian::Little,
            order: crate::npy::Order::C,
            shape: vec![json.len()],
            data: json.into(),
        };
        out.extend_from_slice(&head.to_npy());
        for (_, a) in &self.arrays {
            out.extend_from_slice(&a.header());
            out.extend_from_slice(&a.data);
        }
        out
    }

    /// Decode a value written by [`Bundle::encode`] (or by Python following the layout).
    pub fn decode(buf: Bytes) -> Result<Self> {
        let (head, mut rest) = NpyArray::from_npy_prefix(buf)?;
        if head.dtype != DType::U8 || head.shape.len() != 1 {
            return Err(Error::BadArray(
                "not a bundle: first array is not uint8 metadata".into(),
            ));
        }
        let meta: Meta = serde_json::from_slice(&head.data)
            .map_err(|e| Error::BadArray(format!("bundle metadata: {e}")))?;
        if meta.format != FORMAT {
            return Err(Error::BadArray(format!(
                "not a bundle: format {:?}",
                meta.format
            )));
        }
        let mut arrays = Vec::with_capacity(meta.arrays.len());
        for name in meta.arrays {
            let (a, r) = NpyArray::from_npy_prefix(rest)?;
            arrays.push((name, a));
            rest = r;
        }
        if !rest.is_empty() {
            return Err(Error::BadArray(format!(
                "{} bytes after the bundle's arrays",
                rest.len()
            )));
        }
        Ok(Bundle {
            kind: meta.kind,
            attrs: meta.attrs,
            arrays,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_round_trip() {
        let counts = NpyArray::from_vec(vec![2, 3], &[1u32, 2, 3, 4, 5, 6]).unwrap();
        let h = Bundle::histogram(
            counts.clone(),
            vec![vec![0.0, 1.0, 2.0], vec![0.0, 0.5, 1.0, 1.5]],
        )
        .unwrap()
        .attr("title", "energy");
        let back = Bundle::decode(h.encode().into()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.get("counts"), Some(&counts));
        assert!(Bundle::histogram(counts, vec![vec![0.0, 1.0]]).is_err());
    }

    #[test]
    fn plain_npy_is_not_a_bundle() {
        let a = NpyArray::from_vec(vec![3], &[1u8, 2, 3]).unwrap();
        assert!(Bundle::decode(a.to_npy().into()).is_err());
    }
}
