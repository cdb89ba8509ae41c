//! The `croupier` command line: `serve` runs a node; `rtp`, `simulate` and `rng-dump` serve
//! game certification; `audit` checks the ledger and walks its chains, `heads` exports their
//! heads as a checkpoint; `dev-cert` writes a throw-away TLS pair;
//! `operator-key` makes an operator's API key.
//! `anyhow` lives only here, at the edge. About 730 lines in one file on purpose: one thin
//! function per command, read as a list; the work lives in the library.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use croupier::config::{Config, LogFormat};
use croupier::games::slot;
use croupier::rng::{RandomSource, ReseedPolicy, ShardRng};

#[derive(Parser)]
#[command(name = "croupier", version, about = "Real-time casino game server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a game server node.
    Serve {
        /// Configuration file.
        #[arg(long, default_value = "config/default.toml")]
        config: PathBuf,
        /// Overrides server.listen (e.g. 127.0.0.1:0 for a free port).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Overrides server.data_dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Overrides server.admin_listen (e.g. 127.0.0.1:0 for a free port).
        #[arg(long)]
        admin_listen: Option<std::net::SocketAddr>,
        /// Overrides server.operator_listen (e.g. 127.0.0.1:0 for a free port).
        #[arg(long)]
        operator_listen: Option<std::net::SocketAddr>,
    },
    /// Makes a new API key for an operator: prints the key once (give it to the operator's
    /// back end) and the hash to list in its `key_hashes` in config/operators.toml.
    OperatorKey {
        /// The operator's id, as in config/operators.toml.
        #[arg(long)]
        operator: String,
    },
    /// Exact RTP of a slot game by full-cycle enumeration of its reel strips (PAR sheet).
    Rtp {
        /// The game file, e.g. config/games/starfall.toml.
        game: PathBuf,
    },
    /// Plays N spins of a game with the real game code on all cores and reports RTP.
    Simulate {
        /// Game id (from the games directory) or a path to a game file.
        #[arg(long)]
        game: String,
        #[arg(long, default_value_t = 1_000_000)]
        spins: u64,
        #[arg(long, default_value = "config/games")]
        games_dir: PathBuf,
        /// Worker threads; default one per core.
        #[arg(long)]
        threads: Option<usize>,
        /// Provably fair mode (docs/fairness.md): every spin its own round of this server seed
        /// (64 hex digits) and --client-seed, instead of the ChaCha20 shards.
        #[arg(long, requires = "client_seed")]
        server_seed: Option<String>,
        /// The player's seed in provably fair mode (1 to 64 printable characters, no ':').
        #[arg(long, requires = "server_seed")]
        client_seed: Option<String>,
    },
    /// Writes raw output of the RNG shard generator (same seeding and reseeding as play).
    RngDump {
        /// Bytes of raw output to write to stdout (binary). Omit with --range.
        #[arg(long)]
        bytes: Option<u64>,
        /// Instead of raw bytes: values in 0..K, one per line, through the games' sampler.
        #[arg(long)]
        range: Option<u32>,
        /// Instead of raw bytes: permutations of 0..N (one per line, space-separated), by the
        /// shuffle the baccarat shoe uses (N = 416 for its 8 decks).
        #[arg(long)]
        shuffle: Option<u32>,
        /// How many values with --range, permutations with --shuffle.
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        #[arg(long, default_value_t = 100_000_000)]
        reseed_after_draws: u64,
    },
    /// Writes a throw-away certificate authority and a server certificate it signed (for
    /// development, the compose stack and tests; never for players on the internet).
    DevCert {
        /// Directory for ca.pem, ca-key.pem, cert.pem, key.pem and bundle.pem (created).
        #[arg(long)]
        out: PathBuf,
        /// Host name or IP address the certificate is for (repeat for more).
        #[arg(long = "name", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        names: Vec<String>,
        /// Days the server certificate is valid.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Replace cert.pem and key.pem if present (the authority in --out is reused).
        #[arg(long)]
        force: bool,
    },
    /// Evaluates a stored round again from its stored draws (a slot's reel stops, a table
    /// round's result) with the games' and tables' rules and says whether the stored outcome
    /// and win match.
    Replay {
        /// The round's id (as in the operator API's recall and statements).
        round_id: String,
        #[arg(long, default_value = "config/default.toml")]
        config: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Checks a provably fair round (docs/fairness.md): draws its reels again from its revealed
    /// server seed (or the one given), its client seed and its nonce, and says whether they,
    /// and the win, match what was settled.
    Verify {
        /// The round's id (in the spin's `round_id`, the history, the operator's recall).
        round_id: String,
        /// A server seed to check instead of the revealed one (64 hex digits), e.g. the one a
        /// player kept: a seed other than the committed one fails.
        #[arg(long)]
        server_seed: Option<String>,
        #[arg(long, default_value = "config/default.toml")]
        config: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Checks that every balance equals the sum of its ledger entries, and walks every
    /// tamper-evident chain (docs/integrity.md), naming the first row that breaks each one.
    Audit {
        #[arg(long, default_value = "config/default.toml")]
        config: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// A checkpoint kept earlier (`croupier heads`, or a page of the operator API's
        /// /v1/operator/ledger/heads): also check the ledger still extends each of its heads.
        #[arg(long)]
        heads: Option<PathBuf>,
    },
    /// Writes every chain's head, with their digest, as JSON to stdout: a checkpoint to keep
    /// outside croupier (the digest is the one the node logs on its schedule).
    Heads {
        #[arg(long, default_value = "config/default.toml")]
        config: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Recomputes every balance and every jackpot pool from the ledger and reports any
    /// difference: pool = seeds + contributions - payouts, reserves, awards paid; and closes
    /// the books of every operator and currency: deposits - withdrawals - stakes + wins +
    /// refunds + jackpots = the sum of balances; and checks every free-rounds grant's count
    /// against its events.
    Reconcile {
        #[arg(long, default_value = "config/default.toml")]
        config: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Reloads the play files (games, tables, jackpots, operators, jurisdictions) on a running
    /// node, and through it on every node of its cluster: all of them, or none and why.
    /// `--check` only reads and checks them here.
    Reload {
        /// Configuration file: names the play files, and the node's admin listener and key.
        #[arg(long, default_value = "config/default.toml")]
        config: PathBuf,
        /// The node's admin listener (default: `http://` + server.admin_listen).
        #[arg(long)]
        admin: Option<String>,
        /// Only read and check the play files; reach no node.
        #[arg(long)]
        check: bool,
    },
}

fn load_config(path: &std::path::Path, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
    let mut config = Config::load(path)?;
    if let Ok(secret) = std::env::var("CROUPIER_AUTH_SECRET") {
        config.auth.secret = secret;
    }
    if let Ok(key) = std::env::var("CROUPIER_ADMIN_KEY") {
        config.auth.admin_key = key;
    }
    if let Ok(url) = std::env::var("CROUPIER_POSTGRES_URL") {
        config.ledger.postgres_url = url;
    }
    if let Ok(url) = std::env::var("CROUPIER_REDIS_URL") {
        config.cluster.redis_url = url;
    }
    if let Ok(node) = std::env::var("CROUPIER_NODE_ID") {
        config.cluster.node_id = node;
    }
    if let Ok(cert) = std::env::var("CROUPIER_TLS_CERT") {
        config.server.tls_cert = cert.into();
    }
    if let Ok(key) = std::env::var("CROUPIER_TLS_KEY") {
        config.server.tls_key = key.into();
    }
    if let Ok(allow) = std::env::var("CROUPIER_DEMO_ON_SHARED_LEDGER") {
        config.auth.demo_on_shared_ledger = match allow.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                anyhow::bail!("CROUPIER_DEMO_ON_SHARED_LEDGER must be true or false, got {allow:?}")
            }
        };
    }
    if let Some(dir) = data_dir {
        config.server.data_dir = dir;
    }
    // Checked once, after every override: a value given only in the environment is enough.
    config.validate(&format!(
        "{} with the environment (CROUPIER_AUTH_SECRET / CROUPIER_ADMIN_KEY / \
         CROUPIER_POSTGRES_URL / CROUPIER_REDIS_URL / CROUPIER_NODE_ID / \
         CROUPIER_TLS_CERT / CROUPIER_TLS_KEY / CROUPIER_DEMO_ON_SHARED_LEDGER)",
        path.display()
    ))?;
    Ok(config)
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// jemalloc instead of glibc's allocator: a spin allocates and frees many small buffers on two
/// threads (frames, JSON, messages), and glibc's `malloc_consolidate` and `_int_free` were a
/// seventh of the request threads' time under load. mimalloc was faster still but held 50%
/// more memory per idle connection; jemalloc holds what glibc did (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
            admin_listen,
            operator_listen,
        } => {
            let mut config = load_config(&config, data_dir)?;
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            if let Some(admin) = admin_listen {
                config.server.admin_listen = admin;
            }
            if let Some(operator) = operator_listen {
                config.server.operator_listen = operator;
            }
            init_logs(&config);
            actix_rt::System::new().block_on(croupier::server::serve(config))
        }
        Command::Rtp { game } => {
            // Every RTP variant of the file, each its own PAR sheet.
            let mut wrong = Vec::new();
            for (i, variant) in slot::load_game_file(&game)?.iter().enumerate() {
                let sheet = slot::exact_rtp(variant);
                if i > 0 {
                    println!();
                }
                print!("{sheet}");
                if !sheet.in_target() || !sheet.stated_matches() {
                    wrong.push(variant.id().to_string());
                }
            }
            if !wrong.is_empty() {
                anyhow::bail!(
                    "outside its target_rtp or stating another RTP than its exact one: {}",
                    wrong.join(", ")
                );
            }
            Ok(())
        }
        Command::Simulate {
            game,
            spins,
            games_dir,
            threads,
            server_seed,
            client_seed,
        } => {
            // A file plays its main game; an id is any game of the directory, RTP variants
            // (`starfall_94`) included.
            let game = if game.ends_with(".toml") {
                let path = PathBuf::from(&game);
                slot::load_game_file(&path)
                    .with_context(|| format!("loading {}", path.display()))?
                    .swap_remove(0)
            } else {
                let catalog = croupier::games::GameCatalog::load(&games_dir)
                    .with_context(|| format!("loading {}", games_dir.display()))?;
                let Some(found) = catalog.slot(&game) else {
                    anyhow::bail!("no game {game:?} in {}", games_dir.display());
                };
                found.as_ref().clone()
            };
            let threads = threads.unwrap_or_else(|| Config::per_core(0));
            let source = match (server_seed, client_seed) {
                (Some(server), Some(client)) => {
                    use croupier::rng::fair::{ClientSeed, ServerSeed};
                    let server = ServerSeed::parse(&server)
                        .context("--server-seed must be 64 hex digits")?;
                    let client = ClientSeed::parse(&client).context("--client-seed")?;
                    println!(
                        "provably fair mode: server seed commitment {}",
                        server.commitment()
                    );
                    slot::SimSource::Fair(server, client)
                }
                _ => slot::SimSource::Shards,
            };
            let report = slot::simulate_from(&game, spins, threads, true, &source)?;
            print!("{report}");
            Ok(())
        }
        Command::RngDump {
            bytes,
            range,
            shuffle,
            count,
            reseed_after_draws,
        } => match shuffle {
            Some(n) => rng_shuffles(n, count, reseed_after_draws),
            None => rng_dump(bytes, range, count, reseed_after_draws),
        },
        Command::DevCert {
            out,
            names,
            days,
            force,
        } => dev_cert(&out, &names, days, force),
        Command::OperatorKey { operator } => operator_key(&operator),
        Command::Replay {
            round_id,
            config,
            data_dir,
        } => replay(&round_id, &config, data_dir),
        Command::Verify {
            round_id,
            server_seed,
            config,
            data_dir,
        } => verify(&round_id, server_seed.as_deref(), &config, data_dir),
        Command::Audit {
            config,
            data_dir,
            heads,
        } => audit(&config, data_dir, false, heads.as_deref()),
        Command::Reconcile { config, data_dir } => audit(&config, data_dir, true, None),
        Command::Heads { config, data_dir } => heads(&config, data_dir),
        Command::Reload {
            config,
            admin,
            check,
        } => reload(&config, admin, check),
    }
}

