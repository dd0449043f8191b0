// main() of every racegate test binary: runs a child program when started with
// --racegate-child=NAME (see child_program.h), GoogleTest otherwise.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "catalog_test.h"
#include "child_program.h"

namespace {

// After all tests: nothing this binary started may be left running or unreaped.
class ProcessHygiene : public ::testing::Environment {
 public:
  void TearDown() override { racegate::test::expect_no_unreaped_children(); }
};

}  // namespace

int main(int argc, char** argv) {
  constexpr const char kChildFlag[] = "--racegate-child=";
  if (argc >= 2 && std::strncmp(argv[1], kChildFlag, sizeof kChildFlag - 1) == 0) {
    return racegate::test::dispatch_child_program(argv[1] + sizeof kChildFlag - 1, argc - 2,
                                                  argv + 2);
  }
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new ProcessHygiene);
  return RUN_ALL_TESTS();
}
