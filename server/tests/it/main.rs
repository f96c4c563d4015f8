//! Integration tests: a real respd on 127.0.0.1:0, spoken to in raw RESP.

mod binary;
mod blocking;
mod common;
mod layers;
mod protocol;
mod pubsub;
mod shutdown;
