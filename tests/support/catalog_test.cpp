#include "catalog_test.h"

#include <cerrno>
#include <cstring>
#include <sys/wait.h>

namespace racegate::test {
namespace {

class CatalogTest : public ::testing::Test {
 public:
  explicit CatalogTest(void (*body)()) : body_(body) {}
  void TestBody() override { body_(); }
  void TearDown() override { expect_no_unreaped_children(); }

 private:
  void (*body_)();
};

}  // namespace

bool register_catalog_test(const char* id, const char* file, int line, void (*body)()) {
  std::string full(id);
  auto dot = full.rfind('.');
  std::string suite = dot == std::string::npos ? "catalog" : full.substr(0, dot);
  std::string name = dot == std::string::npos ? full : full.substr(dot + 1);
  ::testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, file, line,
                          [body]() -> ::testing::Test* { return new CatalogTest(body); });
  return true;
}

void expect_no_unreaped_children() {
  int status = 0;
  pid_t r = waitpid(-1, &status, WNOHANG);
  if (r > 0) {
    ADD_FAILURE() << "child process " << r << " had ended but was never reaped";
  } else if (r == 0) {
    ADD_FAILURE() << "a child process is still running after the test";
  } else if (errno != ECHILD) {
    ADD_FAILURE() << "waitpid(-1) failed: " << std::strerror(errno);
  }
}

}  // namespace racegate::test
