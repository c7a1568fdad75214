#include "storage/transaction.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"

namespace isobar::storage {
namespace {

bool InRange(const std::string& key, const KeyRange& range) {
  return key >= range.start && (!range.end.has_value() || key < *range.end);
}

// Comes before in scan order.
bool Before(const std::string& a, const std::string& b, Order order) { return order == Order::kAsc ? a < b : a > b; }

}  // namespace

Transaction::Transaction(Persistence& persistence, SchemaCache& schemas, Timestamp begin_ts, uint64_t id_seed,
                         TransactionLimits limits, SnapshotRegistry::Handle snapshot,
                         std::optional<Timestamp> creation_base)
    : persistence_(persistence),
      schemas_(schemas),
      begin_ts_(begin_ts),
      schema_generation_(schemas.generation()),
      snapshot_(std::move(snapshot)),
      limits_(limits),
      ids_(id_seed),
      next_creation_time_(static_cast<double>(creation_base.value_or(begin_ts).value()) / 1e6),
      reads_(limits.max_read_intervals) {}

DocumentLimits Transaction::DocumentLimitsFor(Access access) const {
  // System documents hold what users may send whole: a scheduled job carries up to 16 MiB of
  // arguments nested up to 64 deep (Convex keeps them in a table of their own).
  if (access == Access::kSystem) return DocumentLimits{.max_bytes = 32u << 20, .max_depth = 80};
  return limits_.document;
}

absl::Status Transaction::CountRead(const Value& document) {
  ++documents_read_;
  bytes_read_ += ConvexSize(document);
  if (documents_read_ > limits_.max_documents_read) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many documents read in a single function execution (limit: ",
                                                     limits_.max_documents_read, "). ", kReadLimitHelp));
  }
  if (bytes_read_ > limits_.max_bytes_read) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many bytes read in a single function execution (limit: ",
                                                     limits_.max_bytes_read, " bytes). ", kReadLimitHelp));
  }
  return absl::OkStatus();
}

absl::StatusOr<Transaction::Committed> Transaction::LoadCommitted(const TableSchema& table, const DocumentId& id) {
  ASSIGN_OR_RETURN(std::optional<StoredDocument> stored, persistence_.Get(table.table.number, id.internal, begin_ts_));
  if (!stored.has_value()) return Committed();
  absl::StatusOr<Value> parsed = ParseConvexJson(stored->value_json);
  if (!parsed.ok()) return absl::DataLossError(absl::StrCat("stored document is unreadable: ", parsed.status().message()));
  return Committed(std::make_pair(std::move(*parsed), stored->ts));
}

absl::StatusOr<DocumentId> Transaction::ResolveId(absl::string_view operation, absl::string_view id_text,
                                                  std::optional<absl::string_view> table) {
  absl::StatusOr<DocumentId> id = DecodeDocumentId(id_text);
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid argument `id` for `", operation, "`: ", id.status().message()));
  }
  if (!table.has_value()) return id;
  RETURN_IF_ERROR(ValidateIdentifier("table", *table));
  ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> expected, Table(*table));
  if (expected == nullptr || expected->table.number != id->table) {
    ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> actual, schemas_.ByNumber(id->table));
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid argument `id` for `", operation, "`: expected to be an Id<\"", *table, "\">, got Id<\"",
        actual != nullptr ? actual->table.name : absl::StrCat("table ", id->table.value()), "\"> instead."));
  }
  return id;
}

absl::StatusOr<std::shared_ptr<const TableSchema>> Transaction::Table(absl::string_view name) {
  ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> table, schemas_.ByName(name, /*create=*/false));
  if (table == nullptr) {
    const std::string key = TableNameKey(name);
    RETURN_IF_ERROR(reads_.Add(kTableCatalogIndex, KeyRange{key, key + std::string(1, '\0')}));
  }
  return table;
}

absl::Status Transaction::AddPointRead(const DocumentId& id, const TableSchema* table) {
  if (table == nullptr) {
    // No such table yet: what it will hold once created is what this read depends on.
    const std::string key = TableNumberKey(id.table);
    return reads_.Add(kTableCatalogIndex, KeyRange{key, key + std::string(1, '\0')});
  }
  const std::string key = ByIdKey(id);
  return reads_.Add(table->by_id().id, KeyRange{key, key + std::string(1, '\0')});
}

