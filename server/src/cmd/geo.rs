//! Geo commands over sorted sets whose scores are 52-bit geohashes (`geohash`): GEOADD is ZADD
//! with computed scores; searches visit the nine boxes Redis visits, in its order, so that
//! results, their order and the floats printed match redis-server.

use super::geohash::{self, Search, Shape};
use super::zsets::{lp_limits, notify_store, store_result};
use super::{eq, float, int, syntax, text, wrongtype, CommandSpec, Ctx, Flags};
use crate::command;
use crate::keyspace::zset::{ScoreRange, ZSet};
use crate::keyspace::{Value, View};
use crate::resp::Reply;
use bytes::Bytes;

const WD: Flags = Flags::WRITE.union(Flags::DENYOOM);
const R: Flags = Flags::READONLY;
const ACL: &[&str] = &["geo"];

/// The geo family.
pub static COMMANDS: &[CommandSpec] = &[
    command!("geoadd", -5, WD, (1, 1, 1), "geo", "3.2.0", ACL, geoadd, "Add one or more geospatial items in the geospatial index represented using a sorted set"),
    command!("geodist", -4, R, (1, 1, 1), "geo", "3.2.0", ACL, geodist, "Returns the distance between two members of a geospatial index"),
    command!("geohash", -2, R, (1, 1, 1), "geo", "3.2.0", ACL, geohash_cmd, "Returns members of a geospatial index as standard geohash strings"),
    command!("geopos", -2, R, (1, 1, 1), "geo", "3.2.0", ACL, geopos, "Returns longitude and latitude of members of a geospatial index"),
    command!("geosearch", -7, R, (1, 1, 1), "geo", "6.2.0", ACL, geosearch, "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle."),
    command!("geosearchstore", -8, WD, (1, 2, 1), "geo", "6.2.0", ACL, geosearchstore, "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key."),
    command!("georadius", -6, WD.union(Flags::MOVABLEKEYS), (1, 1, 1), "geo", "3.2.0", ACL, georadius, "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point"),
    command!("georadius_ro", -6, R, (1, 1, 1), "geo", "3.2.10", ACL, georadius_ro, "A read-only variant for GEORADIUS"),
    command!("georadiusbymember", -5, WD.union(Flags::MOVABLEKEYS), (1, 1, 1), "geo", "3.2.0", ACL, georadiusbymember, "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member"),
    command!("georadiusbymember_ro", -5, R, (1, 1, 1), "geo", "3.2.10", ACL, georadiusbymember_ro, "A read-only variant for GEORADIUSBYMEMBER"),
];

