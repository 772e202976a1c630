//! C2SP signed notes: `note::open` on untrusted note text, and
//! `NoteVerifier::from_vkey` on untrusted verifier keys.
//!
//! Beyond "no panic": an opened note's text is a prefix of the note that ends
//! in a newline and is followed by the blank line; a verifier key that parses
//! is canonical (writing it back gives the same string) and names a valid key.
//! The first line of the input is tried as a verifier key; the whole input is
//! opened with the test key and, if that line parsed, with it too.
#![no_main]

use ledger::note::{MAX_NOTE_BYTES, is_valid_key_name};
use ledger::{NoteVerifier, open};
use libfuzzer_sys::fuzz_target;

/// The test key of `golang.org/x/mod/sumdb/note` (its test vectors are seeds).
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let peter = NoteVerifier::from_vkey(PETER_VKEY).expect("the test vector key parses");
    check_open(text, &peter);

    let first_line = text.split('\n').next().unwrap_or_default();
    if let Ok(verifier) = NoteVerifier::from_vkey(first_line) {
        assert_eq!(verifier.vkey(), first_line, "a parsed vkey is canonical");
        assert!(is_valid_key_name(verifier.name()));
        assert_eq!(
            NoteVerifier::from_vkey(&verifier.vkey()),
            Ok(verifier.clone())
        );
        check_open(text, &verifier);
    }
});

fn check_open(note: &str, verifier: &NoteVerifier) {
    if let Ok(body) = open(note, verifier) {
        assert!(note.len() <= MAX_NOTE_BYTES);
        assert!(note.starts_with(body), "the text is the note's beginning");
        assert!(body.ends_with('\n'));
        assert!(
            note[body.len()..].starts_with('\n'),
            "a blank line follows the text"
        );
        assert!(note.ends_with('\n'));
    }
}