/// Longest `croupier reload` waits for the node's answer (a reload parses every game file).
const RELOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn reload(config: &std::path::Path, admin: Option<String>, check: bool) -> anyhow::Result<()> {
    let config = load_config(config, None)?;
    if check {
        let play = croupier::play::Play::read(&config)?;
        println!(
            "play files ok: version {}, {} games, {} tables, {} jackpot pools, {} operators",
            play.version,
            play.games.len(),
            play.tables.len(),
            play.pools.len(),
            play.operators.iter().count()
        );
        return Ok(());
    }
    let base = admin.unwrap_or_else(|| format!("http://{}", config.server.admin_listen));
    let url = format!("{}/v1/admin/reload", base.trim_end_matches('/'));
    let runtime = tokio::runtime::Runtime::new()?;
    let (status, body) = runtime.block_on(async {
        let client = reqwest::Client::builder().timeout(RELOAD_TIMEOUT).build()?;
        let response = client
            .post(&url)
            .bearer_auth(&config.auth.admin_key)
            .send()
            .await?;
        let status = response.status();
        anyhow::Ok((status, response.text().await?))
    })?;
    let answer: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|_| body.clone().into());
    if !status.is_success() {
        let message = answer["message"].as_str().unwrap_or(&body);
        anyhow::bail!("reload refused ({status}), nothing changed: {message}");
    }
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

