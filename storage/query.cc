#include "storage/query.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/document.h"
#include "storage/index_key.h"

namespace isobar::storage {
namespace {

constexpr size_t kMaxOperators = 256;
constexpr int kMaxExpressionDepth = 64;

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("Invalid query: ", what));
}

absl::Status EvalError(absl::string_view what) { return absl::InvalidArgumentError(absl::StrCat("EvalError: ", what)); }

absl::StatusOr<Order> ParseOrder(const Value& order) {
  if (order.is_undefined() || order.type() == Value::Type::kNull) return Order::kAsc;
  if (order.type() == Value::Type::kString && order.string() == "asc") return Order::kAsc;
  if (order.type() == Value::Type::kString && order.string() == "desc") return Order::kDesc;
  return Malformed("order must be null, \"asc\" or \"desc\"");
}

const std::string* StringField(const Value& object, absl::string_view name) {
  const Value& v = object.Get(name);
  return v.type() == Value::Type::kString ? &v.string() : nullptr;
}

absl::StatusOr<std::shared_ptr<const Expr>> ParseExpr(const Value& node, int depth) {
  if (depth > kMaxExpressionDepth) return Malformed("filter expression is nested too deeply");
  if (node.type() != Value::Type::kObject || node.object().size() != 1) {
    return Malformed("each filter expression node is an object with one key");
  }
  const std::string& key = node.object()[0].first;
  const Value& arg = node.object()[0].second;
  auto expr = std::make_shared<Expr>();
  static const std::pair<const char*, Expr::Op> kBinary[] = {
      {"$eq", Expr::Op::kEq},   {"$neq", Expr::Op::kNeq}, {"$lt", Expr::Op::kLt},   {"$lte", Expr::Op::kLte},
      {"$gt", Expr::Op::kGt},   {"$gte", Expr::Op::kGte}, {"$add", Expr::Op::kAdd}, {"$sub", Expr::Op::kSub},
      {"$mul", Expr::Op::kMul}, {"$div", Expr::Op::kDiv}, {"$mod", Expr::Op::kMod}};
  if (key == "$field") {
    if (arg.type() != Value::Type::kString) return Malformed("$field takes a field path");
    expr->op = Expr::Op::kField;
    expr->field = arg.string();
    return expr;
  }
  if (key == "$literal") {
    expr->op = Expr::Op::kLiteral;
    ASSIGN_OR_RETURN(expr->literal, FromPlainJson(arg, /*allow_undefined=*/true));
    return expr;
  }
  for (const auto& [name, op] : kBinary) {
    if (key != name) continue;
    if (arg.type() != Value::Type::kArray || arg.array().size() != 2) {
      return Malformed(absl::StrCat(name, " takes two operands"));
    }
    expr->op = op;
    for (const Value& operand : arg.array()) {
      ASSIGN_OR_RETURN(std::shared_ptr<const Expr> child, ParseExpr(operand, depth + 1));
      expr->args.push_back(std::move(child));
    }
    return expr;
  }
  if (key == "$neg" || key == "$not") {
    expr->op = key == "$neg" ? Expr::Op::kNeg : Expr::Op::kNot;
    ASSIGN_OR_RETURN(std::shared_ptr<const Expr> child, ParseExpr(arg, depth + 1));
    expr->args.push_back(std::move(child));
    return expr;
  }
  if (key == "$and" || key == "$or") {
    if (arg.type() != Value::Type::kArray) return Malformed(absl::StrCat(key, " takes an array"));
    expr->op = key == "$and" ? Expr::Op::kAnd : Expr::Op::kOr;
    for (const Value& operand : arg.array()) {
      ASSIGN_OR_RETURN(std::shared_ptr<const Expr> child, ParseExpr(operand, depth + 1));
      expr->args.push_back(std::move(child));
    }
    return expr;
  }
  return Malformed(absl::StrCat("unknown filter expression \"", key.substr(0, 40), "\""));
}

absl::StatusOr<RangeExpr> ParseRangeExpr(const Value& node) {
  const std::string* type = StringField(node, "type");
  const std::string* field = StringField(node, "fieldPath");
  if (type == nullptr || field == nullptr) return Malformed("range expressions need type and fieldPath");
  RangeExpr out;
  static const std::pair<const char*, RangeExpr::Kind> kKinds[] = {{"Eq", RangeExpr::Kind::kEq},
                                                                   {"Gt", RangeExpr::Kind::kGt},
                                                                   {"Gte", RangeExpr::Kind::kGte},
                                                                   {"Lt", RangeExpr::Kind::kLt},
                                                                   {"Lte", RangeExpr::Kind::kLte}};
  bool known = false;
  for (const auto& [name, kind] : kKinds) {
    if (*type == name) {
      out.kind = kind;
      known = true;
    }
  }
  if (!known) return Malformed(absl::StrCat("unknown range expression type \"", type->substr(0, 40), "\""));
  out.field = *field;
  ASSIGN_OR_RETURN(out.value, FromPlainJson(node.Get("value"), /*allow_undefined=*/true));
  return out;
}

