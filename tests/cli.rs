//! The command line as an operator or a certification lab uses it: start-up refuses bad config
//! naming the key, `rng-dump` writes the generator's output, `rtp` prints a PAR sheet.

use std::process::Command;

fn croupier(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_croupier"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn invalid_config_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
            .unwrap();
    let cases = [
        ("[session]\n", "[session]\nmax_frame = 1\n", "max_frame"),
        (
            "rate_per_second = 50",
            "rate_per_second = 0",
            "session.rate_per_second",
        ),
        (
            "demo_balance = \"1000.00\"",
            "demo_balance = \"-5\"",
            "auth.demo_balance",
        ),
        (
            "batch_max = 256",
            "batch_max = \"lots\"",
            "ledger.batch_max",
        ),
        ("EUR = 2", "EUR = 12", "currencies.EUR"),
    ];
    for (from, to, key) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, shipped.replacen(from, to, 1)).unwrap();
        let out = croupier(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            path.to_str().unwrap(),
        ]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(key), "expected {key} in: {stderr}");
    }
    let out = croupier(&["serve", "--config", "/nonexistent.toml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.toml"));
}

#[test]
fn rng_dump_writes_raw_bytes_and_sampled_values() {
    let out = croupier(&["rng-dump", "--bytes", "100003"]);
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 100_003);
    let ones: u32 = out.stdout.iter().map(|b| b.count_ones()).sum();
    let bits = 100_003 * 8;
    // Binomial(800024, 1/2): sd ≈ 447; 6 sd is a bound a working generator never crosses.
    assert!(
        (ones as i64 - bits as i64 / 2).abs() < 2_700,
        "ones {ones} of {bits}"
    );

    let out = croupier(&["rng-dump", "--range", "37", "--count", "37000"]);
    assert!(out.status.success());
    let mut counts = [0u32; 37];
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        counts[line.parse::<usize>().unwrap()] += 1;
    }
    assert_eq!(counts.iter().sum::<u32>(), 37_000);
    assert!(counts.iter().all(|&c| c > 800 && c < 1200), "{counts:?}");
    assert!(!croupier(&["rng-dump", "--range", "0"]).status.success());
}

#[test]
fn rtp_prints_a_par_sheet() {
    let out = croupier(&["rtp", "config/games/classic_sevens.toml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("rtp") && text.contains("hit"), "{text}");
}