fn operator_key(operator: &str) -> anyhow::Result<()> {
    let id = croupier::ids::OperatorId::parse(operator)?;
    let (key, hash) = croupier::operator::keys::generate()?;
    println!("key of operator {id} (shown once; give it to the operator's back end):");
    println!("  {key}");
    println!("list its hash in that operator's key_hashes in config/operators.toml, then `croupier reload`:");
    println!("  \"{hash}\"");
    Ok(())
}

fn verify(
    round_id: &str,
    server_seed: Option<&str>,
    config: &std::path::Path,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let config = load_config(config, data_dir)?;
    let id = croupier::ids::RoundId::parse(round_id)?;
    let games = croupier::games::GameCatalog::load(&config.games.dir)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let ledger = croupier::wallet::open_ledger(&config).await?;
        let fair = ledger
            .fair_round(&id)
            .await?
            .with_context(|| format!("no provably fair round {id} in the ledger"))?;
        let account = ledger
            .account(&fair.round.player)
            .await?
            .with_context(|| format!("no account {} for round {id}", fair.round.player))?;
        let currency = config.currencies.get(&account.currency)?;
        let verdict = croupier::fair::verify::verify(&games, &fair, &currency, server_seed)?;
        println!("{}", serde_json::to_string(&verdict)?);
        if verdict.verified {
            println!(
                "round {id} verified: seed {} nonce {} draws stops {:?}, win {}",
                verdict.seed_index, verdict.nonce, verdict.stops, verdict.win
            );
            Ok(())
        } else {
            anyhow::bail!(
                "round {id} does NOT verify: commitment_matches: {}, proof_matches: {}, \
                 outcome_matches: {}, win_matches: {}",
                verdict.commitment_matches,
                verdict.proof_matches,
                verdict.outcome_matches,
                verdict.win_matches
            )
        }
    })
}