// Checked int64 arithmetic, or float64 arithmetic; never mixed.
absl::StatusOr<Value> Arithmetic(Expr::Op op, const Value& a, const Value& b) {
  if (a.type() == Value::Type::kInt64 && b.type() == Value::Type::kInt64) {
    int64_t x = a.int64(), y = b.int64(), r = 0;
    bool overflow = false;
    switch (op) {
      case Expr::Op::kAdd: overflow = __builtin_add_overflow(x, y, &r); break;
      case Expr::Op::kSub: overflow = __builtin_sub_overflow(x, y, &r); break;
      case Expr::Op::kMul: overflow = __builtin_mul_overflow(x, y, &r); break;
      case Expr::Op::kDiv:
      case Expr::Op::kMod:
        // Convex's words ("Cannot divide 5 by zero", "Cannot mod 5 by zero").
        if (y == 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("Cannot ", op == Expr::Op::kDiv ? "divide" : "mod", " ", x, " by zero"));
        }
        if (x == INT64_MIN && y == -1) return EvalError("integer overflow");
        r = op == Expr::Op::kDiv ? x / y : x % y;
        break;
      default: break;
    }
    if (overflow) return EvalError("integer overflow");
    return Value::Int64(r);
  }
  if (a.type() == Value::Type::kFloat64 && b.type() == Value::Type::kFloat64) {
    double x = a.float64(), y = b.float64();
    switch (op) {
      case Expr::Op::kAdd: return Value::Float64(x + y);
      case Expr::Op::kSub: return Value::Float64(x - y);
      case Expr::Op::kMul: return Value::Float64(x * y);
      case Expr::Op::kDiv: return Value::Float64(x / y);
      case Expr::Op::kMod: return Value::Float64(std::fmod(x, y));
      default: break;
    }
  }
  return EvalError("arithmetic needs two int64 or two float64 operands");
}

std::string OrderName(Order order) { return order == Order::kAsc ? "asc" : "desc"; }

}  // namespace

absl::StatusOr<Query> ParseQuery(const Value& query) {
  if (query.type() != Value::Type::kObject) return Malformed("a query is an object");
  const Value& source = query.Get("source");
  const std::string* type = StringField(source, "type");
  if (type == nullptr) return Malformed("source.type is missing");
  Query out;
  if (*type == "FullTableScan") {
    const std::string* table = StringField(source, "tableName");
    if (table == nullptr) return Malformed("FullTableScan needs tableName");
    out.table = *table;
    out.index = kByCreationTimeIndex;
    out.full_table_scan = true;
  } else if (*type == "IndexRange") {
    const std::string* name = StringField(source, "indexName");
    if (name == nullptr || name->find('.') == std::string::npos) return Malformed("indexName is \"table.index\"");
    out.table = name->substr(0, name->find('.'));
    out.index = name->substr(name->find('.') + 1);
    const Value& range = source.Get("range");
    if (range.type() != Value::Type::kArray) return Malformed("IndexRange needs a range array");
    for (const Value& r : range.array()) {
      ASSIGN_OR_RETURN(RangeExpr expr, ParseRangeExpr(r));
      out.range.push_back(std::move(expr));
    }
  } else if (*type == "Search") {
    return absl::UnimplementedError("search indexes are not supported yet");
  } else {
    return Malformed(absl::StrCat("unknown source type \"", type->substr(0, 40), "\""));
  }
  ASSIGN_OR_RETURN(out.order, ParseOrder(source.Get("order")));
  RETURN_IF_ERROR(ValidateIdentifier("table", out.table));
  RETURN_IF_ERROR(ValidateIdentifier("index", out.index));

  const Value& operators = query.Get("operators");
  if (!operators.is_undefined()) {
    if (operators.type() != Value::Type::kArray) return Malformed("operators must be an array");
    if (operators.array().size() > kMaxOperators) {
      return Malformed(absl::StrCat("a query has at most ", kMaxOperators, " operators"));
    }
    for (const Value& op : operators.array()) {
      QueryOperator parsed;
      if (!op.Get("filter").is_undefined()) {
        ASSIGN_OR_RETURN(parsed.filter, ParseExpr(op.Get("filter"), 0));
      } else if (op.Get("limit").type() == Value::Type::kFloat64) {
        double n = op.Get("limit").float64();
        if (!(n >= 0) || n != std::floor(n) || n > 1e15) return Malformed("limit must be a whole number >= 0");
        parsed.limit = static_cast<size_t>(n);
      } else {
        return Malformed("an operator is {filter} or {limit}");
      }
      out.operators.push_back(std::move(parsed));
    }
  }
  return out;
}

