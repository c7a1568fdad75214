#include "supervisor/config.h"

namespace isobar::supervisor {

void RegisterFlags(FlagSet& flags, Config* config) {
  flags.SetEnvironmentPrefix("ISOBAR_");
  flags.String("data-dir", &config->data_dir, "directory for the embedded PostgreSQL, the admin key and the url file");
  flags.String("listen", &config->listen, "address of the public gRPC API (port 0: any free port)");
  flags.Int("workers", &config->workers, "worker processes (0: one per core)");
  flags.String("postgres-url", &config->postgres_url, "an external PostgreSQL (libpq URL); empty: embedded");
  flags.String("postgres-user", &config->postgres_user, "the account the embedded PostgreSQL runs as when we are root");
  flags.String("contexts", &config->contexts,
               "fresh (a new V8 context per function call) or warm (contexts reused per code version)");
  flags.String("http-listen", &config->http_listen,
               "address of the HTTP listener for Convex clients (the Convex HTTP API at /d/<deployment>/api/...); "
               "default: the --listen host and the next port (0 when that port is 0); off: none");
  flags.String("public-url", &config->public_url,
               "base URL of the client API, as functions see it: CONVEX_CLOUD_URL is <url>/d/<deployment> "
               "(default: the HTTP listener's address)");
  flags.String("site-listen", &config->site_listen,
               "address of the HTTP actions' listener (convex/http.ts routes at /d/<deployment>/<path>); "
               "default: the --listen host and the port two after it (0 when that port is 0); off: none");
  flags.String("site-url", &config->site_url,
               "base URL of HTTP actions, as functions see it: CONVEX_SITE_URL is <url>/d/<deployment> "
               "(default: the site listener's address); with {deployment} as the first label of its host "
               "(https://{deployment}.site.example.com, a wildcard DNS name for the site listener), each "
               "deployment gets its own origin, told by the Host header, and /d/ paths are not served");
  flags.String("file-dir", &config->file_dir,
               "directory for stored files' bytes (ctx.storage, uploads) instead of PostgreSQL (default: in "
               "PostgreSQL, so that one backup holds everything); for one supervisor per deployment's files");
  flags.Int("heartbeat-ms", &config->heartbeat_ms,
            "worker heartbeat interval; a worker silent for 5 intervals is restarted (default 2000)");
  flags.Int("worker-source-mb", &config->worker_source_mb,
            "module sources each worker keeps, so Invokes need not carry them (default 256)");
  flags.Bool("snapshots", &config->snapshots,
             "fresh calls get copies of a V8 startup snapshot per code version, made from the classic script the "
             "bundler pushes by a snapshot maker process of its own (supervisor/workers/snapshot_maker.h); versions "
             "whose top-level code must run per call, and every call until the snapshot is made, evaluate their "
             "ES modules (default true)");
  flags.String("tls-cert", &config->tls_cert,
               "TLS for the gRPC API and both HTTP listeners (HTTPS, WSS): the server's certificate chain, leaf first "
               "(PEM); with --tls-key. Renewed files "
               "are picked up for new connections without a restart (every --tls-reload-seconds)");
  flags.String("tls-key", &config->tls_key, "the private key of --tls-cert (PEM)");
  flags.Int("tls-reload-seconds", &config->tls_reload_seconds,
            "how often the TLS files are checked for a renewed certificate and key (default 10)");
  flags.String("log-format", &config->log_format,
               "text, or json: one JSON object per line (time, level, component, message and fields such as "
               "deployment, function, outcome, ms and request), for log collectors");
  flags.Bool("log-calls", &config->log_calls,
             "an info line per function execution: deployment, function, kind, outcome, ms and its request id, "
             "which its log lines (isobarctl logs) and the HTTP API's errors carry too (default true)");
  flags.Bool("metrics-public", &config->metrics_public,
             "serve /metrics (Prometheus) on the HTTP listener without the admin key; by default a scrape sends "
             "'Authorization: Bearer <admin key>', since the labels name deployments and functions (default false)");
  flags.Bool("trace-stages", &config->trace_stages,
             "record where function calls spend their time (queue, worker, host calls, commit, ...), by kind and "
             "context policy, for Admin.Stats (default false; costs a lock and a clock read per stage)");
  flags.Int("snapshot-maker-mb", &config->snapshot_maker_mb,
            "memory a snapshot maker process may use (RLIMIT_DATA; default 1024): a version whose top-level code "
            "needs more gets no snapshot");
  flags.Bool("prefetch", &config->prefetch,
             "read the documents a client's query or mutation names by id in its arguments before it runs, and "
             "answer its db.get of them in the worker without a host call (supervisor/runner/prefetch.h; "
             "default true)");
  flags.Int("snapshot-cache-mb", &config->snapshot_cache_mb,
            "startup snapshots kept on disk in <data-dir>/snapshots, so a restart reads them back instead of making "
            "them again; each is checked by SHA-256 and used only by workers of the build that made it "
            "(default 1024; 0: memory only)");
  flags.Int("history-hours", &config->history_hours,
            "document history kept for reads at past timestamps, in hours; older revisions are collected (default 24)");
  flags.Int("deployment-idle-seconds", &config->deployment_idle_seconds,
            "a deployment nobody called for this long is closed and its state dropped; the next call loads it "
            "again (default 300; 0: never)");
  flags.Int("idempotency-hours", &config->idempotency_hours,
            "how long a mutation's idempotency key is remembered, in hours (default 24)");
  flags.Int("max-queries", &config->max_queries, "running queries per deployment (default 16)");
  flags.Int("max-mutations", &config->max_mutations, "running mutations per deployment (default 16)");
  flags.Int("max-actions", &config->max_actions, "running actions per deployment (default 64)");
  flags.Int("max-queued", &config->max_queued, "calls of one deployment and kind waiting for a slot (default 256)");
  flags.Bool("enable-eval", &config->enable_eval, "serve Admin.Eval (development only)");
  flags.Bool("take-over", &config->take_over,
             "start even though another supervisor serves deployments of this PostgreSQL, and take each one "
             "over when it is first used (the other stops serving it; this one waits for its lease to lapse)");
  flags.Bool("cluster", &config->cluster,
             "join the other supervisors of this PostgreSQL as a cluster: each deployment is served by one "
             "member, placed by hashing over live members, and calls reaching another member are forwarded to it "
             "(needs an external --postgres-url and one --admin-key-file for all members)");
  flags.String("advertise", &config->advertise,
               "host:port the other members of the cluster reach this one's gRPC API at (default: the --listen "
               "address, which must then not be a wildcard)");
  flags.String("cluster-ca", &config->cluster_ca,
               "with --tls-cert: PEM file of the CA that signed the other members' certificates (default: the "
               "system's roots)");
  flags.String("admin-key-file", &config->admin_key_file,
               "file holding the server's admin key, created if missing (default <data-dir>/admin_key; a cluster's "
               "members share one)");
  flags.String("sandbox", &config->sandbox,
               "workers' sandbox: kill (seccomp kills a violator; namespaces where the machine allows them), "
               "strict (kill, and refuse to start without every namespace), report (debug: print the "
               "syscall) or off");
  flags.Bool("sandbox-debug", &config->sandbox_debug,
             "report the offending system call by name instead of dying silently (--sandbox=report)");
  flags.String("worker-binary", &config->worker_binary, "the worker executable (default: found beside this one)");
  flags.Int("pg-connections", &config->pg_connections, "PostgreSQL connections in the pool");
  flags.Int("pg-timeout-ms", &config->pg_timeout_ms,
            "longest a PostgreSQL statement may run, and a call may wait for a pooled connection, before the "
            "call fails with a retryable error (default 5000; 0: no limit)");
}

}  // namespace isobar::supervisor