absl::StatusOr<Transaction::Lookup> Transaction::Find(const DocumentId& id) {
  Lookup out;
  ASSIGN_OR_RETURN(out.table, schemas_.ByNumber(id.table));
  RETURN_IF_ERROR(AddPointRead(id, out.table.get()));
  if (out.table == nullptr) return out;
  if (auto it = writes_.find(id); it != writes_.end()) {
    // A document this transaction wrote is read from its writes, and counts as read, as on Convex.
    out.current = it->second.new_document;
    if (out.current.has_value()) RETURN_IF_ERROR(CountRead(*out.current));
    return out;
  }
  ASSIGN_OR_RETURN(out.committed, LoadCommitted(*out.table, id));
  if (out.committed.has_value()) {
    RETURN_IF_ERROR(CountRead(out.committed->first));
    out.current = out.committed->first;  // values share their contents: no deep copy
  }
  return out;
}

absl::StatusOr<std::optional<Value>> Transaction::Get(const DocumentId& id) {
  ASSIGN_OR_RETURN(Lookup found, Find(id));
  return std::move(found.current);
}

absl::StatusOr<std::optional<Value>> Transaction::Peek(const DocumentId& id) {
  ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> table, schemas_.ByNumber(id.table));
  if (table == nullptr) return std::nullopt;
  if (auto it = writes_.find(id); it != writes_.end()) return it->second.new_document;
  ASSIGN_OR_RETURN(Committed committed, LoadCommitted(*table, id));
  if (!committed.has_value()) return std::nullopt;
  return std::move(committed->first);
}

absl::Status Transaction::NotePeeked(const DocumentId& id, const std::optional<Value>& document) {
  RETURN_IF_ERROR(AddPointReadOf(id));
  return document.has_value() ? CountRead(*document) : absl::OkStatus();
}

absl::Status Transaction::AddPointReadOf(const DocumentId& id) {
  ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> table, schemas_.ByNumber(id.table));
  return AddPointRead(id, table.get());
}

absl::Status Transaction::RecordWrite(const DocumentId& id, std::shared_ptr<const TableSchema> table,
                                      std::optional<Value> new_document, Committed committed) {
  if (new_document.has_value()) {
    for (const IndexInfo& index : table->indexes) {
      const size_t size = IndexKeyOf(*new_document, index.fields).size();
      if (size > limits_.max_index_key_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "The indexed fields of this document are too large for index ", table->table.name, ".", index.name, " (",
            size, " bytes; the limit is ", limits_.max_index_key_bytes, ")"));
      }
    }
  }
  auto it = writes_.find(id);
  // A write that leaves the document as it was is no write, as Convex counts them.
  const std::optional<Value>& before =
      it != writes_.end() ? it->second.new_document
                          : (committed.has_value() ? std::optional<Value>(committed->first) : std::nullopt);
  if (before.has_value() == new_document.has_value() && (!before.has_value() || *before == *new_document)) {
    return absl::OkStatus();
  }
  // Only writes to user tables count (Convex's num_user_writes); a scheduled job's document does not.
  const bool counted = table->table.name.empty() || table->table.name[0] != '_';
  if (counted && write_count_ + 1 > limits_.max_documents_written) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many writes in a single function execution (limit: ",
                                                     limits_.max_documents_written, ")"));
  }
  const size_t size = counted && new_document.has_value() ? ConvexSize(*new_document) : 0;
  if (counted && bytes_written_ + size > limits_.max_bytes_written) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many bytes written in a single function execution (limit: ",
                                                     limits_.max_bytes_written >> 20, " MiB)"));
  }
  if (counted) ++write_count_;
  bytes_written_ += size;
  if (!counted) {
    // Not Convex's limits, but bounds of ours: scheduled jobs and other system documents of one
    // transaction (nested mutations included) stay within twice the user limits.
    const size_t system_size = new_document.has_value() ? ConvexSize(*new_document) : 0;
    if (system_write_count_ + 1 > 2 * limits_.max_documents_written ||
        system_bytes_written_ + system_size > 4 * limits_.max_bytes_written) {
      return absl::ResourceExhaustedError(
          "Too many system writes (scheduled functions) in a single function execution");
    }
    ++system_write_count_;
    system_bytes_written_ += system_size;
  }
  if (it == writes_.end()) {
    PendingWrite pending;
    pending.table = table;
    if (committed.has_value()) {
      pending.old_document = std::move(committed->first);
      pending.old_ts = committed->second;
    }
    it = writes_.emplace(id, std::move(pending)).first;
  }
  it->second.new_document = std::move(new_document);
  return absl::OkStatus();
}

