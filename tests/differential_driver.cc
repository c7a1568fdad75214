#include "tests/differential_driver.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/document_id.h"

namespace isobar::testing {

using storage::Value;

namespace {

constexpr int kPoolSize = 48;
constexpr int kSchemaVariants = 3;
const char* const kTables[] = {"t0", "t0", "t0", "t0", "t1", "t1", "t1", "t2", "t2", "t3"};
const char* const kIndexes[] = {"by_creation_time", "by_id", "by_a", "by_a", "by_ab", "by_ab", "by_b", "by_nothing"};

// The user indexes of each schema the test pushes (claims.by_name is in every one: the bursts use it).
std::map<std::string, Model::UserIndexes> SchemaIndexes(int variant) {
  std::map<std::string, Model::UserIndexes> tables = {{"claims", {{"by_name", {"name"}}}}};
  switch (variant % kSchemaVariants) {
    case 0:
      tables["t0"] = {{"by_a", {"a"}}, {"by_ab", {"a", "b"}}};
      break;
    case 1:
      tables["t0"] = {{"by_a", {"a"}}};
      tables["t1"] = {{"by_b", {"b"}}};
      break;
    default:
      tables["t0"] = {{"by_ab", {"a", "b"}}, {"by_b", {"b"}}};
      tables["t2"] = {{"by_a", {"a"}}};
  }
  return tables;
}

std::string SchemaJson(const std::map<std::string, Model::UserIndexes>& tables) {
  std::string json = R"({"schemaValidation":false,"tables":[)";
  bool first_table = true;
  for (const auto& [table, indexes] : tables) {
    absl::StrAppend(&json, first_table ? "" : ",", R"({"tableName":")", table, R"(","indexes":[)");
    first_table = false;
    for (size_t i = 0; i < indexes.size(); ++i) {
      absl::StrAppend(&json, i == 0 ? "" : ",", R"({"indexDescriptor":")", indexes[i].first, R"(","fields":[)");
      for (size_t f = 0; f < indexes[i].second.size(); ++f) {
        absl::StrAppend(&json, f == 0 ? "" : ",", "\"", indexes[i].second[f], "\"");
      }
      absl::StrAppend(&json, "]}");
    }
    absl::StrAppend(&json, R"(],"searchIndexes":[],"vectorIndexes":[]})");
  }
  return json + "]}";
}

// The fields of an index as a range may name them (user fields, then _creationTime and _id).
std::vector<std::string> RangeFields(const std::string& index) {
  if (index == "by_id") return {"_id"};
  if (index == "by_creation_time") return {"_creationTime", "_id"};
  if (index == "by_a") return {"a", "_creationTime", "_id"};
  if (index == "by_ab") return {"a", "b", "_creationTime", "_id"};
  if (index == "by_b") return {"b", "_creationTime", "_id"};
  return {"a"};
}

Value Object(Value::Object fields) { return *Value::MakeObject(std::move(fields)); }

std::string Canonical(const std::string& json) {
  absl::StatusOr<Value> value = storage::ParseConvexJson(json);
  return value.ok() ? storage::ToConvexJson(*value) : absl::StrCat("(unreadable: ", json, ")");
}

const std::string& KindOf(const Value& spec) { return spec.Get("kind").string(); }

}  // namespace

Driver::Driver(SupervisorProcess& supervisor, std::string deployment, uint64_t seed)
    : supervisor_(supervisor), deployment_(std::move(deployment)), rng_(seed) {}

absl::Status Driver::Start() {
  absl::StatusOr<std::string> key = supervisor_.Deploy(deployment_, "tests/apps/model.modules");
  if (!key.ok()) return key.status();
  key_ = *key;
  channel_ = grpc::CreateChannel(supervisor_.address(), grpc::InsecureChannelCredentials());
  stub_ = isobar::v1::Functions::NewStub(channel_);
  if (absl::Status pushed = PushSchema(0); !pushed.ok()) return pushed;
  FunctionResult setup = Mutate("model:setup", R"({"counters":2,"balance":6})");
  if (!setup.status.ok()) return absl::InternalError(setup.status.error_message());
  Value made = *storage::ParseConvexJson(setup.response.result_json());
  for (const Value& id : made.Get("counters").array()) counters_.push_back(id.string());
  counter_values_.assign(counters_.size(), 0);
  account_x_ = made.Get("x").string();
  account_y_ = made.Get("y").string();
  balance_ = 6;
  for (int i = 0; i < kPoolSize; ++i) pool_.push_back(NewSpec());
  return absl::OkStatus();
}

absl::Status Driver::PushSchema(int variant) {
  absl::StatusOr<isobar::v1::PushRequest> push = SupervisorProcess::BundlePush(deployment_, "tests/apps/model.modules");
  if (!push.ok()) return push.status();
  const std::map<std::string, Model::UserIndexes> indexes = SchemaIndexes(variant);
  push->set_schema_json(SchemaJson(indexes));
  push->set_context_policy(isobar::v1::CONTEXT_POLICY_WARM);  // the data is under test, not the realm
  auto deployments = isobar::v1::Deployments::NewStub(channel_);
  grpc::ClientContext context;
  supervisor_.Authorize(context);
  isobar::v1::PushResponse response;
  grpc::Status status = deployments->Push(&context, *push, &response);
  if (!status.ok()) return absl::InternalError(absl::StrCat("push: ", status.error_message()));
  for (const auto& [table, declared] : indexes) {
    for (const auto& [name, fields] : declared) {
      bool kept = false;
      for (const auto& [old_name, old_fields] : schema_[table]) kept = kept || (old_name == name && old_fields == fields);
      if (!kept) ++index_generation_[absl::StrCat(table, ".", name)];
    }
  }
  schema_ = indexes;
  model_.SetSchema(indexes);
  schema_variant_ = variant;
  return absl::OkStatus();
}

size_t Driver::documents() const {
  size_t n = 0;
  for (const char* table : {"t0", "t1", "t2", "t3", "_scheduled_functions"}) n += model_.Documents(table).size();
  return n;
}

std::string Driver::ArgsOf(const Value& spec, int64_t nonce) const {
  Value::Object args = {{"spec", spec}};
  if (nonce >= 0) args.emplace_back("nonce", Value::Float64(static_cast<double>(nonce)));
  return storage::ToConvexJson(Object(std::move(args)));
}

FunctionResult Driver::Mutate(const std::string& path, const std::string& args_json) {
  return CallFunction(*stub_, CallKind::kMutation, {.deployment = deployment_, .key = key_, .path = path, .args_json = args_json});
}

Driver::Answer Driver::Ask(const Value& spec, int64_t nonce) {
  FunctionResult r = CallFunction(*stub_, CallKind::kQuery,
                                  {.deployment = deployment_, .key = key_, .path = "model:run", .args_json = ArgsOf(spec, nonce)});
  if (!r.status.ok()) return Answer{false, "", r.status.error_message()};
  return Answer{true, Canonical(r.response.result_json()), ""};
}

std::string Driver::Predictable(const Value& spec, const std::string& json) const {
  if (KindOf(spec) != "paginate") return json;
  absl::StatusOr<Value> result = storage::ParseConvexJson(json);
  return result.ok() ? storage::ToConvexJson(result->Get("page")) : json;
}

Model::Expected Driver::Want(const Value& spec) const {
  const Value& cursor = spec.Get("cursor");
  if (cursor.type() != Value::Type::kString) return model_.Run(spec);
  auto it = cursors_.find(cursor.string());
  const std::string index = spec.Get("index").type() == Value::Type::kString ? spec.Get("index").string() : "";
  auto generation = index_generation_.find(absl::StrCat(spec.Get("table").string(), ".", index));
  const int now = generation == index_generation_.end() ? 0 : generation->second;
  if (it == cursors_.end() || it->second.generation != now) return Model::Expected{true, ""};
  return model_.Run(spec, &it->second.after);
}

std::string Driver::Expect(const Value& spec) const {
  Model::Expected expected = Want(spec);
  return expected.error ? "error: ..." : expected.json;
}

bool Driver::AgreesWithModel(const Value& spec, const Answer& answer, const char* what) const {
  Model::Expected expected = Want(spec);
  const bool agrees = expected.error ? !answer.ok : answer.ok && Predictable(spec, answer.json) == expected.json;
  EXPECT_TRUE(agrees) << what << " disagrees with the model for " << storage::ToConvexJson(spec)
                      << "\n  server: " << (answer.ok ? answer.json : "error: " + answer.error)
                      << "\n  model:  " << (expected.error ? "an error" : expected.json);
  return agrees;
}

bool Driver::Matches(const Value& spec, const std::string& seen) const {
  Model::Expected expected = Want(spec);
  const bool failed = seen.rfind("error: ", 0) == 0;
  if (expected.error || failed) return expected.error && failed;
  return Predictable(spec, Canonical(seen)) == expected.json;
}

bool Driver::CheckQuery(const Value& spec, bool follow_page) {
  const Answer first = Ask(spec, -1);
  const Answer cached = Ask(spec, -1);  // a hit unless a commit invalidated it (or it failed)
  const Answer fresh = Ask(spec, next_nonce_++);
  bool ok = true;
  for (const Answer* answer : {&first, &cached}) {
    const bool same = answer->ok == fresh.ok && answer->json == fresh.json && answer->error == fresh.error;
    EXPECT_TRUE(same) << "a cached answer differs from a fresh one for " << storage::ToConvexJson(spec)
                      << "\n  cached: " << (answer->ok ? answer->json : "error: " + answer->error)
                      << "\n  fresh:  " << (fresh.ok ? fresh.json : "error: " + fresh.error);
    ok = ok && same;
  }
  ok = AgreesWithModel(spec, fresh, "a fresh answer") && ok;
  if (!ok || KindOf(spec) != "paginate" || !fresh.ok || !follow_page) return ok;
  // A page that continues: remember where, and check the next page too.
  Value result = *storage::ParseConvexJson(fresh.json);
  const Value& page = result.Get("page");
  if (result.Get("isDone").boolean() || page.array().empty()) return ok;
  const std::string index =
      spec.Get("index").type() == Value::Type::kString ? spec.Get("index").string() : "by_creation_time";
  const std::string cursor = result.Get("continueCursor").string();
  auto generation = index_generation_.find(absl::StrCat(spec.Get("table").string(), ".", index));
  cursors_[cursor] = Cursor{model_.KeyOf(spec.Get("table").string(), index, page.array().back()),
                            generation == index_generation_.end() ? 0 : generation->second};
  Value::Object next = spec.object();
  for (auto& field : next) {
    if (field.first == "cursor") field.second = Value::String(cursor);
  }
  Value follow = Value::MakeSortedObject(std::move(next));
  if (Roll(10) < 3) pool_[Roll(kPoolSize)] = follow;  // asked again later, after writes
  return CheckQuery(follow, /*follow_page=*/false);
}

bool Driver::Write() {
  const uint32_t roll = Roll(1000);
  if (roll < 4) {
    absl::Status pushed = PushSchema(schema_variant_ + 1);
    EXPECT_TRUE(pushed.ok()) << pushed;
    return pushed.ok();
  }
  Value op;
  std::string table, id;
  enum class Expect { kDocument, kDeleted, kFailure, kScheduled } expect = Expect::kDocument;
  if (roll < 350 || (roll < 880 && RandomId(true).empty())) {
    table = RandomTable();
    op = Object({{"kind", Value::String("insert")}, {"table", Value::String(table)}, {"doc", RandomDocument()}});
    model_.MarkExists(table);  // even if the insert failed, the table would now exist
  } else if (roll < 530) {
    id = RandomId(true);
    Value::Object fields;
    if (Roll(2) == 0) fields.emplace_back("a", RandomFieldValue("a"));
    if (Roll(2) == 0 || fields.empty()) fields.emplace_back("b", RandomFieldValue("b"));
    op = Object({{"kind", Value::String("patch")}, {"id", Value::String(id)}, {"fields", Object(std::move(fields))}});
  } else if (roll < 630) {
    id = RandomId(true);
    op = Object({{"kind", Value::String("replace")}, {"id", Value::String(id)}, {"doc", RandomDocument()}});
  } else if (roll < 830) {
    id = RandomId(true);
    op = Object({{"kind", Value::String("delete")}, {"id", Value::String(id)}});
    expect = Expect::kDeleted;
  } else if (roll < 880) {
    // A mutation that writes and then throws commits nothing. (Into a table that exists: on Isobar a
    // table created by a failed mutation stays, empty, where on Convex it would not.)
    table = model_.Exists("t0") ? "t0" : "t1";
    if (!model_.Exists(table)) return true;
    op = Object({{"kind", Value::String("insertThenThrow")}, {"table", Value::String(table)}, {"doc", RandomDocument()}});
    expect = Expect::kFailure;
  } else if (roll < 930) {
    op = Object({{"kind", Value::String("schedule")}, {"tag", Value::Float64(Roll(1000))}});
    expect = Expect::kScheduled;
  } else {
    if (deleted_ids_.empty()) return true;
    id = deleted_ids_[Roll(static_cast<uint32_t>(deleted_ids_.size()))];
    op = Object({{"kind", Value::String(Roll(2) ? "delete" : "patch")}, {"id", Value::String(id)},
                 {"fields", Object({{"b", Value::Float64(1)}})}});
    expect = Expect::kFailure;  // the document is gone
  }
  FunctionResult r = Mutate("model:apply", storage::ToConvexJson(Object({{"op", op}})));
  if (expect == Expect::kFailure) {
    EXPECT_FALSE(r.status.ok()) << "should have failed: " << storage::ToConvexJson(op);
    return !r.status.ok();
  }
  EXPECT_TRUE(r.status.ok()) << storage::ToConvexJson(op) << ": " << r.status.error_message();
  if (!r.status.ok()) return false;
  Value result = *storage::ParseConvexJson(r.response.result_json());
  switch (expect) {
    case Expect::kDeleted:
      model_.Remove(id);
      deleted_ids_.push_back(id);
      break;
    case Expect::kScheduled:
      model_.Put("_scheduled_functions", result);
      break;
    default:
      if (table.empty()) table = model_.Find(id)->first;
      model_.Put(table, result);
  }
  return true;
}

Value Driver::PoolSpec() {
  if (Roll(10) < 2) pool_[Roll(kPoolSize)] = NewSpec();
  return pool_[Roll(kPoolSize)];
}

Value Driver::NewSpec() {
  const uint32_t roll = Roll(100);
  if (roll < 12) {
    const uint32_t which = Roll(4);
    std::string id = which < 2 ? RandomId(true) : which == 2 && !deleted_ids_.empty()
                                                      ? deleted_ids_[Roll(static_cast<uint32_t>(deleted_ids_.size()))]
                                                      : "";
    if (id.empty()) {
      // An id of a table that may not exist yet.
      storage::DocumentId future{storage::TableNumber(storage::kFirstUserTableNumber + Roll(8)), {}};
      for (uint8_t& byte : future.internal) byte = static_cast<uint8_t>(Roll(256));
      id = storage::EncodeDocumentId(future);
    }
    return Object({{"kind", Value::String("get")}, {"id", Value::String(id)}});
  }
  if (roll < 18) return Object({{"kind", Value::String("count")}, {"table", Value::String(RandomTable())}});
  static const char* const kKinds[] = {"collect", "collect", "take", "take", "first", "first",
                                       "unique",  "iterate", "paginate", "paginate"};
  const std::string kind = kKinds[Roll(10)];
  if (roll < 24) {
    Value::Object spec = {{"kind", Value::String(kind == "paginate" || kind == "unique" ? "collect" : kind)},
                          {"n", Value::Float64(1 + Roll(4))},
                          {"system", Value::Boolean(true)},
                          {"table", Value::String("_scheduled_functions")}};
    if (Roll(2)) spec.emplace_back("order", Value::String(Roll(2) ? "asc" : "desc"));
    return Object(std::move(spec));
  }
  return RandomSource(kind);
}

Value Driver::RandomSource(const std::string& kind) {
  Value::Object spec = {{"kind", Value::String(kind)}, {"table", Value::String(RandomTable())}};
  if (kind == "take" || kind == "iterate" || kind == "paginate") {
    spec.emplace_back("n", Value::Float64(kind == "take" ? Roll(6) : 1 + Roll(4)));
  }
  if (kind == "paginate") spec.emplace_back("cursor", Value::Null());
  if (Roll(100) < 65) {
    const std::string index = kIndexes[Roll(sizeof(kIndexes) / sizeof(kIndexes[0]))];
    spec.emplace_back("index", Value::String(index));
    spec.emplace_back("range", RandomRange(index));
  }
  if (Roll(3) > 0) spec.emplace_back("order", Value::String(Roll(2) ? "asc" : "desc"));
  if (kind != "paginate" && Roll(5) == 0) spec.emplace_back("filterB", RandomFieldValue("b"));
  return Object(std::move(spec));
}

Value Driver::RandomRange(const std::string& index) {
  const std::vector<std::string> fields = RangeFields(index);
  Value::Array range;
  const size_t equal = std::min<size_t>(fields.size(), Roll(3) == 0 ? 0 : Roll(static_cast<uint32_t>(fields.size()) + 1));
  auto bound = [&](const char* op, const std::string& field) {
    range.push_back(Object({{"field", Value::String(field)}, {"op", Value::String(op)}, {"value", RandomFieldValue(field)}}));
  };
  for (size_t i = 0; i < equal; ++i) bound("eq", fields[i]);
  if (equal < fields.size()) {
    if (Roll(2)) bound(Roll(2) ? "gt" : "gte", fields[equal]);
    if (Roll(2)) bound(Roll(2) ? "lt" : "lte", fields[equal]);
  }
  return Value::MakeArray(std::move(range));
}

Value Driver::RandomFieldValue(const std::string& field) {
  if (field == "b") return Value::Float64(Roll(3));
  if (field == "_id") {
    std::string id = Roll(4) == 0 ? "" : RandomId(false);
    return Value::String(id.empty() ? std::string(1, "0jkz"[Roll(4)]) : id);
  }
  if (field == "_creationTime") {
    std::string id = RandomId(false);
    std::optional<std::pair<std::string, Value>> found = id.empty() ? std::nullopt : model_.Find(id);
    const double t = found.has_value() ? found->second.Get("_creationTime").float64() : 1.7e12 + Roll(1000);
    return Value::Float64(Roll(3) == 0 ? t + (Roll(2) ? 0.5 : -0.5) : t);
  }
  if (Roll(2) == 0) {
    // Half the time a value some document has: bounds that land on data, documents that collide.
    const std::string id = RandomId(true);
    if (!id.empty()) {
      const Value value = model_.Find(id)->second.GetPath(field);
      if (!value.is_undefined()) return value;
    }
  }
  switch (Roll(9)) {
    case 0: return Value::String("x");
    case 1: return Value::String("y");
    case 8: return Value::String(std::string("x\0", 2));  // "x" is a byte prefix of its encoding
    case 2: return Value::Boolean(true);
    case 3: return Value::Null();
    default: return Value::Float64(Roll(4));
  }
}

Value Driver::RandomDocument() {
  Value::Object fields = {{"b", RandomFieldValue("b")}};
  if (Roll(5) > 0) fields.emplace_back("a", RandomFieldValue("a"));
  fields.emplace_back("s", Value::String(std::string(1 + Roll(3), static_cast<char>('p' + Roll(4)))));
  return Object(std::move(fields));
}

std::string Driver::RandomTable() { return kTables[Roll(sizeof(kTables) / sizeof(kTables[0]))]; }

std::string Driver::RandomId(bool live_only) {
  std::vector<const std::map<std::string, Value>*> tables;
  for (const char* table : {"t0", "t1", "t2", "t3"}) {
    if (!model_.Documents(table).empty()) tables.push_back(&model_.Documents(table));
  }
  if (!live_only && !deleted_ids_.empty() && Roll(4) == 0) {
    return deleted_ids_[Roll(static_cast<uint32_t>(deleted_ids_.size()))];
  }
  if (tables.empty()) return "";
  const std::map<std::string, Value>& documents = *tables[Roll(static_cast<uint32_t>(tables.size()))];
  auto it = documents.begin();
  std::advance(it, static_cast<long>(Roll(static_cast<uint32_t>(documents.size()))));
  return it->first;
}

}  // namespace isobar::testing