namespace {

// Field paths as Convex prints them in index range errors: quoted, in a list.
std::string QuotedFields(const std::vector<std::string>& fields) {
  std::vector<std::string> quoted;
  for (const std::string& field : fields) quoted.push_back(absl::StrCat("\"", field, "\""));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

}  // namespace

// As Convex compiles an index range (crates/common/src/query.rs): equalities in any order, at most one
// field with bounds; together they must be a prefix of the index's fields. Convex's messages.
absl::StatusOr<KeyRange> CompileRange(const IndexInfo& index, const std::string& display_name,
                                      const std::vector<RangeExpr>& range) {
  // Convex lists a user index's fields with _creationTime and without the trailing _id.
  std::vector<std::string> shown_fields = index.fields;
  if (!shown_fields.empty() && shown_fields.back() == "_id" && shown_fields.size() > 1) shown_fields.pop_back();
  std::map<std::string, const RangeExpr*> equalities;
  std::optional<std::string> bounded_field;
  const RangeExpr* lower = nullptr;
  const RangeExpr* upper = nullptr;
  for (const RangeExpr& r : range) {
    if (r.kind == RangeExpr::Kind::kEq) {
      if (!equalities.emplace(r.field, &r).second) {
        return absl::InvalidArgumentError(absl::StrCat("Already defined equality bound in index range. Can't add \"",
                                                       r.field, "\" == ", ToConvexJson(r.value), "."));
      }
      continue;
    }
    const bool is_lower = r.kind == RangeExpr::Kind::kGt || r.kind == RangeExpr::Kind::kGte;
    const RangeExpr*& bound = is_lower ? lower : upper;
    if (bound != nullptr) {
      const char* op = r.kind == RangeExpr::Kind::kGt    ? ">"
                       : r.kind == RangeExpr::Kind::kGte ? ">="
                       : r.kind == RangeExpr::Kind::kLt  ? "<"
                                                         : "<=";
      return absl::InvalidArgumentError(absl::StrCat("Already defined ", is_lower ? "lower" : "upper",
                                                     " bound in index range. Can't add \"", r.field, "\" ", op, " ",
                                                     ToConvexJson(r.value), "."));
    }
    if (bounded_field.has_value() && *bounded_field != r.field) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Upper and lower bounds in `range` can only be applied to a single index field. This query against index ",
          display_name, " attempted to set a range bound on both \"", *bounded_field, "\" and \"", r.field,
          "\". Consider using `filter` instead. See https://docs.convex.dev/using/indexes for more info."));
    }
    bounded_field = r.field;
    bound = &r;
  }
  if (bounded_field.has_value()) {
    if (auto it = equalities.find(*bounded_field); it != equalities.end()) {
      return absl::InvalidArgumentError(absl::StrCat("Already defined inequality bound in index range. Can't add \"",
                                                     *bounded_field, "\" == ", ToConvexJson(it->second->value), "."));
    }
  }
  auto rank = [&](const std::string& field) -> std::optional<size_t> {
    for (size_t i = 0; i < index.fields.size(); ++i) {
      if (index.fields[i] == field) return i;
    }
    return std::nullopt;
  };
  auto not_in_index = [&](const std::string& field) {
    return absl::InvalidArgumentError(absl::StrCat("The index range included a comparison with \"", field, "\", but ",
                                                   display_name, " with fields ", QuotedFields(shown_fields),
                                                   " doesn't index this field. For more information see "
                                                   "https://docs.convex.dev/using/indexes."));
  };
  std::vector<std::pair<size_t, const RangeExpr*>> ordered;
  for (const auto& [field, expr] : equalities) {
    std::optional<size_t> r = rank(field);
    if (!r.has_value()) return not_in_index(field);
    ordered.emplace_back(*r, expr);
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  if (bounded_field.has_value() && !rank(*bounded_field).has_value()) return not_in_index(*bounded_field);
  std::vector<std::string> used;
  for (const auto& [r, expr] : ordered) used.push_back(expr->field);
  if (bounded_field.has_value()) used.push_back(*bounded_field);
  for (size_t i = 0; i < used.size(); ++i) {
    if (i >= index.fields.size() || used[i] != index.fields[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Tried to query index ", display_name, " but the query didn't use the index fields in order.\nIndex fields: ",
          QuotedFields(shown_fields), "\nQuery fields: ", QuotedFields(used), "\nFirst incorrect field: \"", used[i],
          "\"\nFor more information see https://docs.convex.dev/using/indexes."));
    }
  }
  std::string prefix;
  for (const auto& [r, expr] : ordered) AppendIndexKeyValue(expr->value, &prefix);
  KeyRange out;
  if (lower != nullptr) {
    std::string bound = prefix;
    AppendIndexKeyValue(lower->value, &bound);
    out.start = lower->kind == RangeExpr::Kind::kGte ? bound : WholeValuesEnd(bound);
  } else {
    out.start = prefix;
  }
  if (upper != nullptr) {
    std::string bound = prefix;
    AppendIndexKeyValue(upper->value, &bound);
    out.end = upper->kind == RangeExpr::Kind::kLt ? bound : WholeValuesEnd(bound);
  } else if (!prefix.empty()) {
    out.end = WholeValuesEnd(prefix);
  }
  return out;
}

