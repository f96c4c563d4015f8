//! Colour maps as 256-entry tables, interpolated from nine evenly spaced anchors (matplotlib's
//! viridis and magma, sampled at 0, 1/8, ..., 1), and the colours of non-finite values.

/// A colour map by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmap {
    /// Perceptually uniform blue → green → yellow (matplotlib's default).
    Viridis,
    /// Perceptually uniform black → purple → orange → cream.
    Magma,
    /// Black → white.
    Gray,
}

/// Colour of NaN (magenta: in none of the maps).
pub const NAN: [u8; 3] = [255, 0, 255];
/// Colour of +inf (pure red).
pub const POS_INF: [u8; 3] = [255, 0, 0];
/// Colour of -inf (pure blue).
pub const NEG_INF: [u8; 3] = [0, 0, 255];

const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 45, 123],
    [59, 82, 139],
    [44, 114, 142],
    [33, 145, 140],
    [40, 174, 128],
    [94, 201, 98],
    [173, 220, 48],
    [253, 231, 37],
];

const MAGMA: [[u8; 3]; 9] = [
    [0, 0, 4],
    [28, 16, 68],
    [79, 18, 123],
    [129, 37, 129],
    [181, 54, 122],
    [229, 80, 100],
    [251, 135, 97],
    [254, 194, 135],
    [252, 253, 191],
];

const GRAY: [[u8; 3]; 2] = [[0, 0, 0], [255, 255, 255]];

impl Cmap {
    /// The map called `name` (`viridis`, `magma`, `gray`).
    pub fn from_name(name: &str) -> Option<Cmap> {
        match name {
            "viridis" => Some(Cmap::Viridis),
            "magma" => Some(Cmap::Magma),
            "gray" | "grey" => Some(Cmap::Gray),
            _ => None,
        }
    }

    /// The 256-entry table, index 0 for the lowest value.
    pub fn table(self) -> [[u8; 3]; 256] {
        let anchors: &[[u8; 3]] = match self {
            Cmap::Viridis => &VIRIDIS,
            Cmap::Magma => &MAGMA,
            Cmap::Gray => &GRAY,
        };
        let mut t = [[0u8; 3]; 256];
        let segs = (anchors.len() - 1) as f64;
        for (i, out) in t.iter_mut().enumerate() {
            let x = i as f64 / 255.0 * segs;
            let k = (x.floor() as usize).min(anchors.len() - 2);
            let f = x - k as f64;
            for ch in 0..3 {
                let a = anchors[k][ch] as f64;
                let b = anchors[k + 1][ch] as f64;
                out[ch] = (a + (b - a) * f).round() as u8;
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_end_at_their_anchors() {
        let v = Cmap::Viridis.table();
        assert_eq!((v[0], v[255]), (VIRIDIS[0], VIRIDIS[8]));
        let g = Cmap::Gray.table();
        assert_eq!((g[0], g[128], g[255]), ([0; 3], [128; 3], [255; 3]));
        for c in [NAN, POS_INF, NEG_INF] {
            for m in [Cmap::Viridis, Cmap::Magma, Cmap::Gray] {
                assert!(!m.table().contains(&c), "{c:?} is in {m:?}");
            }
        }
    }
}
