//! C2SP checkpoints: `Checkpoint::parse_body` on note text, and
//! `open_checkpoint` on a whole signed note.
//!
//! Beyond "no panic": a parsed body is canonical (it re-serialises to exactly
//! the input), its fields keep their bounds, signing it and opening the note
//! gives it back, and `open_checkpoint` accepts a note only when `note::open`
//! does and returns the checkpoint of the signed text.
#![no_main]

use ledger::checkpoint::{MAX_EXTENSION_BYTES, MAX_EXTENSIONS, MAX_ORIGIN_BYTES};
use ledger::note::is_valid_key_name;
use ledger::{Checkpoint, NoteSigner, open, open_checkpoint, sign_checkpoint};
use libfuzzer_sys::fuzz_target;

/// The test key of `golang.org/x/mod/sumdb/note` (its test vectors are seeds).
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let signer = NoteSigner::from_skey(PETER_SKEY).expect("the test vector key parses");
    let verifier = signer.verifier();

    // The input as a checkpoint body.
    if let Ok(checkpoint) = Checkpoint::parse_body(text) {
        assert_eq!(checkpoint.to_body(), text, "a parsed body is canonical");
        assert!(checkpoint.origin().len() <= MAX_ORIGIN_BYTES);
        assert!(is_valid_key_name(checkpoint.origin()));
        assert!(checkpoint.extensions().len() <= MAX_EXTENSIONS);
        for line in checkpoint.extensions() {
            assert!(!line.is_empty() && line.len() <= MAX_EXTENSION_BYTES);
            assert!(!line.chars().any(char::is_control));
        }
        let note = sign_checkpoint(&checkpoint, &signer);
        assert_eq!(open_checkpoint(&note, &verifier).as_ref(), Ok(&checkpoint));
    }

    // The input as a signed checkpoint note.
    let opened = open_checkpoint(text, &verifier);
    match open(text, &verifier) {
        Ok(body) => {
            assert_eq!(opened, Checkpoint::parse_body(body));
        }
        Err(e) => assert_eq!(opened, Err(e.into())),
    }
});