absl::StatusOr<Value> Evaluate(const Expr& expr, const Value& document) {
  switch (expr.op) {
    case Expr::Op::kField:
      return document.GetPath(expr.field);
    case Expr::Op::kLiteral:
      return expr.literal;
    case Expr::Op::kEq:
    case Expr::Op::kNeq:
    case Expr::Op::kLt:
    case Expr::Op::kLte:
    case Expr::Op::kGt:
    case Expr::Op::kGte: {
      ASSIGN_OR_RETURN(Value a, Evaluate(*expr.args[0], document));
      ASSIGN_OR_RETURN(Value b, Evaluate(*expr.args[1], document));
      int c = Compare(a, b);
      bool r = expr.op == Expr::Op::kEq    ? c == 0
               : expr.op == Expr::Op::kNeq ? c != 0
               : expr.op == Expr::Op::kLt  ? c < 0
               : expr.op == Expr::Op::kLte ? c <= 0
               : expr.op == Expr::Op::kGt  ? c > 0
                                           : c >= 0;
      return Value::Boolean(r);
    }
    case Expr::Op::kAdd:
    case Expr::Op::kSub:
    case Expr::Op::kMul:
    case Expr::Op::kDiv:
    case Expr::Op::kMod: {
      ASSIGN_OR_RETURN(Value a, Evaluate(*expr.args[0], document));
      ASSIGN_OR_RETURN(Value b, Evaluate(*expr.args[1], document));
      return Arithmetic(expr.op, a, b);
    }
    case Expr::Op::kNeg: {
      ASSIGN_OR_RETURN(Value a, Evaluate(*expr.args[0], document));
      if (a.type() == Value::Type::kInt64) {
        if (a.int64() == INT64_MIN) return EvalError("integer overflow");
        return Value::Int64(-a.int64());
      }
      if (a.type() == Value::Type::kFloat64) return Value::Float64(-a.float64());
      return EvalError("$neg needs a number");
    }
    case Expr::Op::kNot: {
      ASSIGN_OR_RETURN(Value a, Evaluate(*expr.args[0], document));
      if (a.type() != Value::Type::kBoolean) return EvalError("$not needs a boolean");
      return Value::Boolean(!a.boolean());
    }
    case Expr::Op::kAnd:
    case Expr::Op::kOr: {
      const bool is_and = expr.op == Expr::Op::kAnd;
      bool result = is_and;
      for (const auto& arg : expr.args) {
        ASSIGN_OR_RETURN(Value a, Evaluate(*arg, document));
        if (a.type() != Value::Type::kBoolean) return EvalError(is_and ? "$and needs booleans" : "$or needs booleans");
        result = is_and ? (result && a.boolean()) : (result || a.boolean());
      }
      return Value::Boolean(result);
    }
  }
  return EvalError("unknown expression");
}

