#include "worker/module_hash.h"

#include "base/sha256.h"

namespace isobar::worker {

isobar::worker::v1::Module ModuleFromSource(std::string path, std::string source) {
  isobar::worker::v1::Module module;
  module.set_sha256(Sha256(source));
  module.set_path(std::move(path));
  module.set_source(std::move(source));
  return module;
}

}  // namespace isobar::worker
