// Model-based stateful tests (rapidcheck's rc::state) of the Manager's dict
// and list proxies: random command sequences run against the proxy and
// against a plain model (std::map plus insertion order; std::vector), with
// Python's errors where the model says the operation must fail.
#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include "racegate/errors.h"
#include "racegate/mp/manager.h"
#include "support/catalog_test.h"

namespace mp = racegate::mp;

namespace {

// ---- dict -------------------------------------------------------------------------------------------

struct DictModel {
  std::map<int, std::string> items;
  std::vector<int> order;  // insertion order of the keys present, as a Python dict
};
using DictSut = mp::DictProxy<int, std::string>;
using DictCommand = rc::state::Command<DictModel, DictSut>;

// Small key range: collisions (overwrite, erase of a present key) are common.
rc::Gen<int> gen_key() { return rc::gen::inRange(-3, 6); }

struct DictSet : DictCommand {
  int key = *gen_key();
  std::string value = *rc::gen::container<std::string>(rc::gen::inRange('a', 'e'));
  void apply(DictModel& m) const override {
    if (!m.items.count(key)) m.order.push_back(key);
    m.items[key] = value;
  }
  void run(const DictModel&, DictSut& d) const override { d.set(key, value); }
  void show(std::ostream& os) const override { os << "d[" << key << "] = '" << value << "'"; }
};

struct DictGet : DictCommand {
  int key = *gen_key();
  void run(const DictModel& m, DictSut& d) const override {
    auto it = m.items.find(key);
    if (it != m.items.end()) {
      RC_ASSERT(d.get(key) == it->second);
    } else {
      try {
        (void)d.get(key);
        RC_FAIL("get of a missing key returned");
      } catch (const racegate::KeyError& e) {
        RC_ASSERT(std::string(e.what()) == std::to_string(key));
      }
    }
    RC_ASSERT(d.get(key, "default") == (it != m.items.end() ? it->second : "default"));
  }
  void show(std::ostream& os) const override { os << "d[" << key << "]"; }
};

struct DictErase : DictCommand {
  int key = *gen_key();
  void apply(DictModel& m) const override {
    if (m.items.erase(key)) m.order.erase(std::find(m.order.begin(), m.order.end(), key));
  }
  void run(const DictModel& m, DictSut& d) const override {
    if (m.items.count(key)) {
      d.erase(key);
    } else {
      RC_ASSERT_THROWS_AS(d.erase(key), racegate::KeyError);
    }
  }
  void show(std::ostream& os) const override { os << "del d[" << key << "]"; }
};

struct DictPop : DictCommand {
  int key = *gen_key();
  void apply(DictModel& m) const override {
    if (m.items.erase(key)) m.order.erase(std::find(m.order.begin(), m.order.end(), key));
  }
  void run(const DictModel& m, DictSut& d) const override {
    auto it = m.items.find(key);
    if (it != m.items.end()) {
      RC_ASSERT(d.pop(key) == it->second);
    } else {
      RC_ASSERT_THROWS_AS((void)d.pop(key), racegate::KeyError);
    }
  }
  void show(std::ostream& os) const override { os << "d.pop(" << key << ")"; }
};

struct DictContains : DictCommand {
  int key = *gen_key();
  void run(const DictModel& m, DictSut& d) const override {
    RC_ASSERT(d.contains(key) == (m.items.count(key) != 0));
  }
  void show(std::ostream& os) const override { os << key << " in d"; }
};

struct DictCheckAll : DictCommand {
  void run(const DictModel& m, DictSut& d) const override {
    RC_ASSERT(d.size() == m.items.size());
    RC_ASSERT(d.copy() == m.items);
    RC_ASSERT(d.keys() == m.order);
  }
  void show(std::ostream& os) const override { os << "check len, copy, keys"; }
};

struct DictClear : DictCommand {
  void apply(DictModel& m) const override {
    m.items.clear();
    m.order.clear();
  }
  void run(const DictModel&, DictSut& d) const override { d.clear(); }
  void show(std::ostream& os) const override { os << "d.clear()"; }
};

// ---- list -------------------------------------------------------------------------------------------

using ListModel = std::vector<int>;
using ListSut = mp::ListProxy<int>;
using ListCommand = rc::state::Command<ListModel, ListSut>;

// Python's index normalization; empty when out of range.
std::optional<std::size_t> py_index(const ListModel& m, std::ptrdiff_t i) {
  const auto n = static_cast<std::ptrdiff_t>(m.size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) return std::nullopt;
  return static_cast<std::size_t>(i);
}

rc::Gen<std::ptrdiff_t> gen_index() { return rc::gen::inRange<std::ptrdiff_t>(-6, 7); }

struct ListAppend : ListCommand {
  int value = *rc::gen::arbitrary<int>();
  void apply(ListModel& m) const override { m.push_back(value); }
  void run(const ListModel&, ListSut& l) const override { l.append(value); }
  void show(std::ostream& os) const override { os << "l.append(" << value << ")"; }
};

struct ListExtend : ListCommand {
  std::vector<int> values = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 100));
  void apply(ListModel& m) const override { m.insert(m.end(), values.begin(), values.end()); }
  void run(const ListModel&, ListSut& l) const override { l.extend(values); }
  void show(std::ostream& os) const override { os << "l.extend(<" << values.size() << " items>)"; }
};

