#include "supervisor/deploy/schema_apply.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/catalog.h"
#include "storage/schema_change.h"

namespace isobar::supervisor {
namespace {

constexpr size_t kViolationsShown = 3;

absl::Status CheckIndexes(const SchemaTable& table) {
  if (table.indexes.size() > kMaxIndexesPerTable) {
    return absl::InvalidArgumentError(
        absl::StrCat("Table \"", table.name, "\" cannot have more than ", kMaxIndexesPerTable, " indexes."));
  }
  // Convex's checks, in its words (its index_validation_error.rs).
  std::set<std::string> names;
  std::map<std::vector<std::string>, std::string> field_lists;
  for (const auto& [name, fields] : table.indexes) {
    RETURN_IF_ERROR(storage::ValidateIdentifier("index", name));
    if (name == storage::kByIdIndex || name == storage::kByCreationTimeIndex || name[0] == '_') {
      return absl::InvalidArgumentError(absl::StrCat(
          "In table \"", table.name, "\" cannot name an index \"", name,
          "\" because the name is reserved. Indexes may not start with an underscore or be named \"by_id\" or "
          "\"by_creation_time\"."));
    }
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("Table \"", table.name, "\" has two or more definitions of index \"", name, "\"."));
    }
    if (fields.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("In table \"", table.name, "\" index \"", name, "\" must have at least one field."));
    }
    if (fields.size() > kMaxIndexFields) {
      return absl::InvalidArgumentError(absl::StrCat("Indexes may have up to ", kMaxIndexFields, " fields."));
    }
    std::set<std::string> seen;
    for (const std::string& field : fields) {
      if (!seen.insert(field).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("Duplicate field ", field, ". Index fields must be unique within an index."));
      }
      if (field == "_id") {
        return absl::InvalidArgumentError(
            "`_id` is not a valid index field. To load documents by ID, use `db.get(id)`.");
      }
      if (field == "_creationTime") {
        return absl::InvalidArgumentError(
            "`_creationTime` is automatically added to the end of each index. It should not be added explicitly in "
            "the index definition. See https://docs.convex.dev/using/indexes for more details.");
      }
      for (absl::string_view part : absl::StrSplit(field, '.')) {
        if (part.empty() || part[0] == '_') {
          return absl::InvalidArgumentError("Reserved fields (starting with `_`) are not allowed in indexes.");
        }
      }
    }
    auto [existing, inserted] = field_lists.emplace(fields, name);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("In table \"", table.name, "\" index \"", existing->second,
                                                     "\" and index \"", name,
                                                     "\" have the same fields. Indexes must be unique within a table."));
    }
  }
  return absl::OkStatus();
}

// Every index field must be one the table's documents can have (Convex's check_index_references).
absl::Status CheckIndexFields(const SchemaTable& table, const storage::Validator& document) {
  for (const auto& [name, fields] : table.indexes) {
    for (const std::string& field : fields) {
      const std::vector<std::string> path = absl::StrSplit(field, '.');
      if (!document.CanContainField(path)) {
        return absl::InvalidArgumentError(absl::StrCat("In table \"", table.name, "\" the index \"", name,
                                                       "\" is invalid because it references the field \"", field,
                                                       "\" that does not exist."));
      }
    }
  }
  return absl::OkStatus();
}

// The fields a user index was declared with (its key without the appended _creationTime and _id).
std::vector<std::string> Declared(const storage::IndexInfo& index) {
  std::vector<std::string> fields = index.fields;
  if (fields.size() >= 2) fields.resize(fields.size() - 2);
  return fields;
}

}  // namespace

