//! The operators file: what it accepts, and every refusal naming its key.

use super::*;

fn currencies() -> CurrencyTable {
    toml::from_str("EUR = 2\nGBP = 2\nJPY = 0").unwrap()
}

fn hash(key: &str) -> String {
    KeyHash::of(key).to_string()
}

fn file(lines: &str) -> String {
    format!(
        "[[operator]]\nid = \"house\"\ncurrencies = [\"EUR\"]\nwallet = \"transfer\"\n\
         jurisdiction = \"default\"\nkey_hashes = [\"{}\"]\n{lines}",
        hash("crk_house")
    )
}

fn refusal(text: &str) -> OperatorsError {
    Operators::parse(text, &currencies(), &Profiles::default()).unwrap_err()
}

#[test]
fn an_empty_file_or_path_is_no_operators() {
    assert!(Operators::parse("", &currencies(), &Profiles::default())
        .unwrap()
        .is_empty());
    assert!(
        Operators::load(Path::new(""), &currencies(), &Profiles::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn keys_find_their_operator_and_no_other() {
    let text = format!(
        "{}\n[[operator]]\nid = \"rival\"\ncurrencies = [\"GBP\", \"EUR\"]\nwallet = \"transfer\"\n\
         jurisdiction = \"default\"\nkey_hashes = [\"{}\", \"{}\"]\nrequests_per_second = 5\n",
        file(""),
        hash("crk_rival_old"),
        hash("crk_rival_new")
    );
    let ops = Operators::parse(&text, &currencies(), &Profiles::default()).unwrap();
    assert_eq!(ops.authenticate("crk_house").unwrap().id.as_str(), "house");
    // Both keys of a rotation open the same operator.
    for key in ["crk_rival_old", "crk_rival_new"] {
        assert_eq!(ops.authenticate(key).unwrap().id.as_str(), "rival");
    }
    for key in [
        "",
        "crk_house ",
        "crk_hous",
        "sha256:whatever",
        &hash("crk_house"),
    ] {
        assert!(ops.authenticate(key).is_none(), "{key}");
    }
    let rival = ops.get("rival").unwrap();
    assert_eq!(rival.requests_per_second, 5);
    assert!(rival.currency("GBP").is_some() && rival.currency("JPY").is_none());
    assert_eq!(ops.get("house").unwrap().requests_per_second, 200);
}

#[test]
fn every_mistake_names_its_key() {
    let cases: Vec<(String, &str)> = vec![
        (file("").replace("\"house\"", "\"House\""), "operator[0].id"),
        (
            file("").replace("[\"EUR\"]", "[]"),
            "operator[0].currencies",
        ),
        (
            file("").replace("[\"EUR\"]", "[\"XXX\"]"),
            "operator[0].currencies[0]",
        ),
        (
            file("").replace("[\"EUR\"]", "[\"EUR\", \"EUR\"]"),
            "operator[0].currencies[1]",
        ),
        (
            file("").replace("\"transfer\"", "\"seamless\""),
            "operator[0].wallet",
        ),
        (
            file("").replace("\"transfer\"", "\"cash\""),
            "operator[0].wallet",
        ),
        (
            file("").replace("\"default\"", "\"mars\""),
            "operator[0].jurisdiction",
        ),
        (
            file("").replace(&hash("crk_house"), "sha256:00"),
            "operator[0].key_hashes[0]",
        ),
        (
            file("").replace(
                &format!("[\"{}\"]", hash("crk_house")),
                &format!("[\"{0}\", \"{0}\"]", hash("crk_house")),
            ),
            "operator[0].key_hashes[1]",
        ),
        (
            file("").replace(
                &format!("[\"{}\"]", hash("crk_house")),
                &format!("[\"{}\", \"{}\", \"{}\"]", hash("a"), hash("b"), hash("c")),
            ),
            "operator[0].key_hashes",
        ),
        (
            file("").replace(&format!("[\"{}\"]", hash("crk_house")), "[]"),
            "operator[0].key_hashes",
        ),
        (
            file("requests_per_second = 0"),
            "operator[0].requests_per_second",
        ),
        (file("colour = \"red\""), "operator[0]"),
        (format!("{}\n{}", file(""), file("")), "operator[1].id"),
    ];
    for (text, key) in cases {
        let e = refusal(&text);
        assert!(e.key.starts_with(key), "{key}: got {e}");
        assert!(!e.message.is_empty());
    }
}

#[test]
fn one_key_cannot_belong_to_two_operators() {
    let second = file("").replace("\"house\"", "\"rival\"");
    let e = refusal(&format!("{}\n{second}", file("")));
    assert_eq!(e.key, "operator[1].key_hashes[0]", "{e}");
}
