#include "supervisor/runner/syscall_args.h"

#include "absl/strings/str_cat.h"
#include "storage/convex_json.h"

namespace isobar::supervisor {

using storage::Value;

std::string Quote(absl::string_view text) { return storage::ToConvexJson(Value::String(std::string(text))); }

absl::StatusOr<std::string> StringArg(const Value& args, absl::string_view name) {
  const Value& v = args.Get(name);
  if (v.type() != Value::Type::kString) return absl::InvalidArgumentError(absl::StrCat("`", name, "` must be a string"));
  return v.string();
}

std::optional<std::string> OptionalString(const Value& args, absl::string_view name) {
  const Value& v = args.Get(name);
  if (v.type() != Value::Type::kString) return std::nullopt;
  return v.string();
}

absl::StatusOr<Value> ParseSyscallArgs(absl::string_view args_json) {
  storage::ConvexJsonOptions plain;
  plain.plain = true;
  // The envelope holds user values a few levels down; their own limits are checked, with the
  // operation's words, when they are converted (storage::FromPlainJson).
  plain.limits.max_depth = 80;
  plain.limits.max_array_items = 1u << 20;
  plain.limits.max_object_fields = 1u << 16;
  absl::StatusOr<Value> args = storage::ParseConvexJson(args_json, plain);
  // Convex's words for what user code can cause (a lone surrogate in a string, say).
  if (!args.ok()) return absl::InvalidArgumentError(absl::StrCat("Received invalid json: ", args.status().message()));
  if (args->type() != Value::Type::kObject) return absl::InvalidArgumentError("syscall arguments must be a JSON object");
  return args;
}

absl::StatusOr<std::string> ReferencedFunction(const Value& args, absl::string_view verb) {
  const Value& name = args.Get("name");
  if (name.type() != Value::Type::kString) {
    return absl::InvalidArgumentError(absl::StrCat("Only functions named by path (api.module.fn or \"module:fn\") can be ",
                                                   verb, "; components and function handles are not supported"));
  }
  return name.string();
}

absl::StatusOr<Value> CallArguments(const Value& args) {
  return storage::FromPlainJson(args.Get("args"), /*allow_undefined=*/false);
}

}  // namespace isobar::supervisor
