//! Typed handles to parameters: `params::MAXMEMORY` is a [`Mem`], so `config.get(MAXMEMORY)` is a
//! `u64` read with one relaxed load, and a misspelt name is a compile error, not a silent 0.

use super::{Config, Kind};
use std::marker::PhantomData;
use std::sync::Arc;

/// A handle that reads its parameter's current value out of a [`Config`].
pub trait Setting: Copy {
    /// What the parameter reads as.
    type Value;
    /// Its index in [`super::PARAMS`].
    fn index(self) -> usize;
    /// The current value.
    fn read(self, c: &Config) -> Self::Value;
}

macro_rules! numeric_handle {
    ($(#[$doc:meta])* $name:ident => $value:ty, $kind:pat, |$raw:ident| $conv:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(usize);

        impl $name {
            /// The handle of the parameter at `i` (the table's macro makes these).
            pub(super) const fn at(i: usize) -> Self {
                $name(i)
            }

            /// Whether a parameter of `kind` can be read through this handle type.
            pub(super) const fn fits(kind: &Kind) -> bool {
                matches!(kind, $kind)
            }
        }

        impl Setting for $name {
            type Value = $value;
            fn index(self) -> usize {
                self.0
            }
            #[inline]
            fn read(self, c: &Config) -> $value {
                let $raw = c.raw(self.0);
                $conv
            }
        }
    };
}

numeric_handle!(
    /// A yes/no parameter.
    Bool => bool, Kind::Bool, |r| r != 0
);
numeric_handle!(
    /// An integer parameter (Redis's `long long`, `int` or `uint` ones).
    Int => i64, Kind::Int { .. }, |r| r as i64
);
numeric_handle!(
    /// A memory size in bytes (`512mb` in a file or CONFIG SET).
    Mem => u64, Kind::Memory { .. }, |r| r
);
numeric_handle!(
    /// `notify-keyspace-events`, held as its event bits (`special::events`).
    Events => u32, Kind::Events, |r| r as u32
);

/// An enumerated parameter nobody reads as a type of its own: reads as its option's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick(usize);

impl Pick {
    pub(super) const fn at(i: usize) -> Self {
        Pick(i)
    }

    pub(super) const fn fits(kind: &Kind) -> bool {
        matches!(kind, Kind::Enum(_))
    }
}

impl Setting for Pick {
    type Value = &'static str;
    fn index(self) -> usize {
        self.0
    }
    fn read(self, c: &Config) -> &'static str {
        super::params::option_text(self.0, c.raw(self.0))
    }
}

/// A string parameter: its value is behind a lock, read by cloning an `Arc`. Whether it is
/// empty is one relaxed load ([`Config::is_set`]), for checks on the request path (`requirepass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Str(usize);

impl Str {
    pub(super) const fn at(i: usize) -> Self {
        Str(i)
    }

    pub(super) const fn fits(kind: &Kind) -> bool {
        matches!(
            kind,
            Kind::Str | Kind::BufferLimits | Kind::SaveRules | Kind::ShutdownFlags
        )
    }
}

impl Setting for Str {
    type Value = Arc<str>;
    fn index(self) -> usize {
        self.0
    }
    fn read(self, c: &Config) -> Arc<str> {
        c.text_slot(self.0)
    }
}

/// An enumerated parameter read as a Rust enum `T` (its options are `T::NAMES`, in Redis's order).
#[derive(Debug)]
pub struct Enum<T>(usize, PhantomData<T>);

impl<T> Clone for Enum<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Enum<T> {}

impl<T: Choice> Enum<T> {
    pub(super) const fn at(i: usize) -> Self {
        Enum(i, PhantomData)
    }

    pub(super) const fn fits(kind: &Kind) -> bool {
        matches!(kind, Kind::Enum(_))
    }
}

impl<T: Choice> Setting for Enum<T> {
    type Value = T;
    fn index(self) -> usize {
        self.0
    }
    #[inline]
    fn read(self, c: &Config) -> T {
        T::from_index(c.raw(self.0) as usize)
    }
}

/// A Rust enum whose variants are a parameter's options.
pub trait Choice: Copy + 'static {
    /// The options, in the order Redis lists them in its error text.
    const NAMES: &'static [&'static str];
    /// The variant of `NAMES[i]` (the first one for an index out of range, which the table never
    /// stores).
    fn from_index(i: usize) -> Self;
}

/// Declares an enum whose variants are a parameter's options, in order.
macro_rules! choice {
    ($(#[$doc:meta])* pub enum $name:ident { $($(#[$vdoc:meta])* $v:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vdoc])* $v),+ }

        impl Choice for $name {
            const NAMES: &'static [&'static str] = &[$($text),+];
            fn from_index(i: usize) -> Self {
                const ALL: &[$name] = &[$($name::$v),+];
                ALL.get(i).copied().unwrap_or(ALL[0])
            }
        }

        impl $name {
            /// The option's text, as CONFIG GET shows it.
            pub fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }
        }
    };
}

choice! {
    /// `maxmemory-policy`: which keys eviction may take and how it ranks them.
    pub enum Policy {
        VolatileLru = "volatile-lru",
        VolatileLfu = "volatile-lfu",
        VolatileRandom = "volatile-random",
        VolatileTtl = "volatile-ttl",
        AllKeysLru = "allkeys-lru",
        AllKeysLfu = "allkeys-lfu",
        AllKeysRandom = "allkeys-random",
        NoEviction = "noeviction",
    }
}

choice! {
    /// `loglevel`.
    pub enum LogLevel {
        Debug = "debug",
        Verbose = "verbose",
        Notice = "notice",
        Warning = "warning",
    }
}
