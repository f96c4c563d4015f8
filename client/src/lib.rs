//! A thin client for respd (filled in by the client work).