absl::StatusOr<std::unique_ptr<QueryStream>> QueryStream::Open(Transaction& txn, const Query& query) {
  auto stream = std::unique_ptr<QueryStream>(new QueryStream());
  stream->order_ = query.order;
  stream->operators_ = query.operators;
  stream->passed_.assign(query.operators.size(), 0);
  for (const QueryOperator& op : query.operators) stream->has_filter_ |= op.filter != nullptr;
  // Table lookups go through the schema cache of the transaction's deployment.
  ASSIGN_OR_RETURN(stream->table_, txn.Table(query.table));  // a missing table's absence is a read
  std::string compiled;
  if (stream->table_ == nullptr) {
    // A missing table reads as empty through its system indexes; a user index on it does not exist,
    // as on Convex. (Its absence is in the read set: the error is never cached past the table's
    // creation, and a mutation that saw it conflicts with the one that creates the table.)
    if (query.index != kByIdIndex && query.index != kByCreationTimeIndex) {
      return absl::NotFoundError(absl::StrCat("Index ", query.table, ".", query.index, " not found."));
    }
    stream->scan_exhausted_ = true;
  } else {
    stream->index_ = stream->table_->Find(query.index);
    const std::string display = absl::StrCat(query.table, ".", query.index);
    if (stream->index_ == nullptr || !stream->index_->ready) {
      return absl::NotFoundError(absl::StrCat("Index ", display, " not found."));
    }
    ASSIGN_OR_RETURN(stream->remaining_, CompileRange(*stream->index_, display, query.range));
    compiled = absl::StrCat(stream->index_->id.value(), "|", stream->remaining_.start, "|",
                            stream->remaining_.end.value_or(""), "|", stream->remaining_.end.has_value());
  }
  stream->fingerprint_ = absl::StrCat(query.table, "|", query.index, "|", OrderName(query.order), "|", compiled);
  return stream;
}

void QueryStream::Resume(const std::optional<std::string>& after_key, const std::optional<std::string>& stop_after) {
  if (after_key.has_value()) {
    if (order_ == Order::kAsc) {
      remaining_.start = std::max(remaining_.start, *after_key + std::string(1, '\0'));
    } else if (!remaining_.end.has_value() || *after_key < *remaining_.end) {
      remaining_.end = *after_key;
    }
  }
  if (stop_after.has_value()) {
    if (order_ == Order::kAsc) {
      std::string end = *stop_after + std::string(1, '\0');
      if (!remaining_.end.has_value() || end < *remaining_.end) remaining_.end = end;
    } else {
      remaining_.start = std::max(remaining_.start, *stop_after);
    }
  }
}

absl::Status QueryStream::Fill(Transaction& txn) {
  // Without filters, a limit says exactly how much to read (so take(1) reads one key); with filters,
  // read in pages.
  size_t page = 64;
  if (!has_filter_) {
    for (size_t i = 0; i < operators_.size(); ++i) {
      if (operators_[i].limit.has_value()) page = std::min(page, *operators_[i].limit - passed_[i]);
    }
  }
  page = std::max<size_t>(page, 1);
  ASSIGN_OR_RETURN(ScanResult result, txn.Scan(table_, *index_, remaining_, order_, page));
  for (size_t i = 0; i < result.documents.size(); ++i) {
    buffer_.emplace_back(std::move(result.keys[i]), std::move(result.documents[i]));
  }
  if (!buffer_.empty()) {
    if (order_ == Order::kAsc) {
      remaining_.start = buffer_.back().first + std::string(1, '\0');
    } else {
      remaining_.end = buffer_.back().first;
    }
  }
  scan_exhausted_ = result.exhausted;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Value>> QueryStream::Next(Transaction& txn) {
  while (!ended_) {
    // A limit already reached ends the stream before anything more is read: every document still to
    // come would have to pass it.
    for (size_t i = 0; i < operators_.size(); ++i) {
      if (operators_[i].limit.has_value() && passed_[i] >= *operators_[i].limit) ended_ = true;
    }
    if (ended_) break;
    if (buffer_.empty()) {
      if (scan_exhausted_) {
        ended_ = true;
        break;
      }
      RETURN_IF_ERROR(Fill(txn));
      continue;
    }
    auto [key, document] = std::move(buffer_.front());
    buffer_.pop_front();
    last_examined_ = key;
    ++examined_;
    bool keep = true;
    for (size_t i = 0; i < operators_.size() && keep; ++i) {
      if (operators_[i].filter != nullptr) {
        ASSIGN_OR_RETURN(Value verdict, Evaluate(*operators_[i].filter, document));
        keep = verdict.type() == Value::Type::kBoolean && verdict.boolean();
      } else if (operators_[i].limit.has_value()) {
        ++passed_[i];
      }
    }
    if (keep) return std::optional<Value>(std::move(document));
  }
  return std::optional<Value>();
}

}  // namespace isobar::storage
