//! Ledger entries: `Entry::decode` on untrusted bytes.
//!
//! The module documents the encoding as canonical ("each entry has exactly
//! one encoding: decoding then re-encoding gives back the same bytes"), so
//! beyond "no panic": a decoded entry encodes to exactly the input, that
//! encoding decodes to an equal entry, and the entry keeps its bounds.
#![no_main]

use ledger::Entry;
use ledger::entry::{ENTRY_VERSION, MAX_ENTRY_BYTES, MAX_TEXT_BYTES};
use ledger::merkle::leaf_hash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = Entry::decode(data) else {
        return;
    };
    let encoded = entry.encode();
    assert_eq!(
        encoded, data,
        "decode then encode gives back the same bytes"
    );
    assert!(encoded.len() <= MAX_ENTRY_BYTES);
    assert_eq!(Entry::decode(&encoded).as_ref(), Ok(&entry));
    assert_eq!(entry.version(), ENTRY_VERSION);
    assert_eq!(entry.kind.code(), data[1]);
    assert_eq!(
        entry.leaf_hash(),
        leaf_hash(data),
        "the leaf hash is of these bytes"
    );
    assert_eq!(Entry::new(entry.time_unix_ms, entry.kind.clone()), entry);
    if let Some(person) = entry.kind.person() {
        assert!(!person.as_str().is_empty() && person.as_str().len() <= MAX_TEXT_BYTES);
    }
    assert!(!entry.kind.name().is_empty());
});
