// One published version of a deployment's code, as the runner needs it: the modules ready to copy
// into an Invoke, and every function's kind, visibility and validators, parsed once from the worker's
// analysis (worker/analyze.h), plus the schema's table validators.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<const CodeVersion> code, CodeVersion::Build(version_info));
//   const FunctionDef* f = code->Find(path);   // nullptr: no such function
#ifndef ISOBAR_SUPERVISOR_DEPLOY_CODE_VERSION_H_
#define ISOBAR_SUPERVISOR_DEPLOY_CODE_VERSION_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "isobar/worker/v1/worker.pb.h"
#include "storage/validator.h"
#include "storage/value.h"
#include "storage/versions.h"
#include "supervisor/auth/auth_config.h"
#include "supervisor/deploy/function_path.h"
#include "supervisor/deploy/source_map.h"

namespace isobar::supervisor {

enum class FunctionKind { kQuery, kMutation, kAction };

absl::string_view KindName(FunctionKind kind);  // "query", "mutation", "action"

struct FunctionDef {
  std::string path;  // "messages:send"
  FunctionKind kind = FunctionKind::kQuery;
  bool internal = false;
  storage::Validator args = storage::Validator::Any();
  std::optional<storage::Validator> returns;  // nullopt: not validated
};

// A table of the schema: its indexes and the validator of its documents (without _id/_creationTime).
struct SchemaTable {
  std::string name;
  std::vector<std::pair<std::string, std::vector<std::string>>> indexes;  // name, declared fields
  std::optional<storage::Validator> document;  // nullopt: v.any()
};

struct Schema {
  std::vector<SchemaTable> tables;
  bool validation = true;  // schemaValidation
  const SchemaTable* Find(absl::string_view table) const;
};

// Math.random's seed and Date's time while a version's modules are imported: fixed at its push, as
// Convex pins its import phase. unix_time_ms 0: not pinned (versions pushed before this existed).
struct ImportPhase {
  uint64_t seed = 0;
  double unix_time_ms = 0;
};

class CodeVersion {
 public:
  // `info` with its sources. INVALID_ARGUMENT when the analysis or schema is malformed. A push builds
  // one before the version is published, and sets its number then (before sharing it).
  static absl::StatusOr<std::shared_ptr<CodeVersion>> Build(const storage::VersionInfo& info);
  // An analysis's JSON (worker/analyze.h) as a plain value.
  static absl::StatusOr<storage::Value> ParseAnalysis(absl::string_view analysis_json);

  int64_t version() const { return version_; }
  void set_version(int64_t version) { version_ = version; }
  // The worker's analysis it was built from (functions, schema, crons, routes).
  const storage::Value& analysis() const { return analysis_; }
  const FunctionDef* Find(const FunctionPath& path) const;
  // Every module, with its source (the worker checks each against its hash), shared by every call.
  const std::shared_ptr<const std::vector<isobar::worker::v1::Module>>& modules() const { return modules_; }
  const std::optional<Schema>& schema() const { return schema_; }
  const ImportPhase& import_phase() const { return import_phase_; }
  // The analysis JSON with the import phase recorded in it (read back by Build).
  static absl::StatusOr<std::string> WithImportPhase(const std::string& analysis_json, const ImportPhase& phase);
  // The modules' source maps, for mapping stack frames back to the user's files.
  const SourceMaps& source_maps() const { return *source_maps_; }
  // Whether its calls reuse warm contexts, if the push said (else the server's --contexts decides).
  std::optional<bool> warm_contexts() const { return warm_contexts_; }
  // The identity providers of its auth.config (none without one).
  const std::vector<AuthProvider>& auth_providers() const { return auth_providers_; }

 private:
  static absl::StatusOr<std::optional<Schema>> ParseSchema(const storage::Value& analysis);

  int64_t version_ = 0;
  storage::Value analysis_;
  std::shared_ptr<const std::vector<isobar::worker::v1::Module>> modules_;
  std::shared_ptr<const SourceMaps> source_maps_ = std::make_shared<const SourceMaps>();
  std::map<std::pair<std::string, std::string>, FunctionDef> functions_;  // by (module, export)
  std::optional<Schema> schema_;
  std::optional<bool> warm_contexts_;
  ImportPhase import_phase_;
  std::vector<AuthProvider> auth_providers_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_DEPLOY_CODE_VERSION_H_
