//! The command line as an operator or a certification lab uses it: start-up refuses bad config
//! naming the key, `rng-dump` writes the generator's output (raw, scaled, shuffles), the RNG
//! report's quick run passes its batteries, `rtp` prints a PAR sheet per RTP variant.

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
    // One PAR sheet per RTP variant, each checked against the RTP the game states.
    let text = String::from_utf8_lossy(&out.stdout);
    for heading in [
        "PAR sheet: Classic Sevens (classic_sevens, RTP variant 96)",
        "PAR sheet: Classic Sevens (classic_sevens_94, RTP variant 94)",
    ] {
        assert!(text.contains(heading), "{heading} missing from:\n{text}");
    }
    assert_eq!(
        text.matches("(the exact RTP, rounded)").count(),
        2,
        "{text}"
    );
    // A game stating an RTP its strips do not make: the sheet says so and the command fails.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.toml");
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/games/classic_sevens.toml"
    ))
    .unwrap();
    std::fs::write(
        &path,
        shipped.replacen(r#"rtp = "0.9409""#, r#"rtp = "0.9400""#, 1),
    )
    .unwrap();
    let out = croupier(&["rtp", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("DIFFERS from the exact RTP"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("classic_sevens_94"));
}

#[test]
fn rng_dump_writes_shoe_shuffles_and_refuses_bad_sizes() {
    let out = croupier(&["rng-dump", "--shuffle", "416", "--count", "3"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    for line in lines {
        let mut items: Vec<u32> = line.split(' ').map(|v| v.parse().unwrap()).collect();
        items.sort_unstable();
        assert_eq!(
            items,
            (0..416).collect::<Vec<u32>>(),
            "a permutation of the shoe"
        );
    }
    for bad in ["0", "1", "10001", "-3", "many"] {
        let out = croupier(&["rng-dump", "--shuffle", bad, "--count", "1"]);
        assert!(!out.status.success(), "--shuffle {bad} accepted");
        assert!(out.stdout.is_empty(), "--shuffle {bad} wrote output");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--shuffle") || err.contains(bad),
            "{bad}: {err}"
        );
    }
}

/// The certification pack's quick run (seconds): dieharder on the raw stream, SciPy's tests on
/// every scaled range the games use and on the shoe's shuffle; nothing FAILED, and the report
/// names every subject. The long run is `scripts/rng-report.sh` (docs/rng-report.md).
#[test]
fn the_rng_reports_quick_run_passes_every_battery() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rng-report.md");
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/rng-report.sh"
    ))
    .args(["--quick", "--out", report.to_str().unwrap()])
    .env("CROUPIER_BIN", env!("CARGO_BIN_EXE_croupier"))
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    assert!(
        out.status.success(),
        "rng-report exited {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}\nreport:\n{text}",
        out.status.code()
    );
    for subject in [
        "| range 0..37 | chi-square |",
        "| range 0..32 | serial correlation (lag 1) |",
        "| range 0..24 | runs above/below the mean |",
        "| shuffle of 416 | positions (8 bands, every item) |",
        "| diehard_birthdays |",
        "| sts_monobit |",
        "| rgb_permutations |",
    ] {
        assert!(text.contains(subject), "{subject} missing from:\n{text}");
    }
    assert!(text.contains(" 0 FAILED"), "{text}");
    // A bad argument is refused before anything runs.
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/rng-report.sh"
    ))
    .arg("--fast")
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument --fast"));
}

/// `simulate` in provably fair mode: every spin its own HMAC-SHA256 round; the commitment of the
/// server seed is printed; bad seeds are refused naming the flag.
#[test]
fn simulate_runs_in_provably_fair_mode_and_refuses_bad_seeds() {
    let seed = "00".repeat(32);
    let out = croupier(&[
        "simulate",
        "--game",
        "classic_sevens",
        "--spins",
        "20000",
        "--threads",
        "1",
        "--server-seed",
        &seed,
        "--client-seed",
        "lab",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SHA-256 of 32 zero bytes.
    assert!(
        text.contains(
            "commitment 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        ),
        "{text}"
    );
    assert!(text.contains("RTP"), "{text}");
    for (flag, bad) in [("--server-seed", "abc"), ("--client-seed", "a:b")] {
        let mut args = vec!["simulate", "--game", "classic_sevens", "--spins", "10"];
        let (server, client) = if flag == "--server-seed" {
            (bad, "lab")
        } else {
            (seed.as_str(), bad)
        };
        args.extend(["--server-seed", server, "--client-seed", client]);
        let out = croupier(&args);
        assert!(!out.status.success(), "{flag} {bad} accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(flag),
            "{flag}"
        );
    }
    let out = croupier(&[
        "simulate",
        "--game",
        "classic_sevens",
        "--spins",
        "10",
        "--server-seed",
        &seed,
    ]);
    assert!(!out.status.success(), "a server seed without a client seed");
}
