// PostgreSQL array literals ('{...}') for passing many values as one parameter, e.g.
//   INSERT ... SELECT * FROM UNNEST($1::bytea[], $2::bigint[])
// Every element is quoted and escaped, so element text can hold any character; NULL stays NULL.
#ifndef ISOBAR_STORAGE_PG_ARRAY_H_
#define ISOBAR_STORAGE_PG_ARRAY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace isobar::storage {

class PgArrayBuilder {
 public:
  PgArrayBuilder& Text(absl::string_view text);
  PgArrayBuilder& Bytes(absl::string_view bytes);  // as bytea hex
  PgArrayBuilder& Int(int64_t value);
  PgArrayBuilder& Bool(bool value);
  PgArrayBuilder& Null();
  std::string Build() const { return "{" + body_ + "}"; }

 private:
  void Separator();
  std::string body_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_PG_ARRAY_H_
