#![no_main]
//! Arbitrary bytes as a pushed body: parsing must end in a value or an
//! error, never a panic, whatever the nesting, entities or encoding.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wechat::message::parse_message(data);
    let _ = wechat::message::parse_envelope(data);
    let _ = wechat::message::parse_fields(data);
});