absl::Status ApplySchema(LiveDeployment& deployment, const Schema& schema,
                         const std::function<absl::Status()>& cancelled) {
  storage::Database& db = deployment.db();
  const storage::DeploymentId id = deployment.info().id;
  for (const SchemaTable& table : schema.tables) {
    RETURN_IF_ERROR(CheckIndexes(table));
    if (schema.validation && table.document.has_value()) RETURN_IF_ERROR(CheckIndexFields(table, *table.document));
  }
  {
    // Every user table the deployment would have: those it has and those the schema adds.
    ASSIGN_OR_RETURN(std::vector<storage::TableInfo> existing, db.catalog().ListTables(id));
    std::set<std::string> names;
    for (const storage::TableInfo& table : existing) {
      if (table.name[0] != '_') names.insert(table.name);
    }
    for (const SchemaTable& table : schema.tables) names.insert(table.name);
    if (names.size() > kMaxTables) {
      return absl::InvalidArgumentError(absl::StrCat("Number of tables cannot exceed ", kMaxTables, "."));
    }
  }

  if (schema.validation) {
    std::vector<std::string> problems;
    for (const SchemaTable& table : schema.tables) {
      if (!table.document.has_value()) continue;
      ASSIGN_OR_RETURN(std::vector<storage::SchemaViolation> found,
                       storage::FindViolations(db, table.name, *table.document, deployment.TableOfId(),
                                               kViolationsShown - problems.size()));
      for (const storage::SchemaViolation& v : found) {
        problems.push_back(absl::StrCat("Document with ID \"", v.id, "\" in table \"", table.name,
                                        "\" does not match the schema: ", v.message));
      }
      if (problems.size() >= kViolationsShown) break;
    }
    if (!problems.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Schema validation failed (fix the documents, or the schema, or push with "
          "defineSchema(..., {schemaValidation: false})).\n",
          absl::StrJoin(problems, "\n")));
    }
  }

  // Every table's user indexes, made to match: tables not in the schema keep none.
  ASSIGN_OR_RETURN(std::vector<storage::TableInfo> tables, db.catalog().ListTables(id));
  for (const storage::TableInfo& table : tables) {
    if (table.name[0] == '_') continue;
    const SchemaTable* wanted = schema.Find(table.name);
    ASSIGN_OR_RETURN(std::vector<storage::IndexInfo> indexes, db.catalog().ListIndexes(id, table.number));
    for (const storage::IndexInfo& index : indexes) {
      if (index.name == storage::kByIdIndex || index.name == storage::kByCreationTimeIndex) continue;
      bool keep = false;
      if (wanted != nullptr) {
        for (const auto& [name, fields] : wanted->indexes) keep = keep || (name == index.name && fields == Declared(index) && index.ready);
      }
      if (keep) continue;
      RETURN_IF_ERROR(cancelled());
      RETURN_IF_ERROR(storage::DropIndex(db, index));
      ISOBAR_LOG(kInfo, "schema") << "deployment \"" << deployment.info().name << "\": index " << table.name << "."
                                  << index.name << " dropped";
    }
  }
  // Indexes of tables that exist are added (and backfilled) one by one; tables that do not exist yet
  // come last, all in one transaction with their indexes (nothing to backfill), so that a push that
  // fails or is cancelled on the way leaves no new table behind.
  std::vector<storage::Catalog::NewTable> new_tables;
  auto add_indexes = [&](const SchemaTable& table, const storage::TableInfo& found) -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<storage::IndexInfo> existing, db.catalog().ListIndexes(id, found.number));
    for (const auto& [name, fields] : table.indexes) {
      bool present = false;
      for (const storage::IndexInfo& index : existing) present = present || index.name == name;
      if (present) continue;
      RETURN_IF_ERROR(cancelled());
      RETURN_IF_ERROR(storage::AddIndex(db, table.name, name, fields, cancelled).status());
    }
    return absl::OkStatus();
  };
  for (const SchemaTable& table : schema.tables) {
    ASSIGN_OR_RETURN(std::optional<storage::TableInfo> found, db.catalog().FindTable(id, table.name));
    if (found.has_value()) {
      RETURN_IF_ERROR(add_indexes(table, *found));
    } else if (!table.indexes.empty()) {
      new_tables.push_back({table.name, {table.indexes.begin(), table.indexes.end()}});
    }
  }
  RETURN_IF_ERROR(cancelled());
  // Nothing to invalidate: the schema cache keeps only tables it found, and no commit can have
  // written to a table that did not exist (a first insert creates it, and then it is not new here).
  ASSIGN_OR_RETURN(std::vector<std::string> created_meanwhile, db.catalog().CreateTables(id, new_tables));
  // A first insert created some of them since we looked: their indexes are added as for any table.
  for (const std::string& name : created_meanwhile) {
    const SchemaTable* table = schema.Find(name);
    ASSIGN_OR_RETURN(std::optional<storage::TableInfo> found, db.catalog().FindTable(id, name));
    if (table != nullptr && found.has_value()) RETURN_IF_ERROR(add_indexes(*table, *found));
  }
  if (!new_tables.empty()) {
    ISOBAR_LOG(kInfo, "schema") << "deployment \"" << deployment.info().name << "\": " << new_tables.size()
                                << " new tables created with their indexes";
  }
  return absl::OkStatus();
}

}  // namespace isobar::supervisor