fn replay(
    round_id: &str,
    config: &std::path::Path,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let config = load_config(config, data_dir)?;
    let id = croupier::ids::RoundId::parse(round_id)?;
    let games = croupier::games::GameCatalog::load(&config.games.dir)?;
    let tables = if config.tables.file.as_os_str().is_empty() {
        Vec::new()
    } else {
        croupier::table::config::load(&config.tables.file, &config.currencies)
            .map_err(|e| anyhow::anyhow!("{}: {e}", config.tables.file.display()))?
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let ledger = croupier::wallet::open_ledger(&config).await?;
        let round = ledger
            .round(&id)
            .await?
            .with_context(|| format!("no round {id} in the ledger"))?;
        let account = ledger
            .account(&round.player)
            .await?
            .with_context(|| format!("no account {} for round {id}", round.player))?;
        let currency = config.currencies.get(&account.currency)?;
        let replay = croupier::replay::replay(&games, &tables, &round, &currency)?;
        println!("{}", serde_json::to_string(&replay)?);
        if replay.matches() {
            println!(
                "round {id} replays to its stored outcome and win {}",
                replay.stored_win
            );
            Ok(())
        } else {
            anyhow::bail!(
                "round {id} does NOT match: stored win {}, replayed win {}, outcome {}",
                replay.stored_win,
                replay.replayed_win,
                if replay.outcome_matches {
                    "matches"
                } else {
                    "differs"
                }
            )
        }
    })
}

