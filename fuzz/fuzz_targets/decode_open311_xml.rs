//! Feeds arbitrary bytes to the open311-xml decoders: they must return a value or
//! an error, never panic, and whatever decodes must encode again.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::decode_and_reencode("open311-xml", data));
