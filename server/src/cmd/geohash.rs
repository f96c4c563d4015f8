//! Redis's geohash arithmetic (`geohash.c`, `geohash_helper.c`), step for step, so that scores,
//! distances and the boxes a search visits are the ones redis-server computes: a point is a
//! 52-bit interleaved geohash (latitude in the even bits) over Web Mercator's latitude range,
//! stored as a sorted-set score.

pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const STEP_MAX: u8 = 26;
const D_R: f64 = std::f64::consts::PI / 180.0;
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// A geohash of `step` bits per coordinate; bits 0 and step 0 is Redis's "zero" (no box).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    const ZERO: Hash = Hash { bits: 0, step: 0 };

    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The hash left-aligned to 52 bits (a score).
    pub fn align52(&self) -> u64 {
        self.bits << (52 - self.step as u32 * 2)
    }
}

/// A box: (min, max) of longitude and latitude.
#[derive(Clone, Copy, Default, Debug)]
pub struct Area {
    pub lon: (f64, f64),
    pub lat: (f64, f64),
}

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (xlo as u64, ylo as u64);
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(v: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (v, v >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// Encodes a point in the given ranges (Redis's `geohashEncode`); None outside them.
pub fn encode_in(
    lon_r: (f64, f64),
    lat_r: (f64, f64),
    lon: f64,
    lat: f64,
    step: u8,
) -> Option<Hash> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.0 || lat > lat_r.1 || lon < lon_r.0 || lon > lon_r.1 {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.0) / (lat_r.1 - lat_r.0) * scale;
    let lon_off = (lon - lon_r.0) / (lon_r.1 - lon_r.0) * scale;
    Some(Hash {
        bits: interleave64(lat_off as u32, lon_off as u32),
        step,
    })
}

/// Encodes a point in the WGS84/Mercator ranges.
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Hash> {
    encode_in((LONG_MIN, LONG_MAX), (LAT_MIN, LAT_MAX), lon, lat, step)
}

/// The box a hash stands for.
pub fn decode(h: Hash) -> Area {
    let sep = deinterleave64(h.bits);
    let ilat = sep as u32 as f64;
    let ilon = (sep >> 32) as u32 as f64;
    let div = (1u64 << h.step) as f64;
    let (lat_scale, lon_scale) = (LAT_MAX - LAT_MIN, LONG_MAX - LONG_MIN);
    Area {
        lat: (
            LAT_MIN + (ilat * 1.0 / div) * lat_scale,
            LAT_MIN + ((ilat + 1.0) * 1.0 / div) * lat_scale,
        ),
        lon: (
            LONG_MIN + (ilon * 1.0 / div) * lon_scale,
            LONG_MIN + ((ilon + 1.0) * 1.0 / div) * lon_scale,
        ),
    }
}

/// The point a score stands for: its box's centre, clamped to the ranges.
pub fn decode_score(score: f64) -> (f64, f64) {
    let a = decode(Hash {
        bits: score as u64,
        step: STEP_MAX,
    });
    let lon = ((a.lon.0 + a.lon.1) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.0 + a.lat.1) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The standard 11-character geohash of a point (GEOHASH), over latitude -90..90.
pub fn geohash_string(lon: f64, lat: f64) -> Option<String> {
    const ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let h = encode_in((-180.0, 180.0), (-90.0, 90.0), lon, lat, 26)?;
    let mut s = String::with_capacity(11);
    for i in 0..11 {
        let idx = if i == 10 {
            0
        } else {
            ((h.bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
        };
        s.push(ALPHABET[idx] as char);
    }
    Some(s)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine distance in meters (Redis's `geohashGetDistance`).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// What a search looks in: a circle or a box around a centre, sizes in the unit `conversion`
/// converts to meters.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Circle { radius: f64 },
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub center: (f64, f64),
    pub shape: Shape,
    pub conversion: f64,
}

impl Search {
    /// The distance in meters from the centre when the point is inside (`geoWithinShape`).
    pub fn within(&self, lon: f64, lat: f64) -> Option<f64> {
        let (x1, y1) = self.center;
        match self.shape {
            Shape::Circle { radius } => {
                let d = distance(x1, y1, lon, lat);
                (d <= radius * self.conversion).then_some(d)
            }
            Shape::Box { width, height } => {
                let (w, h) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, y1) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, x1, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(x1, y1, lon, lat))
            }
        }
    }

    /// Redis's `geohashBoundingBox`: [min lon, min lat, max lon, max lat].
    fn bounds(&self) -> [f64; 4] {
        let (lon, lat) = self.center;
        let (height, width) = match self.shape {
            Shape::Circle { radius } => (radius * self.conversion, radius * self.conversion),
            Shape::Box { width, height } => (
                self.conversion * (height / 2.0),
                self.conversion * (width / 2.0),
            ),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
        let delta = if lat < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [lon - delta, lat - lat_delta, lon + delta, lat + lat_delta]
    }

    /// The centre box and its eight neighbours a search visits, in Redis's order (centre, N, S,
    /// E, W, NE, NW, SE, SW); zero hashes are the ones left out.
    pub fn boxes(&self) -> [Hash; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let (lon, lat) = self.center;
        let radius = match self.shape {
            Shape::Circle { radius } => radius,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius, lat);
        let mut hash = encode(lon, lat, steps).unwrap_or(Hash::ZERO);
        let mut n = neighbors(hash);
        let mut area = decode(hash);
        let decrease = decode(n[0]).lat.1 < max_lat
            || decode(n[1]).lat.0 > min_lat
            || decode(n[2]).lon.1 < max_lon
            || decode(n[3]).lon.0 > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            hash = encode(lon, lat, steps).unwrap_or(Hash::ZERO);
            n = neighbors(hash);
            area = decode(hash);
        }
        // n: north, south, east, west, north_east, north_west, south_east, south_west
        if steps >= 2 {
            if area.lat.0 < min_lat {
                for i in [1, 7, 6] {
                    n[i] = Hash::ZERO;
                }
            }
            if area.lat.1 > max_lat {
                for i in [0, 4, 5] {
                    n[i] = Hash::ZERO;
                }
            }
            if area.lon.0 < min_lon {
                for i in [3, 7, 5] {
                    n[i] = Hash::ZERO;
                }
            }
            if area.lon.1 > max_lon {
                for i in [2, 6, 4] {
                    n[i] = Hash::ZERO;
                }
            }
        }
        [hash, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]]
    }
}

/// Whether a box is to be searched (not left out).
pub fn searched(h: &Hash) -> bool {
    !h.is_zero()
}

/// Redis's `geohashEstimateStepsByRadius`.
fn estimate_steps(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

fn move_x(h: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = h.bits & 0xaaaaaaaaaaaaaaaa;
    let y = h.bits & 0x5555555555555555;
    let zz = 0x5555555555555555u64 >> (64 - h.step as u32 * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64 >> (64 - h.step as u32 * 2);
    h.bits = x | y;
}

fn move_y(h: &mut Hash, d: i8) {
    if d == 0 {
        return;
    }
    let x = h.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = h.bits & 0x5555555555555555;
    let zz = 0xaaaaaaaaaaaaaaaau64 >> (64 - h.step as u32 * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64 >> (64 - h.step as u32 * 2);
    h.bits = x | y;
}

/// north, south, east, west, north_east, north_west, south_east, south_west
fn neighbors(h: Hash) -> [Hash; 8] {
    let moves: [(i8, i8); 8] = [
        (0, 1),
        (0, -1),
        (1, 0),
        (-1, 0),
        (1, 1),
        (-1, 1),
        (1, -1),
        (-1, -1),
    ];
    moves.map(|(dx, dy)| {
        let mut n = h;
        move_x(&mut n, dx);
        move_y(&mut n, dy);
        n
    })
}

/// Redis's `fixedpoint_d2string(.., 4)`: a distance with four decimals, rounded half to even.
pub fn fmt_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:04}", a / 10000, a % 10000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_round_trips_through_its_score() {
        let h = encode(13.361389, 38.115556, STEP_MAX).unwrap();
        let score = h.align52() as f64;
        assert_eq!(score, 3479099956230698.0); // GEOADD Sicily 13.361389 38.115556 Palermo
        let (lon, lat) = decode_score(score);
        assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
        assert_eq!(geohash_string(lon, lat).unwrap(), "sqc8b49rny0");
    }

    #[test]
    fn distances_print_as_redis() {
        assert_eq!(fmt_distance(166274.15156960033), "166274.1516");
        assert_eq!(fmt_distance(0.0), "0.0000");
        assert_eq!(fmt_distance(0.00004), "0.0000");
    }
}
