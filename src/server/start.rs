//! Starting and stopping a node: builds its state (ledger, games, tables, jackpots, actor
//! pools, shared state), recovers what the last run left open, starts the sweepers, the table
//! cluster and the heartbeat, serves until a signal or a drain, then shuts down gracefully
//! (stop accepting, finish rounds in flight, flush the ledger, close every socket with a close
//! frame).

use super::*;

/// This node's heartbeat: its description and its players, from the node state.
fn start_heartbeat(app: &Arc<App>) {
    let started_at_ms = crate::clock::now_ms();
    let node = app.clone();
    crate::cluster::start_heartbeat(
        app.shared.clone(),
        move || {
            let players: Vec<PlayerId> = node
                .connected
                .iter()
                .map(|e| e.value().player.clone())
                .collect();
            let info = crate::cluster::NodeInfo {
                node: node.node.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                config_version: node.play().version.to_string(),
                ready: node.is_ready(),
                players: 0,
                tables: node.tables.running_here(),
                started_at_ms,
                seen_at_ms: crate::clock::now_ms(),
            };
            (info, players)
        },
        app.metrics.cluster.nodes.clone(),
        app.shutdown.clone(),
    );
}

/// The play this node starts with: its own files, or in a cluster the cluster's bundle (which
/// a first node stores from its own files). Files that cannot be played stop the start.
async fn starting_play(
    config: &Config,
    store: Option<&crate::play::shared::PlayStore>,
) -> anyhow::Result<crate::play::Play> {
    let local = crate::play::Bundle::read(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bundle = match store {
        None => local,
        Some(store) => {
            if store.put_if_absent(&local).await? {
                tracing::info!(version = %local.version(), "the cluster had no play files: this node's are now the cluster's");
                local
            } else {
                let cluster = store
                    .bundle()
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the cluster's play bundle vanished from redis during start-up; start again"))?;
                if cluster != local {
                    tracing::warn!(
                        cluster = %cluster.version(),
                        files = %local.version(),
                        "this node's play files differ from the cluster's: playing the cluster's (`croupier reload` on this node puts its files in force everywhere)"
                    );
                }
                cluster
            }
        }
    };
    crate::play::Play::parse(bundle, config).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Builds the node's shared state: opens the ledger, loads games, starts actor pools.
pub async fn build_app(config: Config) -> anyhow::Result<Arc<App>> {
    let demo = config
        .demo()
        .map_err(|(key, message)| anyhow::anyhow!("{key}: {message}"))?;
    std::fs::create_dir_all(&config.server.data_dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", config.server.data_dir.display()))?;
    // Checked before anything is started: a node whose own files are wrong never starts, in
    // a cluster too (a reload from it would spread them).
    crate::play::Play::read(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let metrics = Arc::new(Metrics::new());
    let secret = if config.auth.secret.is_empty() {
        crate::secrets::load_or_generate(&config.server.data_dir)?
    } else {
        config.auth.secret.clone()
    };
    let keys =
        |purpose| crate::secrets::KeyRing::new(&secret, &config.auth.previous_secrets, purpose);
    let tokens = TokenKeys::new(
        keys(crate::secrets::Purpose::Tokens),
        &config.cluster.namespace,
        config.auth.token_ttl_seconds,
    );
    let seal = crate::cluster::Seal::new(keys(crate::secrets::Purpose::Seals));
    let fair_keys = crate::fair::FairKeys::new(&secret, &config.auth.previous_secrets);
    let link = if config.cluster.redis_url.is_empty() {
        None
    } else {
        let link = crate::cluster::RedisLink::connect(
            &config.cluster.redis_url,
            &config.cluster.namespace,
            metrics.clone(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cluster.redis_url: {e}"))?;
        Some(link)
    };
    let play_store = link
        .clone()
        .map(|link| crate::play::shared::PlayStore::new(link, seal.clone()));
    let play = starting_play(&config, play_store.as_ref()).await?;
    metrics
        .cluster
        .config_info
        .with_label_values(&[&play.version])
        .set(1);
    tracing::info!(version = %play.version, "play configuration in force (games, tables, jackpots, operators, jurisdictions)");
    let ledger: Arc<dyn Ledger> = crate::wallet::open_ledger(&config).await?;
    let ledger_handle = ledger.clone();
    let wallet = WalletPool::start(
        Config::per_core(config.ledger.wallet_shards),
        ledger,
        metrics.clone(),
        config.ledger.wallet_queue,
        config.ledger.batch_max,
        config.ledger.one_step_spins && config.ledger.postgres_url.is_empty(),
    );
    let policy = ReseedPolicy {
        after_draws: config.rng.reseed_after_draws,
        after: Duration::from_secs(config.rng.reseed_interval_seconds),
    };
    let rng = RngPool::start(
        Config::per_core(config.rng.shards),
        config.rng.mailbox,
        policy,
        metrics.clone(),
    )?;
    crate::reload::init_series(&metrics, &play, &config.currencies);
    let node = crate::cluster::node_id(&config.cluster.node_id);
    let table_ids: Vec<String> = play.tables.iter().map(|t| t.id.clone()).collect();
    let lease_ttl = Duration::from_millis(config.cluster.table_lease_ms);
    let (bus, shared, leases) = match link {
        None => (
            crate::cluster::Bus::in_process(),
            Arc::new(crate::cluster::InProcessState::persistent(
                &config.server.data_dir,
            )?) as Arc<dyn crate::cluster::SharedState>,
            None,
        ),
        Some(link) => {
            let channels = crate::table::cluster::channels(&node, &table_ids);
            // The bus's subscriber task lives as long as the process.
            let relay = tokio_util::sync::CancellationToken::new();
            (
                crate::cluster::Bus::redis(link.clone(), &channels, seal.clone(), relay),
                Arc::new(crate::cluster::RedisState::new(link.clone()))
                    as Arc<dyn crate::cluster::SharedState>,
                Some(Box::new(crate::cluster::RedisLeases::new(link, lease_ttl))
                    as Box<dyn crate::cluster::Leases>),
            )
        }
    };
    let jackpots = Arc::new(Jackpots::new(play.pools.clone(), bus.clone()));
    ledger_handle
        .ensure_pools(&crate::jackpot::specs(&play.pools))
        .await?;
    let table_deps = TableDeps {
        wallet: wallet.clone(),
        rng: rng.clone(),
        metrics: metrics.clone(),
        jackpots: jackpots.clone(),
    };
    let app_bus = bus.clone();
    let table_configs = play.tables.clone();
    let tables = match leases {
        None => TableRegistry::start(table_configs, table_deps, Config::per_core(0)),
        Some(leases) => {
            let cluster = crate::table::cluster::TableCluster::new(
                node.clone(),
                bus,
                leases,
                seal,
                metrics.clone(),
            );
            TableRegistry::clustered(table_configs, table_deps, Config::per_core(0), cluster)
        }
    };
    Ok(Arc::new(App::new(
        config,
        demo.balance.currency().clone(),
        metrics,
        wallet,
        rng,
        play,
        play_store,
        tables,
        jackpots,
        tokens,
        fair_keys,
        shared,
        app_bus,
        node,
    )))
}

/// Longest a client may take over its TLS handshake: a connection that opens and stalls holds a
/// slot of `server.max_connections` until then.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// Workers of the admin listener: scrapes and operator calls, never players.
const ADMIN_WORKERS: usize = 1;
/// Connections the admin listener takes at once (Prometheus, an operator, a balancer's checks).
const ADMIN_CONNECTIONS: usize = 256;
/// Workers of the operator listener: back-office calls, never players.
const OPERATOR_WORKERS: usize = 1;
/// Connections the operator listener takes at once (the operators' back ends, pooled).
const OPERATOR_CONNECTIONS: usize = 1024;

/// The players' listener's HTTP service over transport `$io`: actix-http under the routes
/// `$routes` (an `actix_web::App`), with the WebSocket upgrade taken out of actix-http's hands
/// (`upgrade::service`) so a player's socket keeps only its own small buffers. (A macro: the
/// service's type cannot be named, and TCP and TLS need one each.)
macro_rules! player_http {
    ($io:ty, $app:expr, $routes:expr, $request_timeout:expr) => {{
        use actix_service::ServiceFactoryExt as _;
        actix_http::HttpService::build()
            .client_request_timeout($request_timeout)
            .client_disconnect_timeout(Duration::from_secs(1))
            .h1_allow_half_closed(true)
            // Nagle off: a push (table event, jackpot update) followed by a reply would
            // otherwise wait for the client's delayed ACK (40 ms on Linux) before it leaves.
            .tcp_nodelay(true)
            .upgrade(super::upgrade::service::<$io>($app))
            .finish(actix_service::map_config(
                actix_service::IntoServiceFactory::into_factory($routes)
                    .map_err(|e: actix_web::Error| e.error_response()),
                |_| actix_web::dev::AppConfig::default(),
            ))
    }};
}

/// Runs the node until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.server.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.server.listen))?;
    let address = listener.local_addr()?;
    let admin_listener = TcpListener::bind(config.server.admin_listen).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {} (server.admin_listen): {e}",
            config.server.admin_listen
        )
    })?;
    let admin_address = admin_listener.local_addr()?;
    let operator_listener = TcpListener::bind(config.server.operator_listen).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {} (server.operator_listen): {e}",
            config.server.operator_listen
        )
    })?;
    let operator_address = operator_listener.local_addr()?;
    let workers = Config::per_core(config.server.workers);
    let max_connections = config.server.max_connections;
    let body_timeout = config.server.body_timeout_seconds;
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    // Loaded before anything else starts: a node told to speak TLS never serves without it.
    let tls = if config.server.tls() {
        let certificates =
            crate::tls::Certificates::load(&config.server.tls_cert, &config.server.tls_key)
                .map_err(|e| anyhow::anyhow!("server.tls_cert / server.tls_key: {e}"))?;
        Some(certificates)
    } else {
        None
    };
    let tls_reload = Duration::from_secs(config.server.tls_reload_seconds);
    let app = build_app(config).await?;
    // Embedded: this node owns every round, void them all. Shared ledger: only the stale ones;
    // younger rounds may be in flight on other nodes (the sweeper gets the rest later).
    let shared = !app.config.ledger.postgres_url.is_empty();
    let older_than = if shared { app.stale_round_ms() } else { 0 };
    let voided = crate::recovery::recover_open_rounds(&app, older_than, "recovery").await?;
    crate::recovery::start_stale_sweeper(&app);
    crate::recovery::start_lost_node_sweeper(&app);
    let checkpoints = Duration::from_secs(app.config.ledger.checkpoint_log_seconds);
    crate::checkpoint::start(&app, checkpoints);
    crate::table::cluster::start(app.clone() as Arc<dyn crate::table::host::TableHost>);
    start_heartbeat(&app);
    crate::session::access::start_watcher(app.clone());
    crate::reload::start_follower(app.clone());
    start_reload_on_hangup(&app);
    if voided > 0 {
        tracing::warn!(
            voided,
            "voided and refunded rounds left open by the last run"
        );
    }
    app.jackpots.start_pusher(
        app.wallet.ledger().clone(),
        app.metrics.clone(),
        app.currencies.clone(),
        app.shutdown.clone(),
    );
    let data = web::Data::from(app.clone());
    let count = |data: web::Data<App>| {
        move |req: actix_web::dev::ServiceRequest, srv: &_| {
            let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
            let metrics = data.metrics.clone();
            let response = actix_web::dev::Service::call(srv, req);
            async move {
                let response: actix_web::dev::ServiceResponse = response.await?;
                let class = format!("{}xx", response.status().as_u16() / 100);
                metrics
                    .server
                    .http_requests
                    .with_label_values(&[&route, &class])
                    .inc();
                Ok(response)
            }
        }
    };
    let public = data.clone();
    let players_app = move || {
        actix_web::App::new()
            .wrap_fn(count(public.clone()))
            .app_data(public.clone())
            .route("/v1/sessions", web::post().to(open_session))
            .route("/v1/games", web::get().to(list_games))
            .route("/v1/tables", web::get().to(list_tables))
            .route("/v1/jackpots", web::get().to(list_jackpots))
            .route(
                "/v1/fair/rounds/{round_id}",
                web::get().to(super::fair_rounds::verify_round),
            )
            .route("/v1/ws", web::get().to(not_an_upgrade))
            .route("/v1/ws-tickets", web::post().to(issue_ticket))
            .route("/health/live", web::get().to(live))
            .route("/health/ready", web::get().to(ready))
    };
    let players = actix_server::Server::build()
        .workers(workers)
        .max_concurrent_connections(max_connections)
        .disable_signals()
        .shutdown_timeout(grace.as_secs());
    let door = web::Data::new(operator_api::OperatorDoor::new());
    let back_office = data.clone();
    let operators = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap_fn(count(back_office.clone()))
            .app_data(back_office.clone())
            .app_data(door.clone())
            .configure(operator_api::routes)
            .route("/health/live", web::get().to(live))
            .route("/health/ready", web::get().to(ready))
    })
    .workers(OPERATOR_WORKERS)
    .max_connections(OPERATOR_CONNECTIONS)
    .client_request_timeout(Duration::from_secs(body_timeout))
    .disable_signals()
    .shutdown_timeout(grace.as_secs())
    .tls_handshake_timeout(TLS_HANDSHAKE_TIMEOUT);
    let request_timeout = Duration::from_secs(body_timeout);
    let upgrades = app.clone();
    let (players, operators, scheme) = match &tls {
        Some(certificates) => {
            let config = certificates.server_config()?;
            crate::tls::start_reloader(
                certificates.clone(),
                tls_reload,
                app.metrics.tls.clone(),
                app.shutdown.clone(),
            );
            let tls_config = config.clone();
            let players = players.listen("croupier-players", listener, move || {
                type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_rt::net::TcpStream>;
                player_http!(Tls, upgrades.clone(), players_app(), request_timeout)
                    .rustls_0_23_with_config(
                        tls_config.clone(),
                        actix_http::TlsAcceptorConfig::default()
                            .handshake_timeout(TLS_HANDSHAKE_TIMEOUT),
                    )
            })?;
            (
                players,
                operators.listen_rustls_0_23(operator_listener, config)?,
                "https",
            )
        }
        None => (
            players.listen("croupier-players", listener, move || {
                player_http!(
                    actix_rt::net::TcpStream,
                    upgrades.clone(),
                    players_app(),
                    request_timeout
                )
                .tcp()
            })?,
            operators.listen(operator_listener)?,
            "http",
        ),
    };
    app.set_public_url(if app.config.server.public_url.is_empty() {
        format!("{scheme}://{address}")
    } else {
        app.config.server.public_url.clone()
    });
    let operators = operators.run();
    let operator_handle = operators.handle();
    let operator_task = actix_rt::spawn(operators);
    let server = players.run();
    let private = data.clone();
    let admin = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap_fn(count(private.clone()))
            .app_data(private.clone())
            .route("/metrics", web::get().to(metrics))
            .route("/v1/cluster", web::get().to(cluster_view))
            .route("/v1/admin/drain", web::post().to(drain))
            .route("/v1/admin/reload", web::post().to(reload))
            .route("/v1/admin/players/{player}", web::get().to(player_presence))
            .route("/health/live", web::get().to(live))
            .route("/health/ready", web::get().to(ready))
    })
    .workers(ADMIN_WORKERS)
    .max_connections(ADMIN_CONNECTIONS)
    .client_request_timeout(Duration::from_secs(body_timeout))
    .disable_signals()
    .shutdown_timeout(1)
    .listen(admin_listener)?
    .run();
    let admin_handle = admin.handle();
    let admin_task = actix_rt::spawn(admin);
    let handle = server.handle();
    app.set_ready(true);
    // Tests and operators read this line to learn the port when listening on port 0.
    println!("admin listening on http://{admin_address}");
    println!("operator listening on {scheme}://{operator_address}");
    println!("listening on {scheme}://{address}");
    tracing::info!(%address, workers, tls = tls.is_some(), "croupier serving");

    let server_task = actix_rt::spawn(server);
    wait_for_signal().await;
    tracing::info!("shutting down: closing sessions, finishing rounds in flight");
    app.set_ready(false);
    // Live-table rounds cannot finish once players are gone: void and refund them first, while
    // the seated players are still connected to be told.
    app.tables.stop_all("shutdown").await;
    app.shutdown.cancel();
    app.tasks.close();
    if tokio::time::timeout(grace, app.tasks.wait()).await.is_err() {
        tracing::warn!("rounds still in flight after the grace period; recovery will void them");
    }
    // Every socket has its close frame queued by now: let it go out and be answered.
    app.sockets.close();
    let closing = crate::session::socket::CLOSE_GRACE + Duration::from_secs(1);
    if tokio::time::timeout(closing, app.sockets.wait())
        .await
        .is_err()
    {
        tracing::warn!("player sockets still open after their close; dropping them");
    }
    if let Err(error) = app.shared.forget_node(&app.node).await {
        tracing::warn!(%error, "node not taken out of the cluster registry; it expires by itself");
    }
    app.wallet.flush().await;
    handle.stop(true).await;
    let _ = server_task.await;
    operator_handle.stop(true).await;
    let _ = operator_task.await;
    admin_handle.stop(true).await;
    let _ = admin_task.await;
    tracing::info!("ledger flushed; bye");
    Ok(())
}

/// SIGHUP reloads the play files (`crate::reload`), as `croupier reload` does.
fn start_reload_on_hangup(app: &Arc<App>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: reload with `croupier reload` instead");
            return;
        };
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = app.shutdown.cancelled() => return,
                    got = hangups.recv() => if got.is_none() { return },
                }
                // The outcome is logged and counted by the reload itself.
                let _ = crate::reload::from_files(&app, "sighup").await;
            }
        });
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
