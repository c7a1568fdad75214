// The supervisor's settings and their flags (deploy/README.md describes each; tests/
// flags_documented_test keeps it so). Every flag also comes from a flag file (--flagfile) or the
// environment (ISOBAR_<NAME>): base/flags.h.
#ifndef ISOBAR_SUPERVISOR_CONFIG_H_
#define ISOBAR_SUPERVISOR_CONFIG_H_

#include <string>

#include "base/flags.h"

namespace isobar::supervisor {

struct Config {
  std::string data_dir = "./isobar-data";
  std::string listen = "127.0.0.1:7700";
  int workers = 0;
  std::string postgres_url;
  std::string postgres_user = "postgres";
  bool enable_eval = false;
  std::string sandbox = "kill";
  bool sandbox_debug = false;  // --sandbox-debug: the same as --sandbox=report
  std::string worker_binary;
  int pg_connections = 8;
  // Every statement ends within this, and a call waits at most this long for a pooled connection: a
  // stalled PostgreSQL fails calls (retryably) instead of holding the supervisor's threads (0: never).
  int pg_timeout_ms = 5000;
  // Admission control (0: the defaults, scaled to the machine).
  int max_queries = 0, max_mutations = 0, max_actions = 0, max_queued = 0;
  std::string contexts = "fresh";
  // The HTTP listener (Convex clients): empty, the gRPC address's host and the next port (port 0
  // when the gRPC port is 0); "off", none.
  std::string http_listen;
  // What functions read as CONVEX_CLOUD_URL and CONVEX_SITE_URL: "<url>/d/<deployment>". Empty: the
  // HTTP listener's address.
  std::string public_url;
  // The HTTP actions' listener (convex/http.ts routes at /d/<deployment>/...): empty, the gRPC
  // address's host and the port after the HTTP listener's; "off", none.
  std::string site_listen;
  // Empty: the site listener's address.
  std::string site_url;
  std::string file_dir;
  int heartbeat_ms = 0;  // 0: the pool's default
  int worker_source_mb = -1;  // -1: the worker's default
  bool snapshots = true;      // workers copy fresh contexts from a snapshot per code version
  int snapshot_maker_mb = 1024;
  int snapshot_cache_mb = 1024;
  bool prefetch = true;
  bool trace_stages = false;  // per-stage timings of function calls in Admin.Stats
  bool metrics_public = false;  // /metrics without the admin key
  std::string log_format = "text";  // or "json": one JSON object per line (base/log.h)
  bool log_calls = true;            // an info line per function execution
  std::string tls_cert;         // TLS for the gRPC API: the certificate chain (PEM) ...
  std::string tls_key;          // ... and its private key
  int tls_reload_seconds = 10;  // how often the files are checked for a renewed pair
  int history_hours = 24;
  int deployment_idle_seconds = 300;
  int idempotency_hours = 24;
  // Take the writer leases of deployments another supervisor serves on this database (it stops
  // serving them within the lease duration; we start serving after it).
  bool take_over = false;
  // Several supervisors on one PostgreSQL (supervisor/cluster/README.md).
  bool cluster = false;
  std::string advertise;       // host:port other members reach our gRPC API at (default: --listen's)
  std::string cluster_ca;      // with --tls-cert: the CA that signed the other members' certificates
  std::string admin_key_file;  // the admin key's file (default <data-dir>/admin_key; one file for a cluster)
};

inline constexpr char kUsage[] =
    "supervisor [flags]   (also --flagfile=PATH; each flag also as ISOBAR_<NAME> in the environment)";

// Registers every flag of `config` in `flags` (with the ISOBAR_ environment prefix: ISOBAR_POSTGRES_URL,
// a password perhaps, stays out of the process list). `config` must outlive `flags`' Parse.
void RegisterFlags(FlagSet& flags, Config* config);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_CONFIG_H_
