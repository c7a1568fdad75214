#include "worker/module_sources.h"

#include "absl/strings/str_cat.h"
#include "base/sha256.h"

namespace isobar::worker {

absl::Status ModuleSources::Resolve(google::protobuf::RepeatedPtrField<isobar::worker::v1::Module>* modules) {
  for (isobar::worker::v1::Module& module : *modules) {
    if (!module.source().empty()) {
      auto it = index_.find(module.sha256());
      if (it == index_.end()) {
        if (!Sha256Matches(module.source(), module.sha256())) {
          return absl::DataLossError(absl::StrCat("module ", module.path(), " does not match its SHA-256"));
        }
        Remember(module.sha256(), module.source());
      } else {
        entries_.splice(entries_.end(), entries_, it->second);
      }
      continue;
    }
    auto it = index_.find(module.sha256());
    if (it == index_.end()) return absl::FailedPreconditionError(kSourcesMissing);
    entries_.splice(entries_.end(), entries_, it->second);
    module.set_source(it->second->second);
  }
  return absl::OkStatus();
}

void ModuleSources::Remember(const std::string& sha256, const std::string& source) {
  if (source.size() > max_bytes_) return;
  entries_.emplace_back(sha256, source);
  index_[sha256] = std::prev(entries_.end());
  bytes_ += source.size();
  while (bytes_ > max_bytes_) {
    bytes_ -= entries_.front().second.size();
    index_.erase(entries_.front().first);
    entries_.pop_front();
  }
}

}  // namespace isobar::worker
