// The supervisor process: wiring only (every component is constructed here, no singletons).
//
//   supervisor [--data-dir=./isobar-data] [--listen=127.0.0.1:7700] [--workers=N]
//              [--postgres-url=URL] [--enable-eval] [--sandbox=kill|strict|report|off]
//
// Order: PostgreSQL (embedded unless --postgres-url) and migrations; the admin key; the worker pool
// (each worker's stream a socketpair read by WorkerService); the HTTP listener (bound early: functions
// learn its address); the public server. When serving it writes <data-dir>/http_url (the Convex
// clients' base URL) and <data-dir>/url and prints "isobar supervisor ready: <address>" on stdout. SIGINT or SIGTERM stop
// it: new invocations are refused, accepted ones finish (up to 30 s), the public server closes,
// workers are stopped, then PostgreSQL.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/deployment_url.h"
#include "base/clock.h"
#include "base/executor.h"
#include "base/flags.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "sandbox/namespaces.h"
#include "storage/embedded_postgres.h"
#include "storage/leases.h"
#include "storage/migrations.h"
#include "storage/pg_conn.h"
#include "storage/pg_pool.h"
#include "storage/postgres_monitor.h"
#include "supervisor/api/admin_key.h"
#include "supervisor/api/admin_service.h"
#include "supervisor/api/deployments_service.h"
#include "supervisor/api/functions_service.h"
#include "supervisor/api/malformed_request.h"
#include "supervisor/api/server_tls.h"
#include "supervisor/api/serving_status.h"
#include "supervisor/api/worker_service.h"
#include "supervisor/cluster/forwarding.h"
#include "supervisor/cluster/placement.h"
#include "supervisor/config.h"
#include "supervisor/deploy/instance.h"
#include "supervisor/egress/http_fetcher.h"
#include "supervisor/gateway/gateway.h"
#include "supervisor/http/convex_http_api.h"
#include "supervisor/http/convex_sync.h"
#include "supervisor/http/file_routes.h"
#include "supervisor/http/health_routes.h"
#include "supervisor/http/http_actions.h"
#include "supervisor/http/http_server.h"
#include "supervisor/http/metrics_route.h"
#include "supervisor/metrics/metrics.h"
#include "supervisor/metrics/stats_families.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/reactivity/live_query_set.h"
#include "supervisor/reactivity/query_cache.h"
#include "supervisor/reactivity/read_tracker.h"
#include "supervisor/runner/admission.h"
#include "supervisor/runner/file_storage.h"
#include "supervisor/runner/function_runner.h"
#include "supervisor/runner/host_call_router.h"
#include "supervisor/scheduling/housekeeping.h"
#include "supervisor/scheduling/scheduler.h"
#include "supervisor/workers/stage_timings.h"
#include "supervisor/workers/worker_pool.h"

namespace isobar::supervisor {
namespace {

constexpr char kComponent[] = "supervisor";


// This server's own endpoints, which fetch never reaches: its listeners ("host:port") and the
// PostgreSQL server it uses (nothing when that is a unix socket, as the embedded one is).
std::vector<Endpoint> InternalEndpoints(const std::vector<std::string>& listeners, storage::PgPool& pg) {
  std::vector<Endpoint> out;
  auto add = [&out](const std::string& host, absl::string_view port_text) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port)) return;
    for (const Endpoint& endpoint : EndpointsOf(host, port)) out.push_back(endpoint);
  };
  for (const std::string& listener : listeners) {
    const size_t colon = listener.rfind(':');
    if (colon != std::string::npos) add(listener.substr(0, colon), absl::string_view(listener).substr(colon + 1));
  }
  if (absl::StatusOr<storage::PgPool::Lease> conn = pg.Acquire(); conn.ok()) {
    add((*conn)->server_host(), (*conn)->server_port());
  } else {
    ISOBAR_LOG(kWarning, kComponent) << "cannot tell which PostgreSQL server fetch must not reach: " << conn.status();
  }
  return out;
}

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// The worker binary: --worker-binary, else beside us in Bazel's runfiles or output tree.
absl::StatusOr<std::string> FindWorkerBinary(const std::string& flag) {
  if (!flag.empty()) {
    if (!Executable(flag)) return absl::NotFoundError(absl::StrCat("--worker-binary ", flag, " is not executable"));
    return flag;
  }
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return absl::NotFoundError("cannot find our own binary");
  std::string exe(self, static_cast<size_t>(n));
  std::string dir = exe.substr(0, exe.rfind('/'));
  for (const std::string& candidate :
       {absl::StrCat(exe, ".runfiles/isobar/worker/worker"), absl::StrCat(dir, "/../worker/worker"),
        absl::StrCat(dir, "/worker")}) {
    if (Executable(candidate)) return candidate;
  }
  return absl::NotFoundError("cannot find the worker binary; pass --worker-binary");
}

