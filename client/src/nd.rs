//! Conversions between [`NpyArray`] and `ndarray::ArrayD` (feature `ndarray`).

use ndarray::{ArrayD, IxDyn};

use crate::error::{Error, Result};
use crate::npy::{Element, NpyArray};

impl NpyArray {
    /// The array as an `ndarray::ArrayD` (standard layout).
    pub fn to_ndarray<T: Element>(&self) -> Result<ArrayD<T>> {
        let v = self.to_vec::<T>()?;
        ArrayD::from_shape_vec(IxDyn(&self.shape), v).map_err(|e| Error::BadArray(e.to_string()))
    }

    /// An array from any `ndarray` array (stored in C order, little-endian).
    pub fn from_ndarray<T: Element, D: ndarray::Dimension>(
        a: &ndarray::Array<T, D>,
    ) -> Result<Self> {
        let elems: Vec<T> = a.iter().copied().collect();
        NpyArray::from_vec(a.shape().to_vec(), &elems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndarray_round_trip() {
        let a = ndarray::Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64);
        let n = NpyArray::from_ndarray(&a)
            .unwrap()
            .with_order(crate::npy::Order::Fortran);
        assert_eq!(n.to_ndarray::<f64>().unwrap(), a.into_dyn());
    }
}