absl::StatusOr<DocumentId> Transaction::Insert(absl::string_view table_name, const Value& fields, Access access) {
  RETURN_IF_ERROR(ValidateIdentifier("table", table_name));
  if (table_name[0] == '_' && access != Access::kSystem) {
    return absl::InvalidArgumentError(absl::StrCat("System tables (prefixed with `_`) are read-only: \"", table_name, "\""));
  }
  RETURN_IF_ERROR(ValidateUserFields(fields));
  ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> table, schemas_.ByName(table_name, /*create=*/true));
  DocumentId id{table->table.number, ids_.Next(Timestamp(static_cast<int64_t>(next_creation_time_ * 1e6)))};
  const double creation_time = next_creation_time_;
  next_creation_time_ = std::nextafter(next_creation_time_, INFINITY);
  ASSIGN_OR_RETURN(Value document, WithSystemFields(fields, id, creation_time, DocumentLimitsFor(access)));
  // A freshly generated id (112 random bits) has no committed version.
  RETURN_IF_ERROR(RecordWrite(id, table, std::move(document), /*committed=*/std::nullopt));
  return id;
}

absl::Status Transaction::InsertImported(absl::string_view table_name, const DocumentId& id, double creation_time,
                                         const Value& fields, Access access) {
  RETURN_IF_ERROR(ValidateUserFields(fields));
  ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> table, schemas_.ByName(table_name, /*create=*/false));
  if (table == nullptr) return absl::NotFoundError(absl::StrCat("table \"", table_name, "\" does not exist"));
  if (table->table.number != id.table) {
    return absl::InvalidArgumentError(absl::StrCat("the id ", EncodeDocumentId(id), " is of table number ",
                                                   id.table.value(), ", but \"", table_name, "\" is number ",
                                                   table->table.number.value(), " here"));
  }
  ASSIGN_OR_RETURN(Lookup found, Find(id));
  if (found.current.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("a document with id ", EncodeDocumentId(id), " exists already"));
  }
  ASSIGN_OR_RETURN(Value document, WithSystemFields(fields, id, creation_time, DocumentLimitsFor(access)));
  return RecordWrite(id, table, std::move(document), std::move(found.committed));
}

absl::StatusOr<Transaction::Lookup> Transaction::FindForWrite(const DocumentId& id, absl::string_view verb,
                                                              Access access) {
  ASSIGN_OR_RETURN(Lookup found, Find(id));
  if (!found.current.has_value()) {
    return absl::NotFoundError(absl::StrCat(verb, " on nonexistent document ID ", EncodeDocumentId(id)));
  }
  if (found.table->table.name[0] == '_' && access != Access::kSystem) {
    return absl::InvalidArgumentError("System tables (prefixed with `_`) are read-only");
  }
  return found;
}

absl::StatusOr<Value> Transaction::Patch(const DocumentId& id, const Value& patch, Access access) {
  if (patch.type() != Value::Type::kObject) return absl::InvalidArgumentError("a patch must be an object");
  ASSIGN_OR_RETURN(Lookup found, FindForWrite(id, "Update", access));
  const Value& existing = *found.current;
  Value::Object merged = existing.object();
  for (const auto& [name, value] : patch.object()) {
    if (!name.empty() && name[0] == '_') {
      if ((name == "_id" || name == "_creationTime") && Compare(value, existing.Get(name)) == 0) continue;
      return absl::InvalidArgumentError(absl::StrCat("Field name \"", name,
                                                     "\" starts with an underscore, which is reserved for system fields"));
    }
    auto it = std::lower_bound(merged.begin(), merged.end(), name,
                               [](const Value::Field& f, const std::string& n) { return f.first < n; });
    bool present = it != merged.end() && it->first == name;
    if (value.is_undefined()) {
      if (present) merged.erase(it);
    } else if (present) {
      it->second = value;
    } else {
      merged.insert(it, {name, value});
    }
  }
  Value user_fields = Value::MakeSortedObject(std::move(merged));
  RETURN_IF_ERROR(ValidateUserFields(user_fields, &id, &existing.Get("_creationTime")));
  ASSIGN_OR_RETURN(Value document,
                   WithSystemFields(user_fields, id, existing.Get("_creationTime").float64(),
                                                    DocumentLimitsFor(access)));
  RETURN_IF_ERROR(RecordWrite(id, found.table, document, std::move(found.committed)));
  return document;
}

absl::StatusOr<Value> Transaction::Replace(const DocumentId& id, const Value& fields, Access access) {
  ASSIGN_OR_RETURN(Lookup found, FindForWrite(id, "Replace", access));
  const Value& creation_time = found.current->Get("_creationTime");
  RETURN_IF_ERROR(ValidateUserFields(fields, &id, &creation_time));
  ASSIGN_OR_RETURN(Value document,
                   WithSystemFields(fields, id, creation_time.float64(), DocumentLimitsFor(access)));
  RETURN_IF_ERROR(RecordWrite(id, found.table, document, std::move(found.committed)));
  return document;
}