/// Longitude and latitude arguments, checked as Redis's `extractLongLatOrReply`.
fn lon_lat(a: &[Bytes]) -> Result<(f64, f64), Reply> {
    let lon = float(&a[0])?;
    let lat = float(&a[1])?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&lon)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(Reply::error(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Meters in one `unit`.
fn unit(u: &[u8]) -> Result<f64, Reply> {
    if eq(u, "m") {
        Ok(1.0)
    } else if eq(u, "km") {
        Ok(1000.0)
    } else if eq(u, "ft") {
        Ok(0.3048)
    } else if eq(u, "mi") {
        Ok(1609.34)
    } else {
        Err(Reply::error(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// A float argument with Redis's message of its own when it is not one.
fn float_or(b: &[u8], msg: &'static str) -> Result<f64, Reply> {
    float(b).map_err(|_| Reply::error(msg))
}

/// `radius unit`: (radius, conversion).
fn radius(a: &[Bytes]) -> Result<(f64, f64), Reply> {
    let r = float_or(&a[0], "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(Reply::error("ERR radius cannot be negative"));
    }
    Ok((r, unit(&a[1])?))
}

/// The sorted set at `key` (None if missing), WRONGTYPE otherwise.
fn zset<'v>(v: &'v mut View, key: &[u8]) -> Result<Option<&'v ZSet>, Reply> {
    match v.get(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(wrongtype()),
    }
}

fn geoadd(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (mut nx, mut xx) = (false, false);
    let mut i = 2;
    while i < a.len() {
        if eq(&a[i], "nx") {
            nx = true;
        } else if eq(&a[i], "xx") {
            xx = true;
        } else if !eq(&a[i], "ch") {
            break;
        }
        i += 1;
    }
    if (a.len() - i) % 3 != 0 || (nx && xx) {
        return syntax();
    }
    // Redis runs ZADD with the scores in place of the coordinates: its replies and events.
    let mut argv: Vec<Bytes> = Vec::with_capacity(i + (a.len() - i) / 3 * 2);
    argv.push(Bytes::from_static(b"zadd"));
    argv.extend(a[1..i].iter().cloned());
    for t in a[i..].chunks(3) {
        let (lon, lat) = match lon_lat(&t[..2]) {
            Ok(p) => p,
            Err(e) => return e,
        };
        let bits = geohash::encode(lon, lat, geohash::STEP_MAX).map_or(0, |h| h.align52());
        argv.push(Bytes::from(bits.to_string()));
        argv.push(t[2].clone());
    }
    super::zsets::zadd(ctx, &argv)
}

fn geodist(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let to_meter = match a.len() {
        4 => 1.0,
        5 => match unit(&a[4]) {
            Ok(u) => u,
            Err(e) => return e,
        },
        _ => return syntax(),
    };
    let r = ctx.with_key(&a[1], |v| {
        let Some(z) = zset(v, &a[1])? else {
            return Ok(None);
        };
        Ok::<_, Reply>(z.score(&a[2]).zip(z.score(&a[3])))
    });
    match r {
        Ok(Some((s1, s2))) => {
            let (x1, y1) = geohash::decode_score(s1);
            let (x2, y2) = geohash::decode_score(s2);
            let d = geohash::distance(x1, y1, x2, y2) / to_meter;
            Reply::bulk(Bytes::from(geohash::fmt_distance(d)))
        }
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

/// Each member's score, None where it is missing (or the key is).
fn scores(ctx: &mut Ctx, a: &[Bytes]) -> Result<Vec<Option<f64>>, Reply> {
    ctx.with_key(&a[1], |v| {
        let z = zset(v, &a[1])?;
        Ok(a[2..].iter().map(|m| z.and_then(|z| z.score(m))).collect())
    })
}

fn geohash_cmd(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match scores(ctx, a) {
        Ok(s) => Reply::Array(
            s.into_iter()
                .map(|s| {
                    s.and_then(|s| {
                        let (lon, lat) = geohash::decode_score(s);
                        geohash::geohash_string(lon, lat)
                    })
                    .map_or(Reply::Nil, |h| Reply::bulk(Bytes::from(h)))
                })
                .collect(),
        ),
        Err(e) => e,
    }
}

fn geopos(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match scores(ctx, a) {
        Ok(s) => Reply::Array(
            s.into_iter()
                .map(|s| match s {
                    Some(s) => {
                        let (lon, lat) = geohash::decode_score(s);
                        Reply::Array(vec![Reply::HumanDouble(lon), Reply::HumanDouble(lat)])
                    }
                    None => Reply::NilArray,
                })
                .collect(),
        ),
        Err(e) => e,
    }
}

/// Which command a search serves (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Radius { ro: bool },
    ByMember { ro: bool },
    Search,
    SearchStore,
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Where a search starts from before the key is read: a point, or a member to look up.
enum From<'a> {
    Point(f64, f64),
    Member(&'a Bytes),
    Unset,
}

struct Opts<'a> {
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    sort: Sort,
    count: usize,
    store: Option<&'a Bytes>,
    storedist: bool,
    from: From<'a>,
    shape: Option<(Shape, f64)>,
}

/// Parses the options after the base arguments, in Redis's order of checks. `member_ok` says
/// whether a FROMMEMBER member can be used (Redis looks it up while parsing, and not at all
/// when the key is missing).
fn parse_opts<'a>(
    a: &'a [Bytes],
    base: usize,
    kind: Kind,
    member_ok: &mut dyn FnMut(&Bytes) -> bool,
) -> Result<Opts<'a>, Reply> {
    let search = matches!(kind, Kind::Search | Kind::SearchStore);
    let nostore = matches!(
        kind,
        Kind::Radius { ro: true } | Kind::ByMember { ro: true }
    );
    let mut o = Opts {
        withdist: false,
        withhash: false,
        withcoord: false,
        any: false,
        sort: Sort::None,
        count: 0,
        store: None,
        storedist: false,
        from: From::Unset,
        shape: None,
    };
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let rest = &a[base.min(a.len())..];
    let mut i = 0;
    while i < rest.len() {
        let arg = &rest[i];
        let left = rest.len() - i - 1;
        if eq(arg, "withdist") {
            o.withdist = true;
        } else if eq(arg, "withhash") {
            o.withhash = true;
        } else if eq(arg, "withcoord") {
            o.withcoord = true;
        } else if eq(arg, "any") {
            o.any = true;
        } else if eq(arg, "asc") {
            o.sort = Sort::Asc;
        } else if eq(arg, "desc") {
            o.sort = Sort::Desc;
        } else if eq(arg, "count") && left >= 1 {
            let n = int(&rest[i + 1])?;
            if n <= 0 {
                return Err(Reply::error("ERR COUNT must be > 0"));
            }
            o.count = n as usize;
            i += 1;
        } else if (eq(arg, "store") || eq(arg, "storedist")) && left >= 1 && !nostore && !search {
            o.store = Some(&rest[i + 1]);
            o.storedist = eq(arg, "storedist");
            i += 1;
        } else if eq(arg, "storedist") && kind == Kind::SearchStore {
            o.storedist = true;
        } else if eq(arg, "frommember") && left >= 1 && search && !fromloc {
            if !member_ok(&rest[i + 1]) {
                return Err(Reply::error(ERR_MEMBER));
            }
            o.from = From::Member(&rest[i + 1]);
            frommember = true;
            i += 1;
        } else if eq(arg, "fromlonlat") && left >= 2 && search && !frommember {
            let (lon, lat) = lon_lat(&rest[i + 1..i + 3])?;
            o.from = From::Point(lon, lat);
            fromloc = true;
            i += 2;
        } else if eq(arg, "byradius") && left >= 2 && search && !bybox {
            let (r, conv) = radius(&rest[i + 1..i + 3])?;
            o.shape = Some((Shape::Circle { radius: r }, conv));
            byradius = true;
            i += 2;
        } else if eq(arg, "bybox") && left >= 3 && search && !byradius {
            let w = float_or(&rest[i + 1], "ERR need numeric width")?;
            let h = float_or(&rest[i + 2], "ERR need numeric height")?;
            if h < 0.0 || w < 0.0 {
                return Err(Reply::error("ERR height or width cannot be negative"));
            }
            let conv = unit(&rest[i + 3])?;
            o.shape = Some((
                Shape::Box {
                    width: w,
                    height: h,
                },
                conv,
            ));
            bybox = true;
            i += 3;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    if kind == Kind::SearchStore {
        o.store = Some(&a[1]);
    }
    if o.store.is_some() && (o.withdist || o.withhash || o.withcoord) {
        return Err(Reply::error(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if kind == Kind::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    if search && !(frommember || fromloc) {
        return Err(Reply::error(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            text(&a[0])
        )));
    }
    if search && !(byradius || bybox) {
        return Err(Reply::error(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            text(&a[0])
        )));
    }
    if o.any && o.count == 0 {
        return Err(Reply::error("ERR the ANY argument requires COUNT argument"));
    }
    Ok(o)
}

/// A search's shape with its unit's meters.
type Area = (Shape, f64);

const ERR_MEMBER: &str = "ERR could not decode requested zset member";

/// A point found: member, distance (meters), score, coordinates.
struct Found {
    member: Bytes,
    dist: f64,
    score: f64,
    lon: f64,
    lat: f64,
}

/// Members of `z` inside the search, box by box as Redis visits them (at most `limit`, 0 for
/// all, when ANY).
fn search(z: &ZSet, s: &Search, limit: usize) -> Vec<Found> {
    let boxes = s.boxes();
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, b) in boxes.iter().enumerate() {
        if !geohash::searched(b) {
            continue;
        }
        // Redis skips a box equal to the last one it searched (never comparing with the centre).
        if let Some(l) = last.filter(|&l| l > 0) {
            if boxes[l] == *b {
                continue;
            }
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
        let min = b.align52() as f64;
        let max = geohash::Hash {
            bits: b.bits + 1,
            step: b.step,
        }
        .align52() as f64;
        let range = ScoreRange {
            min,
            max,
            minex: false,
            maxex: true,
        };
        for (member, score) in z.range_by_score(&range, false, 0, None) {
            let (lon, lat) = geohash::decode_score(score);
            if let Some(dist) = s.within(lon, lat) {
                out.push(Found {
                    member,
                    dist,
                    score,
                    lon,
                    lat,
                });
            }
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
        last = Some(i);
    }
    out
}

fn georadius_generic(ctx: &mut Ctx, a: &[Bytes], kind: Kind) -> Reply {
    let src_idx = if kind == Kind::SearchStore { 2 } else { 1 };
    let src = a[src_idx].clone();
    // Redis checks the source's type before any argument.
    let exists = match ctx.with_key(&src, |v| zset(v, &src).map(|z| z.is_some())) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let (base, mut pre): (usize, Option<(From, Option<Area>)>) = match kind {
        Kind::Radius { .. } => {
            let p = match lon_lat(&a[2..4]) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let (r, conv) = match radius(&a[4..6]) {
                Ok(x) => x,
                Err(e) => return e,
            };
            (
                6,
                Some((
                    From::Point(p.0, p.1),
                    Some((Shape::Circle { radius: r }, conv)),
                )),
            )
        }
        Kind::ByMember { .. } if !exists => (5, None),
        Kind::ByMember { .. } => {
            // The member is looked up with the key below; the radius is checked now.
            let (r, conv) = match ctx.with_key(&src, |v| {
                let found = zset(v, &src)?.and_then(|z| z.score(&a[2])).is_some();
                if !found {
                    return Err(Reply::error(ERR_MEMBER));
                }
                radius(&a[3..5])
            }) {
                Ok(x) => x,
                Err(e) => return e,
            };
            (
                5,
                Some((
                    From::Member(&a[2]),
                    Some((Shape::Circle { radius: r }, conv)),
                )),
            )
        }
        Kind::Search => (2, None),
        Kind::SearchStore => (3, None),
    };
    let mut member_ok = |m: &Bytes| {
        !exists
            || ctx.with_key(
                &src,
                |v| matches!(zset(v, &src), Ok(Some(z)) if z.score(m).is_some()),
            )
    };
    let mut o = match parse_opts(a, base, kind, &mut member_ok) {
        Ok(o) => o,
        Err(e) => return e,
    };
    if let Some((from, shape)) = pre.take() {
        o.from = from;
        o.shape = shape;
    }
    let store = o.store.cloned();
    let mut keys = vec![src.clone()];
    if let Some(d) = &store {
        keys.push(d.clone());
    }
    let lp = lp_limits(ctx);
    let r = ctx.with_keys(&keys, |v| {
        let z = match zset(v, &src)? {
            Some(z) => z,
            None => {
                return Ok(match &store {
                    Some(d) => (Reply::Int(0), Some((0, v.remove(d).is_some()))),
                    None => (Reply::Array(Vec::new()), None),
                });
            }
        };
        let center = match o.from {
            From::Point(x, y) => (x, y),
            From::Member(m) => match z.score(m) {
                Some(s) => geohash::decode_score(s),
                None => return Err(Reply::error(ERR_MEMBER)),
            },
            From::Unset => return Err(syntax()),
        };
        let Some((shape, conversion)) = o.shape else {
            return Err(syntax());
        };
        let s = Search {
            center,
            shape,
            conversion,
        };
        let mut sort = o.sort;
        if o.count != 0 && sort == Sort::None && !o.any {
            sort = Sort::Asc;
        }
        let mut found = search(z, &s, if o.any { o.count } else { 0 });
        match sort {
            Sort::Asc => found.sort_by(|x, y| x.dist.total_cmp(&y.dist)),
            Sort::Desc => found.sort_by(|x, y| y.dist.total_cmp(&x.dist)),
            Sort::None => {}
        }
        if o.count != 0 {
            found.truncate(o.count);
        }
        match &store {
            None => Ok((reply_found(found, &o, conversion), None)),
            Some(d) => {
                let mut out = ZSet::new();
                out.set_skiplist();
                for f in found {
                    let score = if o.storedist {
                        f.dist / conversion
                    } else {
                        f.score
                    };
                    out.insert(f.member, score);
                }
                let (n, deleted) = store_result(v, d, out, lp);
                Ok((Reply::Int(n as i64), Some((n, deleted))))
            }
        }
    });
    match r {
        Ok((reply, stored)) => {
            if let (Some(d), Some((n, deleted))) = (&store, stored) {
                let ev = if matches!(kind, Kind::Search | Kind::SearchStore) {
                    "geosearchstore"
                } else {
                    "georadiusstore"
                };
                notify_store(ctx, ev, d, n, deleted);
            }
            reply
        }
        Err(e) => e,
    }
}

fn reply_found(found: Vec<Found>, o: &Opts, conversion: f64) -> Reply {
    let extra = o.withdist || o.withhash || o.withcoord;
    Reply::Array(
        found
            .into_iter()
            .map(|f| {
                if !extra {
                    return Reply::Bulk(f.member);
                }
                let mut item = vec![Reply::Bulk(f.member)];
                if o.withdist {
                    item.push(Reply::bulk(Bytes::from(geohash::fmt_distance(
                        f.dist / conversion,
                    ))));
                }
                if o.withhash {
                    item.push(Reply::Int(f.score as i64));
                }
                if o.withcoord {
                    item.push(Reply::Array(vec![
                        Reply::HumanDouble(f.lon),
                        Reply::HumanDouble(f.lat),
                    ]));
                }
                Reply::Array(item)
            })
            .collect(),
    )
}

fn georadius(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    georadius_generic(ctx, a, Kind::Radius { ro: false })
}

fn georadius_ro(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    georadius_generic(ctx, a, Kind::Radius { ro: true })
}

fn georadiusbymember(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    georadius_generic(ctx, a, Kind::ByMember { ro: false })
}

fn georadiusbymember_ro(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    georadius_generic(ctx, a, Kind::ByMember { ro: true })
}

fn geosearch(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    georadius_generic(ctx, a, Kind::Search)
}

fn geosearchstore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    georadius_generic(ctx, a, Kind::SearchStore)
}
