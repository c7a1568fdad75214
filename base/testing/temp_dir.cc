#include "base/testing/temp_dir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace isobar::testing {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }

}  // namespace

TempDir::TempDir() {
  char pattern[] = "/tmp/isobar-test-XXXXXX";
  if (mkdtemp(pattern) == nullptr || chmod(pattern, 0711) != 0) {
    perror("TempDir");
    abort();
  }
  path_ = pattern;
}

TempDir::~TempDir() { nftw(path_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS); }

}  // namespace isobar::testing
