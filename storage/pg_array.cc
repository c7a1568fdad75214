#include "storage/pg_array.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace isobar::storage {

void PgArrayBuilder::Separator() {
  if (!body_.empty()) body_.push_back(',');
}

PgArrayBuilder& PgArrayBuilder::Text(absl::string_view text) {
  Separator();
  body_.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') body_.push_back('\\');
    body_.push_back(c);
  }
  body_.push_back('"');
  return *this;
}

PgArrayBuilder& PgArrayBuilder::Bytes(absl::string_view bytes) {
  Separator();
  // The element text is \x<hex>; the backslash is escaped inside the quoted element.
  absl::StrAppend(&body_, "\"\\\\x", absl::BytesToHexString(bytes), "\"");
  return *this;
}

PgArrayBuilder& PgArrayBuilder::Int(int64_t value) {
  Separator();
  absl::StrAppend(&body_, value);
  return *this;
}

PgArrayBuilder& PgArrayBuilder::Bool(bool value) {
  Separator();
  body_.append(value ? "t" : "f");
  return *this;
}

PgArrayBuilder& PgArrayBuilder::Null() {
  Separator();
  body_.append("NULL");
  return *this;
}

}  // namespace isobar::storage
