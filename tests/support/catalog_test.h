// Test support: registering GoogleTest tests under catalog ids, running
// rapidcheck properties with a per-test trial cap, and the process-hygiene
// check every catalog test ends with.
//
//   RG_CATALOG_PROP(globals_process_isolated, "globals.process_isolated", 50,
//                   (int initial, int changed)) { ... RC_ASSERT(...); }
//
// registers the GoogleTest test `globals.process_isolated` (suite `globals`),
// whose body checks the property with at most 50 trials (fewer when RC_PARAMS
// asks for fewer). A failure prints rapidcheck's shrunk counterexample and the
// RC_PARAMS="reproduce=..." string that replays it.
#pragma once

#include <algorithm>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <rapidcheck.h>

namespace racegate::test {

// Registers `body` as the GoogleTest test whose full name is `id`
// ("a.b.c" -> suite "a.b", test "c").
bool register_catalog_test(const char* id, const char* file, int line, void (*body)());

// Fails the current test if the process has a child that is not reaped.
void expect_no_unreaped_children();

template <class Testable>
void check_property(Testable&& testable, int max_trials) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  metadata.id = std::string(info->test_suite_name()) + "." + info->name();
  metadata.description = metadata.id;
  auto params = rc::detail::configuration().testParams;
  params.maxSuccess = std::min(params.maxSuccess, max_trials);
  const auto result = rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
  if (result.template is<rc::detail::SuccessResult>()) {
    const auto success = result.template get<rc::detail::SuccessResult>();
    std::cout << "[racegate] " << metadata.id << ": " << success.numSuccess
              << " trials passed (seed " << params.seed << ")\n";
    if (!success.distribution.empty()) rc::detail::printResultMessage(result, std::cout);
  } else {
    std::ostringstream ss;
    rc::detail::printResultMessage(result, ss);
    FAIL() << ss.str();
  }
}

}  // namespace racegate::test

#define RG_CATALOG_TEST(Ident, Id)                                                       \
  static void rg_catalog_body_##Ident();                                                 \
  [[maybe_unused]] static const bool rg_catalog_registered_##Ident =                     \
      ::racegate::test::register_catalog_test(Id, __FILE__, __LINE__, &rg_catalog_body_##Ident); \
  static void rg_catalog_body_##Ident()

#define RG_CATALOG_PROP(Ident, Id, MaxTrials, ArgList)                                   \
  static void rg_catalog_prop_##Ident ArgList;                                           \
  RG_CATALOG_TEST(Ident, Id) {                                                           \
    ::racegate::test::check_property(&rg_catalog_prop_##Ident, MaxTrials);              \
  }                                                                                      \
  static void rg_catalog_prop_##Ident ArgList
