#include "supervisor/deploy/code_version.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/catalog.h"
#include "storage/convex_json.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

const std::string& Text(const Value& object, absl::string_view name) {
  static const std::string kEmpty;
  const Value& v = object.Get(name);
  return v.type() == Value::Type::kString ? v.string() : kEmpty;
}

}  // namespace

absl::string_view KindName(FunctionKind kind) {
  switch (kind) {
    case FunctionKind::kQuery: return "query";
    case FunctionKind::kMutation: return "mutation";
    case FunctionKind::kAction: return "action";
  }
  return "query";
}

const SchemaTable* Schema::Find(absl::string_view table) const {
  for (const SchemaTable& t : tables) {
    if (t.name == table) return &t;
  }
  return nullptr;
}

absl::StatusOr<std::optional<Schema>> CodeVersion::ParseSchema(const Value& analysis) {
  const Value& schema = analysis.Get("schema");
  if (schema.type() != Value::Type::kObject) return std::optional<Schema>();
  Schema out;
  const Value& validation = schema.Get("schemaValidation");
  out.validation = validation.type() != Value::Type::kBoolean || validation.boolean();
  const Value& tables = schema.Get("tables");
  if (tables.type() != Value::Type::kArray) return absl::InvalidArgumentError("schema: \"tables\" is not an array");
  for (const Value& t : tables.array()) {
    SchemaTable table;
    table.name = Text(t, "tableName");
    RETURN_IF_ERROR(storage::ValidateIdentifier("table", table.name));
    if (table.name[0] == '_') {
      return absl::InvalidArgumentError(absl::StrCat(table.name, " is a reserved table name."));
    }
    if (out.Find(table.name) != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("schema: table \"", table.name, "\" is defined twice"));
    }
    const Value& indexes = t.Get("indexes");
    if (indexes.type() == Value::Type::kArray) {
      for (const Value& index : indexes.array()) {
        std::vector<std::string> fields;
        const Value& declared = index.Get("fields");
        if (declared.type() != Value::Type::kArray) {
          return absl::InvalidArgumentError(absl::StrCat("schema: an index of \"", table.name, "\" has no fields"));
        }
        for (const Value& f : declared.array()) {
          if (f.type() != Value::Type::kString) return absl::InvalidArgumentError("schema: index fields are strings");
          fields.push_back(f.string());
        }
        table.indexes.emplace_back(Text(index, "indexDescriptor"), std::move(fields));
      }
    }
    const Value& document = t.Get("documentType");
    if (document.type() == Value::Type::kObject) {
      absl::StatusOr<storage::Validator> v = storage::Validator::Parse(document);
      if (!v.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("schema: table \"", table.name, "\": ", v.status().message()));
      }
      if (v->kind() != storage::Validator::Kind::kAny) table.document = std::move(*v);
    }
    out.tables.push_back(std::move(table));
  }
  return std::optional<Schema>(std::move(out));
}

absl::StatusOr<Value> CodeVersion::ParseAnalysis(absl::string_view analysis_json) {
  storage::ConvexJsonOptions plain;
  plain.plain = true;
  plain.limits.max_depth = 128;
  plain.limits.max_bytes = 64u << 20;
  return storage::ParseConvexJson(analysis_json, plain);
}

absl::StatusOr<std::string> CodeVersion::WithImportPhase(const std::string& analysis_json, const ImportPhase& phase) {
  ASSIGN_OR_RETURN(Value analysis, ParseAnalysis(analysis_json));
  if (analysis.type() != Value::Type::kObject) return absl::InvalidArgumentError("the analysis is not an object");
  Value::Object fields;
  for (const auto& field : analysis.object()) {
    if (field.first != "importPhase") fields.push_back(field);
  }
  // Decimal strings of integers: a 64-bit seed does not survive a JSON number (and the time is whole
  // milliseconds).
  fields.emplace_back("importPhase", Value::MakeSortedObject({{"seed", Value::String(absl::StrCat(phase.seed))},
                                                              {"unixTimeMs", Value::String(absl::StrCat(static_cast<int64_t>(phase.unix_time_ms)))}}));
  ASSIGN_OR_RETURN(Value merged, Value::MakeObject(std::move(fields)));
  return storage::ToConvexJson(merged);
}

absl::StatusOr<std::shared_ptr<CodeVersion>> CodeVersion::Build(const storage::VersionInfo& info) {
  auto code = std::make_shared<CodeVersion>();
  code->version_ = info.version;
  auto modules = std::make_shared<std::vector<isobar::worker::v1::Module>>();
  std::map<std::string, std::string> source_maps;
  for (const storage::ModuleInfo& module : info.modules) {
    isobar::worker::v1::Module& m = modules->emplace_back();
    m.set_path(module.path);
    m.set_sha256(module.sha256);
    m.set_source(module.source);
    if (!module.source_map.empty()) source_maps[module.path] = module.source_map;
  }
  code->modules_ = std::move(modules);
  code->source_maps_ = std::make_shared<const SourceMaps>(std::move(source_maps));
  if (!info.context_policy.empty()) code->warm_contexts_ = info.context_policy == "warm";
  ASSIGN_OR_RETURN(code->analysis_, ParseAnalysis(info.analysis_json));
  const Value& analysis = code->analysis_;
  const Value& seed = analysis.GetPath("importPhase.seed");
  const Value& time = analysis.GetPath("importPhase.unixTimeMs");
  if (seed.type() == Value::Type::kString && time.type() == Value::Type::kString &&
      absl::SimpleAtoi(seed.string(), &code->import_phase_.seed) &&
      absl::SimpleAtod(time.string(), &code->import_phase_.unix_time_ms)) {
    code->import_phase_.unix_time_ms = std::max(code->import_phase_.unix_time_ms, 0.0);
  } else {
    code->import_phase_ = ImportPhase{};
  }
  const Value& functions = analysis.Get("functions");
  if (functions.type() == Value::Type::kArray) {
    for (const Value& f : functions.array()) {
      FunctionDef def;
      def.path = Text(f, "path");
      const std::string& kind = Text(f, "kind");
      if (kind == "query") {
        def.kind = FunctionKind::kQuery;
      } else if (kind == "mutation") {
        def.kind = FunctionKind::kMutation;
      } else if (kind == "action") {
        def.kind = FunctionKind::kAction;
      } else {
        continue;
      }
      def.internal = Text(f, "visibility") == "internal";
      if (f.Get("args").type() == Value::Type::kObject) {
        ASSIGN_OR_RETURN(def.args, storage::Validator::Parse(f.Get("args")));
      }
      if (f.Get("returns").type() == Value::Type::kObject) {
        ASSIGN_OR_RETURN(def.returns, storage::Validator::Parse(f.Get("returns")));
      }
      code->functions_.emplace(std::make_pair(Text(f, "module"), Text(f, "name")), std::move(def));
    }
  }
  ASSIGN_OR_RETURN(code->schema_, ParseSchema(analysis));
  if (const Value& auth = analysis.Get("authConfig"); !auth.is_undefined()) {
    absl::StatusOr<std::vector<AuthProvider>> providers = ParseAuthConfig(auth);
    if (!providers.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("The pushed auth config is invalid: ", providers.status().message()));
    }
    code->auth_providers_ = *std::move(providers);
  }
  return code;
}

const FunctionDef* CodeVersion::Find(const FunctionPath& path) const {
  auto it = functions_.find(std::make_pair(path.module, path.name));
  return it == functions_.end() ? nullptr : &it->second;
}

}  // namespace isobar::supervisor