fn dev_cert(out: &std::path::Path, names: &[String], days: u32, force: bool) -> anyhow::Result<()> {
    use croupier::tls::dev_cert::{self, Files, Outcome};
    let files = Files::in_dir(out);
    match dev_cert::write(out, names, days, force)? {
        Outcome::Kept => println!(
            "kept {} and {} (--force replaces them)",
            files.cert.display(),
            files.key.display()
        ),
        Outcome::Written { ca_reused } => {
            println!(
                "wrote {} and {} for {} (valid {days} days), signed by {} ({})",
                files.cert.display(),
                files.key.display(),
                names.join(", "),
                files.ca.display(),
                if ca_reused { "reused" } else { "new" }
            );
            println!(
                "serve with: CROUPIER_TLS_CERT={} CROUPIER_TLS_KEY={} croupier serve",
                files.cert.display(),
                files.key.display()
            );
            println!(
                "clients must trust {}: a development authority, never for players on the internet",
                files.ca.display()
            );
        }
    }
    Ok(())
}

/// `heads`: every chain's head as JSON, for a checkpoint kept outside croupier.
fn heads(config: &std::path::Path, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let config = load_config(config, data_dir)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let ledger = croupier::wallet::open_ledger(&config).await?;
        let heads = ledger
            .chain_heads(croupier::wallet::HeadsScope::All)
            .await?;
        println!("{}", serde_json::to_string_pretty(&heads)?);
        Ok(())
    })
}

/// Reads a checkpoint file: `croupier heads` output or an operator API page, as saved.
fn read_checkpoint(path: &std::path::Path) -> anyhow::Result<croupier::wallet::ChainHeads> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--heads {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "--heads {}: not a checkpoint (croupier heads, or a page of \
             /v1/operator/ledger/heads): {e}",
            path.display()
        )
    })
}