// The gRPC address's host with its port plus `offset` ("127.0.0.1:7700", 1: "127.0.0.1:7701"); port 0
// (any free port) stays 0.
std::string NextToGrpc(const std::string& grpc_listen, int offset) {
  const size_t colon = grpc_listen.rfind(':');
  int grpc_port = 0;
  if (!absl::SimpleAtoi(grpc_listen.substr(colon + 1), &grpc_port)) grpc_port = 0;
  return absl::StrCat(grpc_listen.substr(0, colon), ":", grpc_port == 0 ? 0 : grpc_port + offset);
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << contents;
    if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", temp));
  }
  if (rename(temp.c_str(), path.c_str()) != 0) return absl::InternalError(absl::StrCat("cannot rename ", temp));
  return absl::OkStatus();
}

absl::Status Run(Config config, const sigset_t& stop_signals) {
  if (config.sandbox_debug) {
    if (config.sandbox != "kill" && config.sandbox != "report") {
      return absl::InvalidArgumentError("--sandbox-debug goes with the default --sandbox only");
    }
    config.sandbox = "report";
  }
  if (config.log_format != "text" && config.log_format != "json") {
    return absl::InvalidArgumentError("--log-format must be text or json");
  }
  SetLogFormat(config.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  if (config.contexts != "fresh" && config.contexts != "warm") {
    return absl::InvalidArgumentError("--contexts must be fresh or warm");
  }
  // TLS files are checked before anything starts: a mistake is told at once.
  const bool tls = !config.tls_cert.empty() || !config.tls_key.empty();
  if (tls && config.tls_reload_seconds < 1) {
    return absl::InvalidArgumentError("--tls-reload-seconds must be at least 1");
  }
  const ServerTlsFiles tls_files{.cert_path = config.tls_cert, .key_path = config.tls_key,
                                 .reload_seconds = static_cast<unsigned int>(config.tls_reload_seconds)};
  if (tls) RETURN_IF_ERROR(CheckServerTlsFiles(tls_files));
  if (config.sandbox != "kill" && config.sandbox != "strict" && config.sandbox != "report" && config.sandbox != "off") {
    return absl::InvalidArgumentError("--sandbox must be kill, strict, report or off");
  }
  RETURN_IF_ERROR(CheckDeploymentBaseUrl("site-url", config.site_url));
  if (IsOriginPerDeployment(config.public_url)) {
    // The client listener tells deployments apart by path only (for now).
    return absl::InvalidArgumentError(absl::StrCat("--public-url: ", kDeploymentPlaceholder, " is for --site-url only"));
  }
  if (config.cluster && (config.postgres_url.empty() || config.take_over)) {
    return absl::InvalidArgumentError("--cluster needs --postgres-url (the members' shared database) and no --take-over");
  }
  ASSIGN_OR_RETURN(std::string worker_binary, FindWorkerBinary(config.worker_binary));
  const int workers = config.workers > 0 ? config.workers : static_cast<int>(std::thread::hardware_concurrency());
  if (mkdir(config.data_dir.c_str(), 0711) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create --data-dir ", config.data_dir, ": ", strerror(errno)));
  }

  ASSIGN_OR_RETURN(DataDirLock data_dir_lock, LockDataDir(config.data_dir));
  storage::LeaseOptions lease_options;
  ASSIGN_OR_RETURN(lease_options.holder, LoadOrCreateSupervisorName(config.data_dir));
  lease_options.take_over = config.take_over;
  lease_options.time_bound = true;  // renewed by LiveDeployments' lease keeper

  std::unique_ptr<storage::EmbeddedPostgres> embedded;
  std::string conninfo = config.postgres_url;
  storage::EmbeddedPostgresOptions embedded_options;
  embedded_options.data_dir = config.data_dir;
  embedded_options.os_user = config.postgres_user;
  if (conninfo.empty()) {
    ASSIGN_OR_RETURN(embedded, storage::EmbeddedPostgres::Start(embedded_options));
    conninfo = embedded->conninfo();
  }
  {
    ASSIGN_OR_RETURN(std::unique_ptr<storage::PgConn> conn, storage::PgConn::Connect(conninfo));
    ASSIGN_OR_RETURN(int applied, storage::ApplyMigrations(*conn));
    ISOBAR_LOG(kInfo, kComponent) << "schema at version " << storage::LatestSchemaVersion() << " (" << applied
                                  << " migrations applied now)";
  }
  storage::PgPoolOptions pg_options;
  if (config.pg_timeout_ms > 0) {
    pg_options.statement_timeout = pg_options.acquire_timeout = absl::Milliseconds(config.pg_timeout_ms);
  }
  storage::PgPool pg_pool(conninfo, config.pg_connections, pg_options);
  // Restarts the embedded PostgreSQL when it dies, notices an external one going and coming back;
  // the health service follows it (below). It stops the embedded server last.
  storage::PostgresMonitor pg_monitor(conninfo, std::move(embedded), embedded_options, pg_pool);
  // One writer per deployment: without --take-over, refuse to start beside a live supervisor (a
  // cluster's members share the database by placement instead, and never take a live lease).
  if (!config.take_over && !config.cluster) RETURN_IF_ERROR(storage::CheckNoOtherLiveHolder(pg_pool, lease_options));
  // What the health service tells (serving_status.h): PostgreSQL, the drain, and which deployments
  // this supervisor owns. (Declared before `live`, whose threads tell it.)
  ServingStatus serving_status({"", isobar::v1::Functions::service_full_name(),
                                isobar::v1::Deployments::service_full_name(), isobar::v1::Admin::service_full_name()});
  // Lease renewals have a connection of their own: they must not wait behind busy calls.
  storage::PgPool lease_pool(conninfo, 1, pg_options);
  LiveDeployments live(pg_pool, lease_options, &lease_pool);
  live.SetOwnershipObserver([&serving_status](const std::string& deployment, bool owned) {
    serving_status.SetOwned(deployment, owned);
  });
  if (!config.file_dir.empty()) {
    if (mkdir(config.file_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InvalidArgumentError(absl::StrCat("--file-dir: cannot create ", config.file_dir, ": ", strerror(errno)));
    }
    if (access(config.file_dir.c_str(), W_OK | X_OK) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("--file-dir: ", config.file_dir, " is not writable"));
    }
    live.SetFileDirectory(config.file_dir);
    ISOBAR_LOG(kInfo, kComponent) << "stored files' bytes go to " << config.file_dir << ", not PostgreSQL";
  }
  live.StartLeaseKeeper();
  ISOBAR_LOG(kInfo, kComponent) << "supervisor " << lease_options.holder
                                << (config.take_over ? " (taking over deployments other supervisors serve)" : "");
  // Host calls, commits and API steps that wait on PostgreSQL or on other functions.
  Executor executor("isobar-host", std::max(16, 4 * workers));
  AdmissionLimits limits = AdmissionLimits::ForCores(static_cast<int>(std::thread::hardware_concurrency()));
  if (config.max_queries > 0) limits.per_deployment[0] = config.max_queries;
  if (config.max_mutations > 0) limits.per_deployment[1] = config.max_mutations;
  if (config.max_actions > 0) limits.per_deployment[2] = config.max_actions;
  for (int k = 0; k < 3; ++k) limits.total[k] = std::max(limits.total[k], limits.per_deployment[k]);
  if (config.max_queued > 0) limits.queue_per_deployment = static_cast<size_t>(config.max_queued);
  Admission admission(limits, executor);
  ASSIGN_OR_RETURN(std::string admin_key, LoadOrCreateAdminKey(config.admin_key_file.empty()
                                                                   ? config.data_dir + "/admin_key"
                                                                   : config.admin_key_file));

  // Worker streams: only through the socketpairs the pool creates.
  WorkerPoolOptions pool_options;
  pool_options.workers = workers;
  pool_options.worker_binary = worker_binary;
  // strict is kill mode that also insists on every namespace; off runs workers with no sandbox at all.
  pool_options.worker_args = {absl::StrCat("--sandbox=", config.sandbox == "strict" ? "kill" : config.sandbox)};
  if (config.worker_source_mb >= 0) pool_options.worker_args.push_back(absl::StrCat("--module-source-mb=", config.worker_source_mb));
  pool_options.snapshots = config.snapshots;
  StageTimings stage_timings;
  if (config.trace_stages) pool_options.stage_timings = &stage_timings;
  pool_options.snapshot_maker.memory_bytes = static_cast<uint64_t>(std::max(64, config.snapshot_maker_mb)) << 20;
  if (config.snapshot_cache_mb > 0) {
    pool_options.snapshot_maker.cache_dir = config.data_dir + "/snapshots";
    pool_options.snapshot_maker.max_disk_bytes = static_cast<uint64_t>(config.snapshot_cache_mb) << 20;
  }
  pool_options.namespaces = config.sandbox == "off" ? 0 : sandbox::kWorkerNamespaces;
  pool_options.require_namespaces = config.sandbox == "strict";
  pool_options.cgroup_limits = config.sandbox != "off";
  if (config.heartbeat_ms > 0) {
    pool_options.heartbeat_interval = absl::Milliseconds(config.heartbeat_ms);
    pool_options.heartbeat_timeout = 5 * pool_options.heartbeat_interval;
  }
  WorkerPool pool(pool_options);
  LogHub logs;

  // The HTTP listener is bound now (functions learn its address as CONVEX_CLOUD_URL) and serves once
  // the Convex HTTP API exists, below.
  // /healthz and /readyz on the HTTP listener (health_routes.h): the facts gRPC's health tells, and
  // whether a worker is ready.
  HealthRoutes health_routes([&serving_status, &pool] {
    int ready = 0;
    for (const WorkerSnapshot& worker : pool.Snapshot()) ready += worker.state == "ready";
    return ReadinessFacts{.database_available = serving_status.database_available(), .workers_ready = ready,
                          .draining = serving_status.draining()};
  });
  // Prometheus metrics (supervisor/metrics/), at /metrics on the HTTP listener.
  Metrics metrics;
  MetricsRoute metrics_route([&metrics] { return metrics.Scrape(); }, admin_key, config.metrics_public);
  // HTTPS and WSS with the gRPC API's certificate.
  auto WithTls = [&](HttpServerOptions& options) {
    if (!tls) return;
    options.tls_cert = config.tls_cert;
    options.tls_key = config.tls_key;
    options.tls_reload = absl::Seconds(config.tls_reload_seconds);
  };
  std::unique_ptr<HttpServer> http_server;
  ConvexHttpApi* http_api = nullptr;
  ConvexSync* sync = nullptr;
  std::string http_address;
  if (config.http_listen != "off") {
    HttpServerOptions http_options;
    http_options.listen = config.http_listen.empty() ? NextToGrpc(config.listen, 1) : config.http_listen;
    // Uploads go to the database as they arrive, up to their own limit.
    http_options.stream_body = &FileRoutes::StreamsBody;
    http_options.max_streamed_body_bytes = kMaxUploadBytes;
    WithTls(http_options);
    http_server = std::make_unique<HttpServer>(
        http_options,
        [&http_api, &health_routes, &metrics_route](HttpRequest request, HttpServer::Reply reply) {
          if (health_routes.Serve(request, reply) || metrics_route.Serve(request, reply)) return;
          http_api->Handle(std::move(request), std::move(reply));
        },
        [&sync](const HttpRequest& request, HttpResponse* refusal) { return sync->Upgrade(request, refusal); });
    RETURN_IF_ERROR(http_server->Listen());
    http_address = absl::StrCat(http_options.listen.substr(0, http_options.listen.rfind(':')), ":", http_server->port());
  }
  std::unique_ptr<HttpServer> site_server;
  HttpActions* http_actions = nullptr;
  std::string site_address;
  if (config.site_listen != "off") {
    HttpServerOptions site_options;
    site_options.listen = config.site_listen.empty() ? NextToGrpc(config.listen, 2) : config.site_listen;
    site_options.max_body_bytes = kHttpActionBodyLimit;
    // Bodies reach the handler as it reads them (a small one whole, with the call).
    site_options.stream_body = [](absl::string_view, absl::string_view) { return true; };
    site_options.max_streamed_body_bytes = kHttpActionBodyLimit;
    WithTls(site_options);
    site_server = std::make_unique<HttpServer>(site_options, [&http_actions](HttpRequest request, HttpServer::Reply reply) {
      http_actions->Handle(std::move(request), std::move(reply));
    });
    RETURN_IF_ERROR(site_server->Listen());
    site_address = absl::StrCat(site_options.listen.substr(0, site_options.listen.rfind(':')), ":", site_server->port());
  }
  const char* const scheme = tls ? "https://" : "http://";
  FunctionRunnerOptions runner_options;
  runner_options.warm_contexts = config.contexts == "warm";
  runner_options.prefetch = config.prefetch;
  runner_options.admission = &admission;  // an action's nested calls are admitted as clients' are
  runner_options.metrics = &metrics;
  runner_options.log_calls = config.log_calls;
  runner_options.public_url = !config.public_url.empty() ? config.public_url
                              : !http_address.empty()    ? absl::StrCat(scheme, http_address)
                                                         : "http://127.0.0.1:7701";
  runner_options.site_url = !config.site_url.empty()   ? config.site_url
                            : !site_address.empty()      ? absl::StrCat(scheme, site_address)
                                                         : "http://127.0.0.1:7702";
  FunctionRunner runner(live, pool, executor, logs, runner_options);
  RealClock clock(executor);
  Scheduler scheduler(
      live, [&runner](FunctionCallRequest request, FunctionCallback done) { runner.Run(std::move(request), std::move(done)); },
      clock);
  ReadTracker tracker;
  QueryCache query_cache(tracker, {.fan_out = &executor});
  live.SetCommitObserver([&scheduler, &tracker](const std::string& deployment, const storage::PublishedCommit& commit) {
    tracker.Observe(deployment, commit);  // first: results it invalidates are never served again
    scheduler.Observe(deployment, commit);
  });
  live.SetCloseObserver([&tracker](const std::string& deployment) { tracker.Forget(deployment); });
  // A deployment another supervisor held last: its actions left in progress are recovered here.
  admission.SetWaitObserver(
      [&metrics](FunctionKind kind, absl::Duration waited) { metrics.RecordQueueWait(KindName(kind), waited); });
  scheduler.SetLagObserver([&metrics](absl::Duration lag) { metrics.RecordSchedulerLag(lag); });
  live.SetAdoptionObserver([&scheduler](const std::string& deployment) { scheduler.Adopt(deployment); });
  // Several supervisors on one database (cluster/README.md): placement, and forwarding to members.
  std::unique_ptr<Placement> placement;
  std::unique_ptr<Peers> peers;
  if (config.cluster) {
    placement = std::make_unique<Placement>(
        lease_pool, live,
        PlacementOptions{.self = {.holder = lease_options.holder, .http_address = http_address},
                         .lease_duration = lease_options.duration,
                         .heartbeat_interval = lease_options.renew_interval});
    ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> peer_credentials, PeerCredentials(!config.tls_cert.empty(), config.cluster_ca));
    peers = std::make_unique<Peers>(std::move(peer_credentials));
    scheduler.SetHeldElsewhere([&placement](const std::string& deployment) { return placement->HeldElsewhere(deployment); });
    placement->SetLapsedObserver([&scheduler](const std::string& deployment) { scheduler.Wake(deployment); });
  }
  live.SetCodeObserver([&tracker, &scheduler](const std::string& deployment) {
    tracker.InvalidateAll(deployment);
    scheduler.Wake(deployment);  // a push's crons run from the moment its version is active
  });
  // Actions' fetch: made here, never by a worker, and never to this server's own endpoints (set
  // below, once every listener is bound) nor, by default, to any address that is not public.
  HttpFetcher fetcher(HttpFetcher::Options{.local_addresses = MachineAddresses()});
  HostCallRouter router(pg_pool, executor, runner, &fetcher);
  WorkerService worker_service(pool, router);
  RETURN_IF_ERROR(pool.Start(
      [&worker_service](int fd, WorkerPool::Connection connection) { worker_service.Connect(fd, connection); }));
  RETURN_IF_ERROR(scheduler.Start());
  HousekeepingOptions housekeeping_options;
  housekeeping_options.history_window = absl::Hours(std::max(0, config.history_hours));
  housekeeping_options.idempotency_window = absl::Hours(std::max(1, config.idempotency_hours));
  housekeeping_options.deployment_idle = config.deployment_idle_seconds > 0 ? absl::Seconds(config.deployment_idle_seconds)
                                                                            : absl::InfiniteDuration();
  Housekeeping housekeeping(live, pg_pool, clock, executor, housekeeping_options);
  housekeeping.Start();

  // Public server.
  AdminOptions admin_options;
  admin_options.admin_key = admin_key;
  admin_options.enable_eval = config.enable_eval;
  admin_options.function_stats = [&runner, &admission, &scheduler] {
    FunctionRunner::Stats stats = runner.stats();
    Admission::Stats admitted = admission.stats();
    isobar::v1::FunctionStats out;
    out.set_invocations(stats.invocations);
    out.set_occ_conflicts(stats.occ_conflicts);
    out.set_occ_retries(stats.occ_retries);
    out.set_admission_refused(admitted.refused);
    out.set_admission_expired(admitted.expired);
    out.set_running(static_cast<uint32_t>(admitted.running[0] + admitted.running[1] + admitted.running[2]));
    out.set_waiting(static_cast<uint32_t>(admitted.waiting[0] + admitted.waiting[1] + admitted.waiting[2]));
    const Scheduler::Stats scheduled = scheduler.stats();
    isobar::v1::SchedulerStats* s = out.mutable_scheduler();
    s->set_started(scheduled.started);
    s->set_succeeded(scheduled.succeeded);
    s->set_failed(scheduled.failed);
    s->set_retried(scheduled.retried);
    s->set_superseded(scheduled.superseded);
    s->set_recovered(scheduled.recovered);
    s->set_cron_runs(scheduled.cron_runs);
    s->set_cron_runs_skipped(scheduled.cron_runs_skipped);
    return out;
  };
  admin_options.open_deployments = [&live] { return static_cast<uint32_t>(live.open_count()); };
  admin_options.owned_deployments = [&live] { return live.Owned(); };
  admin_options.deployments_closed = [&housekeeping] { return housekeeping.stats().deployments_closed; };
  AdminService admin_service(admin_options, pool, logs);
  metrics.SetScrapeSource([&admin_service, &serving_status, &pg_pool, &query_cache, &tracker, &placement, &peers,
                           &fetcher] {
    const storage::PgPool::Stats pg = pg_pool.stats();
    const QueryCache::Stats cache = query_cache.stats();
    const HttpFetcher::Stats fetches = fetcher.stats();
    return StatsFamilies(admin_service.Snapshot(),
                         {.postgres_up = serving_status.database_available(),
                          .pg_acquired = pg.acquired, .pg_waited = pg.waited, .pg_timeouts = pg.timed_out,
                          .pg_open_failures = pg.open_failures, .pg_size = pg.size, .pg_leased = pg.leased,
                          .cache_hits = cache.hits, .cache_misses = cache.misses, .cache_shared = cache.shared,
                          .cache_evictions = cache.evictions, .cache_entries = cache.entries, .cache_bytes = cache.bytes,
                          .read_watches = tracker.watched(), .live_query_sets = LiveQuerySet::open_count(),
                          .cluster = placement != nullptr,
                          .cluster_members = placement != nullptr ? placement->members().size() : 0,
                          .forwarded = peers != nullptr ? peers->forwarded() : 0,
                          .forward_unreached = peers != nullptr ? peers->unreached() : 0,
                          .fetches_rejected = fetches.rejected, .fetches_completed = fetches.completed,
                          .fetches_denied = fetches.denied, .fetches_cancelled = fetches.cancelled,
                          .fetches_failed = fetches.failed, .fetches_in_flight = fetcher.InFlight()});
  });
  DeploymentsService deployments_service(pg_pool, pool, admin_key, live);
  deployments_service.SetPublicUrls(runner_options.public_url, runner_options.site_url);
  GatewayOptions gateway_options;
  gateway_options.admin_key = admin_key;
  gateway_options.database_available = [&pg_monitor] { return pg_monitor.available(); };
  gateway_options.fetcher = &fetcher;  // identity providers' discovery documents and keys
  Gateway gateway(gateway_options, runner, admission, live, pg_pool, tracker, query_cache);
  FunctionsService functions_service(gateway, executor);
  if (placement != nullptr) {
    functions_service.SetCluster(placement.get(), peers.get());
    deployments_service.SetCluster(placement.get(), peers.get());
  }
  ConvexHttpApi convex_http_api(gateway, executor);
  ConvexSync convex_sync(gateway, executor);
  HttpActions site_actions(gateway, executor, runner_options.site_url);
  // The standard health service (grpc.health.v1) and server reflection, for load balancers and tools.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder public_builder;
  // No SO_REUSEPORT: a port another process listens on makes start-up fail, rather than splitting
  // the connections between two supervisors.
  public_builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // A request that is not valid protobuf is the client's error (INVALID_ARGUMENT), not INTERNAL.
  public_builder.experimental().SetInterceptorCreators(MalformedRequestInterceptors());
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (tls) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> tls_credentials = ServerTlsCredentials(tls_files);
    if (!tls_credentials.ok()) {
      pool.Shutdown();
      return tls_credentials.status();
    }
    credentials = *std::move(tls_credentials);
  }
  public_builder.AddListeningPort(config.listen, credentials, &port);
  public_builder.RegisterService(&admin_service);
  public_builder.RegisterService(&deployments_service);
  public_builder.RegisterService(&functions_service);
  // Convex allows 16 MiB of arguments, by value size: their JSON text may be larger.
  public_builder.SetMaxReceiveMessageSize(64 << 20);
  std::unique_ptr<grpc::Server> public_server = public_builder.BuildAndStart();
  if (public_server == nullptr || port == 0) {
    pool.Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen,
                                               " (is another supervisor, or another program, using it?)"));
  }
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  const std::string address = absl::StrCat(host, ":", port);
  if (placement != nullptr) {
    const std::string advertised = !config.advertise.empty() ? config.advertise : address;
    absl::Status joined = host == "0.0.0.0" || host == "[::]" || host.empty()
                              ? absl::InvalidArgumentError("--cluster with a wildcard --listen needs --advertise")
                              : placement->Join(advertised);
    if (!joined.ok()) {
      pool.Shutdown();
      return joined;
    }
  }
  fetcher.SetInternal(InternalEndpoints({address, http_address, site_address}, pg_pool));
  if (http_server != nullptr) {
    RETURN_IF_ERROR(WriteFileAtomically(config.data_dir + "/http_url", absl::StrCat(scheme, http_address, "\n")));
  }
  RETURN_IF_ERROR(WriteFileAtomically(config.data_dir + "/url", address + "\n"));
  if (http_server != nullptr) {
    http_api = &convex_http_api;
    sync = &convex_sync;
    http_server->Serve();
    ISOBAR_LOG(kInfo, kComponent) << "Convex clients connect to " << scheme << http_address << "/d/<deployment>";
  }
  if (site_server != nullptr) {
    RETURN_IF_ERROR(WriteFileAtomically(config.data_dir + "/site_url", absl::StrCat(scheme, site_address, "\n")));
    http_actions = &site_actions;
    site_server->Serve();
    ISOBAR_LOG(kInfo, kComponent) << "HTTP actions are served at " << scheme << site_address
                                  << (IsOriginPerDeployment(runner_options.site_url)
                                          ? absl::StrCat(" for ", runner_options.site_url)
                                          : std::string("/d/<deployment>/..."));
  }
  // NOT_SERVING while PostgreSQL is away, and from the moment a stop signal arrives. From here on
  // nothing returns early: the monitor and `live` are stopped below, before what they tell goes.
  serving_status.Attach(public_server->GetHealthCheckService());
  pg_monitor.SetListener([&serving_status](bool available) { serving_status.SetDatabaseAvailable(available); });
  pg_monitor.Start();
  ISOBAR_LOG(kInfo, kComponent) << "serving on " << address << (tls ? " (TLS)" : "") << " with "
                                << workers << " workers"
                                << (config.enable_eval ? "; Admin.Eval is ON (development only)" : "");
  std::printf("isobar supervisor ready: %s\n", address.c_str());
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  // Drain: refuse new invocations, let accepted ones finish (bounded), then close the API. Waiting in
  // Server::Shutdown instead would also wait out the deadline for idle client connections.
  serving_status.SetDraining();
  if (placement != nullptr) placement->Leave();  // calls are placed on the other members from now on
  pool.StopAccepting();
  ISOBAR_LOG(kInfo, kComponent) << "stopping (signal " << signal << "): new calls are refused, running ones finish";
  housekeeping.Stop();
  scheduler.Stop(absl::Now() + absl::Seconds(20));  // no new scheduled runs; running ones end first
  // HTTP: no new connections; idle ones close; requests being served get their answers, then close.
  std::thread http_drain([&http_server, &site_server] {
    const absl::Time deadline = absl::Now() + absl::Seconds(31);
    for (HttpServer* server : {http_server.get(), site_server.get()}) {
      if (server == nullptr) continue;
      if (size_t cut = server->Drain(deadline); cut > 0) {
        ISOBAR_LOG(kWarning, kComponent) << cut << " HTTP connections were cut while draining";
      }
    }
  });
  if (size_t unanswered = pool.Drain(absl::Now() + absl::Seconds(30)); unanswered > 0) {
    ISOBAR_LOG(kWarning, kComponent) << unanswered << " invocations did not finish in time and are cancelled";
  }
  http_drain.join();
  fetcher.Shutdown();  // fetches of invocations cut short end too
  logs.Close();  // log tails end
  public_server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  worker_service.Shutdown();  // the pool's Shutdown, then every worker's stream has ended
  executor.Shutdown();  // commits of finished invocations complete; nothing new starts
  live.Close();                   // committers stop before PostgreSQL does
  RETURN_IF_ERROR(pg_monitor.Stop());  // and the embedded server with it
  ISOBAR_LOG(kInfo, kComponent) << "stopped";
  return absl::OkStatus();
}

}  // namespace
}  // namespace isobar::supervisor

int main(int argc, char** argv) {
  // Debian's Abseil tracks lock order on every Mutex operation; that is for tests, not production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using isobar::supervisor::Config;
  Config config;
  isobar::FlagSet flags(isobar::supervisor::kUsage);
  isobar::supervisor::RegisterFlags(flags, &config);
  absl::StatusOr<std::vector<std::string>> positional = flags.Parse(argc, argv);
  if (!positional.ok()) {
    std::fprintf(stderr, "%s\n", std::string(positional.status().message()).c_str());
    return absl::IsNotFound(positional.status()) ? 0 : 2;
  }
  // Stop signals are taken by sigwait in main; every thread created from here on blocks them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Connections are file descriptors: take what the hard limit allows (Debian's soft default, 1024,
  // is less than --http-listen's 4,096 connections).
  if (rlimit files; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  absl::Status status = isobar::supervisor::Run(config, stop_signals);
  if (!status.ok()) ISOBAR_LOG(kError, "supervisor") << status;
  // Everything we own (servers, workers, PostgreSQL) is stopped by now. Leave without static
  // destructors: gRPC's global teardown waits ~1.5 s for its internal threads, for nothing.
  std::fflush(nullptr);
  _exit(status.ok() ? 0 : 1);
}