absl::StatusOr<Value> Transaction::Delete(const DocumentId& id, Access access) {
  ASSIGN_OR_RETURN(Lookup found, FindForWrite(id, "Delete", access));
  Value deleted = *found.current;
  RETURN_IF_ERROR(RecordWrite(id, found.table, std::nullopt, std::move(found.committed)));
  return deleted;
}

absl::StatusOr<std::vector<IndexRow>> Transaction::ScanCommitted(const TableSchema& table, const IndexInfo& index,
                                                                  const KeyRange& range, Order order, size_t limit) {
  if (index.name != kByIdIndex) return persistence_.Scan(index.id, range, order, begin_ts_, limit);
  std::vector<IndexRow> rows;
  std::optional<InternalIdRange> ids = ByIdRange(table.table.number, range);
  if (!ids.has_value()) return rows;
  ASSIGN_OR_RETURN(rows, persistence_.ScanIds(table.table.number, ids->first, ids->end, order, begin_ts_, limit));
  for (IndexRow& row : rows) row.key = ByIdKey(DocumentId{row.table, row.doc});
  return rows;
}

absl::StatusOr<ScanResult> Transaction::Scan(std::shared_ptr<const TableSchema> table, const IndexInfo& index,
                                             const KeyRange& range, Order order, size_t limit) {
  ScanResult result;
  // This transaction's own documents in the range, in scan order.
  std::vector<std::pair<std::string, const Value*>> overlay;
  for (const auto& [id, write] : writes_) {
    if (write.table->table.number != table->table.number || !write.new_document.has_value()) continue;
    std::string key = IndexKeyOf(*write.new_document, index.fields);
    if (InRange(key, range)) overlay.emplace_back(std::move(key), &*write.new_document);
  }
  std::sort(overlay.begin(), overlay.end(), [order](const auto& a, const auto& b) { return Before(a.first, b.first, order); });
  size_t next_overlay = 0;

  KeyRange remaining = range;
  std::vector<IndexRow> page;
  size_t next_row = 0;
  bool committed_exhausted = false;
  std::optional<std::string> last_key;
  const size_t page_size = std::clamp<size_t>(limit + 1, 1, 1024);
  while (result.documents.size() < limit) {
    // Refill the committed page when it runs out.
    if (next_row == page.size() && !committed_exhausted) {
      ASSIGN_OR_RETURN(page, ScanCommitted(*table, index, remaining, order, page_size));
      next_row = 0;
      committed_exhausted = page.size() < page_size;
      if (!page.empty()) {
        if (order == Order::kAsc) {
          remaining.start = page.back().key + std::string(1, '\0');
        } else {
          remaining.end = page.back().key;
        }
      }
    }
    // Committed rows for documents this transaction wrote are stale: the overlay has the truth.
    while (next_row < page.size() && writes_.count(DocumentId{page[next_row].table, page[next_row].doc}) > 0) {
      ++next_row;
    }
    if (next_row == page.size() && !committed_exhausted) continue;
    const bool have_row = next_row < page.size();
    const bool have_overlay = next_overlay < overlay.size();
    if (!have_row && !have_overlay) {
      result.exhausted = true;
      break;
    }
    if (have_row && (!have_overlay || Before(page[next_row].key, overlay[next_overlay].first, order))) {
      absl::StatusOr<Value> parsed = ParseConvexJson(page[next_row].document.value_json);
      if (!parsed.ok()) return absl::DataLossError("stored document is unreadable");
      RETURN_IF_ERROR(CountRead(*parsed));
      last_key = page[next_row].key;
      result.keys.push_back(page[next_row].key);
      result.documents.push_back(std::move(*parsed));
      ++next_row;
    } else {
      last_key = overlay[next_overlay].first;
      result.keys.push_back(overlay[next_overlay].first);
      result.documents.push_back(*overlay[next_overlay].second);
      ++next_overlay;
    }
  }
  // The read set covers what was consumed: the whole range if exhausted, else up to the last key.
  KeyRange consumed = range;
  if (!result.exhausted && last_key.has_value()) {
    if (order == Order::kAsc) {
      consumed.end = *last_key + std::string(1, '\0');
    } else {
      consumed.start = *last_key;
    }
  } else if (!result.exhausted && limit == 0) {
    return result;
  }
  RETURN_IF_ERROR(reads_.Add(index.id, std::move(consumed)));
  return result;
}

}  // namespace isobar::storage