/// `audit` (balances against entries, every chain walked; with `checkpoint`, its heads
/// checked too) and `reconcile` (that, plus every jackpot pool).
fn audit(
    config: &std::path::Path,
    data_dir: Option<PathBuf>,
    pools: bool,
    checkpoint: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let config = load_config(config, data_dir)?;
    let checkpoint = checkpoint.map(read_checkpoint).transpose()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let ledger = croupier::wallet::open_ledger(&config).await?;
        let mut report = ledger.audit().await?;
        let c = &report.chain;
        println!(
            "chains {} links {} before the chain began {} broken {}",
            c.chains, c.links, c.before_chain, c.broken_chains
        );
        if let Some(checkpoint) = checkpoint {
            let problems = ledger.check_heads(checkpoint.clone()).await?;
            println!(
                "checkpoint of {} ({} heads, digest {}): {}",
                checkpoint.taken_at_ms,
                checkpoint.heads.len(),
                checkpoint.digest,
                if problems.is_empty() { "held" } else { "BROKEN" }
            );
            report.mismatches.extend(problems);
        }
        if pools {
            let r = ledger.reconcile().await?;
            let micro = croupier::jackpot::math::MICRO_PER_MINOR as f64;
            println!(
                "pools {} awards {} seeds {} contributions {} payouts {} (minor units, fractions kept)",
                r.pools,
                r.awards,
                r.seeds_micro as f64 / micro,
                r.contributions_micro as f64 / micro,
                r.payouts_micro as f64 / micro,
            );
            report.mismatches.extend(r.mismatches);
            for b in &report.books {
                let money = |minor: i64| {
                    config
                        .currencies
                        .get(&b.currency)
                        .and_then(|c| croupier::money::Money::from_minor(minor, &c))
                        .map_or_else(|_| format!("{minor} minor units"), |m| m.to_string())
                };
                println!(
                    "books of {} in {}: {} accounts; deposits {} - withdrawals {} - stakes {} + \
                     wins {} + refunds {} + jackpots {} = {}; balances {} {}",
                    b.operator.as_deref().unwrap_or("(no operator: demo play)"),
                    b.currency,
                    b.accounts,
                    money(b.deposits),
                    money(b.withdrawals),
                    money(b.stakes),
                    money(b.wins),
                    money(b.refunds),
                    money(b.jackpots),
                    money(b.expected_balances()),
                    money(b.balances),
                    if b.expected_balances() == b.balances { "ok" } else { "MISMATCH" }
                );
            }
        }
        println!(
            "accounts {} entries {} open rounds {} free-rounds grants {} mismatches {}",
            report.accounts,
            report.entries,
            report.open_rounds,
            report.free_round_grants,
            report.mismatches.len()
        );
        for line in &report.mismatches {
            println!("MISMATCH {line}");
        }
        if report.mismatches.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("ledger audit failed")
        }
    })
}

/// Most items `rng-dump --shuffle` permutes: a shoe of 8 decks is 416; this leaves room for
/// any shoe while keeping one line of output bounded.
const MAX_SHUFFLE_ITEMS: u32 = 10_000;

/// Writes `body`'s output to stdout from the RNG shard generator, seeded and reseeded as play
/// does (`reseed_after` draws); a closed pipe (`| head`, a battery that has enough) is a
/// normal end.
fn dump_with(
    reseed_after: u64,
    body: impl FnOnce(&mut ShardRng, &mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let policy = ReseedPolicy {
        after_draws: reseed_after,
        after: Duration::from_secs(3600),
    };
    let mut rng = ShardRng::from_os(0, policy)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    match body(&mut rng, &mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Permutations of `0..n` by the shoe's shuffle, one per line, for the certification tests.
fn rng_shuffles(n: u32, count: u64, reseed_after: u64) -> anyhow::Result<()> {
    if !(2..=MAX_SHUFFLE_ITEMS).contains(&n) {
        anyhow::bail!("--shuffle must be between 2 and {MAX_SHUFFLE_ITEMS}");
    }
    dump_with(reseed_after, |rng, out| {
        let mut items: Vec<u32> = (0..n).collect();
        for _ in 0..count {
            for (i, item) in items.iter_mut().enumerate() {
                *item = i as u32;
            }
            croupier::rng::shuffle(&mut items, rng);
            let line: Vec<String> = items.iter().map(u32::to_string).collect();
            writeln!(out, "{}", line.join(" "))?;
        }
        Ok(())
    })
}

/// Raw generator output, or sampled values, for external statistical test batteries.
fn rng_dump(
    bytes: Option<u64>,
    range: Option<u32>,
    count: u64,
    reseed_after: u64,
) -> anyhow::Result<()> {
    match (bytes, range) {
        (_, Some(0)) => anyhow::bail!("--range must be at least 1"),
        (_, Some(k)) => dump_with(reseed_after, |rng, out| {
            for _ in 0..count {
                writeln!(out, "{}", rng.below(k))?;
            }
            Ok(())
        }),
        (Some(total), None) => dump_with(reseed_after, |rng, out| {
            let mut buf = vec![0u8; 1 << 16];
            let mut left = total;
            while left > 0 {
                let n = left.min(buf.len() as u64) as usize;
                rng.fill(&mut buf[..n]);
                out.write_all(&buf[..n])?;
                left -= n as u64;
            }
            Ok(())
        }),
        (None, None) => anyhow::bail!("give --bytes N (raw) or --range K --count N (sampled)"),
    }
}
