//! Integration tests against a real respd (in-process) and a real redis-server (spawned).

mod it {
    pub mod cluster;
    pub mod lib_tests;
    pub mod servers;
    #[cfg(feature = "tls")]
    pub mod tls;
}