struct ListGet : ListCommand {
  std::ptrdiff_t index = *gen_index();
  void run(const ListModel& m, ListSut& l) const override {
    if (auto i = py_index(m, index)) {
      RC_ASSERT(l.get(index) == m[*i]);
    } else {
      try {
        (void)l.get(index);
        RC_FAIL("get out of range returned");
      } catch (const racegate::IndexError& e) {
        RC_ASSERT(std::string(e.what()) == "list index out of range");
      }
    }
  }
  void show(std::ostream& os) const override { os << "l[" << index << "]"; }
};

struct ListSet : ListCommand {
  std::ptrdiff_t index = *gen_index();
  int value = *rc::gen::arbitrary<int>();
  void apply(ListModel& m) const override {
    if (auto i = py_index(m, index)) m[*i] = value;
  }
  void run(const ListModel& m, ListSut& l) const override {
    if (py_index(m, index)) {
      l.set(index, value);
    } else {
      try {
        l.set(index, value);
        RC_FAIL("set out of range returned");
      } catch (const racegate::IndexError& e) {
        RC_ASSERT(std::string(e.what()) == "list assignment index out of range");
      }
    }
  }
  void show(std::ostream& os) const override { os << "l[" << index << "] = " << value; }
};

struct ListPop : ListCommand {
  std::ptrdiff_t index = *gen_index();
  void apply(ListModel& m) const override {
    if (auto i = py_index(m, index)) m.erase(m.begin() + static_cast<std::ptrdiff_t>(*i));
  }
  void run(const ListModel& m, ListSut& l) const override {
    if (auto i = py_index(m, index)) {
      RC_ASSERT(l.pop(index) == m[*i]);
    } else {
      try {
        (void)l.pop(index);
        RC_FAIL("pop out of range returned");
      } catch (const racegate::IndexError& e) {
        RC_ASSERT(std::string(e.what()) ==
                  (m.empty() ? "pop from empty list" : "pop index out of range"));
      }
    }
  }
  void show(std::ostream& os) const override { os << "l.pop(" << index << ")"; }
};

struct ListCheckAll : ListCommand {
  void run(const ListModel& m, ListSut& l) const override {
    RC_ASSERT(l.size() == m.size());
    RC_ASSERT(l.copy() == m);
  }
  void show(std::ostream& os) const override { os << "check len, copy"; }
};

}  // namespace

TEST(ManagerModel, DictAgainstStdMap) {
  mp::Manager mgr;
  racegate::test::check_property(
      [&mgr] {
        DictSut d = mgr.dict<int, std::string>();
        rc::state::check(DictModel{}, d,
                         rc::state::gen::execOneOfWithArgs<DictSet, DictSet, DictGet, DictErase,
                                                           DictPop, DictContains, DictCheckAll,
                                                           DictClear>());
      },
      100);
}

TEST(ManagerModel, ListAgainstStdVector) {
  mp::Manager mgr;
  racegate::test::check_property(
      [&mgr] {
        ListSut l = mgr.list<int>();
        rc::state::check(ListModel{}, l,
                         rc::state::gen::execOneOfWithArgs<ListAppend, ListAppend, ListExtend, ListGet,
                                                           ListSet, ListPop, ListCheckAll>());
      },
      100);
}
