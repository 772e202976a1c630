//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/`:
//! valid inputs from the crates' docs and tests, plus edge cases next to each
//! limit. Run it from anywhere with
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds`; the fuzzer's
//! own finds are kept out of the committed corpus unless added by hand.

use std::fs;
use std::path::{Path, PathBuf};

use ledger::{
    Checkpoint, Currency, Entry, EntryKind, Money, NameList, NoteSigner, ShortText, sign_checkpoint,
};

const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    authorization_details(&corpus.join("authorization_details"));
    rule(&corpus.join("rule"));
    checkpoint(&corpus.join("checkpoint"));
    note(&corpus.join("note"));
    entry(&corpus.join("entry"));
}

fn write_all(dir: &PathBuf, seeds: &[(&str, Vec<u8>)]) {
    fs::create_dir_all(dir).expect("create the corpus directory");
    for (name, bytes) in seeds {
        fs::write(dir.join(name), bytes).expect("write a seed");
    }
    println!("{}: {} seeds", dir.display(), seeds.len());
}

fn request(attributes: &str, purpose: &str, duration: &str, offer: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"apiome_data","attributes":{attributes},"purpose":"{purpose}","duration":"{duration}"{offer}}}"#
    )
    .into_bytes()
}

fn authorization_details(dir: &PathBuf) {
    let usd = r#","offer":{"amount_micros":50000,"currency":"USD"}"#;
    let many: Vec<String> = (0..64).map(|i| format!("\"x-k{i}\"")).collect();
    let too_many: Vec<String> = (0..65).map(|i| format!("\"x-k{i}\"")).collect();
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("doc_example", request(r#"["email"]"#, "marketing", "P30D", usd)),
        ("no_offer", request(r#"["email","phone"]"#, "analytics", "P1Y", "")),
        ("null_offer", request(r#"["interests"]"#, "research", "P2W", r#","offer":null"#)),
        (
            "catalogue",
            request(
                r#"["birth_date","display_name","email","gender","household_size","interests","language","location_city","occupation","phone","postal_address","purchase_history"]"#,
                "service_provision",
                "P1Y2M10DT2H30M",
                "",
            ),
        ),
        ("custom_key", request(r#"["x-shoe-size"]"#, "personalisation", "PT12H", "")),
        ("max_attributes", request(&format!("[{}]", many.join(",")), "marketing", "P30D", "")),
        ("too_many_attributes", request(&format!("[{}]", too_many.join(",")), "marketing", "P30D", "")),
        ("empty_attributes", request("[]", "marketing", "P30D", "")),
        ("duplicate_attribute", request(r#"["email","email"]"#, "marketing", "P30D", "")),
        ("unknown_attribute", request(r#"["ssn"]"#, "marketing", "P30D", "")),
        ("bad_custom_key", request(r#"["x-"]"#, "marketing", "P30D", "")),
        ("resale", request(r#"["email"]"#, "resale", "P30D", "")),
        ("unknown_purpose", request(r#"["email"]"#, "spying", "P30D", "")),
        ("ten_years", request(r#"["email"]"#, "fraud_prevention", "P10Y", "")),
        ("ten_years_one_second", request(r#"["email"]"#, "legal_obligation", "P10YT1S", "")),
        ("over_ten_years", request(r#"["email"]"#, "marketing", "P3651D", "")),
        ("huge_duration", request(r#"["email"]"#, "marketing", "P99999999999999999999999D", "")),
        ("zero_duration", request(r#"["email"]"#, "marketing", "PT0S", "")),
        ("fraction_duration", request(r#"["email"]"#, "marketing", "P1.5D", "")),
        ("lowercase_duration", request(r#"["email"]"#, "marketing", "p30d", "")),
        ("weeks_and_days", request(r#"["email"]"#, "marketing", "P1W1D", "")),
        ("one_second", request(r#"["email"]"#, "marketing", "PT1S", "")),
        ("thirty_days_one_second", request(r#"["email"]"#, "marketing", "P30DT1S", "")),
        ("negative_offer", request(r#"["email"]"#, "marketing", "P30D", r#","offer":{"amount_micros":-1,"currency":"USD"}"#)),
        ("max_offer", request(r#"["email"]"#, "marketing", "P30D", r#","offer":{"amount_micros":18446744073709551615,"currency":"EUR"}"#)),
        ("overflow_offer", request(r#"["email"]"#, "marketing", "P30D", r#","offer":{"amount_micros":18446744073709551616,"currency":"USD"}"#)),
        ("huge_offer", request(r#"["email"]"#, "marketing", "P30D", r#","offer":{"amount_micros":1e400,"currency":"USD"}"#)),
        ("float_offer", request(r#"["email"]"#, "marketing", "P30D", r#","offer":{"amount_micros":1.5,"currency":"USD"}"#)),
        ("exponent_offer", request(r#"["email"]"#, "marketing", "P30D", r#","offer":{"amount_micros":5e4,"currency":"JPY"}"#)),
        ("string_offer", request(r#"["email"]"#, "marketing", "P30D", r#","offer":{"amount_micros":"50000","currency":"USD"}"#)),
        ("unknown_currency", request(r#"["email"]"#, "marketing", "P30D", r#","offer":{"amount_micros":1,"currency":"usd"}"#)),
        ("offer_extra_field", request(r#"["email"]"#, "marketing", "P30D", r#","offer":{"amount_micros":1,"currency":"USD","note":1}"#)),
        ("unknown_field", request(r#"["email"]"#, "marketing", "P30D", r#","extra":true"#)),
        ("wrong_type", br#"{"type":"openid_credential","attributes":["email"]}"#.to_vec()),
        ("type_number", br#"{"type":1,"attributes":["email"],"purpose":"marketing","duration":"P30D"}"#.to_vec()),
        ("no_type", br#"{"attributes":["email"],"purpose":"marketing","duration":"P30D"}"#.to_vec()),
        ("duplicate_key", br#"{"type":"apiome_data","type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P30D"}"#.to_vec()),
        ("array", br#"[{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P30D"}]"#.to_vec()),
        ("unicode_escape", br#"{"type":"apiome_d\u0061ta","attributes":["em\u0061il"],"purpose":"marketing","duration":"P30D"}"#.to_vec()),
        ("empty_object", b"{}".to_vec()),
        ("null", b"null".to_vec()),
        ("deep", format!("{}{}", "[".repeat(200), "]".repeat(200)).into_bytes()),
    ];
    write_all(dir, &seeds);
}

fn rule(dir: &PathBuf) {
    let keys: Vec<String> = (0..64).map(|i| format!("\"x-k{i}\"")).collect();
    let too_many: Vec<String> = (0..65).map(|i| format!("\"x-k{i}\"")).collect();
    let r = |company: &str, purposes: &str, attributes: &str, extra: &str, effect: &str| {
        format!(
            r#"{{"company":{company},"purposes":{purposes},"attributes":{attributes}{extra},"effect":"{effect}"}}"#
        )
        .into_bytes()
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "doc_example",
            br#"{"company": {"only": "acme"}, "purposes": ["marketing"], "attributes": {"keys": ["interests"]}, "min_offer": {"amount_micros": 50000, "currency": "USD"}, "max_duration": "P30D", "effect": "allow"}"#.to_vec(),
        ),
        ("any_any_any", r(r#""any""#, r#""any""#, r#""any""#, "", "ask")),
        ("deny", r(r#""any""#, r#"["resale"]"#, r#""any""#, "", "deny")),
        ("bucket_public", r(r#""any""#, r#"["analytics","research"]"#, r#"{"bucket":"public"}"#, "", "allow")),
        ("bucket_semi", r(r#""any""#, r#""any""#, r#"{"bucket":"semi_private"}"#, "", "ask")),
        ("bucket_private", r(r#""any""#, r#""any""#, r#"{"bucket":"private"}"#, "", "deny")),
        ("bucket_unknown", r(r#""any""#, r#""any""#, r#"{"bucket":"secret"}"#, "", "deny")),
        (
            "all_purposes",
            r(r#""any""#, r#"["service_provision","personalisation","marketing","analytics","research","fraud_prevention","legal_obligation","resale"]"#, r#""any""#, "", "allow"),
        ),
        ("duplicate_purposes", r(r#""any""#, r#"["marketing","marketing"]"#, r#""any""#, "", "allow")),
        ("nine_purposes", r(r#""any""#, r#"["service_provision","personalisation","marketing","analytics","research","fraud_prevention","legal_obligation","resale","marketing"]"#, r#""any""#, "", "allow")),
        ("empty_purposes", r(r#""any""#, "[]", r#""any""#, "", "allow")),
        ("unknown_purpose", r(r#""any""#, r#"["spying"]"#, r#""any""#, "", "allow")),
        ("purposes_object", r(r#""any""#, r#"{"any":1}"#, r#""any""#, "", "allow")),
        ("max_keys", r(r#""any""#, r#""any""#, &format!(r#"{{"keys":[{}]}}"#, keys.join(",")), "", "allow")),
        ("too_many_keys", r(r#""any""#, r#""any""#, &format!(r#"{{"keys":[{}]}}"#, too_many.join(",")), "", "allow")),
        ("empty_keys", r(r#""any""#, r#""any""#, r#"{"keys":[]}"#, "", "allow")),
        ("duplicate_keys", r(r#""any""#, r#""any""#, r#"{"keys":["email","email"]}"#, "", "allow")),
        ("unknown_key", r(r#""any""#, r#""any""#, r#"{"keys":["ssn"]}"#, "", "allow")),
        ("two_attribute_variants", r(r#""any""#, r#""any""#, r#"{"keys":["email"],"bucket":"public"}"#, "", "allow")),
        ("company_empty", r(r#"{"only":""}"#, r#""any""#, r#""any""#, "", "allow")),
        ("company_space", r(r#"{"only":"ac me"}"#, r#""any""#, r#""any""#, "", "allow")),
        ("company_long", r(&format!(r#"{{"only":"{}"}}"#, "a".repeat(129)), r#""any""#, r#""any""#, "", "allow")),
        ("company_max", r(&format!(r#"{{"only":"{}"}}"#, "a".repeat(128)), r#""any""#, r#""any""#, "", "allow")),
        ("company_unicode", r(r#"{"only":"acmé"}"#, r#""any""#, r#""any""#, "", "allow")),
        ("min_offer_max", r(r#""any""#, r#""any""#, r#""any""#, r#","min_offer":{"amount_micros":18446744073709551615,"currency":"JPY"}"#, "allow")),
        ("min_offer_negative", r(r#""any""#, r#""any""#, r#""any""#, r#","min_offer":{"amount_micros":-1,"currency":"USD"}"#, "allow")),
        ("min_offer_bad_currency", r(r#""any""#, r#""any""#, r#""any""#, r#","min_offer":{"amount_micros":1,"currency":"XXX"}"#, "allow")),
        ("min_offer_null", r(r#""any""#, r#""any""#, r#""any""#, r#","min_offer":null,"max_duration":null"#, "allow")),
        ("max_duration_long", r(r#""any""#, r#""any""#, r#""any""#, r#","max_duration":"P11Y""#, "allow")),
        ("max_duration_zero", r(r#""any""#, r#""any""#, r#""any""#, r#","max_duration":"P0D""#, "allow")),
        ("max_duration_weeks", r(r#""any""#, r#""any""#, r#""any""#, r#","max_duration":"P52W""#, "allow")),
        ("unknown_field", r(r#""any""#, r#""any""#, r#""any""#, r#","priority":1"#, "allow")),
        ("unknown_effect", r(r#""any""#, r#""any""#, r#""any""#, "", "maybe")),
        ("missing_effect", br#"{"company":"any","purposes":"any","attributes":"any"}"#.to_vec()),
        ("array", br#"[{"company":"any","purposes":"any","attributes":"any","effect":"allow"}]"#.to_vec()),
        ("null", b"null".to_vec()),
        ("deep", format!("{}{}", "{\"a\":".repeat(200), "}".repeat(200)).into_bytes()),
    ];
    write_all(dir, &seeds);
}

fn checkpoint(dir: &PathBuf) {
    let signer = NoteSigner::from_skey(PETER_SKEY).expect("test key");
    let c2sp = format!("example.com/behind-the-sofa\n20852163\n{ROOT}\n");
    let ext = format!("apiome.example/ledger\n0\n{ROOT}\nTimestamp: 1\nfoo bar\n");
    let sixteen: String = (0..16).map(|i| format!("ext {i}\n")).collect();
    let seventeen: String = (0..17).map(|i| format!("ext {i}\n")).collect();
    let signed = |body: &str| {
        sign_checkpoint(
            &Checkpoint::parse_body(body).expect("a valid seed body"),
            &signer,
        )
    };
    let max = format!("o\n18446744073709551615\n{ROOT}\n");
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("c2sp_example", c2sp.clone().into_bytes()),
        ("extensions", ext.clone().into_bytes()),
        (
            "sixteen_extensions",
            format!("o\n1\n{ROOT}\n{sixteen}").into_bytes(),
        ),
        (
            "seventeen_extensions",
            format!("o\n1\n{ROOT}\n{seventeen}").into_bytes(),
        ),
        (
            "long_extension",
            format!("o\n1\n{ROOT}\n{}\n", "e".repeat(1024)).into_bytes(),
        ),
        (
            "too_long_extension",
            format!("o\n1\n{ROOT}\n{}\n", "e".repeat(1025)).into_bytes(),
        ),
        ("empty_extension", format!("o\n1\n{ROOT}\n\n").into_bytes()),
        (
            "control_extension",
            format!("o\n1\n{ROOT}\na\tb\n").into_bytes(),
        ),
        ("max_size", max.clone().into_bytes()),
        (
            "overflow_size",
            format!("o\n18446744073709551616\n{ROOT}\n").into_bytes(),
        ),
        ("leading_zero", format!("o\n01\n{ROOT}\n").into_bytes()),
        ("signed_size", format!("o\n+1\n{ROOT}\n").into_bytes()),
        ("zero_size", format!("o\n0\n{ROOT}\n").into_bytes()),
        ("short_root", "o\n1\nAAAA\n".as_bytes().to_vec()),
        (
            "unpadded_root",
            format!("o\n1\n{}\n", ROOT.trim_end_matches('=')).into_bytes(),
        ),
        (
            "urlsafe_root",
            "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n"
                .as_bytes()
                .to_vec(),
        ),
        ("no_final_newline", format!("o\n1\n{ROOT}").into_bytes()),
        ("crlf", format!("o\r\n1\r\n{ROOT}\r\n").into_bytes()),
        ("two_lines", b"o\n1\n".to_vec()),
        ("origin_plus", format!("a+b\n1\n{ROOT}\n").into_bytes()),
        ("origin_space", format!("a b\n1\n{ROOT}\n").into_bytes()),
        (
            "origin_long",
            format!("{}\n1\n{ROOT}\n", "o".repeat(257)).into_bytes(),
        ),
        (
            "origin_unicode",
            format!("ledger.例え\n1\n{ROOT}\n").into_bytes(),
        ),
        ("empty", Vec::new()),
        ("signed_c2sp", signed(&c2sp).into_bytes()),
        ("signed_extensions", signed(&ext).into_bytes()),
        ("signed_max_size", signed(&max).into_bytes()),
        (
            "signed_two_keys",
            format!("{}{ENOCH_SIG}", signed(&c2sp)).into_bytes(),
        ),
        (
            "signed_by_other",
            format!("{c2sp}\n{ENOCH_SIG}").into_bytes(),
        ),
        (
            "signed_text_not_checkpoint",
            format!("{TEXT}\n{PETER_SIG}").into_bytes(),
        ),
        (
            "signature_wrong_text",
            format!("{c2sp}\n{PETER_SIG}").into_bytes(),
        ),
    ];
    write_all(dir, &seeds);
}

fn note(dir: &PathBuf) {
    let peter = format!("{TEXT}\n{PETER_SIG}");
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let many_sigs: String = (0..101)
        .map(|i| format!("— k{i} AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"))
        .collect();
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("peter", peter.clone().into_bytes()),
        ("peter_and_enoch", both.clone().into_bytes()),
        (
            "enoch_and_peter",
            format!("{TEXT}\n{ENOCH_SIG}{PETER_SIG}").into_bytes(),
        ),
        ("enoch_only", format!("{TEXT}\n{ENOCH_SIG}").into_bytes()),
        (
            "peter_twice",
            format!("{TEXT}\n{PETER_SIG}{PETER_SIG}").into_bytes(),
        ),
        (
            "vkey_line_then_note",
            format!("{PETER_VKEY}\n{peter}").into_bytes(),
        ),
        (
            "enoch_vkey_then_note",
            format!("{ENOCH_VKEY}\n{both}").into_bytes(),
        ),
        ("vkey_peter", PETER_VKEY.as_bytes().to_vec()),
        ("vkey_enoch", ENOCH_VKEY.as_bytes().to_vec()),
        (
            "vkey_upper_hex",
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
                .as_bytes()
                .to_vec(),
        ),
        (
            "vkey_wrong_id",
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
                .as_bytes()
                .to_vec(),
        ),
        (
            "vkey_wrong_type",
            "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
                .as_bytes()
                .to_vec(),
        ),
        (
            "vkey_short",
            "PeterNeumann+c74f20a3+ARpc".as_bytes().to_vec(),
        ),
        (
            "vkey_unpadded",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T"
                .as_bytes()
                .to_vec(),
        ),
        (
            "vkey_empty_name",
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
                .as_bytes()
                .to_vec(),
        ),
        (
            "vkey_extra_plus",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW+x"
                .as_bytes()
                .to_vec(),
        ),
        ("skey_as_vkey", PETER_SKEY.as_bytes().to_vec()),
        (
            "bad_signature",
            peter.replace("x08go", "x08gp").into_bytes(),
        ),
        (
            "short_signature",
            format!("{TEXT}\n— PeterNeumann x08g\n").into_bytes(),
        ),
        (
            "bad_base64",
            format!("{TEXT}\n— PeterNeumann x08go!\n").into_bytes(),
        ),
        ("hyphen_not_em_dash", peter.replace('—', "-").into_bytes()),
        ("no_space", peter.replace("— ", "—").into_bytes()),
        ("no_signatures", format!("{TEXT}\n").into_bytes()),
        ("no_blank_line", format!("{TEXT}{PETER_SIG}").into_bytes()),
        (
            "no_final_newline",
            peter.trim_end_matches('\n').as_bytes().to_vec(),
        ),
        (
            "control_char",
            peter.replacen("you", "y\u{7}u", 1).into_bytes(),
        ),
        ("tab", peter.replacen(' ', "\t", 1).into_bytes()),
        ("crlf", peter.replace('\n', "\r\n").into_bytes()),
        (
            "blank_lines_in_text",
            format!("a\n\nb\n\n{PETER_SIG}").into_bytes(),
        ),
        ("empty_text", format!("\n{PETER_SIG}").into_bytes()),
        ("only_newlines", b"\n\n\n".to_vec()),
        (
            "too_many_signatures",
            format!("{TEXT}\n{many_sigs}").into_bytes(),
        ),
        ("empty", Vec::new()),
    ];
    write_all(dir, &seeds);
}

fn text(s: &str) -> ShortText {
    ShortText::new(s).expect("a valid seed text")
}

fn names(list: &[&str]) -> NameList {
    NameList::from_strs(list).expect("a valid seed list")
}

fn entry(dir: &PathBuf) {
    let usd = Money::new(50_000, Currency::new("USD").expect("USD"));
    let long = "x".repeat(256);
    let max_names: Vec<String> = (0..64).map(|i| format!("x-k{i}")).collect();
    let t = 1_767_225_600_000;
    let kinds = [
        (
            "request_made",
            EntryKind::RequestMade {
                request_id: text("req_1"),
                company_id: text("acme"),
                person: text("p_7f3a"),
                attributes: names(&["email", "interests"]),
                purpose: text("marketing"),
                duration_secs: 2_592_000,
                offer: Some(usd),
            },
        ),
        (
            "request_made_no_offer",
            EntryKind::RequestMade {
                request_id: text("req_2"),
                company_id: text("acme"),
                person: text("p_7f3a"),
                attributes: names(&[]),
                purpose: text("analytics"),
                duration_secs: u64::MAX,
                offer: None,
            },
        ),
        (
            "request_decided",
            EntryKind::RequestDecided {
                request_id: text("req_1"),
                company_id: text("acme"),
                person: text("p_7f3a"),
                allowed: names(&["email"]),
                asked: names(&["interests"]),
                withheld: names(&["phone"]),
            },
        ),
        (
            "request_decided_max_names",
            EntryKind::RequestDecided {
                request_id: text(&long),
                company_id: text(&long),
                person: text(&long),
                allowed: NameList::from_strs(&max_names).expect("64 names"),
                asked: names(&[]),
                withheld: names(&[]),
            },
        ),
        (
            "grant_created",
            EntryKind::GrantCreated {
                grant_id: text("grant_1"),
                request_id: text("req_1"),
                company_id: text("acme"),
                person: text("p_7f3a"),
                attributes: names(&["email"]),
                purpose: text("marketing"),
                duration_secs: 2_592_000,
                price: Some(Money::new(u64::MAX, Currency::new("ZZZ").expect("ZZZ"))),
            },
        ),
        (
            "grant_revoked",
            EntryKind::GrantRevoked {
                grant_id: text("grant_1"),
                company_id: text("acme"),
                person: text("p_7f3a"),
            },
        ),
        (
            "grant_expired",
            EntryKind::GrantExpired {
                grant_id: text("grant_1"),
                company_id: text("acme"),
                person: text("p_7f3a"),
            },
        ),
        (
            "disclosure",
            EntryKind::Disclosure {
                grant_id: text("grant_1"),
                company_id: text("acme"),
                person: text("p_7f3a"),
                attributes: names(&["email", "x-shoe-size"]),
                withheld: names(&[]),
            },
        ),
        (
            "disclosure_withheld",
            EntryKind::Disclosure {
                grant_id: text("grant_1"),
                company_id: text("acme"),
                person: text("p_7f3a"),
                attributes: names(&["email"]),
                withheld: names(&["location_city"]),
            },
        ),
        (
            "transfer_pending",
            EntryKind::TransferPending {
                transfer_id: text("tr_1"),
                company_id: text("acme"),
                person: text("p_7f3a"),
                amount: usd,
            },
        ),
        (
            "transfer_posted",
            EntryKind::TransferPosted {
                transfer_id: text("tr_1"),
            },
        ),
        (
            "transfer_voided",
            EntryKind::TransferVoided {
                transfer_id: text("é"),
            },
        ),
        (
            "company_blocked",
            EntryKind::CompanyBlocked {
                company_id: text("acme"),
                person: text("p_7f3a"),
            },
        ),
        (
            "company_unblocked",
            EntryKind::CompanyUnblocked {
                company_id: text("acme"),
                person: text("p_7f3a"),
            },
        ),
        (
            "wallet_funded",
            EntryKind::WalletFunded {
                transfer_id: text("tr_2"),
                company_id: text("acme"),
                amount: Money::new(0, Currency::new("AAA").expect("AAA")),
            },
        ),
    ];
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, kind) in kinds {
        seeds.push((name.to_owned(), Entry::new(t, kind).encode()));
    }
    let posted = Entry::new(
        i64::MIN,
        EntryKind::TransferPosted {
            transfer_id: text("t"),
        },
    )
    .encode();
    let mut edge = |name: &str, bytes: Vec<u8>| seeds.push((name.to_owned(), bytes));
    edge("time_min", posted.clone());
    let mut trailing = posted.clone();
    trailing.push(0);
    edge("trailing_byte", trailing);
    edge("truncated", posted[..posted.len() - 1].to_vec());
    let mut v0 = posted.clone();
    v0[0] = 0;
    edge("version_0", v0);
    let mut kind_0d = posted.clone();
    kind_0d[1] = 0x0d;
    edge("unknown_kind", kind_0d);
    edge("empty_text", [&posted[..10], &[0, 0]].concat());
    edge(
        "text_257",
        [&posted[..10], &[1, 1], "x".repeat(257).as_bytes()].concat(),
    );
    edge("bad_utf8", [&posted[..10], &[0, 2, 0xc3, 0x28]].concat());
    let mut opt_tag = Entry::new(
        t,
        EntryKind::RequestMade {
            request_id: text("r"),
            company_id: text("c"),
            person: text("p"),
            attributes: names(&[]),
            purpose: text("m"),
            duration_secs: 1,
            offer: None,
        },
    )
    .encode();
    *opt_tag.last_mut().expect("non-empty") = 2;
    edge("option_tag_2", opt_tag);
    let mut lower = Entry::new(
        t,
        EntryKind::WalletFunded {
            transfer_id: text("t"),
            company_id: text("c"),
            amount: usd,
        },
    )
    .encode();
    let n = lower.len();
    lower[n - 1] = b'd';
    edge("lowercase_currency", lower);
    edge(
        "names_65",
        [
            &[1u8, 2][..],
            &[0; 8],
            &[0, 1, b'r', 0, 1, b'c', 0, 1, b'p', 0, 65],
        ]
        .concat(),
    );
    edge("only_version", vec![1]);
    edge("empty", Vec::new());
    let seeds: Vec<(&str, Vec<u8>)> = seeds.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    write_all(dir, &seeds);
}
