//! Device profiles from TOML (protocol/src/profile.rs), the register maps in
//! them, and raw register words decoded by every register spec found: what
//! an installer's profile file and a wired device's replies can hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::profile::Profile;

fuzz_target!(|data: &[u8]| {
    // The last 8 bytes, as 4 words, are the registers read.
    let (text, regs) = data.split_at(data.len().saturating_sub(8));
    let words: Vec<u16> = regs
        .chunks_exact(2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]))
        .collect();
    let Ok(src) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(p) = Profile::from_toml(src) else {
        return;
    };
    for f in &p.fields {
        for t in f.triggers() {
            let _ = t
                .when
                .test(f32::from(words.first().copied().unwrap_or(0)), t.hysteresis);
        }
    }
    if let Some(map) = &p.modbus {
        for spec in map.registers.values().chain(map.outputs.values()) {
            for n in 0..=words.len() {
                let _ = spec.decode(&words[..n]);
            }
        }
    }
});
