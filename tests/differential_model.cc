#include "tests/differential_model.h"

#include <algorithm>

#include "storage/convex_json.h"

namespace isobar::testing {

using storage::Value;

namespace {

const Model::UserIndexes& NoIndexes() {
  static const auto* const kNone = new Model::UserIndexes();
  return *kNone;
}

const std::map<std::string, Value>& NoDocuments() {
  static const auto* const kNone = new std::map<std::string, Value>();
  return *kNone;
}

std::string Text(const Value& spec, const char* field) {
  const Value& v = spec.Get(field);
  return v.type() == Value::Type::kString ? v.string() : std::string();
}

size_t Count(const Value& spec) {
  const Value& n = spec.Get("n");
  return n.type() == Value::Type::kFloat64 && n.float64() > 0 ? static_cast<size_t>(n.float64()) : 0;
}

// Whether `value` stands in relation `op` ("eq", "gt", ...) to `bound`.
bool Holds(const std::string& op, const Value& value, const Value& bound) {
  const int c = storage::Compare(value, bound);
  if (op == "eq") return c == 0;
  if (op == "gt") return c > 0;
  if (op == "gte") return c >= 0;
  if (op == "lt") return c < 0;
  return c <= 0;  // lte
}

}  // namespace

int CompareKeys(const std::vector<Value>& a, const std::vector<Value>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (int c = storage::Compare(a[i], b[i]); c != 0) return c;
  }
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

void Model::SetSchema(const std::map<std::string, UserIndexes>& indexes) {
  indexes_ = indexes;
  for (const auto& [table, declared] : indexes) {
    if (!declared.empty()) exists_.insert(table);
  }
}

void Model::Put(const std::string& table, const Value& document) {
  exists_.insert(table);
  tables_[table][document.Get("_id").string()] = document;
}

void Model::Remove(const std::string& id) {
  for (auto& [table, documents] : tables_) documents.erase(id);
}

std::optional<std::pair<std::string, Value>> Model::Find(const std::string& id) const {
  for (const auto& [table, documents] : tables_) {
    auto it = documents.find(id);
    if (it != documents.end()) return std::make_pair(table, it->second);
  }
  return std::nullopt;
}

const std::map<std::string, Value>& Model::Documents(const std::string& table) const {
  auto it = tables_.find(table);
  return it == tables_.end() ? NoDocuments() : it->second;
}

const Model::UserIndexes& Model::Indexes(const std::string& table) const {
  auto it = indexes_.find(table);
  return it == indexes_.end() ? NoIndexes() : it->second;
}

std::optional<std::vector<std::string>> Model::KeyFields(const std::string& table, const std::string& index) const {
  if (index == "by_id") return std::vector<std::string>{"_id"};
  if (index == "by_creation_time") return std::vector<std::string>{"_creationTime", "_id"};
  for (const auto& [name, fields] : Indexes(table)) {
    if (name != index) continue;
    std::vector<std::string> key = fields;
    key.push_back("_creationTime");
    key.push_back("_id");
    return key;
  }
  return std::nullopt;
}

std::vector<Value> Model::KeyOf(const std::string& table, const std::string& index, const Value& document) const {
  std::vector<Value> key;
  std::optional<std::vector<std::string>> fields = KeyFields(table, index);
  if (!fields.has_value()) return key;
  for (const std::string& field : *fields) key.push_back(document.GetPath(field));
  return key;
}

std::optional<std::vector<Value>> Model::Source(const Value& spec, const std::vector<Value>* cursor_after) const {
  const std::string table = Text(spec, "table");
  const bool has_index = spec.Get("index").type() == Value::Type::kString;
  const std::string index = has_index ? Text(spec, "index") : "by_creation_time";
  // A missing table reads as empty through its system indexes and through indexes the schema
  // declares; any other index of it does not exist (Convex: "Index t.i not found.").
  if (!Exists(table) && (index == "by_creation_time" || index == "by_id")) return std::vector<Value>();
  if (!KeyFields(table, index).has_value()) return std::nullopt;
  if (!Exists(table)) return std::vector<Value>();
  std::vector<std::pair<std::vector<Value>, Value>> keyed;
  for (const auto& [id, document] : Documents(table)) {
    bool in_range = true;
    const Value& range = spec.Get("range");
    if (range.type() == Value::Type::kArray) {
      for (const Value& bound : range.array()) {
        in_range = in_range && Holds(Text(bound, "op"), document.GetPath(Text(bound, "field")), bound.Get("value"));
      }
    }
    if (in_range) keyed.emplace_back(KeyOf(table, index, document), document);
  }
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return CompareKeys(a.first, b.first) < 0; });
  const bool descending = Text(spec, "order") == "desc";
  if (descending) std::reverse(keyed.begin(), keyed.end());
  std::vector<Value> out;
  const Value& filter_b = spec.Get("filterB");
  for (const auto& [key, document] : keyed) {
    if (cursor_after != nullptr) {
      const int c = CompareKeys(key, *cursor_after);
      if (descending ? c >= 0 : c <= 0) continue;
    }
    if (!filter_b.is_undefined() && storage::Compare(document.Get("b"), filter_b) != 0) continue;
    out.push_back(document);
  }
  return out;
}

Model::Expected Model::Run(const Value& spec, const std::vector<Value>* cursor_after) const {
  const std::string kind = Text(spec, "kind");
  auto value = [](const Value& v) { return Expected{false, storage::ToConvexJson(v)}; };
  if (kind == "get") {
    std::optional<std::pair<std::string, Value>> found = Find(Text(spec, "id"));
    return value(found.has_value() ? found->second : Value::Null());
  }
  if (kind == "count") return value(Value::Float64(static_cast<double>(Documents(Text(spec, "table")).size())));
  std::optional<std::vector<Value>> documents = Source(spec, cursor_after);
  if (!documents.has_value()) return Expected{true, ""};
  if (kind == "first") return value(documents->empty() ? Value::Null() : documents->front());
  if (kind == "unique") {
    if (documents->size() > 1) return Expected{true, ""};
    return value(documents->empty() ? Value::Null() : documents->front());
  }
  if (kind == "take" || kind == "iterate" || kind == "paginate") {
    documents->resize(std::min(documents->size(), Count(spec)));
  }
  return value(Value::MakeArray(*std::move(documents)));
}

}  // namespace isobar::testing
